//! Server side of the HTTP/1.1 Upgrade handshake.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use core::fmt;

use super::{
    accept_key, convert_headers, has_token, header, joined, parse_extensions, split_list,
    validate_extra_headers, Extension, HandshakeLimits, Headers, WEBSOCKET_VERSION,
};
use crate::error::{Error, ErrorKind};

/// A valid WebSocket upgrade request (HTTP/1.1) or extended CONNECT (HTTP/2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRequest {
    /// Path and query as requested.
    pub path: String,
    /// `Host` (HTTP/1.1) or `:authority` (HTTP/2).
    pub host: String,
    /// Every request header in received order, names as written (look them
    /// up case-insensitively with [`ServerRequest::header`]); for HTTP/2 the
    /// regular headers without the `:` pseudo-headers.
    pub headers: Headers,
    /// `Sec-WebSocket-Key`; empty for HTTP/2, which has none.
    pub key: String,
    /// Offered subprotocols, in the client's order.
    pub protocols: Vec<String>,
    /// Offered extensions, in the client's order (alternatives included).
    pub extensions: Vec<Extension>,
}

/// The request is not one we can accept; `status` is the HTTP status to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestError {
    /// What was wrong with the request, as an error for the server's logs or caller.
    pub error: Error,
    /// The HTTP status to refuse with: 400 (malformed or missing header), 403
    /// (origin refused), 405 (not GET, or not CONNECT over HTTP/2), 426 (not an
    /// upgrade, or a version other than 13), 431 (head too large), 501 (HTTP/2
    /// `:protocol` other than `websocket`), 505 (older than HTTP/1.1). Over
    /// HTTP/1.1, [`reject_response`] builds the answer.
    pub status: u16,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {})", self.error, self.status)
    }
}

fn reject(status: u16, kind: ErrorKind, message: String) -> RequestError {
    RequestError {
        error: Error::new(kind, message),
        status,
    }
}

/// Parses an HTTP/1.1 upgrade request. `Ok(None)`: incomplete, call again with
/// more bytes. `Ok(Some((req, n)))`: the head was the first `n` bytes.
///
/// ```
/// use sockweave_core::handshake::{parse_request, reject_response, HandshakeLimits};
///
/// let raw = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n";
/// assert!(parse_request(&raw[..20], HandshakeLimits::default()).unwrap().is_none()); // incomplete
/// let (req, used) = parse_request(raw, HandshakeLimits::default()).unwrap().unwrap();
/// assert_eq!((req.path.as_str(), used), ("/chat", raw.len()));
/// let supported = ["chat".to_string()]; // the server's subprotocols, preferred first
/// let chosen = req.select_subprotocol(&supported);
/// assert_eq!(chosen, Some("chat"));
/// let response = req.accept_response(chosen, &[], &[]).unwrap();
/// // The bytes after `used` are WebSocket frames: hand them to the session.
/// assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// assert!(response.windows(28).any(|w| w == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
///
/// // A request that is not an upgrade gets an HTTP error to send back.
/// let err = parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", HandshakeLimits::default()).unwrap_err();
/// assert_eq!(err.status, 426);
/// let _answer: Vec<u8> = reject_response(&err, &[]);
/// ```
pub fn parse_request(
    buf: &[u8],
    limits: HandshakeLimits,
) -> Result<Option<(ServerRequest, usize)>, RequestError> {
    let mut raw = alloc::vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut raw);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_header_bytes {
                return Err(head_too_big(limits));
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(reject(
                431,
                ErrorKind::HeaderError,
                format!("the request has more than {} headers", limits.max_headers),
            ))
        }
        Err(e) => {
            return Err(reject(
                400,
                ErrorKind::NotAWebSocket,
                format!("the request is not valid HTTP/1.1 ({e})"),
            ))
        }
    };
    if n > limits.max_header_bytes {
        return Err(head_too_big(limits));
    }
    let method = req.method.unwrap_or("");
    let path = req.path.unwrap_or("/");
    let headers = convert_headers(req.headers);
    check_upgrade(method, req.version == Some(1), path, headers).map(|r| Some((r, n)))
}

/// The checks of an HTTP/1.x upgrade request once its head is parsed (by
/// `httparse` here, or by another HTTP library through
/// [`parse_request_head`](super::parse_request_head)). `http11`: the request
/// is HTTP/1.1 (not 1.0 or older).
pub(crate) fn check_upgrade(
    method: &str,
    http11: bool,
    path: &str,
    headers: Headers,
) -> Result<ServerRequest, RequestError> {
    if method != "GET" {
        return Err(reject(
            405,
            ErrorKind::NotAWebSocket,
            format!("a WebSocket upgrade must use GET, not {method}"),
        ));
    }
    if !http11 {
        return Err(reject(
            505,
            ErrorKind::NotAWebSocket,
            String::from("a WebSocket upgrade needs HTTP/1.1 or later"),
        ));
    }
    let once = |name| super::single(&headers, name).map_err(|error| RequestError { error, status: 400 });
    let host = match once("host")? {
        Some(h) if !h.trim().is_empty() => String::from(h.trim()),
        _ => {
            return Err(reject(
                400,
                ErrorKind::HeaderError,
                String::from("the request has no Host header"),
            ))
        }
    };
    let upgrade = joined(&headers, "upgrade").unwrap_or_default();
    if !has_token(&upgrade, "websocket") {
        return Err(reject(
            426,
            ErrorKind::NotAWebSocket,
            format!("the request's Upgrade header is {upgrade:?}, expected \"websocket\""),
        ));
    }
    let connection = joined(&headers, "connection").unwrap_or_default();
    if !has_token(&connection, "upgrade") {
        return Err(reject(
            400,
            ErrorKind::HeaderError,
            format!("the request's Connection header is {connection:?}, it must include \"Upgrade\""),
        ));
    }
    check_version(&headers)?;
    check_no_body(&headers)?;
    let key = match once("sec-websocket-key")? {
        Some(k) => String::from(k.trim()),
        None => {
            return Err(reject(
                400,
                ErrorKind::HeaderError,
                String::from("the request has no Sec-WebSocket-Key header"),
            ))
        }
    };
    match base64::engine::general_purpose::STANDARD.decode(key.as_bytes()) {
        Ok(nonce) if nonce.len() == 16 => {}
        _ => {
            return Err(reject(
                400,
                ErrorKind::HeaderError,
                format!("Sec-WebSocket-Key {key:?} is not the base64 form of 16 bytes"),
            ))
        }
    }
    finish_request(String::from(path), host, headers, key)
}

/// An upgrade request has no body: what follows its head are WebSocket
/// frames. A request announcing a body (or announcing it twice) is refused,
/// so a proxy in front that reads the body cannot be made to disagree with
/// us about where the frames start (request smuggling).
fn check_no_body(headers: &[(String, String)]) -> Result<(), RequestError> {
    if header(headers, "transfer-encoding").is_some() {
        return Err(reject(
            400,
            ErrorKind::HeaderError,
            String::from("an upgrade request must not have a body (Transfer-Encoding is set)"),
        ));
    }
    let mut lengths = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    match (lengths.next(), lengths.next()) {
        (_, Some(_)) => Err(reject(
            400,
            ErrorKind::HeaderError,
            String::from("the request has Content-Length more than once"),
        )),
        (Some((_, v)), None) if v.trim() != "0" => Err(reject(
            400,
            ErrorKind::HeaderError,
            format!(
                "an upgrade request must not have a body (Content-Length: {})",
                v.trim()
            ),
        )),
        _ => Ok(()),
    }
}

/// Checks `Sec-WebSocket-Version` (shared by HTTP/1.1 and HTTP/2).
pub(crate) fn check_version(headers: &[(String, String)]) -> Result<(), RequestError> {
    let version = super::single(headers, "sec-websocket-version")
        .map_err(|error| RequestError { error, status: 400 })?;
    match version {
        Some(v) if v.trim() == WEBSOCKET_VERSION => Ok(()),
        Some(v) => Err(reject(
            426,
            ErrorKind::UnsupportedVersion,
            format!("Sec-WebSocket-Version {v:?} is not supported; only 13 is"),
        )),
        None => Err(reject(
            426,
            ErrorKind::UnsupportedVersion,
            String::from("the request has no Sec-WebSocket-Version header"),
        )),
    }
}

/// Reads the offered subprotocols and extensions (shared by HTTP/1.1 and HTTP/2).
pub(crate) fn finish_request(
    path: String,
    host: String,
    headers: Headers,
    key: String,
) -> Result<ServerRequest, RequestError> {
    let protocols: Vec<String> = joined(&headers, "sec-websocket-protocol")
        .map(|v| split_list(&v).map(String::from).collect())
        .unwrap_or_default();
    if let Some(p) = protocols.iter().find(|p| !crate::extensions::is_token(p)) {
        return Err(reject(
            400,
            ErrorKind::HeaderError,
            format!("offered subprotocol {p:?} is not a valid token"),
        ));
    }
    let extensions = match joined(&headers, "sec-websocket-extensions") {
        Some(v) => parse_extensions(&v).map_err(|error| RequestError { error, status: 400 })?,
        None => Vec::new(),
    };
    Ok(ServerRequest {
        path,
        host,
        headers,
        key,
        protocols,
        extensions,
    })
}

impl ServerRequest {
    /// The first subprotocol in `supported` (the server's preference order)
    /// that the client offered.
    pub fn select_subprotocol<'a>(&self, supported: &'a [String]) -> Option<&'a str> {
        supported
            .iter()
            .find(|s| self.protocols.iter().any(|p| p == *s))
            .map(String::as_str)
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Chooses among the client's permessage-deflate offers under the server's
    /// options: the parameters in force and the extension to answer with, or
    /// `None` to run uncompressed (no options, or no acceptable offer).
    pub fn negotiate_deflate(
        &self,
        options: Option<&crate::options::DeflateOptions>,
    ) -> Option<(crate::deflate::DeflateParams, Extension)> {
        crate::deflate::server_accept(options?, &self.extensions)
    }

    /// The `101 Switching Protocols` response accepting this request.
    /// `protocol` must be one the client offered; `extensions` is the accepted
    /// extension set (from the deflate negotiation).
    pub fn accept_response(
        &self,
        protocol: Option<&str>,
        extensions: &[Extension],
        extra_headers: &[(String, String)],
    ) -> Result<Vec<u8>, Error> {
        let headers = self.accept_headers(protocol, extensions, extra_headers)?;
        let mut out = String::with_capacity(160);
        out.push_str("HTTP/1.1 101 Switching Protocols\r\n");
        for (k, v) in &headers {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        Ok(out.into_bytes())
    }

    /// The headers of the `101` accepting this request, in the order
    /// [`accept_response`](Self::accept_response) writes them: `Upgrade`,
    /// `Connection`, `Sec-WebSocket-Accept`, the selected subprotocol and
    /// extensions, then `extra_headers`. Checked as there.
    pub(crate) fn accept_headers(
        &self,
        protocol: Option<&str>,
        extensions: &[Extension],
        extra_headers: &[(String, String)],
    ) -> Result<Headers, Error> {
        validate_extra_headers(extra_headers)?;
        if let Some(p) = protocol {
            if !self.protocols.iter().any(|o| o == p) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("subprotocol {p:?} was not offered by the client"),
                ));
            }
        }
        let mut out = Headers::with_capacity(5 + extra_headers.len());
        let mut add = |k: &str, v: String| out.push((String::from(k), v));
        add("Upgrade", String::from("websocket"));
        add("Connection", String::from("Upgrade"));
        add("Sec-WebSocket-Accept", accept_key(&self.key));
        if let Some(p) = protocol {
            add("Sec-WebSocket-Protocol", String::from(p));
        }
        if !extensions.is_empty() {
            add("Sec-WebSocket-Extensions", super::format_extensions(extensions));
        }
        out.extend(extra_headers.iter().cloned());
        Ok(out)
    }
}

/// An HTTP error response for a request that cannot be upgraded. A 426 carries
/// `Sec-WebSocket-Version: 13` as RFC 6455 section 4.4 asks; the body is the
/// error message so a person with curl sees why. `extra_headers` (e.g.
/// `WWW-Authenticate` for a 401) are added; invalid ones are left out.
pub fn reject_response(err: &RequestError, extra_headers: &[(String, String)]) -> Vec<u8> {
    let reason = match err.status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };
    let body = format!("{}\n", err.error.message());
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        err.status,
        body.len()
    );
    for (k, v) in refusal_headers(err, false, extra_headers) {
        out.push_str(&k);
        out.push_str(": ");
        out.push_str(&v);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

/// The headers a refusal carries besides its framing (`Content-Type`,
/// `Content-Length`, `Connection`): a 426 names the version we speak
/// (`Sec-WebSocket-Version: 13`, and over HTTP/1.1 `Upgrade: websocket`, as
/// RFC 6455 section 4.4 and RFC 9110 section 15.5.22 ask), a 405 the method
/// that works (`GET`, or `CONNECT` over HTTP/2); then the valid ones of
/// `extra_headers` (invalid ones are left out).
pub(crate) fn refusal_headers(
    err: &RequestError,
    http2: bool,
    extra_headers: &[(String, String)],
) -> Headers {
    let mut out = Headers::new();
    if err.status == 426 {
        out.push((
            String::from("Sec-WebSocket-Version"),
            String::from(WEBSOCKET_VERSION),
        ));
        if !http2 {
            out.push((String::from("Upgrade"), String::from("websocket")));
        }
    }
    if err.status == 405 {
        let allow = if http2 { "CONNECT" } else { "GET" };
        out.push((String::from("Allow"), String::from(allow)));
    }
    for h in extra_headers {
        if validate_extra_headers(core::slice::from_ref(h)).is_ok() {
            out.push(h.clone());
        }
    }
    out
}

fn head_too_big(limits: HandshakeLimits) -> RequestError {
    reject(
        431,
        ErrorKind::HeaderError,
        format!("the request head exceeds {} bytes", limits.max_header_bytes),
    )
}
