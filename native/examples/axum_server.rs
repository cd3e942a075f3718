//! An axum 0.8 app whose WebSockets are sockweave's, through the
//! `sockweave::axum::WebSocketUpgrade` extractor: every message is echoed.
//! HTTP/1.1 and HTTP/2 (h2c with prior knowledge; `axum::serve` turns on
//! extended CONNECT) on one port. `GET /page` is a small HTML page; every
//! other path is the echo endpoint (routed with `any`, since an HTTP/2
//! WebSocket is a `CONNECT`).
//!
//! ```sh
//! cargo run --example axum_server --features axum -- [ADDR] [--deflate]
//!     [--allow-origin ORIGIN]... [--allow-missing-origin] [--log]
//! ```
//!
//! `--log` prints a line for every WebSocket answered: HTTP version, path,
//! status, subprotocol and the `Sec-WebSocket-Extensions` answer.
//!
//! ADDR defaults to 127.0.0.1:9001 (port 0: any free port). The first line
//! printed is `listening on ws://ADDR/`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::{any, get};
use axum::Router;
use sockweave::axum::WebSocketUpgrade;
use sockweave::{DeflateOptions, Options};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, options, log) = parse_args()?;
    let app = Router::new()
        .route("/page", get(page))
        .fallback(any(echo))
        .with_state(Arc::new(Setup { options, log }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on ws://{}/", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
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

fn parse_args() -> Result<(String, Options, bool), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9001");
    let mut options = Options::default();
    let mut log = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--deflate" => options.dangerous_deflate_options = Some(DeflateOptions::default()),
            "--allow-origin" => options
                .allowed_origins
                .push(args.next().ok_or("--allow-origin needs a value")?),
            "--allow-missing-origin" => options.allow_missing_origin = true,
            "--log" => log = true,
            _ if !a.starts_with('-') => addr = a,
            _ => return Err(format!("unknown option {a}; see the top of examples/axum_server.rs").into()),
        }
    }
    Ok((addr, options, log))
}
