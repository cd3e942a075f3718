//! Hostile HTTP/2 clients against `accept_h2`: uploads that never finish,
//! bodies over the limit, silent connections and stalled bodies, streams past
//! the concurrency limit, and (for our client) an oversized response head.
//!
//! Raw frames are written by hand where the `h2` crate as a client would obey
//! the very limits under test (it never opens more streams than the server
//! allows). A counting allocator (this test binary only) measures the live
//! heap of the whole process.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sockweave::{ClientWebSocket, HttpVersion, HttpVersionPolicy, Incoming, Millis, Options};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use common::{bounded, heap, listen};

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

const MIB: usize = 1024 * 1024;

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;
const ACK: u8 = 1;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 3;
const REFUSED_STREAM: u32 = 7;
const NO_ERROR: u32 = 0;

/// One HTTP/2 frame as read off the wire.
#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Frame {
    /// The error code of a RST_STREAM or GOAWAY (`u32::MAX` for anything else).
    fn code(&self) -> u32 {
        let at = match self.kind {
            RST_STREAM => 0,
            GOAWAY => 4,
            _ => return u32::MAX,
        };
        self.payload
            .get(at..at + 4)
            .map_or(u32::MAX, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A header block of HPACK literals without indexing (short names and values).
fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.push(0);
        out.push(k.len() as u8);
        out.extend_from_slice(k.as_bytes());
        out.push(v.len() as u8);
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// The head of a POST whose body is still to come.
fn post() -> Vec<(&'static str, &'static str)> {
    vec![
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "localhost"),
        (":path", "/upload"),
    ]
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Option<Frame> {
    let mut head = [0u8; 9];
    r.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await.ok()?;
    Some(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes(head[5..9].try_into().unwrap()) & 0x7fff_ffff,
        payload,
    })
}

/// Sends the preface and an empty SETTINGS, then acknowledges the server's
/// SETTINGS; returns them as (id, value) pairs.
async fn raw_handshake<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) -> Vec<(u16, u32)> {
    io.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
    io.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    loop {
        let f = read_frame(io).await.expect("the server's SETTINGS");
        if f.kind == SETTINGS && f.flags & ACK == 0 {
            io.write_all(&frame(SETTINGS, ACK, 0, &[])).await.unwrap();
            return f
                .payload
                .chunks(6)
                .map(|c| {
                    (
                        u16::from_be_bytes([c[0], c[1]]),
                        u32::from_be_bytes(c[2..6].try_into().unwrap()),
                    )
                })
                .collect();
        }
    }
}

/// Reads frames until one matches `want`; `None` if the connection ends first.
async fn wait_for<R: AsyncRead + Unpin>(r: &mut R, want: impl Fn(&Frame) -> bool) -> Option<Frame> {
    loop {
        let f = read_frame(r).await?;
        if want(&f) {
            return Some(f);
        }
    }
}

/// Serves `io` with `options`, answering every ordinary request with 200 and
/// holding every WebSocket; the connection lives as long as the task.
fn serve<S: sockweave::Transport>(io: S, options: Options) {
    tokio::spawn(async move {
        let mut conn = sockweave::accept_h2(io, &options).await.unwrap();
        let mut held = Vec::new();
        while let Some(incoming) = conn.accept().await {
            match incoming {
                Incoming::WebSocket(ws, _) => held.push(ws),
                Incoming::Request(r) => {
                    let len = r.body.len().to_string();
                    let _ = r.respond(200, &[], len.as_bytes());
                }
            }
        }
    });
}

/// 40 uploads of 4 MiB that never finish, from the `h2` crate over loopback
/// TCP. The server holds what its budget allows (4 MiB buffered plus the
/// 4 MiB connection window) and gives no more credit, so the client stops.
/// Measured: 8.0 MiB sent, +8.2 MiB of heap for the whole process (before the
/// fix the server took all 160 MiB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_unfinished_uploads_keep_the_server_heap_bounded() {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    const STREAMS: usize = 40;
    const EACH: usize = 4 * MIB;
    let (listener, port) = listen().await;
    let options = Options {
        // Large enough that the per-connection budget, not the size limit, decides.
        max_request_body_size: 8 * MIB,
        ..Options::default()
    };
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // The application takes nothing: every body stays with the server.
        let conn = sockweave::accept_h2(tcp, &options).await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(conn);
    });
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut send = send.ready().await.unwrap();
    let baseline = heap::live();
    heap::reset_peak();
    let sent = Arc::new(AtomicUsize::new(0));
    let mut uploads = Vec::new();
    for _ in 0..STREAMS {
        let request = http::Request::post("http://localhost/upload").body(()).unwrap();
        let (_response, mut stream) = send.send_request(request, false).unwrap();
        send = send.ready().await.unwrap();
        let sent = sent.clone();
        uploads.push(tokio::spawn(async move {
            let mut left = EACH;
            while left > 0 {
                stream.reserve_capacity(left.min(ZEROS.len()));
                let n = match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
                    Some(Ok(n)) => n.min(left),
                    _ => return,
                };
                // Static bytes: the client itself allocates nothing per chunk.
                if stream.send_data(Bytes::from_static(&ZEROS[..n]), false).is_err() {
                    return;
                }
                left -= n;
                sent.fetch_add(n, Ordering::Relaxed);
            }
        }));
    }
    // Wait until the uploads stop moving (the server holds back credit).
    bounded(async {
        let mut last = usize::MAX;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = sent.load(Ordering::Relaxed);
            if now == last || now == STREAMS * EACH {
                break;
            }
            last = now;
        }
    })
    .await;
    let sent = sent.load(Ordering::Relaxed);
    let grew = heap::peak().saturating_sub(baseline);
    println!(
        "REPORT h2_hostile: 40 streams x 4 MiB unfinished: sent {:.1} MiB, heap +{:.1} MiB",
        sent as f64 / MIB as f64,
        grew as f64 / MIB as f64
    );
    assert!(
        sent < STREAMS * EACH,
        "the client sent everything: no credit was held back"
    );
    assert!(grew < 24 * MIB, "the heap grew by {grew} bytes");
    for u in uploads {
        u.abort();
    }
    server.abort();
}

/// SETTINGS_MAX_CONCURRENT_STREAMS is the option, and a client that opens
/// more streams anyway has the extra one refused.
#[tokio::test]
async fn streams_beyond_max_concurrent_streams_are_refused() {
    bounded(async {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        serve(
            server,
            Options {
                max_concurrent_streams: 4,
                ..Options::default()
            },
        );
        let settings = raw_handshake(&mut client).await;
        assert!(
            settings.contains(&(SETTINGS_MAX_CONCURRENT_STREAMS, 4)),
            "{settings:?}"
        );
        // Five unfinished uploads: the fifth (stream 9) is one too many.
        for id in [1, 3, 5, 7, 9] {
            let block = header_block(&post());
            client
                .write_all(&frame(HEADERS, END_HEADERS, id, &block))
                .await
                .unwrap();
        }
        let f = wait_for(&mut client, |f| {
            f.stream == 9 && (f.kind == RST_STREAM || f.kind == HEADERS)
        })
        .await
        .expect("an answer on stream 9");
        assert_eq!((f.kind, f.code()), (RST_STREAM, REFUSED_STREAM));
    })
    .await;
}

/// A body larger than max_request_body_size gets 413, whether its
/// content-length says so up front or its DATA shows it.
#[tokio::test]
async fn a_body_over_max_request_body_size_gets_413() {
    bounded(async {
        let (client, server) = tokio::io::duplex(1 << 20);
        serve(
            server,
            Options {
                max_request_body_size: 1000,
                ..Options::default()
            },
        );
        let (send, conn) = h2::client::handshake(client).await.unwrap();
        tokio::spawn(conn);
        let status = |body_len: usize, announce: bool| {
            let send = send.clone();
            async move {
                let mut send = send.ready().await.unwrap();
                let mut request = http::Request::post("http://localhost/upload");
                if announce {
                    request = request.header("content-length", body_len.to_string());
                }
                let (response, mut stream) = send.send_request(request.body(()).unwrap(), false).unwrap();
                if !announce {
                    stream.send_data(Bytes::from(vec![7u8; body_len]), true).unwrap();
                }
                response.await.unwrap().status().as_u16()
            }
        };
        assert_eq!(status(1000, false).await, 200, "a body at the limit is served");
        assert_eq!(status(1001, false).await, 413);
        assert_eq!(status(5000, true).await, 413);
    })
    .await;
}

/// Honest uploads that together exceed the connection's budget wait their
/// turn and all finish: a body with `content-length` takes its whole share
/// before reading, so no two bodies each hold half of what both need.
#[tokio::test(start_paused = true)]
async fn uploads_over_the_budget_together_all_finish() {
    bounded(async {
        let (client, server) = tokio::io::duplex(1 << 20);
        serve(
            server,
            Options {
                max_buffered_request_bytes: 64 * 1024,
                max_request_body_size: 64 * 1024,
                ..Options::default()
            },
        );
        let (send, conn) = h2::client::handshake(client).await.unwrap();
        tokio::spawn(conn);
        let uploads: Vec<_> = (0..8)
            .map(|i| {
                let send = send.clone();
                tokio::spawn(async move {
                    let body = vec![i as u8; 40 * 1024];
                    let mut send = send.ready().await.unwrap();
                    let request = http::Request::post("http://localhost/upload")
                        .header("content-length", body.len().to_string())
                        .body(())
                        .unwrap();
                    let (response, mut stream) = send.send_request(request, false).unwrap();
                    // In pieces, as the flow-control window allows.
                    let mut rest = &body[..];
                    while !rest.is_empty() {
                        stream.reserve_capacity(rest.len());
                        let room = std::future::poll_fn(|cx| stream.poll_capacity(cx))
                            .await
                            .unwrap()
                            .unwrap();
                        let n = room.min(rest.len());
                        stream
                            .send_data(Bytes::copy_from_slice(&rest[..n]), n == rest.len())
                            .unwrap();
                        rest = &rest[n..];
                    }
                    let response = response.await.unwrap();
                    assert_eq!(response.status().as_u16(), 200, "upload {i}");
                })
            })
            .collect();
        for u in uploads {
            u.await.unwrap();
        }
    })
    .await;
}

/// A connection with no stream is closed with GOAWAY(NO_ERROR) once
/// idle_timeout has passed (tokio's paused clock: no real waiting).
#[tokio::test(start_paused = true)]
async fn an_idle_connection_gets_goaway_after_idle_timeout() {
    bounded(async {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let idle = Duration::from_secs(5);
        serve(
            server,
            Options {
                idle_timeout: Millis::Finite(5_000),
                ..Options::default()
            },
        );
        raw_handshake(&mut client).await;
        let start = Instant::now();
        let f = wait_for(&mut client, |f| f.kind == GOAWAY)
            .await
            .expect("a GOAWAY");
        assert_eq!(f.code(), NO_ERROR);
        assert!(start.elapsed() >= idle, "GOAWAY came after {:?}", start.elapsed());
    })
    .await;
}

/// A request body that stops arriving is reset after idle_timeout; then the
/// connection, with no stream left, gets GOAWAY after another one.
#[tokio::test(start_paused = true)]
async fn a_stalled_body_is_reset_and_then_the_connection_closes() {
    bounded(async {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let idle = Duration::from_secs(3);
        serve(
            server,
            Options {
                idle_timeout: Millis::Finite(3_000),
                ..Options::default()
            },
        );
        raw_handshake(&mut client).await;
        let block = header_block(&post());
        client
            .write_all(&frame(HEADERS, END_HEADERS, 1, &block))
            .await
            .unwrap();
        client.write_all(&frame(DATA, 0, 1, &[1u8; 100])).await.unwrap();
        let start = Instant::now();
        let f = wait_for(&mut client, |f| {
            f.stream == 1 && f.kind != DATA && f.kind != WINDOW_UPDATE
        })
        .await
        .expect("an answer on stream 1");
        assert_eq!(f.kind, RST_STREAM, "{f:?}");
        let reset_at = start.elapsed();
        assert!(reset_at >= idle, "reset after {reset_at:?}");
        let f = wait_for(&mut client, |f| f.kind == GOAWAY)
            .await
            .expect("a GOAWAY");
        assert_eq!(f.code(), NO_ERROR);
        assert!(
            start.elapsed() >= reset_at + idle,
            "GOAWAY after {:?}",
            start.elapsed()
        );
    })
    .await;
}

/// WebSockets are streams like any other: with a limit of 2, two open
/// WebSockets leave no room for a third stream.
#[tokio::test]
async fn websocket_streams_count_against_max_concurrent_streams() {
    bounded(async {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        serve(
            server,
            Options {
                max_concurrent_streams: 2,
                ..Options::default()
            },
        );
        raw_handshake(&mut client).await;
        let connect = header_block(&[
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":authority", "localhost"),
            (":path", "/"),
            ("sec-websocket-version", "13"),
        ]);
        for id in [1, 3] {
            client
                .write_all(&frame(HEADERS, END_HEADERS, id, &connect))
                .await
                .unwrap();
            let f = wait_for(&mut client, |f| {
                f.stream == id && (f.kind == HEADERS || f.kind == RST_STREAM)
            })
            .await
            .expect("an answer to the CONNECT");
            assert_eq!(f.kind, HEADERS, "WebSocket {id} was accepted");
        }
        let get = header_block(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "localhost"),
            (":path", "/"),
        ]);
        client
            .write_all(&frame(HEADERS, END_HEADERS | END_STREAM, 5, &get))
            .await
            .unwrap();
        let f = wait_for(&mut client, |f| {
            f.stream == 5 && (f.kind == HEADERS || f.kind == RST_STREAM)
        })
        .await
        .expect("an answer on stream 5");
        assert_eq!((f.kind, f.code()), (RST_STREAM, REFUSED_STREAM));
    })
    .await;
}

/// Our HTTP/2 client takes a response head no larger than an HTTP/1.1 one
/// (16 KiB by default): a 64 KiB header fails the connect.
#[tokio::test]
async fn the_h2_client_refuses_response_headers_over_the_limit() {
    bounded(async {
        let (listener, port) = listen().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut conn = h2::server::Builder::new()
                .enable_connect_protocol()
                .handshake::<_, Bytes>(tcp)
                .await
                .unwrap();
            let mut held = Vec::new();
            while let Some(Ok((_request, mut respond))) = conn.accept().await {
                let response = http::Response::builder()
                    .status(200)
                    .header("x-padding", "p".repeat(64 * 1024))
                    .body(())
                    .unwrap();
                if let Ok(stream) = respond.send_response(response, false) {
                    held.push(stream);
                }
            }
        });
        let mut ws = ClientWebSocket::new();
        ws.options_mut().options.http_version = HttpVersion::Http2;
        ws.options_mut().options.http_version_policy = HttpVersionPolicy::RequestVersionExact;
        let result = ws.connect(&format!("ws://127.0.0.1:{port}/")).await;
        assert!(result.is_err(), "a 64 KiB response head was accepted");
    })
    .await;
}
