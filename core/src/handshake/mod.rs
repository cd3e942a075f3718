//! Opening handshakes: HTTP/1.1 Upgrade (RFC 6455 section 4) in both roles,
//! and the header set of HTTP/2 extended CONNECT (RFC 8441); for servers
//! whose HTTP library parsed the request, the same checks from its head (`head.rs`).
//!
//! Parsing is done by `httparse`; this module decides what a valid WebSocket
//! request or response is. Nothing here performs I/O: the client builds its
//! request bytes and checks the response bytes it is given, the server parses
//! request bytes and builds the response bytes.

mod client;
mod h2;
mod head;
mod origin;
mod server;

use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::deflate::{client_accept, DeflateParams, PERMESSAGE_DEFLATE};
use crate::error::{Error, ErrorKind};
use crate::options::DeflateOptions;

pub use crate::extensions::{format_extensions, parse_extensions, Extension};
pub(crate) use crate::headers::{has_token, joined, single, split_list};
pub use crate::headers::{header, validate_extra_headers, validate_subprotocols, HandshakeLimits, Headers};
pub use client::{ClientHandshake, ClientHandshakeError, ClientRequest, HandshakeAccepted};
pub use h2::{h2_accept_headers, parse_h2_request, H2ConnectRequest, H2_PROTOCOL};
pub use head::{
    accept_answer, parse_request_head, refusal_answer, HandshakeAnswer, RequestHead, RequestVersion,
};
pub use origin::check_origin;
pub use server::{parse_request, reject_response, RequestError, ServerRequest};

/// The only WebSocket version (RFC 6455 section 4.1).
pub const WEBSOCKET_VERSION: &str = "13";
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// An HTTP response head as received by a client: kept whole so a caller can
/// see why a server refused (status, `WWW-Authenticate`, `Retry-After`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code, e.g. 101 for an accepted upgrade, 401, 403, 426.
    pub status: u16,
    /// The reason phrase as the server wrote it (may be empty); only for people.
    pub reason: String,
    /// Every header line in received order, names as written (look them up
    /// case-insensitively with [`HttpResponse::header`]); a repeated header
    /// appears once per line.
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
