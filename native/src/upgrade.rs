//! The server side for HTTP libraries that hand over an [`http::Request`]
//! (hyper, axum, anything built on the `http` crate): [`accept_request`]
//! checks the request and negotiates (subprotocol, permessage-deflate,
//! the `Origin` policy) through the engine, and returns the `http::Response`
//! to send, `101` over HTTP/1.1 or `200` over HTTP/2 (RFC 8441), with a
//! [`PendingWebSocket`] that becomes the [`WebSocket`] once the library hands
//! over the upgraded connection. A request that cannot be accepted is a
//! [`Refusal`]: a 4xx response that says why.
//!
//! The request's `:protocol` (HTTP/2) is read from its extensions: `h2`'s
//! `h2::ext::Protocol`, and with the `hyper` feature hyper's
//! `hyper::ext::Protocol`.

use http::header::{HeaderName, HeaderValue};
use http::{Extensions, HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use sockweave_core::handshake::{
    accept_answer, parse_request_head, refusal_answer, HandshakeAnswer, RequestError, RequestHead,
    RequestVersion, ServerRequest,
};
use sockweave_core::options::HttpVersion;
use sockweave_core::session::SessionConfig;
use sockweave_core::{ErrorKind as CoreKind, Options};

use crate::error::{Error, ErrorKind};
use crate::http2::header_list;
use crate::server::{Accepted, Rejected};
use crate::transport::Transport;
use crate::websocket::WebSocket;

/// Accepts a WebSocket request handed over by an HTTP library: an HTTP/1.1
/// `GET` upgrade or an HTTP/2 extended `CONNECT`. It selects the first of
/// `options.sub_protocols` the client offered, answers permessage-deflate
/// offers under `options.dangerous_deflate_options` and applies the `Origin`
/// policy (`allowed_origins`). Send the returned response (`101` or `200`,
/// no body), then hand the upgraded connection to
/// [`PendingWebSocket::finish`]. An invalid or refused request is a
/// [`Refusal`]: send [`Refusal::to_response`] instead.
///
/// With hyper, `sockweave::hyper::upgrade` (the `hyper` feature) does both
/// steps; with axum, the `axum` feature's `sockweave::axum::WebSocketUpgrade`.
///
/// ```
/// use sockweave::{accept_request, Options};
/// let request = http::Request::get("/chat")
///     .header("host", "example.com")
///     .header("upgrade", "websocket")
///     .header("connection", "Upgrade")
///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("sec-websocket-version", "13")
///     .header("sec-websocket-protocol", "chat")
///     .body(())
///     .unwrap();
/// let options = Options { sub_protocols: vec!["chat".into()], ..Default::default() };
/// let (response, pending) = accept_request(&request, &options).unwrap();
/// assert_eq!(response.status(), 101);
/// assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// assert_eq!(pending.sub_protocol(), Some("chat"));
/// // Once the library has sent the 101 and handed over the connection `io`
/// // (for hyper: `TokioIo::new(hyper::upgrade::on(&mut request).await?)`):
/// // let ws = pending.finish(io);
/// ```
pub fn accept_request<B>(
    request: &Request<B>,
    options: &Options,
) -> Result<(Response<()>, PendingWebSocket), Refusal> {
    let supported = options.sub_protocols.clone();
    accept_request_with(request, options, move |req| {
        Ok(Accepted {
            sub_protocol: req.select_subprotocol(&supported).map(String::from),
            headers: Vec::new(),
        })
    })
}

/// Like [`accept_request`], but `decide` looks at the valid request (path,
/// headers, offered subprotocols) and accepts it (choosing the subprotocol,
/// adding headers such as `Set-Cookie`) or rejects it with any status, as
/// for [`accept_with`](crate::accept_with). The `Origin` policy is applied
/// before `decide` is asked.
///
/// ```
/// use sockweave::{accept_request_with, Accepted, Options, Rejected};
/// let request = http::Request::get("/private")
///     .header("host", "example.com")
///     .header("upgrade", "websocket")
///     .header("connection", "Upgrade")
///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("sec-websocket-version", "13")
///     .body(())
///     .unwrap();
/// let refusal = accept_request_with(&request, &Options::default(), |req| {
///     if req.header("authorization").is_none() {
///         return Err(Rejected {
///             status: 401,
///             message: "log in first".into(),
///             headers: vec![("WWW-Authenticate".into(), "Basic realm=\"chat\"".into())],
///         });
///     }
///     Ok(Accepted::default())
/// })
/// .unwrap_err();
/// let response: http::Response<String> = refusal.to_response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.body(), "log in first\n");
/// ```
pub fn accept_request_with<B, F>(
    request: &Request<B>,
    options: &Options,
    decide: F,
) -> Result<(Response<()>, PendingWebSocket), Refusal>
where
    F: FnOnce(&ServerRequest) -> Result<Accepted, Rejected>,
{
    answer(parse_request(request)?, options, decide)
}

/// A checked request and the HTTP version it came over (the first step of
/// [`accept_request_with`]; the axum extractor runs it at extraction and
/// [`answer`] once the handler has set its options).
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) request: ServerRequest,
    version: RequestVersion,
}

impl Parsed {
    /// HTTP/2 for an extended CONNECT, HTTP/1.1 for an upgrade.
    pub(crate) fn http_version(&self) -> HttpVersion {
        if self.version == RequestVersion::Http2 {
            HttpVersion::Http2
        } else {
            HttpVersion::Http11
        }
    }

    /// The refusal for a request the HTTP library cannot hand over (no
    /// `hyper::upgrade::OnUpgrade` in its extensions): a server error.
    #[cfg(feature = "hyper")]
    pub(crate) fn not_upgradable(&self) -> Refusal {
        Refusal::server_error(
            self.version,
            String::from(
                "the HTTP server cannot hand over this request's connection (it carries no \
                 hyper::upgrade::OnUpgrade): serve HTTP/1.1 with upgrades (hyper's `with_upgrades()`, \
                 hyper-util's `serve_connection_with_upgrades`) and HTTP/2 with `enable_connect_protocol()`",
            ),
        )
    }
}

/// Checks a whole request's head (see [`parse`]).
pub(crate) fn parse_request<B>(request: &Request<B>) -> Result<Parsed, Refusal> {
    parse(
        request.method(),
        request.version(),
        request.uri(),
        request.headers(),
        request.extensions(),
    )
}

/// Checks a request head (RFC 6455 or RFC 8441, by the engine).
pub(crate) fn parse(
    method: &Method,
    version: Version,
    uri: &Uri,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<Parsed, Refusal> {
    let version = request_version(version);
    let protocol = connect_protocol(extensions);
    let head = RequestHead {
        method: method.as_str(),
        version,
        path: uri.path_and_query().map_or("/", |p| p.as_str()),
        scheme: uri.scheme_str(),
        authority: uri.authority().map(|a| a.as_str()),
        protocol,
        headers: header_list(headers),
    };
    match parse_request_head(head) {
        Ok(request) => Ok(Parsed { request, version }),
        Err(mut e) => {
            if version == RequestVersion::Http2 && *method == Method::CONNECT && protocol.is_none() {
                e.error = sockweave_core::Error::new(
                    e.error.kind(),
                    format!("{} ({})", e.error.message(), NO_PROTOCOL_HINT),
                );
            }
            Err(Refusal::from_request_error(&e, version, &[]))
        }
    }
}

/// Where `:protocol` was looked for, for a CONNECT that seems to have none.
#[cfg(feature = "hyper")]
const NO_PROTOCOL_HINT: &str =
    "no :protocol in the request's extensions (h2::ext::Protocol, hyper::ext::Protocol)";
#[cfg(not(feature = "hyper"))]
const NO_PROTOCOL_HINT: &str = "no :protocol in the request's extensions (h2::ext::Protocol); \
     behind hyper, enable sockweave's `hyper` feature so that hyper::ext::Protocol is read";

/// Answers a checked request under `options`: the `Origin` policy, the
/// application's `decide`, then subprotocol and permessage-deflate (all
/// decided by the engine).
pub(crate) fn answer<F>(
    parsed: Parsed,
    options: &Options,
    decide: F,
) -> Result<(Response<()>, PendingWebSocket), Refusal>
where
    F: FnOnce(&ServerRequest) -> Result<Accepted, Rejected>,
{
    let http_version = parsed.http_version();
    let Parsed { request, version } = parsed;
    if let Err(e) = options.validate() {
        return Err(Refusal::server_error(
            version,
            format!("the server's WebSocket options are invalid ({e}); fix them where the server sets them"),
        ));
    }
    if let Err(e) = request.admit(options) {
        return Err(Refusal::from_request_error(&e, version, &[]));
    }
    let accepted = match decide(&request) {
        Ok(a) => a,
        Err(r) => {
            let status = if (400..=599).contains(&r.status) {
                r.status
            } else {
                500
            };
            let e = RequestError {
                error: sockweave_core::Error::new(CoreKind::NotAWebSocket, r.message),
                status,
            };
            return Err(Refusal::from_request_error(&e, version, &r.headers));
        }
    };
    let deflate = request.negotiate_deflate(options.dangerous_deflate_options.as_ref());
    let extensions: Vec<_> = deflate.iter().map(|(_, e)| e.clone()).collect();
    let answer = accept_answer(
        &request,
        version,
        accepted.sub_protocol.as_deref(),
        &extensions,
        &accepted.headers,
    )
    .map_err(|e| {
        // The application's answer is unusable (a subprotocol the client did not
        // offer, a malformed header): the client gets a server error.
        Refusal::server_error(
            version,
            format!("the server's answer to the handshake is invalid: {}", e.message()),
        )
    })?;
    let response = http_response(answer).map_err(|m| Refusal::server_error(version, m))?;
    let config = SessionConfig::for_server(options, accepted.sub_protocol, deflate.map(|(p, _)| p));
    Ok((
        response,
        PendingWebSocket {
            request,
            config,
            http_version,
        },
    ))
}

/// An accepted request waiting for its connection: what the handshake agreed
/// on (subprotocol, permessage-deflate parameters, the options' limits and
/// keep-alive), made a [`WebSocket`] by [`finish`](Self::finish).
#[derive(Debug)]
pub struct PendingWebSocket {
    request: ServerRequest,
    config: SessionConfig,
    http_version: HttpVersion,
}

impl PendingWebSocket {
    /// The accepted request: path, `Host` or `:authority`, headers, offers.
    pub fn request(&self) -> &ServerRequest {
        &self.request
    }

    /// The subprotocol the response selected.
    pub fn sub_protocol(&self) -> Option<&str> {
        self.config.sub_protocol.as_deref()
    }

    /// Whether the request came over HTTP/1.1 (an upgrade) or HTTP/2 (an
    /// extended CONNECT whose stream is the connection).
    pub fn http_version(&self) -> HttpVersion {
        self.http_version
    }

    /// Runs the server end of the WebSocket on `io`, the connection the HTTP
    /// library handed over after sending the response (for hyper,
    /// `hyper_util::rt::TokioIo::new(upgraded)`; bytes it had read past the
    /// request come first from `io`). Must be called inside a tokio runtime:
    /// the connection's driver is spawned on it.
    ///
    /// ```no_run
    /// # async fn demo(pending: sockweave::PendingWebSocket, io: tokio::net::TcpStream) {
    /// let mut ws = pending.finish(io);
    /// while let Ok(Some(message)) = ws.receive_message().await {
    ///     let _ = ws.send_message(&message).await;
    /// }
    /// # }
    /// ```
    pub fn finish<S: Transport>(self, io: S) -> WebSocket {
        WebSocket::start(io, self.config, &[])
    }
}

/// A request that is not accepted, with the response that says why: its
/// status (400, 403, 405, 426, 505, ... or the application's own), headers
/// (`Sec-WebSocket-Version: 13` with a 426) and a plain-text body.
#[derive(Clone, Debug)]
pub struct Refusal(Box<RefusalParts>);

#[derive(Clone, Debug)]
struct RefusalParts {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    kind: ErrorKind,
}

impl Refusal {
    fn from_request_error(e: &RequestError, version: RequestVersion, extra: &[(String, String)]) -> Self {
        let answer = refusal_answer(e, version, extra);
        let mut headers = HeaderMap::new();
        for (k, v) in &answer.headers {
            // The engine's headers are valid; an application's invalid one is left out.
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_bytes(v.as_bytes()),
            ) {
                headers.append(k, v);
            }
        }
        Refusal(Box::new(RefusalParts {
            status: StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers,
            body: answer.body,
            kind: Error::from(e.error.clone()).kind(),
        }))
    }

    fn server_error(version: RequestVersion, message: String) -> Self {
        let e = RequestError {
            error: sockweave_core::Error::new(CoreKind::InvalidArgument, message),
            status: 500,
        };
        Self::from_request_error(&e, version, &[])
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The response headers (`Content-Type`, and those the refusal calls for).
    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }

    /// Why the request was refused (the response body without its final newline).
    pub fn message(&self) -> &str {
        self.0.body.trim_end_matches('\n')
    }

    /// What kind of failure this is, as a server-side [`Error`] would say.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The refusal as a response for any body type made from a `String`
    /// (`String`, `http_body_util::Full<Bytes>`, `axum::body::Body`, ...).
    ///
    /// ```
    /// # fn demo(refusal: sockweave::Refusal) {
    /// let response: http::Response<String> = refusal.to_response();
    /// # }
    /// ```
    pub fn to_response<B: From<String>>(&self) -> Response<B> {
        let mut response = Response::new(B::from(self.0.body.clone()));
        *response.status_mut() = self.0.status;
        *response.headers_mut() = self.0.headers.clone();
        response
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the WebSocket request was refused with HTTP {}: {}",
            self.0.status.as_u16(),
            self.message()
        )
    }
}

impl std::error::Error for Refusal {}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Error {
        Error::new(r.0.kind, r.to_string())
    }
}

/// The engine's answer as an `http::Response` (no body: an acceptance has none).
fn http_response(answer: HandshakeAnswer) -> Result<Response<()>, String> {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::from_u16(answer.status)
        .map_err(|_| format!("{} is not an HTTP status", answer.status))?;
    let headers = response.headers_mut();
    for (k, v) in answer.headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("{k:?} is not a valid header name"))?;
        let value = HeaderValue::from_bytes(v.as_bytes())
            .map_err(|_| format!("the value of header {k} is not valid"))?;
        headers.append(name, value);
    }
    Ok(response)
}

fn request_version(v: Version) -> RequestVersion {
    if v == Version::HTTP_2 {
        RequestVersion::Http2
    } else if v == Version::HTTP_3 {
        RequestVersion::Http3
    } else if v == Version::HTTP_11 {
        RequestVersion::Http11
    } else {
        RequestVersion::Http10
    }
}

/// The `:protocol` of an HTTP/2 extended CONNECT, as the server library put
/// it in the request's extensions.
fn connect_protocol(extensions: &Extensions) -> Option<&str> {
    #[cfg(feature = "hyper")]
    if let Some(p) = extensions.get::<::hyper::ext::Protocol>() {
        return Some(p.as_str());
    }
    extensions.get::<h2::ext::Protocol>().map(|p| p.as_str())
}

/// A client's handshake response as an `http::Response` (no body), for
/// [`ClientWebSocket::http_response`](crate::ClientWebSocket::http_response).
/// Headers that are not valid `http` headers are left out.
pub(crate) fn received_response(
    response: &sockweave_core::handshake::HttpResponse,
    version: Option<HttpVersion>,
) -> Response<()> {
    let mut out = Response::new(());
    *out.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY);
    *out.version_mut() = match version {
        Some(HttpVersion::Http2) => Version::HTTP_2,
        _ => Version::HTTP_11,
    };
    for (k, v) in &response.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_bytes(v.as_bytes()),
        ) {
            out.headers_mut().append(k, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockweave_core::options::DeflateOptions;

    fn upgrade() -> http::request::Builder {
        Request::get("/chat")
            .header("host", "example.com")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
    }

    fn connect() -> http::request::Builder {
        let mut b = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("https://example.com/chat")
            .header("sec-websocket-version", "13");
        b.extensions_mut()
            .unwrap()
            .insert(h2::ext::Protocol::from_static("websocket"));
        b
    }

    fn deflate_server() -> Options {
        Options {
            dangerous_deflate_options: Some(DeflateOptions {
                server_max_window_bits: 10,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn http1_upgrade_with_deflate_and_the_exact_window_answer() {
        let req = upgrade()
            .header(
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits",
            )
            .body(())
            .unwrap();
        let (resp, pending) = accept_request(&req, &deflate_server()).unwrap();
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(resp.headers()["upgrade"], "websocket");
        assert_eq!(
            resp.headers()["sec-websocket-extensions"],
            "permessage-deflate; server_max_window_bits=10"
        );
        let d = pending.config.deflate.unwrap();
        assert_eq!((d.server_max_window_bits, d.client_max_window_bits), (10, 15));
        assert_eq!(pending.http_version(), HttpVersion::Http11);
    }

    #[test]
    fn http2_extended_connect_gets_200_without_upgrade_headers() {
        let req = connect()
            .header("sec-websocket-extensions", "permessage-deflate")
            .body(())
            .unwrap();
        let (resp, pending) = accept_request(&req, &deflate_server()).unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers().get("upgrade").is_none());
        assert!(resp.headers().get("sec-websocket-accept").is_none());
        assert!(resp.headers().contains_key("sec-websocket-extensions"));
        assert_eq!(pending.request().host, "example.com");
        assert_eq!(pending.http_version(), HttpVersion::Http2);
    }

    #[test]
    fn a_connect_without_protocol_says_where_it_was_looked_for() {
        let req = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("https://example.com/chat")
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap();
        let r = accept_request(&req, &Options::default()).unwrap_err();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.message().contains("h2::ext::Protocol"), "{}", r.message());
    }

    #[test]
    fn refusals_carry_status_headers_and_reason() {
        let req = Request::get("/chat")
            .header("host", "example.com")
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "12")
            .body(())
            .unwrap();
        let r = accept_request(&req, &Options::default()).unwrap_err();
        assert_eq!(r.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(r.kind(), ErrorKind::UnsupportedVersion);
        let resp: Response<String> = r.to_response();
        assert_eq!(resp.headers()["sec-websocket-version"], "13");
        assert!(resp.body().contains("\"12\" is not supported"), "{}", resp.body());

        let origin = Options {
            allowed_origins: vec!["https://app.example".into()],
            ..Default::default()
        };
        let req = upgrade()
            .header("origin", "https://evil.example")
            .body(())
            .unwrap();
        let r = accept_request(&req, &origin).unwrap_err();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.message().contains("evil.example"));

        // An application that picks a subprotocol the client did not offer: 500.
        let req = upgrade().body(()).unwrap();
        let r = accept_request_with(&req, &Options::default(), |_| {
            Ok(Accepted {
                sub_protocol: Some("mqtt".into()),
                headers: Vec::new(),
            })
        })
        .unwrap_err();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.message().contains("mqtt"));
        let e = Error::from(r);
        assert!(e.message().contains("HTTP 500"), "{}", e.message());
    }

    #[test]
    fn the_applications_headers_and_choice_are_sent() {
        let req = upgrade()
            .header("sec-websocket-protocol", "a, b")
            .body(())
            .unwrap();
        let (resp, pending) = accept_request_with(&req, &Options::default(), |r| {
            assert_eq!(r.protocols, ["a", "b"]);
            Ok(Accepted {
                sub_protocol: Some("b".into()),
                headers: vec![
                    ("Set-Cookie".into(), "a=1".into()),
                    ("Set-Cookie".into(), "b=2".into()),
                ],
            })
        })
        .unwrap();
        assert_eq!(resp.headers()["sec-websocket-protocol"], "b");
        assert_eq!(resp.headers().get_all("set-cookie").iter().count(), 2);
        assert_eq!(pending.sub_protocol(), Some("b"));
    }
}
