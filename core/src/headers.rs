//! HTTP header syntax that the handshakes, the options and the invoker share:
//! looking headers up, checking names and lists a caller supplies, and the
//! bounds a head parser keeps to.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, ErrorKind};
use crate::extensions::is_token;

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
        if !is_token(name) {
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
        if !is_token(p) {
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
