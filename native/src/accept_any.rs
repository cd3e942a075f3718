//! One port for both protocols: [`accept_any`] looks at a connection's first
//! bytes and serves HTTP/2 (after ALPN `h2`, or h2c with prior knowledge)
//! or an HTTP/1.1 upgrade.

use sockweave_core::Options;
use tokio::io::AsyncReadExt;

use crate::error::{Error, ErrorKind};
use crate::http2::server::{accept_h2, H2Connection};
use crate::server::accept;
use crate::transport::Transport;
use crate::websocket::WebSocket;

/// What [`accept_any`] found on a connection.
#[derive(Debug)]
pub enum Accepting {
    /// An HTTP/1.1 upgrade, accepted.
    WebSocket(WebSocket),
    /// An HTTP/2 connection (h2c with prior knowledge, or TLS with ALPN `h2`):
    /// take its WebSockets and requests from it.
    Http2(H2Connection),
}

/// The client preface that opens every HTTP/2 connection (RFC 9113 section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves either protocol on one port: HTTP/2 when the client opens with the
/// HTTP/2 preface (after ALPN `h2` or with prior knowledge), HTTP/1.1 otherwise.
pub async fn accept_any<S: Transport>(mut stream: S, options: &Options) -> Result<Accepting, Error> {
    let limit = crate::duration(options.handshake_timeout);
    let mut seen = Vec::with_capacity(H2_PREFACE.len());
    let sniff = async {
        while seen.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(&seen) {
            let mut byte = [0u8; 24];
            let want = H2_PREFACE.len() - seen.len();
            let n = stream.read(&mut byte[..want]).await?;
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&byte[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(limit, sniff).await.map_err(|_| {
        Error::new(
            ErrorKind::Timeout,
            "the client sent nothing within handshakeTimeout",
        )
    })??;
    let h2 = seen == H2_PREFACE;
    let stream = Prefixed {
        prefix: seen,
        pos: 0,
        inner: stream,
    };
    if h2 {
        accept_h2(stream, options).await.map(Accepting::Http2)
    } else {
        accept(stream, options).await.map(Accepting::WebSocket)
    }
}

/// A stream with bytes already read from it put back in front.
struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S: Transport> tokio::io::AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.prefix.len() {
            let n = buf.remaining().min(this.prefix.len() - this.pos);
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: Transport> tokio::io::AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
