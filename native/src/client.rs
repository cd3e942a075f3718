//! [`ClientWebSocket`]: connect to `ws://` and `wss://` URLs over HTTP/1.1,
//! with the options of .NET's `ClientWebSocketOptions`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockweave_core::handshake::{ClientHandshake, ClientRequest, HttpResponse};
use sockweave_core::options::{
    DeflateOptions, HeaderList, HttpVersion, HttpVersionPolicy, Millis, DEFAULT_KEEP_ALIVE_INTERVAL,
};
use sockweave_core::session::{MessageType, ReceiveResult, Role, SendFlags, SessionConfig, State};
use sockweave_core::{CloseCode, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, ErrorKind};
use crate::proxy::Proxy;
use crate::tls::{CertificateCheck, ClientCertificate, RootCertificates};
use crate::websocket::{DriverConfig, Transport, WebSocket};

/// A user name and password for HTTP Basic authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Cookies shared between connections (.NET's `CookieContainer`): sent with
/// handshakes to matching URLs, updated from `Set-Cookie` in responses.
/// Domain, path, expiry and `Secure` rules are those of RFC 6265 (`cookie_store`).
#[derive(Debug, Default)]
pub struct CookieJar {
    store: Mutex<cookie_store::CookieStore>,
}

impl CookieJar {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a cookie as a server would set it, e.g. `"id=42; Path=/"`, for `url`.
    pub fn set_cookie(&self, cookie: &str, url: &str) -> Result<(), Error> {
        let url = cookie_url(&parse_url(url)?);
        self.lock()
            .parse(cookie, &url)
            .map(|_| ())
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("cookie {cookie:?}: {e}")))
    }

    /// The `Cookie` header value for `url`, if any cookie matches.
    pub fn cookie_header(&self, url: &str) -> Result<Option<String>, Error> {
        Ok(self.header_for(&cookie_url(&parse_url(url)?)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, cookie_store::CookieStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn header_for(&self, url: &url::Url) -> Option<String> {
        let store = self.lock();
        let pairs: Vec<String> = store
            .get_request_values(url)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn store_from(&self, response: &HttpResponse, url: &url::Url) {
        let mut store = self.lock();
        for (k, v) in &response.headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                // A malformed or foreign-domain cookie is ignored, as browsers do.
                let _ = store.parse(v, url);
            }
        }
    }
}

/// Cookies follow the http(s) rules: a `wss://` URL is `https://` for `Secure`.
fn cookie_url(u: &url::Url) -> url::Url {
    let mut c = u.clone();
    let scheme = if u.scheme() == "wss" { "https" } else { "http" };
    // Switching between special schemes cannot fail; keep the original otherwise.
    let s = format!("{scheme}{}", &u.as_str()[u.scheme().len()..]);
    if let Ok(v) = url::Url::parse(&s) {
        c = v;
    }
    c
}

fn parse_url(s: &str) -> Result<url::Url, Error> {
    url::Url::parse(s).map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("invalid URL {s:?}: {e}")))
}

/// Options of a [`ClientWebSocket`] (.NET's `ClientWebSocketOptions`).
///
/// The protocol options ([`Options`]: keep-alive, deflate, subprotocols,
/// request headers, HTTP version, limits) are shared with every sockweave
/// backend; the rest are connection settings of a native client.
#[derive(Clone, Debug, Default)]
pub struct ClientWebSocketOptions {
    pub options: Options,
    /// Cookies to send, and to update from the handshake response.
    pub cookies: Option<Arc<CookieJar>>,
    /// Sent with HTTP Basic when the server answers 401 with a Basic challenge.
    pub credentials: Option<Credentials>,
    /// Tunnel through this HTTP proxy.
    pub proxy: Option<Proxy>,
    /// Presented when a TLS server asks for a client certificate.
    pub client_certificate: Option<ClientCertificate>,
    /// Overrides the verdict of server certificate verification (.NET's
    /// `RemoteCertificateValidationCallback`). Verification is on unless this says otherwise.
    pub remote_certificate_validation: Option<CertificateCheck>,
    /// The certificate authorities trusted for `wss://`.
    pub root_certificates: RootCertificates,
}

impl ClientWebSocketOptions {
    /// Adds a subprotocol to offer (.NET's `AddSubProtocol`).
    pub fn add_sub_protocol(&mut self, protocol: &str) -> &mut Self {
        self.options.sub_protocols.push(protocol.to_owned());
        self
    }

    /// Sets a header of the handshake request (.NET's `SetRequestHeader`),
    /// replacing an earlier value of the same name.
    pub fn set_request_header(&mut self, name: &str, value: &str) -> &mut Self {
        let list: &mut HeaderList = &mut self.options.request_headers;
        list.0.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        list.0.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Keep-alive interval (default 30 s for a client; zero turns keep-alive off).
    pub fn set_keep_alive_interval(&mut self, d: Duration) -> &mut Self {
        self.options.keep_alive_interval = Some(Millis::Finite(d.as_millis() as u64));
        self
    }

    /// Keep-alive timeout (default infinite: Unsolicited PONG).
    pub fn set_keep_alive_timeout(&mut self, d: Duration) -> &mut Self {
        self.options.keep_alive_timeout = Some(Millis::Finite(d.as_millis() as u64));
        self
    }

    /// permessage-deflate parameters to offer (.NET's `DangerousDeflateOptions`).
    pub fn set_dangerous_deflate_options(&mut self, d: Option<DeflateOptions>) -> &mut Self {
        self.options.dangerous_deflate_options = d;
        self
    }
}

/// A WebSocket client (.NET's `ClientWebSocket`): set options, `connect`,
/// then use it as a [`WebSocket`].
#[derive(Debug, Default)]
pub struct ClientWebSocket {
    options: ClientWebSocketOptions,
    ws: Option<WebSocket>,
    /// `connect` was called (a ClientWebSocket connects once, like .NET's).
    used: bool,
    response: Option<HttpResponse>,
}

/// The parts of a `ws://` / `wss://` URL a handshake needs.
struct Target {
    secure: bool,
    host: String,
    port: u16,
    /// `Host` header / `:authority` / CONNECT target.
    authority: String,
    path: String,
    url: url::Url,
}

impl Target {
    fn parse(uri: &str) -> Result<Target, Error> {
        let url = parse_url(uri)?;
        let secure = match url.scheme() {
            "ws" | "http" => false,
            "wss" | "https" => true,
            s => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("URL scheme {s:?} is not a WebSocket scheme; use ws:// or wss://"),
                ))
            }
        };
        if url.fragment().is_some() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a WebSocket URL must not have a fragment (#...) (RFC 6455 section 3)",
            ));
        }
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

    fn connect_authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl ClientWebSocket {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_options(options: ClientWebSocketOptions) -> Self {
        ClientWebSocket {
            options,
            ..Self::default()
        }
    }

    pub fn options(&self) -> &ClientWebSocketOptions {
        &self.options
    }

    /// Options can be changed until `connect` is called; later changes have no effect.
    pub fn options_mut(&mut self) -> &mut ClientWebSocketOptions {
        &mut self.options
    }

    /// Connects and performs the opening handshake over HTTP/1.1 (.NET's `ConnectAsync`).
    ///
    /// On failure the server's response, if it sent one, is in the error
    /// ([`Error::response`]) and in [`http_status_code`](Self::http_status_code) /
    /// [`http_response_headers`](Self::http_response_headers).
    pub async fn connect(&mut self, uri: &str) -> Result<(), Error> {
        if self.used {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "connect was already called on this ClientWebSocket",
            ));
        }
        self.options.options.validate()?;
        let target = Target::parse(uri)?;
        // This build speaks HTTP/1.1 only: HTTP/2 may be asked for only where
        // the policy allows falling back to a lower version.
        if self.options.options.http_version == HttpVersion::Http2
            && self.options.options.http_version_policy != HttpVersionPolicy::RequestVersionOrLower
        {
            return Err(Error::new(
                ErrorKind::UnsupportedProtocol,
                "HTTP/2 WebSockets (RFC 8441) are not available in this build, and the version policy \
                 forbids falling back to HTTP/1.1; use httpVersionPolicy RequestVersionOrLower or HTTP/1.1",
            ));
        }
        self.used = true;
        let limit = crate::duration(self.options.options.handshake_timeout);
        let result = tokio::time::timeout(limit, self.handshake(&target)).await;
        let result = result.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Timeout,
                format!("connecting to {uri} did not complete within {limit:?} (handshakeTimeout)"),
            ))
        });
        match result {
            Ok((ws, response)) => {
                self.response = Some(response);
                self.ws = Some(ws);
                Ok(())
            }
            Err(e) => {
                self.response = e.response().cloned();
                Err(e)
            }
        }
    }

    async fn handshake(&self, target: &Target) -> Result<(WebSocket, HttpResponse), Error> {
        let mut authorize = false;
        loop {
            let stream = self.open(target).await?;
            match self.upgrade(stream, target, authorize).await {
                Err(e)
                    if !authorize
                        && self.options.credentials.is_some()
                        && e.response().is_some_and(|r| {
                            r.status == 401
                                && r.header("www-authenticate")
                                    .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("basic"))
                        }) =>
                {
                    authorize = true;
                }
                other => return other,
            }
        }
    }

    /// TCP (possibly through the proxy), then TLS for `wss://`.
    async fn open(&self, target: &Target) -> Result<Box<dyn Transport>, Error> {
        let o = &self.options;
        let tcp = match &o.proxy {
            Some(p) => {
                p.tunnel(&target.connect_authority(), o.options.max_handshake_header_bytes)
                    .await?
            }
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
            return Ok(Box::new(tcp));
        }
        let config = crate::tls::client_config(
            &o.root_certificates,
            o.remote_certificate_validation.as_ref(),
            o.client_certificate.as_ref(),
            &[b"http/1.1"],
        )?;
        let name = rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("{:?} is not a valid TLS server name: {e}", target.host),
            )
        })?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| crate::tls::handshake_error(&target.host, e))?;
        Ok(Box::new(tls))
    }

    async fn upgrade(
        &self,
        mut stream: Box<dyn Transport>,
        target: &Target,
        authorize: bool,
    ) -> Result<(WebSocket, HttpResponse), Error> {
        let o = &self.options.options;
        let mut headers = o.request_headers.0.clone();
        let cookie_url = cookie_url(&target.url);
        if let Some(jar) = &self.options.cookies {
            if let Some(c) = jar.header_for(&cookie_url) {
                headers.retain(|(k, _)| !k.eq_ignore_ascii_case("cookie"));
                headers.push(("Cookie".into(), c));
            }
        }
        if authorize {
            if let Some(c) = &self.options.credentials {
                headers.push(("Authorization".into(), c.basic()));
            }
        }
        let request = ClientRequest {
            host: target.authority.clone(),
            path: target.path.clone(),
            subprotocols: o.sub_protocols.clone(),
            deflate: o.dangerous_deflate_options,
            extensions: Vec::new(),
            headers,
        };
        let (hs, bytes) = ClientHandshake::new(&request, crate::random_nonce(), o.handshake_limits())?;
        stream.write_all(&bytes).await?;
        stream.flush().await?;
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 2048];
        let (accepted, used) = loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(Error::new(
                    ErrorKind::ConnectionClosedPrematurely,
                    "the server closed the connection before answering the WebSocket handshake",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
            match hs.parse_response(&buf) {
                Ok(Some(v)) => break v,
                Ok(None) => {}
                Err(e) => {
                    if let (Some(jar), Some(r)) = (&self.options.cookies, &e.response) {
                        jar.store_from(r, &cookie_url);
                    }
                    return Err(Error::from(e.error).with_response(e.response));
                }
            }
        };
        if let Some(jar) = &self.options.cookies {
            jar.store_from(&accepted.response, &cookie_url);
        }
        let mut options = o.clone();
        if options.keep_alive_interval.is_none() {
            options.keep_alive_interval = Some(DEFAULT_KEEP_ALIVE_INTERVAL);
        }
        let mut config = SessionConfig::from_options(Role::Client, &options);
        config.sub_protocol = accepted.protocol.clone();
        config.deflate = accepted.deflate;
        let ws = WebSocket::start(stream, config, &buf[used..], DriverConfig::from_options(&options));
        Ok((ws, accepted.response))
    }

    /// The HTTP status of the handshake response (.NET's `HttpStatusCode`),
    /// also after a failed `connect`.
    pub fn http_status_code(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// The headers of the handshake response (.NET's `HttpResponseHeaders`).
    pub fn http_response_headers(&self) -> Option<&[(String, String)]> {
        self.response.as_ref().map(|r| r.headers.as_slice())
    }

    /// The connected WebSocket, if `connect` succeeded.
    pub fn websocket(&self) -> Option<&WebSocket> {
        self.ws.as_ref()
    }

    /// Takes the connected WebSocket (for `split`, `Stream`, `Sink`).
    pub fn into_websocket(self) -> Option<WebSocket> {
        self.ws
    }

    fn connected(&self) -> Result<&WebSocket, Error> {
        self.ws.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidState,
                "the ClientWebSocket is not connected; call connect first",
            )
        })
    }

    /// `None` before `connect`, then the connection's state; `Closed` after a
    /// failed (or cancelled) `connect`.
    pub fn state(&self) -> State {
        match &self.ws {
            Some(ws) => ws.state(),
            None if self.used => State::Closed,
            None => State::None,
        }
    }

    /// See [`WebSocket::receive`].
    pub async fn receive(&self, buf: &mut [u8]) -> Result<ReceiveResult, Error> {
        self.connected()?.receive(buf).await
    }

    /// See [`WebSocket::send`].
    pub async fn send(&self, data: &[u8], ty: MessageType, flags: SendFlags) -> Result<(), Error> {
        self.connected()?.send(data, ty, flags).await
    }

    /// See [`WebSocket::close`].
    pub async fn close(&self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        self.connected()?.close(code, reason).await
    }

    /// See [`WebSocket::close_output`].
    pub async fn close_output(&self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        self.connected()?.close_output(code, reason).await
    }

    /// See [`WebSocket::abort`].
    pub fn abort(&self) {
        if let Some(ws) = &self.ws {
            ws.abort();
        }
    }

    pub fn close_status(&self) -> Option<CloseCode> {
        self.ws.as_ref().and_then(|w| w.close_status())
    }

    pub fn close_status_description(&self) -> Option<String> {
        self.ws.as_ref().and_then(|w| w.close_status_description())
    }

    /// The subprotocol the server selected.
    pub fn sub_protocol(&self) -> Option<String> {
        self.ws.as_ref().and_then(|w| w.sub_protocol())
    }
}
