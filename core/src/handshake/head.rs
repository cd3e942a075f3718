//! A server's handshake when another HTTP library (hyper, axum, ...) has
//! already parsed the request: the same checks as [`parse_request`] and
//! [`parse_h2_request`], from the head's parts instead of bytes, and the
//! answer as a status and a header list for that library to send.
//!
//! [`parse_request`]: super::parse_request

use alloc::format;
use alloc::string::String;

use super::h2::{h2_accept_headers, parse_h2_request};
use super::server::{check_upgrade, refusal_headers, RequestError, ServerRequest};
use super::{validate_extra_headers, Extension, Headers};
use crate::error::{Error, ErrorKind};

/// The HTTP version of a request, as the library that parsed it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestVersion {
    /// HTTP/1.0 or older: no WebSocket (refused with 505).
    Http10,
    /// HTTP/1.1: a `GET` with `Upgrade: websocket` (RFC 6455).
    Http11,
    /// HTTP/2: an extended `CONNECT` with `:protocol = websocket` (RFC 8441).
    Http2,
    /// HTTP/3: WebSockets over HTTP/3 (RFC 9220) are not supported (505).
    Http3,
}

/// A request head parsed by another HTTP library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// The method (`GET`, `CONNECT`, ...).
    pub method: &'a str,
    /// The HTTP version it came over.
    pub version: RequestVersion,
    /// Path and query (HTTP/1.1 request target, HTTP/2 `:path`).
    pub path: &'a str,
    /// `:scheme` (HTTP/2).
    pub scheme: Option<&'a str>,
    /// `:authority` (HTTP/2; HTTP/1.1 uses the `Host` header).
    pub authority: Option<&'a str>,
    /// `:protocol` (HTTP/2 extended CONNECT).
    pub protocol: Option<&'a str>,
    /// The regular headers.
    pub headers: Headers,
}

/// What a server sends to answer a handshake: a status, headers and a body
/// (empty for an acceptance; the reason, as plain text, for a refusal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeAnswer {
    /// `101`, `200`, or the refusal's 4xx/5xx.
    pub status: u16,
    /// The headers, in order (repeated names are repeated headers).
    pub headers: Headers,
    /// The body: empty, or the refusal's reason and a newline.
    pub body: String,
}

/// Checks a WebSocket request whose head another HTTP library parsed: an
/// HTTP/1.1 upgrade (the rules of [`parse_request`](super::parse_request)) or
/// an HTTP/2 extended CONNECT (those of [`parse_h2_request`]), as
/// `head.version` says. Size limits are that library's business.
///
/// ```
/// use sockweave_core::handshake::{parse_request_head, RequestHead, RequestVersion};
/// let head = RequestHead {
///     method: "GET",
///     version: RequestVersion::Http11,
///     path: "/chat",
///     scheme: None,
///     authority: None,
///     protocol: None,
///     headers: [
///         ("host", "example.com"),
///         ("upgrade", "websocket"),
///         ("connection", "Upgrade"),
///         ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
///         ("sec-websocket-version", "13"),
///     ]
///     .map(|(k, v)| (k.into(), v.into()))
///     .to_vec(),
/// };
/// let request = parse_request_head(head).unwrap();
/// assert_eq!(request.path, "/chat");
/// ```
pub fn parse_request_head(head: RequestHead<'_>) -> Result<ServerRequest, RequestError> {
    match head.version {
        RequestVersion::Http10 | RequestVersion::Http11 => check_upgrade(
            head.method,
            head.version == RequestVersion::Http11,
            head.path,
            head.headers,
        ),
        RequestVersion::Http2 => parse_h2_request(
            head.method,
            head.protocol,
            head.scheme,
            Some(head.path),
            head.authority,
            head.headers,
        ),
        RequestVersion::Http3 => Err(RequestError {
            error: Error::new(
                ErrorKind::NotAWebSocket,
                String::from(
                    "WebSockets over HTTP/3 (RFC 9220) are not supported; connect over HTTP/1.1 or HTTP/2",
                ),
            ),
            status: 505,
        }),
    }
}

/// The answer accepting `request`, received over `version`: `101` with
/// `Upgrade`, `Connection` and `Sec-WebSocket-Accept` over HTTP/1.1, `200`
/// over HTTP/2; then the selected subprotocol (which must be one the client
/// offered), the accepted `extensions` (from
/// [`ServerRequest::negotiate_deflate`]) and `extra_headers`.
pub fn accept_answer(
    request: &ServerRequest,
    version: RequestVersion,
    protocol: Option<&str>,
    extensions: &[Extension],
    extra_headers: &[(String, String)],
) -> Result<HandshakeAnswer, Error> {
    let (status, headers) = match version {
        RequestVersion::Http2 => {
            validate_extra_headers(extra_headers)?;
            let mut h = h2_accept_headers(request, protocol, extensions)?;
            h.extend(extra_headers.iter().cloned());
            (200, h)
        }
        RequestVersion::Http11 => (101, request.accept_headers(protocol, extensions, extra_headers)?),
        RequestVersion::Http10 | RequestVersion::Http3 => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("a WebSocket cannot be accepted over {version:?}"),
            ))
        }
    };
    Ok(HandshakeAnswer {
        status,
        headers,
        body: String::new(),
    })
}

/// The answer refusing a request with `err`: its status, the headers a
/// refusal carries (`Sec-WebSocket-Version` with a 426, `Allow` with a 405,
/// then the valid ones of `extra_headers`, such as `WWW-Authenticate`), and
/// the reason as a plain-text body, so a person with curl sees why.
pub fn refusal_answer(
    err: &RequestError,
    version: RequestVersion,
    extra_headers: &[(String, String)],
) -> HandshakeAnswer {
    let mut headers = Headers::new();
    headers.push((
        String::from("Content-Type"),
        String::from("text/plain; charset=utf-8"),
    ));
    headers.extend(refusal_headers(
        err,
        version == RequestVersion::Http2,
        extra_headers,
    ));
    HandshakeAnswer {
        status: err.status,
        headers,
        body: format!("{}\n", err.error.message()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{header, parse_request};
    use alloc::vec::Vec;

    const BYTES: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

    fn headers_of(text: &str) -> Headers {
        text.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (String::from(k), String::from(v)))
            .collect()
    }

    fn head(method: &'static str, version: RequestVersion, headers: Headers) -> RequestHead<'static> {
        RequestHead {
            method,
            version,
            path: "/chat?room=1",
            scheme: Some("https"),
            authority: Some("example.com"),
            protocol: (version == RequestVersion::Http2).then_some("websocket"),
            headers,
        }
    }

    #[test]
    fn the_same_request_as_from_bytes() {
        let from_bytes = parse_request(BYTES.as_bytes(), Default::default())
            .unwrap()
            .unwrap()
            .0;
        let from_parts = parse_request_head(head("GET", RequestVersion::Http11, headers_of(BYTES))).unwrap();
        assert_eq!(from_parts, from_bytes);
        // And the same 101, header for header.
        let answer = accept_answer(&from_parts, RequestVersion::Http11, Some("chat"), &[], &[]).unwrap();
        assert_eq!(answer.status, 101);
        let bytes = from_bytes.accept_response(Some("chat"), &[], &[]).unwrap();
        assert_eq!(headers_of(core::str::from_utf8(&bytes).unwrap()), answer.headers);
        assert_eq!(
            header(&answer.headers, "sec-websocket-accept"),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
    }

    #[test]
    fn http1_refusals_keep_their_statuses() {
        let mut h = headers_of(BYTES);
        h.retain(|(k, _)| k != "Sec-WebSocket-Version");
        h.push((String::from("Sec-WebSocket-Version"), String::from("8")));
        let e = parse_request_head(head("GET", RequestVersion::Http11, h)).unwrap_err();
        assert_eq!(e.status, 426);
        let a = refusal_answer(&e, RequestVersion::Http11, &[]);
        assert_eq!(header(&a.headers, "sec-websocket-version"), Some("13"));
        assert_eq!(header(&a.headers, "upgrade"), Some("websocket"));
        assert!(a.body.contains("\"8\" is not supported"), "{}", a.body);

        let e = parse_request_head(head("POST", RequestVersion::Http11, headers_of(BYTES))).unwrap_err();
        assert_eq!(e.status, 405);
        assert_eq!(
            header(&refusal_answer(&e, RequestVersion::Http11, &[]).headers, "allow"),
            Some("GET")
        );
        let e = parse_request_head(head("GET", RequestVersion::Http10, headers_of(BYTES))).unwrap_err();
        assert_eq!(e.status, 505);
        let e = parse_request_head(head("GET", RequestVersion::Http3, headers_of(BYTES))).unwrap_err();
        assert_eq!(e.status, 505);
        assert!(e.error.message().contains("HTTP/3"));
    }

    #[test]
    fn http2_extended_connect() {
        let h: Headers = [
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "chat"),
            ("sec-websocket-extensions", "permessage-deflate"),
        ]
        .iter()
        .map(|(k, v)| (String::from(*k), String::from(*v)))
        .collect();
        let req = parse_request_head(head("CONNECT", RequestVersion::Http2, h.clone())).unwrap();
        assert_eq!(
            (req.path.as_str(), req.host.as_str()),
            ("/chat?room=1", "example.com")
        );
        let deflate = req.negotiate_deflate(Some(&Default::default())).unwrap();
        let extra = [(String::from("set-cookie"), String::from("a=b"))];
        let a = accept_answer(&req, RequestVersion::Http2, Some("chat"), &[deflate.1], &extra).unwrap();
        assert_eq!(a.status, 200);
        let names: Vec<&str> = a.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["sec-websocket-protocol", "sec-websocket-extensions", "set-cookie"]
        );
        // No :protocol: a plain CONNECT tunnel, not ours.
        let mut plain = head("CONNECT", RequestVersion::Http2, h.clone());
        plain.protocol = None;
        assert_eq!(parse_request_head(plain).unwrap_err().status, 400);
        // A GET over HTTP/2 is told which method works there.
        let e = parse_request_head(head("GET", RequestVersion::Http2, h)).unwrap_err();
        assert_eq!(e.status, 405);
        let a = refusal_answer(&e, RequestVersion::Http2, &[]);
        assert_eq!(header(&a.headers, "allow"), Some("CONNECT"));
        // A subprotocol the client did not offer is the application's error.
        assert!(accept_answer(&req, RequestVersion::Http2, Some("mqtt"), &[], &[]).is_err());
    }
}
