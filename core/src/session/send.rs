//! The sending half of a session: messages and control frames out, as frame bytes.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::vec::Vec;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;

use super::{invalid_state, MessageType, Role, SendFlags, SenderId, Session};
use crate::close::{CloseCode, MAX_REASON_LEN};
use crate::deflate::Compressor;
use crate::error::{Error, ErrorKind};
use crate::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, RSV1};
use crate::mask::extend_masked;
use crate::utf8::Utf8Validator;

/// Written bytes at the front of the queue are dropped once they are at
/// least this many and more than half of it (each byte moves at most once
/// per doubling, so it costs O(1) per byte).
const COMPACT_MIN: usize = 4096;

/// Frames waiting to be written, and the state of a message sent in pieces.
#[derive(Default)]
pub(super) struct Sender {
    out: Vec<u8>,
    written: usize,
    /// The type of a message whose last piece has not been sent yet, and
    /// the sender it belongs to.
    continuing: Option<(MessageType, SenderId)>,
    /// Where the last PONG starts in `out`, while it is unwritten and the
    /// last frame queued, and whether the transport refused it since
    /// ([`Session::output_blocked`]): a newer PING's answer then replaces it
    /// (RFC 6455 section 5.5.3), so a peer that sends PINGs and does not
    /// read cannot grow the queue. Every other PING is answered, however
    /// many arrive before the backend next writes.
    pong_at: Option<(usize, bool)>,
    /// The PONGs in `out` not written yet (their end offsets and sizes), and
    /// their total size: input stops while it exceeds `max_pending_output`.
    pongs: VecDeque<(usize, usize)>,
    pong_bytes: usize,
    utf8: Utf8Validator,
    /// permessage-deflate for what we send, if negotiated.
    deflate: Option<OutDeflate>,
    /// The message in progress is compressed.
    compressing: bool,
    /// Reused buffer for compressed payloads.
    scratch: Vec<u8>,
}

pub(super) struct OutDeflate {
    pub(super) compressor: Compressor,
    /// No context takeover for our side: reset after every message.
    pub(super) reset_after_message: bool,
}

impl Sender {
    pub(super) fn new(deflate: Option<OutDeflate>) -> Self {
        Sender {
            deflate,
            ..Sender::default()
        }
    }

    fn write_frame(
        &mut self,
        rng: &mut ChaCha8Rng,
        role: Role,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &[u8],
    ) {
        let mask = match role {
            Role::Client => Some(rng.next_u32().to_ne_bytes()),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let (hb, n) = header.encode();
        self.pong_at = None;
        self.out.reserve(n + payload.len());
        self.out.extend_from_slice(&hb[..n]);
        match mask {
            Some(key) => extend_masked(&mut self.out, payload, key),
            None => self.out.extend_from_slice(payload),
        }
    }

    pub(super) fn write_control(&mut self, rng: &mut ChaCha8Rng, role: Role, opcode: OpCode, payload: &[u8]) {
        self.write_frame(rng, role, opcode, true, 0, payload);
    }

    /// Answers a PING, replacing the answer to an earlier PING that is
    /// still waiting, untouched, at the end of the queue.
    pub(super) fn write_pong(&mut self, rng: &mut ChaCha8Rng, role: Role, payload: &[u8]) {
        if let Some((at, true)) = self.pong_at.filter(|&(at, _)| at >= self.written) {
            self.out.truncate(at);
            if let Some((_, len)) = self.pongs.pop_back() {
                self.pong_bytes -= len;
            }
        }
        let at = self.out.len();
        self.write_frame(rng, role, OpCode::Pong, true, 0, payload);
        self.pong_at = Some((at, false));
        let len = self.out.len() - at;
        self.pongs.push_back((self.out.len(), len));
        self.pong_bytes += len;
    }

    /// The PONGs before `written` went out.
    fn forget_written_pongs(&mut self) {
        if self.pong_at.is_some_and(|(at, _)| self.written > at) {
            self.pong_at = None;
        }
        while let Some(&(end, len)) = self.pongs.front() {
            if end > self.written {
                break;
            }
            self.pongs.pop_front();
            self.pong_bytes -= len;
        }
    }

    /// Bytes of PONG answers queued and not written yet.
    pub(super) fn unwritten_answers(&self) -> usize {
        self.pong_bytes
    }

    /// `n` more bytes of `out` were written.
    fn advance(&mut self, n: usize) {
        self.written = (self.written + n).min(self.out.len());
        if self.pong_bytes != 0 {
            self.forget_written_pongs();
        }
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        } else if self.written >= COMPACT_MIN && self.written > self.out.len() / 2 {
            // A queue that never empties (a slow reader, a steady sender)
            // would otherwise keep every byte ever written.
            let w = self.written;
            self.out.drain(..w);
            self.written = 0;
            self.pong_at = self.pong_at.map(|(at, older)| (at - w, older));
            for (end, _) in self.pongs.iter_mut() {
                *end -= w;
            }
        }
    }

    /// Frees the queue, the scratch space and the compressor.
    pub(super) fn retire(&mut self) {
        self.discard();
        self.out = Vec::new();
        self.scratch = Vec::new();
        self.deflate = None;
    }

    /// The transport refused what is queued: a PONG waiting now may be replaced.
    fn refused(&mut self) {
        if let Some((_, older)) = self.pong_at.as_mut() {
            *older = true;
        }
    }

    pub(super) fn write_close(
        &mut self,
        rng: &mut ChaCha8Rng,
        role: Role,
        code: Option<CloseCode>,
        reason: &str,
    ) {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let len = match code {
            Some(c) => {
                payload[..2].copy_from_slice(&c.0.to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
                2 + reason.len()
            }
            None => 0,
        };
        self.write_frame(rng, role, OpCode::Close, true, 0, &payload[..len]);
    }

    pub(super) fn discard(&mut self) {
        self.out.clear();
        self.written = 0;
        self.pong_at = None;
        self.pongs.clear();
        self.pong_bytes = 0;
    }
}

impl Session {
    /// Queues a message, or a piece of one (.NET's `SendAsync`).
    ///
    /// With `flags.end_of_message` clear, later calls continue the same message
    /// and must use the same `message_type`. Text is checked to be UTF-8
    /// (across pieces); invalid text is refused and nothing is queued.
    pub fn send(&mut self, data: &[u8], message_type: MessageType, flags: SendFlags) -> Result<(), Error> {
        self.send_with(SenderId::ANY, data, message_type, flags, usize::MAX, |_, _| 0)
    }

    /// True while a message sent in pieces has not had its last piece.
    #[inline]
    pub fn sending_in_pieces(&self) -> bool {
        self.send.continuing.is_some()
    }

    /// False while a message sent in pieces by another sender is in
    /// progress: `sender`'s message must wait until that one ends.
    #[inline]
    pub fn may_send(&self, sender: SenderId) -> bool {
        self.send.continuing.is_none_or(|(_, owner)| owner == sender)
    }

    /// [`send`](Self::send) from `sender` that offers the new frame to the
    /// transport before queueing it, so a backend can write a large payload
    /// straight from the caller's buffer (one vectored write of header and
    /// payload) instead of copying it into the output queue first.
    ///
    /// A message sent in pieces belongs to the sender that began it: while
    /// it is in progress another sender's send is refused (`InvalidState`;
    /// [`may_send`](Self::may_send) tells a backend to wait instead), so no
    /// other data joins it. Whole messages from several senders never mix.
    ///
    /// If the message is refused, `write` is not called and nothing is queued.
    /// Otherwise `write(head, payload)` is called exactly once and returns how
    /// many bytes it wrote of `head` followed by `payload`; the rest is queued
    /// as [`send`](Self::send) would have queued it, so
    /// [`pending_output`](Self::pending_output) continues exactly where the
    /// write stopped. `head` is everything pending: older frames, then the new
    /// frame. `payload` is non-empty only when the payload goes on the wire as
    /// is (server role, not compressed) and is at least `direct_min` bytes; it
    /// then follows `head`, which ends with the new frame's header. In every
    /// other case the new frame is queued first and `payload` is empty.
    pub fn send_with<W>(
        &mut self,
        sender: SenderId,
        data: &[u8],
        message_type: MessageType,
        flags: SendFlags,
        direct_min: usize,
        write: W,
    ) -> Result<(), Error>
    where
        W: FnOnce(&[u8], &[u8]) -> usize,
    {
        let (opcode, first) = self.begin_send(sender, data, message_type, flags)?;
        let role = self.config.role;
        let s = &mut self.send;
        match s.deflate.as_mut().filter(|_| s.compressing) {
            Some(d) => {
                let mut payload = core::mem::take(&mut s.scratch);
                payload.clear();
                d.compressor.compress(data, flags.end_of_message, &mut payload);
                if flags.end_of_message && d.reset_after_message {
                    d.compressor.reset();
                }
                let rsv = if first { RSV1 } else { 0 };
                s.write_frame(&mut self.rng, role, opcode, flags.end_of_message, rsv, &payload);
                s.scratch = payload;
            }
            None if role == Role::Server && data.len() >= direct_min => {
                let header = FrameHeader {
                    fin: flags.end_of_message,
                    rsv: 0,
                    opcode,
                    mask: None,
                    payload_len: data.len() as u64,
                };
                let (hb, n) = header.encode();
                s.pong_at = None;
                s.out.extend_from_slice(&hb[..n]);
                let head = &s.out[s.written..];
                let head_len = head.len();
                let wrote = write(head, data).min(head_len + data.len());
                if wrote >= head_len {
                    // Everything queued before went out: start over with the payload's rest.
                    s.advance(head_len);
                    s.out.extend_from_slice(&data[wrote - head_len..]);
                } else {
                    s.advance(wrote);
                    s.out.extend_from_slice(data);
                }
                return Ok(());
            }
            None => s.write_frame(&mut self.rng, role, opcode, flags.end_of_message, 0, data),
        }
        let wrote = write(&s.out[s.written..], &[]);
        self.consume_output(wrote);
        Ok(())
    }

    /// Checks a message piece and updates the message state; returns its
    /// opcode and whether it starts a message.
    fn begin_send(
        &mut self,
        sender: SenderId,
        data: &[u8],
        message_type: MessageType,
        flags: SendFlags,
    ) -> Result<(OpCode, bool), Error> {
        self.check_can_send()?;
        if !self.may_send(sender) {
            return Err(invalid_state(
                "a message sent in pieces by another sender is in progress; \
                 wait until it ends (its last piece has END_OF_MESSAGE)",
            ));
        }
        let opcode = match (message_type, self.send.continuing.map(|(t, _)| t)) {
            (MessageType::Close, _) => {
                return Err(Error::new(
                    ErrorKind::InvalidMessageType,
                    "Close is not a data message type; use close() or close_output()",
                ))
            }
            (t, Some(c)) if t != c => {
                return Err(Error::new(
                    ErrorKind::InvalidMessageType,
                    format!("a {c:?} message is in progress; its remaining pieces must also be {c:?}"),
                ))
            }
            (_, Some(_)) => OpCode::Continuation,
            (MessageType::Text, None) => OpCode::Text,
            (MessageType::Binary, None) => OpCode::Binary,
        };
        if message_type == MessageType::Text {
            let mut v = self.send.utf8.clone();
            let ok = v.feed(data).is_ok() && (!flags.end_of_message || v.finish().is_ok());
            if !ok {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "the data of a Text message is not valid UTF-8; send it as Binary or fix the encoding",
                ));
            }
            self.send.utf8 = v;
        }
        let first = self.send.continuing.is_none();
        self.send.continuing = (!flags.end_of_message).then_some((message_type, sender));
        let s = &mut self.send;
        if first {
            // The first piece decides for the whole message (RSV1 is on its first frame only).
            s.compressing = s.deflate.is_some() && !flags.disable_compression;
        }
        Ok((opcode, first))
    }

    /// Queues a PING with `payload` (at most 125 bytes).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited PONG (a heartbeat that needs no answer).
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Pong, payload)
    }

    fn send_control(&mut self, op: OpCode, payload: &[u8]) -> Result<(), Error> {
        self.check_can_send()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "a control frame payload is at most 125 bytes, not {}",
                    payload.len()
                ),
            ));
        }
        self.send
            .write_control(&mut self.rng, self.config.role, op, payload);
        Ok(())
    }

    /// Sends our Close (.NET's `CloseOutputAsync`): `Open` becomes `CloseSent`,
    /// `CloseReceived` becomes `Closed`. Calling it again is a no-op. A
    /// message sent in pieces and not finished is cut short by the Close.
    ///
    /// `code` `None` sends a Close with no status (then `reason` must be empty).
    /// The code must be valid on the wire (1000-1003, 1007-1014, 3000-4999) and
    /// the reason at most 123 bytes of UTF-8.
    pub fn close(&mut self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        match code {
            Some(c) if !c.is_valid_on_wire() => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "close status {} may not be sent; use 1000-1003, 1007-1014 or 3000-4999",
                        c.0
                    ),
                ))
            }
            None if !reason.is_empty() => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "a close reason needs a status code",
                ))
            }
            _ => {}
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("the close reason is {} bytes; the limit is 123", reason.len()),
            ));
        }
        if self.life.close_sent && !self.life.aborted {
            // Sent already (by the application, or by a failure, reported below).
            return match self.failed() {
                Some(e) => Err(e),
                None => Ok(()),
            };
        }
        self.check_can_send()?;
        self.send
            .write_close(&mut self.rng, self.config.role, code, reason);
        self.on_close_queued();
        self.on_close_called();
        Ok(())
    }

    /// Frame bytes waiting to be written to the transport.
    #[inline]
    pub fn pending_output(&self) -> &[u8] {
        &self.send.out[self.send.written..]
    }

    /// Marks `n` bytes of [`pending_output`](Self::pending_output) as written.
    pub fn consume_output(&mut self, n: usize) {
        self.send.advance(n);
    }

    /// Tells the session that the transport refused [`pending_output`](Self::pending_output)
    /// (it is full: the peer is not reading). The answer to a PING waiting
    /// now is replaced by the answer to a newer one (RFC 6455 section 5.5.3)
    /// instead of queueing behind it; until then every PING is answered.
    pub fn output_blocked(&mut self) {
        self.send.refused();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionConfig;
    use alloc::vec;

    fn session(role: Role) -> Session {
        Session::new(SessionConfig::new(role), [7; 32])
    }

    /// What `send` would have queued after `before` (already pending) and `data`.
    fn reference(role: Role, before: &[u8], data: &[u8], flags: SendFlags) -> Vec<u8> {
        let mut s = session(role);
        if !before.is_empty() {
            s.send(before, MessageType::Binary, SendFlags::END_OF_MESSAGE)
                .unwrap();
        }
        s.send(data, MessageType::Binary, flags).unwrap();
        s.pending_output().to_vec()
    }

    /// Runs `send_with` taking `take` bytes; returns (head, payload, written + pending).
    fn direct(
        role: Role,
        before: &[u8],
        data: &[u8],
        flags: SendFlags,
        direct_min: usize,
        take: usize,
    ) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let mut s = session(role);
        if !before.is_empty() {
            s.send(before, MessageType::Binary, SendFlags::END_OF_MESSAGE)
                .unwrap();
        }
        let mut seen = (Vec::new(), Vec::new());
        let mut wire = Vec::new();
        s.send_with(
            SenderId::ANY,
            data,
            MessageType::Binary,
            flags,
            direct_min,
            |head, payload| {
                seen = (head.to_vec(), payload.to_vec());
                let all: Vec<u8> = head.iter().chain(payload).copied().collect();
                let n = take.min(all.len());
                wire.extend_from_slice(&all[..n]);
                n
            },
        )
        .unwrap();
        wire.extend_from_slice(s.pending_output());
        (seen.0, seen.1, wire)
    }

    #[test]
    fn send_with_writes_the_same_bytes_as_send_wherever_the_write_stops() {
        let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        for role in [Role::Server, Role::Client] {
            for before in [&[][..], &[1u8, 2, 3][..]] {
                for flags in [SendFlags::END_OF_MESSAGE, SendFlags::PARTIAL] {
                    let want = reference(role, before, &data, flags);
                    for take in [0, 1, 3, 4, 5, 9, 100, want.len() - 1, want.len(), usize::MAX] {
                        let (_, _, wire) = direct(role, before, &data, flags, 16, take);
                        assert_eq!(wire, want, "{role:?} before {} take {take}", before.len());
                    }
                }
            }
        }
    }

    #[test]
    fn send_with_offers_the_payload_only_for_large_unmasked_frames() {
        let data = vec![9u8; 200];
        // Server, large enough: head is the older frame and the new header.
        let (head, payload, _) = direct(Role::Server, &[1, 2, 3], &data, SendFlags::END_OF_MESSAGE, 200, 0);
        assert_eq!(payload, data);
        assert_eq!(head, [0x82, 3, 1, 2, 3, 0x82, 126, 0, 200]);
        // Below the threshold: the whole frame is queued first.
        let (head, payload, _) = direct(Role::Server, &[], &data, SendFlags::END_OF_MESSAGE, 201, 0);
        assert!(payload.is_empty());
        assert_eq!(head.len(), 4 + 200);
        // A client masks, so the payload is always copied.
        let (head, payload, _) = direct(Role::Client, &[], &data, SendFlags::END_OF_MESSAGE, 0, 0);
        assert!(payload.is_empty());
        assert_eq!(head.len(), 8 + 200);
    }

    #[test]
    fn a_queue_that_never_empties_does_not_keep_written_bytes() {
        let mut s = session(Role::Server);
        for _ in 0..100_000 {
            s.send(&[7; 100], MessageType::Binary, SendFlags::END_OF_MESSAGE)
                .unwrap();
            // The transport takes a little less than is queued each time.
            let n = s.pending_output().len() - 50;
            s.consume_output(n);
        }
        assert!(s.pending_output().len() <= 200);
        assert!(
            s.send.out.len() < 2 * COMPACT_MIN + 200,
            "{} bytes kept",
            s.send.out.len()
        );
    }

    #[test]
    fn send_with_does_not_write_a_refused_message() {
        let mut s = session(Role::Server);
        let r = s.send_with(
            SenderId::ANY,
            &[0xff],
            MessageType::Text,
            SendFlags::END_OF_MESSAGE,
            0,
            |_, _| panic!("write called for a refused message"),
        );
        assert!(r.is_err());
        assert!(s.pending_output().is_empty());
    }

    #[test]
    fn send_with_continues_a_message_like_send() {
        let mut a = session(Role::Server);
        let mut b = session(Role::Server);
        let mut wire = Vec::new();
        for (i, piece) in [&b"ab"[..], &[b'c'; 70][..], &b"d"[..]].iter().enumerate() {
            let flags = if i == 2 {
                SendFlags::END_OF_MESSAGE
            } else {
                SendFlags::PARTIAL
            };
            a.send(piece, MessageType::Text, flags).unwrap();
            b.send_with(
                SenderId::ANY,
                piece,
                MessageType::Text,
                flags,
                0,
                |head, payload| {
                    wire.extend_from_slice(head);
                    wire.extend_from_slice(payload);
                    head.len() + payload.len()
                },
            )
            .unwrap();
            assert!(b.pending_output().is_empty());
        }
        assert_eq!(wire, a.pending_output());
        assert!(b
            .send(b"x", MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .is_ok());
    }
}
