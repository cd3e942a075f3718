//! Opening handshakes: HTTP/1.1 Upgrade (RFC 6455 section 4) in both roles,
//! and the header set of HTTP/2 extended CONNECT (RFC 8441).
//!
//! Parsing is done by `httparse`; this module decides what a valid WebSocket
//! request or response is. Nothing here performs I/O: the client builds its
//! request bytes and checks the response bytes it is given, the server parses
//! request bytes and builds the response bytes.

mod client;
mod extensions;
mod h2;
mod server;

use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::deflate::{client_accept, DeflateParams, PERMESSAGE_DEFLATE};
use crate::error::{Error, ErrorKind};
use crate::options::DeflateOptions;

pub use client::{ClientHandshake, ClientHandshakeError, ClientRequest, HandshakeAccepted};
pub use extensions::{format_extensions, parse_extensions, Extension};
pub use h2::{h2_accept_headers, parse_h2_request, H2ConnectRequest, H2_PROTOCOL};
pub use server::{parse_request, reject_response, RequestError, ServerRequest};

/// The only WebSocket version (RFC 6455 section 4.1).
pub const WEBSOCKET_VERSION: &str = "13";
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Header names and values, in the order they were written.
pub type Headers = Vec<(String, String)>;

/// Bounds on what a handshake parser accepts, so a hostile peer cannot make it
/// buffer without end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// Bytes of the request or response head, including the blank line.
    pub max_header_bytes: usize,
    /// Number of header lines.
    pub max_headers: usize,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            max_header_bytes: 16 * 1024,
            max_headers: 64,
        }
    }
}

/// An HTTP response head as received by a client: kept whole so a caller can
/// see why a server refused (status, `WWW-Authenticate`, `Retry-After`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
}

impl HttpResponse {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// A fresh `Sec-WebSocket-Key` from 16 random bytes supplied by the backend.
pub fn encode_key(nonce: [u8; 16]) -> String {
    base64::engine::general_purpose::STANDARD.encode(nonce)
}

/// `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(ACCEPT_GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The first header with this name (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The value of a header that must appear at most once (RFC 6455 section 11.3):
/// `Ok(None)` if absent, an error naming it if repeated.
pub(crate) fn single<'a>(headers: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, Error> {
    let mut found = headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(Error::new(
            ErrorKind::HeaderError,
            alloc::format!("the {name} header appears more than once; it must appear once"),
        ));
    }
    Ok(first)
}

/// Every value of a header that may be repeated, joined as one comma list.
pub(crate) fn joined(headers: &[(String, String)], name: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for (_, v) in headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)) {
        match &mut out {
            Some(s) => {
                s.push_str(", ");
                s.push_str(v);
            }
            None => out = Some(v.clone()),
        }
    }
    out
}

/// True if the comma-separated header value contains `token` (case-insensitive).
pub(crate) fn has_token(value: &str, token: &str) -> bool {
    value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Splits a comma-separated list, dropping empty elements.
pub(crate) fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Headers a caller may not set: the handshake owns them.
const RESERVED_REQUEST_HEADERS: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// Checks caller-supplied extra headers: a valid name, no CR/LF in the value,
/// and none of the headers the handshake itself writes.
pub fn validate_extra_headers(headers: &[(String, String)]) -> Result<(), Error> {
    for (name, value) in headers {
        if !extensions::is_token(name) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                alloc::format!("request header name {name:?} is not a valid HTTP token"),
            ));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                alloc::format!("request header {name:?} has a CR, LF or NUL in its value"),
            ));
        }
        if RESERVED_REQUEST_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
        {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                alloc::format!(
                    "request header {name:?} is set by the WebSocket handshake itself; \
                     use the subprotocol and deflate options instead of setting it"
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a list of subprotocols to offer: tokens, no duplicates.
pub fn validate_subprotocols(protocols: &[String]) -> Result<(), Error> {
    for (i, p) in protocols.iter().enumerate() {
        if !extensions::is_token(p) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                alloc::format!("subprotocol {p:?} is not a valid HTTP token"),
            ));
        }
        if protocols[..i].iter().any(|q| q.eq_ignore_ascii_case(p)) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                alloc::format!("subprotocol {p:?} is listed twice"),
            ));
        }
    }
    Ok(())
}

/// What the server chose, checked against what the client offered. Shared by
/// the HTTP/1.1 and HTTP/2 client paths.
pub(crate) fn check_selection(
    headers: &[(String, String)],
    offered_protocols: &[String],
    offered_extensions: &[String],
    offered_deflate: Option<&DeflateOptions>,
) -> Result<Selection, Error> {
    let protocol = match joined(headers, "sec-websocket-protocol") {
        None => None,
        Some(p) => {
            let p = p.trim();
            // Matched without regard to case, as .NET does; reported as we offered it.
            let Some(offered) = offered_protocols.iter().find(|o| o.eq_ignore_ascii_case(p)) else {
                return Err(Error::new(
                    ErrorKind::UnsupportedProtocol,
                    alloc::format!(
                        "the server selected subprotocol {p:?}, which was not offered \
                         (offered: {offered_protocols:?})"
                    ),
                ));
            };
            Some(offered.clone())
        }
    };
    let extensions = match joined(headers, "sec-websocket-extensions") {
        None => Vec::new(),
        Some(v) => parse_extensions(&v)?,
    };
    let mut deflate = None;
    for e in &extensions {
        if let (Some(o), true) = (offered_deflate, e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE)) {
            if deflate.is_some() {
                return Err(Error::new(
                    ErrorKind::HeaderError,
                    "the server accepted permessage-deflate twice",
                ));
            }
            deflate = Some(client_accept(o, e)?);
            continue;
        }
        if !offered_extensions.iter().any(|o| o.eq_ignore_ascii_case(&e.name)) {
            return Err(Error::new(
                ErrorKind::UnsupportedProtocol,
                alloc::format!(
                    "the server accepted extension {:?}, which was not offered",
                    e.name
                ),
            ));
        }
    }
    Ok(Selection {
        protocol,
        extensions,
        deflate,
    })
}

/// What a server selected, checked.
pub(crate) struct Selection {
    pub protocol: Option<String>,
    pub extensions: Vec<Extension>,
    pub deflate: Option<DeflateParams>,
}

/// The client's verdict on a response: accepted with what it selected, or
/// refused with the response kept for the caller (shared by HTTP/1.1 and HTTP/2).
pub(crate) fn verdict(
    response: HttpResponse,
    selection: Result<Selection, Error>,
) -> Result<HandshakeAccepted, ClientHandshakeError> {
    match selection {
        Ok(sel) => Ok(HandshakeAccepted {
            response,
            protocol: sel.protocol,
            extensions: sel.extensions,
            deflate: sel.deflate,
        }),
        Err(error) => Err(ClientHandshakeError {
            error,
            response: Some(response),
        }),
    }
}

pub(crate) fn convert_headers(raw: &[httparse::Header<'_>]) -> Headers {
    raw.iter()
        .map(|h| {
            (
                String::from(h.name),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_sample_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
