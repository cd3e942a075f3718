//! A hyper 1.x server whose WebSockets are sockweave's: every message is
//! echoed. HTTP/1.1 upgrades and HTTP/2 extended CONNECT (RFC 8441) on one
//! port: h2c with prior knowledge, or TLS with ALPN `h2`/`http/1.1`.
//! `GET /page` is a small HTML page (browsers open HTTP/2 WebSockets only on
//! a connection they already have); every other request is a WebSocket.
//!
//! ```sh
//! cargo run --example hyper_server --features hyper -- [ADDR] [--deflate]
//!     [--allow-origin ORIGIN]... [--allow-missing-origin] [--tls-cert PEM --tls-key PEM] [--log]
//! ```
//!
//! `--log` prints a line for every WebSocket accepted: HTTP version, path,
//! subprotocol and the `Sec-WebSocket-Extensions` answer.
//!
//! ADDR defaults to 127.0.0.1:9001 (port 0: any free port). The first line
//! printed is `listening on ws://ADDR/` (or `wss://`).

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sockweave::{DeflateOptions, Options, WebSocket};

const PAGE: &str =
    "<!doctype html><title>sockweave on hyper</title><p>WebSocket echo on any other path.</p>\n";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse()?;
    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    let scheme = if args.tls.is_some() { "wss" } else { "ws" };
    println!("listening on {scheme}://{}/", listener.local_addr()?);
    let options = Arc::new((args.options, args.log));
    loop {
        let (tcp, _) = listener.accept().await?;
        let (options, tls) = (options.clone(), args.tls.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, options.clone()));
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // Lets HTTP/2 clients send extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL).
            builder.http2().enable_connect_protocol();
            let served = match tls {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .await
                    }
                    Err(_) => return,
                },
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                        .await
                }
            };
            // A client that goes away mid-request is its own business.
            drop(served);
        });
    }
}

async fn handle(
    mut req: Request<Incoming>,
    options: Arc<(Options, bool)>,
) -> Result<Response<String>, Infallible> {
    let (options, log) = &*options;
    if req.uri().path() == "/page" && req.method() == hyper::Method::GET {
        let mut page = Response::new(PAGE.to_owned());
        page.headers_mut()
            .insert("content-type", "text/html; charset=utf-8".parse().unwrap());
        return Ok(page);
    }
    match sockweave::hyper::upgrade(&mut req, options) {
        Ok((response, upgrade)) => {
            if *log {
                let extensions = response.headers().get("sec-websocket-extensions");
                println!(
                    "websocket {:?} {} protocol={:?} extensions={:?}",
                    upgrade.http_version(),
                    upgrade.request().path,
                    upgrade.sub_protocol(),
                    extensions.and_then(|v| v.to_str().ok()),
                );
            }
            tokio::spawn(async move {
                if let Ok(ws) = upgrade.await {
                    echo(ws).await;
                }
            });
            Ok(response)
        }
        // Not a WebSocket request, or refused (a disallowed Origin): 4xx with the reason.
        Err(refusal) => Ok(refusal.to_response()),
    }
}

/// Echoes every message until the client closes (its Close is answered by sockweave).
async fn echo(mut ws: WebSocket) {
    while let Ok(Some(message)) = ws.receive_message().await {
        if ws.send_message(&message).await.is_err() {
            break;
        }
    }
}

struct Args {
    addr: String,
    options: Options,
    tls: Option<tokio_rustls::TlsAcceptor>,
    log: bool,
}

impl Args {
    fn parse() -> Result<Args, Box<dyn std::error::Error>> {
        let mut addr = String::from("127.0.0.1:9001");
        let mut options = Options {
            sub_protocols: vec!["chat".into()],
            ..Options::default()
        };
        let (mut cert, mut key) = (None, None);
        let mut log = false;
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = || args.next().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--deflate" => options.dangerous_deflate_options = Some(DeflateOptions::default()),
                "--allow-origin" => options.allowed_origins.push(value()?),
                "--allow-missing-origin" => options.allow_missing_origin = true,
                "--log" => log = true,
                "--tls-cert" => cert = Some(std::fs::read(value()?)?),
                "--tls-key" => key = Some(std::fs::read(value()?)?),
                _ if !a.starts_with('-') => addr = a,
                _ => {
                    return Err(format!("unknown option {a}; see the top of examples/hyper_server.rs").into())
                }
            }
        }
        let tls = match (cert, key) {
            (Some(c), Some(k)) => Some(tokio_rustls::TlsAcceptor::from(sockweave::tls_server_config(
                &c,
                &k,
                &[b"h2", b"http/1.1"],
            )?)),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        Ok(Args {
            addr,
            options,
            tls,
            log,
        })
    }
}
