//! The server side of the HTTP/1.1 opening handshake.

use sockweave_core::handshake::{parse_request, reject_response, RequestError, ServerRequest};
use sockweave_core::session::SessionConfig;
use sockweave_core::{ErrorKind as CoreKind, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, ErrorKind};
use crate::transport::Transport;
use crate::websocket::WebSocket;

/// How to answer an acceptable upgrade request.
#[derive(Clone, Debug, Default)]
pub struct Accepted {
    /// The subprotocol to select; must be one the client offered.
    pub sub_protocol: Option<String>,
    /// Extra response headers (e.g. `Set-Cookie`).
    pub headers: Vec<(String, String)>,
}

/// How to refuse a request: an HTTP status, a message for the body, and
/// extra headers (e.g. `WWW-Authenticate` with a 401).
#[derive(Clone, Debug)]
pub struct Rejected {
    /// The HTTP status, 400..=599.
    pub status: u16,
    /// The response body (plain text), for the client's error message.
    pub message: String,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
}

/// Accepts a WebSocket upgrade on `stream` (TCP, TLS, ...): reads the request,
/// answers `101` selecting the first of `options.sub_protocols` the client
/// offered, and returns the open WebSocket. An invalid request gets a proper
/// HTTP error response (400, 405, 426 with `Sec-WebSocket-Version: 13`, 431)
/// and an error here. The whole handshake is bounded by `options.handshake_timeout`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (tcp, _) = listener.accept().await?;
/// let ws = sockweave::accept(tcp, &sockweave::Options::default()).await?;
/// # Ok(()) }
/// ```
pub async fn accept<S: Transport>(stream: S, options: &Options) -> Result<WebSocket, Error> {
    let supported = options.sub_protocols.clone();
    accept_with(stream, options, move |req| {
        Ok(Accepted {
            sub_protocol: req.select_subprotocol(&supported).map(String::from),
            headers: Vec::new(),
        })
    })
    .await
    .map(|(ws, _)| ws)
}

/// Like [`accept`], but `decide` looks at the request (path, headers, offered
/// subprotocols) and accepts or rejects it.
pub async fn accept_with<S, F>(
    mut stream: S,
    options: &Options,
    decide: F,
) -> Result<(WebSocket, ServerRequest), Error>
where
    S: Transport,
    F: FnOnce(&ServerRequest) -> Result<Accepted, Rejected>,
{
    options.validate()?;
    let limit = crate::duration(options.handshake_timeout);
    let read = tokio::time::timeout(limit, read_request(&mut stream, options)).await;
    let (req, leftover) = match read {
        Ok(Ok(v)) => v,
        Ok(Err(HeadError::Invalid(e))) => {
            let _ = stream.write_all(&reject_response(&e, &[])).await;
            let _ = stream.shutdown().await;
            return Err(Error::from(e.error));
        }
        Ok(Err(HeadError::Io(e))) => return Err(e.into()),
        Err(_) => {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!("the client did not send its handshake within {limit:?} (handshakeTimeout)"),
            ))
        }
    };
    if let Err(e) = req.admit(options) {
        // The Origin policy: a page the server does not trust gets 403.
        let _ = stream.write_all(&reject_response(&e, &[])).await;
        let _ = stream.shutdown().await;
        return Err(Error::new(
            ErrorKind::NotAWebSocket,
            format!("refused with HTTP {}: {}", e.status, e.error.message()),
        ));
    }
    let answer = match decide(&req) {
        Ok(a) => a,
        Err(r) => {
            let e = RequestError {
                error: sockweave_core::Error::new(CoreKind::NotAWebSocket, r.message),
                status: r.status,
            };
            let _ = stream.write_all(&reject_response(&e, &r.headers)).await;
            let _ = stream.shutdown().await;
            return Err(Error::new(
                ErrorKind::NotAWebSocket,
                format!(
                    "the request was rejected with HTTP {}: {}",
                    e.status,
                    e.error.message()
                ),
            ));
        }
    };
    let deflate = req.negotiate_deflate(options.dangerous_deflate_options.as_ref());
    let extensions: Vec<_> = deflate.iter().map(|(_, e)| e.clone()).collect();
    let response = match req.accept_response(answer.sub_protocol.as_deref(), &extensions, &answer.headers) {
        Ok(r) => r,
        Err(error) => {
            // The application's answer is unusable (say, a subprotocol the client did
            // not offer): the client still gets an HTTP answer, a server error.
            let e = RequestError { error, status: 500 };
            let _ = stream.write_all(&reject_response(&e, &[])).await;
            let _ = stream.shutdown().await;
            return Err(Error::from(e.error));
        }
    };
    tokio::time::timeout(limit, stream.write_all(&response))
        .await
        .map_err(|_| Error::new(ErrorKind::Timeout, "writing the handshake response timed out"))??;
    let config = SessionConfig::for_server(options, answer.sub_protocol, deflate.map(|(p, _)| p));
    let ws = WebSocket::start(stream, config, &leftover);
    Ok((ws, req))
}

enum HeadError {
    Invalid(RequestError),
    Io(std::io::Error),
}

async fn read_request<S: Transport>(
    stream: &mut S,
    options: &Options,
) -> Result<(ServerRequest, Vec<u8>), HeadError> {
    let limits = options.handshake_limits();
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.map_err(HeadError::Io)?;
        if n == 0 {
            return Err(HeadError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the client closed the connection before finishing its handshake request",
            )));
        }
        buf.extend_from_slice(&chunk[..n]);
        match parse_request(&buf, limits) {
            Ok(Some((req, used))) => return Ok((req, buf.split_off(used))),
            Ok(None) => {}
            Err(e) => return Err(HeadError::Invalid(e)),
        }
    }
}
