//! sockweave inside a hyper 1.x server (`sockweave::hyper::upgrade`), on
//! 127.0.0.1: our `ClientWebSocket` over HTTP/1.1 and over HTTP/2 extended
//! CONNECT (h2c), with permessage-deflate negotiated and messages of 0 B,
//! 16 B and 100 KiB echoed; refusals (a bad version, a disallowed Origin,
//! a plain request) with their statuses, over both protocols.

mod common;
mod frameworks;

use std::convert::Infallible;
use std::sync::Arc;

use common::bounded;
use frameworks::{echo_session, h2_connect, http1, refused_origin, server_options, upgrade_request};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sockweave::Options;

/// A hyper server (both protocols on one port, extended CONNECT on) whose
/// every request is a WebSocket echo; returns its port.
async fn hyper_echo_server(options: Options) -> u16 {
    let (listener, port) = common::listen().await;
    let options = Arc::new(options);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let options = options.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, options.clone()));
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder.http2().enable_connect_protocol();
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    port
}

async fn handle(mut req: Request<Incoming>, options: Arc<Options>) -> Result<Response<String>, Infallible> {
    match sockweave::hyper::upgrade(&mut req, &options) {
        Ok((response, upgrade)) => {
            assert_eq!(upgrade.sub_protocol(), Some("chat"));
            tokio::spawn(async move {
                let mut ws = upgrade.await.unwrap();
                while let Some(m) = ws.receive_message().await.unwrap() {
                    ws.send_message(&m).await.unwrap();
                }
            });
            Ok(response)
        }
        Err(refusal) => Ok(refusal.to_response()),
    }
}

#[tokio::test]
async fn http1_upgrade_echoes_with_deflate() {
    bounded(async {
        let port = hyper_echo_server(server_options()).await;
        echo_session(&format!("ws://127.0.0.1:{port}/chat"), false).await;
    })
    .await;
}

#[tokio::test]
async fn http2_extended_connect_echoes_with_deflate() {
    bounded(async {
        let port = hyper_echo_server(server_options()).await;
        echo_session(&format!("ws://127.0.0.1:{port}/chat"), true).await;
    })
    .await;
}

#[tokio::test]
async fn both_protocols_share_one_server() {
    bounded(async {
        let port = hyper_echo_server(server_options()).await;
        let url = format!("ws://127.0.0.1:{port}/");
        tokio::join!(echo_session(&url, false), echo_session(&url, true));
    })
    .await;
}

#[tokio::test]
async fn a_bad_version_gets_426_naming_13() {
    bounded(async {
        let port = hyper_echo_server(server_options()).await;
        let (status, head, body) = http1(port, &upgrade_request("8")).await;
        assert_eq!(status, 426, "{head}");
        let head = head.to_ascii_lowercase();
        assert!(head.contains("\r\nsec-websocket-version: 13"), "{head}");
        assert!(head.contains("\r\nupgrade: websocket"), "{head}");
        assert!(body.contains("\"8\" is not supported"), "{body}");

        // Over HTTP/2: the same status, and no connection-specific Upgrade header.
        let (status, headers, body) = h2_connect(port, "/", &[("sec-websocket-version", "8")]).await;
        assert_eq!(status, 426);
        assert_eq!(headers["sec-websocket-version"], "13");
        assert!(!headers.contains_key("upgrade"));
        assert!(body.contains("\"8\" is not supported"), "{body}");
    })
    .await;
}

#[tokio::test]
async fn a_disallowed_origin_gets_403() {
    bounded(async {
        let port = hyper_echo_server(server_options()).await;
        let url = format!("ws://127.0.0.1:{port}/");
        assert_eq!(refused_origin(&url, false, "https://evil.example").await, 403);
        assert_eq!(refused_origin(&url, true, "https://evil.example").await, 403);
    })
    .await;
}

#[tokio::test]
async fn a_plain_request_is_told_what_is_missing() {
    bounded(async {
        let port = hyper_echo_server(server_options()).await;
        let (status, _, body) = http1(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
        assert_eq!(status, 426);
        assert!(body.contains("Upgrade header"), "{body}");
        // An HTTP/2 CONNECT with :protocol but no Sec-WebSocket-Version.
        let (status, _, body) = h2_connect(port, "/", &[]).await;
        assert_eq!(status, 426);
        assert!(body.contains("no Sec-WebSocket-Version"), "{body}");
    })
    .await;
}
