//! A connection's shared state, and the driver task that keeps it moving.
//!
//! The transport lives in [`Inner`], behind the connection's lock, and is
//! used by whichever task can make progress with it:
//! - a `receive` that finds nothing buffered reads the transport itself and
//!   stays registered for readability while it waits;
//! - a `send` made after the application took everything received and
//!   asked for more (or after the driver drained the queue), with no further
//!   received data waiting, writes its frames and everything queued before
//!   them itself, and so does a send of a large payload;
//! - the driver task does the rest: it reads whenever no `receive` is
//!   registered, so PINGs are answered, PONGs are seen and Close frames are
//!   processed while the application is busy (this removes .NET's "keep a
//!   receive pending" rule); it writes backlogs, runs the timers and ends
//!   the transport.
//!
//! Why not leave all I/O to the driver: a hop to another task for every
//! message costs a scheduler round trip, and when the application runs in
//! `block_on` or a `LocalSet` tokio also polls epoll once more before
//! returning to it (strace of a 16-byte echo server: 2 `epoll_wait` per
//! message instead of 1). Why the send rule: a send that writes at once
//! gives the lowest latency for request/response traffic, but when many
//! messages are in flight, queueing them and writing the batch in one
//! system call is several times faster.
//!
//! `AsyncRead`/`AsyncWrite` remember only the waker of the latest poll in
//! each direction, so exactly one party reads at a time: when a waiting
//! `receive` completes or is dropped, reading goes back to the driver, whose
//! waker is registered again before the lock is released.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use sockweave_core::session::{Role, Session, State};
use sockweave_core::Options;
use tokio::io::ReadBuf;
use tokio::time::{Instant, Sleep};

use crate::websocket::Transport;

/// How long a client waits, after the close handshake, for the server to
/// close TCP first (RFC 6455 section 7.1.1) before closing it itself.
const CLIENT_LINGER: Duration = Duration::from_secs(2);

/// Stack space for reads while the session has no receive buffer yet.
const SCRATCH: usize = 2048;

/// Payload reads at least this long go straight into the caller's buffer.
const DIRECT_READ_MIN: usize = 16 * 1024;

/// Payloads at least this long are written from the caller's buffer (with the
/// frame header, in one vectored write) instead of being copied into the
/// output queue first.
const DIRECT_PAYLOAD_MIN: usize = 4096;
/// The same for a transport without vectored writes, where the header goes
/// out in a write of its own.
const DIRECT_PAYLOAD_MIN_UNVECTORED: usize = 64 * 1024;

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

pub(crate) struct Inner {
    pub(crate) session: Session,
    /// The transport; `None` once the driver has ended (and while a task
    /// holding the lock is using it).
    io: Option<Box<dyn Transport>>,
    /// Bytes were written since the last completed flush.
    needs_flush: bool,
    /// The transport reached end of file (or failed while reading).
    eof: bool,
    /// Bytes read with the handshake that did not fit the receive buffer yet.
    early: Vec<u8>,
    /// Every task waiting in a receive (or `close`, which receives): each must
    /// be woken, not only the last one to poll.
    pub(crate) recv_wakers: Vec<Waker>,
    pub(crate) send_wakers: Vec<Waker>,
    driver_waker: Option<Waker>,
    /// Reading stopped because the receive buffer is full.
    read_stalled: bool,
    /// A `receive` is registered with the transport for readability; the
    /// driver leaves reading to it.
    app_reading: bool,
    /// The driver's last write was refused: it is registered for writability.
    write_blocked: bool,
    /// The next send may write at once (see the module docs).
    write_now: bool,
    /// The driver has ended and dropped the transport.
    pub(crate) finished: bool,
    /// When our Close was sent (for the close timeout).
    close_sent_at: Option<Instant>,
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// User-facing handles (`WebSocket`s) of the connection; the last one
    /// to go aborts it.
    pub(crate) handles: AtomicUsize,
    pub(crate) config: DriverConfig,
    /// Time zero of the session's clock.
    epoch: Instant,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the session half-updated in a
        // way that matters more than the panic itself; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session's clock now.
    fn now_ms(&self) -> u64 {
        millis(self.epoch, Instant::now())
    }
}

/// Starts the driver task for `session` over `stream`; `early` is what was
/// read past the handshake and did not fit the receive buffer yet.
pub(crate) fn spawn<S: Transport>(
    stream: S,
    session: Session,
    early: Vec<u8>,
    config: DriverConfig,
) -> Arc<Shared> {
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            session,
            io: Some(Box::new(stream)),
            needs_flush: false,
            eof: false,
            early,
            recv_wakers: Vec::new(),
            send_wakers: Vec::new(),
            driver_waker: None,
            read_stalled: false,
            app_reading: false,
            write_blocked: false,
            write_now: true,
            finished: false,
            close_sent_at: None,
        }),
        handles: AtomicUsize::new(1),
        config,
        epoch: Instant::now(),
    });
    tokio::spawn(Driver {
        shared: shared.clone(),
        shutdown_sent: false,
        timer: None,
    });
    shared
}

impl Inner {
    pub(crate) fn wake_app(&mut self) {
        for w in self.recv_wakers.drain(..) {
            w.wake();
        }
        for w in self.send_wakers.drain(..) {
            w.wake();
        }
    }

    pub(crate) fn wake_driver(&mut self) {
        if let Some(w) = self.driver_waker.take() {
            w.wake();
        }
    }

    pub(crate) fn note_close_sent(&mut self) {
        if self.close_sent_at.is_none() {
            self.close_sent_at = Some(Instant::now());
        }
    }

    /// Reads from the transport into the session until it has nothing more
    /// (`Pending`: `cx` is registered), the receive buffer is full, or it ends.
    /// With `for_receive`, it stops as soon as there is something to
    /// receive: the receiving task returns with it and hands reading back.
    fn read_transport(
        &mut self,
        io: &mut dyn Transport,
        cx: &mut Context<'_>,
        for_receive: bool,
    ) -> ReadPass {
        let mut pass = ReadPass::default();
        if !self.early.is_empty() {
            let n = self.session.feed(&self.early);
            self.early.drain(..n);
            pass.any = n > 0;
            if !self.early.is_empty() {
                // The receive buffer is full: a receive must wake us to feed the rest.
                self.read_stalled = true;
            }
        }
        while !self.eof && self.early.is_empty() {
            let receiving = self.session.is_receiving();
            // Until the first bytes arrive the session has no receive
            // buffer: read into scratch space and feed it, so a connection
            // that never receives anything never allocates one.
            let direct = receiving && self.session.has_receive_buffer();
            // Zeroed only on this rare path (first bytes, or reads after a Close).
            let mut scratch: Option<[u8; SCRATCH]> = None;
            let (polled, n) = if direct {
                let buf = self.session.read_buf();
                if buf.is_empty() {
                    self.read_stalled = true;
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
                    pass.any = true;
                    if n == 0 {
                        self.eof = true;
                        self.session.feed_eof();
                    } else if direct {
                        self.session.commit_read(n);
                    } else if let (true, Some(data)) = (receiving, scratch.as_ref()) {
                        let taken = self.session.feed(&data[..n]);
                        if taken < n {
                            self.early.extend_from_slice(&data[taken..n]);
                            self.read_stalled = true;
                        }
                    }
                }
                Poll::Ready(Err(e)) => {
                    pass.any = true;
                    self.eof = true;
                    self.session.abort_with(transport_failure(e));
                }
                Poll::Pending => {
                    pass.registered = true;
                    break;
                }
            }
            if for_receive && self.session.has_received() {
                break;
            }
        }
        pass
    }

    /// A `receive` that found nothing buffered reads the transport itself
    /// with its own waker; the bulk of a large payload goes straight into
    /// `out`. Reading is not its to do while the driver has input of its own
    /// to process (a handshake leftover, a full buffer, the end).
    pub(crate) fn read_for_receive(
        &mut self,
        shared: &Shared,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> AppRead {
        if self.reading_is_drivers() {
            return AppRead::Wait;
        }
        let Some(mut io) = self.io.take() else {
            return AppRead::Wait;
        };
        let direct = self.session.direct_payload_len().min(out.len());
        let read = if direct >= DIRECT_READ_MIN {
            self.read_payload(&mut *io, cx, &mut out[..direct])
        } else {
            if self.session.poll_timeout().is_some() {
                // Keep-alive notes when the peer was last heard.
                self.session.set_now(shared.now_ms());
            }
            let pass = self.read_transport(&mut *io, cx, true);
            // Registered now, or a registration of ours was used up by the
            // wake-up that brought this data: either way reading goes back
            // to the driver when this receive ends.
            self.app_reading = true;
            if pass.any {
                self.after_app_read();
            } else if !pass.registered {
                // The buffer is full: the driver takes it from here.
                self.app_reading = false;
                self.wake_driver();
            }
            if pass.any {
                AppRead::Again
            } else {
                AppRead::Wait
            }
        };
        self.io = Some(io);
        read
    }

    /// Reads payload bytes straight into `out` (see `Session::direct_payload_len`).
    fn read_payload(&mut self, io: &mut dyn Transport, cx: &mut Context<'_>, out: &mut [u8]) -> AppRead {
        let mut rb = ReadBuf::new(out);
        match Pin::new(&mut *io).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                let n = rb.filled().len();
                let got = self.session.receive_read(&mut out[..n]);
                if got.is_err() {
                    // The failure's Close is the driver's to write.
                    self.wake_driver();
                }
                AppRead::Received(got)
            }
            Poll::Ready(Ok(())) => {
                self.eof = true;
                self.session.feed_eof();
                self.wake_driver();
                AppRead::Again
            }
            Poll::Ready(Err(e)) => {
                self.eof = true;
                self.session.abort_with(transport_failure(e));
                self.wake_driver();
                AppRead::Again
            }
            Poll::Pending => {
                self.app_reading = true;
                AppRead::Wait
            }
        }
    }

    /// Input only the driver processes is pending (a handshake leftover, a
    /// full buffer, the end, draining after a Close): no receive reads then.
    fn reading_is_drivers(&self) -> bool {
        self.eof || self.read_stalled || !self.early.is_empty() || !self.session.is_receiving()
    }

    pub(crate) fn is_app_reading(&self) -> bool {
        self.app_reading
    }

    /// The application took everything received and wants more: what it
    /// sends next is probably a reply to what arrives, and should go out at once.
    pub(crate) fn needs_input(&mut self) {
        self.write_now = true;
    }

    /// Reading goes back to the driver when a waiting `receive` completes or
    /// is dropped. The driver's waker is registered with the transport here
    /// (by reading with it) when the driver is idle; a driver that is
    /// scheduled registers itself when it runs.
    pub(crate) fn end_app_read(&mut self) {
        if !self.app_reading {
            return;
        }
        self.app_reading = false;
        let Some(waker) = self.driver_waker.clone() else {
            return;
        };
        if self.reading_is_drivers() {
            // Whatever reading is left (EOF, draining after a Close) is the driver's.
            self.wake_driver();
            return;
        }
        let Some(mut io) = self.io.take() else {
            return;
        };
        let pass = self.read_transport(&mut *io, &mut Context::from_waker(&waker), false);
        self.io = Some(io);
        if pass.any {
            self.after_app_read();
        }
        if !pass.registered {
            self.wake_driver();
        }
    }

    /// After reading from an application task: wake other receivers, and
    /// the driver for what only it does (writing a PONG or Close answer,
    /// ending the transport, feeding a full buffer's leftovers).
    fn after_app_read(&mut self) {
        self.wake_app();
        if !self.session.pending_output().is_empty()
            || self.eof
            || self.read_stalled
            || self.session.failure().is_some()
        {
            self.wake_driver();
        }
    }

    /// A receive took data: reading may resume.
    pub(crate) fn after_receive(&mut self) {
        if self.read_stalled {
            self.read_stalled = false;
            self.wake_driver();
        }
        self.end_app_read();
    }

    /// True when a sender may write to the transport itself now: the driver
    /// is neither blocked on the transport nor waiting to flush, and either
    /// the payload is large (copying it into the queue would cost more than a
    /// system call of its own) or the application asked for input (or
    /// the driver drained the queue) since the last such write and no
    /// received data is waiting to be taken (its replies would follow at once
    /// and are better written together).
    fn may_write_now(&self, io: &dyn Transport, payload_len: usize) -> bool {
        !self.write_blocked
            && !self.needs_flush
            && (payload_len >= direct_min(io) || (self.write_now && !self.session.has_received()))
    }

    /// Sends `payload_len` bytes through the session with `send`: written at
    /// once from the caller's buffer when [`may_write_now`](Self::may_write_now),
    /// else queued for the driver. `send` gets the session, the smallest
    /// payload to write straight from the caller's buffer, and the writer.
    pub(crate) fn send(
        &mut self,
        max: usize,
        payload_len: usize,
        send: impl FnOnce(
            &mut Session,
            usize,
            &mut dyn FnMut(&[u8], &[u8]) -> usize,
        ) -> Result<(), sockweave_core::Error>,
    ) -> Result<(), sockweave_core::Error> {
        let now = self
            .io
            .as_deref()
            .is_some_and(|io| self.may_write_now(io, payload_len));
        let Some(mut io) = (if now { self.io.take() } else { None }) else {
            send(&mut self.session, usize::MAX, &mut |_, _| 0)?;
            self.wake_driver();
            return Ok(());
        };
        let mut outcome = Direct::default();
        let r = send(&mut self.session, direct_min(&*io), &mut |head, payload| {
            write_direct(&mut io, head, payload, max, &mut outcome)
        });
        self.end_direct(&mut io, outcome);
        self.io = Some(io);
        r
    }

    /// After a direct write: flush, record a failure, and wake the driver for
    /// whatever is left. The write polled the transport with a no-op waker,
    /// so a `Pending` may have replaced the driver's write waker: the driver
    /// must poll again to register its own.
    fn end_direct(&mut self, io: &mut Box<dyn Transport>, mut outcome: Direct) {
        if !outcome.wrote {
            // Refused before anything was written (an invalid message): the
            // permission to write at once is still unused.
            if outcome.error.is_none() && !outcome.blocked && self.session.pending_output().is_empty() {
                return;
            }
        }
        self.write_now = false;
        if outcome.wrote {
            self.needs_flush = true;
        }
        if outcome.error.is_none()
            && !outcome.blocked
            && self.session.pending_output().is_empty()
            && self.needs_flush
        {
            match Pin::new(&mut **io).poll_flush(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => outcome.error = Some(e),
                Poll::Pending => outcome.blocked = true,
            }
        }
        if let Some(e) = outcome.error {
            self.needs_flush = false;
            self.session.abort_with(transport_failure(e));
            self.wake_driver();
        } else if outcome.blocked || !self.session.pending_output().is_empty() {
            self.wake_driver();
        }
    }
}

/// The smallest payload worth writing straight from the caller's buffer.
fn direct_min(io: &dyn Transport) -> usize {
    if io.is_write_vectored() {
        DIRECT_PAYLOAD_MIN
    } else {
        DIRECT_PAYLOAD_MIN_UNVECTORED
    }
}

/// What a receive's own read came to.
pub(crate) enum AppRead {
    /// Input arrived (or the transport ended): look at the session again.
    Again,
    /// Payload went straight into the receive's buffer.
    Received(Result<sockweave_core::session::ReceiveResult, sockweave_core::Error>),
    /// Nothing yet: the receive is registered with the transport, or the
    /// driver has the reading to do.
    Wait,
}

/// What one pass of reading did.
#[derive(Default)]
struct ReadPass {
    /// Bytes were read, or the transport ended or failed.
    any: bool,
    /// The transport had nothing more: the polling waker is registered.
    registered: bool,
}

/// What a direct write ran into.
#[derive(Default)]
struct Direct {
    wrote: bool,
    /// The transport took no more (`Pending`).
    blocked: bool,
    error: Option<io::Error>,
}

/// Writes `head` then `payload`, at most `max` bytes, until done or the
/// transport stops taking bytes; returns how many were written. Polls with a
/// no-op waker: the caller wakes the driver when `outcome.blocked` is set.
///
/// `max` is `max_pending_output`: a message larger than that is handed to the
/// driver for the rest, and its `send` waits for the backlog to drain as
/// before, instead of one call writing without bound while holding the lock.
fn write_direct(
    io: &mut Box<dyn Transport>,
    head: &[u8],
    payload: &[u8],
    max: usize,
    outcome: &mut Direct,
) -> usize {
    let mut cx = Context::from_waker(Waker::noop());
    let head = &head[..head.len().min(max)];
    let payload = &payload[..payload.len().min(max - head.len())];
    let total = head.len() + payload.len();
    let mut n = 0;
    while n < total {
        let polled = if n < head.len() && !payload.is_empty() {
            let bufs = [io::IoSlice::new(&head[n..]), io::IoSlice::new(payload)];
            Pin::new(&mut **io).poll_write_vectored(&mut cx, &bufs)
        } else if n < head.len() {
            Pin::new(&mut **io).poll_write(&mut cx, &head[n..])
        } else {
            Pin::new(&mut **io).poll_write(&mut cx, &payload[n - head.len()..])
        };
        match polled {
            Poll::Ready(Ok(0)) => {
                outcome.error = Some(io::ErrorKind::WriteZero.into());
                break;
            }
            Poll::Ready(Ok(k)) => {
                n += k;
                outcome.wrote = true;
            }
            Poll::Ready(Err(e)) => {
                outcome.error = Some(e);
                break;
            }
            Poll::Pending => {
                outcome.blocked = true;
                break;
            }
        }
    }
    n.min(total)
}

/// The task that keeps the connection moving when no application task does.
struct Driver {
    shared: Arc<Shared>,
    /// Our side of the transport was ended (after the close handshake).
    shutdown_sent: bool,
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

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let shared = this.shared.clone();
        let mut guard = shared.lock();
        // The transport is taken out while the driver runs (the lock is held
        // throughout, so no other task sees it missing) and put back unless done.
        let Some(mut io) = guard.io.take() else {
            return Poll::Ready(());
        };
        let polled = this.run(cx, &mut guard, &mut io);
        if polled.is_pending() {
            guard.io = Some(io);
        } else {
            // Released before anyone woken by `finish` can look.
            drop(io);
        }
        polled
    }
}

impl Driver {
    /// Ends the driver; `poll` drops the transport before unlocking.
    fn finish(&mut self, inner: &mut Inner) -> Poll<()> {
        inner.finished = true;
        inner.app_reading = false;
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

    fn run(&mut self, cx: &mut Context<'_>, inner: &mut Inner, io: &mut Box<dyn Transport>) -> Poll<()> {
        let this = self;
        // One clock reading per wake-up: the loop below runs again only when
        // reading produced output to write (a PONG, a Close) or a timer fired.
        let mut now = Instant::now();
        loop {
            let mut progress = false;
            let mut write_blocked = false;

            // Write what the session has queued.
            while !inner.session.pending_output().is_empty() {
                match Pin::new(&mut **io).poll_write(cx, inner.session.pending_output()) {
                    Poll::Ready(Ok(0)) => {
                        inner
                            .session
                            .abort_with(transport_failure(io::ErrorKind::WriteZero.into()));
                        break;
                    }
                    Poll::Ready(Ok(n)) => {
                        inner.session.consume_output(n);
                        inner.needs_flush = true;
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
            inner.write_blocked = write_blocked;
            if inner.needs_flush && inner.session.pending_output().is_empty() {
                match Pin::new(&mut **io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => inner.needs_flush = false,
                    Poll::Ready(Err(e)) => {
                        inner.needs_flush = false;
                        inner.session.abort_with(transport_failure(e));
                    }
                    Poll::Pending => {}
                }
            }
            if progress {
                // The backlog is out: the next send needn't wait for us.
                inner.write_now |= inner.session.pending_output().is_empty();
                for w in inner.send_wakers.drain(..) {
                    w.wake();
                }
            }

            // Read while there is room, so control frames are never left
            // unread, unless a waiting receive is registered to read. After a
            // Close or a failure, keep reading (and dropping) only to see EOF.
            let now_ms = millis(this.shared.epoch, now);
            inner.session.set_now(now_ms);
            let read_any = !inner.app_reading && inner.read_transport(&mut **io, cx, false).any;
            if read_any {
                inner.wake_app();
            }

            let state = inner.session.state();
            let flushed = inner.session.pending_output().is_empty() && !inner.needs_flush;
            if flushed {
                // The server ends its side first, a client after it (RFC 6455 7.1.1).
                let server = inner.session.role() == Role::Server;
                if state == State::Closed && (server || inner.eof) && !this.shutdown_sent {
                    this.shutdown_sent = true;
                    let _ = Pin::new(&mut **io).poll_shutdown(cx);
                }
                let done = match state {
                    // Failed or aborted: whatever Close was owed has been written.
                    State::Aborted => true,
                    // A client waits for the server to end first (below).
                    // Over HTTP/2 the server, too, waits for the client's END_STREAM:
                    // dropping the stream earlier would reset it.
                    State::Closed => (server && !this.shared.config.await_peer_end) || inner.eof,
                    // The peer hung up before the close handshake ended.
                    _ => inner.eof,
                };
                if done {
                    if state == State::Aborted || !this.shutdown_sent {
                        let _ = Pin::new(&mut **io).poll_shutdown(cx);
                    }
                    return this.finish(inner);
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
                .map(|ms| this.shared.epoch + Duration::from_millis(ms));
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
                        let _ = Pin::new(&mut **io).poll_shutdown(cx);
                        return this.finish(inner);
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
            let more_early = read_any && !inner.early.is_empty() && !inner.read_stalled;
            if more_output || more_early {
                continue;
            }
            inner.driver_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
    }
}

/// Registers `w` unless it would wake a task already registered (a task
/// polled again must not grow the list).
pub(crate) fn add_waker(list: &mut Vec<Waker>, w: &Waker) {
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
