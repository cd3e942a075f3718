//! What `hyper_server.rs` and `axum_server.rs` check, with our
//! `ClientWebSocket` and raw clients, against a server on 127.0.0.1 that
//! runs with [`server_options`] and echoes every message.
#![allow(dead_code)]

use bytes::Bytes;
use sockweave::{ClientWebSocket, CloseCode, DeflateOptions, HttpVersion, Message, Options, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The origin the servers allow (requests without `Origin` are allowed too).
pub const ALLOWED_ORIGIN: &str = "https://app.example";

/// The servers' options: permessage-deflate with an 11-bit window for what
/// the server compresses, subprotocol `chat`, one allowed origin.
pub fn server_options() -> Options {
    Options {
        dangerous_deflate_options: Some(DeflateOptions {
            server_max_window_bits: 11,
            ..DeflateOptions::default()
        }),
        sub_protocols: vec!["chat".into()],
        allowed_origins: vec![ALLOWED_ORIGIN.into()],
        allow_missing_origin: true,
        ..Options::default()
    }
}

/// Our client, over HTTP/2 only (h2c with prior knowledge) or HTTP/1.1,
/// offering deflate with a 10-bit window for what it compresses.
pub fn client(http2: bool) -> ClientWebSocket {
    let mut ws = if http2 {
        crate::common::h2_only_client()
    } else {
        ClientWebSocket::new()
    };
    let o = ws.options_mut();
    o.add_sub_protocol("superchat").add_sub_protocol("chat");
    o.set_dangerous_deflate_options(Some(DeflateOptions {
        client_max_window_bits: 10,
        ..DeflateOptions::default()
    }));
    ws
}

/// Connects, checks the handshake (status, version, subprotocol, the exact
/// deflate answer), echoes messages of 0 B, 16 B and 100 KiB of each type,
/// and closes.
pub async fn echo_session(url: &str, http2: bool) {
    let mut ws = client(http2);
    ws.options_mut().set_request_header("Origin", ALLOWED_ORIGIN);
    ws.connect(url).await.unwrap();
    let version = if http2 {
        HttpVersion::Http2
    } else {
        HttpVersion::Http11
    };
    assert_eq!(ws.http_version(), Some(version));
    let response = ws.http_response().unwrap();
    assert_eq!(response.status().as_u16(), if http2 { 200 } else { 101 });
    assert_eq!(ws.http_status_code(), Some(response.status().as_u16()));
    assert_eq!(
        response.version(),
        if http2 {
            http::Version::HTTP_2
        } else {
            http::Version::HTTP_11
        }
    );
    // The engine's answer to "client_max_window_bits=10" under a server limit of 11.
    assert_eq!(
        response.headers()["sec-websocket-extensions"],
        "permessage-deflate; server_max_window_bits=11; client_max_window_bits=10"
    );
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    assert_eq!(response.headers().contains_key("sec-websocket-accept"), !http2);
    assert_eq!(ws.sub_protocol().as_deref(), Some("chat"));

    let mut ws = ws.into_websocket().unwrap();
    let compressible: Vec<u8> = (0..100 * 1024).map(|i| b"sockweave "[i % 10]).collect();
    let noisy: Vec<u8> = (0..100 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let messages = [
        Message::Binary(Vec::new()),
        Message::Text(String::new()),
        Message::Binary((0..16).collect()),
        Message::Text("sixteen bytes ..".into()),
        Message::Binary(compressible.clone()),
        Message::Binary(noisy),
        Message::Text(String::from_utf8(compressible).unwrap()),
    ];
    for m in &messages {
        ws.send_message(m).await.unwrap();
    }
    for m in &messages {
        let back = ws
            .receive_message()
            .await
            .unwrap()
            .expect("the server closed early");
        assert_eq!(&back, m, "a {} B message came back different", m.as_bytes().len());
    }
    ws.close(Some(CloseCode::NORMAL), "done").await.unwrap();
    assert_eq!(ws.close_status(), Some(CloseCode::NORMAL));
    assert_eq!(ws.state(), State::Closed);
}

/// Connects with `origin` and expects the server to refuse; returns the
/// status the client saw.
pub async fn refused_origin(url: &str, http2: bool, origin: &str) -> u16 {
    let mut ws = client(http2);
    ws.options_mut().set_request_header("Origin", origin);
    let error = ws.connect(url).await.unwrap_err();
    assert_eq!(error.kind(), sockweave::ErrorKind::NotAWebSocket, "{error}");
    let status = error.response().expect("a refusal has a response").status;
    assert_eq!(ws.http_status_code(), Some(status));
    let response = ws.http_response().expect("the refusal is kept");
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    status
}

/// Sends an HTTP/1.1 request head and reads the response: status, head, body.
pub async fn http1(port: u16, request: &str) -> (u16, String, String) {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let (head, length) = loop {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed without a response");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            got.drain(..end + 4);
            break (head, length);
        }
    };
    while got.len() < length {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed in the middle of the body");
        got.extend_from_slice(&buf[..n]);
    }
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, String::from_utf8(got).unwrap())
}

/// A WebSocket upgrade request head with this `Sec-WebSocket-Version`.
pub fn upgrade_request(version: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\r\n"
    )
}

/// Sends an HTTP/2 extended CONNECT (h2c) for `path` with `:protocol = websocket` and
/// these headers, after checking the server allows it; returns the
/// response's status, headers and body.
pub async fn h2_connect(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, http::HeaderMap, String) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (client, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let mut ping = connection.ping_pong().unwrap();
    tokio::spawn(connection);
    // The server's SETTINGS come before its answer to our PING.
    ping.ping(h2::Ping::opaque()).await.unwrap();
    let mut client = client.ready().await.unwrap();
    assert!(
        client.is_extended_connect_protocol_enabled(),
        "the server does not announce SETTINGS_ENABLE_CONNECT_PROTOCOL"
    );
    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .version(http::Version::HTTP_2)
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .extension(h2::ext::Protocol::from_static("websocket"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let (response, _send) = client.send_request(request.body(()).unwrap(), false).unwrap();
    let response = response.await.unwrap();
    let (parts, mut body) = response.into_parts();
    let mut text = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk: Bytes = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        text.extend_from_slice(&chunk);
    }
    (
        parts.status.as_u16(),
        parts.headers,
        String::from_utf8(text).unwrap(),
    )
}
