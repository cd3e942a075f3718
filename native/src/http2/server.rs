//! The server end: an HTTP/2 connection that advertises
//! SETTINGS_ENABLE_CONNECT_PROTOCOL, turns each extended CONNECT with
//! `:protocol = websocket` into a [`WebSocket`], and hands every other request
//! to the application.

use std::sync::Arc;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use sockweave_core::handshake::{h2_accept_headers, parse_h2_request, Headers, ServerRequest};
use sockweave_core::session::SessionConfig;
use sockweave_core::Options;
use tokio::sync::mpsc;

use super::stream::H2Stream;
use super::{body_bytes, header_list, CONNECTION_WINDOW, STREAM_WINDOW};
use crate::error::{Error, ErrorKind};
use crate::server::{Accepted, Rejected};
use crate::transport::Transport;
use crate::websocket::WebSocket;

/// Streams a server takes at once on one connection.
const MAX_CONCURRENT_STREAMS: u32 = 10_000;
/// Largest body of an ordinary request the server reads.
const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;

type Decide = dyn Fn(&ServerRequest) -> Result<Accepted, Rejected> + Send + Sync;

/// What arrives on an HTTP/2 connection.
#[derive(Debug)]
pub enum Incoming {
    /// An accepted WebSocket and the request that opened it.
    WebSocket(WebSocket, ServerRequest),
    /// Any other request, with its whole body; answer it with [`HttpExchange::respond`].
    Request(HttpExchange),
}

/// An ordinary HTTP/2 request waiting for its answer.
pub struct HttpExchange {
    pub method: String,
    /// `:path` (with the query).
    pub path: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    respond: SendResponse<Bytes>,
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
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_header_list_size(options.max_handshake_header_bytes as u32)
        .handshake::<_, Bytes>(io);
    let mut conn = tokio::time::timeout(limit, handshake)
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
    let options = Arc::new(options.clone());
    let decide: Arc<Decide> = Arc::new(decide);
    tokio::spawn(async move {
        while let Some(Ok((request, respond))) = conn.accept().await {
            let (tx, options, decide) = (tx.clone(), options.clone(), decide.clone());
            tokio::spawn(async move {
                if let Some(incoming) = serve_stream(request, respond, &options, &*decide).await {
                    let _ = tx.send(incoming).await;
                }
            });
        }
    });
    Ok(H2Connection { incoming: rx })
}

/// Answers one stream: a WebSocket when it is a valid extended CONNECT the
/// application accepts, an error status when it is an invalid one, and the
/// application's business otherwise.
async fn serve_stream(
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    options: &Options,
    decide: &Decide,
) -> Option<Incoming> {
    let (parts, body) = request.into_parts();
    let protocol = parts.extensions.get::<h2::ext::Protocol>().map(|p| p.as_str());
    if parts.method != http::Method::CONNECT || protocol.is_none() {
        let body = match body_bytes(body, MAX_REQUEST_BODY).await {
            Ok(b) => b,
            Err(_) => {
                let _ = reply(&mut respond, 413, &[]);
                return None;
            }
        };
        return Some(Incoming::Request(HttpExchange {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            headers: header_list(&parts.headers),
            body,
            respond,
        }));
    }
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
    let ws = WebSocket::start(H2Stream::new(send, body), config, &[]);
    Some(Incoming::WebSocket(ws, request))
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
