//! The invoker's ordinary HTTP/1.1 requests: what a caller may put in a
//! request, timeouts, body framing (Content-Length, chunked), the response
//! body limit, and connection reuse.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{bounded, listen};
use sockweave::{CookieJar, ErrorKind, Invoker, InvokerOptions, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the scripted server saw: request heads, connections accepted.
#[derive(Clone, Default)]
struct Seen {
    heads: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

/// Reads one request (head and Content-Length body); `None` at the connection's end.
async fn read_request(tcp: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    tcp.read_exact(&mut body).await.ok()?;
    Some(head)
}

/// A server that answers each request with `answer(head)`: the bytes to
/// send, and whether to close the connection after them. A connection left
/// open stays open until the client closes it.
async fn server(answer: fn(&str) -> (Vec<u8>, bool)) -> (u16, Seen) {
    let (listener, port) = listen().await;
    let seen = Seen::default();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            s.connections.fetch_add(1, Ordering::SeqCst);
            let s = s.clone();
            tokio::spawn(async move {
                while let Some(head) = read_request(&mut tcp).await {
                    s.heads.lock().unwrap().push(head.clone());
                    let (bytes, close) = answer(&head);
                    if tcp.write_all(&bytes).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn ok_hello(_: &str) -> (Vec<u8>, bool) {
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        false,
    )
}

#[tokio::test]
async fn a_method_that_is_not_a_token_is_refused_before_any_connection() {
    bounded(async {
        let (port, seen) = server(ok_hello).await;
        let invoker = Invoker::default();
        for method in [
            "GET / HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET",
            "GET\n",
            "",
            "GE T",
            "G\u{e9}T",
        ] {
            let e = invoker
                .send(Request::new(method, &format!("http://127.0.0.1:{port}/")))
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{method:?}: {e}");
            assert!(e.message().contains("token"), "{e}");
        }
        assert_eq!(invoker.connections_opened(), 0);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 0);
    })
    .await;
}

#[tokio::test]
async fn headers_the_invoker_writes_itself_are_refused() {
    bounded(async {
        let (port, seen) = server(ok_hello).await;
        let url = format!("http://127.0.0.1:{port}/");
        let invoker = Invoker::new(InvokerOptions {
            cookies: Some(Arc::new(CookieJar::new())),
            ..Default::default()
        });
        for name in [
            "Host",
            "content-length",
            "Transfer-Encoding",
            "Connection",
            "Upgrade",
            "Keep-Alive",
            "TE",
            "Cookie",
        ] {
            let mut r = Request::get(&url);
            r.headers.push((name.into(), "x".into()));
            let e = invoker.send(r).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name}: {e}");
            assert!(e.message().contains(name), "{e}");
        }
        for (name, value) in [("X-A\r\nHost", "x"), ("X-B", "a\r\nHost: evil"), ("", "x")] {
            let mut r = Request::get(&url);
            r.headers.push((name.into(), value.into()));
            let e = invoker.send(r).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name:?}: {e}");
        }
        assert_eq!(seen.connections.load(Ordering::SeqCst), 0);
        // Ordinary headers still go out.
        let mut r = Request::get(&url);
        r.headers.push(("X-Fine".into(), "yes".into()));
        assert_eq!(invoker.send(r).await.unwrap().body, b"hello");
    })
    .await;
}

#[tokio::test]
async fn a_silent_server_is_a_timeout() {
    bounded(async {
        let (listener, port) = listen().await;
        // Accepts, reads, never answers.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                held.push(tcp);
            }
        });
        let invoker = Invoker::new(InvokerOptions {
            request_timeout: Duration::from_millis(200),
            ..Default::default()
        });
        let e = invoker
            .send(Request::get(&format!("http://127.0.0.1:{port}/slow")))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.message().contains("request_timeout"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn content_length_ends_the_body_while_the_connection_stays_open() {
    bounded(async {
        // The server keeps the connection open after the body: reading until
        // the connection ends would hang here.
        let (port, _) = server(|_| {
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
                false,
            )
        })
        .await;
        let r = Invoker::default()
            .send(Request::get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));
    })
    .await;
}

#[tokio::test]
async fn chunked_bodies_are_decoded_while_the_connection_stays_open() {
    bounded(async {
        let (port, _) = server(|_| {
            (
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                  4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
                    .to_vec(),
                false,
            )
        })
        .await;
        let r = Invoker::default()
            .send(Request::get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"wikipedia".as_slice()));
    })
    .await;
}

#[tokio::test]
async fn a_body_without_length_is_read_until_the_server_closes() {
    bounded(async {
        let (port, _) = server(|_| (b"HTTP/1.1 200 OK\r\n\r\nall of it".to_vec(), true)).await;
        let invoker = Invoker::default();
        let url = format!("http://127.0.0.1:{port}/");
        let r = invoker.send(Request::get(&url)).await.unwrap();
        assert_eq!(r.body, b"all of it");
        // Such a connection cannot be reused.
        assert_eq!(invoker.idle_connections(&url), 0);
    })
    .await;
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    bounded(async {
        let (port, seen) = server(ok_hello).await;
        let invoker = Invoker::default();
        let url = format!("http://127.0.0.1:{port}/x");
        for _ in 0..3 {
            assert_eq!(invoker.send(Request::get(&url)).await.unwrap().body, b"hello");
        }
        assert_eq!(invoker.connections_opened(), 1);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
        assert_eq!(invoker.idle_connections(&url), 1);
        let heads = seen.heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 3);
        for h in &heads {
            assert!(h.starts_with("GET /x HTTP/1.1\r\n"), "{h}");
            assert!(!h.to_ascii_lowercase().contains("connection: close"), "{h}");
            assert_eq!(h.to_ascii_lowercase().matches("host:").count(), 1, "{h}");
        }
    })
    .await;
}

#[tokio::test]
async fn connection_close_from_the_server_is_respected() {
    bounded(async {
        let (port, seen) = server(|_| {
            (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok".to_vec(),
                true,
            )
        })
        .await;
        let invoker = Invoker::default();
        let url = format!("http://127.0.0.1:{port}/");
        for _ in 0..2 {
            assert_eq!(invoker.send(Request::get(&url)).await.unwrap().body, b"ok");
        }
        assert_eq!(invoker.idle_connections(&url), 0);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
    })
    .await;
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_replaced() {
    bounded(async {
        // Says keep-alive, then closes anyway.
        let (port, seen) =
            server(|_| (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(), true)).await;
        let invoker = Invoker::default();
        let url = format!("http://127.0.0.1:{port}/");
        for _ in 0..3 {
            assert_eq!(invoker.send(Request::get(&url)).await.unwrap().body, b"ok");
        }
        assert_eq!(seen.connections.load(Ordering::SeqCst), 3);
    })
    .await;
}

#[tokio::test]
async fn with_no_idle_connections_allowed_each_request_says_close() {
    bounded(async {
        let (port, seen) = server(ok_hello).await;
        let invoker = Invoker::new(InvokerOptions {
            max_idle_per_origin: 0,
            ..Default::default()
        });
        let url = format!("http://127.0.0.1:{port}/");
        invoker.send(Request::get(&url)).await.unwrap();
        assert_eq!(invoker.idle_connections(&url), 0);
        let heads = seen.heads.lock().unwrap().clone();
        assert!(heads[0].contains("Connection: close\r\n"), "{}", heads[0]);
    })
    .await;
}

#[tokio::test]
async fn a_post_never_rides_an_idle_connection() {
    bounded(async {
        let (port, seen) = server(ok_hello).await;
        let invoker = Invoker::default();
        let url = format!("http://127.0.0.1:{port}/");
        invoker.send(Request::get(&url)).await.unwrap();
        invoker
            .send(Request::post(&url, "text/plain", b"data"))
            .await
            .unwrap();
        // The POST opened its own connection, then left it idle too.
        assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
        assert_eq!(invoker.idle_connections(&url), 2);
        let heads = seen.heads.lock().unwrap().clone();
        assert!(heads[1].contains("Content-Length: 4\r\n"), "{}", heads[1]);
    })
    .await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_response_too_large() {
    bounded(async {
        let (port, _) = server(|head| {
            if head.starts_with("GET /chunked") {
                (
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"
                        .to_vec(),
                    false,
                )
            } else if head.starts_with("GET /eof") {
                ([b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), &[b'x'; 64]].concat(), true)
            } else {
                (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec(), false)
            }
        })
        .await;
        let invoker = Invoker::new(InvokerOptions {
            max_response_body: 10,
            ..Default::default()
        });
        for path in ["/length", "/chunked", "/eof"] {
            let e = invoker
                .send(Request::get(&format!("http://127.0.0.1:{port}{path}")))
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{path}: {e}");
            assert!(e.message().contains("max_response_body"), "{e}");
        }
    })
    .await;
}

#[tokio::test]
async fn ambiguous_framing_is_refused() {
    bounded(async {
        let (port, _) = server(|head| {
            let r: &[u8] = if head.starts_with("GET /two") {
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello"
            } else if head.starts_with("GET /both") {
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot hex\r\n"
            };
            (r.to_vec(), false)
        })
        .await;
        let invoker = Invoker::default();
        for path in ["/two", "/both", "/badchunk"] {
            let e = invoker
                .send(Request::get(&format!("http://127.0.0.1:{port}{path}")))
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::HeaderError, "{path}: {e}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_body_cut_short_is_an_error() {
    bounded(async {
        let (port, _) = server(|_| {
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort".to_vec(),
                true,
            )
        })
        .await;
        let e = Invoker::default()
            .send(Request::get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionClosedPrematurely, "{e}");
    })
    .await;
}
