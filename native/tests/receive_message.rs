//! `WebSocket::receive_message`: whole messages read into buffers of their
//! own size, over an in-memory peer (`common::peer`).

mod common;

use std::time::Duration;

use common::frames::{frame, MASK};
use common::heap;
use common::peer::{pair, raw};
use sockweave::{CloseCode, DeflateOptions, ErrorKind, Message, MessageType, Options, SendFlags, State};
use tokio::io::AsyncWriteExt;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

/// The heap is counted for the whole process: tests here run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn whole_messages_of_every_size_arrive_in_order_then_none_after_the_close() {
    let _serial = SERIAL.lock().await;
    for deflate in [false, true] {
        let deflate = deflate.then(DeflateOptions::default);
        let opts = Options {
            dangerous_deflate_options: deflate,
            ..Options::default()
        };
        let (client, mut server) = pair(opts.clone(), opts);
        let sizes = [0usize, 1, 16, 125, 126, 65_535, 65_536, 200 * 1024 + 17, 3 << 20];
        let sender = tokio::spawn(async move {
            for (i, &n) in sizes.iter().enumerate() {
                let data = pattern(n);
                // Odd messages in pieces of 1000 bytes, the others whole.
                if i % 2 == 1 && n > 1000 {
                    let mut chunks = data.chunks(1000).peekable();
                    while let Some(c) = chunks.next() {
                        let flags = SendFlags {
                            end_of_message: chunks.peek().is_none(),
                            disable_compression: false,
                        };
                        client.send(c, MessageType::Binary, flags).await.unwrap();
                    }
                } else {
                    client
                        .send(&data, MessageType::Binary, SendFlags::END_OF_MESSAGE)
                        .await
                        .unwrap();
                }
            }
            client
                .send(b"h\xC3\xA9llo", MessageType::Text, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            client.close(Some(CloseCode(4001)), "done").await.unwrap();
            client
        });
        for &n in &sizes {
            let msg = server.receive_message().await.unwrap().unwrap();
            assert_eq!(msg, Message::Binary(pattern(n)), "message of {n} bytes");
            let Message::Binary(b) = msg else { unreachable!() };
            // Read into a buffer of its own size, not a growing one.
            assert!(
                b.capacity() <= (n * 2).max(8),
                "{n} bytes in a buffer of {}",
                b.capacity()
            );
        }
        assert_eq!(
            server.receive_message().await.unwrap(),
            Some(Message::Text("héllo".into()))
        );
        // The Close: None, answered with the same status.
        assert_eq!(server.receive_message().await.unwrap(), None);
        assert_eq!(server.close_status(), Some(CloseCode(4001)));
        assert_eq!(server.state(), State::Closed);
        let client = sender.await.unwrap();
        assert_eq!(client.state(), State::Closed);
        assert_eq!(client.close_status(), Some(CloseCode(4001)));
    }
}

#[tokio::test]
async fn a_dropped_receive_message_loses_nothing_and_keeps_the_slot_only_mid_message() {
    let _serial = SERIAL.lock().await;
    let (mut ws, mut peer) = raw(Options {
        is_server: true,
        ..Options::default()
    });
    // Nothing arrived: a dropped receive_message gives the slot back.
    assert!(
        tokio::time::timeout(Duration::from_millis(20), ws.receive_message())
            .await
            .is_err()
    );
    let mut buf = [0u8; 8];
    peer.write_all(&frame(0x1, true, b"first", Some(MASK)))
        .await
        .unwrap();
    let r = ws.receive(&mut buf).await.unwrap();
    assert_eq!(&buf[..r.count], b"first");

    // The first piece of a message arrives, then the future is dropped.
    peer.write_all(&frame(0x2, false, b"abc", Some(MASK)))
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(50), ws.receive_message())
            .await
            .is_err()
    );
    // The message is partly taken: a piecewise receive may not take the rest.
    let err = ws.receive(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    peer.write_all(&frame(0x0, true, b"def", Some(MASK)))
        .await
        .unwrap();
    assert_eq!(
        ws.receive_message().await.unwrap(),
        Some(Message::Binary(b"abcdef".to_vec()))
    );
    // And the slot went back with the end of the message.
    peer.write_all(&frame(0x2, true, b"xyz", Some(MASK)))
        .await
        .unwrap();
    let r = ws.receive(&mut buf).await.unwrap();
    assert_eq!((&buf[..r.count], r.end_of_message), (&b"xyz"[..], true));
}

#[tokio::test]
async fn a_huge_announced_frame_with_little_data_allocates_little() {
    let _serial = SERIAL.lock().await;
    let (mut ws, mut peer) = raw(Options {
        is_server: true,
        max_message_size: 1 << 30,
        max_frame_size: 1 << 30,
        ..Options::default()
    });
    // A header announcing 1 GiB, then 10 bytes of it.
    let mut f = frame(0x2, true, &[], Some(MASK));
    f[1] = 0x80 | 127;
    f.truncate(2);
    f.extend_from_slice(&(1u64 << 30).to_be_bytes());
    f.extend_from_slice(&MASK);
    f.extend_from_slice(&[0u8; 10]);
    let before = heap::live();
    heap::reset_peak();
    peer.write_all(&f).await.unwrap();
    let r = tokio::time::timeout(Duration::from_millis(100), ws.receive_message()).await;
    assert!(r.is_err(), "{r:?}");
    let grew = heap::peak().saturating_sub(before);
    // The receive buffer and at most MAX_ROOM_AHEAD (256 KiB) of message room.
    assert!(
        grew < 400 << 10,
        "the heap grew by {grew} bytes for 10 bytes of a 1 GiB frame"
    );
    assert_eq!(ws.state(), State::Open);
}

#[tokio::test]
async fn an_oversized_message_fails_with_1009_and_a_second_receive_is_refused() {
    let (client, mut server) = pair(
        Options::default(),
        Options {
            max_message_size: 1000,
            ..Options::default()
        },
    );
    let send = tokio::spawn(async move {
        let _ = client
            .send(&pattern(1001), MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .await;
        client
    });
    let err = server.receive_message().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Faulted, "{err}");
    assert_eq!(err.close_code(), Some(CloseCode::MESSAGE_TOO_BIG), "{err}");
    let client = send.await.unwrap();
    let mut buf = [0u8; 16];
    let r = client.receive(&mut buf).await.unwrap();
    assert_eq!(r.message_type, MessageType::Close);
    assert_eq!(r.close_status, Some(CloseCode::MESSAGE_TOO_BIG));
}
