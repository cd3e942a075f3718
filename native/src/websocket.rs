//! [`WebSocket`]: the core engine on a tokio byte stream (.NET's
//! `WebSocket.CreateFromStream`).
//!
//! Each WebSocket has a driver task (`driver/`) so that PINGs are answered,
//! PONGs are seen and Close frames are processed even while the application
//! is busy (this removes .NET's "keep a receive pending" rule). When the
//! receive buffer is full, reading stops: the peer is throttled by TCP (or
//! HTTP/2) flow control, and memory stays bounded. Receives and sends use the
//! transport from the application's own task when that saves a task hop.
//!
//! # State
//!
//! [`WebSocket::state`] follows what the application has been told, as in
//! .NET: a Close (or a failure, or the end of the connection) that the
//! driver read behind messages not yet received shows in the state once
//! `receive` has returned those messages and then the Close (or the error).
//! The usual loop `while ws.state() == State::Open { ws.receive(..) }`
//! therefore sees every message and then the Close.
//!
//! # Concurrency and cancellation
//!
//! All operations take `&self`: one task may `receive` while another `send`s.
//! - One `receive` at a time: a second one while another is pending fails
//!   with `InvalidState` (as .NET). A `receive` future that is dropped before
//!   it completes has taken nothing: the data it would have returned goes to
//!   the next `receive`.
//! - Several tasks may `send` whole messages at once: each is queued whole,
//!   never mixed with another. A message sent in pieces (`END_OF_MESSAGE`
//!   clear) belongs to the task that began it: another task's `send` waits
//!   until that message's last piece is sent.
//! - A `send` future first waits for room in the output buffer (at most
//!   `max_pending_output` bytes queued), then queues the whole message at once,
//!   then waits until the queue is back under the limit. Dropped while waiting
//!   for room, nothing was queued; dropped after, the message is sent in full.
//!   Either way the connection stays usable.
//! - `close` waits for the peer's Close without taking anything from the
//!   receive queue: a pending (or later) `receive` gets every message and then
//!   the Close. Dropping it leaves our Close sent and the connection closing
//!   normally.
//! - After `abort`, every call fails.

use std::future::poll_fn;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use sockweave_core::session::{
    MessageType, ReceiveResult, Role, SendFlags, SenderId, Session, SessionConfig, State,
};
use sockweave_core::{CloseCode, Options};

use crate::driver::{add_waker, AppRead, Connection, Inner};
use crate::error::Error;
use crate::message::Message;
use crate::transport::Transport;

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
    /// Connection with the driver task and the other handles of this connection
    /// (split halves); `Connection::handles` counts the handles.
    shared: Arc<Connection>,
    /// A partly received message, for the `Stream` face.
    pub(crate) assembler: Assembler,
}

/// The connection is aborted when the last handle goes away.
impl Drop for WebSocket {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let mut inner = self.shared.lock();
        // The session decides: abort an open connection, answer a Close
        // received and not answered, let a close in progress finish.
        inner.session.release();
        inner.session_changed();
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
    /// role, `options.sub_protocol` is reported by [`sub_protocol`](Self::sub_protocol),
    /// and `options.dangerous_deflate_options` are the permessage-deflate
    /// parameters the handshake agreed on (.NET's
    /// `WebSocketCreationOptions.DangerousDeflateOptions`). Keep-alive is off
    /// unless the options set it.
    ///
    /// Must be called inside a tokio runtime: the connection's driver is spawned on it.
    pub fn from_stream<S: Transport>(stream: S, options: &Options) -> Result<WebSocket, Error> {
        options.validate()?;
        let role = if options.is_server {
            Role::Server
        } else {
            Role::Client
        };
        Ok(Self::start(stream, SessionConfig::for_stream(role, options), &[]))
    }

    /// Starts the driver. `leftover` is what was read past the handshake.
    pub(crate) fn start<S: Transport>(stream: S, config: SessionConfig, leftover: &[u8]) -> WebSocket {
        let mut session = Session::new(config, crate::random_seed());
        // Frames that arrived with the handshake; what does not fit waits in the driver.
        let taken = session.feed(leftover);
        let shared = crate::driver::spawn(stream, session, leftover[taken..].to_vec());
        WebSocket {
            shared,
            assembler: Default::default(),
        }
    }

    fn shared(&self) -> &Connection {
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
    /// One receive at a time: a second one while another is pending fails
    /// with `InvalidState`.
    pub async fn receive(&self, buf: &mut [u8]) -> Result<ReceiveResult, Error> {
        /// What this receive holds: the one-receive slot, and reading while
        /// it is registered with the transport. Both go back if it is dropped.
        // An atomic only so the future stays `Send`; one task uses it.
        struct Hold<'a>(&'a Connection, AtomicU8);
        impl Drop for Hold<'_> {
            fn drop(&mut self) {
                let held = self.1.load(Ordering::Relaxed);
                if held != 0 {
                    let mut inner = self.0.lock();
                    if held & READING != 0 {
                        inner.end_app_read();
                    }
                    if held & SLOT != 0 {
                        inner.session.end_receive();
                    }
                }
            }
        }
        let hold = Hold(self.shared(), AtomicU8::new(0));
        poll_fn(|cx| self.poll_receive_with(cx, buf, &hold.1, true)).await
    }

    /// `receive` for the `Stream` face: it holds the receive slot in `hold`
    /// while a message is only partly taken (so no `receive` can take the
    /// rest of it), and leaves reading to the driver, because it cannot hand
    /// reading back when its caller stops polling.
    pub(crate) fn poll_receive(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        hold: &AtomicU8,
    ) -> Poll<Result<ReceiveResult, Error>> {
        self.poll_receive_with(cx, buf, hold, false)
    }

    /// `hold` records what this receive holds (`SLOT`, `READING`); with
    /// `app_reads`, a receive that finds nothing buffered reads the transport
    /// itself, and the slot goes back with every result (else only at the
    /// end of a message).
    fn poll_receive_with(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        hold: &AtomicU8,
        app_reads: bool,
    ) -> Poll<Result<ReceiveResult, Error>> {
        let shared = self.shared();
        let mut inner = shared.lock();
        if hold.load(Ordering::Relaxed) & SLOT == 0 {
            if let Err(e) = inner.session.begin_receive() {
                return Poll::Ready(Err(e.into()));
            }
            hold.store(SLOT, Ordering::Relaxed);
        }
        let done = |inner: &mut crate::driver::Inner, ends_message: bool| {
            inner.after_receive();
            if app_reads || ends_message {
                inner.session.end_receive();
                hold.store(0, Ordering::Relaxed);
            } else {
                hold.store(SLOT, Ordering::Relaxed);
            }
        };
        loop {
            return match inner.session.receive(buf) {
                Ok(Some(r)) => {
                    done(&mut inner, r.end_of_message);
                    Poll::Ready(Ok(r))
                }
                Ok(None) if inner.finished => {
                    done(&mut inner, true);
                    Poll::Ready(Err(Error::closed_prematurely()))
                }
                Ok(None) => {
                    inner.app_wants_more();
                    if app_reads {
                        match inner.read_for_receive(shared, cx, buf) {
                            AppRead::Again => continue,
                            AppRead::Received(r) => {
                                let ends = r.as_ref().map_or(true, |r| r.end_of_message);
                                done(&mut inner, ends);
                                return Poll::Ready(r.map_err(Error::from));
                            }
                            AppRead::Wait => {
                                let reading = if inner.is_app_reading() { READING } else { 0 };
                                hold.store(SLOT | reading, Ordering::Relaxed);
                            }
                        }
                    }
                    add_waker(&mut inner.recv_wakers, cx.waker());
                    Poll::Pending
                }
                Err(e) => {
                    done(&mut inner, true);
                    Poll::Ready(Err(e.into()))
                }
            };
        }
    }

    /// Sends `data` as a message, or as a piece of one when
    /// `flags.end_of_message` is clear (.NET's `SendAsync`). Several tasks
    /// may send whole messages at once; a message sent in pieces belongs to
    /// the task that began it, and other tasks' sends wait until it ends.
    pub async fn send(&self, data: &[u8], message_type: MessageType, flags: SendFlags) -> Result<(), Error> {
        let limit = self.max_pending_output();
        // Waiting for room, queueing and (usually) finding the queue back
        // under the limit take one lock together.
        let mut queued = false;
        poll_fn(|cx| {
            let mut inner = self.shared().lock();
            if !queued {
                if let Some(e) = inner.session.failed() {
                    return Poll::Ready(Err(e.into()));
                }
                if !Self::may_queue(&inner, limit) {
                    if inner.finished {
                        return Poll::Ready(Err(Error::closed_prematurely()));
                    }
                    add_waker(&mut inner.send_wakers, cx.waker());
                    return Poll::Pending;
                }
                Self::queue_locked(&mut inner, limit, data, message_type, flags)?;
                queued = true;
            }
            Self::output_below_locked(&mut inner, cx, limit)
        })
        .await
    }

    pub(crate) fn max_pending_output(&self) -> usize {
        self.shared().max_pending_output
    }

    /// True when this task may queue a message now: no other task's message
    /// in pieces is in progress, and at most `limit` bytes wait to be written.
    fn may_queue(inner: &Inner, limit: usize) -> bool {
        (!inner.session.sending_in_pieces() || inner.session.may_send(current_sender()))
            && inner.session.pending_output().len() <= limit
    }

    /// Queues a message at once, whatever the output backlog (written at
    /// once from this task when that is best, see `driver`).
    pub(crate) fn queue_send(
        &self,
        data: &[u8],
        message_type: MessageType,
        flags: SendFlags,
    ) -> Result<(), Error> {
        let max = self.max_pending_output();
        Self::queue_locked(&mut self.shared().lock(), max, data, message_type, flags)
    }

    fn queue_locked(
        inner: &mut Inner,
        max: usize,
        data: &[u8],
        message_type: MessageType,
        flags: SendFlags,
    ) -> Result<(), Error> {
        let in_pieces = inner.session.sending_in_pieces();
        // Who sends matters only for messages in pieces (a whole message
        // between them is any sender's).
        let sender = if in_pieces || !flags.end_of_message {
            current_sender()
        } else {
            SenderId::ANY
        };
        let r = inner.send(max, data.len(), |session, direct_min, write| {
            session.send_with(sender, data, message_type, flags, direct_min, |head, payload| {
                write(head, payload)
            })
        });
        if in_pieces && !inner.session.sending_in_pieces() {
            // The message in pieces ended: other senders may go.
            for w in inner.send_wakers.drain(..) {
                w.wake();
            }
        }
        r.map_err(Error::from)
    }

    /// Answers the peer's Close with its own status (the `Stream` face does
    /// this for its user).
    pub(crate) fn answer_close(&self) -> Result<(), Error> {
        let mut inner = self.shared().lock();
        let r = inner.session.answer_close();
        inner.session_changed();
        r.map_err(Error::from)
    }

    /// Queues our Close at once.
    pub(crate) fn queue_close(&self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        let max = self.max_pending_output();
        let mut inner = self.shared().lock();
        let r = inner.send(max, 0, |session, _, write| {
            queue_then_write(session, write, |s| s.close(code, reason))
        });
        // The driver rearms its timer (the close timeout) and ends the transport.
        inner.session_changed();
        r.map_err(Error::from)
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

    /// Ready when this task may queue a message (see `may_queue`).
    pub(crate) fn poll_send_ready(&self, cx: &mut Context<'_>, limit: usize) -> Poll<Result<(), Error>> {
        let mut inner = self.shared().lock();
        if let Some(e) = inner.session.failed() {
            return Poll::Ready(Err(e.into()));
        }
        if Self::may_queue(&inner, limit) {
            return Poll::Ready(Ok(()));
        }
        if inner.finished {
            return Poll::Ready(Err(Error::closed_prematurely()));
        }
        add_waker(&mut inner.send_wakers, cx.waker());
        Poll::Pending
    }

    /// Ready once at most `limit` bytes wait to be written.
    pub(crate) fn poll_output_below(&self, cx: &mut Context<'_>, limit: usize) -> Poll<Result<(), Error>> {
        Self::output_below_locked(&mut self.shared().lock(), cx, limit)
    }

    fn output_below_locked(inner: &mut Inner, cx: &mut Context<'_>, limit: usize) -> Poll<Result<(), Error>> {
        if let Some(e) = inner.session.failed() {
            return Poll::Ready(Err(e.into()));
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

    /// Sends our Close and waits for the peer's (.NET's `CloseAsync`); the
    /// state is then `Closed`. Nothing is taken from the receive queue: a
    /// pending (or later) [`receive`](Self::receive) still gets the messages
    /// that arrived before the peer's Close, and then the Close. If the peer
    /// does not answer within `close_timeout`, the connection is aborted and
    /// this fails.
    pub async fn close(&self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        self.close_output(code, reason).await?;
        poll_fn(|cx| {
            let mut inner = self.shared().lock();
            match inner.session.poll_close() {
                Some(r) => Poll::Ready(r.map_err(Error::from)),
                None if inner.finished => Poll::Ready(Err(Error::closed_prematurely())),
                None => {
                    add_waker(&mut inner.recv_wakers, cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Aborts at once: the transport is dropped, pending operations fail,
    /// and so does every later call (.NET's `Abort`).
    pub fn abort(&self) {
        let mut inner = self.shared().lock();
        inner.session.abort();
        inner.session_changed();
        inner.wake_app();
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

/// What a receive holds (see `Hold` in [`WebSocket::receive`]).
pub(crate) const SLOT: u8 = 1;
const READING: u8 = 2;

/// Who is sending: the task (a message in pieces belongs to the task that
/// began it). Outside any task (`block_on`), one sender.
pub(crate) fn current_sender() -> SenderId {
    /// Keeps the task id's bits (tokio hashes an `Id` as one `u64`).
    #[derive(Default)]
    struct IdBits(u64);
    impl std::hash::Hasher for IdBits {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(*b);
            }
        }
        fn write_u64(&mut self, v: u64) {
            self.0 ^= v;
        }
    }
    match tokio::task::try_id() {
        Some(id) => {
            let mut h = IdBits::default();
            std::hash::Hash::hash(&id, &mut h);
            // Never 0, which is `SenderId::ANY`.
            SenderId(h.0.max(1))
        }
        None => SenderId::ANY,
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

/// Reading pieces into a growing buffer: the first read is small so small
/// messages cost little, later reads grow with the message.
const FIRST_READ: usize = 4096;

/// Assembles whole messages from [`WebSocket::poll_receive`] results.
#[derive(Default)]
pub(crate) struct Assembler {
    buf: Vec<u8>,
    /// The receive slot while a message is partly taken (see `WebSocket::poll_receive`).
    hold: AtomicU8,
}

impl Assembler {
    pub(crate) fn poll_message(
        &mut self,
        ws: &WebSocket,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            let len = self.buf.len();
            let want = (len / 2).clamp(FIRST_READ, 1 << 20);
            self.buf.resize(len + want, 0);
            let r = ws.poll_receive(cx, &mut self.buf[len..], &self.hold);
            let r = match r {
                Poll::Pending => {
                    self.buf.truncate(len);
                    return Poll::Pending;
                }
                Poll::Ready(r) => r,
            };
            match r {
                Err(e) => {
                    self.buf.clear();
                    // After the Close the stream has ended; anything else is an error.
                    return Poll::Ready(match ws.state() {
                        State::Closed | State::CloseReceived
                            if e.kind() == crate::ErrorKind::InvalidState =>
                        {
                            None
                        }
                        _ => Some(Err(e)),
                    });
                }
                Ok(r) => {
                    self.buf.truncate(len + r.count);
                    match r.message_type {
                        MessageType::Close => {
                            self.buf.clear();
                            // Answer the peer's Close with the same status, as RFC 6455 asks.
                            let _ = ws.answer_close();
                            return Poll::Ready(None);
                        }
                        _ if !r.end_of_message => continue,
                        MessageType::Text => {
                            let data = std::mem::take(&mut self.buf);
                            // The engine validated the UTF-8 already.
                            let s = String::from_utf8(data).map_err(|_| {
                                Error::new(crate::ErrorKind::Faulted, "internal: validated text is not UTF-8")
                            });
                            return Poll::Ready(Some(s.map(Message::Text)));
                        }
                        MessageType::Binary => {
                            return Poll::Ready(Some(Ok(Message::Binary(std::mem::take(&mut self.buf)))));
                        }
                    }
                }
            }
        }
    }
}
