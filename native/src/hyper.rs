//! WebSockets inside a hyper 1.x server (the `hyper` feature): [`upgrade`]
//! answers a request from a hyper service and gives an [`UpgradeFut`] that
//! becomes the [`WebSocket`] once hyper has sent the response and handed
//! over the connection. HTTP/1.1 upgrades and HTTP/2 extended CONNECT
//! (RFC 8441) alike; the checks and the negotiation are the engine's, as for
//! [`accept_request`](crate::accept_request).
//!
//! hyper hands a connection over only when asked to: serve HTTP/1.1 with
//! `with_upgrades()` (hyper-util: `serve_connection_with_upgrades`), and for
//! HTTP/2 turn on `enable_connect_protocol()` so clients may send an
//! extended CONNECT.
//!
//! ```no_run
//! use hyper::body::Incoming;
//! use hyper::{Request, Response};
//!
//! async fn handle(mut request: Request<Incoming>) -> Result<Response<String>, std::convert::Infallible> {
//!     let options = sockweave::Options::default();
//!     match sockweave::hyper::upgrade(&mut request, &options) {
//!         Ok((response, upgrade)) => {
//!             tokio::spawn(async move {
//!                 let Ok(mut ws) = upgrade.await else { return };
//!                 while let Ok(Some(message)) = ws.receive_message().await {
//!                     if ws.send_message(&message).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!             Ok(response)
//!         }
//!         // 400, 403, 426, ...: the response says why.
//!         Err(refusal) => Ok(refusal.to_response()),
//!     }
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ::hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use sockweave_core::handshake::ServerRequest;
use sockweave_core::options::HttpVersion;
use sockweave_core::Options;

use crate::error::{Error, ErrorKind};
use crate::server::{Accepted, Rejected};
use crate::upgrade::{answer, parse_request, PendingWebSocket, Refusal};
use crate::websocket::WebSocket;

/// Answers a WebSocket request in a hyper service: the response to return
/// from the service (`101` over HTTP/1.1, `200` over HTTP/2, with an empty
/// body of the service's body type `R`), and the future of the WebSocket.
/// The first of `options.sub_protocols` the client offered is selected;
/// permessage-deflate follows `options.dangerous_deflate_options`, and the
/// `Origin` policy `options.allowed_origins`.
///
/// A request that is not a valid WebSocket request, or that the policy
/// refuses, is a [`Refusal`] (its [`to_response`](Refusal::to_response) is
/// the 4xx to return). A request hyper cannot hand over (a connection served
/// without upgrades) is refused with 500 and a message saying what to turn on.
pub fn upgrade<B, R: Default>(
    request: &mut http::Request<B>,
    options: &Options,
) -> Result<(http::Response<R>, UpgradeFut), Refusal> {
    let supported = options.sub_protocols.clone();
    upgrade_with(request, options, move |req| {
        Ok(Accepted {
            sub_protocol: req.select_subprotocol(&supported).map(String::from),
            headers: Vec::new(),
        })
    })
}

/// Like [`upgrade`], with `decide` accepting (subprotocol, extra headers) or
/// rejecting (any status) each valid request, as
/// [`accept_with`](crate::accept_with) does.
///
/// ```no_run
/// # fn demo(mut request: hyper::Request<hyper::body::Incoming>) {
/// use sockweave::{Accepted, Options, Rejected};
/// let result = sockweave::hyper::upgrade_with::<_, String, _>(&mut request, &Options::default(), |req| {
///     match req.path.as_str() {
///         "/chat" => Ok(Accepted::default()),
///         _ => Err(Rejected { status: 404, message: "no WebSocket here".into(), headers: vec![] }),
///     }
/// });
/// # }
/// ```
pub fn upgrade_with<B, R, F>(
    request: &mut http::Request<B>,
    options: &Options,
    decide: F,
) -> Result<(http::Response<R>, UpgradeFut), Refusal>
where
    R: Default,
    F: FnOnce(&ServerRequest) -> Result<Accepted, Rejected>,
{
    let parsed = parse_request(request)?;
    if request.extensions().get::<OnUpgrade>().is_none() {
        return Err(parsed.not_upgradable());
    }
    let (response, pending) = answer(parsed, options, decide)?;
    let on_upgrade = ::hyper::upgrade::on(request);
    Ok((
        response.map(|()| R::default()),
        UpgradeFut {
            on_upgrade,
            pending: Some(pending),
        },
    ))
}

/// The WebSocket of an accepted request: resolves once hyper has sent the
/// response and handed over the connection (HTTP/1.1), or the stream
/// (HTTP/2). Spawn a task that awaits it: hyper sends the response only
/// after the service returns it.
#[must_use = "the WebSocket exists only once this future is awaited"]
#[derive(Debug)]
pub struct UpgradeFut {
    on_upgrade: OnUpgrade,
    pending: Option<PendingWebSocket>,
}

impl UpgradeFut {
    /// The accepted request (path, headers, offers), for the task that awaits
    /// the WebSocket.
    ///
    /// # Panics
    /// After the future has completed.
    pub fn request(&self) -> &ServerRequest {
        self.pending().request()
    }

    /// The subprotocol the response selected.
    ///
    /// # Panics
    /// After the future has completed.
    pub fn sub_protocol(&self) -> Option<&str> {
        self.pending().sub_protocol()
    }

    /// HTTP/1.1 (an upgrade) or HTTP/2 (an extended CONNECT).
    ///
    /// # Panics
    /// After the future has completed.
    pub fn http_version(&self) -> HttpVersion {
        self.pending().http_version()
    }

    fn pending(&self) -> &PendingWebSocket {
        self.pending
            .as_ref()
            .expect("UpgradeFut was polled to completion; read the request before awaiting it")
    }
}

impl Future for UpgradeFut {
    type Output = Result<WebSocket, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let upgraded = ready!(Pin::new(&mut self.on_upgrade).poll(cx));
        let pending = self.pending.take().expect("UpgradeFut polled after it completed");
        Poll::Ready(match upgraded {
            Ok(io) => Ok(pending.finish(TokioIo::new(io))),
            Err(e) => Err(Error::new(
                ErrorKind::ConnectionClosedPrematurely,
                format!(
                    "hyper did not hand over the connection after the handshake response ({e}); the client \
                     may have gone away, or the connection is served without upgrades (HTTP/1.1 needs \
                     `with_upgrades()`)"
                ),
            )
            .with_source(e)),
        })
    }
}
