//! WebSockets in axum 0.8 handlers (the `axum` feature): the
//! [`WebSocketUpgrade`] extractor, with the ergonomics of axum's own
//! (`ws.protocols([..]).on_upgrade(|ws| async move { .. })`) and sockweave's
//! [`Options`] for permessage-deflate, limits, keep-alive and the `Origin`
//! policy. HTTP/1.1 upgrades and HTTP/2 extended CONNECT (RFC 8441) alike:
//! route with [`any`](::axum::routing::any) (HTTP/2 WebSockets are `CONNECT`
//! requests, which `get` does not route) and serve with `axum::serve`, which
//! turns on hyper's `enable_connect_protocol` when axum's `http2` feature is on.
//!
//! ```
//! use axum::{response::Response, routing::any, Router};
//! use sockweave::axum::WebSocketUpgrade;
//! use sockweave::{DeflateOptions, Options};
//!
//! async fn chat(ws: WebSocketUpgrade) -> Response {
//!     let options = Options {
//!         dangerous_deflate_options: Some(DeflateOptions::default()),
//!         allowed_origins: vec!["https://app.example".into()],
//!         ..Options::default()
//!     };
//!     ws.options(options).protocols(["chat"]).on_upgrade(|mut ws| async move {
//!         while let Ok(Some(message)) = ws.receive_message().await {
//!             if ws.send_message(&message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     })
//! }
//!
//! let app: Router = Router::new().route("/chat", any(chat));
//! ```

use std::future::Future;

use ::axum::body::Body;
use ::axum::extract::FromRequestParts;
use ::axum::response::{IntoResponse, Response};
use ::hyper::upgrade::OnUpgrade;
use http::request::Parts;
use hyper_util::rt::TokioIo;
use sockweave_core::handshake::ServerRequest;
use sockweave_core::options::HttpVersion;
use sockweave_core::Options;

use crate::error::{Error, ErrorKind};
use crate::server::Accepted;
use crate::upgrade::{answer, parse, Parsed, Refusal};
use crate::websocket::WebSocket;

/// Extracts a WebSocket request (HTTP/1.1 upgrade or HTTP/2 extended
/// CONNECT); [`on_upgrade`](Self::on_upgrade) answers it. A request that is
/// not a valid WebSocket request is rejected before the handler runs, with
/// the status and reason of a [`Refusal`] (400, 405, 426 with
/// `Sec-WebSocket-Version: 13`, ...).
///
/// The options start as `Options::default()` (no subprotocol, no
/// compression, every origin, keep-alive off).
#[must_use = "call on_upgrade to answer the request"]
pub struct WebSocketUpgrade {
    parsed: Parsed,
    on_upgrade: OnUpgrade,
    options: Options,
    on_failed_upgrade: Option<Box<dyn FnOnce(Error) + Send>>,
}

impl std::fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", &self.parsed.request)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refusal> {
        let parsed = parse(
            &parts.method,
            parts.version,
            &parts.uri,
            &parts.headers,
            &parts.extensions,
        )?;
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return Err(parsed.not_upgradable());
        };
        Ok(WebSocketUpgrade {
            parsed,
            on_upgrade,
            options: Options::default(),
            on_failed_upgrade: None,
        })
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        self.to_response::<Body>()
    }
}

impl WebSocketUpgrade {
    /// The options the WebSocket is accepted and runs with: subprotocols,
    /// `dangerous_deflate_options` (permessage-deflate), message and buffer
    /// limits, keep-alive, close timeout, `allowed_origins`. This replaces
    /// every option, `sub_protocols` included: call
    /// [`protocols`](Self::protocols) after it.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The subprotocols this endpoint speaks, in order of preference: the
    /// first one the client offered is selected.
    ///
    /// ```
    /// # async fn handler(ws: sockweave::axum::WebSocketUpgrade) -> axum::response::Response {
    /// ws.protocols(["graphql-transport-ws", "graphql-ws"]).on_upgrade(|ws| async move {
    ///     let protocol = ws.sub_protocol();
    /// })
    /// # }
    /// ```
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.options.sub_protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The request: path, `Host` or `:authority`, headers, offered
    /// subprotocols and extensions.
    pub fn request(&self) -> &ServerRequest {
        &self.parsed.request
    }

    /// HTTP/1.1 (an upgrade) or HTTP/2 (an extended CONNECT).
    pub fn http_version(&self) -> HttpVersion {
        self.parsed.http_version()
    }

    /// The subprotocol [`on_upgrade`](Self::on_upgrade) will select with the
    /// current options, if the client offered one of them.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.parsed
            .request
            .select_subprotocol(&self.options.sub_protocols)
    }

    /// Called instead of the `on_upgrade` callback when hyper does not hand
    /// over the connection after the response (the client went away);
    /// without it the failure is dropped.
    ///
    /// ```
    /// # async fn handler(ws: sockweave::axum::WebSocketUpgrade) -> axum::response::Response {
    /// ws.on_failed_upgrade(|error| eprintln!("upgrade failed: {error}"))
    ///     .on_upgrade(|ws| async move { drop(ws) })
    /// # }
    /// ```
    pub fn on_failed_upgrade<C>(mut self, callback: C) -> Self
    where
        C: FnOnce(Error) + Send + 'static,
    {
        self.on_failed_upgrade = Some(Box::new(callback));
        self
    }

    /// Answers the request under the options: the `Origin` policy, the
    /// subprotocol, permessage-deflate (all decided by the engine), and
    /// returns the response for the handler to return (`101` over HTTP/1.1,
    /// `200` over HTTP/2, or the refusal, such as a 403 for an origin not
    /// allowed). Once axum has sent it, `callback` runs in a task of its own
    /// with the [`WebSocket`].
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let WebSocketUpgrade {
            parsed,
            on_upgrade,
            options,
            on_failed_upgrade,
        } = self;
        let supported = &options.sub_protocols;
        let answered = answer(parsed, &options, |req| {
            Ok(Accepted {
                sub_protocol: req.select_subprotocol(supported).map(String::from),
                headers: Vec::new(),
            })
        });
        let (response, pending) = match answered {
            Ok(a) => a,
            Err(refusal) => return refusal.into_response(),
        };
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(io) => callback(pending.finish(TokioIo::new(io))).await,
                Err(e) => {
                    if let Some(failed) = on_failed_upgrade {
                        failed(
                            Error::new(
                                ErrorKind::ConnectionClosedPrematurely,
                                format!(
                                    "hyper did not hand over the connection after the handshake \
                                     response ({e}); the client may have gone away"
                                ),
                            )
                            .with_source(e),
                        );
                    }
                }
            }
        });
        response.map(|()| Body::empty())
    }
}
