//! sockweave in an axum 0.8 app (`sockweave::axum::WebSocketUpgrade`),
//! served by `axum::serve` on 127.0.0.1: our `ClientWebSocket` over HTTP/1.1
//! and over HTTP/2 extended CONNECT (h2c), with permessage-deflate
//! negotiated and messages of 0 B, 16 B and 100 KiB echoed; refusals by the
//! extractor (a bad version) and by `on_upgrade` (a disallowed Origin) with
//! their statuses, over both protocols.

mod common;
mod frameworks;

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use common::bounded;
use frameworks::{echo_session, h2_connect, http1, refused_origin, server_options, upgrade_request};
use sockweave::axum::WebSocketUpgrade;
use sockweave::Options;

/// The handler under test: options from the app's state, the offered
/// subprotocols visible before answering, every message echoed.
async fn echo(ws: WebSocketUpgrade, State(options): State<Arc<Options>>) -> Response {
    assert!(ws.request().protocols.iter().any(|p| p == "chat"));
    let ws = ws.options((*options).clone()).protocols(["chat"]);
    assert_eq!(ws.selected_protocol(), Some("chat"));
    ws.on_upgrade(|mut ws| async move {
        assert_eq!(ws.sub_protocol().as_deref(), Some("chat"));
        while let Some(m) = ws.receive_message().await.unwrap() {
            ws.send_message(&m).await.unwrap();
        }
    })
}

/// `axum::serve` (HTTP/1.1 and h2c, extended CONNECT on) with the echo at
/// `/chat`; returns the port.
async fn axum_echo_server(options: Options) -> u16 {
    let (listener, port) = common::listen().await;
    let app = Router::new()
        .route("/chat", any(echo))
        .with_state(Arc::new(options));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

#[tokio::test]
async fn http1_upgrade_echoes_with_deflate() {
    bounded(async {
        let port = axum_echo_server(server_options()).await;
        echo_session(&format!("ws://127.0.0.1:{port}/chat"), false).await;
    })
    .await;
}

#[tokio::test]
async fn http2_extended_connect_echoes_with_deflate() {
    bounded(async {
        let port = axum_echo_server(server_options()).await;
        echo_session(&format!("ws://127.0.0.1:{port}/chat"), true).await;
    })
    .await;
}

#[tokio::test]
async fn the_extractor_refuses_a_bad_version_with_426() {
    bounded(async {
        let port = axum_echo_server(server_options()).await;
        let request = upgrade_request("8").replace("GET / ", "GET /chat ");
        let (status, head, body) = http1(port, &request).await;
        assert_eq!(status, 426, "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("\r\nsec-websocket-version: 13"),
            "{head}"
        );
        assert!(body.contains("\"8\" is not supported"), "{body}");
    })
    .await;
}

#[tokio::test]
async fn on_upgrade_refuses_a_disallowed_origin_with_403() {
    bounded(async {
        let port = axum_echo_server(server_options()).await;
        let url = format!("ws://127.0.0.1:{port}/chat");
        assert_eq!(refused_origin(&url, false, "https://evil.example").await, 403);
        assert_eq!(refused_origin(&url, true, "https://evil.example").await, 403);
    })
    .await;
}

#[tokio::test]
async fn an_http2_connect_reaches_the_route_and_gets_its_answer() {
    bounded(async {
        let port = axum_echo_server(server_options()).await;
        // The route exists for CONNECT (`any`): the refusal is the extractor's.
        let (status, headers, body) = h2_connect(port, "/chat", &[("sec-websocket-version", "8")]).await;
        assert_eq!(status, 426, "{body}");
        assert_eq!(headers["sec-websocket-version"], "13");
        assert!(!headers.contains_key("upgrade"));
    })
    .await;
}
