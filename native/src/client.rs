//! [`ClientWebSocket`]: connect to `ws://` and `wss://` URLs over HTTP/1.1
//! (RFC 6455) or HTTP/2 (RFC 8441), with the options of .NET's
//! `ClientWebSocketOptions`.

use std::sync::Arc;
use std::time::Duration;

use sockweave_core::handshake::{ClientHandshake, ClientRequest, H2ConnectRequest, HttpResponse};
use sockweave_core::options::{DeflateOptions, HeaderList, HttpVersion, Millis, Plan};
use sockweave_core::session::{MessageType, ReceiveResult, SendFlags, SessionConfig, State};
use sockweave_core::{CloseCode, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::auth::{basic_challenged, Credentials};
use crate::cookies::CookieJar;
use crate::error::{Error, ErrorKind};
use crate::http2::client::H2Client;
use crate::invoker::{non_default, Connection, Invoker, InvokerOptions};
use crate::proxy::Proxy;
use crate::target::{redact, Target};
use crate::tls::{CertificateCheck, ClientCertificate, RootCertificates};
use crate::transport::Transport;
use crate::websocket::WebSocket;

/// Options of a [`ClientWebSocket`] (.NET's `ClientWebSocketOptions`).
///
/// The protocol options ([`Options`]: keep-alive, deflate, subprotocols,
/// request headers, HTTP version, limits) are shared with every sockweave
/// backend; the rest are connection settings of a native client. `Debug`
/// never shows a password (of [`Credentials`] or in a proxy URL).
#[derive(Clone, Debug)]
pub struct ClientWebSocketOptions {
    /// The WebSocket options shared with servers and the npm package
    /// (subprotocols, deflate, keep-alive, limits, HTTP version).
    pub options: Options,
    /// Cookies to send, and to update from the handshake response.
    pub cookies: Option<Arc<CookieJar>>,
    /// Sent with HTTP Basic when the server answers 401 with a Basic
    /// challenge, to the origin of the URL given to `connect` only.
    pub credentials: Option<Credentials>,
    /// Allows sending `credentials` over `ws://`, where anyone on the path can
    /// read the password. Off by default: such a challenge fails with
    /// [`ErrorKind::InsecureCredentials`].
    pub allow_basic_over_cleartext: bool,
    /// Tunnel through this HTTP proxy. `None` (the default) uses the proxy
    /// the environment names for the URL (`https_proxy` for `wss://`,
    /// `http_proxy` for `ws://`, `all_proxy`, minus `no_proxy`; see
    /// [`EnvProxy`](crate::EnvProxy)), as .NET's default proxy does.
    pub proxy: Option<Proxy>,
    /// Whether to use a proxy at all (.NET's `HttpClientHandler.UseProxy`),
    /// default `true`. `false` connects directly, ignoring both `proxy` and
    /// the environment.
    pub use_proxy: bool,
    /// Presented when a TLS server asks for a client certificate.
    pub client_certificate: Option<ClientCertificate>,
    /// Overrides the verdict of server certificate verification (.NET's
    /// `RemoteCertificateValidationCallback`). Verification is on unless this says otherwise.
    pub remote_certificate_validation: Option<CertificateCheck>,
    /// The certificate authorities trusted for `wss://`.
    pub root_certificates: RootCertificates,
}

impl Default for ClientWebSocketOptions {
    fn default() -> Self {
        ClientWebSocketOptions {
            options: Options::default(),
            cookies: None,
            credentials: None,
            allow_basic_over_cleartext: false,
            proxy: None,
            use_proxy: true,
            client_certificate: None,
            remote_certificate_validation: None,
            root_certificates: RootCertificates::default(),
        }
    }
}

impl ClientWebSocketOptions {
    /// The connection settings, as an [`Invoker`] holds them. The credentials
    /// are bound to no origin here; `connect` binds them to its URL's.
    pub fn invoker_options(&self) -> InvokerOptions {
        InvokerOptions {
            cookies: self.cookies.clone(),
            credentials: self.credentials.clone(),
            allow_basic_over_cleartext: self.allow_basic_over_cleartext,
            proxy: self.proxy.clone(),
            use_proxy: self.use_proxy,
            client_certificate: self.client_certificate.clone(),
            remote_certificate_validation: self.remote_certificate_validation.clone(),
            root_certificates: self.root_certificates.clone(),
            ..InvokerOptions::default()
        }
    }

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
    http_version: Option<HttpVersion>,
}

impl ClientWebSocket {
    /// A client with default options (.NET's `new ClientWebSocket()`).
    pub fn new() -> Self {
        Self::default()
    }

    /// A client with these options; they may still be changed with
    /// [`options_mut`](Self::options_mut) until `connect`.
    pub fn with_options(options: ClientWebSocketOptions) -> Self {
        ClientWebSocket {
            options,
            ..Self::default()
        }
    }

    /// The options (.NET's `ClientWebSocket.Options`).
    pub fn options(&self) -> &ClientWebSocketOptions {
        &self.options
    }

    /// Options can be changed until `connect` is called; later changes have no effect.
    pub fn options_mut(&mut self) -> &mut ClientWebSocketOptions {
        &mut self.options
    }

    /// Connects and performs the opening handshake (.NET's `ConnectAsync`),
    /// over HTTP/1.1 or HTTP/2 as `options.http_version` and
    /// `options.http_version_policy` allow (see [`Invoker`] for the table).
    /// The connection settings (TLS, proxy, cookies, credentials) are this
    /// client's options.
    ///
    /// On failure the server's response, if it sent one, is in the error
    /// ([`Error::response`]) and in [`http_status_code`](Self::http_status_code) /
    /// [`http_response_headers`](Self::http_response_headers).
    pub async fn connect(&mut self, uri: &str) -> Result<(), Error> {
        let mut options = self.options.invoker_options();
        if options.credentials.is_some() {
            options.credential_origins = vec![uri.to_owned()];
        }
        let invoker = Invoker::new(options);
        self.connect_via(uri, &invoker).await
    }

    /// Connects through `invoker` (.NET's `ConnectAsync(uri, invoker, ...)`):
    /// its pooled HTTP/2 connection to the origin is shared with other
    /// WebSockets and requests, and its connection settings apply.
    ///
    /// Fails at once, before any I/O, with [`ErrorKind::IncompatibleOptions`]
    /// when this client's own connection settings (cookies, credentials, proxy,
    /// use_proxy, client certificate, certificate validation, roots) are not at their
    /// defaults: they belong to the invoker.
    pub async fn connect_with(&mut self, uri: &str, invoker: &Invoker) -> Result<(), Error> {
        let set = non_default(&self.options.invoker_options());
        if !set.is_empty() {
            return Err(Error::new(
                ErrorKind::IncompatibleOptions,
                format!(
                    "the ClientWebSocket options {} cannot be used with an invoker: set them on the \
                     Invoker's InvokerOptions instead, or connect without an invoker",
                    set.join(", ")
                ),
            ));
        }
        self.connect_via(uri, invoker).await
    }

    async fn connect_via(&mut self, uri: &str, invoker: &Invoker) -> Result<(), Error> {
        if self.used {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "connect was already called on this ClientWebSocket",
            ));
        }
        self.options.options.validate()?;
        let target = Target::parse(uri)?;
        if !matches!(target.url.scheme(), "ws" | "wss") {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{:?} is not a WebSocket URL; use ws:// or wss://", redact(uri)),
            ));
        }
        if target.url.fragment().is_some() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a WebSocket URL must not have a fragment (#...) (RFC 6455 section 3)",
            ));
        }
        self.used = true;
        let limit = crate::duration(self.options.options.handshake_timeout);
        let result = tokio::time::timeout(limit, self.handshake(&target, invoker)).await;
        let result = result.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "connecting to {} did not complete within {limit:?} (handshakeTimeout)",
                    target.display()
                ),
            ))
        });
        match result {
            Ok((ws, response, version)) => {
                self.response = Some(response);
                self.ws = Some(ws);
                self.http_version = Some(version);
                Ok(())
            }
            Err(e) => {
                self.response = e.response().cloned();
                Err(e)
            }
        }
    }

    async fn handshake(
        &self,
        target: &Target,
        invoker: &Invoker,
    ) -> Result<(WebSocket, HttpResponse, HttpVersion), Error> {
        let o = &self.options.options;
        let plan = Plan::choose(o.http_version, o.http_version_policy, target.secure);
        let mut authorization = None;
        loop {
            let conn = invoker
                .connect(target, plan, o.max_handshake_header_bytes, true)
                .await?;
            let request = self.request(target, invoker, authorization.take());
            let retried = request.headers.iter().any(|(k, _)| k == "Authorization");
            let result = match conn {
                Connection::Http1(io) => self
                    .upgrade(io, target, invoker, &request)
                    .await
                    .map(|(ws, r)| (ws, r, HttpVersion::Http11)),
                Connection::Http2(h2) => self
                    .upgrade_h2(&h2, target, invoker, &request)
                    .await
                    .map(|(ws, r)| (ws, r, HttpVersion::Http2)),
            };
            match result {
                Err(e)
                    if !retried
                        && e.response()
                            .is_some_and(|r| basic_challenged(r.status, &r.headers)) =>
                {
                    // Credentials bound to another origin leave the 401 as it is.
                    match invoker.options().authorization_for(target) {
                        Ok(Some(a)) => authorization = Some(a),
                        Ok(None) => return Err(e),
                        Err(refused) => return Err(refused.with_response(e.response().cloned())),
                    }
                }
                other => return other,
            }
        }
    }

    /// The handshake request: options, cookies, and credentials when asked.
    fn request(&self, target: &Target, invoker: &Invoker, authorization: Option<String>) -> ClientRequest {
        let o = &self.options.options;
        let mut headers = o.request_headers.0.clone();
        if let Some(c) = invoker.cookie_header(&target.http_url()) {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case("cookie"));
            headers.push(("Cookie".into(), c));
        }
        if let Some(a) = authorization {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
            headers.push(("Authorization".into(), a));
        }
        ClientRequest {
            host: target.authority.clone(),
            path: target.path.clone(),
            subprotocols: o.sub_protocols.clone(),
            deflate: o.dangerous_deflate_options,
            extensions: Vec::new(),
            headers,
        }
    }

    /// The RFC 6455 handshake on a fresh HTTP/1.1 connection.
    async fn upgrade(
        &self,
        mut stream: Box<dyn Transport>,
        target: &Target,
        invoker: &Invoker,
        request: &ClientRequest,
    ) -> Result<(WebSocket, HttpResponse), Error> {
        let o = &self.options.options;
        let cookie_url = target.http_url();
        let (hs, bytes) = ClientHandshake::new(request, crate::random_nonce(), o.handshake_limits())?;
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
                    if let (Some(jar), Some(r)) = (&invoker.options().cookies, &e.response) {
                        jar.store_from(&r.headers, &cookie_url);
                    }
                    return Err(Error::from(e.error).with_response(e.response));
                }
            }
        };
        if let Some(jar) = &invoker.options().cookies {
            jar.store_from(&accepted.response.headers, &cookie_url);
        }
        let config = SessionConfig::for_client(&self.options.options, &accepted);
        let ws = WebSocket::start(stream, config, &buf[used..]);
        Ok((ws, accepted.response))
    }

    /// The RFC 8441 handshake: an extended CONNECT stream on `h2`.
    async fn upgrade_h2(
        &self,
        h2: &H2Client,
        target: &Target,
        invoker: &Invoker,
        request: &ClientRequest,
    ) -> Result<(WebSocket, HttpResponse), Error> {
        let scheme = if target.secure { "https" } else { "http" };
        let connect = H2ConnectRequest::new(scheme, request)?;
        let (status, headers, stream) = h2.connect_websocket(&connect).await?;
        let cookie_url = target.http_url();
        if let Some(jar) = &invoker.options().cookies {
            jar.store_from(&headers, &cookie_url);
        }
        let accepted = connect
            .check_response(status, headers)
            .map_err(|e| Error::from(e.error).with_response(e.response))?;
        let config = SessionConfig::for_client(&self.options.options, &accepted);
        let ws = WebSocket::start(stream, config, &[]);
        Ok((ws, accepted.response))
    }

    /// The HTTP version the handshake used, once connected.
    pub fn http_version(&self) -> Option<HttpVersion> {
        self.http_version
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

    /// The handshake response as an `http::Response` (status, version,
    /// headers as an `http::HeaderMap`; no body), also after a failed
    /// `connect`; `into_parts()` gives `http::response::Parts`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), sockweave::Error> {
    /// let mut ws = sockweave::ClientWebSocket::new();
    /// ws.connect("ws://127.0.0.1:9001/").await?;
    /// let response = ws.http_response().expect("connected");
    /// assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    /// let deflate = response.headers().get(http::header::SEC_WEBSOCKET_EXTENSIONS);
    /// # Ok(()) }
    /// ```
    pub fn http_response(&self) -> Option<http::Response<()>> {
        let response = self.response.as_ref()?;
        Some(crate::upgrade::received_response(response, self.http_version))
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

    /// The status of the peer's Close, once received (see [`WebSocket::close_status`]).
    pub fn close_status(&self) -> Option<CloseCode> {
        self.ws.as_ref().and_then(|w| w.close_status())
    }

    /// The reason of the peer's Close, once received.
    pub fn close_status_description(&self) -> Option<String> {
        self.ws.as_ref().and_then(|w| w.close_status_description())
    }

    /// The subprotocol the server selected.
    pub fn sub_protocol(&self) -> Option<String> {
        self.ws.as_ref().and_then(|w| w.sub_protocol())
    }
}
