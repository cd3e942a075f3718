//! Client side of the HTTP/1.1 Upgrade handshake.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::{
    accept_key, check_selection, convert_headers, encode_key, has_token, header, validate_extra_headers,
    validate_subprotocols, Extension, HandshakeLimits, Headers, HttpResponse, WEBSOCKET_VERSION,
};
use crate::deflate::{client_offer, DeflateParams};
use crate::error::{Error, ErrorKind};
use crate::options::DeflateOptions;

/// What the client asks for.
#[derive(Clone, Debug, Default)]
pub struct ClientRequest {
    /// The `Host` header: host, and `:port` when it is not the scheme's default.
    pub host: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Subprotocols to offer, in preference order.
    pub subprotocols: Vec<String>,
    /// permessage-deflate to offer, with these parameters.
    pub deflate: Option<DeflateOptions>,
    /// Other extensions to offer. The engine implements only permessage-deflate:
    /// a caller offering others must implement what the server accepts.
    pub extensions: Vec<Extension>,
    /// Extra headers (cookies, authorization, origin, ...).
    pub headers: Headers,
}

/// A client handshake in progress: it remembers what it offered so the
/// server's answer can be checked against it.
#[derive(Clone, Debug)]
pub struct ClientHandshake {
    expected_accept: String,
    offered_protocols: Vec<String>,
    offered_extensions: Vec<String>,
    offered_deflate: Option<DeflateOptions>,
    limits: HandshakeLimits,
}

/// The server accepted: what it chose, and the whole response for the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeAccepted {
    /// The server's whole `101 Switching Protocols` response (status, reason,
    /// every header, e.g. `Set-Cookie`); .NET's ClientWebSocket exposes it as
    /// `HttpStatusCode` and `HttpResponseHeaders`.
    pub response: HttpResponse,
    /// The subprotocol the server selected (`Sec-WebSocket-Protocol`), always
    /// one the client offered; `None` if it selected none. .NET's
    /// ClientWebSocket: `SubProtocol`.
    pub protocol: Option<String>,
    /// Extensions the server accepted, as it wrote them.
    pub extensions: Vec<Extension>,
    /// The permessage-deflate parameters in force, if the server accepted our offer.
    pub deflate: Option<DeflateParams>,
}

/// The handshake failed. When the server answered, its response is kept so the
/// caller can see why (status, headers such as `WWW-Authenticate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHandshakeError {
    /// What was wrong, usually of kind `NotAWebSocket`, `HeaderError` or
    /// `UnsupportedProtocol`.
    pub error: Error,
    /// The server's response head, when it answered with one (e.g. a 401 with
    /// `WWW-Authenticate`, a 403 from an origin check); `None` when the
    /// request could not be built or the response could not be parsed.
    pub response: Option<HttpResponse>,
}

impl fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl From<Error> for ClientHandshakeError {
    fn from(error: Error) -> Self {
        ClientHandshakeError {
            error,
            response: None,
        }
    }
}

impl ClientRequest {
    /// Every extension offered: permessage-deflate first, then the others.
    pub(crate) fn offer(&self) -> Vec<Extension> {
        let mut v: Vec<Extension> = self.deflate.iter().map(client_offer).collect();
        v.extend(self.extensions.iter().cloned());
        v
    }
}

impl ClientHandshake {
    /// Builds the request bytes. `nonce` must be 16 fresh random bytes (the backend
    /// supplies them: the engine has no entropy source of its own).
    pub fn new(
        req: &ClientRequest,
        nonce: [u8; 16],
        limits: HandshakeLimits,
    ) -> Result<(ClientHandshake, Vec<u8>), Error> {
        validate_extra_headers(&req.headers)?;
        validate_subprotocols(&req.subprotocols)?;
        if !req.path.starts_with('/') || req.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "request path {:?} must start with '/' and contain no spaces or control characters",
                    req.path
                ),
            ));
        }
        if req.host.is_empty() || req.host.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'/') {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("host {:?} is not a valid Host header value", req.host),
            ));
        }
        let key = encode_key(nonce);
        let mut out = String::with_capacity(256);
        out.push_str("GET ");
        out.push_str(&req.path);
        out.push_str(" HTTP/1.1\r\nHost: ");
        out.push_str(&req.host);
        out.push_str("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
        out.push_str(&key);
        out.push_str("\r\nSec-WebSocket-Version: ");
        out.push_str(WEBSOCKET_VERSION);
        out.push_str("\r\n");
        if !req.subprotocols.is_empty() {
            out.push_str("Sec-WebSocket-Protocol: ");
            out.push_str(&req.subprotocols.join(", "));
            out.push_str("\r\n");
        }
        let offer = req.offer();
        if !offer.is_empty() {
            out.push_str("Sec-WebSocket-Extensions: ");
            out.push_str(&super::format_extensions(&offer));
            out.push_str("\r\n");
        }
        for (k, v) in &req.headers {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        let hs = ClientHandshake {
            expected_accept: accept_key(&key),
            offered_protocols: req.subprotocols.clone(),
            offered_extensions: req.extensions.iter().map(|e| e.name.clone()).collect(),
            offered_deflate: req.deflate,
            limits,
        };
        Ok((hs, out.into_bytes()))
    }

    /// Checks the server's response. `Ok(None)`: the head is not complete yet,
    /// call again with more bytes. `Ok(Some((accepted, n)))`: the head was the
    /// first `n` bytes of `buf`; bytes after it are already WebSocket frames.
    pub fn parse_response(
        &self,
        buf: &[u8],
    ) -> Result<Option<(HandshakeAccepted, usize)>, ClientHandshakeError> {
        let mut raw = alloc::vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut resp = httparse::Response::new(&mut raw);
        let n = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if buf.len() > self.limits.max_header_bytes {
                    return Err(too_big(self.limits).into());
                }
                return Ok(None);
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Error::new(
                    ErrorKind::HeaderError,
                    format!(
                        "the handshake response has more than {} headers",
                        self.limits.max_headers
                    ),
                )
                .into())
            }
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::NotAWebSocket,
                    format!("the server's handshake response is not valid HTTP/1.1 ({e})"),
                )
                .into())
            }
        };
        if n > self.limits.max_header_bytes {
            return Err(too_big(self.limits).into());
        }
        let response = HttpResponse {
            status: resp.code.unwrap_or(0),
            reason: String::from(resp.reason.unwrap_or("")),
            headers: convert_headers(resp.headers),
        };
        let selection = self.check(&response);
        super::verdict(response, selection).map(|a| Some((a, n)))
    }

    fn check(&self, r: &HttpResponse) -> Result<super::Selection, Error> {
        if r.status != 101 {
            return Err(Error::new(
                ErrorKind::NotAWebSocket,
                format!(
                    "the server answered HTTP {} {:?} instead of 101 Switching Protocols; \
                     see the response headers for why it refused",
                    r.status, r.reason
                ),
            ));
        }
        let upgrade = header(&r.headers, "upgrade").unwrap_or("");
        if !upgrade.trim().eq_ignore_ascii_case("websocket") {
            return Err(Error::new(
                ErrorKind::HeaderError,
                format!("the response's Upgrade header is {upgrade:?}, expected \"websocket\""),
            ));
        }
        let connection = super::joined(&r.headers, "connection").unwrap_or_default();
        if !has_token(&connection, "upgrade") {
            return Err(Error::new(
                ErrorKind::HeaderError,
                format!("the response's Connection header is {connection:?}, expected \"Upgrade\""),
            ));
        }
        match super::single(&r.headers, "sec-websocket-accept")? {
            Some(a) if a.trim() == self.expected_accept => {}
            Some(a) => {
                return Err(Error::new(
                    ErrorKind::HeaderError,
                    format!(
                        "Sec-WebSocket-Accept is {a:?} but the key we sent requires {:?}",
                        self.expected_accept
                    ),
                ))
            }
            None => {
                return Err(Error::new(
                    ErrorKind::HeaderError,
                    "the response has no Sec-WebSocket-Accept header",
                ))
            }
        }
        check_selection(
            &r.headers,
            &self.offered_protocols,
            &self.offered_extensions,
            self.offered_deflate.as_ref(),
        )
    }
}

fn too_big(limits: HandshakeLimits) -> Error {
    Error::new(
        ErrorKind::HeaderError,
        format!(
            "the handshake response head exceeds {} bytes",
            limits.max_header_bytes
        ),
    )
}
