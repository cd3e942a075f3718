//! `ClientWebSocket` against `sockweave::accept` / `accept_with` over TCP on
//! 127.0.0.1: messages, fragmentation, subprotocols, request headers,
//! refusals, HTTP Basic, cookies, the close handshake, aborts, broken
//! connections, handshake timeouts, and the server's answers to bad requests.

mod common;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use common::{
    basic, basic_auth_server, bounded, echo, echo_server, listen, masked_frame, raw_accept, server_frame,
    text_frame,
};
use sockweave::{
    accept, accept_with, Accepted, ClientWebSocket, ClientWebSocketOptions, CloseCode, CookieJar,
    Credentials, ErrorKind, MessageType, Millis, Options, Rejected, SendFlags, ServerRequest, State,
    WebSocket,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Receives one whole message into `piece`-sized buffers; returns its type,
/// its bytes and how many `receive` calls it took.
async fn receive_whole(ws: &WebSocket, piece: usize) -> (MessageType, Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; piece];
    let mut calls = 0;
    loop {
        let r = ws.receive(&mut buf).await.unwrap();
        calls += 1;
        assert!(r.count <= piece);
        out.extend_from_slice(&buf[..r.count]);
        if r.end_of_message {
            return (r.message_type, out, calls);
        }
    }
}

/// The open WebSocket of a connected client.
fn socket(ws: &ClientWebSocket) -> &WebSocket {
    ws.websocket().expect("connected")
}

/// A distinct byte pattern of `len` bytes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn text_and_binary_messages_echo() {
    bounded(async {
        let port = echo_server(Options::default()).await;
        let mut ws = ClientWebSocket::new();
        assert_eq!(ws.state(), State::None);
        ws.connect(&format!("ws://127.0.0.1:{port}/echo")).await.unwrap();
        assert_eq!(ws.state(), State::Open);
        assert_eq!(ws.http_status_code(), Some(101));

        ws.send(
            "héllo wörld".as_bytes(),
            MessageType::Text,
            SendFlags::END_OF_MESSAGE,
        )
        .await
        .unwrap();
        let mut buf = [0u8; 64];
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(r.message_type, MessageType::Text);
        assert!(r.end_of_message);
        assert_eq!(std::str::from_utf8(&buf[..r.count]).unwrap(), "héllo wörld");

        let bin = [0u8, 1, 2, 0xfe, 0xff];
        ws.send(&bin, MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(r.message_type, MessageType::Binary);
        assert!(r.end_of_message);
        assert_eq!(&buf[..r.count], &bin);

        // An empty message is a message too.
        ws.send(b"", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(
            (r.message_type, r.count, r.end_of_message),
            (MessageType::Text, 0, true)
        );

        ws.close(Some(CloseCode::NORMAL), "done").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
    })
    .await;
}

#[tokio::test]
async fn a_message_larger_than_the_buffers_arrives_in_pieces() {
    bounded(async {
        // Larger than the 1 KiB application buffers and than the 64 KiB receive buffers.
        let original = pattern(200 * 1024 + 17);
        let (listener, port) = listen().await;
        let expected = original.clone();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept(tcp, &Options::default()).await.unwrap();
            let (ty, got, calls) = receive_whole(&ws, 1024).await;
            assert_eq!(ty, MessageType::Binary);
            assert!(got == expected, "the server received different bytes");
            assert!(
                calls >= got.len() / 1024,
                "{calls} receives for {} bytes",
                got.len()
            );
            // Send it back as one message.
            ws.send(&got, MessageType::Binary, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            echo(&ws).await;
        });

        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        ws.send(&original, MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let (ty, got, calls) = receive_whole(socket(&ws), 1024).await;
        assert_eq!(ty, MessageType::Binary);
        assert_eq!(got.len(), original.len());
        assert!(got == original, "the client received different bytes");
        assert!(
            calls > 200,
            "a {} byte message came in {calls} receives",
            got.len()
        );
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn fragmented_sends_make_one_message() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept(tcp, &Options::default()).await.unwrap();
            let mut pieces = Vec::new();
            let mut whole = Vec::new();
            let mut buf = [0u8; 256];
            loop {
                let r = ws.receive(&mut buf).await.unwrap();
                assert_eq!(r.message_type, MessageType::Text);
                pieces.push(r.count);
                whole.extend_from_slice(&buf[..r.count]);
                if r.end_of_message {
                    break;
                }
            }
            // The server answers in pieces too, as binary.
            ws.send(b"ab", MessageType::Binary, SendFlags::PARTIAL)
                .await
                .unwrap();
            ws.send(b"", MessageType::Binary, SendFlags::PARTIAL)
                .await
                .unwrap();
            ws.send(b"cd", MessageType::Binary, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            // A following message is separate.
            ws.send(b"next", MessageType::Text, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            echo(&ws).await;
            whole
        });

        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        ws.send(b"Hello, ", MessageType::Text, SendFlags::PARTIAL)
            .await
            .unwrap();
        ws.send("wörld".as_bytes(), MessageType::Text, SendFlags::PARTIAL)
            .await
            .unwrap();
        ws.send(b"!", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();

        let (ty, got, _) = receive_whole(socket(&ws), 64).await;
        assert_eq!(ty, MessageType::Binary);
        assert_eq!(got, b"abcd");
        let (ty, got, _) = receive_whole(socket(&ws), 64).await;
        assert_eq!(ty, MessageType::Text);
        assert_eq!(got, b"next");
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        assert_eq!(server.await.unwrap(), "Hello, wörld!".as_bytes());
    })
    .await;
}

#[tokio::test]
async fn sending_another_type_in_the_middle_of_a_message_is_refused() {
    bounded(async {
        let port = echo_server(Options::default()).await;
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        ws.send(b"part", MessageType::Text, SendFlags::PARTIAL)
            .await
            .unwrap();
        let e = ws
            .send(b"other", MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidMessageType, "{e}");
        // The message in progress can still be finished.
        ws.send(b" two", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let (ty, got, _) = receive_whole(socket(&ws), 64).await;
        assert_eq!((ty, got.as_slice()), (MessageType::Text, b"part two".as_slice()));
    })
    .await;
}

#[tokio::test]
async fn the_server_selects_the_subprotocol_by_its_own_preference() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let options = Options {
                sub_protocols: vec!["v3.chat".into(), "v2.chat".into(), "v1.chat".into()],
                ..Options::default()
            };
            let mut selected = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                let ws = accept(tcp, &options).await.unwrap();
                selected.push(ws.sub_protocol());
                echo(&ws).await;
            }
            selected
        });

        // The client prefers v1, but the server prefers v2 over v1 (and v3 is not offered).
        let mut ws = ClientWebSocket::new();
        ws.options_mut()
            .add_sub_protocol("v1.chat")
            .add_sub_protocol("v2.chat")
            .add_sub_protocol("other");
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        assert_eq!(ws.sub_protocol().as_deref(), Some("v2.chat"));
        let headers = ws.http_response_headers().unwrap();
        assert!(
            headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("sec-websocket-protocol") && v == "v2.chat"),
            "{headers:?}"
        );
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();

        // No protocol in common: the connection opens without one.
        let mut ws = ClientWebSocket::new();
        ws.options_mut().add_sub_protocol("mqtt");
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        assert_eq!(ws.sub_protocol(), None);
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();

        assert_eq!(server.await.unwrap(), vec![Some("v2.chat".to_string()), None]);
    })
    .await;
}

#[tokio::test]
async fn request_headers_path_and_offered_protocols_reach_accept_with() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut seen = None;
            let (ws, req) = accept_with(tcp, &Options::default(), |req: &ServerRequest| {
                seen = Some((
                    req.header("x-trace-id").map(String::from),
                    req.header("USER-AGENT").map(String::from),
                    req.path.clone(),
                    req.protocols.clone(),
                ));
                Ok(Accepted {
                    sub_protocol: Some("b".into()),
                    headers: vec![("X-Server".into(), "sockweave-test".into())],
                })
            })
            .await
            .unwrap();
            assert_eq!(req.host, format!("127.0.0.1:{port}"));
            assert_eq!(ws.sub_protocol().as_deref(), Some("b"));
            echo(&ws).await;
            seen.unwrap()
        });

        let mut ws = ClientWebSocket::new();
        ws.options_mut()
            .set_request_header("X-Trace-Id", "first")
            .set_request_header("x-trace-id", "abc-123")
            .set_request_header("User-Agent", "sockweave-tests/1")
            .add_sub_protocol("a")
            .add_sub_protocol("b");
        ws.connect(&format!("ws://127.0.0.1:{port}/rooms/7?user=x%20y"))
            .await
            .unwrap();
        assert_eq!(ws.sub_protocol().as_deref(), Some("b"));
        let headers = ws.http_response_headers().unwrap();
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "X-Server" && v == "sockweave-test"),
            "{headers:?}"
        );
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();

        let (trace, agent, path, protocols) = server.await.unwrap();
        // set_request_header replaces an earlier value of the same name.
        assert_eq!(trace.as_deref(), Some("abc-123"));
        assert_eq!(agent.as_deref(), Some("sockweave-tests/1"));
        assert_eq!(path, "/rooms/7?user=x%20y");
        assert_eq!(protocols, vec!["a".to_string(), "b".to_string()]);
    })
    .await;
}

#[tokio::test]
async fn a_refusal_reaches_the_client_with_status_and_headers() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            accept_with(tcp, &Options::default(), |_| {
                Err(Rejected {
                    status: 403,
                    message: "members only".into(),
                    headers: vec![("X-Reason".into(), "not-a-member".into())],
                })
            })
            .await
            .map(|_| ())
        });

        let mut ws = ClientWebSocket::new();
        let e = ws
            .connect(&format!("ws://127.0.0.1:{port}/private"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAWebSocket, "{e}");
        let response = e.response().expect("the error carries the response");
        assert_eq!(response.status, 403);
        assert_eq!(response.header("x-reason"), Some("not-a-member"));
        assert_eq!(ws.http_status_code(), Some(403));
        let headers = ws.http_response_headers().unwrap();
        assert!(
            headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-reason") && v == "not-a-member"),
            "{headers:?}"
        );
        assert!(ws.websocket().is_none());
        // Using the socket after a failed connect is an error, not a hang.
        let err = ws.receive(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");

        let server_err = server.await.unwrap().unwrap_err();
        assert_eq!(server_err.kind(), ErrorKind::NotAWebSocket);
        assert!(server_err.message().contains("403"), "{server_err}");
    })
    .await;
}

#[tokio::test]
async fn http_basic_credentials_are_sent_after_a_401_challenge() {
    bounded(async {
        let (port, seen) = basic_auth_server().await;
        let url = format!("ws://127.0.0.1:{port}/");

        let mut ws = ClientWebSocket::with_options(ClientWebSocketOptions {
            credentials: Some(Credentials {
                user: "alice".into(),
                password: "s3cret".into(),
            }),
            // Loopback test server: Basic over ws:// is opted into.
            allow_basic_over_cleartext: true,
            ..Default::default()
        });
        ws.connect(&url).await.unwrap();
        assert_eq!(ws.http_status_code(), Some(101));
        common::assert_echo(&ws, "authorized").await;
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        // First without credentials (the challenge), then with them.
        assert_eq!(*seen.lock().unwrap(), vec![None, Some(basic("alice", "s3cret"))]);
    })
    .await;
}

#[tokio::test]
async fn without_credentials_the_401_is_reported() {
    bounded(async {
        let (port, seen) = basic_auth_server().await;
        let mut ws = ClientWebSocket::new();
        let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAWebSocket, "{e}");
        let r = e.response().unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"x\""));
        assert_eq!(ws.http_status_code(), Some(401));
        // One request only: no credentials, no retry.
        assert_eq!(*seen.lock().unwrap(), vec![None]);
    })
    .await;
}

#[tokio::test]
async fn wrong_credentials_are_tried_once_and_the_401_is_reported() {
    bounded(async {
        let (port, seen) = basic_auth_server().await;
        let mut ws = ClientWebSocket::with_options(ClientWebSocketOptions {
            credentials: Some(Credentials {
                user: "alice".into(),
                password: "wrong".into(),
            }),
            // Loopback test server: Basic over ws:// is opted into.
            allow_basic_over_cleartext: true,
            ..Default::default()
        });
        let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAWebSocket, "{e}");
        assert_eq!(e.response().unwrap().status, 401);
        assert_eq!(ws.http_status_code(), Some(401));
        assert_eq!(*seen.lock().unwrap(), vec![None, Some(basic("alice", "wrong"))]);
    })
    .await;
}

#[tokio::test]
async fn a_shared_cookie_jar_keeps_set_cookie_for_the_next_connection() {
    bounded(async {
        let (listener, port) = listen().await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let result = accept_with(tcp, &Options::default(), |req| {
                        let _ = tx.send(req.header("cookie").map(String::from));
                        Ok(Accepted {
                            sub_protocol: None,
                            headers: vec![("Set-Cookie".into(), "session=abc; Path=/".into())],
                        })
                    })
                    .await;
                    if let Ok((ws, _)) = result {
                        echo(&ws).await;
                    }
                });
            }
        });

        let jar = Arc::new(CookieJar::new());
        let url = format!("ws://127.0.0.1:{port}/chat");
        let options = ClientWebSocketOptions {
            cookies: Some(jar.clone()),
            ..Default::default()
        };
        let first = common::connect(&url, options.clone()).await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), None, "the first request has no cookie");
        assert_eq!(jar.cookie_header(&url).unwrap().as_deref(), Some("session=abc"));
        first.close(Some(CloseCode::NORMAL), "").await.unwrap();

        let second = common::connect(&format!("ws://127.0.0.1:{port}/other"), options)
            .await
            .unwrap();
        assert_eq!(rx.recv().await.unwrap().as_deref(), Some("session=abc"));
        second.close(Some(CloseCode::NORMAL), "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn client_close_waits_for_the_servers_answer() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept(tcp, &Options::default()).await.unwrap();
            let mut buf = [0u8; 256];
            let r = ws.receive(&mut buf).await.unwrap();
            assert_eq!(r.message_type, MessageType::Close);
            assert_eq!(ws.state(), State::CloseReceived);
            let seen = (r.close_status, r.close_status_description.clone());
            ws.close_output(Some(CloseCode::NORMAL), "server bye")
                .await
                .unwrap();
            assert_eq!(ws.state(), State::Closed);
            assert_eq!(ws.close_status(), Some(CloseCode::NORMAL));
            assert_eq!(ws.close_status_description().as_deref(), Some("client bye"));
            seen
        });

        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        assert_eq!(ws.close_status(), None);
        ws.close(Some(CloseCode::NORMAL), "client bye").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
        assert_eq!(ws.close_status(), Some(CloseCode::NORMAL));
        assert_eq!(ws.close_status_description().as_deref(), Some("server bye"));
        let (status, description) = server.await.unwrap();
        assert_eq!(status, Some(CloseCode::NORMAL));
        assert_eq!(description.as_deref(), Some("client bye"));

        // After the close handshake, sending is an error.
        let e = ws
            .send(b"late", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidState, "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_server_initiated_close_is_received_as_a_close_message() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept(tcp, &Options::default()).await.unwrap();
            ws.send(b"last words", MessageType::Text, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            ws.close(Some(CloseCode(4000)), "shutting down").await.unwrap();
            (ws.state(), ws.close_status())
        });

        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let mut buf = [0u8; 64];
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(r.message_type, MessageType::Text);
        assert_eq!(&buf[..r.count], b"last words");
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(r.message_type, MessageType::Close);
        assert!(r.end_of_message);
        assert_eq!(r.count, 0);
        assert_eq!(r.close_status, Some(CloseCode(4000)));
        assert_eq!(r.close_status_description.as_deref(), Some("shutting down"));
        assert_eq!(ws.state(), State::CloseReceived);
        assert_eq!(ws.close_status(), Some(CloseCode(4000)));
        assert_eq!(ws.close_status_description().as_deref(), Some("shutting down"));
        // Answer the close: the handshake completes on both sides.
        ws.close_output(Some(CloseCode(4000)), "").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
        assert_eq!(server.await.unwrap(), (State::Closed, Some(CloseCode(4000))));
    })
    .await;
}

#[tokio::test]
async fn abort_fails_a_pending_receive_in_another_task() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept(tcp, &Options::default()).await.unwrap();
            let mut buf = [0u8; 64];
            // The client aborts: the server sees the connection drop without a Close.
            ws.receive(&mut buf).await.map(|r| r.message_type)
        });

        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let ws = Arc::new(ws);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let receiver = {
            let ws = ws.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                let receive = ws.receive(&mut buf);
                tokio::pin!(receive);
                // Poll once so the receive is really pending, then tell the test.
                let first = std::future::poll_fn(|cx| Poll::Ready(receive.as_mut().poll(cx))).await;
                assert!(first.is_pending(), "nothing was sent, yet receive completed");
                started_tx.send(()).unwrap();
                receive.await
            })
        };
        started_rx.await.unwrap();
        ws.abort();
        let e = receiver.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidState, "{e}");
        assert!(e.message().contains("aborted"), "{e}");
        assert_eq!(ws.state(), State::Aborted);
        // Everything fails after an abort.
        assert!(ws
            .send(b"x", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .is_err());
        assert!(ws.receive(&mut [0u8; 8]).await.is_err());

        let server_side = server.await.unwrap();
        let e = server_side.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_drops_tcp_without_a_close_is_reported_after_its_messages() {
    bounded(async {
        let (listener, port) = listen().await;
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            // The 101 and the frames in one write: the frames arrive with the handshake.
            let mut bytes = raw_accept(&mut tcp).await;
            bytes.extend(text_frame("one"));
            bytes.extend(text_frame("two"));
            tcp.write_all(&bytes).await.unwrap();
            tcp.shutdown().await.unwrap();
            // Dropped: no Close frame was ever sent.
        });

        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let mut buf = [0u8; 64];
        for expected in ["one", "two"] {
            let r = ws.receive(&mut buf).await.unwrap();
            assert_eq!(r.message_type, MessageType::Text);
            assert_eq!(&buf[..r.count], expected.as_bytes());
        }
        let e = ws.receive(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
        assert_eq!(ws.state(), State::Aborted);
        let e = ws
            .send(b"anyone?", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_the_handshake() {
    bounded(async {
        let (listener, port) = listen().await;
        let (hold_tx, hold_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // Keep the connection open and silent until the test ends.
            let _ = hold_rx.await;
            drop(tcp);
        });
        let mut ws = ClientWebSocket::new();
        ws.options_mut().options.handshake_timeout = Millis::Finite(300);
        let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.message().contains("handshakeTimeout"), "{e}");
        assert!(e.response().is_none());
        assert_eq!(ws.http_status_code(), None);
        assert_ne!(ws.state(), State::Open);
        drop(hold_tx);
    })
    .await;
}

/// Sends `request` to a fresh `accept` and returns what the server answered
/// (everything until it closed) and what `accept` returned.
async fn raw_request(request: &[u8], options: Options) -> (String, sockweave::Error) {
    let (listener, port) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        accept(tcp, &options).await.map(|_| ())
    });
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    let err = server.await.unwrap().unwrap_err();
    (String::from_utf8(answer).unwrap(), err)
}

fn header_of<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn the_server_answers_garbage_with_400() {
    bounded(async {
        let (answer, err) = raw_request(b"this is not http at all\r\n\r\n", Options::default()).await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer:?}");
        // The body says why, for a person with curl.
        let body = answer.split("\r\n\r\n").nth(1).unwrap();
        assert!(!body.trim().is_empty(), "{answer:?}");
        assert_eq!(
            header_of(&answer, "content-length").map(|v| v.parse::<usize>().unwrap()),
            Some(body.len())
        );
        assert_eq!(err.kind(), ErrorKind::NotAWebSocket, "{err}");
    })
    .await;
}

#[tokio::test]
async fn the_server_answers_an_unsupported_version_with_426() {
    bounded(async {
        let request =
            "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
        let (answer, err) = raw_request(request.as_bytes(), Options::default()).await;
        assert!(answer.starts_with("HTTP/1.1 426 "), "{answer:?}");
        assert_eq!(
            header_of(&answer, "sec-websocket-version"),
            Some("13"),
            "{answer:?}"
        );
        assert_eq!(err.kind(), ErrorKind::UnsupportedVersion, "{err}");
    })
    .await;
}

#[tokio::test]
async fn the_server_answers_post_with_405() {
    bounded(async {
        let request =
            "POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                       Content-Length: 0\r\n\r\n";
        let (answer, err) = raw_request(request.as_bytes(), Options::default()).await;
        assert!(answer.starts_with("HTTP/1.1 405 "), "{answer:?}");
        assert_eq!(header_of(&answer, "allow"), Some("GET"), "{answer:?}");
        assert_eq!(err.kind(), ErrorKind::NotAWebSocket, "{err}");
    })
    .await;
}

#[tokio::test]
async fn a_valid_raw_request_is_accepted_with_the_right_accept_key() {
    bounded(async {
        // The example of RFC 6455 section 1.3.
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept(tcp, &Options::default()).await.unwrap();
            let mut buf = [0u8; 16];
            let r = ws.receive(&mut buf).await.unwrap();
            (r.message_type, buf[..r.count].to_vec())
        });
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let request = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
                       Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                       Sec-WebSocket-Version: 13\r\n\r\n";
        // A masked text frame "hi" right behind the request, in the same write.
        let mut bytes = request.as_bytes().to_vec();
        let mask = [1u8, 2, 3, 4];
        bytes.extend_from_slice(&[0x81, 0x80 | 2]);
        bytes.extend_from_slice(&mask);
        bytes.extend(b"hi".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        tcp.write_all(&bytes).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            assert_eq!(tcp.read(&mut byte).await.unwrap(), 1);
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head:?}");
        assert_eq!(
            header_of(&head, "sec-websocket-accept"),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "{head:?}"
        );
        assert_eq!(
            server.await.unwrap(),
            (MessageType::Text, b"hi".to_vec()),
            "the frame sent with the request was lost"
        );
    })
    .await;
}

#[tokio::test]
async fn a_silent_client_times_out_the_server_handshake() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let options = Options {
                handshake_timeout: Millis::Finite(300),
                ..Options::default()
            };
            accept(tcp, &options).await.map(|_| ())
        });
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let err = server.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(err.message().contains("handshakeTimeout"), "{err}");
        // The server let go of the connection without answering.
        let mut rest = Vec::new();
        let n = tcp.read_to_end(&mut rest).await.unwrap_or(0);
        assert_eq!(n, 0, "unexpected answer {:?}", String::from_utf8_lossy(&rest));
    })
    .await;
}

#[tokio::test]
async fn a_client_that_stops_midway_through_its_request_times_out_too() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let options = Options {
                handshake_timeout: Millis::Finite(300),
                ..Options::default()
            };
            accept(tcp, &options).await.map(|_| ())
        });
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr")
            .await
            .unwrap();
        let err = server.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    })
    .await;
}

#[tokio::test]
async fn connect_is_single_use_even_after_a_failure() {
    bounded(async {
        let good = echo_server(Options::default()).await;
        // A refusal with a response.
        let (refusing, port) = listen().await;
        tokio::spawn(async move {
            while let Ok((tcp, _)) = refusing.accept().await {
                let _ = accept_with(tcp, &Options::default(), |_| {
                    Err(Rejected {
                        status: 403,
                        message: "no".into(),
                        headers: Vec::new(),
                    })
                })
                .await;
            }
        });
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        assert_eq!(ws.state(), State::Closed);
        let e = ws
            .connect(&format!("ws://127.0.0.1:{good}/"))
            .await
            .expect_err("a second connect on a failed ClientWebSocket succeeded");
        assert_eq!(e.kind(), ErrorKind::InvalidState, "{e}");

        // A failure without a response (handshake timeout).
        let (silent, port) = listen().await;
        let (hold_tx, hold_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (tcp, _) = silent.accept().await.unwrap();
            let _ = hold_rx.await;
            drop(tcp);
        });
        let mut ws = ClientWebSocket::new();
        ws.options_mut().options.handshake_timeout = Millis::Finite(300);
        let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        // `State::None` means "connect not called yet"; after a failed connect
        // the socket is finished (.NET reports Closed).
        assert_ne!(
            ws.state(),
            State::None,
            "a failed ClientWebSocket reports State::None"
        );
        let e = ws
            .connect(&format!("ws://127.0.0.1:{good}/"))
            .await
            .expect_err("a second connect on a failed ClientWebSocket succeeded");
        assert_eq!(e.kind(), ErrorKind::InvalidState, "{e}");
        drop(hold_tx);
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_never_answers_our_close_is_aborted_after_close_timeout() {
    bounded(async {
        let (listener, port) = listen().await;
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let response = raw_accept(&mut tcp).await;
            tcp.write_all(&response).await.unwrap();
            // Read (and ignore) everything, never answer.
            let mut sink = vec![0u8; 4096];
            while tcp.read(&mut sink).await.unwrap_or(0) > 0 {}
        });
        let mut ws = ClientWebSocket::new();
        ws.options_mut().options.close_timeout = Millis::Finite(300);
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let e = ws.close(Some(CloseCode::NORMAL), "").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Faulted, "{e}");
        assert!(e.message().contains("did not answer our Close"), "{e}");
        assert_eq!(ws.state(), State::Aborted);
    })
    .await;
}

#[tokio::test]
async fn a_message_over_max_message_size_fails_the_connection_with_1009() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let options = Options {
                max_message_size: 1000,
                ..Options::default()
            };
            let ws = accept(tcp, &options).await.unwrap();
            let mut buf = [0u8; 4096];
            let r = ws.receive(&mut buf).await.unwrap();
            assert_eq!(&buf[..r.count], b"small");
            ws.receive(&mut buf).await.unwrap_err()
        });
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        ws.send(b"small", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        ws.send(&[7u8; 2000], MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(r.message_type, MessageType::Close);
        assert_eq!(r.close_status, Some(CloseCode::MESSAGE_TOO_BIG));
        assert!(
            r.close_status_description
                .as_deref()
                .is_some_and(|d| d.contains("maxMessageSize")),
            "{r:?}"
        );
        let e = server.await.unwrap();
        assert_eq!(e.close_code(), Some(CloseCode::MESSAGE_TOO_BIG), "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_plain_http_server_is_not_a_websocket() {
    bounded(async {
        let (listener, port) = listen().await;
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            tcp.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Served-By: plain\r\n\r\nhello")
                .await
                .unwrap();
        });
        let mut ws = ClientWebSocket::new();
        let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAWebSocket, "{e}");
        assert_eq!(e.response().unwrap().status, 200);
        assert_eq!(e.response().unwrap().header("x-served-by"), Some("plain"));
        assert_eq!(ws.http_status_code(), Some(200));
        assert_eq!(ws.state(), State::Closed);
    })
    .await;
}

#[tokio::test]
async fn a_server_that_hangs_up_during_the_handshake_is_reported() {
    bounded(async {
        let (listener, port) = listen().await;
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            // Closed without an answer.
        });
        let mut ws = ClientWebSocket::new();
        let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
        assert!(e.response().is_none());
    })
    .await;
}

#[tokio::test]
async fn cookies_from_a_401_go_with_the_retry_and_paths_are_respected() {
    bounded(async {
        let (listener, port) = listen().await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let log = log.clone();
                let result = accept_with(tcp, &Options::default(), move |req| {
                    let authorized = req.header("authorization").is_some();
                    log.lock()
                        .unwrap()
                        .push((req.path.clone(), req.header("cookie").map(String::from)));
                    if authorized {
                        Ok(Accepted {
                            sub_protocol: None,
                            headers: vec![("Set-Cookie".into(), "room=7; Path=/rooms".into())],
                        })
                    } else {
                        Err(Rejected {
                            status: 401,
                            message: "log in".into(),
                            headers: vec![
                                ("WWW-Authenticate".into(), "Basic realm=\"x\"".into()),
                                ("Set-Cookie".into(), "challenge=1; Path=/".into()),
                            ],
                        })
                    }
                })
                .await;
                if let Ok((ws, _)) = result {
                    tokio::spawn(async move { echo(&ws).await });
                }
            }
        });
        let jar = Arc::new(CookieJar::new());
        let options = ClientWebSocketOptions {
            cookies: Some(jar.clone()),
            credentials: Some(Credentials {
                user: "u".into(),
                password: "p".into(),
            }),
            // Loopback test server: Basic over ws:// is opted into.
            allow_basic_over_cleartext: true,
            ..Default::default()
        };
        let ws = common::connect(&format!("ws://127.0.0.1:{port}/rooms/a"), options.clone())
            .await
            .unwrap();
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        // /rooms cookies are not sent to /lobby.
        let ws = common::connect(&format!("ws://127.0.0.1:{port}/lobby"), options.clone())
            .await
            .unwrap();
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        let ws = common::connect(&format!("ws://127.0.0.1:{port}/rooms/b"), options)
            .await
            .unwrap();
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
        // Each connection is challenged first (credentials are not sent before a 401).
        // Cookie order within the header is not specified here: compare as sets.
        let seen: Vec<(String, Vec<String>)> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(path, cookie)| {
                let mut c: Vec<String> = cookie
                    .as_deref()
                    .map(|c| c.split("; ").map(String::from).collect())
                    .unwrap_or_default();
                c.sort();
                (path.clone(), c)
            })
            .collect();
        let entry = |path: &str, cookies: &[&str]| {
            (
                path.to_string(),
                cookies.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            seen,
            vec![
                entry("/rooms/a", &[]),
                entry("/rooms/a", &["challenge=1"]),
                entry("/lobby", &["challenge=1"]),
                entry("/lobby", &["challenge=1"]),
                entry("/rooms/b", &["challenge=1", "room=7"]),
                entry("/rooms/b", &["challenge=1", "room=7"]),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn close_leaves_every_message_and_the_close_to_a_receive_pending_in_another_task() {
    bounded(async {
        let port = echo_server(Options::default()).await;
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let ws = Arc::new(ws);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let receiver = {
            let ws = ws.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 64];
                let mut r = {
                    let receive = ws.receive(&mut buf);
                    tokio::pin!(receive);
                    let first = std::future::poll_fn(|cx| Poll::Ready(receive.as_mut().poll(cx))).await;
                    assert!(first.is_pending());
                    started_tx.send(()).unwrap();
                    receive.await.unwrap()
                };
                loop {
                    got.push((r.message_type, buf[..r.count].to_vec()));
                    if r.message_type == MessageType::Close {
                        return got;
                    }
                    r = ws.receive(&mut buf).await.unwrap();
                }
            })
        };
        started_rx.await.unwrap();
        for m in [&b"one"[..], b"two"] {
            ws.send(m, MessageType::Text, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
        }
        // The echoes arrive before the server's Close; close() takes none of them.
        ws.close(Some(CloseCode::NORMAL), "bye").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
        let got = receiver.await.unwrap();
        assert_eq!(
            got,
            vec![
                (MessageType::Text, b"one".to_vec()),
                (MessageType::Text, b"two".to_vec()),
                (MessageType::Close, Vec::new()),
            ]
        );
        assert_eq!(ws.close_status(), Some(CloseCode::NORMAL));
    })
    .await;
}

#[tokio::test]
async fn a_second_receive_while_one_is_pending_is_refused() {
    bounded(async {
        let port = echo_server(Options::default()).await;
        let mut ws = ClientWebSocket::new();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let ws = Arc::new(ws);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let first = {
            let ws = ws.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                let r = {
                    let receive = ws.receive(&mut buf);
                    tokio::pin!(receive);
                    let first = std::future::poll_fn(|cx| Poll::Ready(receive.as_mut().poll(cx))).await;
                    assert!(first.is_pending());
                    started_tx.send(()).unwrap();
                    receive.await.unwrap()
                };
                buf[..r.count].to_vec()
            })
        };
        started_rx.await.unwrap();
        // As .NET: only one receive may be outstanding.
        let e = ws.receive(&mut [0u8; 64]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidState, "{e}");
        assert_eq!(
            ws.state(),
            State::Open,
            "a refused receive does not change the connection"
        );
        ws.send(b"one", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        assert_eq!(first.await.unwrap(), b"one");
        // The first completed: receiving is possible again, and nothing was lost.
        ws.send(b"two", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(&buf[..r.count], b"two");
        // A receive dropped while pending gives its slot back.
        {
            let receive = ws.receive(&mut buf);
            tokio::pin!(receive);
            assert!(std::future::poll_fn(|cx| Poll::Ready(receive.as_mut().poll(cx)))
                .await
                .is_pending());
        }
        ws.send(b"three", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(&buf[..r.count], b"three");
    })
    .await;
}

#[tokio::test]
async fn frames_sent_with_the_request_beyond_the_receive_buffer_all_arrive() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let options = Options {
                receive_buffer_size: 256,
                ..Options::default()
            };
            let ws = accept(tcp, &options).await.unwrap();
            let mut messages = Vec::new();
            for _ in 0..4 {
                let (_, m, _) = receive_whole(&ws, 1024).await;
                messages.push(m);
            }
            messages
        });
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        // The request and four 300-byte messages (about 1.4 KB) in one write: the
        // server reads them together, more than its 256-byte receive buffer holds.
        let mut bytes = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            .to_vec();
        for i in 0..4u8 {
            bytes.extend(masked_frame(0x2, &[i; 300]));
        }
        tcp.write_all(&bytes).await.unwrap();
        let messages = tokio::time::timeout(std::time::Duration::from_secs(5), server)
            .await
            .expect("the server never received the messages sent with the request")
            .unwrap();
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(m, &vec![i as u8; 300]);
        }
    })
    .await;
}

#[tokio::test]
async fn frames_sent_with_the_response_beyond_the_receive_buffer_all_arrive() {
    bounded(async {
        let (listener, port) = listen().await;
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut bytes = raw_accept(&mut tcp).await;
            for i in 0..4u8 {
                bytes.extend(server_frame(0x2, &[i; 300]));
            }
            tcp.write_all(&bytes).await.unwrap();
            let mut sink = vec![0u8; 4096];
            while tcp.read(&mut sink).await.unwrap_or(0) > 0 {}
        });
        let mut ws = ClientWebSocket::new();
        ws.options_mut().options.receive_buffer_size = 256;
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let received = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let mut messages = Vec::new();
            for _ in 0..4 {
                let (ty, m, _) = receive_whole(socket(&ws), 1024).await;
                assert_eq!(ty, MessageType::Binary);
                messages.push(m);
            }
            messages
        })
        .await
        .expect("the client never received the messages sent with the 101 response");
        for (i, m) in received.iter().enumerate() {
            assert_eq!(m, &vec![i as u8; 300]);
        }
    })
    .await;
}

#[tokio::test]
async fn frames_sent_with_the_request_that_fit_the_receive_buffer_arrive() {
    bounded(async {
        // The same as above within the default 64 KiB receive buffer.
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept(tcp, &Options::default()).await.unwrap();
            let mut messages = Vec::new();
            for _ in 0..4 {
                let (_, m, _) = receive_whole(&ws, 1024).await;
                messages.push(m);
            }
            messages
        });
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut bytes = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            .to_vec();
        for i in 0..4u8 {
            bytes.extend(masked_frame(0x2, &[i; 300]));
        }
        tcp.write_all(&bytes).await.unwrap();
        let messages = server.await.unwrap();
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(m, &vec![i as u8; 300]);
        }
    })
    .await;
}

#[tokio::test]
async fn the_server_answers_an_oversized_head_with_431_and_http_1_0_with_505() {
    bounded(async {
        let big = "x".repeat(2000);
        let request = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Big: {big}\r\n\r\n"
        );
        let options = Options {
            max_handshake_header_bytes: 1024,
            ..Options::default()
        };
        let (answer, err) = raw_request(request.as_bytes(), options).await;
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
        assert_eq!(err.kind(), ErrorKind::HeaderError, "{err}");

        let request = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let (answer, err) = raw_request(request.as_bytes(), Options::default()).await;
        assert!(answer.starts_with("HTTP/1.1 505 "), "{answer:?}");
        assert_eq!(err.kind(), ErrorKind::NotAWebSocket, "{err}");

        // A client whose request is too large for the server gets the 431 in its error.
        let (listener, port) = listen().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let options = Options {
                max_handshake_header_bytes: 1024,
                ..Options::default()
            };
            let _ = accept(tcp, &options).await;
        });
        let mut ws = ClientWebSocket::new();
        ws.options_mut().set_request_header("X-Big", &big);
        let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAWebSocket, "{e}");
        assert_eq!(e.response().unwrap().status, 431);
    })
    .await;
}

#[tokio::test]
async fn selecting_a_subprotocol_the_client_did_not_offer_answers_500() {
    bounded(async {
        let (listener, port) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            accept_with(tcp, &Options::default(), |_| {
                Ok(Accepted {
                    sub_protocol: Some("never-offered".into()),
                    headers: Vec::new(),
                })
            })
            .await
            .map(|_| ())
        });
        let mut ws = ClientWebSocket::new();
        ws.options_mut().options.sub_protocols = vec!["chat".into()];
        let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        // The client gets an HTTP answer (not a dropped connection).
        assert_eq!(ws.http_status_code(), Some(500), "{e}");
        let server_error = server.await.unwrap().unwrap_err();
        assert!(
            server_error.to_string().contains("never-offered"),
            "{server_error}"
        );
    })
    .await;
}
