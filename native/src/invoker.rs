//! The invoker (.NET's `HttpMessageInvoker`): a shared handle that owns the
//! connection-level settings (TLS roots and checks, client certificates,
//! proxy, cookies, credentials) and a pool of HTTP/2 connections, one per
//! origin, that WebSockets and ordinary requests share.
//!
//! HTTP/1.1 connections are not pooled: a WebSocket takes its connection over
//! for good, and an ordinary HTTP/1.1 request here uses a connection of its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sockweave_core::handshake::Headers;
use sockweave_core::options::{HttpVersion, HttpVersionPolicy, Plan};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::client::{CookieJar, Credentials};
use crate::error::{Error, ErrorKind};
use crate::http2::client::H2Client;
use crate::proxy::Proxy;
use crate::tls::{CertificateCheck, ClientCertificate, RootCertificates};
use crate::transport::Transport;

/// Largest response head and body an ordinary request reads.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
const MAX_RESPONSE_BODY: usize = 64 * 1024 * 1024;

/// Connection-level settings of an [`Invoker`] (.NET's `SocketsHttpHandler`
/// properties). A [`ClientWebSocket`](crate::ClientWebSocket) connecting
/// through an invoker uses these, not its own.
#[derive(Clone, Debug, Default)]
pub struct InvokerOptions {
    /// Cookies to send, and to update from responses.
    pub cookies: Option<Arc<CookieJar>>,
    /// Sent with HTTP Basic when a server answers 401 with a Basic challenge.
    pub credentials: Option<Credentials>,
    /// Tunnel through this HTTP proxy.
    pub proxy: Option<Proxy>,
    /// Presented when a TLS server asks for a client certificate.
    pub client_certificate: Option<ClientCertificate>,
    /// Overrides the verdict of server certificate verification.
    pub remote_certificate_validation: Option<CertificateCheck>,
    /// The certificate authorities trusted for `wss://` and `https://`.
    pub root_certificates: RootCertificates,
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
    shared: Arc<Shared>,
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
struct Shared {
    options: InvokerOptions,
    /// TLS client configurations by ALPN list (building one reads the roots).
    tls: Mutex<Vec<TlsEntry>>,
    /// One HTTP/2 connection per origin. The async lock is held while a
    /// connection is being made, so concurrent connects share it.
    pool: tokio::sync::Mutex<HashMap<String, H2Client>>,
    connections_opened: AtomicUsize,
}

/// A connection ready for one handshake or request.
pub(crate) enum Connection {
    Http1(Box<dyn Transport>),
    Http2(H2Client),
}

/// An ordinary HTTP request (.NET's `HttpRequestMessage`): HTTP/1.1 with
/// downgrade allowed unless [`version`](Self::version) says otherwise.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Headers,
    pub body: Bytes,
    pub version: HttpVersion,
    pub version_policy: HttpVersionPolicy,
}

impl Request {
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
    pub status: u16,
    /// The HTTP version that carried it.
    pub version: HttpVersion,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        sockweave_core::handshake::header(&self.headers, name)
    }
}

/// The parts of a URL a connection needs.
pub(crate) struct Target {
    pub(crate) secure: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `Host` header / `:authority`.
    pub(crate) authority: String,
    /// Path and query.
    pub(crate) path: String,
    pub(crate) url: url::Url,
}

impl Target {
    pub(crate) fn parse(uri: &str) -> Result<Target, Error> {
        let url = url::Url::parse(uri)
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("invalid URL {uri:?}: {e}")))?;
        let secure = match url.scheme() {
            "ws" | "http" => false,
            "wss" | "https" => true,
            s => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("URL scheme {s:?} is not supported; use ws://, wss://, http:// or https://"),
                ))
            }
        };
        let host_display = url
            .host_str()
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, format!("URL {uri:?} has no host")))?
            .to_owned();
        let default_port = if secure { 443 } else { 80 };
        let port = url.port().unwrap_or(default_port);
        let authority = if port == default_port {
            host_display.clone()
        } else {
            format!("{host_display}:{port}")
        };
        let mut path = url.path().to_owned();
        if path.is_empty() {
            path.push('/');
        }
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Target {
            secure,
            host: host_display.trim_matches(['[', ']']).to_owned(),
            port,
            authority,
            path,
            url,
        })
    }

    /// `host:port` for TCP and proxy CONNECT.
    pub(crate) fn connect_authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The pool key: `ws://` and `http://` (and the secure pair) share connections.
    fn origin(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.connect_authority())
    }

    /// The URL as http(s), for cookies.
    pub(crate) fn http_url(&self) -> url::Url {
        let scheme = if self.secure { "https" } else { "http" };
        let s = format!("{scheme}{}", &self.url.as_str()[self.url.scheme().len()..]);
        url::Url::parse(&s).unwrap_or_else(|_| self.url.clone())
    }
}

impl Invoker {
    pub fn new(options: InvokerOptions) -> Self {
        Invoker {
            shared: Arc::new(Shared {
                options,
                ..Shared::default()
            }),
        }
    }

    pub fn options(&self) -> &InvokerOptions {
        &self.shared.options
    }

    /// How many TCP connections this invoker has opened so far.
    pub fn connections_opened(&self) -> usize {
        self.shared.connections_opened.load(Ordering::Relaxed)
    }

    /// Sends a request: the whole body goes out, the whole response body comes
    /// back (at most 64 MiB). Cookies from the invoker's jar are sent and updated.
    pub async fn send(&self, request: Request) -> Result<Response, Error> {
        let response = self.send_once(&request, false).await?;
        // HTTP Basic, as for WebSockets: only after the server asked for it.
        if response.status == 401
            && self.shared.options.credentials.is_some()
            && response
                .header("www-authenticate")
                .is_some_and(is_basic_challenge)
        {
            return self.send_once(&request, true).await;
        }
        Ok(response)
    }

    async fn send_once(&self, request: &Request, authorize: bool) -> Result<Response, Error> {
        let target = Target::parse(&request.url)?;
        let mut headers = request.headers.clone();
        let cookie_url = target.http_url();
        if let Some(c) = self.cookie_header(&cookie_url) {
            headers.push(("cookie".into(), c));
        }
        if let (true, Some(c)) = (authorize, &self.shared.options.credentials) {
            headers.push(("authorization".into(), c.basic()));
        }
        let plan = Plan::choose(request.version, request.version_policy, target.secure);
        let method = request.method.as_str();
        let response = match self.connect(&target, plan, MAX_RESPONSE_HEAD, false).await? {
            Connection::Http2(h2) => {
                let mut builder = http::Request::builder().method(method).uri(format!(
                    "{}{}",
                    target.origin_url(),
                    target.path
                ));
                for (k, v) in &headers {
                    builder = builder.header(k.to_ascii_lowercase(), v.as_str());
                }
                let head = builder
                    .body(())
                    .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("invalid request: {e}")))?;
                let (status, headers, body) =
                    h2.request(head, request.body.clone(), MAX_RESPONSE_BODY).await?;
                Response {
                    status,
                    version: HttpVersion::Http2,
                    headers,
                    body,
                }
            }
            Connection::Http1(io) => http1_request(io, method, &target, &headers, &request.body).await?,
        };
        if let Some(jar) = &self.shared.options.cookies {
            jar.store_from(&response.headers, &cookie_url);
        }
        Ok(response)
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
        let tcp = match &o.proxy {
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

impl Target {
    fn origin_url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.authority)
    }
}

/// One request on its own HTTP/1.1 connection (`Connection: close`).
async fn http1_request(
    mut io: Box<dyn Transport>,
    method: &str,
    target: &Target,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Response, Error> {
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        target.path,
        target.authority,
        body.len()
    );
    for (k, v) in headers {
        if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("header {k:?} has a line break or colon in it"),
            ));
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    io.write_all(head.as_bytes()).await?;
    io.write_all(body).await?;
    io.flush().await?;
    let mut raw = Vec::new();
    io.take(MAX_RESPONSE_HEAD as u64 + MAX_RESPONSE_BODY as u64)
        .read_to_end(&mut raw)
        .await?;
    parse_http1_response(&raw)
}

/// A whole HTTP/1.1 response read to the end of the connection.
fn parse_http1_response(raw: &[u8]) -> Result<Response, Error> {
    let bad = |what: &str| {
        Error::new(
            ErrorKind::HeaderError,
            format!("invalid HTTP/1.1 response: {what}"),
        )
    };
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut slots);
    let used = match parsed.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(bad("the connection ended inside the head")),
        Err(e) => return Err(bad(&e.to_string())),
    };
    let headers: Headers = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    let status = parsed.code.unwrap_or(0);
    let rest = &raw[used..];
    let header = |n: &str| sockweave_core::handshake::header(&headers, n);
    let body = if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        dechunk(rest).ok_or_else(|| bad("malformed chunked body"))?
    } else if let Some(len) = header("content-length") {
        let len: usize = len.trim().parse().map_err(|_| bad("bad Content-Length"))?;
        rest.get(..len)
            .ok_or_else(|| bad("the body is shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        version: HttpVersion::Http11,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let httparse::Status::Complete((used, size)) = httparse::parse_chunk_size(data).ok()? else {
            return None;
        };
        data = &data[used..];
        if size == 0 {
            return Some(out);
        }
        let size = usize::try_from(size).ok()?;
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

/// A `WWW-Authenticate` value that offers HTTP Basic.
pub(crate) fn is_basic_challenge(v: &str) -> bool {
    v.trim_start().to_ascii_lowercase().starts_with("basic")
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
    if o.proxy.is_some() {
        set.push("proxy");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http1_responses_with_length_chunks_or_eof() {
        let r = parse_http1_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"abc".as_slice()));
        let r = parse_http1_response(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, b"abcde".as_slice()));
        let r = parse_http1_response(b"HTTP/1.1 404 Not Found\r\n\r\ngone").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, b"gone".as_slice()));
        assert!(parse_http1_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc").is_err());
        assert!(
            parse_http1_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
    }
}
