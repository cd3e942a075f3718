//! `sockweave demo`: a server and a client on loopback, showing what works.

use std::time::Instant;

use std::time::Duration;

use sockweave::core::handshake::parse_request;
use sockweave::{
    Accepting, ClientWebSocket, CloseCode, DeflateOptions, HttpVersion, HttpVersionPolicy, Incoming, Invoker,
    InvokerOptions, MessageType, Millis, Options, Request, SendFlags, State,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::args::Res;

fn ok(what: &str, detail: impl std::fmt::Display) {
    println!("  [ok] {what:<38} {detail}");
}

pub async fn run() -> Res<i32> {
    println!("sockweave demo: a server and a client on 127.0.0.1, no network needed\n");
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server_opts = Options {
        sub_protocols: vec!["demo.v1".into()],
        dangerous_deflate_options: Some(DeflateOptions::default()),
        ..Options::default()
    };
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let opts = server_opts.clone();
            tokio::spawn(async move {
                // One port for HTTP/1.1 and HTTP/2 (h2c with prior knowledge).
                match sockweave::accept_any(tcp, &opts).await {
                    Ok(Accepting::WebSocket(mut ws)) => {
                        let _ = crate::echo::echo(&mut ws).await;
                        ws.finished().await;
                    }
                    Ok(Accepting::Http2(mut conn)) => {
                        while let Some(incoming) = conn.accept().await {
                            match incoming {
                                Incoming::WebSocket(mut ws, _) => {
                                    tokio::spawn(async move {
                                        let _ = crate::echo::echo(&mut ws).await;
                                    });
                                }
                                Incoming::Request(r) => {
                                    let body = format!("hello from {} {}", r.method, r.path);
                                    let _ = r.respond(200, &[], body.as_bytes());
                                }
                            }
                        }
                    }
                    Err(_) => {}
                }
            });
        }
    });

    println!("HTTP/1.1 (RFC 6455)");
    let url = format!("ws://{addr}/echo");
    let mut client = local_client();
    client.options_mut().add_sub_protocol("demo.v1");
    client.connect(&url).await?;
    ok(
        "opening handshake",
        format!(
            "{url} -> HTTP {}, subprotocol {:?}, state {:?}",
            client.http_status_code().unwrap_or(0),
            client.sub_protocol().unwrap_or_default(),
            client.state()
        ),
    );
    let mut buf = vec![0u8; 1024];
    client
        .send(
            "héllo, wörld".as_bytes(),
            MessageType::Text,
            SendFlags::END_OF_MESSAGE,
        )
        .await?;
    let r = client.receive(&mut buf).await?;
    ok(
        "text message echoed",
        format!("{:?}", std::str::from_utf8(&buf[..r.count])?),
    );

    client
        .send(b"frag", MessageType::Text, SendFlags::PARTIAL)
        .await?;
    client.send(b"men", MessageType::Text, SendFlags::PARTIAL).await?;
    client
        .send(b"ted", MessageType::Text, SendFlags::END_OF_MESSAGE)
        .await?;
    let mut whole = Vec::new();
    loop {
        let r = client.receive(&mut buf).await?;
        whole.extend_from_slice(&buf[..r.count]);
        if r.end_of_message {
            break;
        }
    }
    ok(
        "fragmented message (3 frames)",
        format!("{:?}", String::from_utf8_lossy(&whole)),
    );

    let big: Vec<u8> = (0..(4u32 << 20)).map(|i| (i * 7) as u8).collect();
    let t = Instant::now();
    client
        .send(&big, MessageType::Binary, SendFlags::END_OF_MESSAGE)
        .await?;
    let mut back = Vec::with_capacity(big.len());
    let mut pieces = 0;
    loop {
        let r = client.receive(&mut buf).await?;
        back.extend_from_slice(&buf[..r.count]);
        pieces += 1;
        if r.end_of_message {
            break;
        }
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if back != big {
        return Err("the 4 MiB binary message came back different".into());
    }
    ok(
        "4 MiB binary round trip",
        format!("{ms:.1} ms, received into a 1 KiB buffer in {pieces} pieces"),
    );

    client.close(Some(CloseCode::NORMAL), "demo done").await?;
    ok(
        "close handshake",
        format!(
            "state {:?}, server answered {:?}",
            client.state(),
            client.close_status().map(|c| c.0)
        ),
    );
    if client.state() != State::Closed {
        return Err("the close handshake did not complete".into());
    }
    http2(&addr.to_string()).await?;
    deflate(&url).await?;
    keep_alive(&url).await?;
    println!();
    println!("All shown on 127.0.0.1. The npm package and the browser build are described in the README.");
    Ok(0)
}

async fn http2(addr: &str) -> Res<()> {
    println!("\nHTTP/2 (RFC 8441), through one invoker");
    // The invoker holds the connection settings; proxies from the environment
    // do not apply to the demo's own server.
    let invoker = Invoker::new(InvokerOptions {
        use_proxy: false,
        ..InvokerOptions::default()
    });
    let mut sockets = Vec::new();
    for i in 0..3 {
        let mut ws = ClientWebSocket::new();
        ws.options_mut().options.http_version = HttpVersion::Http2;
        ws.options_mut().options.http_version_policy = HttpVersionPolicy::RequestVersionExact;
        ws.connect_with(&format!("ws://{addr}/chat/{i}"), &invoker)
            .await?;
        if ws.http_version() != Some(HttpVersion::Http2) {
            return Err("the WebSocket did not use HTTP/2".into());
        }
        sockets.push(ws);
    }
    let mut buf = [0u8; 64];
    for (i, ws) in sockets.iter().enumerate() {
        let text = format!("stream {i}");
        ws.send(text.as_bytes(), MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await?;
        let r = ws.receive(&mut buf).await?;
        if buf[..r.count] != *text.as_bytes() {
            return Err("an HTTP/2 echo came back different".into());
        }
    }
    ok(
        "3 WebSockets over h2c (extended CONNECT)",
        "each echoed a message",
    );
    let request = Request::get(&format!("http://{addr}/page"))
        .version(HttpVersion::Http2, HttpVersionPolicy::RequestVersionExact);
    let page = invoker.send(request).await?;
    ok(
        "an ordinary GET on the same connection",
        format!("{} {:?}", page.status, String::from_utf8_lossy(&page.body)),
    );
    ok("TCP connections the invoker opened", invoker.connections_opened());
    for ws in &sockets {
        ws.close(Some(CloseCode::NORMAL), "").await?;
    }
    ok(
        "close handshakes, then END_STREAM",
        "the connection stays for the next stream",
    );
    Ok(())
}

async fn deflate(url: &str) -> Res<()> {
    println!("\npermessage-deflate (RFC 7692)");
    let mut client = local_client();
    client
        .options_mut()
        .set_dangerous_deflate_options(Some(DeflateOptions {
            client_max_window_bits: 10,
            server_max_window_bits: 10,
            ..DeflateOptions::default()
        }));
    client.connect(url).await?;
    let ext = client
        .http_response_headers()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-extensions"))
        })
        .map(|(_, v)| v.clone())
        .ok_or("the server did not accept permessage-deflate")?;
    ok("negotiated", &ext);
    let json = r#"{"user":"ada","room":"general","text":"hello, this compresses well","ts":1764000000}"#;
    let mut buf = vec![0u8; 1024];
    for i in 0..100 {
        let flags = SendFlags {
            end_of_message: true,
            disable_compression: i % 10 == 9,
        };
        client.send(json.as_bytes(), MessageType::Text, flags).await?;
        let r = client.receive(&mut buf).await?;
        if &buf[..r.count] != json.as_bytes() {
            return Err("a compressed message came back different".into());
        }
    }
    ok(
        "100 JSON messages echoed",
        "window 10 both ways; every 10th sent with DisableCompression",
    );
    client.close(Some(CloseCode::NORMAL), "").await?;
    Ok(())
}

async fn keep_alive(url: &str) -> Res<()> {
    println!("\nkeep-alive");
    let mut client = local_client();
    client
        .options_mut()
        .set_keep_alive_interval(Duration::from_millis(100));
    client
        .options_mut()
        .set_keep_alive_timeout(Duration::from_millis(300));
    client.connect(url).await?;
    // No receive pending: PONGs are still read, so no false abort.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    ok(
        "PING/PONG, no receive pending for 1 s",
        format!("state {:?} (interval 100 ms, timeout 300 ms)", client.state()),
    );
    if client.state() != State::Open {
        return Err("keep-alive aborted a live connection".into());
    }
    client.close(Some(CloseCode::NORMAL), "").await?;

    // A peer that completes the handshake, then goes silent.
    let silent = TcpListener::bind("127.0.0.1:0").await?;
    let addr = silent.local_addr()?;
    tokio::spawn(async move {
        if let Ok((mut tcp, _)) = silent.accept().await {
            // Answer the handshake by hand, then neither read nor write: like a
            // crashed server whose TCP connection stays up.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while let Ok(n) = tcp.read(&mut buf).await {
                if n == 0 {
                    return;
                }
                head.extend_from_slice(&buf[..n]);
                if let Ok(Some((req, _))) = parse_request(&head, Default::default()) {
                    if let Ok(resp) = req.accept_response(None, &[], &[]) {
                        let _ = tcp.write_all(&resp).await;
                    }
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    let mut client = local_client();
    client.options_mut().options.keep_alive_interval = Some(Millis::Finite(100));
    client.options_mut().options.keep_alive_timeout = Some(Millis::Finite(300));
    client.connect(&format!("ws://{addr}/")).await?;
    let t = Instant::now();
    let mut buf = [0u8; 16];
    match client.receive(&mut buf).await {
        Err(e) => ok(
            "silent peer detected",
            format!("after {} ms: {}", t.elapsed().as_millis(), e.message()),
        ),
        Ok(_) => return Err("a silent peer was not detected".into()),
    }
    Ok(())
}

/// A client for the demo's own server on 127.0.0.1: proxies from the
/// environment do not apply (the demo needs no network).
fn local_client() -> ClientWebSocket {
    let mut client = ClientWebSocket::new();
    client.options_mut().use_proxy = false;
    client
}
