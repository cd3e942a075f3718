//! The driver of `session_server` and `session_client`.
//!
//! # Input layout
//!
//! | bytes | meaning |
//! |---|---|
//! | `data[0]` | configuration (see [`Config::from_bytes`]) |
//! | `data[1]` | bits 0-6: `n`, the number of op bytes that follow; bit 7: see [`Config::from_bytes`] |
//! | `data[2..2 + n]` | ops, taken two at a time (see [`Op`]) and cycled |
//! | the rest | the peer's bytes, fed to the session |
//!
//! A seed is therefore `00 00` followed by frames: default configuration, no
//! ops (the default op feeds everything and receives with a 4 KiB buffer).
//!
//! # What is checked
//!
//! - nothing panics (the engine's own `debug_assert!`s and overflow checks are on);
//! - `feed` never takes more than it was given;
//! - `receive` never reports more bytes than the buffer it was given;
//! - payload handed over with `receive_read` (bit 6 of the configuration, at
//!   every other position) passes the same checks as what `receive` returns;
//! - results never mix messages: one type per message; a Close result is
//!   empty, ends its "message", comes once and nothing follows it;
//! - the text delivered so far for a message is always a valid UTF-8 prefix,
//!   and a whole text message is valid UTF-8;
//! - without permessage-deflate, the message bytes delivered never exceed the
//!   bytes fed; with it, no message exceeds `max_message_size`;
//! - once `receive` returned `Err`, every later call returns `Err`;
//! - after an abort no input is taken and no frame is written;
//! - sends that must fail do (invalid text, an oversized ping, a reserved
//!   close code, a Close as data, anything after our Close);
//! - the bytes the session writes are a valid frame sequence for its role:
//!   masked exactly when it is the client, RSV1 only on the first frame of a
//!   compressed message, control frames short and unfragmented, continuation
//!   frames only inside a message, a valid Close payload, nothing after the
//!   Close;
//! - a peer session (the other role, same deflate parameters) fed those bytes
//!   does not fail, receives exactly the messages that were sent (a prefix of
//!   them if an abort dropped output) and our Close with its code and reason.

use sockweave_core::close::parse_close_payload;
use sockweave_core::deflate::DeflateParams;
use sockweave_core::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, RSV1};
use sockweave_core::keepalive::Strategy;
use sockweave_core::session::{
    MessageType, ReceiveResult, Role, SendFlags, SenderId, Session, SessionConfig, State, TransportAction,
};
use sockweave_core::{CloseCode, Error};

/// Chunk sizes for feeding (index 0: everything left).
const CHUNKS: [usize; 16] = [
    usize::MAX,
    1,
    2,
    3,
    4,
    5,
    7,
    8,
    13,
    14,
    64,
    125,
    127,
    300,
    1024,
    65536,
];
/// Buffer sizes for `receive` (0 is allowed: a result with no bytes).
const RECV_SIZES: [usize; 16] = [
    4096, 0, 1, 2, 3, 4, 5, 7, 16, 64, 125, 126, 256, 1000, 65536, 70000,
];
/// The largest receive buffer above.
const RECV_MAX: usize = 70000;

/// The session's configuration.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub receive_buffer_size: usize,
    pub max_frame_size: u64,
    pub max_message_size: u64,
    /// Fill `read_buf` and `commit_read` instead of `feed`.
    pub use_read_buf: bool,
    /// permessage-deflate was negotiated, with these parameters.
    pub deflate: Option<DeflateParams>,
}

impl Config {
    /// From `data[0]`:
    /// bits 0-1: receive buffer size (default 64 KiB, 256, 300, 1024);
    /// bits 2-3: max frame size (default 16 MiB, 1, 125, 1000);
    /// bits 4-5: max message size (default 64 MiB, 1, 200, 5000);
    /// bit 6: use `read_buf`/`commit_read`; bit 7: permessage-deflate.
    ///
    /// From bit 7 of `data[1]`: deflate with 9-bit windows and no context
    /// takeover either way (else 15-bit windows with takeover).
    pub fn from_bytes(b: u8, b1: u8) -> Config {
        let small = b1 & 0x80 != 0;
        Config {
            receive_buffer_size: [64 * 1024, 256, 300, 1024][usize::from(b & 3)],
            max_frame_size: [16 << 20, 1, 125, 1000][usize::from((b >> 2) & 3)],
            max_message_size: [64 << 20, 1, 200, 5000][usize::from((b >> 4) & 3)],
            use_read_buf: b & 0x40 != 0,
            deflate: (b & 0x80 != 0).then_some(DeflateParams {
                server_max_window_bits: if small { 9 } else { 15 },
                client_max_window_bits: if small { 9 } else { 15 },
                server_no_context_takeover: small,
                client_no_context_takeover: small,
            }),
        }
    }
}

/// One step of the driver, from two op bytes `a` and `b`:
///
/// - `a & 15`: how many bytes to feed ([`CHUNKS`]), also the size of a binary send;
/// - `a >> 4`: the `receive` buffer size ([`RECV_SIZES`]);
/// - `b & 31`: an action (0-10 none; see [`Driver::act`]);
/// - `b >> 5`: how much output to consume (0-3 all, 4 none, 5 one byte,
///   6 half, 7 all but one byte).
#[derive(Clone, Copy, Debug, Default)]
pub struct Op {
    pub a: u8,
    pub b: u8,
}

/// A message being received: its type, length, and the end of its text that
/// may be an incomplete UTF-8 sequence (at most 3 bytes).
struct Incoming {
    ty: MessageType,
    len: u64,
    utf8_tail: Vec<u8>,
}

struct Driver {
    role: Role,
    cfg: Config,
    s: Session,
    /// Bytes the session accepted from `feed`/`commit_read`.
    fed: usize,
    /// Message bytes `receive` delivered.
    delivered: usize,
    receive_failed: bool,
    close_delivered: bool,
    incoming: Option<Incoming>,
    /// Everything the session wrote and we consumed, in order.
    written: Vec<u8>,
    /// Length of `written` when output was dropped by an abort: output may
    /// end in the middle of a frame there, and nothing may follow.
    aborted_at: Option<usize>,
    /// The session's clock, in milliseconds, advanced by actions 11 and 15.
    now: u64,
    /// The Close we queued with `close()`: (code, reason).
    our_close: Option<(Option<CloseCode>, &'static str)>,
    /// Messages sent whole (type, data), in order.
    sent: Vec<(MessageType, Vec<u8>)>,
    /// The message being sent in pieces.
    sending: Option<(MessageType, Vec<u8>)>,
    /// Bytes of binary messages we may still send (keeps inputs fast).
    send_budget: usize,
    recv_buf: Vec<u8>,
}

/// Runs one fuzz input against a session in `role`.
pub fn run(role: Role, data: &[u8]) {
    let b1 = data.get(1).copied().unwrap_or(0);
    let cfg = Config::from_bytes(data.first().copied().unwrap_or(0), b1);
    let n_ops = usize::from(b1 & 0x7F);
    let body = data.get(2..).unwrap_or(&[]);
    let (op_bytes, wire) = body.split_at(n_ops.min(body.len()));
    let ops: Vec<Op> = op_bytes
        .chunks(2)
        .map(|c| Op {
            a: c[0],
            b: c.get(1).copied().unwrap_or(0),
        })
        .collect();

    let mut config = SessionConfig::new(role);
    config.receive_buffer_size = cfg.receive_buffer_size;
    config.max_frame_size = cfg.max_frame_size;
    config.max_message_size = cfg.max_message_size;
    config.deflate = cfg.deflate;
    // Keep-alive runs only when an op advances the clock (action 15 or 11).
    config.keep_alive = if ops.iter().any(|o| o.b & 31 == 15) {
        Strategy::PingPong {
            interval: 100,
            timeout: 50,
        }
    } else if ops.iter().any(|o| o.b & 31 == 11) {
        Strategy::UnsolicitedPong { interval: 100 }
    } else {
        Strategy::Off
    };
    let mut d = Driver {
        role,
        cfg,
        s: Session::new(config, [0x5a; 32]),
        fed: 0,
        delivered: 0,
        receive_failed: false,
        close_delivered: false,
        incoming: None,
        written: Vec::new(),
        aborted_at: None,
        now: 0,
        our_close: None,
        sent: Vec::new(),
        sending: None,
        send_budget: 256 * 1024,
        recv_buf: vec![0; RECV_MAX],
    };

    let mut pos = 0;
    // Every op runs at least once, and the ops cycle until the wire is fed to
    // the end or the session stalls (a full buffer and receive sizes of 0).
    let mut idle = 0;
    for step in 0.. {
        let op = if ops.is_empty() {
            Op::default()
        } else {
            ops[step % ops.len()]
        };
        let before = (pos, d.delivered);
        if pos < wire.len() {
            let n = CHUNKS[usize::from(op.a & 15)].min(wire.len() - pos);
            pos += d.push(&wire[pos..pos + n]);
        }
        d.receive_some(RECV_SIZES[usize::from(op.a >> 4)], 4);
        d.act(op);
        d.consume(op.b >> 5);
        idle = if (pos, d.delivered) == before { idle + 1 } else { 0 };
        if step + 1 >= ops.len() && (pos >= wire.len() || idle > ops.len() + 2) {
            break;
        }
    }
    // Whatever is left: feed it with a receiver that always takes everything.
    let mut stalls = 0;
    while pos < wire.len() && stalls < 3 {
        let n = d.push(&wire[pos..]);
        pos += n;
        stalls = if n == 0 { stalls + 1 } else { 0 };
        d.receive_some(RECV_MAX, 1 << 16);
    }
    // Every connection ends.
    d.s.feed_eof();
    assert!(!d.s.parses_input(), "still receiving after end of file");
    d.receive_some(RECV_MAX, 1 << 16);
    d.receive_some(RECV_MAX, 1);
    let tolerated = d.cfg.deflate.is_some() && allowed("deflate-final-block");
    assert!(
        d.receive_failed || d.close_delivered || tolerated,
        "after end of file, receive neither failed nor delivered a Close"
    );
    d.consume(0);
    d.check_output();
}

/// `receive` returned `Ok(None)`, which means "nothing yet; feed more input
/// and call again": so a second call with no new input must say the same.
/// Returns `None` if it does, else what the second call returned (only when
/// the `deflate-stale-none` issue is tolerated).
fn stable_none(
    s: &mut Session,
    buf: &mut [u8],
    deflate: bool,
) -> Option<Result<Option<ReceiveResult>, Error>> {
    match s.receive(buf) {
        Ok(None) => None,
        again => {
            assert!(
                deflate && allowed("deflate-stale-none"),
                "receive returned Ok(None), then {again:?} with no new input in between"
            );
            Some(again)
        }
    }
}

/// Known engine issues the driver is told to tolerate, so that a long run can
/// look past them: `SOCKWEAVE_FUZZ_ALLOW`, a comma-separated list of
/// - `deflate-final-block`: with permessage-deflate, `receive` may return
///   `Ok(None)` after end of file (a compressed message whose deflate data
///   holds a final block never ends);
/// - `deflate-stale-none`: with permessage-deflate, `receive` may return
///   `Ok(None)` while a result is already there (a Close behind a compressed
///   message that is still incomplete), and that result on the next call.
///
/// See fuzz/regressions/README.md.
fn allowed(issue: &str) -> bool {
    static ALLOW: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    ALLOW
        .get_or_init(|| {
            std::env::var("SOCKWEAVE_FUZZ_ALLOW")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .iter()
        .any(|a| a == issue)
}

impl Driver {
    /// Gives `chunk` to the session; returns how many bytes it took.
    fn push(&mut self, chunk: &[u8]) -> usize {
        let direct = self.s.direct_payload_len().min(chunk.len()).min(RECV_MAX);
        if self.cfg.use_read_buf && direct > 0 && (self.fed / 7) % 2 == 0 {
            // Payload straight into the application's buffer, as the native
            // backend does for large messages (on every other position, so
            // both paths meet mid-frame).
            assert!(!self.receive_failed, "direct payload offered after an error");
            self.recv_buf[..direct].copy_from_slice(&chunk[..direct]);
            self.fed += direct;
            let mut buf = core::mem::take(&mut self.recv_buf);
            let r = self.s.receive_read(&mut buf[..direct]);
            self.recv_buf = buf;
            match r {
                Ok(r) => {
                    assert_eq!(r.count, direct, "receive_read reported a different count");
                    self.on_result(&r);
                }
                Err(e) => {
                    let _ = e.to_string();
                    self.receive_failed = true;
                }
            }
            return direct;
        }
        let taken = if self.cfg.use_read_buf {
            let room = self.s.read_buf();
            let n = room.len().min(chunk.len());
            room[..n].copy_from_slice(&chunk[..n]);
            self.s.commit_read(n);
            n
        } else {
            let n = self.s.feed(chunk);
            assert!(n <= chunk.len(), "feed took {n} of {} bytes", chunk.len());
            n
        };
        self.fed += taken;
        taken
    }

    /// Calls `receive` with a `size`-byte buffer up to `calls` times, until it
    /// has nothing (`Ok(None)`) or fails.
    fn receive_some(&mut self, size: usize, calls: usize) {
        for _ in 0..calls {
            let r = match self.s.receive(&mut self.recv_buf[..size]) {
                Ok(None) => {
                    assert!(!self.receive_failed, "receive returned Ok(None) after an error");
                    match stable_none(
                        &mut self.s,
                        &mut self.recv_buf[..size],
                        self.cfg.deflate.is_some(),
                    ) {
                        None => return,
                        Some(again) => again,
                    }
                }
                r => r,
            };
            match r {
                Ok(Some(r)) => {
                    assert!(
                        !self.receive_failed,
                        "receive returned a result after an error: {r:?}"
                    );
                    assert!(
                        r.count <= size,
                        "{} bytes reported for a {size}-byte buffer",
                        r.count
                    );
                    self.on_result(&r);
                    if r.count == 0 && !r.end_of_message {
                        return; // no progress with this buffer size
                    }
                }
                Ok(None) => unreachable!("handled above"),
                Err(e) => {
                    let _ = e.to_string();
                    self.receive_failed = true;
                    return;
                }
            }
        }
    }

    fn on_result(&mut self, r: &ReceiveResult) {
        assert!(!self.close_delivered, "a result after the Close result: {r:?}");
        if r.message_type == MessageType::Close {
            // A Close may interrupt a fragmented message: that message never ends.
            self.incoming = None;
            assert_eq!(r.count, 0);
            assert!(r.end_of_message);
            let code = r.close_status.expect("a Close result has a status");
            assert!(
                code.is_valid_on_wire() || code == CloseCode::NO_STATUS,
                "{code:?}"
            );
            assert_eq!(self.s.close_status(), Some(code));
            self.close_delivered = true;
            return;
        }
        assert!(r.close_status.is_none() && r.close_status_description.is_none());
        let m = self.incoming.get_or_insert_with(|| Incoming {
            ty: r.message_type,
            len: 0,
            utf8_tail: Vec::new(),
        });
        assert_eq!(m.ty, r.message_type, "one message, two types");
        let bytes = &self.recv_buf[..r.count];
        m.len += r.count as u64;
        self.delivered += r.count;
        if self.cfg.deflate.is_none() {
            assert!(
                self.delivered <= self.fed,
                "{} message bytes delivered from {} bytes fed",
                self.delivered,
                self.fed
            );
        }
        assert!(
            m.len <= self.cfg.max_message_size,
            "a message of {} bytes delivered; maxMessageSize is {}",
            m.len,
            self.cfg.max_message_size
        );
        if m.ty == MessageType::Text {
            // Validate incrementally: the tail that may still be completed, then these bytes.
            let mut text = core::mem::take(&mut m.utf8_tail);
            text.extend_from_slice(bytes);
            match std::str::from_utf8(&text) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => {
                    m.utf8_tail = text[e.valid_up_to()..].to_vec();
                }
                Err(e) => panic!("received text is not UTF-8: {:02x?}", &text[e.valid_up_to()..]),
            }
            assert!(
                !r.end_of_message || m.utf8_tail.is_empty(),
                "a text message ends inside a UTF-8 sequence: {:02x?}",
                m.utf8_tail
            );
        }
        if r.end_of_message {
            self.incoming = None;
        }
    }

    /// Sends (part of) a message and records what was sent.
    fn send(&mut self, data: &[u8], ty: MessageType, flags: SendFlags) -> Result<(), Error> {
        self.s.send(data, ty, flags)?;
        self.note_sent(data, ty, flags);
        Ok(())
    }

    /// Records what a successful send queued.
    fn note_sent(&mut self, data: &[u8], ty: MessageType, flags: SendFlags) {
        let m = self.sending.get_or_insert_with(|| (ty, Vec::new()));
        assert_eq!(m.0, ty, "a send continued a message with another type");
        m.1.extend_from_slice(data);
        if flags.end_of_message {
            self.sent.extend(self.sending.take());
        }
    }

    /// One action from `op.b & 31`.
    fn act(&mut self, op: Op) {
        let whole = SendFlags::END_OF_MESSAGE;
        let piece = SendFlags::PARTIAL;
        let raw = SendFlags {
            end_of_message: true,
            disable_compression: true,
        };
        let state = self.s.state();
        // Sending is refused once the connection failed (or was aborted) or our Close went out.
        let can_send = self.s.failure().is_none() && self.our_close.is_none();
        let bin_len = match CHUNKS[usize::from(op.a & 15)] {
            usize::MAX => 0,
            n => n.min(self.send_budget),
        };
        if matches!(op.b & 31, 12 | 13 | 19 | 20) {
            self.send_budget -= bin_len;
        }
        match op.b & 31 {
            12 => {
                let _ = self.send(&vec![0x17; bin_len], MessageType::Binary, raw);
            }
            13 => {
                let text = "abcé".repeat(bin_len / 5);
                let _ = self.send(text.as_bytes(), MessageType::Text, whole);
            }
            14 => {
                let r = self.s.pong(b"unsolicited pong");
                assert_eq!(r.is_ok(), can_send, "pong in state {state:?}: {r:?}");
            }
            16 => {
                let _ = self.send("héllo €𝄞".as_bytes(), MessageType::Text, whole);
            }
            // A text message in pieces, split inside the euro sign.
            17 => {
                let _ = self.send(b"ab\xe2\x82", MessageType::Text, piece);
            }
            18 => {
                let _ = self.send(b"\xac!", MessageType::Text, whole);
            }
            19 => {
                let _ = self.send(&vec![0xa5; bin_len], MessageType::Binary, whole);
            }
            20 => {
                let _ = self.send(&vec![0x3c; bin_len], MessageType::Binary, piece);
            }
            21 => {
                let r = self.s.ping(b"ping");
                assert_eq!(r.is_ok(), can_send, "ping in state {state:?}: {r:?}");
            }
            22 => {
                let r = self.s.pong(b"");
                assert_eq!(r.is_ok(), can_send, "pong in state {state:?}: {r:?}");
            }
            23 => {
                let r = self.s.ping(&[7; MAX_CONTROL_PAYLOAD + 1]);
                assert!(r.is_err(), "a 126-byte ping was accepted");
            }
            24 | 25 => {
                let (code, reason) = if op.b & 31 == 24 {
                    (Some(CloseCode::NORMAL), "bye")
                } else {
                    (None, "")
                };
                let r = self.s.close(code, reason);
                assert_eq!(r.is_ok(), can_send || self.our_close.is_some() && self.s.failure().is_none(), "close() in {state:?}: {r:?}");
                if can_send && r.is_ok() {
                    self.our_close = Some((code, reason));
                    // The application's state moves with its own call.
                    let after = self.s.state();
                    let expected = match state {
                        State::Open => State::CloseSent,
                        State::CloseReceived => State::Closed,
                        s => s,
                    };
                    assert_eq!(after, expected, "close() in {state:?}");
                }
            }
            26 => {
                let r = self.s.close(Some(CloseCode::NO_STATUS), "");
                assert!(r.is_err(), "close with 1005 was accepted");
                let r = self.s.close(Some(CloseCode(3000)), &"x".repeat(124));
                assert!(r.is_err(), "a 124-byte close reason was accepted");
                let r = self.s.close(None, "reason without code");
                assert!(r.is_err(), "a close reason without a code was accepted");
            }
            27 => {
                if self.sending.is_none() {
                    let r = self.s.send(b"\xff", MessageType::Text, whole);
                    assert!(r.is_err(), "invalid UTF-8 text was accepted");
                }
            }
            28 => {
                // abort() (the application) and a transport failure both drop
                // unwritten output and release the transport at once; only
                // abort() changes the application's state by itself.
                if op.a & 1 == 0 {
                    self.s.abort();
                    let expected = if state == State::Closed {
                        State::Closed
                    } else {
                        State::Aborted
                    };
                    assert_eq!(self.s.state(), expected, "state after abort in {state:?}");
                } else {
                    self.s.transport_failed(op.a & 2 != 0, "fuzz");
                    assert_eq!(self.s.state(), state, "a transport failure changed the state by itself");
                }
                assert_eq!(self.s.transport_action(), TransportAction::Drop);
                assert!(!self.s.parses_input(), "still receiving after abort");
                assert!(
                    self.s.read_buf().is_empty(),
                    "read_buf() is not empty after abort"
                );
                assert!(
                    self.s.pending_output().is_empty(),
                    "output is pending right after abort"
                );
                self.aborted_at.get_or_insert(self.written.len());
            }
            // A message in pieces belongs to its sender: another sender is
            // refused and queues nothing; its owner goes on.
            2 | 3 => {
                let me = SenderId(u64::from(op.b & 1) + 1);
                let owner_busy = !self.s.may_send(me);
                let before = self.s.pending_output().len();
                let flags = if op.b & 31 == 2 { piece } else { whole };
                let r = self.s.send_with(me, b"pz", MessageType::Binary, flags, usize::MAX, |_, _| 0);
                if owner_busy {
                    assert!(r.is_err(), "another sender joined a message in pieces");
                    assert_eq!(self.s.pending_output().len(), before, "a refused send queued bytes");
                } else if r.is_ok() {
                    self.note_sent(b"pz", MessageType::Binary, flags);
                }
            }
            // Time passes (0-1000 ms): keep-alive may send a PING or PONG, or
            // abort when a PONG is overdue (dropping unwritten output).
            11 | 15 => {
                self.now += CHUNKS[usize::from(op.a & 15)].min(1000) as u64;
                let before = self.s.failure().is_some();
                if self.s.poll_timeout().is_some_and(|t| t <= self.now) {
                    self.s.handle_timeout(self.now);
                } else {
                    self.s.set_now(self.now);
                }
                if self.s.failure().is_some() && !before {
                    assert!(
                        self.s.failure().is_some_and(|e| {
                            let m = e.to_string();
                            m.contains("Pong") || m.contains("Close")
                        }),
                        "a timeout failed without its message: {:?}",
                        self.s.failure()
                    );
                    assert_eq!(self.s.transport_action(), TransportAction::Drop);
                    self.aborted_at.get_or_insert(self.written.len());
                }
            }
            29 => self.s.feed_eof(),
            30 => {
                let r = self.s.send(b"", MessageType::Close, whole);
                assert!(r.is_err(), "sending a Close as data was accepted");
            }
            31 => {
                let _ = self.s.transport_action();
                let _ = self.s.close_handshake_done();
                let _ = self.s.peer_close();
                let _ = self.s.is_drained();
                let _ = self.s.parses_input();
                let _ = self.s.delivery_ready();
                let _ = self.s.failure().map(|e| e.to_string());
            }
            _ => {}
        }
        if self.our_close.is_some() {
            let r = self.s.send(b"late", MessageType::Binary, whole);
            assert!(r.is_err(), "send after our Close was accepted");
        }
    }

    /// Consumes output: 0-3 all, 4 none, 5 one byte, 6 half, 7 all but one.
    fn consume(&mut self, how: u8) {
        let pending = self.s.pending_output();
        let n = match how {
            4 => 0,
            5 => pending.len().min(1),
            6 => pending.len() / 2,
            7 => pending.len().saturating_sub(1),
            _ => pending.len(),
        };
        if let Some(at) = self.aborted_at {
            assert!(
                pending.is_empty(),
                "{} bytes of output written after abort (at output byte {at}): {:02x?}",
                pending.len(),
                &pending[..pending.len().min(32)]
            );
        }
        self.written.extend_from_slice(&pending[..n]);
        self.s.consume_output(n);
    }

    /// The written bytes are a valid frame sequence for this role, and a peer
    /// receives from them exactly what was sent.
    fn check_output(&self) {
        let out = &self.written;
        let mut pos = 0;
        let mut in_message = false;
        let mut closed = false;
        while pos < out.len() {
            let (h, n) = match FrameHeader::decode(&out[pos..]) {
                Ok(Some(v)) => v,
                Ok(None) if self.aborted_at.is_some() => break,
                other => panic!("output at byte {pos}: {other:?}"),
            };
            let start = pos + n;
            let Some(end) = usize::try_from(h.payload_len)
                .ok()
                .and_then(|l| start.checked_add(l))
                .filter(|&e| e <= out.len())
            else {
                assert!(self.aborted_at.is_some(), "output ends inside a frame");
                break;
            };
            assert!(!closed, "a frame after our Close: {h:?}");
            let first_of_message = matches!(h.opcode, OpCode::Text | OpCode::Binary);
            let rsv_ok = h.rsv == 0 || (h.rsv == RSV1 && first_of_message && self.cfg.deflate.is_some());
            assert!(rsv_ok, "RSV bits {:03b} on a {:?} frame we sent", h.rsv, h.opcode);
            assert_eq!(
                h.mask.is_some(),
                self.role == Role::Client,
                "a {:?} sent {:?}",
                self.role,
                h
            );
            match h.opcode {
                OpCode::Close => {
                    let mut payload = out[start..end].to_vec();
                    if let Some(key) = h.mask {
                        sockweave_core::mask::apply_mask_bytewise(&mut payload, key, 0);
                    }
                    if let Err(e) = parse_close_payload(&payload) {
                        panic!("we sent an invalid Close payload {payload:02x?}: {e:?}");
                    }
                    closed = true;
                }
                OpCode::Ping | OpCode::Pong => {}
                OpCode::Text | OpCode::Binary => {
                    assert!(!in_message, "a new message inside a message");
                    in_message = !h.fin;
                }
                OpCode::Continuation => {
                    assert!(in_message, "a continuation frame outside a message");
                    in_message = !h.fin;
                }
            }
            pos = end;
        }
        self.check_peer();
    }

    /// Feeds what we wrote to a session in the other role and compares what
    /// it receives with what we sent.
    fn check_peer(&self) {
        if self.written.is_empty() && self.sent.is_empty() && self.our_close.is_none() {
            return;
        }
        let role = match self.role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        };
        let mut config = SessionConfig::new(role);
        config.deflate = self.cfg.deflate;
        let mut peer = Session::new(config, [0xa5; 32]);
        let mut buf = vec![0u8; RECV_MAX];
        let mut got: Vec<(MessageType, Vec<u8>)> = Vec::new();
        let mut partial: Option<(MessageType, Vec<u8>)> = None;
        let mut close: Option<(CloseCode, String)> = None;
        let mut pos = 0;
        loop {
            let n = peer.feed(&self.written[pos..]);
            pos += n;
            let mut progress = n > 0;
            loop {
                let r = match peer.receive(&mut buf) {
                    Ok(None) => match stable_none(&mut peer, &mut buf, self.cfg.deflate.is_some()) {
                        None => break,
                        Some(again) => again,
                    },
                    r => r,
                };
                match r {
                    Ok(Some(r)) if r.message_type == MessageType::Close => {
                        close = Some((
                            r.close_status.expect("a Close result has a status"),
                            r.close_status_description.unwrap_or_default(),
                        ));
                        progress = true;
                    }
                    Ok(Some(r)) => {
                        let m = partial.get_or_insert_with(|| (r.message_type, Vec::new()));
                        m.1.extend_from_slice(&buf[..r.count]);
                        if r.end_of_message {
                            got.extend(partial.take());
                        }
                        progress = true;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        assert!(peer.failure().is_none(), "the peer failed on what we sent: {e}");
                        break;
                    }
                }
            }
            if pos >= self.written.len() || !progress {
                break;
            }
        }
        if let Some(e) = peer.failure() {
            panic!("the peer failed on what we sent: {e}");
        }
        let complete = self.aborted_at.is_none();
        if complete {
            assert_eq!(pos, self.written.len(), "the peer did not take all we sent");
            assert_eq!(
                got.len(),
                self.sent.len(),
                "the peer received another number of messages"
            );
        } else {
            assert!(
                got.len() <= self.sent.len(),
                "the peer received more messages than we sent"
            );
        }
        for (i, (g, s)) in got.iter().zip(&self.sent).enumerate() {
            assert!(
                g == s,
                "message {i}: sent {:?} of {} bytes, the peer received {:?} of {} bytes",
                s.0,
                s.1.len(),
                g.0,
                g.1.len()
            );
        }
        if let (true, Some((code, reason))) = (complete, self.our_close) {
            let (got_code, got_reason) = close.expect("the peer did not receive our Close");
            assert_eq!(got_code, code.unwrap_or(CloseCode::NO_STATUS));
            assert_eq!(got_reason, reason);
        }
    }
}
