//! Hostile and broken peers on 127.0.0.1: oversized and impossible frame
//! headers, too many handshake headers, a slowloris handshake, a peer that
//! stops reading, a TCP reset in the middle of a message, a TLS session cut
//! without close_notify, and an HTTP/2 connection dying under several
//! WebSockets. Each gets a clear error, and whatever a receive returned
//! before the failure is whole and in order.

mod common;

use std::time::Duration;

use common::frames::announce;
use common::servers::serve_one;
use common::{bounded, h2_only_client, listen, peer, raw_accept, text_frame, Ca};
use sockweave::{
    ClientWebSocket, CloseCode, ErrorKind, Incoming, MessageType, Millis, Options, RootCertificates,
    SendFlags, State,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client connected to a raw server that, after the handshake, writes
/// `bytes` and then does what `then` says with the TCP connection.
async fn client_of_raw_server<F, Fut>(bytes: Vec<u8>, then: F) -> ClientWebSocket
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (port, _server) = serve_one(move |mut tcp| async move {
        let response = raw_accept(&mut tcp).await;
        tcp.write_all(&response).await.unwrap();
        tcp.write_all(&bytes).await.unwrap();
        then(tcp).await;
    })
    .await;
    let mut ws = ClientWebSocket::new();
    ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    ws
}

/// Waits for the peer's bytes until it closes; returns them.
async fn drain<S: tokio::io::AsyncRead + Unpin>(mut tcp: S) -> Vec<u8> {
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut all)).await;
    all
}

/// The close code of the first Close frame (masked, from a client) in `bytes`.
fn client_close_code(bytes: &[u8]) -> Option<u16> {
    let mut i = 0;
    while i + 2 <= bytes.len() {
        let opcode = bytes[i] & 0x0f;
        let len = (bytes[i + 1] & 0x7f) as usize;
        assert!(len < 126, "only short frames expected from the client here");
        let payload_at = i + 2 + 4;
        if opcode == 0x8 && len >= 2 {
            let mask = &bytes[i + 2..i + 6];
            let b0 = bytes[payload_at] ^ mask[0];
            let b1 = bytes[payload_at + 1] ^ mask[1];
            return Some(u16::from_be_bytes([b0, b1]));
        }
        i = payload_at + len;
    }
    None
}

#[tokio::test]
async fn a_frame_header_announcing_more_than_max_frame_size_fails_at_once_with_1009() {
    bounded(async {
        // A 64-bit length of 32 MiB (over the 16 MiB default), and no payload at all.
        let (ws, mut server) = peer::raw(Options::default());
        server.write_all(&announce(32 << 20)).await.unwrap();
        // Decided from the header alone: the 32 MiB never come, yet the receive fails.
        let mut buf = [0u8; 64];
        let e = ws.receive(&mut buf).await.unwrap_err();
        assert_eq!(e.close_code(), Some(CloseCode::MESSAGE_TOO_BIG), "{e}");
        let sent = drain(server).await;
        assert_eq!(
            client_close_code(&sent),
            Some(1009),
            "our Close told the peer why"
        );
    })
    .await;
}

#[tokio::test]
async fn a_2_to_the_63_length_is_rejected_at_once_with_1002() {
    bounded(async {
        let (ws, mut server) = peer::raw(Options::default());
        server.write_all(&announce(1 << 63)).await.unwrap();
        let mut buf = [0u8; 64];
        let e = ws.receive(&mut buf).await.unwrap_err();
        // RFC 6455 5.2: the most significant bit of a 64-bit length must be 0.
        assert_eq!(e.close_code(), Some(CloseCode::PROTOCOL_ERROR), "{e}");
        assert_eq!(ws.state(), State::Aborted);
        assert_eq!(client_close_code(&drain(server).await), Some(1002));
    })
    .await;
}

#[tokio::test]
async fn too_many_handshake_headers_get_431() {
    bounded(async {
        let (listener, port) = listen().await;
        let options = Options {
            max_handshake_headers: 20,
            ..Options::default()
        };
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            sockweave::accept(tcp, &options).await.map(|_| ())
        });
        let mut request = String::from(
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        );
        for i in 0..30 {
            request.push_str(&format!("X-Filler-{i}: {i}\r\n"));
        }
        request.push_str("\r\n");
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let answer = String::from_utf8(drain(tcp).await).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        let e = server.await.unwrap().unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_slowloris_handshake_is_cut_off_by_the_handshake_timeout() {
    bounded(async {
        let (listener, port) = listen().await;
        let options = Options {
            handshake_timeout: Millis::Finite(600),
            ..Options::default()
        };
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            sockweave::accept(tcp, &options).await.map(|_| ())
        });
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
        // One byte every 50 ms: always some progress, never a whole request in time.
        let mut sent = 0;
        for b in request {
            if tcp.write_all(&[*b]).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            if server.is_finished() {
                break;
            }
        }
        let e = server.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        // The whole handshake has one deadline (600 ms); trickling bytes, which
        // would take 3.5 s, does not extend it.
        assert!(sent < request.len(), "the slow client got its whole request in");
        // And the server let go of the connection.
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "the server kept the slow connection open");
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_stops_reading_makes_sends_wait_with_bounded_memory() {
    bounded(async {
        let (listener, port) = listen().await;
        let (hold_tx, hold_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let response = raw_accept(&mut tcp).await;
            tcp.write_all(&response).await.unwrap();
            // Never read again; keep the connection open until told.
            let _ = hold_rx.await;
        });
        let mut ws = ClientWebSocket::new();
        ws.options_mut().options.max_pending_output = 256 * 1024;
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let message = vec![1u8; 1024 * 1024];
        let mut completed = 0usize;
        // Try to send 512 MiB; the sends must start waiting long before.
        for _ in 0..512 {
            let send = ws.send(&message, MessageType::Binary, SendFlags::END_OF_MESSAGE);
            match tokio::time::timeout(Duration::from_millis(500), send).await {
                Ok(r) => {
                    r.unwrap();
                    completed += 1;
                }
                Err(_) => break,
            }
        }
        // What completed fits in our output limit plus the kernel's socket buffers
        // (a few MiB on loopback); nothing else was queued.
        assert!(
            completed < 64,
            "{completed} MiB were accepted by a peer that reads nothing"
        );
        assert_eq!(ws.state(), State::Open);
        drop(hold_tx);
    })
    .await;
}

#[tokio::test]
async fn a_tcp_reset_mid_message_fails_after_the_whole_messages() {
    bounded(async {
        let mut bytes = text_frame("first");
        bytes.extend(text_frame("second"));
        // Half of a 100-byte frame, then a reset.
        bytes.extend_from_slice(&[0x82, 100]);
        bytes.extend_from_slice(&[7u8; 50]);
        let ws = client_of_raw_server(bytes, |tcp| async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            // SO_LINGER 0: close sends RST instead of FIN.
            tcp.set_zero_linger().unwrap();
            drop(tcp);
        })
        .await;
        let mut buf = [0u8; 256];
        for expected in ["first", "second"] {
            let r = ws.receive(&mut buf).await.unwrap();
            assert!(r.end_of_message);
            assert_eq!(&buf[..r.count], expected.as_bytes());
        }
        // The half message may come out in pieces, never marked whole; then the error.
        let mut partial = 0;
        let e = loop {
            match ws.receive(&mut buf).await {
                Ok(r) => {
                    assert!(!r.end_of_message, "a cut message was reported whole");
                    partial += r.count;
                }
                Err(e) => break e,
            }
        };
        assert!(partial <= 50);
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
        assert_eq!(ws.state(), State::Aborted);
        let e = ws
            .send(b"x", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_tls_session_cut_without_close_notify_is_a_premature_close() {
    bounded(async {
        let ca = Ca::new("sockweave test CA");
        let leaf = ca.server_cert(&["localhost"], 4000);
        let acceptor = leaf.acceptor(&[b"http/1.1"]);
        let (port, _server) = serve_one(move |tcp| async move {
            let tls = acceptor.accept(tcp).await.unwrap();
            let ws = sockweave::accept(tls, &Options::default()).await.unwrap();
            ws.send(b"before the cut", MessageType::Text, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            // Dropping the socket aborts: the TCP connection goes away with no
            // close_notify and no Close frame.
            ws.abort();
        })
        .await;
        let mut ws = ClientWebSocket::new();
        ws.options_mut().root_certificates = RootCertificates::from_pem(ca.pem().as_bytes()).unwrap();
        ws.connect(&format!("wss://localhost:{port}/")).await.unwrap();
        let mut buf = [0u8; 64];
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(&buf[..r.count], b"before the cut");
        let e = ws.receive(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
    })
    .await;
}

#[tokio::test]
async fn an_http2_connection_dying_fails_every_websocket_on_it() {
    bounded(async {
        // The server, behind a relay whose connection we cut (with RST) mid-session.
        let (listener, server_port) = listen().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut conn = sockweave::accept_h2(tcp, &Options::default()).await.unwrap();
            while let Some(Incoming::WebSocket(ws, req)) = conn.accept().await {
                tokio::spawn(async move {
                    ws.send(req.path.as_bytes(), MessageType::Text, SendFlags::END_OF_MESSAGE)
                        .await
                        .unwrap();
                    let mut buf = [0u8; 16];
                    while ws.receive(&mut buf).await.is_ok() {}
                });
            }
        });
        let (relay, port) = listen().await;
        let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut client, _) = relay.accept().await.unwrap();
            let mut server = TcpStream::connect(("127.0.0.1", server_port)).await.unwrap();
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = kill_rx => {}
            }
            client.set_zero_linger().unwrap();
        });
        let invoker = sockweave::Invoker::default();
        let mut sockets = Vec::new();
        for i in 0..4 {
            let mut ws = h2_only_client();
            ws.connect_with(&format!("ws://127.0.0.1:{port}/{i}"), &invoker)
                .await
                .unwrap();
            let mut buf = [0u8; 16];
            let r = ws.receive(&mut buf).await.unwrap();
            assert_eq!(&buf[..r.count], format!("/{i}").as_bytes());
            sockets.push(ws);
        }
        assert_eq!(invoker.connections_opened(), 1);
        drop(kill_tx);
        for ws in &sockets {
            let mut buf = [0u8; 16];
            let e = ws.receive(&mut buf).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
            assert_eq!(ws.state(), State::Aborted);
        }
        // The dead connection is not reused: a new WebSocket opens a new one.
        let mut again = h2_only_client();
        let _ = again
            .connect_with(&format!("ws://127.0.0.1:{port}/again"), &invoker)
            .await;
        assert_eq!(invoker.connections_opened(), 2);
    })
    .await;
}

/// Cross-site WebSocket hijacking: with `allowed_origins`, a page from
/// another origin (or a request without `Origin`, unless allowed) gets 403 on
/// HTTP/1.1 and on HTTP/2 alike; the listed origin gets its WebSocket.
#[tokio::test]
async fn only_allowed_origins_get_a_websocket_on_either_protocol() {
    bounded(async {
        let options = Options {
            allowed_origins: vec!["https://app.example".into()],
            ..Options::default()
        };
        let (listener, port) = listen().await;
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let options = options.clone();
                tokio::spawn(async move {
                    match sockweave::accept_any(tcp, &options).await {
                        Ok(sockweave::Accepting::WebSocket(ws)) => common::echo(&ws).await,
                        Ok(sockweave::Accepting::Http2(mut conn)) => {
                            while let Some(incoming) = conn.accept().await {
                                if let sockweave::Incoming::WebSocket(ws, _) = incoming {
                                    tokio::spawn(async move { common::echo(&ws).await });
                                }
                            }
                        }
                        Err(_) => {}
                    }
                });
            }
        });
        let url = format!("ws://127.0.0.1:{port}/");
        for h2 in [false, true] {
            let client = |origin: Option<&str>| {
                let mut ws = if h2 {
                    h2_only_client()
                } else {
                    ClientWebSocket::new()
                };
                if let Some(o) = origin {
                    ws.options_mut().set_request_header("Origin", o);
                }
                ws
            };
            for origin in [Some("https://evil.example"), Some("http://app.example"), None] {
                let mut ws = client(origin);
                let e = ws.connect(&url).await.unwrap_err();
                assert!(e.to_string().contains("403"), "h2={h2} origin={origin:?}: {e}");
            }
            let mut ws = client(Some("https://app.example"));
            ws.connect(&url).await.unwrap_or_else(|e| panic!("h2={h2}: {e}"));
            common::assert_echo(&ws, "hello").await;
        }
    })
    .await;
}

/// An upgrade request that announces a body is refused with 400 before any
/// of its bytes can be read as WebSocket frames (request smuggling).
#[tokio::test]
async fn an_upgrade_request_with_a_body_gets_400() {
    bounded(async {
        let (listener, port) = listen().await;
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = sockweave::accept(tcp, &Options::default()).await;
                });
            }
        });
        let head = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
        for extra in [
            "Content-Length: 5\r\n\r\nhello",
            "Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello",
            "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ] {
            let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            tcp.write_all(format!("{head}{extra}").as_bytes()).await.unwrap();
            let answer = String::from_utf8_lossy(&drain(tcp).await).into_owned();
            assert!(answer.starts_with("HTTP/1.1 400"), "{extra:?}: {answer}");
        }
    })
    .await;
}
