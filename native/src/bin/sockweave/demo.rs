//! `sockweave demo`: a server and a client on loopback, showing what works.

use std::time::Instant;

use std::time::Duration;

use sockweave::core::handshake::parse_request;
use sockweave::{ClientWebSocket, CloseCode, DeflateOptions, MessageType, Millis, Options, SendFlags, State};
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
                if let Ok(ws) = sockweave::accept(tcp, &opts).await {
                    let _ = crate::echo::echo(&ws).await;
                    ws.finished().await;
                }
            });
        }
    });

    println!("HTTP/1.1 (RFC 6455)");
    let url = format!("ws://{addr}/echo");
    let mut client = ClientWebSocket::new();
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
    deflate(&url).await?;
    keep_alive(&url).await?;
    println!();
    println!("Not in this build yet: HTTP/2 (RFC 8441) — see the README's status.");
    Ok(0)
}

async fn deflate(url: &str) -> Res<()> {
    println!("\npermessage-deflate (RFC 7692)");
    let mut client = ClientWebSocket::new();
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
    let mut client = ClientWebSocket::new();
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
    let mut client = ClientWebSocket::new();
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
