//! [`WebSocket`]: the core engine on a tokio byte stream (the seed's
//! `WebSocket.CreateFromStream`).
//!
//! Each WebSocket has a driver task that owns the transport. It reads whenever
//! the receive buffer has room, whether or not the application is receiving,
//! so PINGs are answered, PONGs are seen and Close frames are processed even
//! while the application is busy (this removes .NET's "keep a receive pending"
//! rule). When the receive buffer is full the driver stops reading: the peer
//! is throttled by TCP (or HTTP/2) flow control, and memory stays bounded.
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

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use sockweave_core::session::{MessageType, ReceiveResult, Role, SendFlags, Session, SessionConfig, State};
use sockweave_core::{CloseCode, Options};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::error::Error;

/// A byte stream a WebSocket can run on: TCP, TLS, an HTTP/2 stream, a duplex pipe.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// How long a client waits, after the close handshake, for the server to
/// close TCP first (RFC 6455 section 7.1.1) before closing it itself.
const CLIENT_LINGER: Duration = Duration::from_secs(2);

/// Backend settings that are not protocol options.
#[derive(Clone, Debug)]
pub(crate) struct DriverConfig {
    /// Most bytes of frames queued for writing before `send` waits.
    pub max_pending_output: usize,
    /// How long to wait for the peer's Close after sending ours.
    pub close_timeout: Duration,
    /// After the close handshake, wait (up to the linger time) for the peer to
    /// end its side in either role. Over HTTP/2 the server ends its stream with
    /// END_STREAM and must not reset it before the client has ended too.
    pub await_peer_end: bool,
}

impl DriverConfig {
    pub(crate) fn from_options(o: &Options) -> Self {
        DriverConfig {
            max_pending_output: o.max_pending_output,
            close_timeout: crate::duration(o.close_timeout),
            await_peer_end: false,
        }
    }

    pub(crate) fn for_http2(mut self) -> Self {
        self.await_peer_end = true;
        self
    }
}

struct Inner {
    session: Session,
    /// Every task waiting in a receive (or `close`, which receives): each must
    /// be woken, not only the last one to poll.
    recv_wakers: Vec<Waker>,
    send_wakers: Vec<Waker>,
    driver_waker: Option<Waker>,
    /// The driver stopped reading because the receive buffer is full.
    read_stalled: bool,
    /// The driver has ended and dropped the transport.
    finished: bool,
    /// When our Close was sent (for the close timeout).
    close_sent_at: Option<Instant>,
}

impl Inner {
    fn wake_app(&mut self) {
        for w in self.recv_wakers.drain(..) {
            w.wake();
        }
        for w in self.send_wakers.drain(..) {
            w.wake();
        }
    }

    fn wake_driver(&mut self) {
        if let Some(w) = self.driver_waker.take() {
            w.wake();
        }
    }
}

struct Shared {
    inner: Mutex<Inner>,
    config: DriverConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the session half-updated in a
        // way that matters more than the panic itself; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Aborts the connection when the last user-facing handle goes away.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        // After the close handshake (or a failure) the driver still owes the
        // peer our queued Close: let it write that, then end.
        if !matches!(inner.session.state(), State::Closed | State::Aborted) {
            inner.session.abort();
        }
        inner.wake_driver();
    }
}

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
    owner: Arc<Owner>,
    /// A partly received message, for the `Stream` face.
    pub(crate) assembler: crate::stream::Assembler,
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
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                session,
                recv_wakers: Vec::new(),
                send_wakers: Vec::new(),
                driver_waker: None,
                read_stalled: false,
                finished: false,
                close_sent_at: None,
            }),
            config: driver,
        });
        tokio::spawn(Driver {
            shared: shared.clone(),
            io: Some(Box::new(stream)),
            needs_flush: false,
            eof: false,
            shutdown_sent: false,
            early: leftover[taken..].to_vec(),
            epoch: Instant::now(),
            timer: None,
        });
        WebSocket {
            owner: Arc::new(Owner(shared)),
            assembler: Default::default(),
        }
    }

    fn shared(&self) -> &Shared {
        &self.owner.0
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
        poll_fn(|cx| self.poll_receive(cx, buf)).await
    }

    pub(crate) fn poll_receive(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<ReceiveResult, Error>> {
        let mut inner = self.shared().lock();
        match inner.session.receive(buf) {
            Ok(Some(r)) => {
                if inner.read_stalled {
                    inner.read_stalled = false;
                    inner.wake_driver();
                }
                Poll::Ready(Ok(r))
            }
            Ok(None) if inner.finished => Poll::Ready(Err(Error::closed_prematurely())),
            Ok(None) => {
                add_waker(&mut inner.recv_wakers, cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e.into())),
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

    /// Queues a message at once, whatever the output backlog.
    pub(crate) fn queue_send(
        &self,
        data: &[u8],
        message_type: MessageType,
        flags: SendFlags,
    ) -> Result<(), Error> {
        let mut inner = self.shared().lock();
        inner.session.send(data, message_type, flags)?;
        inner.wake_driver();
        Ok(())
    }

    /// Queues our Close at once.
    pub(crate) fn queue_close(&self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        let mut inner = self.shared().lock();
        inner.session.close(code, reason)?;
        if inner.close_sent_at.is_none() {
            inner.close_sent_at = Some(Instant::now());
        }
        inner.wake_driver();
        Ok(())
    }

    /// Sends a PING with `payload` (at most 125 bytes).
    pub async fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        let mut inner = self.shared().lock();
        inner.session.ping(payload)?;
        inner.wake_driver();
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
        WebSocket {
            owner: self.owner.clone(),
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

/// The task that owns the transport.
struct Driver {
    shared: Arc<Shared>,
    io: Option<Box<dyn Transport>>,
    needs_flush: bool,
    eof: bool,
    /// Our side of the transport was ended (after the close handshake).
    shutdown_sent: bool,
    /// Bytes read with the handshake that did not fit the receive buffer yet.
    early: Vec<u8>,
    /// Time zero of the session's clock.
    epoch: Instant,
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
}

/// The session's clock: milliseconds since `epoch`.
fn millis(epoch: Instant, at: Instant) -> u64 {
    at.saturating_duration_since(epoch).as_millis() as u64
}

/// Arms `timer` for `deadline` and reports whether it already passed. The
/// timer is allocated once and reset in place; a deadline that moved later
/// (keep-alive after every message heard) does not touch the timer wheel:
/// the earlier wake-up finds the new deadline and re-arms for it.
fn deadline_passed(
    timer: &mut Option<(Instant, Pin<Box<Sleep>>)>,
    cx: &mut Context<'_>,
    deadline: Instant,
    now: Instant,
) -> bool {
    if deadline <= now {
        return true;
    }
    match timer {
        Some((armed, s)) => {
            if *armed > deadline || (*armed < deadline && s.is_elapsed()) {
                *armed = deadline;
                s.as_mut().reset(deadline);
            }
            s.as_mut().poll(cx).is_ready()
        }
        None => {
            let mut s = Box::pin(tokio::time::sleep_until(deadline));
            let ready = s.as_mut().poll(cx).is_ready();
            *timer = Some((deadline, s));
            ready
        }
    }
}

impl Driver {
    fn finish(&mut self, inner: &mut Inner) -> Poll<()> {
        self.io = None;
        inner.finished = true;
        inner.session.feed_eof();
        if matches!(
            inner.session.state(),
            State::Open | State::CloseSent | State::CloseReceived
        ) {
            // Later sends fail instead of queueing into a transport that is gone;
            // data already received is still delivered first.
            inner.session.abort_with(sockweave_core::Error::new(
                sockweave_core::ErrorKind::ConnectionClosedPrematurely,
                "the remote party closed the WebSocket connection without completing the close handshake",
            ));
        }
        inner.wake_app();
        Poll::Ready(())
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let shared = this.shared.clone();
        let mut inner = shared.lock();
        // One clock reading per wake-up: the loop below runs again only when
        // reading produced output to write (a PONG, a Close) or a timer fired.
        let mut now = Instant::now();
        loop {
            let Some(io) = this.io.as_mut() else {
                return Poll::Ready(());
            };
            let mut progress = false;
            let mut write_blocked = false;

            // Write what the session has queued.
            while !inner.session.pending_output().is_empty() {
                match Pin::new(&mut *io).poll_write(cx, inner.session.pending_output()) {
                    Poll::Ready(Ok(0)) => {
                        inner
                            .session
                            .abort_with(transport_failure(io::ErrorKind::WriteZero.into()));
                        break;
                    }
                    Poll::Ready(Ok(n)) => {
                        inner.session.consume_output(n);
                        this.needs_flush = true;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        inner.session.abort_with(transport_failure(e));
                        break;
                    }
                    Poll::Pending => {
                        write_blocked = true;
                        break;
                    }
                }
            }
            if this.needs_flush && inner.session.pending_output().is_empty() {
                match Pin::new(&mut *io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => this.needs_flush = false,
                    Poll::Ready(Err(e)) => {
                        this.needs_flush = false;
                        inner.session.abort_with(transport_failure(e));
                    }
                    Poll::Pending => {}
                }
            }
            if progress {
                for w in inner.send_wakers.drain(..) {
                    w.wake();
                }
            }

            // Read while there is room, so control frames are never left unread.
            // After a Close or a failure, keep reading (and dropping) only to see EOF.
            let mut read_any = false;
            let now_ms = millis(this.epoch, now);
            inner.session.set_now(now_ms);
            if !this.early.is_empty() {
                let n = inner.session.feed(&this.early);
                this.early.drain(..n);
                read_any = n > 0;
                if !this.early.is_empty() {
                    // The receive buffer is full: a receive must wake us to feed the rest.
                    inner.read_stalled = true;
                }
            }
            while !this.eof && this.early.is_empty() {
                let receiving = inner.session.is_receiving();
                // Until the first bytes arrive the session has no receive
                // buffer: read into scratch space and feed it, so a connection
                // that never receives anything never allocates one.
                let direct = receiving && inner.session.has_receive_buffer();
                // Zeroed only on this rare path (first bytes, or reads after a Close).
                let mut scratch: Option<[u8; SCRATCH]> = None;
                let (polled, n) = if direct {
                    let buf = inner.session.read_buf();
                    if buf.is_empty() {
                        inner.read_stalled = true;
                        break;
                    }
                    let mut rb = ReadBuf::new(buf);
                    let p = Pin::new(&mut *io).poll_read(cx, &mut rb);
                    (p, rb.filled().len())
                } else {
                    let mut rb = ReadBuf::new(scratch.insert([0u8; SCRATCH]));
                    let p = Pin::new(&mut *io).poll_read(cx, &mut rb);
                    (p, rb.filled().len())
                };
                match polled {
                    Poll::Ready(Ok(())) => {
                        read_any = true;
                        if n == 0 {
                            this.eof = true;
                            inner.session.feed_eof();
                        } else if direct {
                            inner.session.commit_read(n);
                        } else if let (true, Some(data)) = (receiving, scratch.as_ref()) {
                            let taken = inner.session.feed(&data[..n]);
                            if taken < n {
                                this.early.extend_from_slice(&data[taken..n]);
                                inner.read_stalled = true;
                            }
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        read_any = true;
                        this.eof = true;
                        inner.session.abort_with(transport_failure(e));
                    }
                    Poll::Pending => break,
                }
            }
            if read_any {
                inner.wake_app();
            }

            let state = inner.session.state();
            let flushed = inner.session.pending_output().is_empty() && !this.needs_flush;
            if flushed {
                // The server ends its side first, a client after it (RFC 6455 7.1.1).
                let server = inner.session.role() == Role::Server;
                if state == State::Closed && (server || this.eof) && !this.shutdown_sent {
                    this.shutdown_sent = true;
                    let _ = Pin::new(&mut *io).poll_shutdown(cx);
                }
                let done = match state {
                    // Failed or aborted: whatever Close was owed has been written.
                    State::Aborted => true,
                    // A client waits for the server to end first (below).
                    // Over HTTP/2 the server, too, waits for the client's END_STREAM:
                    // dropping the stream earlier would reset it.
                    State::Closed => (server && !this.shared.config.await_peer_end) || this.eof,
                    // The peer hung up before the close handshake ended.
                    _ => this.eof,
                };
                if done {
                    if state == State::Aborted || !this.shutdown_sent {
                        let _ = Pin::new(&mut *io).poll_shutdown(cx);
                    }
                    return this.finish(&mut inner);
                }
            }
            // Timers: keep-alive, the close timeout, the client's linger.
            if inner.session.poll_timeout().is_some_and(|d| d <= now_ms) {
                inner.session.handle_timeout(now_ms);
                if !inner.session.pending_output().is_empty() || inner.session.state() == State::Aborted {
                    inner.wake_app();
                    continue;
                }
            }
            let mut deadline = inner
                .session
                .poll_timeout()
                .map(|ms| this.epoch + Duration::from_millis(ms));
            if state == State::CloseSent || state == State::Closed {
                let sent_at = *inner.close_sent_at.get_or_insert(now);
                let closed = state == State::Closed;
                let close_deadline = if closed {
                    sent_at + CLIENT_LINGER
                } else {
                    sent_at + this.shared.config.close_timeout
                };
                if close_deadline <= now {
                    if closed {
                        let _ = Pin::new(&mut *io).poll_shutdown(cx);
                        return this.finish(&mut inner);
                    }
                    let secs = this.shared.config.close_timeout.as_secs_f64();
                    inner.session.abort_with(sockweave_core::Error::new(
                        sockweave_core::ErrorKind::Faulted,
                        format!(
                            "the peer did not answer our Close within {secs} s; the connection was aborted"
                        ),
                    ));
                    continue;
                }
                deadline = Some(deadline.map_or(close_deadline, |d| d.min(close_deadline)));
            }
            if let Some(d) = deadline {
                if deadline_passed(&mut this.timer, cx, d, now) {
                    now = Instant::now();
                    continue;
                }
            }
            // Reading can queue output (a PONG, our answer to a Close, an
            // error's Close): write it now unless the transport is full.
            let more_output = !inner.session.pending_output().is_empty() && !write_blocked;
            // An early leftover that a receive made room for is fed on the next turn.
            let more_early = read_any && !this.early.is_empty() && !inner.read_stalled;
            if more_output || more_early {
                continue;
            }
            inner.driver_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
    }
}

/// Stack space for reads while the session has no receive buffer yet.
const SCRATCH: usize = 2048;

/// Registers `w` unless it would wake a task already registered (a task
/// polled again must not grow the list).
fn add_waker(list: &mut Vec<Waker>, w: &Waker) {
    if !list.iter().any(|x| x.will_wake(w)) {
        list.push(w.clone());
    }
}

/// A transport error as the session's failure.
fn transport_failure(e: io::Error) -> sockweave_core::Error {
    let kind = match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => sockweave_core::ErrorKind::ConnectionClosedPrematurely,
        _ => sockweave_core::ErrorKind::Faulted,
    };
    sockweave_core::Error::new(kind, format!("transport error: {e}"))
}
