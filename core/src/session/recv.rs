//! The receiving half of a session: bytes in, frames parsed and checked,
//! message data handed to the application.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{MessageType, Role, Session};
use crate::close::{parse_close_payload, CloseCode, CloseFrame, ClosePayloadError};
use crate::deflate::{Decompressor, TAIL};
use crate::error::{Error, ErrorKind};
use crate::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, RSV1};
use crate::mask::apply_mask;
use crate::utf8::Utf8Validator;

/// The receive buffer starts this small and grows (up to `receive_buffer_size`)
/// only when data arrives faster than the application takes it, so idle
/// connections stay cheap.
const INITIAL_BUFFER: usize = 4096;

/// What one [`Session::receive`] returned (.NET's `WebSocketReceiveResult`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveResult {
    /// Bytes written to the caller's buffer.
    pub count: usize,
    /// The type of the message these bytes belong to, or `Close` when the
    /// peer's Close frame was received (then `count` is 0).
    pub message_type: MessageType,
    /// This result ends the message.
    pub end_of_message: bool,
    /// For `Close`: the peer's status (1005 if it sent none).
    pub close_status: Option<CloseCode>,
    /// For `Close`: the peer's reason.
    pub close_status_description: Option<String>,
}

/// Where the parser stands in the frame it is reading.
#[derive(Clone, Copy, Debug)]
enum ParsePosition {
    Header,
    Payload {
        opcode: OpCode,
        fin: bool,
        mask: Option<[u8; 4]>,
        phase: usize,
        remaining: u64,
    },
}

/// The data message being received (some of its frames have arrived).
struct MessageInProgress {
    ty: MessageType,
    len: u64,
    /// Validates text as it arrives; `None` for binary and for compressed
    /// text, which is validated as it is inflated.
    utf8: Option<Utf8Validator>,
    compressed: bool,
}

impl ParsePosition {
    /// Unmasks `bytes`, the next payload bytes of this frame, and moves past
    /// them; returns the frame's opcode, whether its payload is done, and FIN.
    /// `None` outside a payload.
    fn advance(&mut self, bytes: &mut [u8]) -> Option<(OpCode, bool, bool)> {
        let ParsePosition::Payload {
            opcode,
            fin,
            mask,
            phase,
            remaining,
        } = *self
        else {
            return None;
        };
        let phase = match mask {
            Some(key) => apply_mask(bytes, key, phase),
            None => phase,
        };
        let remaining = remaining - bytes.len() as u64;
        let done = remaining == 0;
        *self = if done {
            ParsePosition::Header
        } else {
            ParsePosition::Payload {
                opcode,
                fin,
                mask,
                phase,
                remaining,
            }
        };
        Some((opcode, done, fin))
    }
}

impl MessageInProgress {
    /// Checks text as it arrives; `ends` when these bytes end the message.
    fn check_text(&mut self, bytes: &[u8], ends: bool) -> Result<(), Error> {
        if let Some(v) = self.utf8.as_mut() {
            if v.feed(bytes).is_err() || (ends && v.finish().is_err()) {
                return Err(Error::protocol(
                    CloseCode::INVALID_PAYLOAD,
                    "a text message is not valid UTF-8",
                ));
            }
        }
        Ok(())
    }
}

/// The compressed message the application is reading.
struct Inflating {
    utf8: Option<Utf8Validator>,
    produced: u64,
    /// How much of the RFC 7692 tail has been fed to the inflater.
    tail: usize,
    /// The sender ended its deflate stream with a final block (RFC 7692
    /// section 7.2.3.4 allows it): what follows in the message is ignored and
    /// the next message starts a new stream.
    ended: bool,
}

/// Something ready for the application, in wire order.
#[derive(Clone, Copy, Debug)]
enum Delivery {
    /// Message bytes `buf[start..end]`, already unmasked and validated.
    Data {
        start: usize,
        end: usize,
        ty: MessageType,
        eom: bool,
        /// Raw deflate bytes, inflated as the application receives.
        compressed: bool,
    },
    /// The peer's Close frame (its content is in `Session::close_received`).
    Close,
}

pub(super) struct Receiver {
    buf: Vec<u8>,
    cap: usize,
    filled: usize,
    parse_pos: usize,
    frame: ParsePosition,
    message: Option<MessageInProgress>,
    deliveries: VecDeque<Delivery>,
    ctrl: [u8; MAX_CONTROL_PAYLOAD],
    ctrl_len: usize,
    /// No more input is processed (close received or connection failed).
    stopped: bool,
    eof: bool,
    /// permessage-deflate for what the peer sends, if negotiated.
    inflater: Option<Decompressor>,
    /// The peer does not take over context: reset after every message.
    inflate_reset: bool,
    inflating: Option<Inflating>,
    /// The last `read_buf` found no room.
    stalled: bool,
    /// The application is gone: data is parsed and checked, then dropped.
    discarding: bool,
}

/// What one queued delivery costs besides its bytes: counted against the
/// receive buffer, so a flood of empty messages is bounded like data.
const DELIVERY_COST: usize = core::mem::size_of::<Delivery>();

impl Receiver {
    pub(super) fn new(cap: usize, deflate: Option<(Decompressor, bool)>) -> Self {
        let (inflater, inflate_reset) = match deflate {
            Some((d, reset)) => (Some(d), reset),
            None => (None, false),
        };
        Receiver {
            inflater,
            inflate_reset,
            inflating: None,
            stalled: false,
            discarding: false,
            buf: Vec::new(),
            cap,
            filled: 0,
            parse_pos: 0,
            frame: ParsePosition::Header,
            message: None,
            deliveries: VecDeque::new(),
            ctrl: [0; MAX_CONTROL_PAYLOAD],
            ctrl_len: 0,
            stopped: false,
            eof: false,
        }
    }

    pub(super) fn stop(&mut self) {
        self.stopped = true;
    }

    /// The transport's input ended.
    pub(super) fn end(&mut self) {
        self.eof = true;
    }

    pub(super) fn is_open(&self) -> bool {
        !self.stopped && !self.eof
    }

    pub(super) fn has_deliveries(&self) -> bool {
        !self.deliveries.is_empty()
    }

    /// Frees the buffer and the inflater; nothing more is received.
    pub(super) fn retire(&mut self) {
        self.discard_all();
        self.stop();
        self.buf = Vec::new();
        self.filled = 0;
        self.parse_pos = 0;
        self.inflater = None;
    }

    /// Drops everything queued for the application, and what arrives later.
    pub(super) fn discard_all(&mut self) {
        self.deliveries.clear();
        self.inflating = None;
        self.discarding = true;
    }

    /// Bytes the receive buffer may still take: its capacity minus the live
    /// data and the cost of the queued deliveries.
    fn room(&self) -> usize {
        let used = (self.filled - self.live_start()) + self.deliveries.len() * DELIVERY_COST;
        self.cap.saturating_sub(used)
    }

    /// The buffer is full of data the application has not taken: input waits.
    pub(super) fn is_stalled(&self) -> bool {
        self.is_open() && self.stalled
    }

    /// Start of the oldest byte still needed: unread data or unparsed input.
    fn live_start(&self) -> usize {
        self.deliveries
            .iter()
            .find_map(|d| match d {
                Delivery::Data { start, .. } => Some(*start),
                Delivery::Close => None,
            })
            .map_or(self.parse_pos, |s| s.min(self.parse_pos))
    }

    /// Moves live bytes to the front and grows the buffer, so there is room to read.
    fn make_room(&mut self) {
        if self.deliveries.is_empty() && self.parse_pos == self.filled && !self.buf.is_empty() {
            // Everything was taken (the usual case between messages): start over.
            self.filled = 0;
            self.parse_pos = 0;
            return;
        }
        let live = self.live_start();
        if live == self.filled {
            self.filled = 0;
            self.parse_pos = 0;
            for d in self.deliveries.iter_mut() {
                if let Delivery::Data { start, end, .. } = d {
                    *start = 0;
                    *end = 0;
                }
            }
        } else if live > 0 && self.buf.len() - self.filled < self.buf.len() / 2 {
            self.buf.copy_within(live..self.filled, 0);
            self.filled -= live;
            self.parse_pos -= live;
            for d in self.deliveries.iter_mut() {
                if let Delivery::Data { start, end, .. } = d {
                    *start -= live;
                    *end -= live;
                }
            }
        }
        let spare = self.buf.len() - self.filled;
        if spare < self.buf.len() / 2 || self.buf.is_empty() {
            let want = (self.buf.len() * 2).clamp(INITIAL_BUFFER.min(self.cap), self.cap);
            // The peer decides how far the buffer grows (up to the cap), so
            // the allocation may fail: then the buffer stays as it is and
            // reading waits for the application as it does at the cap,
            // instead of aborting the process (in wasm, every connection of
            // the instance).
            if want > self.buf.len() && self.buf.try_reserve_exact(want - self.buf.len()).is_ok() {
                self.buf.resize(want, 0);
            }
        }
    }

    fn push_data(&mut self, start: usize, end: usize, ty: MessageType, eom: bool, compressed: bool) {
        if self.discarding {
            return;
        }
        if let Some(Delivery::Data {
            end: last_end,
            eom: last_eom,
            ..
        }) = self.deliveries.back_mut()
        {
            // The last delivery, if not ended, belongs to the message being received.
            if !*last_eom && (*last_end == start || start == end) {
                if start != end {
                    *last_end = end;
                }
                *last_eom = eom;
                return;
            }
        }
        if start != end || eom {
            self.deliveries.push_back(Delivery::Data {
                start,
                end,
                ty,
                eom,
                compressed,
            });
        }
    }
}

/// What parsing one step found, acted on once the buffer borrow ends.
enum Step {
    NeedMore,
    Continue,
    Control(OpCode),
    Fail(Error),
}

impl Session {
    /// Free space to read transport bytes into. Empty (stop reading) when
    /// the receive buffer is full of data the application has not taken yet,
    /// when more than `max_pending_output` bytes of PONG answers wait to be
    /// written (a peer that sends PINGs and does not read is not read
    /// either), or when no more input will be processed.
    pub fn read_buf(&mut self) -> &mut [u8] {
        if self.recv.stopped || self.recv.eof {
            return &mut [];
        }
        if self.send.unwritten_answers() > self.config.max_pending_output {
            // The peer's stall (it does not read), not ours: keep-alive counts it.
            self.recv.stalled = false;
            return &mut [];
        }
        self.recv.make_room();
        let filled = self.recv.filled;
        let mut room = self.recv.buf.len() - filled;
        if !self.recv.deliveries.is_empty() {
            // Queued deliveries count against the buffer too.
            room = room.min(self.recv.room());
        }
        self.recv.stalled = room == 0;
        if self.recv.stalled {
            // Our stall, not the peer's silence.
            self.keepalive.on_stalled(self.now);
        }
        &mut self.recv.buf[filled..filled + room]
    }

    /// True once the receive buffer is allocated (the first [`read_buf`](Self::read_buf)
    /// or [`feed`](Self::feed) allocates it). A backend may read a connection's
    /// first bytes into scratch space and [`feed`](Self::feed) them, so
    /// connections that never receive anything never allocate one.
    pub fn read_buf_allocated(&self) -> bool {
        !self.recv.buf.is_empty()
    }

    /// Marks `n` bytes of [`read_buf`](Self::read_buf) as filled and processes them.
    pub fn commit_read(&mut self, n: usize) {
        self.take_read(n);
    }

    fn take_read(&mut self, n: usize) {
        debug_assert!(self.recv.filled + n <= self.recv.buf.len());
        self.recv.filled = (self.recv.filled + n).min(self.recv.buf.len());
        self.process();
    }

    /// Copies as much of `data` as fits into the receive buffer and processes it.
    /// Returns how many bytes were taken; fewer than `data.len()` means the
    /// buffer is full until the application receives.
    pub fn feed(&mut self, data: &[u8]) -> usize {
        let mut taken = 0;
        while taken < data.len() {
            let room = self.read_buf();
            let n = room.len().min(data.len() - taken);
            if n == 0 {
                break;
            }
            room[..n].copy_from_slice(&data[taken..taken + n]);
            self.take_read(n);
            taken += n;
        }
        if self.recv.stopped {
            // Input after a Close or a failure is ignored, not buffered.
            return data.len();
        }
        taken
    }

    /// How many bytes of payload may go from the transport straight into
    /// the application's buffer: non-zero only inside the payload of an
    /// uncompressed data frame, with nothing else buffered or waiting to be
    /// taken. A backend may then read up to this many bytes into the buffer
    /// the application gave `receive` and hand them to
    /// [`receive_read`](Self::receive_read), which saves copying the bulk of
    /// large messages through the receive buffer.
    pub fn direct_payload_len(&self) -> usize {
        let r = &self.recv;
        let ParsePosition::Payload {
            opcode, remaining, ..
        } = r.frame
        else {
            return 0;
        };
        let plain = r.message.as_ref().is_some_and(|m| !m.compressed);
        if r.stopped
            || r.eof
            || !r.deliveries.is_empty()
            || r.parse_pos != r.filled
            || opcode.is_control()
            || !plain
        {
            return 0;
        }
        usize::try_from(remaining).unwrap_or(usize::MAX)
    }

    /// How many bytes the next [`receive`](Self::receive) calls of the
    /// current message will return before more frames arrive: the
    /// uncompressed bytes waiting to be taken plus the rest of the data frame
    /// being read, so a backend assembling whole messages sizes its buffer
    /// once and reads a large payload straight into it. For a compressed
    /// message it is a guess, never 0: four times the compressed bytes
    /// waiting, and at least what was inflated so far (so buffers double).
    /// 0 when nothing is known (no data waits), or when an empty message or
    /// a Close is next: a receive into an empty buffer takes those.
    pub fn receive_size_hint(&self) -> usize {
        /// Text and JSON usually inflate to about 4 times their compressed size.
        const INFLATE_GUESS: usize = 4;
        const MIN_INFLATE_ROOM: usize = 4096;
        let r = &self.recv;
        let mut plain = 0usize;
        let mut packed: Option<usize> = None;
        let mut ended = false;
        for d in &r.deliveries {
            match *d {
                Delivery::Data {
                    start,
                    end,
                    eom,
                    compressed,
                    ..
                } => {
                    if compressed {
                        packed = Some(packed.unwrap_or(0).saturating_add(end - start));
                    } else {
                        plain = plain.saturating_add(end - start);
                    }
                    if eom {
                        ended = true;
                        break;
                    }
                }
                Delivery::Close => {
                    ended = true;
                    break;
                }
            }
        }
        if !ended {
            if let (
                ParsePosition::Payload {
                    opcode, remaining, ..
                },
                Some(m),
            ) = (r.frame, r.message.as_ref())
            {
                if !opcode.is_control() {
                    let rest = usize::try_from(remaining).unwrap_or(usize::MAX);
                    if m.compressed {
                        if packed.is_some() || !r.deliveries.is_empty() {
                            packed = Some(packed.unwrap_or(0).saturating_add(rest));
                        }
                    } else {
                        plain = plain.saturating_add(rest);
                    }
                }
            }
        }
        match packed {
            None => plain,
            Some(p) => {
                let so_far = r
                    .inflating
                    .as_ref()
                    .map_or(0, |i| usize::try_from(i.produced).unwrap_or(usize::MAX));
                p.saturating_mul(INFLATE_GUESS).max(so_far).max(MIN_INFLATE_ROOM)
            }
        }
    }

    /// Takes `data`, payload bytes just read from the transport into the
    /// application's buffer (at most [`direct_payload_len`](Self::direct_payload_len)):
    /// unmasks them in place, checks them, and returns the result `receive`
    /// would have returned for them. Invalid text fails the connection (1007).
    pub fn receive_read(&mut self, data: &mut [u8]) -> Result<ReceiveResult, Error> {
        let n = data.len();
        if n > self.direct_payload_len() {
            return Err(self.fail_now(Error::new(
                ErrorKind::Faulted,
                "internal: payload read past the frame, or while other input was buffered",
            )));
        }
        let r = &mut self.recv;
        let (Some((_, done, fin)), Some(msg)) = (r.frame.advance(data), r.message.as_mut()) else {
            return Err(self.fail_now(Error::new(
                ErrorKind::Faulted,
                "internal: payload read outside a data frame",
            )));
        };
        let eom = done && fin;
        let ty = msg.ty;
        if let Err(e) = msg.check_text(data, eom) {
            return Err(self.fail_now(e));
        }
        if eom {
            r.message = None;
        }
        Ok(ReceiveResult {
            count: n,
            message_type: ty,
            end_of_message: eom,
            close_status: None,
            close_status_description: None,
        })
    }

    fn process(&mut self) {
        while !self.recv.stopped {
            match self.step() {
                Step::NeedMore => break,
                Step::Continue => {}
                Step::Control(op) => self.on_control(op),
                Step::Fail(e) => self.fail(e),
            }
        }
    }

    fn step(&mut self) -> Step {
        let r = &mut self.recv;
        match r.frame {
            ParsePosition::Header => {
                let (h, n) = match FrameHeader::decode(&r.buf[r.parse_pos..r.filled]) {
                    Ok(Some(v)) => v,
                    Ok(None) => return Step::NeedMore,
                    Err(e) => return Step::Fail(Error::protocol(CloseCode::PROTOCOL_ERROR, format!("{e}"))),
                };
                r.parse_pos += n;
                self.keepalive.on_heard(self.now);
                if let Err(e) = self.check_header(&h) {
                    return Step::Fail(e);
                }
                self.recv.frame = ParsePosition::Payload {
                    opcode: h.opcode,
                    fin: h.fin,
                    mask: h.mask,
                    phase: 0,
                    remaining: h.payload_len,
                };
                Step::Continue
            }
            ParsePosition::Payload { remaining, .. } => {
                let avail = (r.filled - r.parse_pos).min(usize::try_from(remaining).unwrap_or(usize::MAX));
                if avail == 0 && remaining > 0 {
                    return Step::NeedMore;
                }
                let start = r.parse_pos;
                let end = start + avail;
                let Some((opcode, done, fin)) = r.frame.advance(&mut r.buf[start..end]) else {
                    return Step::Fail(Error::new(
                        ErrorKind::Faulted,
                        "internal: payload outside a frame",
                    ));
                };
                r.parse_pos = end;
                if opcode.is_control() {
                    r.ctrl[r.ctrl_len..r.ctrl_len + avail].copy_from_slice(&r.buf[start..end]);
                    r.ctrl_len += avail;
                    return if done {
                        Step::Control(opcode)
                    } else {
                        Step::Continue
                    };
                }
                let Some(msg) = r.message.as_mut() else {
                    return Step::Fail(Error::new(ErrorKind::Faulted, "internal: data without a message"));
                };
                let ty = msg.ty;
                let compressed = msg.compressed;
                if let Err(e) = msg.check_text(&r.buf[start..end], done && fin) {
                    return Step::Fail(e);
                }
                let eom = done && fin;
                if eom {
                    r.message = None;
                }
                r.push_data(start, end, ty, eom, compressed);
                Step::Continue
            }
        }
    }

    /// Rules that depend on the connection, not just the header bytes.
    fn check_header(&mut self, h: &FrameHeader) -> Result<(), Error> {
        let pe = |m: String| Error::protocol(CloseCode::PROTOCOL_ERROR, m);
        // RSV1 marks the first frame of a compressed message, once deflate is negotiated.
        let starts_message = matches!(h.opcode, OpCode::Text | OpCode::Binary);
        let rsv1_allowed = self.recv.inflater.is_some() && starts_message;
        let compressed = h.rsv & RSV1 != 0 && rsv1_allowed;
        if h.rsv & RSV1 != 0 && self.recv.inflater.is_some() && !starts_message {
            return Err(pe(format!(
                "RSV1 (compressed) is set on a {:?} frame; only the first frame of a message may carry it",
                h.opcode
            )));
        }
        if h.rsv != 0 && !compressed {
            return Err(pe(format!(
                "frame has reserved bits RSV{} set but no extension that uses them was negotiated",
                match h.rsv {
                    r if r & 0b100 != 0 => 1,
                    r if r & 0b010 != 0 => 2,
                    _ => 3,
                }
            )));
        }
        match (self.config.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(pe("a client sent an unmasked frame".into())),
            (Role::Client, true) => return Err(pe("a server sent a masked frame".into())),
            _ => {}
        }
        let r = &mut self.recv;
        match h.opcode {
            OpCode::Close | OpCode::Ping | OpCode::Pong => {
                r.ctrl_len = 0;
                return Ok(());
            }
            OpCode::Continuation if r.message.is_none() => {
                return Err(pe("continuation frame without a message to continue".into()))
            }
            OpCode::Text | OpCode::Binary if r.message.is_some() => {
                return Err(pe(
                    "new data frame before the previous fragmented message ended".into()
                ))
            }
            OpCode::Text | OpCode::Binary => {
                let text = h.opcode == OpCode::Text;
                r.message = Some(MessageInProgress {
                    ty: if text {
                        MessageType::Text
                    } else {
                        MessageType::Binary
                    },
                    len: 0,
                    utf8: (text && !compressed).then(Utf8Validator::new),
                    compressed,
                });
            }
            OpCode::Continuation => {}
        }
        if h.payload_len > self.config.max_frame_size {
            return Err(Error::protocol(
                CloseCode::MESSAGE_TOO_BIG,
                format!(
                    "frame of {} bytes exceeds maxFrameSize ({})",
                    h.payload_len, self.config.max_frame_size
                ),
            ));
        }
        let msg = r.message.as_mut().expect("set above for data frames");
        msg.len = msg.len.saturating_add(h.payload_len);
        if msg.len > self.config.max_message_size {
            return Err(Error::protocol(
                CloseCode::MESSAGE_TOO_BIG,
                format!(
                    "message of at least {} bytes exceeds maxMessageSize ({})",
                    msg.len, self.config.max_message_size
                ),
            ));
        }
        Ok(())
    }

    fn on_control(&mut self, op: OpCode) {
        let len = self.recv.ctrl_len;
        match op {
            // After our Close, nothing more is sent, not even a PONG.
            OpCode::Ping if !self.life.close_sent => {
                let payload = self.recv.ctrl;
                self.send
                    .write_pong(&mut self.rng, self.config.role, &payload[..len]);
            }
            OpCode::Pong => {
                let payload = self.recv.ctrl;
                self.keepalive.on_pong(&payload[..len], self.now);
            }
            OpCode::Ping => {}
            OpCode::Close => match parse_close_payload(&self.recv.ctrl[..len]) {
                Ok(frame) => self.on_close(frame),
                Err(e) => self.fail(match e {
                    ClosePayloadError::Truncated => Error::protocol(
                        CloseCode::PROTOCOL_ERROR,
                        "close frame payload of 1 byte cannot hold a status code",
                    ),
                    ClosePayloadError::InvalidCode(c) => Error::protocol(
                        CloseCode::PROTOCOL_ERROR,
                        format!("close frame carries invalid status code {c}"),
                    ),
                    ClosePayloadError::InvalidReason => Error::protocol(
                        CloseCode::INVALID_PAYLOAD,
                        "close frame reason is not valid UTF-8",
                    ),
                }),
            },
            _ => {}
        }
    }

    fn on_close(&mut self, frame: CloseFrame) {
        if !self.recv.discarding {
            self.recv.deliveries.push_back(Delivery::Close);
        }
        // Nothing may follow a Close (RFC 6455 section 5.5.1); ignore whatever does.
        self.recv.stop();
        self.on_close_read(frame);
    }

    /// Inflates the compressed message at the front of the queue into `out`.
    fn receive_inflated(&mut self, out: &mut [u8], ty: MessageType) -> Result<Option<ReceiveResult>, Error> {
        let Receiver {
            deliveries,
            buf,
            inflater,
            inflating,
            ..
        } = &mut self.recv;
        let Some(inflater) = inflater.as_mut() else {
            return Err(Error::new(
                ErrorKind::Faulted,
                "internal: compressed data without an inflater",
            ));
        };
        let reading = inflating.get_or_insert_with(|| Inflating {
            utf8: (ty == MessageType::Text).then(Utf8Validator::new),
            produced: 0,
            tail: 0,
            ended: false,
        });
        let mut count = 0;
        let mut eom = false;
        let mut invalid = false;
        while let Some(Delivery::Data {
            start,
            end,
            eom: last,
            compressed: true,
            ..
        }) = deliveries.front_mut()
        {
            let from_buf = *start < *end;
            let input: &[u8] = if from_buf {
                &buf[*start..*end]
            } else if *last {
                &TAIL[reading.tail..]
            } else {
                &[]
            };
            let (used, wrote) = if reading.ended {
                // After a final block everything left in the message is skipped.
                (input.len(), 0)
            } else {
                match inflater.decompress(input, &mut out[count..]) {
                    Ok((used, wrote, ended)) => {
                        reading.ended = ended;
                        (used, wrote)
                    }
                    Err(_) => {
                        invalid = true;
                        break;
                    }
                }
            };
            if from_buf {
                *start += used;
            } else if *last {
                reading.tail += used;
            }
            count += wrote;
            if *start == *end && !*last {
                // This piece is used up; the message continues in the next one.
                deliveries.pop_front();
                continue;
            }
            if *start == *end && reading.tail == TAIL.len() && used == 0 && wrote == 0 {
                deliveries.pop_front();
                eom = true;
                break;
            }
            if count == out.len() || (used == 0 && wrote == 0) {
                break;
            }
        }
        if invalid {
            return Err(self.fail_now(Error::protocol(
                CloseCode::INVALID_PAYLOAD,
                "a compressed message is not a valid deflate stream",
            )));
        }
        reading.produced += count as u64;
        let mut utf8_ok = match reading.utf8.as_mut() {
            Some(v) => v.feed(&out[..count]).is_ok(),
            None => true,
        };
        if eom {
            utf8_ok &= reading.utf8.as_mut().is_none_or(|v| v.finish().is_ok());
        }
        let produced = reading.produced;
        let ended = reading.ended;
        if eom {
            *inflating = None;
            if self.recv.inflate_reset || ended {
                if let Some(i) = self.recv.inflater.as_mut() {
                    i.reset();
                }
            }
        }
        if !utf8_ok {
            return Err(self.fail_now(Error::protocol(
                CloseCode::INVALID_PAYLOAD,
                "a text message is not valid UTF-8",
            )));
        }
        if produced > self.config.max_message_size {
            return Err(self.fail_now(Error::protocol(
                CloseCode::MESSAGE_TOO_BIG,
                format!(
                    "a compressed message inflates past maxMessageSize ({} bytes)",
                    self.config.max_message_size
                ),
            )));
        }
        if count == 0 && !eom && !out.is_empty() {
            return match self.recv.deliveries.front() {
                // Waiting for more of the message to arrive.
                Some(Delivery::Data { compressed: true, .. }) => Ok(None),
                // The message was cut short by what follows (a Close): deliver that.
                _ => self.receive(out),
            };
        }
        Ok(Some(ReceiveResult {
            count,
            message_type: ty,
            end_of_message: eom,
            close_status: None,
            close_status_description: None,
        }))
    }

    /// Fails the connection from the application's side of the buffer, and
    /// drops what was queued behind the failure (it can no longer be trusted).
    fn fail_now(&mut self, err: Error) -> Error {
        self.recv.deliveries.clear();
        self.fail(err);
        self.report_failure()
    }

    /// Takes received message data into `out` (.NET's `ReceiveAsync`).
    ///
    /// - `Ok(Some(r))`: `r.count` bytes of the current message were written; more
    ///   calls return the rest until `r.end_of_message`. A result never mixes two
    ///   messages. A `Close` result reports the peer's status.
    /// - `Ok(None)`: nothing yet; feed more input and call again.
    /// - `Err(e)`: the connection failed (protocol error, premature end, abort),
    ///   or a Close was already delivered. Data that arrived before a failure is
    ///   delivered first.
    pub fn receive(&mut self, out: &mut [u8]) -> Result<Option<ReceiveResult>, Error> {
        if self.life.aborted {
            return Err(self.report_failure());
        }
        let r = &mut self.recv;
        match r.deliveries.front_mut() {
            Some(Delivery::Close) => {
                r.deliveries.pop_front();
                self.on_close_delivered();
                return Ok(Some(ReceiveResult {
                    count: 0,
                    message_type: MessageType::Close,
                    end_of_message: true,
                    close_status: self.close_status(),
                    close_status_description: self.close_status_description().map(String::from),
                }));
            }
            Some(Delivery::Data {
                ty, compressed: true, ..
            }) => {
                let ty = *ty;
                return self.receive_inflated(out, ty);
            }
            Some(Delivery::Data { ty, .. }) => {
                let ty = *ty;
                let mut count = 0;
                let mut eom = false;
                while let Some(Delivery::Data {
                    start, end, eom: e, ..
                }) = r.deliveries.front_mut()
                {
                    let n = (out.len() - count).min(*end - *start);
                    out[count..count + n].copy_from_slice(&r.buf[*start..*start + n]);
                    *start += n;
                    count += n;
                    if *start < *end {
                        break;
                    }
                    let e = *e;
                    r.deliveries.pop_front();
                    if e {
                        eom = true;
                        break;
                    }
                }
                return Ok(Some(ReceiveResult {
                    count,
                    message_type: ty,
                    end_of_message: eom,
                    close_status: None,
                    close_status_description: None,
                }));
            }
            None => {}
        }
        if self.life.close_seen {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "the peer's Close was already received; nothing more will arrive",
            ));
        }
        match self.failed() {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }
}
