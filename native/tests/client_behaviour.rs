//! The client and server over TCP: handshake details, refusals, credentials,
//! cookies, proxies, cancellation, the Stream/Sink faces and failures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use sockweave::{
    accept_with, Accepted, ClientWebSocket, ClientWebSocketOptions, CloseCode, CookieJar, Credentials,
    ErrorKind, Message, MessageType, Millis, Options, Proxy, Rejected, SendFlags, State, WebSocket,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Decide = dyn Fn(&sockweave::ServerRequest) -> Result<Accepted, Rejected> + Send + Sync;

/// A server that runs `decide` on each request and echoes on accepted sockets.
async fn server(options: Options, decide: Arc<Decide>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (options, decide) = (options.clone(), decide.clone());
            tokio::spawn(async move {
                if let Ok((ws, _)) = accept_with(tcp, &options, |r| decide(r)).await {
                    echo(&ws).await;
                }
            });
        }
    });
    port
}

async fn echo(ws: &WebSocket) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(r) = ws.receive(&mut buf).await {
        if r.message_type == MessageType::Close {
            let _ = ws
                .close_output(r.close_status.filter(|c| c.is_valid_on_wire()), "")
                .await;
            break;
        }
        let flags = SendFlags {
            end_of_message: r.end_of_message,
            disable_compression: false,
        };
        if ws.send(&buf[..r.count], r.message_type, flags).await.is_err() {
            break;
        }
    }
    ws.finished().await;
}

fn accept_all() -> Arc<Decide> {
    Arc::new(|_| Ok(Accepted::default()))
}

async fn receive_message(ws: &ClientWebSocket) -> (MessageType, Vec<u8>) {
    let mut buf = [0u8; 1024];
    let mut out = Vec::new();
    loop {
        let r = ws.receive(&mut buf).await.unwrap();
        out.extend_from_slice(&buf[..r.count]);
        if r.end_of_message {
            return (r.message_type, out);
        }
    }
}

#[tokio::test]
async fn subprotocol_headers_and_a_large_message_in_small_pieces() {
    let options = Options {
        sub_protocols: vec!["v2".into(), "v1".into()],
        ..Default::default()
    };
    let decide: Arc<Decide> = Arc::new(|r| {
        assert_eq!(r.header("x-trace"), Some("abc"));
        assert_eq!(r.protocols, vec!["v1".to_string(), "v2".to_string()]);
        Ok(Accepted {
            sub_protocol: r
                .select_subprotocol(&["v2".to_string(), "v1".to_string()])
                .map(String::from),
            headers: vec![],
        })
    });
    let port = server(options, decide).await;
    let mut ws = ClientWebSocket::new();
    ws.options_mut()
        .add_sub_protocol("v1")
        .add_sub_protocol("v2")
        .set_request_header("X-Trace", "abc");
    assert_eq!(ws.state(), State::None);
    ws.connect(&format!("ws://127.0.0.1:{port}/path?q=1"))
        .await
        .unwrap();
    assert_eq!(ws.sub_protocol().as_deref(), Some("v2"), "server preference wins");
    assert_eq!(ws.http_status_code(), Some(101));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    ws.send(&big, MessageType::Binary, SendFlags::END_OF_MESSAGE)
        .await
        .unwrap();
    assert_eq!(receive_message(&ws).await, (MessageType::Binary, big));
    ws.send(b"par", MessageType::Text, SendFlags::PARTIAL)
        .await
        .unwrap();
    ws.send(b"ts", MessageType::Text, SendFlags::END_OF_MESSAGE)
        .await
        .unwrap();
    assert_eq!(receive_message(&ws).await, (MessageType::Text, b"parts".to_vec()));
    ws.close(Some(CloseCode::NORMAL), "bye").await.unwrap();
    assert_eq!(ws.state(), State::Closed);
    assert_eq!(ws.close_status(), Some(CloseCode::NORMAL));
}

#[tokio::test]
async fn a_refusal_is_reported_with_the_servers_response() {
    let decide: Arc<Decide> = Arc::new(|_| {
        Err(Rejected {
            status: 403,
            message: "no entry".into(),
            headers: vec![("X-Why".into(), "banned".into())],
        })
    });
    let port = server(Options::default(), decide).await;
    let mut ws = ClientWebSocket::new();
    let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAWebSocket);
    assert_eq!(e.response().map(|r| r.status), Some(403));
    assert_eq!(ws.http_status_code(), Some(403));
    let headers = ws.http_response_headers().unwrap();
    assert!(
        headers.iter().any(|(k, v)| k == "X-Why" && v == "banned"),
        "{headers:?}"
    );
}

#[tokio::test]
async fn basic_credentials_are_sent_after_a_401_challenge() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ada:secret")
    );
    let decide: Arc<Decide> = Arc::new(move |r| {
        seen.fetch_add(1, Ordering::SeqCst);
        if r.header("authorization") == Some(expected.as_str()) {
            Ok(Accepted::default())
        } else {
            Err(Rejected {
                status: 401,
                message: "who are you".into(),
                headers: vec![("WWW-Authenticate".into(), "Basic realm=\"test\"".into())],
            })
        }
    });
    let port = server(Options::default(), decide).await;
    let url = format!("ws://127.0.0.1:{port}/");
    let mut anonymous = ClientWebSocket::new();
    let e = anonymous.connect(&url).await.unwrap_err();
    assert_eq!(e.response().unwrap().status, 401);
    let mut ws = ClientWebSocket::with_options(ClientWebSocketOptions {
        credentials: Some(Credentials {
            user: "ada".into(),
            password: "secret".into(),
        }),
        ..Default::default()
    });
    ws.connect(&url).await.unwrap();
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        3,
        "anonymous, then challenge + retry"
    );
}

#[tokio::test]
async fn cookies_from_the_handshake_are_sent_next_time() {
    let decide: Arc<Decide> = Arc::new(|r| {
        let mut a = Accepted::default();
        match r.header("cookie") {
            None => a
                .headers
                .push(("Set-Cookie".into(), "session=abc; Path=/".into())),
            Some(c) => assert_eq!(c, "session=abc"),
        }
        Ok(a)
    });
    let port = server(Options::default(), decide).await;
    let jar = Arc::new(CookieJar::new());
    for _ in 0..2 {
        let mut ws = ClientWebSocket::with_options(ClientWebSocketOptions {
            cookies: Some(jar.clone()),
            ..Default::default()
        });
        ws.connect(&format!("ws://127.0.0.1:{port}/chat")).await.unwrap();
        ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
    }
    assert_eq!(
        jar.cookie_header(&format!("ws://127.0.0.1:{port}/"))
            .unwrap()
            .as_deref(),
        Some("session=abc")
    );
}

#[tokio::test]
async fn a_proxy_tunnel_with_credentials() {
    let port = server(Options::default(), accept_all()).await;
    // A minimal CONNECT proxy that wants Basic credentials.
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let count = tunnels.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = proxy.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    client.read_exact(&mut b).await.unwrap();
                    head.push(b[0]);
                }
                let head = String::from_utf8(head).unwrap();
                let target = head.split_whitespace().nth(1).unwrap().to_string();
                let auth = format!(
                    "Proxy-Authorization: Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("p:q")
                );
                if !head.contains(&auth) {
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
                let mut upstream = TcpStream::connect(&target).await.unwrap();
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let mut ws = ClientWebSocket::with_options(ClientWebSocketOptions {
        proxy: Some(Proxy::new(&format!("http://p:q@127.0.0.1:{proxy_port}")).unwrap()),
        ..Default::default()
    });
    ws.connect(&url).await.unwrap();
    ws.send(b"through", MessageType::Text, SendFlags::END_OF_MESSAGE)
        .await
        .unwrap();
    assert_eq!(receive_message(&ws).await.1, b"through");
    assert_eq!(tunnels.load(Ordering::SeqCst), 1);
    let mut no_creds = ClientWebSocket::with_options(ClientWebSocketOptions {
        proxy: Some(Proxy::new(&format!("http://127.0.0.1:{proxy_port}")).unwrap()),
        ..Default::default()
    });
    let e = no_creds.connect(&url).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Proxy);
    assert!(e.message().contains("407"), "{e}");
}

#[tokio::test]
async fn a_dropped_receive_takes_nothing() {
    let port = server(Options::default(), accept_all()).await;
    let mut ws = ClientWebSocket::new();
    ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    let mut buf = [0u8; 64];
    // Nothing has arrived: the receive is cancelled while pending.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), ws.receive(&mut buf))
            .await
            .is_err()
    );
    ws.send(b"after", MessageType::Text, SendFlags::END_OF_MESSAGE)
        .await
        .unwrap();
    assert_eq!(receive_message(&ws).await.1, b"after");
    assert_eq!(ws.state(), State::Open);
}

#[tokio::test]
async fn a_dropped_send_queues_all_or_nothing() {
    // A peer that does not read until told to: our output backs up.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let received = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let opts = Options {
            receive_buffer_size: 4096,
            ..Default::default()
        };
        let (ws, _) = accept_with(tcp, &opts, |_| Ok(Accepted::default()))
            .await
            .unwrap();
        let _ = go_rx.await;
        let mut got = Vec::new();
        let mut cur = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let r = ws.receive(&mut buf).await.unwrap();
            if r.message_type == MessageType::Close {
                ws.close_output(r.close_status, "").await.unwrap();
                ws.finished().await;
                break;
            }
            cur.extend_from_slice(&buf[..r.count]);
            if r.end_of_message {
                got.push(std::mem::take(&mut cur));
            }
        }
        got
    });
    let mut ws = ClientWebSocket::new();
    ws.options_mut().options.max_pending_output = 16 * 1024;
    ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    let mut sent = Vec::new();
    let mut dropped = 0;
    for i in 0..200u32 {
        let msg = vec![(i % 251) as u8; 64 * 1024];
        match tokio::time::timeout(
            Duration::from_millis(20),
            ws.send(&msg, MessageType::Binary, SendFlags::END_OF_MESSAGE),
        )
        .await
        {
            Ok(r) => {
                r.unwrap();
                sent.push(msg);
            }
            // Cancelled while waiting: for room (nothing queued) or for the
            // queue to drain (queued whole). Either way the socket stays usable.
            Err(_) => dropped += 1,
        }
        if dropped >= 3 {
            break;
        }
    }
    assert!(dropped >= 3, "the peer never pushed back");
    go_tx.send(()).unwrap();
    ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
    let got = received.await.unwrap();
    // Every message arrived whole and in order; cancelled ones at most whole.
    let mut s = 0;
    for m in &got {
        assert!(
            m.len() == 64 * 1024 && m.iter().all(|&b| b == m[0]),
            "a partial message arrived"
        );
        if s < sent.len() && *m == sent[s] {
            s += 1;
        }
    }
    assert_eq!(s, sent.len(), "a completed send was lost or reordered");
}

#[tokio::test]
async fn stream_sink_and_split_from_two_tasks() {
    let port = server(Options::default(), accept_all()).await;
    let mut c = ClientWebSocket::new();
    c.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    let (mut read, mut write) = c.into_websocket().unwrap().split();
    let writer = tokio::spawn(async move {
        for i in 0..1000u32 {
            SinkExt::send(&mut write, Message::Text(format!("message {i}")))
                .await
                .unwrap();
        }
        SinkExt::send(&mut write, Message::Binary(vec![1, 2, 3]))
            .await
            .unwrap();
        write.close().await.unwrap();
    });
    let mut n = 0;
    while let Some(m) = read.next().await {
        match m.unwrap() {
            Message::Text(t) => {
                assert_eq!(t, format!("message {n}"));
                n += 1;
            }
            Message::Binary(b) => assert_eq!(b, vec![1, 2, 3]),
        }
    }
    writer.await.unwrap();
    assert_eq!(n, 1000);
    assert_eq!(read.websocket().state(), State::Closed);
}

#[tokio::test]
async fn abort_and_a_vanished_peer_fail_pending_receives() {
    let port = server(Options::default(), accept_all()).await;
    let mut ws = ClientWebSocket::new();
    ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    let ws = Arc::new(ws.into_websocket().unwrap());
    let pending = {
        let ws = ws.clone();
        tokio::spawn(async move { ws.receive(&mut [0u8; 8]).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    ws.abort();
    assert!(pending.await.unwrap().is_err());
    assert_eq!(ws.state(), State::Aborted);

    // A peer that completes the handshake, sends one message, then drops TCP.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (ws, _) = accept_with(tcp, &Options::default(), |_| Ok(Accepted::default()))
            .await
            .unwrap();
        ws.send(b"last words", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        ws.abort();
    });
    let mut ws = ClientWebSocket::new();
    ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    assert_eq!(receive_message(&ws).await.1, b"last words");
    let e = ws.receive(&mut [0u8; 8]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
}

#[tokio::test]
async fn handshake_timeouts_and_http_refusals() {
    // A server that accepts TCP and never answers.
    let mute = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = mute.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _held = mute.accept().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let mut ws = ClientWebSocket::new();
    ws.options_mut().options.handshake_timeout = Millis::Finite(300);
    let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");

    // Our server answers bad requests with HTTP errors, and a silent client times out.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let results = tokio::spawn(async move {
        let mut kinds = Vec::new();
        for _ in 0..3 {
            let (tcp, _) = listener.accept().await.unwrap();
            let opts = Options {
                handshake_timeout: Millis::Finite(300),
                ..Default::default()
            };
            kinds.push(sockweave::accept(tcp, &opts).await.unwrap_err().kind());
        }
        kinds
    });
    let ask = |req: &'static str| async move {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut resp = String::new();
        let _ = tcp.read_to_string(&mut resp).await;
        resp
    };
    let r = ask("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n").await;
    assert!(
        r.starts_with("HTTP/1.1 426") && r.contains("Sec-WebSocket-Version: 13"),
        "{r}"
    );
    let r = ask("POST / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 405"), "{r}");
    let silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let kinds = results.await.unwrap();
    drop(silent);
    assert_eq!(
        kinds,
        vec![
            ErrorKind::UnsupportedVersion,
            ErrorKind::NotAWebSocket,
            ErrorKind::Timeout
        ]
    );
}

#[tokio::test]
async fn http2_requests_follow_the_version_policy() {
    use sockweave::{HttpVersion, HttpVersionPolicy};
    let port = server(Options::default(), accept_all()).await;
    let url = format!("ws://127.0.0.1:{port}/");
    for (policy, works) in [
        (HttpVersionPolicy::RequestVersionOrLower, true),
        (HttpVersionPolicy::RequestVersionExact, false),
        (HttpVersionPolicy::RequestVersionOrHigher, false),
    ] {
        let mut ws = ClientWebSocket::new();
        ws.options_mut().options.http_version = HttpVersion::Http2;
        ws.options_mut().options.http_version_policy = policy;
        let r = ws.connect(&url).await;
        assert_eq!(r.is_ok(), works, "{policy:?}: {r:?}");
        if let Err(e) = r {
            assert_eq!(e.kind(), ErrorKind::UnsupportedProtocol);
        }
    }
}
