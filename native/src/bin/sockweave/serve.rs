//! `sockweave serve ADDR`: a WebSocket server (an echo server with `--echo`)
//! speaking HTTP/1.1 and HTTP/2 (h2c with prior knowledge, or TLS with ALPN)
//! on the same port. Ordinary HTTP/2 requests get a small answer: `GET` a
//! line of text, `POST` its own body back.

use std::sync::Arc;

use lexopt::prelude::*;
use sockweave::{Accepting, Incoming, MessageType, Options, Transport};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::args::{common, Res};

pub async fn run(mut p: lexopt::Parser) -> Res<i32> {
    let mut addr = None;
    let mut echo = false;
    let mut cert = None;
    let mut key = None;
    let mut opts = Options::default();
    while let Some(arg) = p.next()? {
        match arg {
            Value(v) if addr.is_none() => addr = Some(v.string()?),
            Long("echo") => echo = true,
            Long("tls-cert") => cert = Some(std::fs::read(p.value()?)?),
            Long("tls-key") => key = Some(std::fs::read(p.value()?)?),
            Long("allow-origin") => opts.allowed_origins.push(p.value()?.string()?),
            Long("allow-missing-origin") => opts.allow_missing_origin = true,
            Long("idle-timeout") => opts.idle_timeout = crate::args::parse_millis(&p.value()?.string()?)?,
            Long("max-concurrent-streams") => opts.max_concurrent_streams = p.value()?.parse()?,
            other => {
                let name = crate::args::option_name(&other).ok_or_else(|| other.unexpected())?;
                if !common(&name, &mut p, &mut opts)? {
                    return Err(format!("unknown option {name}").into());
                }
            }
        }
    }
    opts.validate()?;
    let addr = addr.ok_or("serve needs an address, e.g. sockweave serve 127.0.0.1:9001")?;
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some(tokio_rustls::TlsAcceptor::from(sockweave::tls_server_config(
            &c,
            &k,
            &[b"h2", b"http/1.1"],
        )?)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let listener = TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    // Scripts read this line to learn the port when ADDR ends in :0.
    println!("listening on {scheme}://{local}/");
    let opts = Arc::new(opts);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let opts = opts.clone();
        tokio::spawn(async move {
            let stream: Box<dyn Transport> = match tls {
                // The handshake timeout covers TLS too: a client that never
                // finishes its TLS handshake is let go like a silent plain one.
                Some(acceptor) => match tokio::time::timeout(limit(&opts), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => Box::new(s),
                    Ok(Err(e)) => {
                        eprintln!("{peer}: TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => {
                        eprintln!("{peer}: the TLS handshake did not finish within handshakeTimeout");
                        return;
                    }
                },
                None => Box::new(tcp),
            };
            if let Err(e) = handle(stream, &opts, echo).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// `handshakeTimeout` as a timer duration.
fn limit(opts: &Options) -> std::time::Duration {
    match opts.handshake_timeout {
        sockweave::Millis::Finite(ms) => std::time::Duration::from_millis(ms),
        sockweave::Millis::Infinite => std::time::Duration::from_secs(100 * 365 * 24 * 3600),
    }
}

async fn handle(stream: Box<dyn Transport>, opts: &Options, echo: bool) -> Res<()> {
    match sockweave::accept_any(stream, opts).await? {
        Accepting::WebSocket(ws) => serve_websocket(ws, echo).await,
        Accepting::Http2(mut conn) => {
            while let Some(incoming) = conn.accept().await {
                match incoming {
                    Incoming::WebSocket(ws, _) => {
                        tokio::spawn(async move {
                            if let Err(e) = serve_websocket(ws, echo).await {
                                eprintln!("HTTP/2 WebSocket: {e}");
                            }
                        });
                    }
                    Incoming::Request(r) => {
                        let body = if r.method == "POST" {
                            r.body.clone()
                        } else {
                            format!("sockweave {} {}\n", r.method, r.path).into_bytes()
                        };
                        let _ = r.respond(200, &[("content-type".into(), "text/plain".into())], &body);
                    }
                }
            }
            Ok(())
        }
    }
}

async fn serve_websocket(mut ws: sockweave::WebSocket, echo: bool) -> Res<()> {
    if echo {
        crate::echo::echo(&mut ws).await?;
    } else {
        let mut out = tokio::io::stdout();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let r = ws.receive(&mut buf).await?;
            if r.message_type == MessageType::Close {
                ws.close_output(r.close_status.filter(|c| c.is_valid_on_wire()), "")
                    .await?;
                break;
            }
            out.write_all(&buf[..r.count]).await?;
            if r.end_of_message {
                out.write_all(b"\n").await?;
            }
        }
    }
    ws.finished().await;
    Ok(())
}
