//! `sockweave demo`: a server and a client on loopback, showing what works.

use std::time::Instant;

use sockweave::{ClientWebSocket, CloseCode, MessageType, Options, SendFlags, State};
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
    client.send("héllo, wörld".as_bytes(), MessageType::Text, SendFlags::END_OF_MESSAGE).await?;
    let r = client.receive(&mut buf).await?;
    ok("text message echoed", format!("{:?}", std::str::from_utf8(&buf[..r.count])?));

    client.send(b"frag", MessageType::Text, SendFlags::PARTIAL).await?;
    client.send(b"men", MessageType::Text, SendFlags::PARTIAL).await?;
    client.send(b"ted", MessageType::Text, SendFlags::END_OF_MESSAGE).await?;
    let mut whole = Vec::new();
    loop {
        let r = client.receive(&mut buf).await?;
        whole.extend_from_slice(&buf[..r.count]);
        if r.end_of_message {
            break;
        }
    }
    ok("fragmented message (3 frames)", format!("{:?}", String::from_utf8_lossy(&whole)));

    let big: Vec<u8> = (0..(4u32 << 20)).map(|i| (i * 7) as u8).collect();
    let t = Instant::now();
    client.send(&big, MessageType::Binary, SendFlags::END_OF_MESSAGE).await?;
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
        format!("state {:?}, server answered {:?}", client.state(), client.close_status().map(|c| c.0)),
    );
    if client.state() != State::Closed {
        return Err("the close handshake did not complete".into());
    }
    println!();
    println!("Not in this build yet: HTTP/2 (RFC 8441), permessage-deflate, keep-alive timers.");
    Ok(0)
}
