//! # sockweave
//!
//! WebSockets on tokio: client and server, RFC 6455 over HTTP/1.1, TLS with
//! rustls, HTTP proxies. The protocol itself (frames, handshakes, the close
//! handshake, limits) is decided by the sans-IO engine [`sockweave_core`]; this
//! crate moves bytes and keeps time.
//!
//! The API follows .NET's `ClientWebSocket` and `WebSocket.CreateFromStream`:
//! [`ClientWebSocket`] connects, [`WebSocket::from_stream`] wraps a stream whose
//! handshake is done, [`accept`] is the server side. Every [`WebSocket`] offers
//! `receive` into a buffer and `send` with [`SendFlags`], and also a `Stream`
//! of [`Message`]s, a `Sink`, and [`WebSocket::split`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), sockweave::Error> {
//! use sockweave::{ClientWebSocket, CloseCode, MessageType, SendFlags};
//! let mut ws = ClientWebSocket::new();
//! ws.options_mut().add_sub_protocol("chat");
//! ws.connect("ws://127.0.0.1:9001/echo").await?;
//! ws.send(b"hello", MessageType::Text, SendFlags::END_OF_MESSAGE).await?;
//! let mut buf = [0u8; 1024];
//! let r = ws.receive(&mut buf).await?;
//! println!("{}", String::from_utf8_lossy(&buf[..r.count]));
//! ws.close(Some(CloseCode::NORMAL), "bye").await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod accept_any;
mod auth;
#[cfg(feature = "axum")]
pub mod axum;
mod client;
mod cookies;
mod driver;
mod env_proxy;
mod error;
mod http2;
#[cfg(feature = "hyper")]
pub mod hyper;
mod invoker;
mod message;
mod proxy;
mod server;
mod stream;
mod target;
mod tls;
mod transport;
mod upgrade;
mod websocket;

pub use accept_any::{accept_any, Accepting};
pub use auth::Credentials;
pub use client::{ClientWebSocket, ClientWebSocketOptions};
pub use cookies::CookieJar;
pub use env_proxy::EnvProxy;
pub use error::{Error, ErrorKind};
pub use http2::server::{accept_h2, accept_h2_with, H2Connection, HttpExchange, Incoming};
pub use invoker::{
    Invoker, InvokerOptions, Request, Response, DEFAULT_MAX_IDLE_PER_ORIGIN, DEFAULT_MAX_RESPONSE_BODY,
    DEFAULT_REQUEST_TIMEOUT,
};
pub use message::Message;
pub use proxy::Proxy;
pub use server::{accept, accept_with, Accepted, Rejected};
pub use sockweave_core as core;
pub use sockweave_core::handshake::{HttpResponse, ServerRequest};
pub use sockweave_core::options::{DeflateOptions, HttpVersion, HttpVersionPolicy, Millis, Options};
pub use sockweave_core::session::{MessageType, ReceiveResult, SendFlags, State};
pub use sockweave_core::CloseCode;
pub use stream::{ReadHalf, WriteHalf};
pub use tls::{
    server_config as tls_server_config, CertificateCheck, CertificateContext, ClientCertificate,
    RootCertificates,
};
pub use transport::Transport;
pub use upgrade::{accept_request, accept_request_with, PendingWebSocket, Refusal};
pub use websocket::WebSocket;

/// 32 bytes from the OS for the engine's masking-key generator.
pub(crate) fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the operating system's random source failed");
    seed
}

pub(crate) fn random_nonce() -> [u8; 16] {
    let mut n = [0u8; 16];
    getrandom::fill(&mut n).expect("the operating system's random source failed");
    n
}

/// An option duration as a timer duration; "infinite" becomes a century.
pub(crate) fn duration(m: Millis) -> std::time::Duration {
    match m {
        Millis::Finite(ms) => std::time::Duration::from_millis(ms),
        Millis::Infinite => std::time::Duration::from_secs(100 * 365 * 24 * 3600),
    }
}
