//! Who does a connection's I/O: a connection's shared state, and the tasks
//! that move its bytes. Every protocol rule and deadline is the session's
//! (`sockweave_core::session`): this module moves bytes, arms one timer at
//! `poll_timeout()` and does what `transport_action()` says.
//!
//! The transport lives in [`Inner`], behind the connection's lock, and is
//! used by whichever task can make progress with it:
//! - a `receive` that finds nothing buffered reads the transport itself and
//!   stays registered for readability while it waits (`app.rs`);
//! - a `send` made after the application took everything received and
//!   asked for more (or after the driver drained the queue), with no further
//!   received data waiting, writes its frames and everything queued before
//!   them itself, and so does a send of a large payload (`app.rs`);
//! - the driver task does the rest (`task.rs`): it reads whenever no
//!   `receive` is registered, so PINGs are answered, PONGs are seen and Close
//!   frames are processed while the application is busy (this removes .NET's
//!   "keep a receive pending" rule); it writes backlogs, runs the timer and
//!   ends the transport.
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

mod app;
mod read;
mod task;

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use sockweave_core::session::Session;
use tokio::time::Instant;

use crate::transport::Transport;

pub(crate) use app::AppRead;

/// A connection's state, shared by its handles and its driver task.
pub(crate) struct Inner {
    pub(crate) session: Session,
    /// The transport; `None` once the driver has ended (and while a task
    /// holding the lock is using it).
    io: Option<Box<dyn Transport>>,
    /// Bytes were written since the last completed flush.
    needs_flush: bool,
    /// The transport's input ended (or failed while reading).
    input_ended: bool,
    /// Bytes read that did not fit the receive buffer yet (with the
    /// handshake, or by a read into scratch space).
    unfed: Vec<u8>,
    /// Every task waiting in a receive or a `close`: each must be woken, not
    /// only the last one to poll.
    pub(crate) recv_wakers: Vec<Waker>,
    /// Tasks waiting to send (for room, or for another sender's message to end).
    pub(crate) send_wakers: Vec<Waker>,
    driver_waker: Option<Waker>,
    /// Reading stopped because the session takes no more input for now.
    read_stalled: bool,
    /// A `receive` is registered with the transport for readability; the
    /// driver leaves reading to it.
    app_reading: bool,
    /// The driver's last write was refused: it is registered for writability.
    write_blocked: bool,
    /// The next send may write at once (see the module docs).
    reply_now: bool,
    /// The driver has ended and released the transport.
    pub(crate) finished: bool,
}

/// One connection as its `WebSocket` handles and its driver task share it:
/// the session and the transport under one lock.
pub(crate) struct Connection {
    inner: Mutex<Inner>,
    /// User-facing handles (`WebSocket`s) of the connection; when the last
    /// one goes, the session is released.
    pub(crate) handles: AtomicUsize,
    /// Bytes of frames queued before `send` waits (the session's limit).
    pub(crate) max_pending_output: usize,
    /// Time zero of the session's clock.
    epoch: Instant,
}

impl Connection {
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

/// The session's clock: milliseconds since `epoch`.
fn millis(epoch: Instant, at: Instant) -> u64 {
    at.saturating_duration_since(epoch).as_millis() as u64
}

/// Starts the driver task for `session` over `stream`; `unfed` is what was
/// read past the handshake and did not fit the receive buffer yet.
pub(crate) fn spawn<S: Transport>(stream: S, session: Session, unfed: Vec<u8>) -> Arc<Connection> {
    let max_pending_output = session.config().max_pending_output;
    let shared = Arc::new(Connection {
        inner: Mutex::new(Inner {
            session,
            io: Some(Box::new(stream)),
            needs_flush: false,
            input_ended: false,
            unfed,
            recv_wakers: Vec::new(),
            send_wakers: Vec::new(),
            driver_waker: None,
            read_stalled: false,
            app_reading: false,
            write_blocked: false,
            reply_now: true,
            finished: false,
        }),
        handles: AtomicUsize::new(1),
        max_pending_output,
        epoch: Instant::now(),
    });
    tokio::spawn(task::Driver::new(shared.clone()));
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

    /// The session's state changed outside the driver (a send, a close, an
    /// abort, a release): the driver writes, rearms its timer and ends the
    /// transport as the session now says.
    pub(crate) fn session_changed(&mut self) {
        self.wake_driver();
    }
}

/// Registers `w` unless it would wake a task already registered (a task
/// polled again must not grow the list).
pub(crate) fn add_waker(list: &mut Vec<Waker>, w: &Waker) {
    if !list.iter().any(|x| x.will_wake(w)) {
        list.push(w.clone());
    }
}

/// Tells the session its transport failed.
fn transport_failed(session: &mut Session, e: &std::io::Error) {
    session.transport_failed(crate::transport::is_reset(e), &e.to_string());
}
