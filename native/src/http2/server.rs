//! The server end: an HTTP/2 connection that advertises
//! SETTINGS_ENABLE_CONNECT_PROTOCOL, turns each extended CONNECT with
//! `:protocol = websocket` into a [`WebSocket`], and hands every other request
//! to the application.
//!
//! What one client may make the server hold is bounded: at most
//! `max_concurrent_streams` streams (WebSockets and requests alike, refused
//! with REFUSED_STREAM beyond), request bodies buffered within one
//! per-connection budget of `max_buffered_request_bytes` (flow-control credit
//! goes back to the client only as a body fits in it, so a client that stalls
//! or floods is held at its window), a request body that makes no progress for
//! `idle_timeout` is reset, and a connection with no open stream for
//! `idle_timeout` is closed with GOAWAY.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream};
use sockweave_core::handshake::{h2_accept_headers, parse_h2_request, Headers, ServerRequest};
use sockweave_core::session::SessionConfig;
use sockweave_core::Options;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::idle::{OpenStream, Tracker};
use super::stream::H2Stream;
use super::{header_list, CONNECTION_WINDOW, MAX_FRAME, STREAM_WINDOW};
use crate::error::{Error, ErrorKind};
use crate::server::{Accepted, Rejected};
use crate::transport::Transport;
use crate::websocket::WebSocket;

type Decide = dyn Fn(&ServerRequest) -> Result<Accepted, Rejected> + Send + Sync;

/// What arrives on an HTTP/2 connection.
#[derive(Debug)]
pub enum Incoming {
    /// An accepted WebSocket and the request that opened it.
    WebSocket(WebSocket, ServerRequest),
    /// Any other request, with its whole body (at most `max_request_body_size`
    /// bytes); answer it with [`HttpExchange::respond`].
    Request(HttpExchange),
}

/// An ordinary HTTP/2 request waiting for its answer.
///
/// Its body counts against the connection's `max_buffered_request_bytes`
/// until the exchange is answered or dropped, so an application that holds
/// exchanges holds back the client's other uploads on that connection.
pub struct HttpExchange {
    /// The request method (`GET`, `POST`, ...).
    pub method: String,
    /// `:path` (with the query).
    pub path: String,
    /// The request headers (lowercase names).
    pub headers: Headers,
    /// The whole request body.
    pub body: Vec<u8>,
    respond: SendResponse<Bytes>,
    /// The body's share of the connection's buffer budget.
    _budget: Option<OwnedSemaphorePermit>,
    _open: OpenStream,
}

impl std::fmt::Debug for HttpExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpExchange")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl HttpExchange {
    /// Sends the response: a status, headers and a whole body.
    pub fn respond(mut self, status: u16, headers: &[(String, String)], body: &[u8]) -> Result<(), Error> {
        let response = build_response(status, headers)?;
        let mut stream = self
            .respond
            .send_response(response, body.is_empty())
            .map_err(respond_error)?;
        if !body.is_empty() {
            stream
                .send_data(Bytes::copy_from_slice(body), true)
                .map_err(respond_error)?;
        }
        Ok(())
    }
}

/// One HTTP/2 connection served by a background task; take what arrives with
/// [`accept`](Self::accept).
#[derive(Debug)]
pub struct H2Connection {
    incoming: mpsc::Receiver<Incoming>,
}

impl H2Connection {
    /// The next WebSocket or request; `None` once the client has closed the
    /// connection. Streams that arrive while nobody calls this wait (up to 64).
    pub async fn accept(&mut self) -> Option<Incoming> {
        self.incoming.recv().await
    }
}

/// Serves HTTP/2 on `io` (after ALPN `h2`, or h2c with prior knowledge):
/// WebSocket streams are accepted selecting the first of
/// `options.sub_protocols` the client offered. See [`accept_h2_with`].
///
/// ```no_run
/// # async fn demo(tcp: tokio::net::TcpStream) -> Result<(), sockweave::Error> {
/// use sockweave::{accept_h2, Incoming, Options};
/// let mut conn = accept_h2(tcp, &Options::default()).await?;
/// while let Some(incoming) = conn.accept().await {
///     match incoming {
///         Incoming::WebSocket(ws, _request) => { tokio::spawn(async move { /* use ws */ drop(ws) }); }
///         Incoming::Request(r) => r.respond(404, &[], b"not here")?,
///     }
/// }
/// # Ok(()) }
/// ```
pub async fn accept_h2<S: Transport>(io: S, options: &Options) -> Result<H2Connection, Error> {
    let supported = options.sub_protocols.clone();
    accept_h2_with(io, options, move |req| {
        Ok(Accepted {
            sub_protocol: req.select_subprotocol(&supported).map(String::from),
            headers: Vec::new(),
        })
    })
    .await
}

/// Like [`accept_h2`], with `decide` accepting or refusing each WebSocket
/// request (as [`accept_with`](crate::accept_with) does for HTTP/1.1).
pub async fn accept_h2_with<S, F>(io: S, options: &Options, decide: F) -> Result<H2Connection, Error>
where
    S: Transport,
    F: Fn(&ServerRequest) -> Result<Accepted, Rejected> + Send + Sync + 'static,
{
    options.validate()?;
    let limit = crate::duration(options.handshake_timeout);
    let handshake = h2::server::Builder::new()
        .enable_connect_protocol()
        .max_concurrent_streams(options.max_concurrent_streams)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_header_list_size(header_limit(options))
        .handshake::<_, Bytes>(io);
    let conn = tokio::time::timeout(limit, handshake)
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!("the client did not send the HTTP/2 preface within {limit:?} (handshakeTimeout)"),
            )
        })?
        .map_err(|e| {
            Error::new(
                ErrorKind::UnsupportedProtocol,
                format!("the client's HTTP/2 connection preface failed: {e}"),
            )
        })?;
    let (tx, rx) = mpsc::channel(64);
    let shared = Arc::new(ConnectionContext {
        budget: Arc::new(Semaphore::new(
            options.max_buffered_request_bytes.min(Semaphore::MAX_PERMITS),
        )),
        options: options.clone(),
        decide: Box::new(decide),
        tracker: Arc::new(Tracker::default()),
    });
    tokio::spawn(drive(conn, shared, tx));
    Ok(H2Connection { incoming: rx })
}

/// What every stream task of one connection shares.
struct ConnectionContext {
    options: Options,
    decide: Box<Decide>,
    /// Bytes of request bodies this connection may buffer now.
    budget: Arc<Semaphore>,
    tracker: Arc<Tracker>,
}

/// The connection task: accepts streams, and closes the connection with
/// GOAWAY once it has had no open stream for `idle_timeout`.
async fn drive<S: Transport>(
    mut conn: h2::server::Connection<S, Bytes>,
    shared: Arc<ConnectionContext>,
    tx: mpsc::Sender<Incoming>,
) {
    let idle = crate::duration(shared.options.idle_timeout);
    let tracker = shared.tracker.clone();
    let mut deadline = Some(Instant::now() + idle);
    let mut closing = false;
    loop {
        let sleep = tokio::time::sleep_until(deadline.unwrap_or_else(|| Instant::now() + idle));
        tokio::select! {
            next = std::future::poll_fn(|cx| conn.poll_accept(cx)) => match next {
                Some(Ok((request, respond))) => {
                    if closing {
                        continue;
                    }
                    deadline = None;
                    let open = OpenStream::new(&tracker);
                    let (tx, shared) = (tx.clone(), shared.clone());
                    tokio::spawn(async move {
                        if let Some(incoming) = serve_stream(request, respond, &shared, open).await {
                            let _ = tx.send(incoming).await;
                        }
                    });
                }
                Some(Err(_)) | None => break,
            },
            _ = tracker.idle.notified(), if !closing => {
                if tracker.open.load(Ordering::Acquire) == 0 && deadline.is_none() {
                    deadline = Some(Instant::now() + idle);
                }
            }
            _ = sleep, if deadline.is_some() => {
                if closing {
                    // The client does not take the GOAWAY; let it go.
                    break;
                }
                if tracker.open.load(Ordering::Acquire) > 0 {
                    deadline = None;
                } else if conn.has_streams() {
                    // A finished exchange whose response h2 is still sending.
                    deadline = Some(Instant::now() + idle);
                } else {
                    conn.abrupt_shutdown(Reason::NO_ERROR);
                    closing = true;
                    deadline = Some(Instant::now() + idle);
                }
            }
        }
    }
}

/// The HTTP/2 header list limit: the HTTP/1.1 head limit, so that neither
/// protocol lets a peer make us hold more.
pub(crate) fn header_limit(options: &Options) -> u32 {
    u32::try_from(options.handshake_limits().max_header_bytes).unwrap_or(u32::MAX)
}

/// Answers one stream: a WebSocket when it is a valid extended CONNECT the
/// application accepts, an error status when it is an invalid one, and the
/// application's business otherwise.
async fn serve_stream(
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    shared: &ConnectionContext,
    open: OpenStream,
) -> Option<Incoming> {
    let options = &shared.options;
    let (parts, body) = request.into_parts();
    let protocol = parts.extensions.get::<h2::ext::Protocol>().map(|p| p.as_str());
    if parts.method != http::Method::CONNECT || protocol.is_none() {
        // A body larger than the connection's whole budget could never be
        // buffered, so it is refused like one over the size limit.
        let max = options
            .max_request_body_size
            .min(options.max_buffered_request_bytes);
        let announced = announced_length(&parts.headers);
        if announced.is_some_and(|n| n > max as u64) {
            let _ = reply(&mut respond, 413, &[]);
            return None;
        }
        let idle = crate::duration(options.idle_timeout);
        let (body, budget) = match read_body(body, max, announced, &shared.budget, idle).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                let _ = reply(&mut respond, 413, &[]);
                return None;
            }
            Err(BodyError::Stalled) => {
                respond.send_reset(Reason::CANCEL);
                return None;
            }
            Err(BodyError::Failed) => return None,
        };
        return Some(Incoming::Request(HttpExchange {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            headers: header_list(&parts.headers),
            body,
            respond,
            _budget: budget,
            _open: open,
        }));
    }
    let decide = &*shared.decide;
    let request = match parse_h2_request(
        parts.method.as_str(),
        protocol,
        parts.uri.scheme_str(),
        parts.uri.path_and_query().map(|p| p.as_str()),
        parts.uri.authority().map(|a| a.as_str()),
        header_list(&parts.headers),
    ) {
        Ok(r) => r,
        Err(e) => {
            let _ = reply(&mut respond, e.status, &[]);
            return None;
        }
    };
    if let Err(e) = request.admit(options) {
        let _ = reply(&mut respond, e.status, &[]);
        return None;
    }
    let answer = match decide(&request) {
        Ok(a) => a,
        Err(r) => {
            let _ = reply(&mut respond, r.status, &r.headers);
            return None;
        }
    };
    let deflate = request.negotiate_deflate(options.dangerous_deflate_options.as_ref());
    let extensions: Vec<_> = deflate.iter().map(|(_, e)| e.clone()).collect();
    let mut headers = match h2_accept_headers(&request, answer.sub_protocol.as_deref(), &extensions) {
        Ok(h) => h,
        Err(_) => {
            // The application chose something the client did not offer.
            let _ = reply(&mut respond, 500, &[]);
            return None;
        }
    };
    headers.extend(answer.headers);
    let response = build_response(200, &headers).ok()?;
    let send = respond.send_response(response, false).ok()?;
    let config = SessionConfig::for_server(options, answer.sub_protocol, deflate.map(|(p, _)| p));
    let ws = WebSocket::start(H2Stream::new(send, body, Some(open)), config, &[]);
    Some(Incoming::WebSocket(ws, request))
}

/// The request's `content-length`, when it has a valid one.
fn announced_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

enum BodyError {
    TooLarge,
    /// No DATA arrived (or none fit in the budget) for `idle_timeout`.
    Stalled,
    /// The client reset the stream or the connection failed.
    Failed,
}

/// Reads a whole request body of at most `max` bytes. The buffer's capacity is
/// taken from the connection's `budget` before it grows, and flow-control
/// credit goes back to the client only for bytes that are in the buffer, so
/// what a connection's bodies hold is the budget plus the connection window.
///
/// A body whose length is announced (`content-length`, at most `max`) takes
/// its whole share before reading: uploads that together exceed the budget
/// then wait their turn and each one that starts can finish, instead of all
/// holding part of the budget and none completing.
async fn read_body(
    mut body: RecvStream,
    max: usize,
    announced: Option<u64>,
    budget: &Arc<Semaphore>,
    idle: Duration,
) -> Result<(Vec<u8>, Option<OwnedSemaphorePermit>), BodyError> {
    let mut out = Vec::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    if let Some(n) = announced.filter(|&n| n > 0) {
        // n <= max here: the caller refused larger announcements.
        let n = n as usize;
        held = Some(
            tokio::time::timeout(idle, acquire(budget, n))
                .await
                .map_err(|_| BodyError::Stalled)??,
        );
        out.try_reserve_exact(n).map_err(|_| BodyError::TooLarge)?;
    }
    loop {
        let step = async {
            let chunk = match body.data().await {
                None => return Ok(None),
                Some(Ok(c)) => c,
                Some(Err(_)) => return Err(BodyError::Failed),
            };
            let need = out.len() + chunk.len();
            if need > max {
                return Err(BodyError::TooLarge);
            }
            if need > out.capacity() {
                // Doubling keeps copies amortised; the budget pays for capacity, not length.
                let cap = need.max(out.capacity().saturating_mul(2)).min(max);
                let more = cap - out.capacity();
                let permit = acquire(budget, more).await?;
                match held.as_mut() {
                    Some(h) => h.merge(permit),
                    None => held = Some(permit),
                }
                out.try_reserve_exact(cap - out.len())
                    .map_err(|_| BodyError::TooLarge)?;
            }
            out.extend_from_slice(&chunk);
            let _ = body.flow_control().release_capacity(chunk.len());
            Ok(Some(()))
        };
        match tokio::time::timeout(idle, step).await {
            Ok(Ok(Some(()))) => {}
            Ok(Ok(None)) => return Ok((out, held)),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(BodyError::Stalled),
        }
    }
}

/// Waits for `n` bytes of the connection's buffer budget.
async fn acquire(budget: &Arc<Semaphore>, n: usize) -> Result<OwnedSemaphorePermit, BodyError> {
    // `max` never exceeds the budget, so `n` fits in it; u32 bounds one call.
    let n = u32::try_from(n).map_err(|_| BodyError::TooLarge)?;
    budget
        .clone()
        .acquire_many_owned(n)
        .await
        .map_err(|_| BodyError::Failed)
}

fn reply(respond: &mut SendResponse<Bytes>, status: u16, headers: &[(String, String)]) -> Result<(), Error> {
    let response = build_response(status, headers)?;
    respond.send_response(response, true).map_err(respond_error)?;
    Ok(())
}

fn build_response(status: u16, headers: &[(String, String)]) -> Result<http::Response<()>, Error> {
    let mut builder = http::Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid HTTP/2 response: {e}"),
        )
    })
}

fn respond_error(e: h2::Error) -> Error {
    Error::new(ErrorKind::Io, format!("sending the HTTP/2 response failed: {e}"))
}
