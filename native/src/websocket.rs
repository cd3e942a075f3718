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
        let mut out = Fixed(buf);
        poll_fn(|cx| poll_receive(self.shared(), cx, &mut out, &hold.1, Reads::App)).await
    }

    /// Receives a whole message, or `None` once the peer's Close has been
    /// received (and answered with the same status, as RFC 6455 asks; see
    /// [`close_status`](Self::close_status)). The message is read into a
    /// buffer of its own size: no receive buffer to keep per connection,
    /// and the bulk of a large message goes from the socket straight into
    /// the message. Servers usually want this:
    ///
    /// ```no_run
    /// # async fn demo(mut ws: sockweave::WebSocket) -> Result<(), sockweave::Error> {
    /// while let Some(msg) = ws.receive_message().await? {
    ///     ws.send_message(&msg).await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// A message is at most `max_message_size` bytes (the connection fails
    /// with 1009 otherwise). Cancel-safe: if the future is dropped, what was
    /// taken of a message stays with this `WebSocket` and the next call
    /// continues it. The same as the `Stream` face's `next()`, which takes
    /// messages from the same place.
    pub async fn receive_message(&mut self) -> Result<Option<Message>, Error> {
        /// Hands reading back to the driver if the future is dropped while
        /// registered with the transport; gives the receive slot back if
        /// nothing of a message was taken.
        struct Guard<'a>(&'a Connection, &'a mut Assembler);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                let held = self.1.hold.load(Ordering::Relaxed);
                if held == 0 {
                    return;
                }
                let mut inner = self.0.lock();
                if held & READING != 0 {
                    inner.end_app_read();
                }
                if self.1.buf.is_empty() && held & SLOT != 0 {
                    inner.session.end_receive();
                    self.1.hold.store(0, Ordering::Relaxed);
                } else {
                    self.1.hold.store(held & SLOT, Ordering::Relaxed);
                }
            }
        }
        let WebSocket { shared, assembler } = self;
        let mut guard = Guard(shared, assembler);
        let Guard(conn, assembler) = &mut guard;
        poll_fn(|cx| assembler.poll_message(conn, cx, Reads::App))
            .await
            .transpose()
    }

    /// The `Stream` face's `next()`: the driver reads, because a stream's
    /// caller may stop polling at any point.
    pub(crate) fn poll_next_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.assembler.poll_message(&self.shared, cx, Reads::Driver)
    }

    /// Sends a whole message (see [`send`](Self::send)).
    pub async fn send_message(&self, message: &Message) -> Result<(), Error> {
        self.send(
            message.as_bytes(),
            message.message_type(),
            SendFlags::END_OF_MESSAGE,
        )
        .await
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

/// Who reads the transport while a receive waits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reads {
    /// The receiving task reads for itself (saving a task hop) and must
    /// hand reading back when it stops (`end_app_read`), so only futures
    /// with a drop guard use it.
    App,
    /// The driver task reads; for the `Stream` face, whose caller may stop
    /// polling at any point.
    Driver,
}

/// Where a receive puts what it takes.
pub(crate) trait ReceiveInto {
    /// Room for the next bytes; `hint` is `Session::receive_size_hint`.
    fn room(&mut self, hint: usize) -> &mut [u8];
    /// `n` bytes of the last `room` were filled (0 if none).
    fn filled(&mut self, n: usize);
    /// The receive slot is held until the end of the message (else it goes
    /// back with every result).
    fn whole_messages(&self) -> bool;
}

/// The caller's buffer, for `receive`.
struct Fixed<'a>(&'a mut [u8]);

impl ReceiveInto for Fixed<'_> {
    fn room(&mut self, _hint: usize) -> &mut [u8] {
        self.0
    }
    fn filled(&mut self, _n: usize) {}
    fn whole_messages(&self) -> bool {
        false
    }
}

/// One receive: takes the slot (recorded in `hold` with `READING` while the
/// receiving task is registered with the transport), returns what the
/// session has, else reads for itself (`Reads::App`) or waits for the driver.
fn poll_receive(
    conn: &Connection,
    cx: &mut Context<'_>,
    out: &mut impl ReceiveInto,
    hold: &AtomicU8,
    reads: Reads,
) -> Poll<Result<ReceiveResult, Error>> {
    let mut inner = conn.lock();
    if hold.load(Ordering::Relaxed) & SLOT == 0 {
        if let Err(e) = inner.session.begin_receive() {
            return Poll::Ready(Err(e.into()));
        }
        hold.store(SLOT, Ordering::Relaxed);
    }
    let whole = out.whole_messages();
    let done = |inner: &mut crate::driver::Inner, ends_message: bool| {
        inner.after_receive();
        if !whole || ends_message {
            inner.session.end_receive();
            hold.store(0, Ordering::Relaxed);
        } else {
            hold.store(SLOT, Ordering::Relaxed);
        }
    };
    loop {
        let room = out.room(inner.session.receive_size_hint());
        return match inner.session.receive(room) {
            Ok(Some(r)) => {
                out.filled(r.count);
                done(&mut inner, r.end_of_message);
                Poll::Ready(Ok(r))
            }
            Ok(None) if inner.finished => {
                out.filled(0);
                done(&mut inner, true);
                Poll::Ready(Err(Error::closed_prematurely()))
            }
            Ok(None) => {
                inner.app_wants_more();
                if reads == Reads::App {
                    match inner.read_for_receive(conn, cx, room) {
                        AppRead::Again => {
                            out.filled(0);
                            continue;
                        }
                        AppRead::Received(r) => {
                            let ends = r.as_ref().map_or(true, |r| r.end_of_message);
                            out.filled(r.as_ref().map_or(0, |r| r.count));
                            done(&mut inner, ends);
                            return Poll::Ready(r.map_err(Error::from));
                        }
                        AppRead::Wait => {
                            let reading = if inner.is_app_reading() { READING } else { 0 };
                            hold.store(SLOT | reading, Ordering::Relaxed);
                        }
                    }
                }
                out.filled(0);
                add_waker(&mut inner.recv_wakers, cx.waker());
                Poll::Pending
            }
            Err(e) => {
                out.filled(0);
                done(&mut inner, true);
                Poll::Ready(Err(e.into()))
            }
        };
    }
}

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

/// Room a message buffer may take ahead of the bytes it holds: a peer that
/// announces a large frame and sends little cannot make us allocate much.
const MAX_ROOM_AHEAD: usize = 256 << 10;

/// Assembles whole messages (for [`WebSocket::receive_message`] and the
/// `Stream` face), each read into a buffer of its own size.
#[derive(Default)]
pub(crate) struct Assembler {
    buf: Vec<u8>,
    /// The receive slot while a message is partly taken (`SLOT`), and
    /// `READING` while the receiving task is registered with the transport.
    hold: AtomicU8,
}

/// The message buffer as [`ReceiveInto`]: it grows by what the session
/// says is coming, bounded by `MAX_ROOM_AHEAD` beyond what arrived.
struct Growing<'a> {
    buf: &'a mut Vec<u8>,
    len: usize,
}

impl ReceiveInto for Growing<'_> {
    fn room(&mut self, hint: usize) -> &mut [u8] {
        self.len = self.buf.len();
        // The buffer may reach twice what arrived (or MAX_ROOM_AHEAD, or what it already has).
        let limit = (2 * self.len).max(MAX_ROOM_AHEAD).max(self.buf.capacity());
        let want = hint.min(limit - self.len);
        if want > 0 {
            self.buf.resize(self.len + want, 0);
        }
        &mut self.buf[self.len..]
    }
    fn filled(&mut self, n: usize) {
        self.buf.truncate(self.len + n);
    }
    fn whole_messages(&self) -> bool {
        true
    }
}

impl Assembler {
    pub(crate) fn poll_message(
        &mut self,
        conn: &Connection,
        cx: &mut Context<'_>,
        reads: Reads,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            let mut out = Growing {
                buf: &mut self.buf,
                len: 0,
            };
            let r = match poll_receive(conn, cx, &mut out, &self.hold, reads) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            match r {
                Err(e) => {
                    self.buf = Vec::new();
                    // After the Close the stream has ended; anything else is an error.
                    let state = conn.lock().session.state();
                    return Poll::Ready(match state {
                        State::Closed | State::CloseReceived
                            if e.kind() == crate::ErrorKind::InvalidState =>
                        {
                            None
                        }
                        _ => Some(Err(e)),
                    });
                }
                Ok(r) => match r.message_type {
                    MessageType::Close => {
                        self.buf = Vec::new();
                        // Answer the peer's Close with the same status, as RFC 6455 asks.
                        let _ = answer_close(conn);
                        return Poll::Ready(None);
                    }
                    _ if !r.end_of_message => continue,
                    _ if self.buf.capacity() > (2 * self.buf.len()).max(64) => {
                        // A compressed message's size was guessed: give back what it did not use.
                        self.buf.shrink_to_fit();
                        return Poll::Ready(Some(self.take(r.message_type)));
                    }
                    ty => return Poll::Ready(Some(self.take(ty))),
                },
            }
        }
    }

    /// The message assembled in `buf`, of type `ty` (text or binary).
    fn take(&mut self, ty: MessageType) -> Result<Message, Error> {
        let data = std::mem::take(&mut self.buf);
        if ty == MessageType::Binary {
            return Ok(Message::Binary(data));
        }
        // The engine validated the UTF-8 already.
        String::from_utf8(data)
            .map(Message::Text)
            .map_err(|_| Error::new(crate::ErrorKind::Faulted, "internal: validated text is not UTF-8"))
    }
}

/// Answers the peer's Close with its own status.
fn answer_close(conn: &Connection) -> Result<(), Error> {
    let mut inner = conn.lock();
    let r = inner.session.answer_close();
    inner.session_changed();
    r.map_err(Error::from)
}
