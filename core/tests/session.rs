//! Whole-session behaviour: two engines talking to each other, large frames,
//! many fragments, small receive buffers, the close handshake.

use sockweave_core::frame::{FrameHeader, OpCode};
use sockweave_core::mask::apply_mask;
use sockweave_core::session::{MessageType, Role, SendFlags, Session, SessionConfig, State, TransportAction};
use sockweave_core::{CloseCode, ErrorKind, Options};

fn session(role: Role, opts: &Options) -> Session {
    Session::new(SessionConfig::for_stream(role, opts), [42; 32])
}

/// Moves everything `from` has written into `to`, returning the byte count.
fn pump(from: &mut Session, to: &mut Session) -> usize {
    let out = from.pending_output().to_vec();
    from.consume_output(out.len());
    assert_eq!(to.feed(&out), out.len(), "receiver buffer full");
    out.len()
}

/// Receives whole messages with a buffer of `chunk` bytes, feeding `wire` as
/// the receive buffer allows (like a backend that reads only when there is room).
fn receive_all(rx: &mut Session, wire: &[u8], chunk: usize) -> Vec<(MessageType, Vec<u8>)> {
    let mut fed = 0;
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        match rx.receive(&mut buf).unwrap() {
            Some(r) => {
                assert!(r.count <= chunk);
                cur.extend_from_slice(&buf[..r.count]);
                if r.message_type == MessageType::Close {
                    out.push((MessageType::Close, Vec::new()));
                    return out;
                }
                if r.end_of_message {
                    out.push((r.message_type, std::mem::take(&mut cur)));
                }
            }
            None if fed < wire.len() => {
                let room = rx.read_buf();
                let n = room.len().min(wire.len() - fed).min(4093);
                assert!(n > 0, "engine stalled with unread input");
                room[..n].copy_from_slice(&wire[fed..fed + n]);
                rx.commit_read(n);
                fed += n;
            }
            None => return out,
        }
    }
}

fn masked_frame(opcode: OpCode, fin: bool, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let h = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let (hb, n) = h.encode();
    let mut v = hb[..n].to_vec();
    let start = v.len();
    v.extend_from_slice(payload);
    apply_mask(&mut v[start..], key, 0);
    v
}

#[test]
fn one_mib_masked_frame_decodes() {
    let payload: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let wire = masked_frame(OpCode::Binary, true, &payload, [0xde, 0xad, 0xbe, 0xef]);
    let mut server = session(Role::Server, &Options::default());
    let msgs = receive_all(&mut server, &wire, 64 * 1024);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, MessageType::Binary);
    assert!(msgs[0].1 == payload, "payload differs");
}

#[test]
fn ten_thousand_fragments_make_one_message() {
    let mut wire = Vec::new();
    let mut expect = Vec::new();
    for i in 0..10_000u32 {
        let piece = format!("{i},").into_bytes();
        expect.extend_from_slice(&piece);
        let op = if i == 0 {
            OpCode::Text
        } else {
            OpCode::Continuation
        };
        wire.extend(masked_frame(op, i == 9_999, &piece, i.to_be_bytes()));
        if i % 1000 == 0 {
            // Control frames may sit between fragments.
            wire.extend(masked_frame(OpCode::Ping, true, b"p", [1, 2, 3, 4]));
        }
    }
    let mut server = session(Role::Server, &Options::default());
    let msgs = receive_all(&mut server, &wire, 1 << 20);
    assert_eq!(msgs, vec![(MessageType::Text, expect)]);
    // Nothing was written meanwhile, and the transport never refused a
    // write: each of the 10 PINGs is answered, with a PONG carrying its payload.
    assert_eq!(server.pending_output(), [0x8A, 0x01, b'p'].repeat(10));
}

#[test]
fn small_buffer_receive_equals_whole_receive() {
    let mut client = session(Role::Client, &Options::default());
    let mut messages = Vec::new();
    for (i, len) in [0usize, 1, 125, 126, 1000, 65_535, 65_536, 300_000]
        .iter()
        .enumerate()
    {
        let data: Vec<u8> = (0..*len).map(|j| (j * 31 + i) as u8).collect();
        let text = i % 2 == 0;
        let data = if text {
            data.iter().map(|b| b'a' + b % 26).collect()
        } else {
            data
        };
        let ty = if text {
            MessageType::Text
        } else {
            MessageType::Binary
        };
        // Send some in pieces, some whole.
        if i % 3 == 0 && data.len() > 10 {
            let (a, b) = data.split_at(data.len() / 3);
            client.send(a, ty, SendFlags::PARTIAL).unwrap();
            client.send(b, ty, SendFlags::END_OF_MESSAGE).unwrap();
        } else {
            client.send(&data, ty, SendFlags::END_OF_MESSAGE).unwrap();
        }
        messages.push((ty, data));
    }
    let wire = client.pending_output().to_vec();
    for chunk in [1024, 1, 7, 1 << 20] {
        let mut server = session(Role::Server, &Options::default());
        assert_eq!(receive_all(&mut server, &wire, chunk), messages, "chunk {chunk}");
    }
}

#[test]
fn receive_buffer_bounds_memory_and_backpressures() {
    let opts = Options {
        receive_buffer_size: 4096,
        ..Default::default()
    };
    let mut client = session(Role::Client, &opts);
    let mut server = session(Role::Server, &opts);
    for _ in 0..100 {
        client
            .send(&[7u8; 1000], MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .unwrap();
    }
    let wire = client.pending_output().to_vec();
    // Without receiving, the server holds no more message data than its buffer:
    // only frame headers (8 bytes per 1000-byte frame) are dropped to make room.
    let taken = server.feed(&wire);
    let frames = taken.div_ceil(1008);
    assert!(taken - frames * 8 <= 4096, "took {taken}");
    assert!(server.read_buf().is_empty());
    // Receiving frees room, and everything arrives in order.
    let msgs = receive_all(&mut server, &wire[taken..], 4096);
    // The first messages were already buffered; receive_all only adds the rest.
    assert_eq!(msgs.len(), 100);
}

#[test]
fn close_handshake_both_ways() {
    let o = Options::default();
    let mut client = session(Role::Client, &o);
    let mut server = session(Role::Server, &o);
    client.close(Some(CloseCode::NORMAL), "done").unwrap();
    assert_eq!(client.state(), State::CloseSent);
    assert!(client
        .send(b"x", MessageType::Text, SendFlags::END_OF_MESSAGE)
        .is_err());
    pump(&mut client, &mut server);
    let mut buf = [0u8; 8];
    let r = server.receive(&mut buf).unwrap().unwrap();
    assert_eq!(r.message_type, MessageType::Close);
    assert_eq!(r.close_status, Some(CloseCode::NORMAL));
    assert_eq!(r.close_status_description.as_deref(), Some("done"));
    assert_eq!(server.state(), State::CloseReceived);
    // The server may still send before answering.
    server
        .send(b"last", MessageType::Text, SendFlags::END_OF_MESSAGE)
        .unwrap();
    server.close(Some(CloseCode::NORMAL), "").unwrap();
    assert_eq!(server.state(), State::Closed);
    assert_eq!(
        server.transport_action(),
        TransportAction::Continue,
        "the Close is not written yet"
    );
    pump(&mut server, &mut client);
    // The server ends its side first (RFC 6455 section 7.1.1), then waits for the client's end.
    assert_eq!(server.transport_action(), TransportAction::ShutdownWrite);
    server.feed_eof();
    assert_eq!(server.transport_action(), TransportAction::Close);
    let r = client.receive(&mut buf).unwrap().unwrap();
    assert_eq!(
        (r.message_type, &buf[..r.count]),
        (MessageType::Text, &b"last"[..])
    );
    let r = client.receive(&mut buf).unwrap().unwrap();
    assert_eq!(r.message_type, MessageType::Close);
    assert_eq!(client.state(), State::Closed);
    assert_eq!(client.close_status(), Some(CloseCode::NORMAL));
    assert_eq!(
        client.receive(&mut buf).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
}

#[test]
fn protocol_error_sends_close_and_keeps_earlier_messages() {
    let mut server = session(Role::Server, &Options::default());
    let mut wire = masked_frame(OpCode::Text, true, b"first", [9, 9, 9, 9]);
    wire.extend(masked_frame(OpCode::Text, true, b"\xff", [1, 1, 1, 1]));
    server.feed(&wire);
    let mut buf = [0u8; 16];
    let r = server.receive(&mut buf).unwrap().unwrap();
    assert_eq!(&buf[..r.count], b"first");
    let e = server.receive(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Faulted);
    assert_eq!(e.close_code(), Some(CloseCode::INVALID_PAYLOAD));
    assert_eq!(server.state(), State::Aborted);
    let out = server.pending_output();
    assert_eq!(&out[..4], &[0x88, out[1], 0x03, 0xEF]);
    // Later operations fail with the same cause.
    assert_eq!(server.receive(&mut buf).unwrap_err(), e);
    assert_eq!(
        server
            .send(b"x", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .unwrap_err(),
        e
    );
}

#[test]
fn eof_without_close_is_premature() {
    let mut server = session(Role::Server, &Options::default());
    server.feed(&masked_frame(OpCode::Text, false, b"part", [1, 2, 3, 4]));
    server.feed_eof();
    let mut buf = [0u8; 16];
    let r = server.receive(&mut buf).unwrap().unwrap();
    assert_eq!((r.count, r.end_of_message), (4, false));
    let e = server.receive(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely);
    assert_eq!(server.state(), State::Aborted);
}

#[test]
fn send_rules() {
    let mut c = session(Role::Client, &Options::default());
    c.send(b"ab", MessageType::Text, SendFlags::PARTIAL).unwrap();
    assert_eq!(
        c.send(b"x", MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidMessageType
    );
    // A code point split across pieces is fine; an invalid one is refused.
    c.send(b"\xe2\x82", MessageType::Text, SendFlags::PARTIAL)
        .unwrap();
    assert_eq!(
        c.send(b"x", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    c.send(b"\xac", MessageType::Text, SendFlags::END_OF_MESSAGE)
        .unwrap();
    assert!(c.ping(&[0; 126]).is_err());
    assert!(c.close(Some(CloseCode(1005)), "").is_err());
    assert!(c.close(Some(CloseCode::NORMAL), &"x".repeat(124)).is_err());
    assert!(c
        .send(b"x", MessageType::Close, SendFlags::END_OF_MESSAGE)
        .is_err());
    // Client frames are masked with fresh keys.
    let mut s = session(Role::Server, &Options::default());
    let n = pump(&mut c, &mut s);
    assert!(n > 0);
    let mut buf = [0u8; 8];
    let r = s.receive(&mut buf).unwrap().unwrap();
    assert_eq!(&buf[..r.count], "ab€".as_bytes());
}

#[test]
fn data_after_close_is_ignored() {
    let mut server = session(Role::Server, &Options::default());
    let mut wire = masked_frame(OpCode::Close, true, &[0x03, 0xE8], [5, 6, 7, 8]);
    wire.extend(masked_frame(OpCode::Text, true, b"late", [5, 6, 7, 8]));
    assert_eq!(server.feed(&wire), wire.len());
    let mut buf = [0u8; 8];
    assert_eq!(
        server.receive(&mut buf).unwrap().unwrap().message_type,
        MessageType::Close
    );
    assert!(server.receive(&mut buf).is_err());
}

#[test]
fn keep_alive_ping_pong_through_two_sessions() {
    let opts = Options {
        keep_alive_interval: Some(sockweave_core::options::Millis::Finite(100)),
        keep_alive_timeout: Some(sockweave_core::options::Millis::Finite(50)),
        ..Default::default()
    };
    let mut client = session(Role::Client, &opts);
    let mut server = session(Role::Server, &Options::default());
    assert_eq!(client.poll_timeout(), Some(100));
    client.handle_timeout(100);
    // A PING with token 1 went out; the server answers it by itself.
    pump(&mut client, &mut server);
    assert_eq!(client.poll_timeout(), Some(150));
    client.set_now(120);
    pump(&mut server, &mut client);
    assert_eq!(client.poll_timeout(), Some(220), "the PONG cleared the PING");
    client.handle_timeout(220);
    pump(&mut client, &mut server);
    // The server does not answer this time (its output is dropped).
    let lost = server.pending_output().len();
    server.consume_output(lost);
    client.handle_timeout(269);
    assert_eq!(client.transport_action(), TransportAction::Continue);
    client.handle_timeout(270);
    // The transport goes at once; the application learns it from its next call.
    assert_eq!(client.transport_action(), TransportAction::Drop);
    assert_eq!(client.state(), State::Open);
    let e = client.receive(&mut [0u8; 4]).unwrap_err();
    assert_eq!(e.message(), sockweave_core::keepalive::PONG_TIMEOUT_MESSAGE);
    assert_eq!(client.state(), State::Aborted);
}

/// Like `receive_all`, but whenever the engine allows it the payload goes
/// straight into the receive buffer (`direct_payload_len` + `receive_read`),
/// in pieces of awkward sizes so unmasking resumes mid-key.
fn receive_all_direct(rx: &mut Session, wire: &[u8], chunk: usize) -> (Vec<(MessageType, Vec<u8>)>, usize) {
    let mut fed = 0;
    let mut direct_bytes = 0;
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let r = match rx.receive(&mut buf).unwrap() {
            Some(r) => r,
            None if fed == wire.len() => return (out, direct_bytes),
            None => {
                let direct = rx.direct_payload_len().min(chunk);
                if direct > 0 {
                    let n = direct.min(wire.len() - fed).min(3001);
                    buf[..n].copy_from_slice(&wire[fed..fed + n]);
                    fed += n;
                    direct_bytes += n;
                    rx.receive_read(&mut buf[..n]).unwrap()
                } else {
                    let room = rx.read_buf();
                    let n = room.len().min(wire.len() - fed).min(1021);
                    room[..n].copy_from_slice(&wire[fed..fed + n]);
                    rx.commit_read(n);
                    fed += n;
                    continue;
                }
            }
        };
        cur.extend_from_slice(&buf[..r.count]);
        if r.end_of_message {
            out.push((r.message_type, std::mem::take(&mut cur)));
        }
    }
}

#[test]
fn payload_read_straight_into_the_receive_buffer_equals_a_buffered_receive() {
    let opts = Options::default();
    // Text with 2-, 3- and 4-byte characters, so pieces split characters too.
    let text: String = "añ€𝄞 ".repeat(20_000);
    let binary: Vec<u8> = (0..300_001u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut wire = Vec::new();
    wire.extend(masked_frame(
        OpCode::Text,
        false,
        &text.as_bytes()[..100_003],
        [1, 2, 3, 4],
    ));
    wire.extend(masked_frame(OpCode::Ping, true, b"between", [9, 9, 9, 9]));
    wire.extend(masked_frame(
        OpCode::Continuation,
        true,
        &text.as_bytes()[100_003..],
        [5, 6, 7, 8],
    ));
    wire.extend(masked_frame(
        OpCode::Binary,
        true,
        &binary,
        [0xde, 0xad, 0xbe, 0xef],
    ));

    let mut buffered = session(Role::Server, &opts);
    let expected = receive_all(&mut buffered, &wire, 65_536);
    let mut rx = session(Role::Server, &opts);
    let (got, direct) = receive_all_direct(&mut rx, &wire, 65_536);
    assert_eq!(got, expected);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, text.as_bytes());
    assert_eq!(got[1].1, binary);
    // Most of the payload took the direct path, and the PING between the
    // fragments was still answered.
    assert!(direct > wire.len() * 3 / 4, "{direct} of {} bytes", wire.len());
    assert_eq!(rx.pending_output(), buffered.pending_output());
    assert!(!rx.pending_output().is_empty());
}

#[test]
fn payload_read_straight_into_the_buffer_is_checked_like_any_other() {
    let opts = Options::default();
    let mut bad = "ok ".repeat(10_000).into_bytes();
    bad[20_001] = 0xff;
    let wire = masked_frame(OpCode::Text, true, &bad, [3, 1, 4, 1]);
    let mut rx = session(Role::Server, &opts);
    let room = rx.read_buf();
    room[..100].copy_from_slice(&wire[..100]);
    rx.commit_read(100);
    let mut buf = vec![0u8; 65_536];
    let first = rx.receive(&mut buf).unwrap().unwrap();
    assert!(!first.end_of_message);
    let direct = rx.direct_payload_len();
    assert_eq!(direct, bad.len() - first.count);
    let n = direct.min(buf.len());
    buf[..n].copy_from_slice(&wire[100..100 + n]);
    let e = rx.receive_read(&mut buf[..n]).unwrap_err();
    assert_eq!(e.close_code(), Some(CloseCode::INVALID_PAYLOAD));
    assert_eq!(rx.state(), State::Aborted);
    assert_eq!(rx.direct_payload_len(), 0);

    // Nothing goes direct while other input is buffered, in a control frame,
    // or in a compressed message; reading past the frame is refused.
    let mut rx = session(Role::Server, &opts);
    let two = [
        masked_frame(OpCode::Binary, true, &[7; 50_000], [1; 4]),
        masked_frame(OpCode::Binary, true, &[8; 10], [1; 4]),
    ]
    .concat();
    let room = rx.read_buf();
    room[..20].copy_from_slice(&two[..20]);
    rx.commit_read(20);
    rx.receive(&mut buf).unwrap().unwrap();
    assert_eq!(rx.direct_payload_len(), 50_000 - (20 - 8));
    let room = rx.read_buf();
    room[..1].copy_from_slice(&two[20..21]);
    rx.commit_read(1);
    assert_eq!(
        rx.direct_payload_len(),
        0,
        "a buffered byte is waiting to be taken"
    );
    let mut big = vec![0u8; 60_000];
    rx.receive(&mut big).unwrap().unwrap();
    let left = rx.direct_payload_len();
    assert_eq!(left, 50_000 - 21 + 8);
    let e = rx.receive_read(&mut big[..left + 1]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Faulted);
}
