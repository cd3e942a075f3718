//! [`WebSocket`]: the core engine on a tokio byte stream (the seed's
//! `WebSocket.CreateFromStream`).
//!
//! Each WebSocket has a driver task (`driver.rs`) so that PINGs are answered,
//! PONGs are seen and Close frames are processed even while the application
//! is busy (this removes .NET's "keep a receive pending" rule). When the
//! receive buffer is full, reading stops: the peer is throttled by TCP (or
//! HTTP/2) flow control, and memory stays bounded. Receives and sends use the
//! transport from the application's own task when that saves a task hop.
//!
//! # Concurrency and cancellation
//!
//! All operations take `&self`: one task may `receive` while another `send`s.
//! - A `receive` future that is dropped before it completes has taken nothing:
//!   the data it would have returned goes to the next `receive`.
//! - A `send` future first waits for room in the output buffer (at most
//!   `max_pending_output` bytes queued), then queues the whole message at once,
//!   then waits until the queue is back under the limit. Dropped while waiting
//!   for room, nothing was queued; dropped after, the message is sent in full.
//!   Either way the connection stays usable.
//! - `close` waits for the peer's Close; dropping it leaves the Close sent
//!   (state `CloseSent`) and the connection closing normally.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use sockweave_core::session::{MessageType, ReceiveResult, Role, SendFlags, Session, SessionConfig, State};
use sockweave_core::{CloseCode, Options};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::driver::{add_waker, AppRead, DriverConfig, Shared};
use crate::error::Error;

/// A byte stream a WebSocket can run on: TCP, TLS, an HTTP/2 stream, a duplex pipe.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// A WebSocket connection over any [`Transport`], in either role.
///
/// Made by [`WebSocket::from_stream`] (the handshake already done elsewhere),
/// by [`ClientWebSocket::connect`](crate::ClientWebSocket::connect) or by
/// [`accept`](crate::accept).
///
/// ```no_run
/// # async fn demo(tcp: tokio::net::TcpStream) -> Result<(), sockweave::Error> {
/// use sockweave::{MessageType, Options, SendFlags, WebSocket};
/// let opts = Options { is_server: true, ..Options::default() };
/// let ws = WebSocket::from_stream(tcp, &opts)?;
/// let mut buf = vec![0u8; 1024];
/// let r = ws.receive(&mut buf).await?;
/// ws.send(&buf[..r.count], r.message_type, SendFlags::END_OF_MESSAGE).await?;
/// # Ok(()) }
/// ```
pub struct WebSocket {
    /// Shared with the driver task and the other handles of this connection
    /// (split halves); `Shared::handles` counts the handles.
    shared: Arc<Shared>,
    /// A partly received message, for the `Stream` face.
    pub(crate) assembler: crate::stream::Assembler,
}

/// The connection is aborted when the last handle goes away.
impl Drop for WebSocket {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let mut inner = self.shared.lock();
        // After the close handshake (or a failure) the driver still owes the
        // peer our queued Close: let it write that, then end.
        if !matches!(inner.session.state(), State::Closed | State::Aborted) {
            inner.session.abort();
        }
        inner.wake_driver();
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket").field("state", &self.state()).finish()
    }
}

impl WebSocket {
    /// Runs a WebSocket over `stream`, whose handshake is already done
    /// (.NET's `WebSocket.CreateFromStream`). `options.is_server` picks the
    /// role, `options.sub_protocol` is reported by [`sub_protocol`](Self::sub_protocol).
    /// Keep-alive is off unless the options set it.
    ///
    /// Must be called inside a tokio runtime: the connection's driver is spawned on it.
    pub fn from_stream<S: Transport>(stream: S, options: &Options) -> Result<WebSocket, Error> {
        options.validate()?;
        let role = if options.is_server {
            Role::Server
        } else {
            Role::Client
        };
        Ok(Self::start(
            stream,
            SessionConfig::from_options(role, options),
            &[],
            DriverConfig::from_options(options),
        ))
    }

    /// Starts the driver. `leftover` is what was read past the handshake.
    pub(crate) fn start<S: Transport>(
        stream: S,
        config: SessionConfig,
        leftover: &[u8],
        driver: DriverConfig,
    ) -> WebSocket {
        let mut session = Session::new(config, crate::random_seed());
        // Frames that arrived with the handshake; what does not fit waits in the driver.
        let taken = session.feed(leftover);
        let shared = crate::driver::spawn(stream, session, leftover[taken..].to_vec(), driver);
        WebSocket {
            shared,
            assembler: Default::default(),
        }
    }

    fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The connection state (.NET's `WebSocket.State`).
    pub fn state(&self) -> State {
        self.shared().lock().session.state()
    }

    /// The subprotocol the handshake settled on.
    pub fn sub_protocol(&self) -> Option<String> {
        self.shared().lock().session.sub_protocol().map(String::from)
    }

    /// The status of the peer's Close, once received.
    pub fn close_status(&self) -> Option<CloseCode> {
        self.shared().lock().session.close_status()
    }

    /// The reason of the peer's Close, once received.
    pub fn close_status_description(&self) -> Option<String> {
        self.shared()
            .lock()
            .session
            .close_status_description()
            .map(String::from)
    }

    /// Receives the next piece of a message into `buf` (.NET's `ReceiveAsync`).
    ///
    /// The result says how many bytes were written, the message type and whether
    /// the message ended. A message larger than `buf` arrives over several calls.
    /// A `Close` result carries the peer's status; answer it with
    /// [`close_output`](Self::close_output) (or [`close`](Self::close)).
    pub async fn receive(&self, buf: &mut [u8]) -> Result<ReceiveResult, Error> {
        /// Hands reading back to the driver if this receive is dropped while
        /// registered with the transport.
        // An atomic only so the future stays `Send`; one task uses it.
        struct Reading<'a>(&'a Shared, AtomicBool);
        impl Drop for Reading<'_> {
            fn drop(&mut self) {
                if self.1.load(Ordering::Relaxed) {
                    self.0.lock().end_app_read();
                }
            }
        }
        let reading = Reading(self.shared(), AtomicBool::new(false));
        poll_fn(|cx| self.poll_receive_with(cx, buf, Some(&reading.1))).await
    }

    /// `receive` for the `Stream` face, which cannot hand reading back when
    /// its caller stops polling, so it leaves reading to the driver.
    pub(crate) fn poll_receive(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<ReceiveResult, Error>> {
        self.poll_receive_with(cx, buf, None)
    }

    /// With `reading`, a receive that finds nothing buffered reads the
    /// transport itself (and records in `reading` that it is registered).
    fn poll_receive_with(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        reading: Option<&AtomicBool>,
    ) -> Poll<Result<ReceiveResult, Error>> {
        let shared = self.shared();
        let mut inner = shared.lock();
        loop {
            return match inner.session.receive(buf) {
                Ok(Some(r)) => {
                    inner.after_receive();
                    if let Some(reading) = reading {
                        reading.store(false, Ordering::Relaxed);
                    }
                    Poll::Ready(Ok(r))
                }
                Ok(None) if inner.finished => Poll::Ready(Err(Error::closed_prematurely())),
                Ok(None) => {
                    inner.needs_input();
                    if let Some(reading) = reading {
                        match inner.read_for_receive(shared, cx, buf) {
                            AppRead::Again => continue,
                            AppRead::Received(r) => {
                                reading.store(false, Ordering::Relaxed);
                                inner.after_receive();
                                return Poll::Ready(r.map_err(Error::from));
                            }
                            AppRead::Wait => reading.store(inner.is_app_reading(), Ordering::Relaxed),
                        }
                    }
                    add_waker(&mut inner.recv_wakers, cx.waker());
                    Poll::Pending
                }
                Err(e) => {
                    inner.after_receive();
                    if let Some(reading) = reading {
                        reading.store(false, Ordering::Relaxed);
                    }
                    Poll::Ready(Err(e.into()))
                }
            };
        }
    }

    /// Sends `data` as a message, or as a piece of one when
    /// `flags.end_of_message` is clear (.NET's `SendAsync`).
    pub async fn send(&self, data: &[u8], message_type: MessageType, flags: SendFlags) -> Result<(), Error> {
        let limit = self.max_pending_output();
        poll_fn(|cx| self.poll_output_below(cx, limit)).await?;
        self.queue_send(data, message_type, flags)?;
        poll_fn(|cx| self.poll_output_below(cx, limit)).await
    }

    pub(crate) fn max_pending_output(&self) -> usize {
        self.shared().config.max_pending_output
    }

    /// Queues a message at once, whatever the output backlog (written at
    /// once from this task when that is best, see `driver.rs`).
    pub(crate) fn queue_send(
        &self,
        data: &[u8],
        message_type: MessageType,
        flags: SendFlags,
    ) -> Result<(), Error> {
        let max = self.max_pending_output();
        let mut inner = self.shared().lock();
        inner.send(max, data.len(), |session, direct_min, write| {
            session.send_with(data, message_type, flags, direct_min, |head, payload| {
                write(head, payload)
            })
        })?;
        Ok(())
    }

    /// Queues our Close at once.
    pub(crate) fn queue_close(&self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        let max = self.max_pending_output();
        let mut inner = self.shared().lock();
        inner.send(max, 0, |session, _, write| {
            queue_then_write(session, write, |s| s.close(code, reason))
        })?;
        inner.note_close_sent();
        // The driver arms the close timeout and ends the transport.
        inner.wake_driver();
        Ok(())
    }

    /// Sends a PING with `payload` (at most 125 bytes).
    pub async fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        let max = self.max_pending_output();
        let mut inner = self.shared().lock();
        inner.send(max, 0, |session, _, write| {
            queue_then_write(session, write, |s| s.ping(payload))
        })?;
        Ok(())
    }

    /// Ready once at most `limit` bytes wait to be written (and, for 0, are flushed).
    pub(crate) fn poll_output_below(&self, cx: &mut Context<'_>, limit: usize) -> Poll<Result<(), Error>> {
        let mut inner = self.shared().lock();
        if let Some(e) = inner.session.failure() {
            return Poll::Ready(Err(e.clone().into()));
        }
        if inner.session.pending_output().len() <= limit {
            return Poll::Ready(Ok(()));
        }
        if inner.finished {
            return Poll::Ready(Err(Error::closed_prematurely()));
        }
        add_waker(&mut inner.send_wakers, cx.waker());
        Poll::Pending
    }

    /// Sends our Close without waiting for the peer's (.NET's `CloseOutputAsync`).
    /// After a received Close this completes the handshake.
    pub async fn close_output(&self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        self.queue_close(code, reason)?;
        poll_fn(|cx| self.poll_output_below(cx, 0)).await
    }

    /// Sends our Close and waits for the peer's (.NET's `CloseAsync`). Data
    /// messages that arrive first are discarded; if you still want them, call
    /// [`close_output`](Self::close_output) and keep receiving until `Close`.
    pub async fn close(&self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        self.close_output(code, reason).await?;
        let mut scratch = [0u8; 4096];
        loop {
            if matches!(self.state(), State::Closed) {
                return Ok(());
            }
            match self.receive(&mut scratch).await {
                Ok(r) if r.message_type == MessageType::Close => return Ok(()),
                Ok(_) => {}
                // The Close was delivered to a concurrent receive.
                Err(_) if self.state() == State::Closed => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Aborts at once: the transport is dropped and pending operations fail
    /// (.NET's `Abort`).
    pub fn abort(&self) {
        let mut inner = self.shared().lock();
        inner.session.abort();
        inner.wake_driver();
        inner.wake_app();
    }

    /// Splits into a receiving and a sending half, for use from two tasks.
    /// The connection is aborted when both halves are dropped without closing.
    pub fn split(self) -> (crate::stream::ReadHalf, crate::stream::WriteHalf) {
        crate::stream::split(self)
    }

    pub(crate) fn clone_handle(&self) -> WebSocket {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        WebSocket {
            shared: self.shared.clone(),
            assembler: Default::default(),
        }
    }

    /// Waits until the driver has released the transport (tests and the CLI use
    /// this to know the TCP connection is gone).
    pub async fn finished(&self) {
        poll_fn(|cx| {
            let mut inner = self.shared().lock();
            if inner.finished {
                Poll::Ready(())
            } else {
                add_waker(&mut inner.send_wakers, cx.waker());
                Poll::Pending
            }
        })
        .await
    }
}

/// Queues a control frame with `queue`, then offers everything pending to `write`.
fn queue_then_write(
    session: &mut Session,
    write: &mut dyn FnMut(&[u8], &[u8]) -> usize,
    queue: impl FnOnce(&mut Session) -> Result<(), sockweave_core::Error>,
) -> Result<(), sockweave_core::Error> {
    queue(session)?;
    let n = write(session.pending_output(), &[]);
    session.consume_output(n);
    Ok(())
}
