//! An axum 0.8 app whose WebSockets are sockweave's, through the
//! `sockweave::axum::WebSocketUpgrade` extractor: every message is echoed.
//! HTTP/1.1 and HTTP/2 (h2c with prior knowledge, or TLS with ALPN
//! `h2`/`http/1.1`; `axum::serve` turns on extended CONNECT) on one port. `GET /page` is a small HTML page; every
//! other path is the echo endpoint (routed with `any`, since an HTTP/2
//! WebSocket is a `CONNECT`).
//!
//! ```sh
//! cargo run --example axum_server --features axum -- [ADDR] [--deflate]
//!     [--allow-origin ORIGIN]... [--allow-missing-origin] [--tls-cert PEM --tls-key PEM] [--log]
//! ```
//!
//! `--log` prints a line for every WebSocket answered: HTTP version, path,
//! status, subprotocol and the `Sec-WebSocket-Extensions` answer.
//!
//! ADDR defaults to 127.0.0.1:9001 (port 0: any free port). The first line
//! printed is `listening on ws://ADDR/` (`wss://` with TLS).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::{any, get};
use axum::serve::Listener;
use axum::Router;
use sockweave::axum::WebSocketUpgrade;
use sockweave::{DeflateOptions, Options};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, options, log, tls) = parse_args()?;
    let app = Router::new()
        .route("/page", get(page))
        .fallback(any(echo))
        .with_state(Arc::new(Setup { options, log }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    match tls {
        None => {
            println!("listening on ws://{}/", listener.local_addr()?);
            axum::serve(listener, app).await?;
        }
        Some(tls) => {
            println!("listening on wss://{}/", listener.local_addr()?);
            axum::serve(TlsListener::new(listener, tls)?, app).await?;
        }
    }
    Ok(())
}

/// TLS in front of `axum::serve`, which takes any [`Listener`]: each TCP
/// connection's handshake runs in a task of its own (a client that never
/// finishes it is dropped after 10 s), and finished ones are handed to axum.
struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    fn new(tcp: TcpListener, tls: TlsAcceptor) -> std::io::Result<TlsListener> {
        let addr = tcp.local_addr()?;
        let (done, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Ok((stream, peer)) = tcp.accept().await {
                let (tls, done) = (tls.clone(), done.clone());
                tokio::spawn(async move {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(Duration::from_secs(10), tls.accept(stream)).await
                    {
                        let _ = done.send((stream, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener { ready, addr })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The TCP listener failed: no connection will come again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

async fn page() -> Html<&'static str> {
    Html("<!doctype html><title>sockweave on axum</title><p>WebSocket echo on any other path.</p>\n")
}

/// The app's state: the WebSocket options, and whether to log.
struct Setup {
    options: Options,
    log: bool,
}

/// The echo endpoint: the options (deflate, Origin policy, limits) come from
/// the app's state; an invalid request gets its 4xx from the extractor, a
/// refused one (an Origin not allowed) from `on_upgrade`.
async fn echo(ws: WebSocketUpgrade, State(setup): State<Arc<Setup>>) -> Response {
    let (version, path) = (ws.http_version(), ws.request().path.clone());
    let response = ws
        .options(setup.options.clone())
        .protocols(["chat"])
        .on_upgrade(|mut ws| async move {
            while let Ok(Some(message)) = ws.receive_message().await {
                if ws.send_message(&message).await.is_err() {
                    break;
                }
            }
        });
    if setup.log {
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
        println!(
            "websocket {version:?} {path} status={} protocol={:?} extensions={:?}",
            response.status().as_u16(),
            header("sec-websocket-protocol"),
            header("sec-websocket-extensions"),
        );
    }
    response
}

type Parsed = (String, Options, bool, Option<TlsAcceptor>);

fn parse_args() -> Result<Parsed, Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9001");
    let mut options = Options::default();
    let mut log = false;
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--deflate" => options.dangerous_deflate_options = Some(DeflateOptions::default()),
            "--allow-origin" => options
                .allowed_origins
                .push(args.next().ok_or("--allow-origin needs a value")?),
            "--allow-missing-origin" => options.allow_missing_origin = true,
            "--log" => log = true,
            "--tls-cert" => cert = Some(std::fs::read(args.next().ok_or("--tls-cert needs a file")?)?),
            "--tls-key" => key = Some(std::fs::read(args.next().ok_or("--tls-key needs a file")?)?),
            _ if !a.starts_with('-') => addr = a,
            _ => return Err(format!("unknown option {a}; see the top of examples/axum_server.rs").into()),
        }
    }
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some(TlsAcceptor::from(sockweave::tls_server_config(
            &c,
            &k,
            &[b"h2", b"http/1.1"],
        )?)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    Ok((addr, options, log, tls))
}
