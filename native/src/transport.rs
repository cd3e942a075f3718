//! [`Transport`]: the byte streams a WebSocket runs over.

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream a WebSocket can run on: TCP, TLS, an HTTP/2 stream, a duplex pipe.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// Whether an I/O error means the peer reset or closed the connection
/// (the session decides what that means in its state).
pub(crate) fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe | WriteZero
    )
}
