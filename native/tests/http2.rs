//! WebSockets over HTTP/2 (RFC 8441) between our client and our server on
//! 127.0.0.1: h2c with prior knowledge and TLS with ALPN, every cell of
//! version x policy x server capability, the invoker's shared connection,
//! the incompatible-options rule, and how stream ends map to close and abort.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{assert_echo, bounded, echo, h2_only_client, Ca};
use sockweave::{
    accept_any, Accepting, ClientWebSocket, ClientWebSocketOptions, CloseCode, CookieJar, DeflateOptions,
    ErrorKind, HttpVersion, HttpVersionPolicy, Incoming, Invoker, InvokerOptions, MessageType, Options,
    Proxy, Request, RootCertificates, SendFlags, State, Transport,
};
use tokio::net::TcpListener;

/// What a test server speaks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Speaks {
    /// HTTP/1.1 and HTTP/2 with extended CONNECT (our `accept_any`).
    Both,
    /// HTTP/1.1 only (TLS ALPN offers only http/1.1).
    Http1Only,
    /// HTTP/2 without SETTINGS_ENABLE_CONNECT_PROTOCOL (a plain `h2` server),
    /// and HTTP/1.1 for clients that ask for it by ALPN.
    H2WithoutConnect,
}

struct Server {
    port: u16,
    /// TCP connections accepted.
    connections: Arc<AtomicUsize>,
    ca: Option<Ca>,
}

/// Serves ordinary HTTP/2 requests (GET: a line; POST: its body back) and echoes WebSockets.
async fn serve_connection(io: Box<dyn Transport>, options: Options, speaks: Speaks, alpn_h2: bool) {
    if speaks == Speaks::H2WithoutConnect && alpn_h2 {
        let Ok(mut conn) = h2::server::handshake(io).await else {
            return;
        };
        while let Some(Ok((_req, mut respond))) = conn.accept().await {
            let response = http::Response::builder().status(404).body(()).unwrap();
            let _ = respond.send_response(response, true);
        }
        return;
    }
    let accepting = if speaks == Speaks::Http1Only {
        sockweave::accept(io, &options).await.map(Accepting::WebSocket)
    } else {
        accept_any(io, &options).await
    };
    match accepting {
        Ok(Accepting::WebSocket(ws)) => echo(&ws).await,
        Ok(Accepting::Http2(mut conn)) => {
            while let Some(incoming) = conn.accept().await {
                match incoming {
                    Incoming::WebSocket(ws, _) => {
                        tokio::spawn(async move { echo(&ws).await });
                    }
                    Incoming::Request(r) => {
                        let body = if r.method == "POST" {
                            r.body.clone()
                        } else {
                            format!("{} {}", r.method, r.path).into_bytes()
                        };
                        r.respond(200, &[("x-served-by".into(), "test".into())], &body)
                            .unwrap();
                    }
                }
            }
        }
        Err(_) => {}
    }
}

async fn server(speaks: Speaks, tls: bool, options: Options) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let (acceptor, ca) = if tls {
        let ca = Ca::new("h2 test CA");
        let leaf = ca.server_cert(&["localhost"], 4000);
        let alpn: &[&[u8]] = match speaks {
            Speaks::Http1Only => &[b"http/1.1"],
            _ => &[b"h2", b"http/1.1"],
        };
        let config =
            sockweave::tls_server_config(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes(), alpn).unwrap();
        (Some(tokio_rustls::TlsAcceptor::from(config)), Some(ca))
    } else {
        (None, None)
    };
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let (acceptor, options) = (acceptor.clone(), options.clone());
            tokio::spawn(async move {
                let (io, alpn_h2): (Box<dyn Transport>, bool) = match acceptor {
                    Some(a) => {
                        let Ok(tls) = a.accept(tcp).await else { return };
                        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                        (Box::new(tls), h2)
                    }
                    // Without TLS a client can only say "HTTP/2" with the preface.
                    None => (Box::new(tcp), true),
                };
                serve_connection(io, options, speaks, alpn_h2).await;
            });
        }
    });
    Server {
        port,
        connections,
        ca,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        match self.ca {
            Some(_) => format!("wss://localhost:{}{path}", self.port),
            None => format!("ws://127.0.0.1:{}{path}", self.port),
        }
    }

    fn http_url(&self, path: &str) -> String {
        match self.ca {
            Some(_) => format!("https://localhost:{}{path}", self.port),
            None => format!("http://127.0.0.1:{}{path}", self.port),
        }
    }

    fn invoker_options(&self) -> InvokerOptions {
        InvokerOptions {
            root_certificates: match &self.ca {
                Some(ca) => RootCertificates::from_pem(ca.pem().as_bytes()).unwrap(),
                None => RootCertificates::default(),
            },
            ..Default::default()
        }
    }

    fn client(&self, version: HttpVersion, policy: HttpVersionPolicy) -> ClientWebSocket {
        let io = self.invoker_options();
        let mut options = ClientWebSocketOptions {
            root_certificates: io.root_certificates,
            ..Default::default()
        };
        options.options.http_version = version;
        options.options.http_version_policy = policy;
        ClientWebSocket::with_options(options)
    }
}

#[tokio::test]
async fn h2c_prior_knowledge_carries_messages_both_ways() {
    bounded(async {
        let s = server(Speaks::Both, false, Options::default()).await;
        let mut ws = s.client(HttpVersion::Http2, HttpVersionPolicy::RequestVersionExact);
        ws.connect(&s.url("/chat")).await.unwrap();
        assert_eq!(ws.http_version(), Some(HttpVersion::Http2));
        assert_eq!(ws.http_status_code(), Some(200));
        assert_echo(&ws, "over HTTP/2").await;
        // A message far larger than the stream window and the receive buffer.
        let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        // Sent and received at once: the echo holds only a window's worth in flight.
        let send = ws.send(&big, MessageType::Binary, SendFlags::END_OF_MESSAGE);
        let receive = async {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let r = ws.receive(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..r.count]);
                if r.end_of_message {
                    return got;
                }
            }
        };
        let (sent, got) = tokio::join!(send, receive);
        sent.unwrap();
        assert!(got == big, "the 3 MiB message came back changed");
        ws.close(Some(CloseCode::NORMAL), "done").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
        assert_eq!(ws.close_status(), Some(CloseCode::NORMAL));
    })
    .await;
}

#[tokio::test]
async fn subprotocol_and_deflate_are_negotiated_over_http2() {
    bounded(async {
        let options = Options {
            sub_protocols: vec!["v2.chat".into()],
            dangerous_deflate_options: Some(DeflateOptions::default()),
            ..Options::default()
        };
        let s = server(Speaks::Both, true, options).await;
        let mut ws = s.client(HttpVersion::Http2, HttpVersionPolicy::RequestVersionExact);
        ws.options_mut()
            .add_sub_protocol("v1.chat")
            .add_sub_protocol("v2.chat");
        ws.options_mut().options.dangerous_deflate_options = Some(DeflateOptions::default());
        ws.connect(&s.url("/")).await.unwrap();
        assert_eq!(ws.http_version(), Some(HttpVersion::Http2));
        assert_eq!(ws.sub_protocol().as_deref(), Some("v2.chat"));
        let extensions = ws
            .http_response_headers()
            .unwrap()
            .iter()
            .find(|(k, _)| k == "sec-websocket-extensions")
            .map(|(_, v)| v.clone());
        assert!(
            extensions
                .as_deref()
                .is_some_and(|v| v.starts_with("permessage-deflate")),
            "{extensions:?}"
        );
        assert_echo(&ws, &"compressible text ".repeat(1000)).await;
    })
    .await;
}

/// Every cell of version x policy x server capability, over TLS and without.
#[tokio::test]
async fn version_policy_table() {
    use HttpVersion::{Http11, Http2};
    use HttpVersionPolicy::{
        RequestVersionExact as Exact, RequestVersionOrHigher as OrHigher, RequestVersionOrLower as OrLower,
    };
    // (version, policy, server, tls) -> Some(version used) or None (UnsupportedProtocol).
    let cases = [
        // Over TLS, ALPN decides.
        (Http11, OrLower, Speaks::Both, true, Some(Http11)),
        (Http11, Exact, Speaks::Both, true, Some(Http11)),
        (Http11, OrHigher, Speaks::Both, true, Some(Http2)),
        (Http2, OrLower, Speaks::Both, true, Some(Http2)),
        (Http2, Exact, Speaks::Both, true, Some(Http2)),
        (Http2, OrHigher, Speaks::Both, true, Some(Http2)),
        (Http11, OrHigher, Speaks::Http1Only, true, Some(Http11)),
        (Http2, OrLower, Speaks::Http1Only, true, Some(Http11)),
        (Http2, Exact, Speaks::Http1Only, true, None),
        (Http2, OrHigher, Speaks::Http1Only, true, None),
        (Http11, OrHigher, Speaks::H2WithoutConnect, true, Some(Http11)),
        (Http2, OrLower, Speaks::H2WithoutConnect, true, Some(Http11)),
        (Http2, Exact, Speaks::H2WithoutConnect, true, None),
        (Http2, OrHigher, Speaks::H2WithoutConnect, true, None),
        // Without TLS: h2c by prior knowledge only when HTTP/1.1 is not allowed.
        (Http11, OrLower, Speaks::Both, false, Some(Http11)),
        (Http11, OrHigher, Speaks::Both, false, Some(Http11)),
        (Http2, OrLower, Speaks::Both, false, Some(Http11)),
        (Http2, Exact, Speaks::Both, false, Some(Http2)),
        (Http2, OrHigher, Speaks::Both, false, Some(Http2)),
        (Http2, Exact, Speaks::Http1Only, false, None),
        (Http2, Exact, Speaks::H2WithoutConnect, false, None),
        (Http2, OrLower, Speaks::Http1Only, false, Some(Http11)),
    ];
    for (version, policy, speaks, tls, expected) in cases {
        let what = format!("{version:?} {policy:?} against {speaks:?} (TLS {tls})");
        bounded(async {
            let s = server(speaks, tls, Options::default()).await;
            let mut ws = s.client(version, policy);
            let result = ws.connect(&s.url("/")).await;
            match expected {
                Some(v) => {
                    result.unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(ws.http_version(), Some(v), "{what}");
                    assert_echo(&ws, &what).await;
                }
                None => {
                    let e = result.expect_err(&what);
                    assert_eq!(e.kind(), ErrorKind::UnsupportedProtocol, "{what}: {e}");
                    assert_eq!(ws.state(), State::Closed, "{what}");
                }
            }
        })
        .await;
    }
}

#[tokio::test]
async fn a_refused_extended_connect_reports_the_status() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut conn = sockweave::accept_h2_with(tcp, &Options::default(), |_| {
                Err(sockweave::Rejected {
                    status: 403,
                    message: "members only".into(),
                    headers: vec![("x-reason".into(), "not-a-member".into())],
                })
            })
            .await
            .unwrap();
            while conn.accept().await.is_some() {}
        });
        let mut ws = h2_only_client();
        let e = ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAWebSocket, "{e}");
        assert_eq!(ws.http_status_code(), Some(403));
        let headers = ws.http_response_headers().unwrap();
        assert!(headers
            .iter()
            .any(|(k, v)| k == "x-reason" && v == "not-a-member"));
    })
    .await;
}

#[tokio::test]
async fn one_invoker_carries_100_websockets_and_100_requests_on_one_connection() {
    bounded(async {
        for tls in [false, true] {
            let s = server(Speaks::Both, tls, Options::default()).await;
            let invoker = Invoker::new(s.invoker_options());
            let mut tasks = Vec::new();
            for i in 0..100 {
                let (sockets, url) = (invoker.clone(), s.url(&format!("/ws/{i}")));
                tasks.push(tokio::spawn(async move {
                    let mut ws = h2_only_client();
                    ws.connect_with(&url, &sockets).await.unwrap();
                    assert_eq!(ws.http_version(), Some(HttpVersion::Http2));
                    assert_echo(&ws, &format!("socket {i}")).await;
                    Some(ws)
                }));
                let (requests, url) = (invoker.clone(), s.http_url(&format!("/page/{i}")));
                tasks.push(tokio::spawn(async move {
                    let body = format!("body {i}");
                    let request = if i % 2 == 0 {
                        Request::get(&url)
                    } else {
                        Request::post(&url, "text/plain", body.as_bytes())
                    };
                    let request = request.version(HttpVersion::Http2, HttpVersionPolicy::RequestVersionExact);
                    let r = requests.send(request).await.unwrap();
                    assert_eq!(r.status, 200);
                    assert_eq!(r.version, HttpVersion::Http2);
                    assert_eq!(r.header("x-served-by"), Some("test"));
                    let expected = if i % 2 == 0 {
                        format!("GET /page/{i}")
                    } else {
                        body
                    };
                    assert_eq!(String::from_utf8(r.body).unwrap(), expected);
                    None
                }));
            }
            let mut sockets = Vec::new();
            for t in tasks {
                sockets.extend(t.await.unwrap());
            }
            // All 100 WebSockets are open at once, and one TCP connection carried everything.
            let open = sockets.iter().filter(|w| w.state() == State::Open).count();
            assert_eq!(open, 100, "TLS {tls}");
            assert_eq!(
                s.connections.load(Ordering::SeqCst),
                1,
                "TLS {tls}: server-side TCP accepts"
            );
            assert_eq!(invoker.connections_opened(), 1, "TLS {tls}");
            for ws in &sockets {
                if ws.state() == State::Open {
                    ws.close(Some(CloseCode::NORMAL), "").await.unwrap();
                }
            }
            // Closed streams leave the connection usable.
            let mut again = h2_only_client();
            again.connect_with(&s.url("/again"), &invoker).await.unwrap();
            assert_echo(&again, "still one connection").await;
            assert_eq!(s.connections.load(Ordering::SeqCst), 1);
        }
    })
    .await;
}

#[tokio::test]
async fn http11_requests_through_the_invoker() {
    bounded(async {
        // A tiny HTTP/1.1 server answering with a chunked body.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut head = vec![0u8; 4096];
                let n = tcp.read(&mut head).await.unwrap();
                let request = String::from_utf8_lossy(&head[..n]).into_owned();
                let line = request.lines().next().unwrap_or("").to_owned();
                let body = format!("you sent {line}");
                let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
                tcp.write_all(
                    format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: seen=1\r\n\r\n{chunked}")
                        .as_bytes(),
                )
                .await
                .unwrap();
            }
        });
        let jar = Arc::new(CookieJar::new());
        let invoker = Invoker::new(InvokerOptions {
            cookies: Some(jar.clone()),
            ..Default::default()
        });
        let r = invoker
            .send(Request::get(&format!("http://127.0.0.1:{port}/x?y=1")))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.version, HttpVersion::Http11);
        assert_eq!(String::from_utf8(r.body).unwrap(), "you sent GET /x?y=1 HTTP/1.1");
        assert_eq!(
            jar.cookie_header(&format!("http://127.0.0.1:{port}/")).unwrap().as_deref(),
            Some("seen=1")
        );
    })
    .await;
}

#[tokio::test]
async fn connection_options_with_an_invoker_are_an_error_before_any_io() {
    bounded(async {
        let invoker = Invoker::default();
        let mut ws = ClientWebSocket::new();
        ws.options_mut().cookies = Some(Arc::new(CookieJar::new()));
        ws.options_mut().proxy = Some(Proxy::new("http://127.0.0.1:9").unwrap());
        // Nothing listens on port 9: any I/O would fail differently.
        let e = ws.connect_with("ws://127.0.0.1:9/", &invoker).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IncompatibleOptions, "{e}");
        let message = e.to_string();
        assert!(
            message.contains("cookies") && message.contains("proxy"),
            "{message}"
        );
        assert!(!message.contains("credentials"), "{message}");
        assert_eq!(invoker.connections_opened(), 0);
        assert_eq!(ws.state(), State::None);
    })
    .await;
}

#[tokio::test]
async fn abort_resets_the_stream_and_the_peer_sees_it() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut conn = sockweave::accept_h2(tcp, &Options::default()).await.unwrap();
            while let Some(incoming) = conn.accept().await {
                if let Incoming::WebSocket(ws, req) = incoming {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 64];
                        let r = ws.receive(&mut buf).await.unwrap();
                        assert_eq!(&buf[..r.count], b"abort please");
                        if req.path == "/abort" {
                            // RST_STREAM(CANCEL): the client sees an abort, not a close.
                            ws.abort();
                        } else {
                            echo(&ws).await;
                        }
                    });
                }
            }
        });
        let invoker = Invoker::default();
        let connect = |path: &'static str| {
            let invoker = invoker.clone();
            async move {
                let mut ws = h2_only_client();
                ws.connect_with(&format!("ws://127.0.0.1:{port}{path}"), &invoker)
                    .await
                    .unwrap();
                ws
            }
        };
        let aborted = connect("/abort").await;
        let other = connect("/echo").await;
        aborted
            .send(b"abort please", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let e = aborted.receive(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
        assert!(e.to_string().contains("reset"), "{e}");
        // The other stream on the same connection is unaffected.
        other
            .send(b"abort please", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        assert_echo(&other, "still here").await;
        other.close(Some(CloseCode::NORMAL), "").await.unwrap();
        // After the close handshake both ends finish with END_STREAM, no reset.
        other.websocket().unwrap().finished().await;
        assert_eq!(other.state(), State::Closed);
    })
    .await;
}

#[tokio::test]
async fn end_stream_without_a_close_is_a_premature_close() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // A bare h2 server: accepts the CONNECT, sends one text frame, then END_STREAM.
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut conn = h2::server::Builder::new()
                .enable_connect_protocol()
                .handshake(tcp)
                .await
                .unwrap();
            let (_req, mut respond) = conn.accept().await.unwrap().unwrap();
            let response = http::Response::builder().status(200).body(()).unwrap();
            let mut send = respond.send_response(response, false).unwrap();
            send.send_data(bytes::Bytes::from_static(b"\x81\x02hi"), true)
                .unwrap();
            while conn.accept().await.is_some() {}
        });
        let mut ws = h2_only_client();
        ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let mut buf = [0u8; 16];
        // The data before END_STREAM is delivered, then the premature end is reported.
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(&buf[..r.count], b"hi");
        let e = ws.receive(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
    })
    .await;
}

#[tokio::test]
async fn requests_over_http2_use_the_invokers_credentials_and_cookies() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut conn = sockweave::accept_h2(tcp, &Options::default()).await.unwrap();
            while let Some(Incoming::Request(r)) = conn.accept().await {
                let header = |n: &str| r.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                // "user:pass" in base64.
                if header("authorization").as_deref() != Some("Basic dXNlcjpwYXNz") {
                    r.respond(
                        401,
                        &[("www-authenticate".into(), "Basic realm=\"t\"".into())],
                        b"",
                    )
                    .unwrap();
                } else {
                    let body = format!("cookie={}", header("cookie").unwrap_or_default());
                    r.respond(
                        200,
                        &[("set-cookie".into(), "visits=2; Path=/".into())],
                        body.as_bytes(),
                    )
                    .unwrap();
                }
            }
        });
        let jar = Arc::new(CookieJar::new());
        let url = format!("http://127.0.0.1:{port}/private");
        jar.set_cookie("visits=1; Path=/", &url).unwrap();
        let invoker = Invoker::new(InvokerOptions {
            cookies: Some(jar.clone()),
            credentials: Some(sockweave::Credentials {
                user: "user".into(),
                password: "pass".into(),
            }),
            credential_origins: vec![url.clone()],
            allow_basic_over_cleartext: true,
            ..Default::default()
        });
        let get = || Request::get(&url).version(HttpVersion::Http2, HttpVersionPolicy::RequestVersionExact);
        let r = invoker.send(get()).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(String::from_utf8(r.body).unwrap(), "cookie=visits=1");
        let r = invoker.send(get()).await.unwrap();
        assert_eq!(String::from_utf8(r.body).unwrap(), "cookie=visits=2");
        assert_eq!(invoker.connections_opened(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_server_failing_a_stream_sends_its_close_before_ending_the_stream() {
    // Over HTTP/2 a failure's Close used to be dropped: the stream was reset
    // (which discards queued DATA) as soon as the Close was handed to h2.
    bounded(async {
        let options = Options {
            max_message_size: 1000,
            ..Options::default()
        };
        let s = server(Speaks::Both, false, options).await;
        let mut ws = s.client(HttpVersion::Http2, HttpVersionPolicy::RequestVersionExact);
        ws.connect(&s.url("/")).await.unwrap();
        ws.send(&[7; 4096], MessageType::Binary, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let r = ws.receive(&mut buf).await.unwrap();
        assert_eq!(r.message_type, MessageType::Close);
        assert_eq!(r.close_status, Some(CloseCode::MESSAGE_TOO_BIG));
        ws.close_output(Some(CloseCode::MESSAGE_TOO_BIG), "")
            .await
            .unwrap();
        assert_eq!(ws.state(), State::Closed);
    })
    .await;
}

#[tokio::test]
async fn a_client_that_closes_and_resets_at_once_leaves_the_connection_serving() {
    // The server's Close answer could no longer be written (the stream was
    // reset); its driver used to spin on it, holding the connection's lock.
    bounded(async {
        let s = server(Speaks::Both, false, Options::default()).await;
        let invoker = Invoker::new(s.invoker_options());
        for _ in 0..20 {
            let mut ws = s.client(HttpVersion::Http2, HttpVersionPolicy::RequestVersionExact);
            ws.connect_with(&s.url("/"), &invoker).await.unwrap();
            ws.websocket()
                .unwrap()
                .close_output(Some(CloseCode::NORMAL), "")
                .await
                .unwrap();
            ws.abort();
        }
        // The same connection still carries a WebSocket end to end.
        let mut ws = s.client(HttpVersion::Http2, HttpVersionPolicy::RequestVersionExact);
        ws.connect_with(&s.url("/"), &invoker).await.unwrap();
        assert_echo(&ws, "still serving").await;
        assert_eq!(s.connections.load(Ordering::SeqCst), 1);
    })
    .await;
}
