//! WebSockets over HTTP/2 (RFC 8441): the extended CONNECT request's header
//! set, the client's check of the response, and the server's check of the request.
//!
//! HTTP/2 has no `Upgrade`, `Connection` or `Sec-WebSocket-Key`: the stream
//! itself is the tunnel, and `:protocol = websocket` says what runs in it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::client::{ClientHandshakeError, ClientRequest, HandshakeAccepted};
use super::server::{check_version, finish_request, RequestError, ServerRequest};
use super::{
    check_selection, format_extensions, validate_extra_headers, validate_subprotocols, Headers, HttpResponse,
    WEBSOCKET_VERSION,
};
use crate::error::{Error, ErrorKind};

/// The value of the `:protocol` pseudo-header.
pub const H2_PROTOCOL: &str = "websocket";

/// Headers HTTP/2 forbids (RFC 9113 section 8.2.2); a request carrying them is malformed.
const CONNECTION_SPECIFIC: &[&str] = &[
    "connection",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
];

/// An extended CONNECT request: pseudo-headers and regular headers (lowercase names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H2ConnectRequest {
    /// `:method`, always `CONNECT`.
    pub method: &'static str,
    /// `:protocol`, always `websocket`.
    pub protocol: &'static str,
    /// `:scheme`: `https` for `wss://`, `http` for `ws://`.
    pub scheme: String,
    /// `:authority`.
    pub authority: String,
    /// `:path`.
    pub path: String,
    /// Regular headers: `sec-websocket-version`, offers, and the caller's extra headers.
    pub headers: Headers,
    offered_protocols: Vec<String>,
    offered_extensions: Vec<String>,
    offered_deflate: Option<crate::options::DeflateOptions>,
}

impl H2ConnectRequest {
    /// Builds the request from the same description as an HTTP/1.1 handshake;
    /// `req.host` becomes `:authority`.
    pub fn new(scheme: &str, req: &ClientRequest) -> Result<Self, Error> {
        validate_extra_headers(&req.headers)?;
        validate_subprotocols(&req.subprotocols)?;
        if scheme != "http" && scheme != "https" {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("the :scheme of an extended CONNECT must be http or https, not {scheme:?}"),
            ));
        }
        let mut headers: Headers = Vec::new();
        headers.push((
            String::from("sec-websocket-version"),
            String::from(WEBSOCKET_VERSION),
        ));
        if !req.subprotocols.is_empty() {
            headers.push((
                String::from("sec-websocket-protocol"),
                req.subprotocols.join(", "),
            ));
        }
        let offer = req.offer();
        if !offer.is_empty() {
            headers.push((
                String::from("sec-websocket-extensions"),
                format_extensions(&offer),
            ));
        }
        for (k, v) in &req.headers {
            let k = k.to_ascii_lowercase();
            if CONNECTION_SPECIFIC.contains(&k.as_str()) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("header {k:?} is connection-specific and not allowed in HTTP/2"),
                ));
            }
            headers.push((k, v.clone()));
        }
        Ok(H2ConnectRequest {
            method: "CONNECT",
            protocol: H2_PROTOCOL,
            scheme: String::from(scheme),
            authority: req.host.clone(),
            path: req.path.clone(),
            headers,
            offered_protocols: req.subprotocols.clone(),
            offered_extensions: req.extensions.iter().map(|e| e.name.clone()).collect(),
            offered_deflate: req.deflate,
        })
    }

    /// Checks the server's response to the CONNECT (`:status` and headers).
    pub fn check_response(
        &self,
        status: u16,
        headers: Headers,
    ) -> Result<HandshakeAccepted, ClientHandshakeError> {
        let response = HttpResponse {
            status,
            reason: String::new(),
            headers,
        };
        if !(200..300).contains(&status) {
            return Err(ClientHandshakeError {
                error: Error::new(
                    ErrorKind::NotAWebSocket,
                    format!(
                        "the server answered the extended CONNECT with :status {status} instead of 200; \
                         see the response headers for why it refused"
                    ),
                ),
                response: Some(response),
            });
        }
        let selection = check_selection(
            &response.headers,
            &self.offered_protocols,
            &self.offered_extensions,
            self.offered_deflate.as_ref(),
        );
        super::verdict(response, selection)
    }
}

/// Validates an extended CONNECT request received by a server. The arguments
/// are the pseudo-headers (`None` when absent) and the regular headers.
pub fn parse_h2_request(
    method: &str,
    protocol: Option<&str>,
    scheme: Option<&str>,
    path: Option<&str>,
    authority: Option<&str>,
    headers: Headers,
) -> Result<ServerRequest, RequestError> {
    let fail = |status, kind, message: String| RequestError {
        error: Error::new(kind, message),
        status,
    };
    if method != "CONNECT" {
        return Err(fail(
            405,
            ErrorKind::NotAWebSocket,
            format!("a WebSocket over HTTP/2 uses CONNECT, not {method}"),
        ));
    }
    match protocol {
        Some(p) if p.eq_ignore_ascii_case(H2_PROTOCOL) => {}
        Some(p) => {
            return Err(fail(
                501,
                ErrorKind::NotAWebSocket,
                format!(":protocol {p:?} is not supported; only \"websocket\" is"),
            ))
        }
        None => {
            return Err(fail(
                400,
                ErrorKind::NotAWebSocket,
                String::from("a CONNECT without :protocol is a plain tunnel request, not a WebSocket"),
            ))
        }
    }
    let (Some(_scheme), Some(path), Some(authority)) = (scheme, path, authority) else {
        return Err(fail(
            400,
            ErrorKind::HeaderError,
            String::from("an extended CONNECT needs :scheme, :path and :authority"),
        ));
    };
    if path.is_empty() {
        return Err(fail(400, ErrorKind::HeaderError, String::from(":path is empty")));
    }
    if let Some((k, _)) = headers
        .iter()
        .find(|(k, _)| CONNECTION_SPECIFIC.iter().any(|c| c.eq_ignore_ascii_case(k)))
    {
        return Err(fail(
            400,
            ErrorKind::HeaderError,
            format!("header {k:?} is connection-specific and not allowed in HTTP/2"),
        ));
    }
    check_version(&headers)?;
    finish_request(
        String::from(path),
        String::from(authority),
        headers,
        String::new(),
    )
}

/// Headers of the server's `200` response accepting an extended CONNECT.
pub fn h2_accept_headers(
    req: &ServerRequest,
    protocol: Option<&str>,
    extensions: &[super::Extension],
) -> Result<Headers, Error> {
    let mut headers = Headers::new();
    if let Some(p) = protocol {
        if !req.protocols.iter().any(|o| o == p) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("subprotocol {p:?} was not offered by the client"),
            ));
        }
        headers.push((String::from("sec-websocket-protocol"), String::from(p)));
    }
    if !extensions.is_empty() {
        headers.push((
            String::from("sec-websocket-extensions"),
            format_extensions(extensions),
        ));
    }
    Ok(headers)
}
