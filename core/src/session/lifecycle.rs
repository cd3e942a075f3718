//! The close rules: a connection's life after the opening handshake.
//!
//! - the close handshake (RFC 6455 sections 5.5.1 and 7), and what the
//!   application sees of it: states follow what `receive`, `send` and
//!   `close` have returned (as in .NET), not what the backend has read;
//! - what the end of the transport's input, or a transport failure, means
//!   in each state (a peer that sends its Close and then half-closes TCP is
//!   owed our Close answer; an end before any Close is premature);
//! - every deadline besides keep-alive: the close timeout (the peer must
//!   answer our Close) and the linger (after the close handshake, or after
//!   failing with a Close, we wait a little for the peer to end the
//!   transport: a client for the server to close TCP first, RFC 6455
//!   section 7.1.1; either role over HTTP/2, where releasing a stream the
//!   peer has not ended resets it);
//! - when the backend shuts down the transport's write side and when it
//!   releases the transport ([`Session::transport_action`]);
//! - the one-at-a-time rules: one receive at a time, and a message sent in
//!   pieces is never continued by another sender (`send.rs` checks the owner).

use alloc::format;
use core::fmt;

use super::{invalid_state, truncate_reason, Role, Session, State};
use crate::close::{CloseCode, CloseFrame};
use crate::error::{Error, ErrorKind};
use crate::frame::OpCode;
use crate::keepalive::{Action, PONG_TIMEOUT_MESSAGE};

/// How long, after the close handshake (or a failure's Close), we wait for
/// the peer to end the transport before releasing it ourselves.
pub const LINGER_MS: u64 = 2000;

/// What the backend does with the transport now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportAction {
    /// Keep reading and writing.
    Continue,
    /// Shut down the write side (TCP FIN, TLS close_notify, HTTP/2
    /// END_STREAM) once, and keep reading to see the peer's end.
    ShutdownWrite,
    /// The connection is over: shut down the write side if not done yet,
    /// then release the transport.
    Close,
    /// The connection is over abruptly: release the transport at once,
    /// whatever is unwritten (a TCP reset, an HTTP/2 RST_STREAM).
    Drop,
}

/// A deadline's starting point: set when an event happens, fixed at the
/// next time the backend gives (the session does not read a clock, and the
/// backend need not give the time with every call).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Anchor {
    #[default]
    Unset,
    /// The event happened; its time is the next `now` the backend gives.
    Pending,
    At(u64),
}

impl Anchor {
    fn start(&mut self) {
        if *self == Anchor::Unset {
            *self = Anchor::Pending;
        }
    }

    fn fix(&mut self, now: u64) {
        if *self == Anchor::Pending {
            *self = Anchor::At(now);
        }
    }

    /// When `after` milliseconds from the anchor have passed (`now` for a
    /// pending anchor: the backend should call `handle_timeout` to fix it).
    fn deadline(self, now: u64, after: u64) -> Option<u64> {
        match self {
            Anchor::Unset => None,
            Anchor::Pending => Some(now),
            Anchor::At(t) => Some(t.saturating_add(after)),
        }
    }
}

/// The connection's life, as the close rules track it.
pub(super) struct Lifecycle {
    /// What the application has seen.
    pub(super) state: State,
    /// The peer's Close, once read from the transport.
    pub(super) close_received: Option<CloseFrame>,
    /// Our Close is queued (by the application, or by a failure).
    pub(super) close_sent: bool,
    /// The application has seen the peer's Close (a receive returned it,
    /// or `close` completed).
    pub(super) close_seen: bool,
    /// The connection failed; reported to the application after the data
    /// received before the failure.
    pub(super) failure: Option<Error>,
    /// The application aborted: every later call fails.
    pub(super) aborted: bool,
    /// Release the transport at once (abort, transport failure, timeout).
    hard_end: bool,
    /// The transport's input ended (end of file, END_STREAM).
    pub(super) peer_ended: bool,
    /// A receive is pending (one at a time).
    receiving: bool,
    close_sent_at: Anchor,
    /// A graceful end began (close handshake done, or failed with a Close).
    closing_since: Anchor,
    linger_over: bool,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            state: State::Open,
            close_received: None,
            close_sent: false,
            close_seen: false,
            failure: None,
            aborted: false,
            hard_end: false,
            peer_ended: false,
            receiving: false,
            close_sent_at: Anchor::Unset,
            closing_since: Anchor::Unset,
            linger_over: false,
        }
    }
}

impl Lifecycle {
    /// Both Close frames were exchanged on the wire.
    fn handshake_done(&self) -> bool {
        self.close_sent && self.close_received.is_some()
    }

    /// Messages may still flow both ways on the wire (keep-alive runs).
    fn wire_open(&self) -> bool {
        !self.close_sent
            && self.close_received.is_none()
            && self.failure.is_none()
            && !self.peer_ended
            && !self.hard_end
    }

    /// We sent our Close and wait for the peer's (the close timeout runs).
    fn awaiting_close(&self) -> bool {
        self.close_sent && self.close_received.is_none() && self.failure.is_none() && !self.hard_end
    }

    /// The connection is ending gracefully: only the transport's end is left.
    fn ending(&self) -> bool {
        !self.hard_end && (self.handshake_done() || self.failure.is_some())
    }
}

impl Session {
    /// Tells the session the time (milliseconds since it was created, never
    /// going back). Input processed afterwards counts as heard at this time;
    /// [`handle_timeout`](Self::handle_timeout) does it too.
    #[inline]
    pub fn set_now(&mut self, now: u64) {
        self.now = self.now.max(now);
        let l = &mut self.life;
        l.close_sent_at.fix(self.now);
        l.closing_since.fix(self.now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called
    /// (same clock as [`set_now`](Self::set_now)); `None` if no timer is
    /// needed. A deadline at or before the time last given means "now".
    #[inline]
    pub fn poll_timeout(&self) -> Option<u64> {
        let l = &self.life;
        let mut next: Option<u64> = None;
        let mut at = |d: Option<u64>| {
            if let Some(d) = d {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        };
        if l.wire_open() {
            at(self.keepalive.deadline());
        }
        if l.awaiting_close() {
            if let Some(limit) = self.config.close_timeout {
                at(l.close_sent_at.deadline(self.now, limit));
            }
        }
        if l.ending() && !l.linger_over && !l.peer_ended {
            at(l.closing_since.deadline(self.now, LINGER_MS));
        }
        next
    }

    /// Runs the deadlines due at `now`: keep-alive may queue a PING or PONG
    /// or abort the connection (no PONG in time); a peer that did not answer
    /// our Close in time fails the connection; the wait for the peer to end
    /// the transport ends.
    pub fn handle_timeout(&mut self, now: u64) {
        self.set_now(now);
        let now = self.now;
        if self.life.awaiting_close() {
            if let Some(limit) = self.config.close_timeout {
                if self
                    .life
                    .close_sent_at
                    .deadline(now, limit)
                    .is_some_and(|d| d <= now)
                {
                    let msg = if self.recv.is_stalled() {
                        format!(
                            "the peer's Close could not be read within {} s: the receive buffer is full of \
                             messages the application has not received (receive them, or raise receiveBufferSize)",
                            Secs(limit)
                        )
                    } else {
                        format!(
                            "the peer did not answer our Close within {} s (closeTimeout); the connection was aborted",
                            Secs(limit)
                        )
                    };
                    self.fail_hard(Error::new(ErrorKind::Faulted, msg));
                    return;
                }
            }
        }
        let l = &self.life;
        if l.ending() && !l.linger_over && l.closing_since.deadline(now, LINGER_MS).is_some_and(|d| d <= now)
        {
            self.life.linger_over = true;
        }
        if !self.life.wire_open() {
            return;
        }
        if self.recv.is_stalled() {
            self.keepalive.on_stalled(now);
        }
        match self.keepalive.poll(now) {
            Action::None => {}
            Action::SendPong => self
                .send
                .write_control(&mut self.rng, self.config.role, OpCode::Pong, &[]),
            Action::SendPing(token) => self.send.write_control(
                &mut self.rng,
                self.config.role,
                OpCode::Ping,
                &token.to_be_bytes(),
            ),
            Action::Abort => self.fail_hard(Error::new(ErrorKind::Faulted, PONG_TIMEOUT_MESSAGE)),
        }
    }

    /// What the backend does with the transport now: keep going, shut down
    /// its write side, or release it (gracefully or at once). Ask after every
    /// step (input, output, a timer, an application call).
    ///
    /// The rules: after the close handshake the server shuts down its write
    /// side as soon as its Close is written and a client waits for the
    /// server's end first (RFC 6455 section 7.1.1); after failing with a
    /// Close, the failing side shuts down once the Close is written. Either
    /// way the transport is released when the peer has ended its side too,
    /// or [`LINGER_MS`] later. A peer that sent its Close and then ended its
    /// side is still owed our Close answer: the transport stays until it is
    /// written. An abort, a transport failure, a close or keep-alive timeout
    /// release it at once.
    #[inline]
    pub fn transport_action(&self) -> TransportAction {
        let l = &self.life;
        if l.hard_end {
            return TransportAction::Drop;
        }
        if !l.ending() {
            return TransportAction::Continue;
        }
        let written = self.pending_output().is_empty();
        if l.linger_over {
            return if written {
                TransportAction::Close
            } else {
                TransportAction::Drop
            };
        }
        if !written {
            TransportAction::Continue
        } else if l.peer_ended {
            TransportAction::Close
        } else if self.config.role == Role::Server || l.failure.is_some() {
            TransportAction::ShutdownWrite
        } else {
            TransportAction::Continue
        }
    }

    /// The transport's input ended (end of file, HTTP/2 END_STREAM). Feed
    /// everything read before it first. Before the peer's Close this fails
    /// the connection (reported after the data received before it); after
    /// it, the peer still gets our Close answer.
    pub fn feed_eof(&mut self) {
        self.recv.end();
        let l = &mut self.life;
        l.peer_ended = true;
        if l.close_received.is_none() && l.failure.is_none() && !l.hard_end {
            l.failure = Some(Error::new(
                ErrorKind::ConnectionClosedPrematurely,
                "the remote party closed the WebSocket connection without completing the close handshake",
            ));
        }
    }

    /// The transport failed (`reset`: the peer reset or closed it, else any
    /// other I/O error; `detail` says what the backend saw). After the close
    /// handshake this is only the end; before it, the connection fails
    /// (reported after the data received before it). Either way the
    /// transport is released at once.
    pub fn transport_failed(&mut self, reset: bool, detail: &str) {
        if !self.life.handshake_done() && self.life.failure.is_none() {
            self.life.failure = Some(if reset {
                Error::new(
                    ErrorKind::ConnectionClosedPrematurely,
                    format!("the connection was closed before the close handshake completed ({detail})"),
                )
            } else {
                Error::new(ErrorKind::Faulted, format!("transport error: {detail}"))
            });
        }
        self.life.peer_ended = true;
        self.recv.end();
        self.recv.stop();
        self.send.discard();
        self.life.hard_end = true;
    }

    /// Aborts (.NET's `Abort`): nothing more is sent, received or
    /// delivered; every later call fails; the transport is released at once.
    pub fn abort(&mut self) {
        let l = &mut self.life;
        if l.aborted {
            return;
        }
        l.aborted = true;
        l.hard_end = true;
        l.failure = Some(invalid_state("the WebSocket was aborted"));
        if l.state != State::Closed {
            l.state = State::Aborted;
        }
        self.recv.stop();
        self.recv.discard_all();
        self.send.discard();
    }

    /// The application is gone (its last handle was dropped). Whatever was
    /// received and not taken is dropped. An open connection is aborted; a
    /// Close received and not answered is answered (with the peer's status);
    /// a close in progress goes on until its end.
    pub fn release(&mut self) {
        self.recv.discard_all();
        let l = &self.life;
        if l.hard_end || l.failure.is_some() || l.close_sent {
            return;
        }
        if l.close_received.is_some() {
            let _ = self.answer_close();
        } else {
            self.abort();
        }
    }

    /// Both Close frames were exchanged on the wire (what a `close` event's
    /// `wasClean` reports, whether or not the application has received the
    /// peer's Close yet).
    pub fn close_handshake_done(&self) -> bool {
        self.life.handshake_done()
    }

    /// The peer's Close as read from the wire (for a `close` event), whether
    /// or not the application has received it yet; see
    /// [`close_status`](Self::close_status) for what the application has seen.
    pub fn peer_close(&self) -> Option<(CloseCode, &str)> {
        self.life
            .close_received
            .as_ref()
            .map(|c| (c.code.unwrap_or(CloseCode::NO_STATUS), c.reason.as_str()))
    }

    /// True when nothing received waits to be delivered (no message data, no Close).
    pub fn is_drained(&self) -> bool {
        !self.recv.has_deliveries()
    }

    /// Frees the buffers and compression state of a connection that is over
    /// (the transport was released) once the application got its last
    /// result; the session keeps answering with its final state, status and
    /// errors. For backends whose sessions outlive their connection (in
    /// JavaScript, until garbage collection).
    pub fn retire(&mut self) {
        self.recv.retire();
        self.send.retire();
    }

    /// Answers the peer's Close with its own status (1000 when it carried
    /// none), as RFC 6455 section 5.5.1 suggests: [`close`](Self::close)
    /// with the echoed code. Does nothing if our Close was already sent.
    pub fn answer_close(&mut self) -> Result<(), Error> {
        let Some(frame) = &self.life.close_received else {
            return Err(invalid_state("no Close was received to answer"));
        };
        if self.life.close_sent {
            return Ok(());
        }
        let code = frame
            .code
            .filter(|c| c.is_valid_on_wire())
            .unwrap_or(CloseCode::NORMAL);
        self.close(Some(code), "")
    }

    /// Where `close` waits (.NET's `CloseAsync` after `CloseOutputAsync`):
    /// `Some(Ok)` once the peer's Close has been read (the state becomes
    /// `Closed`), `Some(Err)` if the connection failed, `None` while waiting.
    /// Nothing is taken from the receive queue: messages that arrived before
    /// the peer's Close, and the Close itself, are still returned by `receive`.
    pub fn poll_close(&mut self) -> Option<Result<(), Error>> {
        if self.life.aborted {
            return Some(Err(self.report_failure()));
        }
        if self.life.handshake_done() {
            self.life.close_seen = true;
            self.life.state = State::Closed;
            return Some(Ok(()));
        }
        if self.life.failure.is_some() {
            return Some(Err(self.report_failure()));
        }
        if !self.life.close_sent {
            return Some(Err(invalid_state(
                "close() waits for the peer's Close only after sending ours",
            )));
        }
        None
    }

    /// Starts a receive. One receive at a time, as .NET: a second one
    /// while another is pending is refused.
    #[inline]
    pub fn begin_receive(&mut self) -> Result<(), Error> {
        if self.life.receiving {
            return Err(invalid_state(
                "another receive is already pending on this WebSocket; only one receive may be \
                 outstanding at a time (wait for it, or receive from one task)",
            ));
        }
        self.life.receiving = true;
        Ok(())
    }

    /// The receive begun with [`begin_receive`](Self::begin_receive) completed or was dropped.
    #[inline]
    pub fn end_receive(&mut self) {
        self.life.receiving = false;
    }

    /// True when [`receive`](Self::receive) has something to return without
    /// more input: message data, a Close, or an error.
    #[inline]
    pub fn delivery_ready(&self) -> bool {
        let l = &self.life;
        l.aborted || l.close_seen || l.failure.is_some() || self.recv.has_deliveries()
    }

    /// Reports the failure to the application: the state becomes `Aborted`
    /// (unless the close handshake already completed for it).
    pub(super) fn report_failure(&mut self) -> Error {
        let l = &mut self.life;
        if l.state != State::Closed {
            l.state = State::Aborted;
        }
        l.failure
            .clone()
            .unwrap_or_else(|| invalid_state("the WebSocket was aborted"))
    }

    /// The peer's Close was delivered to the application.
    pub(super) fn on_close_delivered(&mut self) {
        let l = &mut self.life;
        l.close_seen = true;
        l.state = match l.state {
            State::Open => State::CloseReceived,
            State::CloseSent => State::Closed,
            s => s,
        };
    }

    /// The peer's Close was read: nothing may follow it (RFC 6455 section
    /// 5.5.1), so input stops; it reaches the application after the data
    /// before it.
    pub(super) fn on_close_read(&mut self, frame: CloseFrame) {
        self.life.close_received = Some(frame);
        if self.life.close_sent {
            self.life.closing_since.start();
        }
    }

    /// Our Close was queued.
    pub(super) fn on_close_queued(&mut self) {
        let l = &mut self.life;
        l.close_sent = true;
        if l.close_received.is_some() {
            l.closing_since.start();
        } else {
            l.close_sent_at.start();
        }
    }

    /// The peer's Close, once the application has seen it.
    pub(super) fn seen_close(&self) -> Option<&CloseFrame> {
        self.life.close_received.as_ref().filter(|_| self.life.close_seen)
    }

    /// Whether sending is possible; reports a failure if not.
    #[inline]
    pub(super) fn check_can_send(&mut self) -> Result<(), Error> {
        if self.life.aborted || self.life.failure.is_some() {
            return Err(self.report_failure());
        }
        if self.life.close_sent {
            return Err(invalid_state(format!(
                "cannot send in state {:?}: a Close was already sent",
                self.life.state
            )));
        }
        Ok(())
    }

    /// The application's close: the state it sees next.
    pub(super) fn on_close_called(&mut self) {
        let l = &mut self.life;
        l.state = match l.state {
            State::CloseReceived => State::Closed,
            State::Open => State::CloseSent,
            s => s,
        };
    }

    /// Fails the connection because of what the peer sent: send a Close with
    /// the error's code (if we have not sent one), stop processing input, and
    /// report the error to the application after the data received before it.
    pub(crate) fn fail(&mut self, err: Error) {
        if self.life.failure.is_some() || self.life.hard_end {
            return;
        }
        if let Some(code) = err.close_code() {
            if !self.life.close_sent {
                let reason = truncate_reason(err.message());
                self.send
                    .write_close(&mut self.rng, self.config.role, Some(code), reason);
                self.life.close_sent = true;
            }
        }
        self.recv.stop();
        self.life.failure = Some(err);
        self.life.closing_since.start();
    }

    /// Fails the connection without ceremony (a timeout): nothing more is
    /// sent, the transport is released at once; data received before is
    /// still delivered, then the error.
    fn fail_hard(&mut self, err: Error) {
        if self.life.failure.is_none() {
            self.life.failure = Some(err);
        }
        self.recv.stop();
        self.send.discard();
        self.life.hard_end = true;
    }
}

/// Milliseconds shown as seconds, exactly as `ms as f64 / 1000.0` prints
/// (`10`, `2.5`, `0.25`), without float formatting, which would add about
/// 12 KB to the wasm module for these two messages alone.
struct Secs(u64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, mut ms) = (self.0 / 1000, self.0 % 1000);
        if ms == 0 {
            return write!(f, "{s}");
        }
        let mut digits = 3;
        while ms % 10 == 0 {
            ms /= 10;
            digits -= 1;
        }
        write!(f, "{s}.{ms:0digits$}")
    }
}

#[cfg(test)]
mod secs_tests {
    use super::Secs;
    use alloc::format;

    #[test]
    fn seconds_print_like_f64() {
        for ms in [
            0u64,
            1,
            5,
            10,
            250,
            999,
            1000,
            1001,
            1500,
            2250,
            10_000,
            30_000,
            123_456_789,
        ] {
            assert_eq!(
                format!("{}", Secs(ms)),
                format!("{}", ms as f64 / 1000.0),
                "{ms} ms"
            );
        }
    }
}
