//! HTTP proxies: a `CONNECT` tunnel (RFC 9110 section 9.3.6) to the WebSocket
//! server, with Basic proxy credentials.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use sockweave_core::proxy;

use crate::auth::Credentials;
use crate::error::{Error, ErrorKind};
use crate::target::{redact, redact_password};

/// An HTTP proxy to tunnel through (.NET's `ClientWebSocketOptions.Proxy`).
/// `Debug` shows the URL with its password as `***`.
#[derive(Clone)]
pub struct Proxy {
    /// The proxy's address, `http://host:port`.
    pub url: url::Url,
    /// Sent as `Proxy-Authorization: Basic ...`.
    pub credentials: Option<Credentials>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("url", &redact_password(&self.url))
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl Proxy {
    /// A proxy from a URL such as `http://127.0.0.1:8888`; credentials in the
    /// URL (`http://user:pass@host:port`) are used for `Proxy-Authorization`.
    pub fn new(url: &str) -> Result<Proxy, Error> {
        let url = url::Url::parse(url).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("proxy URL {:?}: {e}", redact(url)),
            )
        })?;
        proxy::check_proxy_url(url.scheme(), url.host_str().is_some())?;
        let credentials = (!url.username().is_empty()).then(|| Credentials {
            user: percent_decode(url.username()),
            password: percent_decode(url.password().unwrap_or("")),
        });
        Ok(Proxy { url, credentials })
    }

    fn host_port(&self) -> (String, u16) {
        let host = self
            .url
            .host_str()
            .unwrap_or("")
            .trim_matches(['[', ']'])
            .to_owned();
        let port = self.url.port_or_known_default();
        (host, port.unwrap_or(proxy::DEFAULT_PROXY_PORT))
    }

    /// Connects to the proxy and opens a tunnel to `authority` (`host:port`).
    pub(crate) async fn tunnel(&self, authority: &str, max_head: usize) -> Result<TcpStream, Error> {
        let (host, port) = self.host_port();
        let mut tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| {
            Error::new(
                ErrorKind::Proxy,
                format!("cannot connect to the proxy {host}:{port}: {e}"),
            )
            .with_source(e)
        })?;
        let _ = tcp.set_nodelay(true);
        let authorization = self.credentials.as_ref().map(Credentials::basic);
        tcp.write_all(&proxy::connect_request(authority, authorization.as_deref()))
            .await?;
        // Read byte-wise up to the end of the head: nothing after it may be consumed,
        // the tunnel's first bytes belong to the TLS or WebSocket handshake.
        let mut head = Vec::with_capacity(256);
        let mut byte = [0u8; 1];
        loop {
            if tcp.read(&mut byte).await? == 0 {
                return Err(proxy::closed_during_connect().into());
            }
            head.push(byte[0]);
            // The head can only end at a line end: parse then.
            if byte[0] != b'\n' && head.len() <= max_head {
                continue;
            }
            let done = proxy::check_connect_response(
                &head,
                authority,
                authorization.is_some(),
                "Proxy::credentials",
                max_head,
            )?;
            if done.is_some() {
                return Ok(tcp);
            }
        }
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
