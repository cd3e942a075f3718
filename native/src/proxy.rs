//! HTTP proxies: a `CONNECT` tunnel (RFC 9110 section 9.3.6) to the WebSocket
//! server, with Basic proxy credentials.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
        if url.scheme() != "http" {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "proxy URL scheme {:?} is not supported; use http://",
                    url.scheme()
                ),
            ));
        }
        if url.host_str().is_none() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the proxy URL has no host",
            ));
        }
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
        (host, self.url.port_or_known_default().unwrap_or(8080))
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
        let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(c) = &self.credentials {
            req.push_str("Proxy-Authorization: ");
            req.push_str(&c.basic());
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        tcp.write_all(req.as_bytes()).await?;
        // Read byte-wise up to the end of the head: nothing after it may be consumed,
        // the tunnel's first bytes belong to the TLS or WebSocket handshake.
        let mut head = Vec::with_capacity(256);
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() >= max_head {
                return Err(Error::new(
                    ErrorKind::Proxy,
                    "the proxy's response head is too large",
                ));
            }
            if tcp.read(&mut byte).await? == 0 {
                return Err(Error::new(
                    ErrorKind::Proxy,
                    "the proxy closed the connection during CONNECT",
                ));
            }
            head.push(byte[0]);
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::Proxy,
                    "the proxy's response to CONNECT is not valid HTTP",
                ))
            }
        }
        match resp.code {
            Some(200..=299) => Ok(tcp),
            Some(407) => Err(Error::new(
                ErrorKind::Proxy,
                if self.credentials.is_some() {
                    "the proxy rejected our credentials (407 Proxy Authentication Required)"
                } else {
                    "the proxy requires credentials (407 Proxy Authentication Required); set Proxy::credentials"
                },
            )),
            code => Err(Error::new(
                ErrorKind::Proxy,
                format!(
                    "the proxy refused the tunnel to {authority}: HTTP {} {}",
                    code.unwrap_or(0),
                    resp.reason.unwrap_or("")
                ),
            )),
        }
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
