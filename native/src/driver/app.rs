//! The application's own I/O: a `receive` that reads the transport itself
//! (large payloads straight into its buffer), and a `send` that writes at
//! once when that is best (see the module docs of `driver`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use sockweave_core::session::{ReceiveResult, Session, TransportAction};
use tokio::io::ReadBuf;

use super::{transport_failed, Connection, Inner};
use crate::transport::Transport;

/// Payload reads at least this long go straight into the caller's buffer.
const DIRECT_READ_MIN: usize = 16 * 1024;

/// Payloads at least this long are written from the caller's buffer (with the
/// frame header, in one vectored write) instead of being copied into the
/// output queue first.
const DIRECT_PAYLOAD_MIN: usize = 4096;
/// The same for a transport without vectored writes, where the header goes
/// out in a write of its own.
const DIRECT_PAYLOAD_MIN_UNVECTORED: usize = 64 * 1024;

impl Inner {
    /// A `receive` that found nothing buffered reads the transport itself
    /// with its own waker; the bulk of a large payload goes straight into
    /// `out`. Reading is not its to do while the driver has input of its own
    /// to process (a handshake leftover, a full buffer, the end).
    pub(crate) fn read_for_receive(
        &mut self,
        shared: &Connection,
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
                self.input_ended = true;
                self.session.feed_eof();
                self.wake_driver();
                AppRead::Again
            }
            Poll::Ready(Err(e)) => {
                self.input_ended = true;
                transport_failed(&mut self.session, &e);
                self.wake_driver();
                AppRead::Again
            }
            Poll::Pending => {
                self.app_reading = true;
                AppRead::Wait
            }
        }
    }

    pub(crate) fn is_app_reading(&self) -> bool {
        self.app_reading
    }

    /// The application took everything received and wants more: what it
    /// sends next is probably a reply to what arrives, and should go out at once.
    pub(crate) fn app_wants_more(&mut self) {
        self.reply_now = true;
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
            || self.input_ended
            || self.read_stalled
            || self.session.transport_action() != TransportAction::Continue
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
            && (payload_len >= direct_min(io) || (self.reply_now && !self.session.delivery_ready()))
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
        self.reply_now = false;
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
            transport_failed(&mut self.session, &e);
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
    Received(Result<ReceiveResult, sockweave_core::Error>),
    /// Nothing yet: the receive is registered with the transport, or the
    /// driver has the reading to do.
    Wait,
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
