//! `sockweave connect URL`: a command-line client.

use lexopt::prelude::*;
use sockweave::{ClientWebSocket, CloseCode, MessageType, SendFlags};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::args::{ClientArgs, Res};

pub async fn run(mut p: lexopt::Parser) -> Res<i32> {
    let mut url = None;
    let mut echo = false;
    let mut opts = ClientArgs::default();
    while let Some(arg) = p.next()? {
        match arg {
            Value(v) if url.is_none() => url = Some(v.string()?),
            Long("echo") => echo = true,
            other => {
                let name = crate::args::option_name(&other).ok_or_else(|| other.unexpected())?;
                if !opts.take(&name, &mut p)? {
                    return Err(format!("unknown option {name}").into());
                }
            }
        }
    }
    let url = url.ok_or("connect needs a URL, e.g. sockweave connect ws://127.0.0.1:9001/")?;
    let options = opts.finish()?;
    if let Some(proxy) = crate::args::proxy_note(&options, &url) {
        eprintln!("through the proxy {proxy}");
    }
    let mut ws = ClientWebSocket::with_options(options);
    if let Err(e) = ws.connect(&url).await {
        if let Some(r) = e.response() {
            eprintln!("HTTP {} {}", r.status, r.reason);
            for (k, v) in &r.headers {
                eprintln!("{k}: {v}");
            }
        }
        return Err(e.into());
    }
    let version = match ws.http_version() {
        Some(sockweave::HttpVersion::Http2) => "HTTP/2",
        _ => "HTTP/1.1",
    };
    match ws.sub_protocol() {
        Some(p) => eprintln!("connected over {version} (subprotocol {p})"),
        None => eprintln!("connected over {version}"),
    }
    let mut ws = ws.into_websocket().ok_or("not connected")?;
    if echo {
        let status = crate::echo::echo(&mut ws).await?;
        ws.finished().await;
        return Ok(
            if status == Some(CloseCode::NORMAL) || status == Some(CloseCode::NO_STATUS) {
                0
            } else {
                1
            },
        );
    }
    let sender = async {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            ws.send(line.as_bytes(), MessageType::Text, SendFlags::END_OF_MESSAGE)
                .await?;
        }
        ws.close_output(Some(CloseCode::NORMAL), "").await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    let receiver = async {
        let mut out = tokio::io::stdout();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let r = ws.receive(&mut buf).await?;
            if r.message_type == MessageType::Close {
                if ws.state() == sockweave::State::CloseReceived {
                    ws.close_output(r.close_status.filter(|c| c.is_valid_on_wire()), "")
                        .await?;
                }
                return Ok::<_, Box<dyn std::error::Error>>(r.close_status);
            }
            out.write_all(&buf[..r.count]).await?;
            if r.end_of_message {
                out.write_all(b"\n").await?;
                out.flush().await?;
            }
        }
    };
    tokio::pin!(sender);
    let mut sender_done = false;
    tokio::pin!(receiver);
    let status = loop {
        tokio::select! {
            r = &mut sender, if !sender_done => { r?; sender_done = true; }
            s = &mut receiver => break s?,
        }
    };
    ws.finished().await;
    match status {
        Some(CloseCode::NORMAL) | Some(CloseCode::NO_STATUS) | None => Ok(0),
        Some(c) => {
            eprintln!("closed by the server with status {}", c.0);
            Ok(1)
        }
    }
}
