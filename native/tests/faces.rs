//! The idiomatic faces of a WebSocket (`Stream` and `Sink` of `Message`,
//! `split`) and the cancellation rules of `receive` and `send` documented in
//! `native/src/websocket.rs`.

mod common;

use std::time::Duration;

use common::servers::receive_message;
use common::servers::serve_one;
use common::{bounded, echo, echo_server, listen, peer};
use futures_util::{SinkExt, StreamExt};
use sockweave::{
    accept, ClientWebSocket, ClientWebSocketOptions, CloseCode, Message, MessageType, Options, SendFlags,
    State, WebSocket,
};
use tokio::sync::{mpsc, oneshot};

async fn client(port: u16, options: ClientWebSocketOptions) -> WebSocket {
    let mut ws = ClientWebSocket::with_options(options);
    ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    ws.into_websocket().unwrap()
}

/// A client connected in memory to a server that sends what it is told to,
/// piece by piece, and when the channel closes, echoes until the client's Close.
fn puppet() -> (
    WebSocket,
    mpsc::UnboundedSender<(Vec<u8>, MessageType, SendFlags)>,
) {
    let (client, server) = peer::pair(Options::default(), Options::default());
    let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<u8>, MessageType, SendFlags)>();
    tokio::spawn(async move {
        while let Some((data, ty, flags)) = rx.recv().await {
            server.send(&data, ty, flags).await.unwrap();
        }
        echo(&server).await;
    });
    (client, tx)
}

#[tokio::test]
async fn stream_and_sink_carry_whole_messages() {
    bounded(async {
        let port = echo_server(Options::default()).await;
        let mut ws = client(port, Default::default()).await;

        SinkExt::send(&mut ws, Message::Text("hello".into()))
            .await
            .unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Text("hello".into()));

        SinkExt::send(&mut ws, Message::Binary(vec![0, 1, 2, 255]))
            .await
            .unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::Binary(vec![0, 1, 2, 255])
        );

        // Several fed, one flush; then a batch with send_all.
        ws.feed(Message::from("one")).await.unwrap();
        ws.feed(Message::from(vec![2u8; 3])).await.unwrap();
        ws.feed(Message::from(String::from("three"))).await.unwrap();
        ws.flush().await.unwrap();
        let mut batch = futures_util::stream::iter(
            (0..20).map(|i| Ok::<_, sockweave::Error>(Message::Text(format!("batch {i}")))),
        );
        ws.send_all(&mut batch).await.unwrap();

        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Text("one".into()));
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(vec![2; 3]));
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Text("three".into()));
        for i in 0..20 {
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                Message::Text(format!("batch {i}"))
            );
        }

        // A message far larger than one read is assembled whole (the echo server
        // sends it back in the pieces it received it in).
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        SinkExt::send(&mut ws, Message::Binary(big.clone()))
            .await
            .unwrap();
        match ws.next().await.unwrap().unwrap() {
            Message::Binary(b) => assert!(b == big, "the large message changed ({} bytes)", b.len()),
            other => panic!("expected binary, got {:?}", other.message_type()),
        }
        let text = "ü".repeat(50_000);
        SinkExt::send(&mut ws, Message::Text(text.clone())).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Text(text));

        // Closing the sink sends Close 1000; the stream ends with the server's answer.
        SinkExt::close(&mut ws).await.unwrap();
        assert!(ws.next().await.is_none());
        assert_eq!(ws.state(), State::Closed);
        assert_eq!(ws.close_status(), Some(CloseCode::NORMAL));
    })
    .await;
}

#[tokio::test]
async fn the_stream_ends_after_the_peers_close_and_answers_it() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept(tcp, &Options::default()).await.unwrap();
            ws.send(b"a", MessageType::Text, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            ws.send(b"b", MessageType::Binary, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            // close() returns once the client's answer arrived.
            ws.close(Some(CloseCode::GOING_AWAY), "bye").await.unwrap();
            (ws.state(), ws.close_status())
        });
        let mut ws = client(port, Default::default()).await;
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Text("a".into()));
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(b"b".to_vec()));
        assert!(
            ws.next().await.is_none(),
            "the stream goes on after the peer's Close"
        );
        assert_eq!(ws.close_status(), Some(CloseCode::GOING_AWAY));
        assert_eq!(ws.close_status_description().as_deref(), Some("bye"));
        // The Stream answered the Close with the same status.
        let (state, status) = server.await.unwrap();
        assert_eq!(state, State::Closed);
        assert_eq!(status, Some(CloseCode::GOING_AWAY));
        assert_eq!(ws.state(), State::Closed);
    })
    .await;
}

const EACH_WAY: usize = 1000;

fn numbered(prefix: &str, i: usize) -> String {
    // Sizes vary so some messages span several reads.
    format!("{prefix}{i}:{}", "x".repeat((i * 37) % 700))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_halves_carry_a_thousand_messages_each_way_concurrently() {
    bounded(async {
        let (port, server) = serve_one(move |tcp| async move {
            let ws = accept(tcp, &Options::default()).await.unwrap();
            let (mut read, mut write) = ws.split();
            // The server reads with the Stream and writes with the Sink.
            let reader = tokio::spawn(async move {
                for i in 0..EACH_WAY {
                    let m = read.next().await.unwrap().unwrap();
                    assert_eq!(m, Message::Text(numbered("c", i)), "client message {i}");
                }
                // Then the client's Close: the stream ends and answers it.
                assert!(read.next().await.is_none());
                read
            });
            let writer = tokio::spawn(async move {
                for i in 0..EACH_WAY {
                    SinkExt::send(&mut write, Message::Text(numbered("s", i)))
                        .await
                        .unwrap();
                }
                write
            });
            let write = writer.await.unwrap();
            let read = reader.await.unwrap();
            // Keep the halves until the answer to the Close is written: dropping them
            // at once can discard it (see dropping_the_socket_after_its_stream_ended_...).
            read.websocket().finished().await;
            (read.websocket().state(), write.websocket().close_status())
        })
        .await;

        let ws = client(port, Default::default()).await;
        let (read, write) = ws.split();
        // The client reads with receive and writes with send.
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 256];
            for i in 0..EACH_WAY {
                let (ty, msg) = receive_message(&read, &mut buf).await;
                assert_eq!(ty, MessageType::Text);
                assert_eq!(
                    String::from_utf8(msg).unwrap(),
                    numbered("s", i),
                    "server message {i}"
                );
            }
            read
        });
        let writer = tokio::spawn(async move {
            for i in 0..EACH_WAY {
                write
                    .send(
                        numbered("c", i).as_bytes(),
                        MessageType::Text,
                        SendFlags::END_OF_MESSAGE,
                    )
                    .await
                    .unwrap();
            }
            write
        });
        let write = writer.await.unwrap();
        let read = reader.await.unwrap();

        write.close_output(Some(CloseCode::NORMAL), "done").await.unwrap();
        let r = read.receive(&mut [0u8; 64]).await.unwrap();
        assert_eq!(r.message_type, MessageType::Close);
        assert_eq!(r.close_status, Some(CloseCode::NORMAL));
        assert_eq!(read.websocket().state(), State::Closed);

        let (server_state, server_saw) = server.await.unwrap();
        assert_eq!(server_state, State::Closed);
        assert_eq!(server_saw, Some(CloseCode::NORMAL));
    })
    .await;
}

#[tokio::test]
async fn dropping_one_half_keeps_the_connection_and_dropping_both_aborts_it() {
    bounded(async {
        let (port, server) = serve_one(move |tcp| async move {
            let ws = accept(tcp, &Options::default()).await.unwrap();
            let mut buf = [0u8; 64];
            let r = ws.receive(&mut buf).await.unwrap();
            assert_eq!(&buf[..r.count], b"from the write half");
            ws.send(b"to the read half", MessageType::Text, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            // Then the client drops everything without closing.
            ws.receive(&mut buf).await.map(|r| r.message_type)
        })
        .await;
        let ws = client(port, Default::default()).await;
        let (read, write) = ws.split();
        write
            .send(
                b"from the write half",
                MessageType::Text,
                SendFlags::END_OF_MESSAGE,
            )
            .await
            .unwrap();
        drop(write);
        // The read half still works alone.
        let mut buf = [0u8; 64];
        let r = read.receive(&mut buf).await.unwrap();
        assert_eq!(&buf[..r.count], b"to the read half");
        assert_eq!(read.websocket().state(), State::Open);
        drop(read);
        let e = server.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), sockweave::ErrorKind::ConnectionClosedPrematurely, "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_dropped_receive_takes_nothing() {
    bounded(async {
        let (ws, server) = puppet();
        let mut buf = vec![0u8; 8192];

        // Polled once, pending, dropped.
        tokio::select! {
            biased;
            r = ws.receive(&mut buf) => panic!("nothing was sent, yet receive returned {r:?}"),
            _ = std::future::ready(()) => {}
        }
        // Timed out before any data arrives (nothing is sent until we ask).
        assert!(
            tokio::time::timeout(Duration::from_millis(50), ws.receive(&mut buf))
                .await
                .is_err()
        );

        let message: Vec<u8> = (0..3000u32).map(|i| (i % 241) as u8).collect();
        server
            .send((message.clone(), MessageType::Binary, SendFlags::END_OF_MESSAGE))
            .unwrap();
        let (ty, got) = receive_message(&ws, &mut buf).await;
        assert_eq!(ty, MessageType::Binary);
        assert_eq!(got, message, "the message is not whole after dropped receives");

        // In the middle of a message: the rest goes to the next receive.
        server
            .send((b"first half, ".to_vec(), MessageType::Text, SendFlags::PARTIAL))
            .unwrap();
        let mut got = Vec::new();
        while got.len() < b"first half, ".len() {
            let r = ws.receive(&mut buf).await.unwrap();
            assert!(!r.end_of_message);
            got.extend_from_slice(&buf[..r.count]);
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(50), ws.receive(&mut buf))
                .await
                .is_err()
        );
        server
            .send((
                b"second half".to_vec(),
                MessageType::Text,
                SendFlags::END_OF_MESSAGE,
            ))
            .unwrap();
        loop {
            let r = ws.receive(&mut buf).await.unwrap();
            assert_eq!(r.message_type, MessageType::Text);
            got.extend_from_slice(&buf[..r.count]);
            if r.end_of_message {
                break;
            }
        }
        assert_eq!(got, b"first half, second half");

        drop(server);
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
    })
    .await;
}

#[tokio::test]
async fn a_dropped_stream_next_loses_nothing() {
    bounded(async {
        let (mut ws, server) = puppet();

        assert!(tokio::time::timeout(Duration::from_millis(50), ws.next())
            .await
            .is_err());
        // Half a message arrives while a `next` is pending; that `next` is dropped.
        server
            .send((b"part one / ".to_vec(), MessageType::Text, SendFlags::PARTIAL))
            .unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(100), ws.next())
            .await
            .is_err());
        server
            .send((b"part two".to_vec(), MessageType::Text, SendFlags::END_OF_MESSAGE))
            .unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::Text("part one / part two".into())
        );
        server
            .send((b"next".to_vec(), MessageType::Binary, SendFlags::END_OF_MESSAGE))
            .unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::Binary(b"next".to_vec())
        );
        drop(server);
        SinkExt::close(&mut ws).await.unwrap();
        assert!(ws.next().await.is_none());
    })
    .await;
}

const SIZE: usize = 16 * 1024;

/// Message `i`: its index, then a filler byte that depends on it.
fn indexed(i: u32) -> Vec<u8> {
    let mut m = vec![(i % 251) as u8; SIZE];
    m[..4].copy_from_slice(&i.to_be_bytes());
    m
}

#[tokio::test]
async fn a_dropped_send_leaves_the_connection_usable_and_messages_whole() {
    bounded(async {
        let (listener, port) = listen().await;
        let (start_reading, reading) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // A small receive buffer: the server's driver stops reading almost at once.
            let options = Options {
                receive_buffer_size: 256,
                ..Options::default()
            };
            let ws = accept(tcp, &options).await.unwrap();
            reading.await.unwrap();
            let mut indices = Vec::new();
            let mut buf = vec![0u8; 1024];
            loop {
                let (ty, msg) = receive_message(&ws, &mut buf).await;
                if ty == MessageType::Text {
                    assert_eq!(msg, b"done");
                    break;
                }
                // Every message arrives whole, never a part of one.
                assert_eq!(msg.len(), SIZE, "a message of the wrong size arrived");
                let i = u32::from_be_bytes(msg[..4].try_into().unwrap());
                assert!(
                    msg[4..].iter().all(|&b| b == (i % 251) as u8),
                    "message {i} arrived damaged"
                );
                indices.push(i);
            }
            ws.send(
                format!("got {}", indices.len()).as_bytes(),
                MessageType::Text,
                SendFlags::END_OF_MESSAGE,
            )
            .await
            .unwrap();
            echo(&ws).await;
            indices
        });

        let mut options = ClientWebSocketOptions::default();
        options.options.max_pending_output = 1024;
        let ws = client(port, options).await;

        // Send until the output is stuck (the server does not read): then sends
        // wait for room and are dropped by the timeout.
        let mut completed = Vec::new();
        let mut dropped = Vec::new();
        let mut stuck_in_a_row = 0;
        let mut i = 0u32;
        while stuck_in_a_row < 3 {
            assert!(i < 8192, "the output never filled up");
            match tokio::time::timeout(
                Duration::from_millis(50),
                ws.send(&indexed(i), MessageType::Binary, SendFlags::END_OF_MESSAGE),
            )
            .await
            {
                Ok(r) => {
                    r.unwrap();
                    completed.push(i);
                    stuck_in_a_row = 0;
                }
                Err(_) => {
                    dropped.push(i);
                    stuck_in_a_row += 1;
                }
            }
            i += 1;
        }
        // A send future polled once and dropped while it waits for room. (On this
        // single-threaded runtime the driver cannot run between the last timeout
        // and this poll, so the output is still over the limit.)
        let polled_once = i;
        let last = indexed(polled_once);
        tokio::select! {
            biased;
            r = ws.send(&last, MessageType::Binary, SendFlags::END_OF_MESSAGE) => {
                panic!("a send into a stuck output completed: {r:?}")
            }
            _ = std::future::ready(()) => dropped.push(polled_once),
        }
        assert_eq!(ws.state(), State::Open);

        // The server starts reading: the connection works in both directions.
        start_reading.send(()).unwrap();
        ws.send(b"done", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(r.message_type, MessageType::Text);
        let reply = String::from_utf8(buf[..r.count].to_vec()).unwrap();
        ws.send(b"still open", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(&buf[..r.count], b"still open");
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();

        let received = server.await.unwrap();
        assert_eq!(reply, format!("got {}", received.len()));
        assert!(
            received.windows(2).all(|w| w[0] < w[1]),
            "out of order: {received:?}"
        );
        for c in &completed {
            assert!(received.contains(c), "completed send {c} never arrived");
        }
        for r in &received {
            assert!(
                completed.contains(r) || dropped.contains(r),
                "message {r} arrived but was never sent"
            );
        }
        // Dropped while waiting for room: nothing was queued.
        assert!(
            !received.contains(&polled_once),
            "a send dropped while waiting for room was delivered"
        );
        // A dropped send either queued its message whole or queued nothing; since
        // the output was stuck, not every dropped send got its message out.
        let dropped_arrived = received.iter().filter(|r| dropped.contains(r)).count();
        assert!(
            dropped_arrived < dropped.len(),
            "every dropped send was delivered: {dropped:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_send_dropped_after_queueing_still_sends_the_whole_message() {
    bounded(async {
        let (port, server) = serve_one(move |tcp| async move {
            let mut ws = accept(tcp, &Options::default()).await.unwrap();
            let first = ws.next().await.unwrap().unwrap();
            let second = ws.next().await.unwrap().unwrap();
            assert!(ws.next().await.is_none());
            // Let the driver write the answer to the Close before dropping the socket.
            ws.finished().await;
            (first, second)
        })
        .await;
        let ws = client(port, Default::default()).await;
        // 1 MiB is over max_pending_output (256 KiB): the first poll queues it
        // whole, then waits for the queue to drain; the future is dropped there.
        let big: Vec<u8> = (0..1u32 << 20).map(|i| (i % 239) as u8).collect();
        tokio::select! {
            biased;
            r = ws.send(&big, MessageType::Binary, SendFlags::END_OF_MESSAGE) => {
                panic!("a 1 MiB send completed on its first poll: {r:?}")
            }
            _ = std::future::ready(()) => {}
        }
        ws.send(b"after", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        let (first, second) = server.await.unwrap();
        assert!(
            first == Message::Binary(big),
            "the dropped send's message is not whole"
        );
        assert_eq!(second, Message::Text("after".into()));
    })
    .await;
}

#[tokio::test]
async fn a_dropped_close_leaves_the_close_sent_and_the_connection_closing() {
    bounded(async {
        let (port, server) = serve_one(move |tcp| async move {
            let ws = accept(tcp, &Options::default()).await.unwrap();
            let mut buf = [0u8; 64];
            let r = ws.receive(&mut buf).await.unwrap();
            assert_eq!(r.message_type, MessageType::Close);
            // A last message after the client's Close, then the answer.
            ws.send(b"late", MessageType::Text, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            ws.close_output(Some(CloseCode::NORMAL), "ok").await.unwrap();
            (r.close_status, r.close_status_description)
        })
        .await;
        let ws = client(port, Default::default()).await;
        tokio::select! {
            biased;
            r = ws.close(Some(CloseCode::NORMAL), "leaving") => panic!("close completed at once: {r:?}"),
            _ = std::future::ready(()) => {}
        }
        assert_eq!(ws.state(), State::CloseSent);
        // Still receiving after our Close: the late message, then the answer.
        let mut buf = [0u8; 64];
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(
            (r.message_type, &buf[..r.count]),
            (MessageType::Text, &b"late"[..])
        );
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(r.message_type, MessageType::Close);
        assert_eq!(r.close_status_description.as_deref(), Some("ok"));
        assert_eq!(ws.state(), State::Closed);
        let (status, reason) = server.await.unwrap();
        assert_eq!(status, Some(CloseCode::NORMAL));
        assert_eq!(reason.as_deref(), Some("leaving"));
    })
    .await;
}

#[tokio::test]
async fn dropping_the_socket_after_its_stream_ended_still_answers_the_close() {
    bounded(async {
        let (port, server) = serve_one(move |tcp| async move {
            let mut ws = accept(tcp, &Options::default()).await.unwrap();
            let mut count = 0;
            // The usual loop: read until the stream ends, then drop the socket.
            while let Some(m) = ws.next().await {
                m.unwrap();
                count += 1;
            }
            assert_eq!(ws.state(), State::Closed);
            count
        })
        .await;
        let ws = client(port, Default::default()).await;
        ws.send(b"only", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        // The server's Stream answered our Close (state Closed there), so close()
        // must see that answer rather than a connection closed without one.
        let closed = ws.close(Some(CloseCode::NORMAL), "bye").await;
        assert_eq!(server.await.unwrap(), 1);
        closed.expect("the server's answer to our Close was never sent");
        assert_eq!(ws.state(), State::Closed);
        assert_eq!(ws.close_status(), Some(CloseCode::NORMAL));
    })
    .await;
}
