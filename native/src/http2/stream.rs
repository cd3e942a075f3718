//! The HTTP/2 transport: one HTTP/2 stream as the byte stream a WebSocket runs
//! over (RFC 8441 section 5), for both roles.
//!
//! Flow control follows the application: received DATA is released back to the
//! peer (WINDOW_UPDATE) only as the WebSocket driver takes it, and the driver
//! takes it only while the session's receive buffer has room. So a slow reader
//! holds the peer at its window instead of buffering without bound. Writes wait
//! for send capacity, so at most the peer's window is queued inside `h2`.
//!
//! Ends map as RFC 8441 says: our shutdown sends END_STREAM (a TCP FIN), the
//! peer's END_STREAM reads as end of file, and RST_STREAM in either direction is
//! a connection reset.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use h2::{Reason, RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::idle::OpenStream;

/// Largest DATA payload we hand to `h2` at once; it frames it further by the
/// peer's SETTINGS_MAX_FRAME_SIZE.
const MAX_WRITE: usize = 256 * 1024;

/// An HTTP/2 stream carrying a WebSocket.
pub(crate) struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// Received bytes the driver has not taken yet.
    pending: Bytes,
    recv_ended: bool,
    send_ended: bool,
    /// Server side: keeps the connection from counting as idle while the
    /// WebSocket lives.
    _open: Option<OpenStream>,
}

impl H2Stream {
    pub(crate) fn new(send: SendStream<Bytes>, recv: RecvStream, open: Option<OpenStream>) -> Self {
        H2Stream {
            send,
            recv,
            pending: Bytes::new(),
            recv_ended: false,
            send_ended: false,
            _open: open,
        }
    }

    /// The error for a stream the peer reset (or the connection failed under).
    fn reset_error(&mut self, cx: &mut Context<'_>, fallback: Option<h2::Error>) -> io::Error {
        let reason = match self.send.poll_reset(cx) {
            Poll::Ready(Ok(r)) => Some(r),
            _ => fallback.as_ref().and_then(|e| e.reason()),
        };
        let what = match (reason, fallback) {
            (Some(r), _) => format!("the HTTP/2 stream was reset ({r})"),
            (None, Some(e)) => format!("the HTTP/2 stream failed: {e}"),
            (None, None) => String::from("the HTTP/2 stream was reset"),
        };
        io::Error::new(io::ErrorKind::ConnectionReset, what)
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.pending.is_empty() {
            if this.recv_ended {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.pending = data,
                Some(Err(e)) => return Poll::Ready(Err(this.reset_error(cx, Some(e)))),
                None => this.recv_ended = true,
            }
        }
        let n = buf.remaining().min(this.pending.len());
        buf.put_slice(&this.pending[..n]);
        this.pending.advance(n);
        // Only now may the peer send more: the bytes have left h2's buffers.
        let _ = this.recv.flow_control().release_capacity(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    /// Gathers the buffers into one DATA payload, so a frame header and its
    /// payload written together do not become two DATA frames.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        if this.send_ended {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let want = len.min(MAX_WRITE);
        this.send.reserve_capacity(want);
        let mut capacity = this.send.capacity();
        while capacity == 0 {
            match ready!(this.send.poll_capacity(cx)) {
                Some(Ok(n)) => capacity = n,
                Some(Err(e)) => return Poll::Ready(Err(this.reset_error(cx, Some(e)))),
                None => return Poll::Ready(Err(this.reset_error(cx, None))),
            }
        }
        let n = capacity.min(want);
        let mut data = Vec::with_capacity(n);
        for b in bufs {
            let take = (n - data.len()).min(b.len());
            data.extend_from_slice(&b[..take]);
            if data.len() == n {
                break;
            }
        }
        match this.send.send_data(Bytes::from(data), false) {
            Ok(()) => Poll::Ready(Ok(n)),
            Err(e) => Poll::Ready(Err(this.reset_error(cx, Some(e)))),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The connection task writes queued frames as soon as it can.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.send_ended {
            this.send_ended = true;
            if let Err(e) = this.send.send_data(Bytes::new(), true) {
                return Poll::Ready(Err(this.reset_error(cx, Some(e))));
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for H2Stream {
    fn drop(&mut self) {
        // A stream dropped before both sides ended is an abort (TCP RST in RFC 8441 terms).
        if !(self.send_ended && self.recv_ended) {
            self.send.send_reset(Reason::CANCEL);
        }
    }
}
