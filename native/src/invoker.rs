//! The invoker (.NET's `HttpMessageInvoker`): a shared handle that owns the
//! connection-level settings (TLS roots and checks, client certificates,
//! proxy, cookies, credentials), a pool of HTTP/2 connections, one per
//! origin, that WebSockets and ordinary requests share, and a bounded pool of
//! idle HTTP/1.1 connections for ordinary requests.
//!
//! A WebSocket over HTTP/1.1 takes its connection over for good, so it always
//! opens a new one; ordinary HTTP/1.1 requests reuse idle connections when
//! the server allows it (RFC 9112 section 9.3).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sockweave_core::handshake::Headers;
use sockweave_core::headers::HandshakeLimits;
use sockweave_core::http1::{parse_response_head, BodyDecoder, Http1Error};
use sockweave_core::options::{HttpVersion, HttpVersionPolicy, Plan};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::auth::{basic_challenged, normalise_origins, BasicPolicy, Credentials};
use crate::cookies::CookieJar;
use crate::error::{Error, ErrorKind};
use crate::http2::client::H2Client;
use crate::proxy::Proxy;
use crate::target::{redact, Target};
use crate::tls::{CertificateCheck, ClientCertificate, RootCertificates};
use crate::transport::Transport;

/// Largest response head an ordinary request reads.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// Header lines in such a head.
const MAX_RESPONSE_HEADERS: usize = 128;
/// Interim (1xx) responses skipped before the final one.
const MAX_INTERIM_RESPONSES: usize = 16;

/// Default of [`InvokerOptions::request_timeout`]: 100 s, as .NET's `HttpClient.Timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(100);
/// Default of [`InvokerOptions::max_response_body`]: 64 MiB.
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 64 * 1024 * 1024;
/// Default of [`InvokerOptions::max_idle_per_origin`].
pub const DEFAULT_MAX_IDLE_PER_ORIGIN: usize = 4;

/// Connection-level settings of an [`Invoker`] (.NET's `SocketsHttpHandler`
/// properties). A [`ClientWebSocket`](crate::ClientWebSocket) connecting
/// through an invoker uses these, not its own.
///
/// `Debug` never shows a password (of [`Credentials`] or in a proxy URL).
#[derive(Clone, Debug)]
pub struct InvokerOptions {
    /// Cookies to send, and to update from responses.
    pub cookies: Option<Arc<CookieJar>>,
    /// Sent with HTTP Basic when a server of one of [`credential_origins`](Self::credential_origins)
    /// answers 401 with a Basic challenge; never sent anywhere else.
    pub credentials: Option<Credentials>,
    /// The origins `credentials` are for, as URLs (`https://api.example`,
    /// `wss://chat.example:8443`; `ws` and `http` name the same origin, and
    /// any path is ignored). Empty (the default) with `credentials` set is an
    /// error at the first Basic challenge, so that credentials never go to a
    /// server nobody chose.
    pub credential_origins: Vec<String>,
    /// Allows HTTP Basic over `ws://` and `http://`, where anyone on the path
    /// can read the password. Off by default: such a challenge fails with
    /// [`ErrorKind::InsecureCredentials`].
    pub allow_basic_over_cleartext: bool,
    /// Tunnel through this HTTP proxy. `None` (the default) uses the proxy
    /// the environment names for each URL (`https_proxy`, `http_proxy`,
    /// `all_proxy`, minus `no_proxy`; see [`EnvProxy`](crate::EnvProxy)).
    pub proxy: Option<Proxy>,
    /// Whether to use a proxy at all (.NET's `HttpClientHandler.UseProxy`),
    /// default `true`. `false` connects directly, ignoring both `proxy` and
    /// the environment.
    pub use_proxy: bool,
    /// Presented when a TLS server asks for a client certificate.
    pub client_certificate: Option<ClientCertificate>,
    /// Overrides the verdict of server certificate verification.
    pub remote_certificate_validation: Option<CertificateCheck>,
    /// The certificate authorities trusted for `wss://` and `https://`.
    pub root_certificates: RootCertificates,
    /// The longest an ordinary request ([`Invoker::send`]) may take, from
    /// connecting (proxy, TCP, TLS) to the last byte of the response; past
    /// it the request fails with [`ErrorKind::Timeout`]. Default
    /// [`DEFAULT_REQUEST_TIMEOUT`]. WebSocket handshakes use their own
    /// `handshake_timeout`.
    pub request_timeout: Duration,
    /// The largest response body [`Invoker::send`] accepts; a longer one fails
    /// with [`ErrorKind::ResponseTooLarge`]. Default [`DEFAULT_MAX_RESPONSE_BODY`].
    pub max_response_body: usize,
    /// Idle HTTP/1.1 connections kept per origin for later requests; 0 sends
    /// `Connection: close` and keeps none. Default [`DEFAULT_MAX_IDLE_PER_ORIGIN`].
    pub max_idle_per_origin: usize,
}

impl Default for InvokerOptions {
    fn default() -> Self {
        InvokerOptions {
            cookies: None,
            credentials: None,
            credential_origins: Vec::new(),
            allow_basic_over_cleartext: false,
            proxy: None,
            use_proxy: true,
            client_certificate: None,
            remote_certificate_validation: None,
            root_certificates: RootCertificates::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            max_idle_per_origin: DEFAULT_MAX_IDLE_PER_ORIGIN,
        }
    }
}

impl InvokerOptions {
    /// The Basic rules these options set.
    pub(crate) fn basic_policy<'a>(&'a self, origins: &'a [String]) -> BasicPolicy<'a> {
        BasicPolicy {
            credentials: self.credentials.as_ref(),
            origins,
            allow_cleartext: self.allow_basic_over_cleartext,
        }
    }

    /// What to send after a 401 from `target` (see [`BasicPolicy::authorization`]).
    pub(crate) fn authorization_for(&self, target: &Target) -> Result<Option<String>, Error> {
        if self.credentials.is_none() {
            return Ok(None);
        }
        // Bound to no origin at all is the core's error (origin_allowed).
        let origins = normalise_origins(&self.credential_origins)?;
        self.basic_policy(&origins).authorization(target)
    }
}

/// A shared, cloneable handle on a pool of HTTP connections (.NET's
/// `HttpMessageInvoker`). WebSockets opened with
/// [`ClientWebSocket::connect_with`](crate::ClientWebSocket::connect_with) and
/// requests made with [`send`](Self::send) to the same
/// origin share one HTTP/2 connection when HTTP/2 is used.
///
/// ```no_run
/// # async fn demo() -> Result<(), sockweave::Error> {
/// use sockweave::{ClientWebSocket, HttpVersion, HttpVersionPolicy, Invoker, Request};
/// let invoker = Invoker::default();
/// let mut a = ClientWebSocket::new();
/// a.options_mut().options.http_version = HttpVersion::Http2;
/// a.options_mut().options.http_version_policy = HttpVersionPolicy::RequestVersionExact;
/// a.connect_with("wss://example.com/chat", &invoker).await?;
/// // Same origin, same TCP connection:
/// let get = Request::get("https://example.com/").version(HttpVersion::Http2, HttpVersionPolicy::RequestVersionOrLower);
/// let page = invoker.send(get).await?;
/// println!("{} {} bytes", page.status, page.body.len());
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Invoker {
    shared: Arc<Pools>,
}

impl std::fmt::Debug for Invoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invoker")
            .field("options", &self.shared.options)
            .field("connections_opened", &self.connections_opened())
            .finish_non_exhaustive()
    }
}

/// A TLS client configuration and the ALPN list it offers.
type TlsEntry = (Vec<&'static [u8]>, Arc<rustls::ClientConfig>);

#[derive(Default)]
struct Pools {
    options: InvokerOptions,
    /// TLS client configurations by ALPN list (building one reads the roots).
    tls: Mutex<Vec<TlsEntry>>,
    /// One HTTP/2 connection per origin. The async lock is held while a
    /// connection is being made, so concurrent connects share it.
    pool: tokio::sync::Mutex<HashMap<String, H2Client>>,
    /// Idle HTTP/1.1 connections by origin, at most `max_idle_per_origin` each.
    idle: Mutex<HashMap<String, Vec<Box<dyn Transport>>>>,
    connections_opened: AtomicUsize,
}

/// A connection ready for one handshake or request.
pub(crate) enum Connection {
    Http1(Box<dyn Transport>),
    Http2(H2Client),
}

/// An ordinary HTTP request (.NET's `HttpRequestMessage`): HTTP/1.1 with
/// downgrade allowed unless [`version`](Self::version) says otherwise.
///
/// `Debug` leaves out the URL's user info and the values of `Authorization`,
/// `Proxy-Authorization` and `Cookie`.
#[derive(Clone)]
pub struct Request {
    /// An HTTP token (`GET`, `POST`, ...); anything else is refused.
    pub method: String,
    /// `http://` or `https://` URL of the resource.
    pub url: String,
    /// Extra headers. Those the invoker writes itself are refused:
    /// `Host`, `Content-Length`, `Transfer-Encoding`, `Connection`, `Upgrade`,
    /// `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, and `Cookie` /
    /// `Authorization` when the invoker has a cookie jar / credentials.
    pub headers: Headers,
    /// The request body (sent with a `Content-Length`); empty for none.
    pub body: Bytes,
    /// The HTTP version to ask for (.NET's `HttpRequestMessage.Version`).
    pub version: HttpVersion,
    /// Whether a lower or higher version may be used instead (.NET's `VersionPolicy`).
    pub version_policy: HttpVersionPolicy,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let secret = ["authorization", "proxy-authorization", "cookie"]
                    .iter()
                    .any(|s| k.eq_ignore_ascii_case(s));
                (k.as_str(), if secret { "***" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &redact(&self.url))
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .field("version", &self.version)
            .field("version_policy", &self.version_policy)
            .finish()
    }
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Headers::new(),
            body: Bytes::new(),
            version: HttpVersion::Http11,
            version_policy: HttpVersionPolicy::RequestVersionOrLower,
        }
    }

    /// A `GET` of `url`.
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` of `body` as `content_type`.
    pub fn post(url: &str, content_type: &str, body: &[u8]) -> Self {
        let mut r = Self::new("POST", url);
        r.headers.push(("content-type".into(), content_type.into()));
        r.body = Bytes::copy_from_slice(body);
        r
    }

    /// The HTTP version to ask for and how strictly (see [`Invoker`] for the table).
    pub fn version(mut self, version: HttpVersion, policy: HttpVersionPolicy) -> Self {
        self.version = version;
        self.version_policy = policy;
        self
    }
}

/// A response to an ordinary request.
#[derive(Clone, Debug)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The HTTP version that carried it.
    pub version: HttpVersion,
    /// Response headers, names in lower case, in the order received.
    pub headers: Headers,
    /// The whole body (at most `max_response_body` bytes).
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        sockweave_core::handshake::header(&self.headers, name)
    }
}

impl Invoker {
    /// An invoker with these connection settings; no connection is made until it is used.
    pub fn new(options: InvokerOptions) -> Self {
        Invoker {
            shared: Arc::new(Pools {
                options,
                ..Pools::default()
            }),
        }
    }

    /// The connection settings it was made with.
    pub fn options(&self) -> &InvokerOptions {
        &self.shared.options
    }

    /// How many TCP connections this invoker has opened so far.
    pub fn connections_opened(&self) -> usize {
        self.shared.connections_opened.load(Ordering::Relaxed)
    }

    /// Sends a request: the whole body goes out, the whole response body comes
    /// back (at most [`InvokerOptions::max_response_body`] bytes), all within
    /// [`InvokerOptions::request_timeout`]. Cookies from the invoker's jar are
    /// sent and updated. After a 401 with a Basic challenge from one of
    /// [`InvokerOptions::credential_origins`], the request is sent once more
    /// with the credentials; redirects are not followed.
    pub async fn send(&self, request: Request) -> Result<Response, Error> {
        let response = self.send_once(&request, None).await?;
        if basic_challenged(response.status, &response.headers) {
            let target = Target::parse(&request.url)?;
            if let Some(authorization) = self.shared.options.authorization_for(&target)? {
                return self.send_once(&request, Some(authorization)).await;
            }
        }
        Ok(response)
    }

    async fn send_once(&self, request: &Request, authorization: Option<String>) -> Result<Response, Error> {
        let target = Target::parse(&request.url)?;
        self.check_request(request)?;
        let limit = self.shared.options.request_timeout;
        match tokio::time::timeout(limit, self.exchange(request, &target, authorization)).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "{} {} did not complete within {limit:?} (InvokerOptions.request_timeout)",
                    request.method,
                    target.display()
                ),
            )),
        }
    }

    /// Refuses a method that is not a token and headers that would break the
    /// request's framing or collide with those the invoker writes.
    fn check_request(&self, request: &Request) -> Result<(), Error> {
        if !is_token(&request.method) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "the method {:?} is not an HTTP token (RFC 9110 section 9.1)",
                    request.method
                ),
            ));
        }
        let o = &self.shared.options;
        for (name, value) in &request.headers {
            if !is_token(name) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("request header name {name:?} is not an HTTP token"),
                ));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("request header {name:?} has a CR, LF or NUL in its value"),
                ));
            }
            let is = |n: &str| name.eq_ignore_ascii_case(n);
            let reserved = RESERVED_REQUEST_HEADERS.iter().any(|r| is(r))
                || (o.cookies.is_some() && is("cookie"))
                || (o.credentials.is_some() && is("authorization"));
            if reserved {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "request header {name:?} is written by the invoker itself (framing, connection \
                         management, or its cookie jar and credentials); remove it from Request.headers"
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn exchange(
        &self,
        request: &Request,
        target: &Target,
        authorization: Option<String>,
    ) -> Result<Response, Error> {
        let mut headers = request.headers.clone();
        let cookie_url = target.http_url();
        if let Some(c) = self.cookie_header(&cookie_url) {
            headers.push(("cookie".into(), c));
        }
        if let Some(a) = authorization {
            headers.push(("authorization".into(), a));
        }
        let plan = Plan::choose(request.version, request.version_policy, target.secure);
        let method = request.method.as_str();
        let max_body = self.shared.options.max_response_body;
        let response = if matches!(plan, Plan::Http1) {
            self.http1(None, method, target, &headers, &request.body).await?
        } else {
            match self.connect(target, plan, MAX_RESPONSE_HEAD, false).await? {
                Connection::Http2(h2) => {
                    let mut builder = http::Request::builder().method(method).uri(format!(
                        "{}{}",
                        target.origin_url(),
                        target.path
                    ));
                    for (k, v) in &headers {
                        builder = builder.header(k.to_ascii_lowercase(), v.as_str());
                    }
                    let head = builder.body(()).map_err(|e| {
                        Error::new(ErrorKind::InvalidArgument, format!("invalid request: {e}"))
                    })?;
                    let (status, headers, body) = h2.request(head, request.body.clone(), max_body).await?;
                    Response {
                        status,
                        version: HttpVersion::Http2,
                        headers,
                        body,
                    }
                }
                Connection::Http1(io) => {
                    self.http1(Some(io), method, target, &headers, &request.body)
                        .await?
                }
            }
        };
        if let Some(jar) = &self.shared.options.cookies {
            jar.store_from(&response.headers, &cookie_url);
        }
        Ok(response)
    }

    /// One request over HTTP/1.1: on `fresh` if given, else on an idle
    /// connection to the origin, else on a new one. A reused connection the
    /// server closed while idle is replaced once, for idempotent methods only;
    /// other methods never take an idle connection, since a server may have
    /// acted on a request whose answer was lost.
    async fn http1(
        &self,
        fresh: Option<Box<dyn Transport>>,
        method: &str,
        target: &Target,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Response, Error> {
        let o = &self.shared.options;
        let keep = o.max_idle_per_origin > 0;
        let head = request_head(method, target, headers, body.len(), keep);
        let origin = target.origin();
        let head_request = method.eq_ignore_ascii_case("HEAD");
        let mut io = match fresh {
            Some(io) => io,
            None => {
                let idle = if is_idempotent(method) {
                    self.take_idle(&origin).await
                } else {
                    None
                };
                if let Some(mut io) = idle {
                    match roundtrip(&mut io, &head, body, head_request, o.max_response_body).await {
                        Ok((response, reusable)) => {
                            if reusable {
                                self.put_idle(origin, io);
                            }
                            return Ok(response);
                        }
                        // Closed while idle: a new connection below.
                        Err(Failure::Stale) => {}
                        Err(Failure::Error(e)) => return Err(e),
                    }
                }
                self.open(target, &[b"http/1.1"], MAX_RESPONSE_HEAD).await?.0
            }
        };
        match roundtrip(&mut io, &head, body, head_request, o.max_response_body).await {
            Ok((response, reusable)) => {
                if reusable && keep {
                    self.put_idle(origin, io);
                }
                Ok(response)
            }
            Err(Failure::Stale) => Err(Error::new(
                ErrorKind::ConnectionClosedPrematurely,
                format!("{} closed the connection without answering", target.display()),
            )),
            Err(Failure::Error(e)) => Err(e),
        }
    }

    /// An idle connection to `origin` that the server has not closed.
    async fn take_idle(&self, origin: &str) -> Option<Box<dyn Transport>> {
        loop {
            let mut io = {
                let mut idle = self.shared.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.get_mut(origin)?.pop()?
            };
            // Anything readable on an idle connection (its end, or bytes nobody
            // asked for) means it cannot carry another request.
            let mut probe = [0u8; 1];
            if tokio::time::timeout(Duration::ZERO, io.read(&mut probe))
                .await
                .is_err()
            {
                return Some(io);
            }
        }
    }

    fn put_idle(&self, origin: String, io: Box<dyn Transport>) {
        let max = self.shared.options.max_idle_per_origin;
        let mut idle = self.shared.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.entry(origin).or_default();
        if list.len() < max {
            list.push(io);
        }
    }

    /// Idle HTTP/1.1 connections kept for `url`'s origin (for tests and metrics).
    pub fn idle_connections(&self, url: &str) -> usize {
        let Ok(target) = Target::parse(url) else {
            return 0;
        };
        let idle = self.shared.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.get(&target.origin()).map_or(0, Vec::len)
    }

    pub(crate) fn cookie_header(&self, url: &url::Url) -> Option<String> {
        self.shared
            .options
            .cookies
            .as_ref()
            .and_then(|j| j.header_for(url))
    }

    /// A connection to `target` as `plan` allows: a pooled or new HTTP/2
    /// connection (whose server accepts extended CONNECT, for a `websocket`),
    /// else a new HTTP/1.1 one. `max_head` bounds a proxy's answer.
    pub(crate) async fn connect(
        &self,
        target: &Target,
        plan: Plan,
        max_head: usize,
        websocket: bool,
    ) -> Result<Connection, Error> {
        let Plan::Http2 { fallback } = plan else {
            return Ok(Connection::Http1(
                self.open(target, &[b"http/1.1"], max_head).await?.0,
            ));
        };
        let origin = target.origin();
        let mut pool = self.shared.pool.lock().await;
        if let Some(h2) = pool.get(&origin) {
            if h2.is_open() {
                let h2 = h2.clone();
                drop(pool);
                return self.use_h2(h2, target, fallback, max_head, websocket).await;
            }
            pool.remove(&origin);
        }
        let (io, alpn_h2) = if target.secure {
            let alpn: &[&'static [u8]] = if fallback { &[b"h2", b"http/1.1"] } else { &[b"h2"] };
            let (io, chosen) = self.open(target, alpn, max_head).await?;
            (io, chosen.as_deref() == Some(b"h2".as_slice()))
        } else {
            (self.open(target, &[], max_head).await?.0, true)
        };
        if !alpn_h2 {
            drop(pool);
            if fallback {
                return Ok(Connection::Http1(io));
            }
            return Err(Error::new(
                ErrorKind::UnsupportedProtocol,
                format!(
                    "{} did not agree to HTTP/2 (TLS ALPN), and the version policy forbids HTTP/1.1; \
                     use httpVersionPolicy RequestVersionOrLower to allow it",
                    target.authority
                ),
            ));
        }
        let h2 = H2Client::handshake(io, &target.authority).await?;
        pool.insert(origin, h2.clone());
        drop(pool);
        self.use_h2(h2, target, fallback, max_head, websocket).await
    }

    async fn use_h2(
        &self,
        h2: H2Client,
        target: &Target,
        fallback: bool,
        max_head: usize,
        websocket: bool,
    ) -> Result<Connection, Error> {
        if h2.extended_connect || !websocket {
            return Ok(Connection::Http2(h2));
        }
        if fallback {
            // The server speaks HTTP/2 but not WebSockets over it (RFC 8441).
            return Ok(Connection::Http1(
                self.open(target, &[b"http/1.1"], max_head).await?.0,
            ));
        }
        Err(Error::new(
            ErrorKind::UnsupportedProtocol,
            format!(
                "{} speaks HTTP/2 but does not allow WebSockets over it (no SETTINGS_ENABLE_CONNECT_PROTOCOL), \
                 and the version policy forbids HTTP/1.1",
                target.authority
            ),
        ))
    }

    /// TCP (through the proxy, if any), then TLS for secure targets; returns
    /// the ALPN protocol the server chose.
    async fn open(
        &self,
        target: &Target,
        alpn: &[&'static [u8]],
        max_head: usize,
    ) -> Result<(Box<dyn Transport>, Option<Vec<u8>>), Error> {
        let o = &self.shared.options;
        self.shared.connections_opened.fetch_add(1, Ordering::Relaxed);
        let proxy = crate::env_proxy::choose(o.proxy.as_ref(), o.use_proxy, target)?;
        let tcp = match &proxy {
            Some(p) => p.tunnel(&target.connect_authority(), max_head).await?,
            None => {
                let tcp = TcpStream::connect((target.host.as_str(), target.port))
                    .await
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Io,
                            format!("cannot connect to {}:{}: {e}", target.host, target.port),
                        )
                        .with_source(e)
                    })?;
                let _ = tcp.set_nodelay(true);
                tcp
            }
        };
        if !target.secure {
            return Ok((Box::new(tcp), None));
        }
        let config = self.tls_config(alpn)?;
        let name = rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("{:?} is not a valid TLS server name: {e}", target.host),
            )
        })?;
        let tls = TlsConnector::from(config).connect(name, tcp).await.map_err(|e| {
            let no_alpn = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
                .is_some_and(|t| {
                    matches!(
                        t,
                        rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
                    )
                });
            if no_alpn && alpn == [b"h2"] {
                Error::new(
                    ErrorKind::UnsupportedProtocol,
                    format!(
                        "{} does not speak HTTP/2 (it refused ALPN h2), and the version policy forbids \
                         HTTP/1.1; use httpVersionPolicy RequestVersionOrLower to allow it",
                        target.authority
                    ),
                )
            } else if no_alpn {
                Error::new(
                    ErrorKind::UnsupportedProtocol,
                    format!(
                        "{} refused the protocols we offered by ALPN (HTTP/1.1); it may speak HTTP/2 \
                         only: ask for it with httpVersion 2",
                        target.authority
                    ),
                )
            } else {
                crate::tls::handshake_error(&target.host, e)
            }
        })?;
        let chosen = tls.get_ref().1.alpn_protocol().map(|p| p.to_vec());
        Ok((Box::new(tls), chosen))
    }

    fn tls_config(&self, alpn: &[&'static [u8]]) -> Result<Arc<rustls::ClientConfig>, Error> {
        let mut cache = self.shared.tls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c)) = cache.iter().find(|(a, _)| a.as_slice() == alpn) {
            return Ok(c.clone());
        }
        let o = &self.shared.options;
        let config = crate::tls::client_config(
            &o.root_certificates,
            o.remote_certificate_validation.as_ref(),
            o.client_certificate.as_ref(),
            alpn,
        )?;
        cache.push((alpn.to_vec(), config.clone()));
        Ok(config)
    }
}

/// Headers whose value the invoker decides: framing, connection management.
const RESERVED_REQUEST_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
];

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 9110 section 9.2.2: a request these methods make can be sent again.
fn is_idempotent(method: &str) -> bool {
    ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"].contains(&method)
}

/// The request head; names and values were checked by `check_request`.
fn request_head(
    method: &str,
    target: &Target,
    headers: &[(String, String)],
    body_len: usize,
    keep: bool,
) -> Vec<u8> {
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\n",
        target.path, target.authority
    );
    if !keep {
        head.push_str("Connection: close\r\n");
    }
    if body_len > 0 || !["GET", "HEAD", "OPTIONS", "TRACE", "DELETE"].contains(&method) {
        head.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// How a round trip failed.
enum Failure {
    /// The connection ended before any byte of a response: a reused one may
    /// have been closed by the server while idle.
    Stale,
    Error(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

/// Writes a request and reads its response, with the framing of RFC 9112
/// section 6.3. Also says whether the connection can carry another request.
async fn roundtrip(
    io: &mut Box<dyn Transport>,
    head: &[u8],
    body: &[u8],
    head_request: bool,
    max_body: usize,
) -> Result<(Response, bool), Failure> {
    let sent = async {
        io.write_all(head).await?;
        io.write_all(body).await?;
        io.flush().await
    }
    .await;
    if sent.is_err() {
        return Err(Failure::Stale);
    }
    let limits = HandshakeLimits {
        max_header_bytes: MAX_RESPONSE_HEAD,
        max_headers: MAX_RESPONSE_HEADERS,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut interim = 0;
    let mut got_any = false;
    let (head, used) = loop {
        match parse_response_head(&buf, &limits, head_request).map_err(response_error)? {
            Some((h, used)) if (100..200).contains(&h.status) => {
                if h.status == 101 {
                    return Err(Failure::Error(Error::new(
                        ErrorKind::HeaderError,
                        "the server switched protocols (101) on an ordinary request",
                    )));
                }
                interim += 1;
                if interim > MAX_INTERIM_RESPONSES {
                    return Err(Failure::Error(Error::new(
                        ErrorKind::HeaderError,
                        format!("the server sent more than {MAX_INTERIM_RESPONSES} interim (1xx) responses"),
                    )));
                }
                buf.drain(..used);
                continue;
            }
            Some(v) => break v,
            None => {}
        }
        let n = match io.read(&mut chunk).await {
            Ok(n) => n,
            Err(_) if !got_any => return Err(Failure::Stale),
            Err(e) => return Err(Failure::Error(e.into())),
        };
        if n == 0 {
            if !got_any {
                return Err(Failure::Stale);
            }
            return Err(Failure::Error(Error::new(
                ErrorKind::ConnectionClosedPrematurely,
                "the server closed the connection inside the response head",
            )));
        }
        got_any = true;
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut decoder = BodyDecoder::new(head.framing, max_body as u64).map_err(response_error)?;
    let mut out = Vec::new();
    let mut extra = false;
    let mut rest = &buf[used..];
    loop {
        let n = decoder.decode(rest, &mut out).map_err(response_error)?;
        extra |= n < rest.len();
        if decoder.is_done() {
            break;
        }
        let got = io.read(&mut chunk).await.map_err(Error::from)?;
        if got == 0 {
            decoder.end_of_input().map_err(response_error)?;
            break;
        }
        rest = &chunk[..got];
    }
    let reusable = head.keep_alive && !extra && decoder.is_done();
    Ok((
        Response {
            status: head.status,
            version: HttpVersion::Http11,
            headers: head.headers,
            body: out,
        },
        reusable,
    ))
}

fn response_error(e: Http1Error) -> Failure {
    let kind = match e {
        Http1Error::BodyTooLarge { .. } => ErrorKind::ResponseTooLarge,
        Http1Error::Truncated => ErrorKind::ConnectionClosedPrematurely,
        _ => ErrorKind::HeaderError,
    };
    let hint = match e {
        Http1Error::BodyTooLarge { .. } => "; raise InvokerOptions.max_response_body to accept it",
        _ => "",
    };
    Failure::Error(Error::new(kind, format!("invalid HTTP/1.1 response: {e}{hint}")))
}

/// The invoker options that are not at their defaults, by their names, for
/// the error when a [`ClientWebSocket`](crate::ClientWebSocket) sets them and
/// also connects through an invoker.
pub(crate) fn non_default(o: &InvokerOptions) -> Vec<&'static str> {
    let mut set = Vec::new();
    if o.cookies.is_some() {
        set.push("cookies");
    }
    if o.credentials.is_some() {
        set.push("credentials");
    }
    if o.allow_basic_over_cleartext {
        set.push("allow_basic_over_cleartext");
    }
    if o.proxy.is_some() {
        set.push("proxy");
    }
    if !o.use_proxy {
        set.push("use_proxy");
    }
    if o.client_certificate.is_some() {
        set.push("client_certificate");
    }
    if o.remote_certificate_validation.is_some() {
        set.push("remote_certificate_validation");
    }
    if !matches!(o.root_certificates, RootCertificates::Platform) {
        set.push("root_certificates");
    }
    set
}
