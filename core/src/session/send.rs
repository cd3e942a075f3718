//! The sending half of a session: messages and control frames out, as frame bytes.

use alloc::format;
use alloc::vec::Vec;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;

use super::{MessageType, Role, SendFlags, Session, State};
use crate::close::{CloseCode, MAX_REASON_LEN};
use crate::deflate::Compressor;
use crate::error::{Error, ErrorKind};
use crate::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, RSV1};
use crate::mask::apply_mask;
use crate::utf8::Utf8Validator;

/// Frames waiting to be written, and the state of a message sent in pieces.
#[derive(Default)]
pub(super) struct Sender {
    out: Vec<u8>,
    written: usize,
    /// The type of a message whose last piece has not been sent yet.
    continuing: Option<MessageType>,
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
        self.out.reserve(n + payload.len());
        self.out.extend_from_slice(&hb[..n]);
        let start = self.out.len();
        self.out.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.out[start..], key, 0);
        }
    }

    pub(super) fn write_control(&mut self, rng: &mut ChaCha8Rng, role: Role, opcode: OpCode, payload: &[u8]) {
        self.write_frame(rng, role, opcode, true, 0, payload);
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
    }
}

impl Session {
    /// Queues a message, or a piece of one (.NET's `SendAsync`).
    ///
    /// With `flags.end_of_message` clear, later calls continue the same message
    /// and must use the same `message_type`. Text is checked to be UTF-8
    /// (across pieces); invalid text is refused and nothing is queued.
    pub fn send(&mut self, data: &[u8], message_type: MessageType, flags: SendFlags) -> Result<(), Error> {
        self.check_can_send()?;
        let opcode = match (message_type, self.send.continuing) {
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
        self.send.continuing = (!flags.end_of_message).then_some(message_type);
        let s = &mut self.send;
        if first {
            // The first piece decides for the whole message (RSV1 is on its first frame only).
            s.compressing = s.deflate.is_some() && !flags.disable_compression;
        }
        match s.deflate.as_mut().filter(|_| s.compressing) {
            Some(d) => {
                let mut payload = core::mem::take(&mut s.scratch);
                payload.clear();
                d.compressor.compress(data, flags.end_of_message, &mut payload);
                if flags.end_of_message && d.reset_after_message {
                    d.compressor.reset();
                }
                let rsv = if first { RSV1 } else { 0 };
                s.write_frame(
                    &mut self.rng,
                    self.config.role,
                    opcode,
                    flags.end_of_message,
                    rsv,
                    &payload,
                );
                s.scratch = payload;
            }
            None => s.write_frame(
                &mut self.rng,
                self.config.role,
                opcode,
                flags.end_of_message,
                0,
                data,
            ),
        }
        Ok(())
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

    fn check_can_send(&self) -> Result<(), Error> {
        match self.state {
            State::Open | State::CloseReceived => Ok(()),
            State::Aborted => Err(self
                .failure
                .clone()
                .unwrap_or_else(|| Error::new(ErrorKind::InvalidState, "the WebSocket was aborted"))),
            s => Err(Error::new(
                ErrorKind::InvalidState,
                format!("cannot send in state {s:?}: a Close was already sent"),
            )),
        }
    }

    /// Sends our Close (.NET's `CloseOutputAsync`): `Open` becomes `CloseSent`,
    /// `CloseReceived` becomes `Closed`. Calling it again is a no-op.
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
        match self.state {
            State::Open | State::CloseReceived => {}
            State::CloseSent | State::Closed => return Ok(()),
            _ => return self.check_can_send(),
        }
        self.send
            .write_close(&mut self.rng, self.config.role, code, reason);
        self.close_sent = true;
        self.state = if self.state == State::CloseReceived {
            State::Closed
        } else {
            State::CloseSent
        };
        Ok(())
    }

    /// Frame bytes waiting to be written to the transport.
    pub fn pending_output(&self) -> &[u8] {
        &self.send.out[self.send.written..]
    }

    /// Marks `n` bytes of [`pending_output`](Self::pending_output) as written.
    pub fn consume_output(&mut self, n: usize) {
        let s = &mut self.send;
        s.written = (s.written + n).min(s.out.len());
        if s.written == s.out.len() {
            s.out.clear();
            s.written = 0;
        }
    }
}
