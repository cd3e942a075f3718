//! The driver task: keeps a connection moving when no application task
//! does. One pass writes what the session queued (`drive_transmit`), reads
//! unless a `receive` reads (`drive_recv`), ends the transport as the
//! session says (`drive_end`), and runs the session's timer (`drive_timer`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use sockweave_core::session::TransportAction;
use tokio::time::{Instant, Sleep};

use super::{millis, transport_failed, Connection, Inner};
use crate::transport::Transport;

pub(super) struct Driver {
    shared: Arc<Connection>,
    /// Our write side was shut down.
    shutdown_sent: bool,
    /// Allocated once, reset in place.
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
}

/// What ending the transport came to.
enum End {
    Continue,
    /// The transport is to be released now.
    Release,
}

impl Driver {
    pub(super) fn new(shared: Arc<Connection>) -> Self {
        Driver {
            shared,
            shutdown_sent: false,
            timer: None,
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
    fn run(&mut self, cx: &mut Context<'_>, inner: &mut Inner, io: &mut Box<dyn Transport>) -> Poll<()> {
        // One clock reading per wake-up: the loop runs again only when
        // reading produced output to write (a PONG, a Close) or a timer fired.
        let mut now = Instant::now();
        loop {
            let write_blocked = self.drive_transmit(cx, inner, io);
            let now_ms = millis(self.shared.epoch, now);
            inner.session.set_now(now_ms);
            let read_any = self.drive_recv(cx, inner, io);
            if let End::Release = self.drive_end(cx, inner, io) {
                return finish(inner);
            }
            if self.drive_timer(cx, inner, now) {
                now = Instant::now();
                continue;
            }
            // Reading can queue output (a PONG, our answer to a Close, an
            // error's Close): write it now unless the transport is full.
            let more_output = !inner.session.pending_output().is_empty() && !write_blocked;
            // A leftover that a receive made room for is fed on the next turn.
            let more_unfed = read_any && !inner.unfed.is_empty() && !inner.read_stalled;
            if more_output || more_unfed {
                continue;
            }
            inner.driver_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
    }

    /// Writes what the session has queued, then flushes; returns whether the
    /// transport refused more (the driver is registered for writability).
    fn drive_transmit(
        &mut self,
        cx: &mut Context<'_>,
        inner: &mut Inner,
        io: &mut Box<dyn Transport>,
    ) -> bool {
        let mut progress = false;
        let mut blocked = false;
        while !inner.session.pending_output().is_empty() {
            match Pin::new(&mut **io).poll_write(cx, inner.session.pending_output()) {
                Poll::Ready(Ok(0)) => {
                    transport_failed(&mut inner.session, &io::ErrorKind::WriteZero.into());
                    break;
                }
                Poll::Ready(Ok(n)) => {
                    inner.session.consume_output(n);
                    inner.needs_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) => {
                    transport_failed(&mut inner.session, &e);
                    break;
                }
                Poll::Pending => {
                    // The peer is not reading: a PONG waiting now gives way
                    // to a newer PING's answer.
                    inner.session.output_blocked();
                    blocked = true;
                    break;
                }
            }
        }
        inner.write_blocked = blocked;
        if inner.needs_flush && inner.session.pending_output().is_empty() {
            match Pin::new(&mut **io).poll_flush(cx) {
                Poll::Ready(Ok(())) => inner.needs_flush = false,
                Poll::Ready(Err(e)) => {
                    inner.needs_flush = false;
                    transport_failed(&mut inner.session, &e);
                }
                Poll::Pending => {}
            }
        }
        if progress {
            // The backlog is out: the next send needn't wait for us, and
            // input held back by the backlog may be read again.
            inner.reply_now |= inner.session.pending_output().is_empty();
            inner.read_stalled &= !inner.unfed.is_empty();
            for w in inner.send_wakers.drain(..) {
                w.wake();
            }
        }
        blocked
    }

    /// Reads while the session takes input, so control frames are never left
    /// unread, unless a waiting receive is registered to read. After a Close
    /// or a failure it keeps reading (and dropping) only to see the end.
    fn drive_recv(&mut self, cx: &mut Context<'_>, inner: &mut Inner, io: &mut Box<dyn Transport>) -> bool {
        if inner.app_reading {
            return false;
        }
        let read_any = inner.read_transport(&mut **io, cx, false).any;
        if read_any {
            inner.wake_app();
        }
        read_any
    }

    /// Does what the session says about the transport's end.
    fn drive_end(&mut self, cx: &mut Context<'_>, inner: &mut Inner, io: &mut Box<dyn Transport>) -> End {
        let flushed = !inner.needs_flush;
        match inner.session.transport_action() {
            TransportAction::Continue => End::Continue,
            TransportAction::ShutdownWrite if flushed => {
                self.shutdown(cx, io);
                End::Continue
            }
            TransportAction::ShutdownWrite => End::Continue,
            TransportAction::Close => {
                // Best effort: a transport that cannot finish its shutdown now
                // (a TLS close_notify that does not fit) is released anyway.
                self.shutdown(cx, io);
                End::Release
            }
            TransportAction::Drop => End::Release,
        }
    }

    fn shutdown(&mut self, cx: &mut Context<'_>, io: &mut Box<dyn Transport>) {
        if !self.shutdown_sent && Pin::new(&mut **io).poll_shutdown(cx).is_ready() {
            self.shutdown_sent = true;
        }
    }

    /// Runs the session's deadlines that are due and arms the timer for the
    /// next one; true when one ran (the caller goes round again).
    fn drive_timer(&mut self, cx: &mut Context<'_>, inner: &mut Inner, now: Instant) -> bool {
        let Some(ms) = inner.session.poll_timeout() else {
            return false;
        };
        let now_ms = millis(self.shared.epoch, now);
        if ms <= now_ms {
            inner.session.handle_timeout(now_ms);
            // A PING or PONG to write, or the connection failed.
            inner.wake_app();
            return true;
        }
        let deadline = self.shared.epoch + Duration::from_millis(ms);
        deadline_passed(&mut self.timer, cx, deadline)
    }
}

/// Arms `timer` for `deadline` and reports whether it already passed. The
/// timer is allocated once and reset in place; a deadline that moved later
/// (keep-alive after every message heard) does not touch the timer wheel:
/// the earlier wake-up finds the new deadline and re-arms for it.
fn deadline_passed(
    timer: &mut Option<(Instant, Pin<Box<Sleep>>)>,
    cx: &mut Context<'_>,
    deadline: Instant,
) -> bool {
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

/// Ends the driver; `poll` drops the transport before unlocking.
fn finish(inner: &mut Inner) -> Poll<()> {
    inner.finished = true;
    inner.app_reading = false;
    inner.wake_app();
    Poll::Ready(())
}
