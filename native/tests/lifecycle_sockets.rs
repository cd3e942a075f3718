//! The connection's life over real TCP sockets, with raw peers written
//! byte by byte: the close rules of `tests/vectors/lifecycle.json` (which
//! `lifecycle.rs` runs on a scripted transport) seen on the wire, and the
//! rules that need several tasks (one receive at a time, messages in pieces
//! owned by their sender).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::servers::serve_one;
use common::{bounded, echo_server, listen, raw_accept, read_masked_frame, server_frame};
use sockweave::{
    ClientWebSocket, CloseCode, DeflateOptions, ErrorKind, MessageType, Options, SendFlags, State, WebSocket,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// A raw server: answers the handshake, writes `frames`, then half-closes
/// (`shutdown(SHUT_WR)`) if asked, and returns every frame the client sends
/// until it closes TCP.
async fn raw_server(frames: Vec<u8>, half_close: bool) -> (u16, tokio::task::JoinHandle<Vec<(u8, Vec<u8>)>>) {
    let (port, task) = serve_one(move |mut tcp| async move {
        let response = raw_accept(&mut tcp).await;
        tcp.write_all(&response).await.unwrap();
        tcp.write_all(&frames).await.unwrap();
        if half_close {
            tcp.shutdown().await.unwrap();
        }
        let mut got = Vec::new();
        while let Ok(f) = read_masked_frame(&mut tcp).await {
            got.push(f);
        }
        got
    })
    .await;
    (port, task)
}

#[tokio::test]
async fn a_server_that_sends_close_and_half_closes_gets_the_clients_close_answer() {
    bounded(async {
        let (port, server) = raw_server(server_frame(0x8, &close_payload(1000, "bye")), true).await;
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let mut buf = [0u8; 16];
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(r.message_type, MessageType::Close);
        assert_eq!(ws.state(), State::CloseReceived);
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
        // The server read our Close answer before TCP ended (RFC 6455 5.5.1).
        let got = server.await.unwrap();
        assert_eq!(got, vec![(0x88, close_payload(1000, ""))]);
        ws.websocket().unwrap().finished().await;
    })
    .await;
}

#[tokio::test]
async fn the_state_follows_what_receive_returned() {
    bounded(async {
        let mut frames = server_frame(0x1, b"a");
        frames.extend(server_frame(0x1, b"b"));
        frames.extend(server_frame(0x8, &close_payload(1001, "away")));
        let (port, server) = raw_server(frames, true).await;
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        // Give the driver time to read everything, Close and end included.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut seen = Vec::new();
        let mut buf = [0u8; 16];
        while ws.state() == State::Open {
            let r = ws.receive(&mut buf).await.unwrap();
            seen.push((r.message_type, buf[..r.count].to_vec()));
        }
        assert_eq!(
            seen,
            vec![
                (MessageType::Text, b"a".to_vec()),
                (MessageType::Text, b"b".to_vec()),
                (MessageType::Close, Vec::new()),
            ]
        );
        assert_eq!(ws.state(), State::CloseReceived);
        assert_eq!(ws.close_status(), Some(CloseCode::GOING_AWAY));
        ws.close_output(Some(CloseCode::GOING_AWAY), "").await.unwrap();
        assert_eq!(server.await.unwrap(), vec![(0x88, close_payload(1001, ""))]);
    })
    .await;
}

#[tokio::test]
async fn an_end_before_the_close_is_reported_after_the_messages() {
    bounded(async {
        let (port, _server) = raw_server(server_frame(0x1, b"last"), true).await;
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        ws.websocket().unwrap().finished().await;
        assert_eq!(ws.state(), State::Open, "nothing was reported yet");
        let mut buf = [0u8; 16];
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(&buf[..r.count], b"last");
        let e = ws.receive(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely);
        assert_eq!(ws.state(), State::Aborted);
    })
    .await;
}

#[tokio::test]
async fn after_abort_every_call_fails() {
    bounded(async {
        let (port, _server) = raw_server(server_frame(0x1, b"buffered"), false).await;
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        ws.abort();
        assert_eq!(ws.state(), State::Aborted);
        let mut buf = [0u8; 16];
        assert_eq!(
            ws.receive(&mut buf).await.unwrap_err().kind(),
            ErrorKind::InvalidState
        );
        let e = ws
            .send(b"x", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidState);
        let e = ws.close(Some(CloseCode::NORMAL), "").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidState);
        ws.websocket().unwrap().finished().await;
    })
    .await;
}

#[tokio::test]
async fn a_message_in_pieces_is_never_joined_by_another_tasks_send() {
    bounded(async {
        let port = echo_server(Options::default()).await;
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let ws = Arc::new(ws);
        let (first_sent_tx, first_sent_rx) = tokio::sync::oneshot::channel();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let owner = {
            let ws = ws.clone();
            tokio::spawn(async move {
                ws.send(b"a1-", MessageType::Text, SendFlags::PARTIAL)
                    .await
                    .unwrap();
                first_sent_tx.send(()).unwrap();
                go_rx.await.unwrap();
                ws.send(b"a2", MessageType::Text, SendFlags::END_OF_MESSAGE)
                    .await
                    .unwrap();
            })
        };
        first_sent_rx.await.unwrap();
        // Another task sends a whole message while the message in pieces is open:
        // it waits for that message to end instead of joining it.
        let other = {
            let ws = ws.clone();
            tokio::spawn(async move {
                ws.send(b"b", MessageType::Text, SendFlags::END_OF_MESSAGE)
                    .await
                    .unwrap();
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !other.is_finished(),
            "the other task's send waits for the message in pieces"
        );
        go_tx.send(()).unwrap();
        owner.await.unwrap();
        other.await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        let mut cur = Vec::new();
        while got.len() < 2 {
            let r = ws.receive(&mut buf).await.unwrap();
            cur.extend_from_slice(&buf[..r.count]);
            if r.end_of_message {
                got.push(String::from_utf8(std::mem::take(&mut cur)).unwrap());
            }
        }
        assert_eq!(got, ["a1-a2", "b"]);
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn whole_messages_from_many_tasks_arrive_whole() {
    bounded(async {
        let port = echo_server(Options::default()).await;
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let ws = Arc::new(ws);
        let tasks: Vec<_> = (0..8u8)
            .map(|t| {
                let ws = ws.clone();
                tokio::spawn(async move {
                    for i in 0..50u8 {
                        let m = vec![t; 1000 + usize::from(i)];
                        ws.send(&m, MessageType::Binary, SendFlags::END_OF_MESSAGE)
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        let mut counts = [0usize; 8];
        let mut buf = vec![0u8; 4096];
        let mut m = Vec::new();
        let mut messages = 0;
        while messages < 400 {
            let r = ws.receive(&mut buf).await.unwrap();
            m.extend_from_slice(&buf[..r.count]);
            if !r.end_of_message {
                continue;
            }
            messages += 1;
            assert!(m.iter().all(|&b| b == m[0]), "two messages mixed");
            assert!((1000..1050).contains(&m.len()), "a message of {} bytes", m.len());
            counts[usize::from(m[0])] += 1;
            m.clear();
        }
        assert_eq!(counts, [50; 8]);
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn from_stream_applies_the_deflate_options_on_the_wire() {
    bounded(async {
        let (listener, port) = listen().await;
        let deflate = Options {
            dangerous_deflate_options: Some(DeflateOptions::default()),
            ..Options::default()
        };
        let server_options = Options {
            is_server: true,
            ..deflate.clone()
        };
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = WebSocket::from_stream(tcp, &server_options).unwrap();
            let mut buf = vec![0u8; 1 << 16];
            let r = ws.receive(&mut buf).await.unwrap();
            buf[..r.count].to_vec()
        });
        // The client side counts the bytes that go over the wire.
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let ws = WebSocket::from_stream(tcp, &deflate).unwrap();
        let text = "compress me ".repeat(1000);
        ws.send(text.as_bytes(), MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        assert_eq!(server.await.unwrap(), text.as_bytes());

        // And a raw reader sees a compressed frame (RSV1) much smaller than the text.
        let (port, raw) = serve_one(move |mut tcp| async move {
            let mut head = [0u8; 2];
            tcp.read_exact(&mut head).await.unwrap();
            head
        })
        .await;
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let ws = WebSocket::from_stream(tcp, &deflate).unwrap();
        ws.send(text.as_bytes(), MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let head = raw.await.unwrap();
        assert_eq!(head[0], 0x80 | 0x40 | 0x1, "FIN, RSV1 (compressed), text");
        assert!(
            usize::from(head[1] & 0x7f) < 126,
            "{} bytes of text in one short frame",
            text.len()
        );
    })
    .await;
}

#[tokio::test]
async fn a_subprotocol_answered_in_another_case_is_accepted_as_offered() {
    bounded(async {
        let (port, _server) = serve_one(move |mut tcp| async move {
            let mut head = Vec::new();
            let mut chunk = [0u8; 1024];
            let req = loop {
                let n = tcp.read(&mut chunk).await.unwrap();
                head.extend_from_slice(&chunk[..n]);
                if let Some((req, _)) =
                    sockweave::core::handshake::parse_request(&head, Default::default()).unwrap()
                {
                    break req;
                }
            };
            let accept = sockweave::core::handshake::accept_key(&req.key);
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: Chat\r\n\r\n"
            );
            tcp.write_all(response.as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        })
        .await;
        let mut ws = ClientWebSocket::new();
        ws.options_mut().add_sub_protocol("chat");
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        assert_eq!(ws.sub_protocol().as_deref(), Some("chat"));
    })
    .await;
}
