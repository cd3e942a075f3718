//! The close rules and the connection's life in the engine alone: the shared
//! `tests/vectors/lifecycle.json` on a simulated transport and virtual time,
//! then the rules the vectors cannot script (one receive at a time, senders,
//! bounds on queued output and deliveries).

#[path = "../../tests/vectors/lifecycle_runner.rs"]
mod lifecycle_runner;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use lifecycle_runner::{Face, Fate, Got};
use serde_json::Value;
use sockweave_core::frame::{FrameHeader, OpCode};
use sockweave_core::mask::apply_mask;
use sockweave_core::session::{
    MessageType, Role, SendFlags, SenderId, Session, SessionConfig, State, TransportAction,
};
use sockweave_core::{CloseCode, ErrorKind, Options};

/// The engine with what a backend would do around it, on virtual time.
struct Sim {
    s: Session,
    now: u64,
    /// Input the receive buffer could not take yet.
    unread: Vec<u8>,
    eof_pending: bool,
    peer_reading: bool,
    /// The one write a non-reading peer's transport holds.
    held: Vec<u8>,
    delivered: Vec<u8>,
    shut: bool,
    released: Option<Fate>,
    closing: bool,
}

impl Sim {
    /// Does everything possible without more input or time, as a backend's driver does.
    fn settle(&mut self) {
        loop {
            if self.released.is_some() {
                return;
            }
            let mut progress = false;
            if !self.unread.is_empty() {
                let n = self.s.feed(&self.unread);
                self.unread.drain(..n);
                progress |= n > 0;
            }
            if self.unread.is_empty() && self.eof_pending {
                self.eof_pending = false;
                self.s.feed_eof();
                progress = true;
            }
            if self.s.poll_timeout().is_some_and(|d| d <= self.now) {
                self.s.handle_timeout(self.now);
                progress = true;
            }
            let out = self.s.pending_output();
            if !out.is_empty() && !self.shut {
                if self.peer_reading {
                    self.delivered.extend_from_slice(out);
                    let n = out.len();
                    self.s.consume_output(n);
                    progress = true;
                } else if self.held.is_empty() {
                    self.held = out.to_vec();
                    let n = out.len();
                    self.s.consume_output(n);
                    progress = true;
                } else {
                    self.s.output_blocked();
                }
            }
            match self.s.transport_action() {
                TransportAction::Continue => {}
                TransportAction::ShutdownWrite => {
                    if !self.shut {
                        self.shut = true;
                        progress = true;
                    }
                }
                TransportAction::Close => {
                    self.shut = true;
                    self.released = Some(Fate::Closed);
                }
                TransportAction::Drop => {
                    self.released = Some(if self.shut { Fate::Closed } else { Fate::Dropped });
                }
            }
            if !progress {
                return;
            }
        }
    }
}

fn kind(e: sockweave_core::Error) -> String {
    e.code().to_owned()
}

impl Face for Sim {
    async fn start(role: &str, options: &Value) -> Self {
        let o: Options = if options.is_null() {
            Options::default()
        } else {
            serde_json::from_value(options.clone()).expect("options")
        };
        let role = if role == "client" {
            Role::Client
        } else {
            Role::Server
        };
        Sim {
            s: Session::new(SessionConfig::for_stream(role, &o), [3; 32]),
            now: 0,
            unread: Vec::new(),
            eof_pending: false,
            peer_reading: true,
            held: Vec::new(),
            delivered: Vec::new(),
            shut: false,
            released: None,
            closing: false,
        }
    }

    async fn peer(&mut self, bytes: &[u8]) {
        if self.released.is_none() {
            self.s.set_now(self.now);
            self.unread.extend_from_slice(bytes);
        }
        self.settle();
    }

    async fn peer_end(&mut self) {
        self.eof_pending = true;
        self.settle();
    }

    async fn peer_reset(&mut self) {
        if self.released.is_none() {
            self.s.transport_failed(true, "connection reset by peer");
        }
        self.settle();
    }

    async fn peer_reading(&mut self, on: bool) {
        self.peer_reading = on;
        if on {
            let held = std::mem::take(&mut self.held);
            self.delivered.extend_from_slice(&held);
        }
        self.settle();
    }

    async fn wait(&mut self, ms: u64) {
        let until = self.now + ms;
        while let Some(d) = self
            .s
            .poll_timeout()
            .filter(|&d| d <= until && self.released.is_none())
        {
            self.now = self.now.max(d);
            self.s.handle_timeout(self.now);
            self.settle();
        }
        self.now = until;
        self.s.set_now(until);
        self.settle();
    }

    async fn receive(&mut self, size: usize) -> Result<Got, String> {
        let mut buf = vec![0u8; size];
        let r = self.s.receive(&mut buf);
        self.settle();
        match r {
            Ok(Some(r)) if r.message_type == MessageType::Close => Ok(Got::Close {
                code: r.close_status.expect("a Close has a status").0,
                reason: r.close_status_description.unwrap_or_default(),
            }),
            Ok(Some(r)) => Ok(Got::Data {
                text: r.message_type == MessageType::Text,
                data: buf[..r.count].to_vec(),
                end: r.end_of_message,
            }),
            Ok(None) => Err("nothing to receive (a real receive would wait)".into()),
            Err(e) => Err(kind(e)),
        }
    }

    async fn send(&mut self, text: bool, data: &[u8], end: bool) -> Result<(), String> {
        let ty = if text {
            MessageType::Text
        } else {
            MessageType::Binary
        };
        let flags = SendFlags {
            end_of_message: end,
            disable_compression: false,
        };
        let r = self.s.send(data, ty, flags).map_err(kind);
        self.settle();
        r
    }

    async fn close_output(&mut self, code: Option<u16>, reason: &str) -> Result<(), String> {
        self.s.set_now(self.now);
        let r = self.s.close(code.map(CloseCode), reason).map_err(kind);
        self.settle();
        r
    }

    async fn close_start(&mut self, code: Option<u16>, reason: &str) {
        self.close_output(code, reason).await.expect("close");
        self.closing = true;
    }

    async fn close_done(&mut self) -> Option<Result<(), String>> {
        assert!(self.closing, "closeDone without close");
        self.s.poll_close().map(|r| r.map_err(kind))
    }

    async fn abort(&mut self) {
        self.s.abort();
        self.settle();
    }

    fn state(&self) -> String {
        format!("{:?}", self.s.state())
    }

    fn close_status(&self) -> Option<u16> {
        self.s.close_status().map(|c| c.0)
    }

    fn take_delivered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.delivered)
    }

    fn fate(&self) -> Fate {
        match (self.released, self.shut) {
            (Some(f), _) => f,
            (None, true) => Fate::WriteShut,
            (None, false) => Fate::Open,
        }
    }
}

/// Runs a future that never waits (the simulated face completes at once).
fn now_or_never<T>(f: impl Future<Output = T>) -> T {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the simulated face waited"),
    }
}

#[test]
fn lifecycle_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/lifecycle.json");
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let only = std::env::var("LIFECYCLE_ONLY").ok();
    let (n, failures) = now_or_never(lifecycle_runner::run_all::<Sim>(&vectors, only.as_deref()));
    println!("REPORT lifecycle.json: {n} cases on the engine");
    assert!(n > 0);
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

// ------------------------------------------------- rules the vectors cannot script

fn server() -> Session {
    Session::new(SessionConfig::new(Role::Server), [1; 32])
}

fn masked(op: OpCode, payload: &[u8]) -> Vec<u8> {
    let key = [9, 8, 7, 6];
    let (hb, n) = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: op,
        mask: Some(key),
        payload_len: payload.len() as u64,
    }
    .encode();
    let mut v = hb[..n].to_vec();
    let at = v.len();
    v.extend_from_slice(payload);
    apply_mask(&mut v[at..], key, 0);
    v
}

#[test]
fn one_receive_at_a_time() {
    let mut s = server();
    s.begin_receive().unwrap();
    let e = s.begin_receive().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    assert!(e.message().contains("only one receive"), "{e}");
    s.end_receive();
    s.begin_receive().unwrap();
}

#[test]
fn a_message_in_pieces_belongs_to_its_sender() {
    let (a, b) = (SenderId(1), SenderId(2));
    let mut s = server();
    let send = |s: &mut Session, who, data: &[u8], flags| {
        s.send_with(who, data, MessageType::Text, flags, usize::MAX, |_, _| 0)
    };
    send(&mut s, a, b"a1", SendFlags::PARTIAL).unwrap();
    assert!(s.may_send(a));
    assert!(!s.may_send(b));
    // Another sender is refused, whole message or piece; nothing of it is queued.
    let before = s.pending_output().len();
    for flags in [SendFlags::END_OF_MESSAGE, SendFlags::PARTIAL] {
        let e = send(&mut s, b, b"b", flags).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidState);
    }
    assert_eq!(s.pending_output().len(), before);
    assert_eq!(s.state(), State::Open);
    send(&mut s, a, b"a2", SendFlags::END_OF_MESSAGE).unwrap();
    // The message ended: anyone may send again, and whole messages never mix.
    assert!(s.may_send(b));
    send(&mut s, b, b"b", SendFlags::END_OF_MESSAGE).unwrap();
    send(&mut s, a, b"c", SendFlags::END_OF_MESSAGE).unwrap();
    let out = s.pending_output();
    assert_eq!(
        out,
        [
            &[0x01, 2][..],
            b"a1",
            &[0x80, 2],
            b"a2",
            &[0x81, 1],
            b"b",
            &[0x81, 1],
            b"c"
        ]
        .concat()
    );
}

#[test]
fn every_ping_is_answered_until_the_transport_refuses_output() {
    // PINGs arriving one byte at a time, in many reads, before the backend
    // writes (Autobahn 2.11): each gets its PONG, in order.
    let mut s = Session::new(
        SessionConfig::for_stream(Role::Server, &Options::default()),
        [1; 32],
    );
    let mut input = Vec::new();
    for i in 0..10u8 {
        input.extend(masked(OpCode::Ping, &[b'p', b'0' + i]));
    }
    for b in &input {
        assert_eq!(s.feed(core::slice::from_ref(b)), 1);
    }
    let want: Vec<u8> = (0..10u8).flat_map(|i| [0x8a, 2, b'p', b'0' + i]).collect();
    assert_eq!(s.pending_output(), &want[..]);

    // Once the transport refused the queue, the newest answer replaces the
    // waiting one instead of queueing behind it.
    s.output_blocked();
    let ping = masked(OpCode::Ping, b"pA");
    assert_eq!(s.feed(&ping), ping.len());
    let mut replaced = want[..want.len() - 4].to_vec();
    replaced.extend([0x8a, 2, b'p', b'A']);
    assert_eq!(s.pending_output(), &replaced[..]);
}

#[test]
fn a_ping_flood_against_a_peer_that_never_reads_stays_bounded() {
    let opts = Options {
        max_pending_output: 4096,
        ..Default::default()
    };
    let mut s = Session::new(SessionConfig::for_stream(Role::Server, &opts), [1; 32]);
    // Output is never written (the peer does not read): after a first PONG
    // that a transport took, the transport refuses every write, and every
    // newer PING replaces the one unwritten answer.
    let ping = masked(OpCode::Ping, &[7; 125]);
    let mut fed = 0usize;
    for i in 0..100_000 {
        let n = s.feed(&ping);
        assert_eq!(n, ping.len(), "input stopped at PING {i}");
        fed += n;
        if i == 0 {
            s.consume_output(10); // a transport took part of the first PONG
        }
        s.output_blocked();
    }
    assert!(fed > 12_000_000);
    assert!(
        s.pending_output().len() <= 2 * (2 + 125),
        "{}",
        s.pending_output().len()
    );

    // PONGs that cannot be replaced (the application's messages sit
    // between them) are bounded too: input stops once more than
    // max_pending_output bytes of them wait, and resumes once they are written.
    let mut s = Session::new(SessionConfig::for_stream(Role::Server, &opts), [1; 32]);
    let mut answered = 0;
    loop {
        s.send(b"m", MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .unwrap();
        if s.feed(&ping) == 0 {
            break;
        }
        answered += 1;
        assert!(answered < 10_000, "input never stopped");
    }
    assert_eq!(answered, 4096 / 127 + 1);
    assert!(s.read_buf().is_empty());
    let n = s.pending_output().len();
    s.consume_output(n);
    assert_eq!(s.feed(&ping), ping.len(), "and resumes once they were written");
}

#[test]
fn a_flood_of_empty_messages_is_bounded_by_the_receive_buffer() {
    let opts = Options {
        receive_buffer_size: 4096,
        ..Default::default()
    };
    let mut s = Session::new(SessionConfig::for_stream(Role::Server, &opts), [1; 32]);
    let empty = masked(OpCode::Text, b"");
    let mut taken = 0;
    for _ in 0..100_000 {
        let n = s.feed(&empty);
        if n < empty.len() {
            break;
        }
        taken += 1;
    }
    // Each queued delivery costs its bookkeeping against the 4 KiB buffer.
    assert!(taken < 4096 / 16, "{taken} empty messages queued");
    assert!(taken > 10);
    let mut buf = [0u8; 4];
    for _ in 0..taken {
        let r = s.receive(&mut buf).unwrap().unwrap();
        assert_eq!((r.count, r.end_of_message), (0, true));
    }
    assert_eq!(
        s.feed(&empty),
        empty.len(),
        "reading resumes once they were received"
    );
}

#[test]
fn dropping_the_application_answers_a_received_close_or_aborts() {
    // A Close received and not answered is answered with the peer's status.
    let mut s = server();
    let mut wire = masked(OpCode::Text, b"unread");
    wire.extend(masked(OpCode::Close, &[0x0f, 0xa0]));
    s.feed(&wire);
    s.release();
    assert_eq!(s.pending_output(), [0x88, 2, 0x0f, 0xa0]);
    assert_eq!(s.transport_action(), TransportAction::Continue);
    s.consume_output(4);
    assert_eq!(s.transport_action(), TransportAction::ShutdownWrite);
    // An open connection is aborted.
    let mut s = server();
    s.release();
    assert_eq!(s.transport_action(), TransportAction::Drop);
    // A close in progress goes on; what arrives meanwhile is dropped, not queued.
    let mut s = server();
    s.close(Some(CloseCode::NORMAL), "").unwrap();
    s.release();
    assert_eq!(s.transport_action(), TransportAction::Continue);
    let big = masked(OpCode::Binary, &[0; 60_000]);
    for _ in 0..10 {
        assert_eq!(s.feed(&big), big.len(), "data after release is not kept");
    }
    s.feed(&masked(OpCode::Close, &[0x03, 0xe8]));
    s.consume_output(4);
    assert_eq!(s.transport_action(), TransportAction::ShutdownWrite);
}

#[test]
fn the_close_timeout_says_when_unreceived_data_blocked_the_close() {
    let opts = Options {
        receive_buffer_size: 1024,
        close_timeout: sockweave_core::options::Millis::Finite(100),
        ..Default::default()
    };
    let mut s = Session::new(SessionConfig::for_stream(Role::Server, &opts), [1; 32]);
    s.set_now(0);
    s.close(Some(CloseCode::NORMAL), "").unwrap();
    let mut wire = masked(OpCode::Binary, &[5; 2000]);
    wire.extend(masked(OpCode::Close, &[0x03, 0xe8]));
    let n = s.feed(&wire);
    assert!(n < wire.len(), "the buffer filled");
    assert_eq!(s.poll_close(), None);
    let t = s.poll_timeout().unwrap();
    s.handle_timeout(t);
    let t = s.poll_timeout().unwrap();
    assert_eq!(t, 100);
    s.handle_timeout(t);
    let e = s.poll_close().unwrap().unwrap_err();
    assert!(e.message().contains("receive buffer is full"), "{e}");
    assert_eq!(s.transport_action(), TransportAction::Drop);
}

#[test]
fn answer_close_echoes_the_peer_status() {
    for (payload, echoed) in [(&[0x0b, 0xb8][..], 3000u16), (&[][..], 1000)] {
        let mut s = server();
        s.feed(&masked(OpCode::Close, payload));
        s.answer_close().unwrap();
        let out = s.pending_output();
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), echoed);
    }
    assert_eq!(
        server().answer_close().unwrap_err().kind(),
        ErrorKind::InvalidState
    );
}
