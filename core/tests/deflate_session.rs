//! permessage-deflate through two sessions: what one compresses the other
//! inflates, at every negotiated window, with and without context takeover.

use sockweave_core::deflate::DeflateParams;
use sockweave_core::frame::{FrameHeader, RSV1};
use sockweave_core::session::{MessageType, Role, SendFlags, Session, SessionConfig};
use sockweave_core::{CloseCode, ErrorKind, Options};

fn pair(p: DeflateParams, opts: &Options) -> (Session, Session) {
    let mut c = SessionConfig::for_stream(Role::Client, opts);
    c.deflate = Some(p);
    let mut s = SessionConfig::for_stream(Role::Server, opts);
    s.deflate = Some(p);
    (Session::new(c, [1; 32]), Session::new(s, [2; 32]))
}

fn params(client_bits: u8, server_bits: u8, no_takeover: bool) -> DeflateParams {
    DeflateParams {
        client_max_window_bits: client_bits,
        server_max_window_bits: server_bits,
        client_no_context_takeover: no_takeover,
        server_no_context_takeover: no_takeover,
    }
}

/// Sends `msgs` from `a` to `b` and receives them with a buffer of `chunk` bytes.
fn transfer(
    a: &mut Session,
    b: &mut Session,
    msgs: &[(MessageType, Vec<u8>, bool)],
    chunk: usize,
) -> Vec<u8> {
    for (ty, data, disable) in msgs {
        let flags = SendFlags {
            end_of_message: true,
            disable_compression: *disable,
        };
        a.send(data, *ty, flags).unwrap();
    }
    let wire = a.pending_output().to_vec();
    a.consume_output(wire.len());
    let mut fed = 0;
    let mut buf = vec![0u8; chunk];
    for (ty, data, _) in msgs {
        let mut got = Vec::new();
        loop {
            match b.receive(&mut buf).unwrap() {
                Some(r) => {
                    assert_eq!(r.message_type, *ty);
                    got.extend_from_slice(&buf[..r.count]);
                    if r.end_of_message {
                        break;
                    }
                }
                None => {
                    assert!(fed < wire.len(), "message incomplete");
                    fed += b.feed(&wire[fed..]);
                }
            }
        }
        assert!(got == *data, "message of {} bytes differs", data.len());
    }
    wire
}

fn corpus() -> Vec<(MessageType, Vec<u8>, bool)> {
    let json = r#"{"user":"ada","text":"hello there, how are you?","ts":1700000000}"#.repeat(40);
    let mut rnd = Vec::new();
    let mut x = 0x1234_5678u32;
    for _ in 0..70_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        rnd.push(x as u8);
    }
    vec![
        (MessageType::Text, json.clone().into_bytes(), false),
        (MessageType::Binary, Vec::new(), false),
        (MessageType::Text, b"x".to_vec(), false),
        (MessageType::Binary, rnd, false),
        (MessageType::Text, "déjà vu ".repeat(20_000).into_bytes(), false),
        (MessageType::Text, json.into_bytes(), true),
        (MessageType::Binary, vec![0u8; 300_000], false),
    ]
}

#[test]
fn every_window_both_directions_any_buffer() {
    for bits in [8u8, 9, 12, 15] {
        for no_takeover in [false, true] {
            let (mut client, mut server) = pair(params(bits, bits, no_takeover), &Options::default());
            for chunk in [7usize, 1024, 1 << 20] {
                transfer(&mut client, &mut server, &corpus(), chunk);
                transfer(&mut server, &mut client, &corpus(), chunk);
            }
        }
    }
}

#[test]
fn compression_shrinks_and_rsv1_marks_only_compressed_messages() {
    let (mut client, mut server) = pair(params(15, 15, false), &Options::default());
    let text = "the same words again and again ".repeat(100).into_bytes();
    let wire = transfer(
        &mut client,
        &mut server,
        &[(MessageType::Text, text.clone(), false)],
        4096,
    );
    assert!(wire.len() < text.len() / 10, "{} bytes on the wire", wire.len());
    let (h, _) = FrameHeader::decode(&wire).unwrap().unwrap();
    assert_eq!(h.rsv, RSV1);
    let wire = transfer(
        &mut client,
        &mut server,
        &[(MessageType::Text, text.clone(), true)],
        4096,
    );
    let (h, _) = FrameHeader::decode(&wire).unwrap().unwrap();
    assert_eq!(h.rsv, 0);
    assert_eq!(h.payload_len as usize, text.len());
    // The context survived the uncompressed message: the next copy is tiny.
    let wire = transfer(
        &mut client,
        &mut server,
        &[(MessageType::Text, text.clone(), false)],
        4096,
    );
    assert!(
        wire.len() < text.len() / 50,
        "{} bytes with context takeover",
        wire.len()
    );
}

#[test]
fn fragmented_compressed_send() {
    let (mut client, mut server) = pair(params(10, 10, false), &Options::default());
    let whole: Vec<u8> = "fragment ".repeat(5000).into_bytes();
    let (a, rest) = whole.split_at(1000);
    let (b, c) = rest.split_at(20_000);
    client.send(a, MessageType::Text, SendFlags::PARTIAL).unwrap();
    // The first piece decides: asking to disable compression later changes nothing.
    client
        .send(
            b,
            MessageType::Text,
            SendFlags {
                end_of_message: false,
                disable_compression: true,
            },
        )
        .unwrap();
    client
        .send(c, MessageType::Text, SendFlags::END_OF_MESSAGE)
        .unwrap();
    let wire = client.pending_output().to_vec();
    server.feed(&wire);
    let mut buf = vec![0u8; 333];
    let mut got = Vec::new();
    loop {
        let r = server.receive(&mut buf).unwrap().unwrap();
        got.extend_from_slice(&buf[..r.count]);
        if r.end_of_message {
            break;
        }
    }
    assert_eq!(got, whole);
}

#[test]
fn decompression_bomb_closes_1009() {
    let opts = Options {
        max_message_size: 100_000,
        ..Options::default()
    };
    let (mut client, mut server) = pair(params(15, 15, false), &opts);
    // 10 MB of zeros compress to about 10 KB: under every wire limit.
    client
        .send(
            &vec![0u8; 10_000_000],
            MessageType::Binary,
            SendFlags::END_OF_MESSAGE,
        )
        .unwrap();
    let wire = client.pending_output().to_vec();
    assert!(wire.len() < 100_000);
    server.feed(&wire);
    let mut buf = vec![0u8; 64 * 1024];
    let err = loop {
        match server.receive(&mut buf) {
            Ok(Some(_)) => {}
            Ok(None) => panic!("stalled"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::Faulted);
    assert_eq!(err.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
    let out = server.pending_output();
    assert_eq!(&out[..4], &[0x88, out[1], 0x03, 0xF1]);
}

#[test]
fn invalid_compressed_data_closes_1007() {
    let mut server = {
        let mut s = SessionConfig::for_stream(Role::Server, &Options::default());
        s.deflate = Some(params(15, 15, false));
        Session::new(s, [0; 32])
    };
    // A masked, RSV1 frame whose payload is not deflate (block type 3 is invalid).
    let payload = [0xFFu8, 0xFF, 0xFF];
    let h = FrameHeader {
        fin: true,
        rsv: RSV1,
        opcode: sockweave_core::frame::OpCode::Binary,
        mask: Some([0; 4]),
        payload_len: 3,
    };
    let (hb, n) = h.encode();
    let mut wire = hb[..n].to_vec();
    wire.extend_from_slice(&payload);
    server.feed(&wire);
    let e = server.receive(&mut [0u8; 64]).unwrap_err();
    assert_eq!(e.close_code(), Some(CloseCode::INVALID_PAYLOAD));
}

#[test]
fn rsv1_without_deflate_or_on_continuation_is_1002() {
    let (_, mut server) = pair(params(15, 15, false), &Options::default());
    let h = FrameHeader {
        fin: false,
        rsv: 0,
        opcode: sockweave_core::frame::OpCode::Binary,
        mask: Some([0; 4]),
        payload_len: 0,
    };
    let c = FrameHeader {
        fin: true,
        rsv: RSV1,
        opcode: sockweave_core::frame::OpCode::Continuation,
        mask: Some([0; 4]),
        payload_len: 0,
    };
    let mut wire = h.encode().0[..6].to_vec();
    wire.extend_from_slice(&c.encode().0[..6]);
    server.feed(&wire);
    let e = server.receive(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.close_code(), Some(CloseCode::PROTOCOL_ERROR));
}

fn client_with_deflate() -> Session {
    let mut c = SessionConfig::for_stream(Role::Client, &Options::default());
    c.deflate = Some(params(15, 15, false));
    Session::new(c, [0; 32])
}

#[test]
fn a_close_behind_an_unfinished_compressed_message_is_delivered() {
    // Found by the session fuzzer: a compressed message that never ends, then a Close.
    let mut s = client_with_deflate();
    s.feed(&[0x41, 0x01, 0x00, 0x88, 0x02, 0x03, 0xe8]);
    let mut buf = [0u8; 16];
    let mut results = Vec::new();
    loop {
        match s.receive(&mut buf).unwrap() {
            Some(r) => {
                let close = r.message_type == MessageType::Close;
                results.push(r);
                if close {
                    break;
                }
            }
            None => panic!("receive waited although a Close was ready: {results:?}"),
        }
    }
    assert_eq!(results.last().unwrap().close_status, Some(CloseCode::NORMAL));
}

#[test]
fn a_final_deflate_block_ends_the_stream_and_the_next_message_starts_anew() {
    // RFC 7692 section 7.2.3.3's "Hello" with BFINAL set, twice: each message is
    // its own deflate stream.
    let mut s = client_with_deflate();
    let frame = [0xc1, 0x07, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    s.feed(&frame);
    s.feed(&frame);
    let mut buf = [0u8; 16];
    for _ in 0..2 {
        let r = s.receive(&mut buf).unwrap().expect("message");
        assert_eq!((&buf[..r.count], r.end_of_message), (&b"Hello"[..], true));
    }
    s.feed_eof();
    assert_eq!(
        s.receive(&mut buf).unwrap_err().kind(),
        ErrorKind::ConnectionClosedPrematurely
    );
}
