//! Keep-alive: the three strategies of .NET's `ClientWebSocket`, driven by
//! the time the backend passes in (monotonic milliseconds).
//!
//! | interval | timeout | strategy |
//! |---|---|---|
//! | zero or infinite | any | off |
//! | positive | zero or infinite | Unsolicited PONG: a PONG every interval, whatever the peer does |
//! | positive | positive | PING/PONG: a PING once the interval has passed since the peer last sent anything; abort if its PONG does not come within the timeout |
//!
//! Where sockweave differs from .NET: incoming frames are processed whether
//! or not the application is receiving, so a live peer's PONG is always seen.
//! The one time input is not read is when the receive buffer is full because
//! the application is not taking data: that stall is ours, not the peer's, so
//! while it lasts the PONG timeout is suspended (it restarts, in full, once
//! there is room again) and the peer is not counted as silent.

use crate::options::Millis;

/// The text .NET uses for the keep-alive abort.
pub const PONG_TIMEOUT_MESSAGE: &str =
    "The WebSocket didn't receive a Pong frame in response to a Ping frame within the configured KeepAliveTimeout.";

/// Which strategy is in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// No keep-alive frames and no liveness check: .NET's ClientWebSocket with
    /// `KeepAliveInterval` zero or infinite.
    Off,
    /// An empty PONG every `interval`, whatever the peer does; a silent peer
    /// is never detected. .NET's ClientWebSocket with a positive
    /// `KeepAliveInterval` (default 30 s) and `KeepAliveTimeout` zero or
    /// infinite (its default).
    UnsolicitedPong {
        /// Milliseconds between PONGs, > 0.
        interval: u64,
    },
    /// A PING once the peer has been silent for `interval`; the connection
    /// is aborted if its PONG does not arrive within `timeout`. .NET's
    /// ClientWebSocket with both `KeepAliveInterval` and `KeepAliveTimeout`
    /// positive.
    PingPong {
        /// Milliseconds of silence from the peer before a PING is sent, > 0.
        interval: u64,
        /// Milliseconds to wait for the PING's PONG before aborting, > 0.
        timeout: u64,
    },
}

impl Strategy {
    /// The selection rule of .NET's ClientWebSocket (its keep-alive documentation).
    pub fn select(interval: Millis, timeout: Millis) -> Strategy {
        match (interval.positive(), timeout.positive()) {
            (None, _) => Strategy::Off,
            (Some(interval), None) => Strategy::UnsolicitedPong { interval },
            (Some(interval), Some(timeout)) => Strategy::PingPong { interval, timeout },
        }
    }
}

/// What the session must do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do yet; call again at [`KeepAlive::deadline`].
    None,
    /// Send an empty, unsolicited PONG.
    SendPong,
    /// Send a PING whose payload is this token (8 bytes, big-endian).
    SendPing(u64),
    /// No PONG within the timeout: abort the connection.
    Abort,
}

/// The keep-alive state machine.
#[derive(Clone, Debug)]
pub struct KeepAlive {
    strategy: Strategy,
    /// When the peer last sent anything (any frame).
    last_heard: u64,
    /// When the last unsolicited PONG went out.
    last_pong_sent: u64,
    /// The PING awaiting its PONG: (token, when the timeout started).
    outstanding: Option<(u64, u64)>,
    next_token: u64,
}

impl KeepAlive {
    /// The state machine for `strategy`, starting at `now` (the backend's
    /// monotonic clock, in milliseconds): the first PING or PONG is due one
    /// interval later.
    pub fn new(strategy: Strategy, now: u64) -> Self {
        KeepAlive {
            strategy,
            last_heard: now,
            last_pong_sent: now,
            outstanding: None,
            next_token: 1,
        }
    }

    /// The strategy this state machine runs.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The peer sent something (any frame).
    pub fn on_heard(&mut self, now: u64) {
        self.last_heard = self.last_heard.max(now);
    }

    /// The peer sent a PONG with `payload`; it answers our PING only if it
    /// carries the outstanding token.
    pub fn on_pong(&mut self, payload: &[u8], now: u64) {
        self.on_heard(now);
        if let Some((token, _)) = self.outstanding {
            if payload == token.to_be_bytes() {
                self.outstanding = None;
            }
        }
    }

    /// Input is not being read because our receive buffer is full: the
    /// peer's silence and the PONG timeout do not count while this lasts.
    pub fn on_stalled(&mut self, now: u64) {
        self.last_heard = self.last_heard.max(now);
        if let Some((_, started)) = self.outstanding.as_mut() {
            *started = (*started).max(now);
        }
    }

    /// The next time [`poll`](Self::poll) has something to do, if any.
    pub fn deadline(&self) -> Option<u64> {
        match self.strategy {
            Strategy::Off => None,
            Strategy::UnsolicitedPong { interval } => Some(self.last_pong_sent.saturating_add(interval)),
            Strategy::PingPong { interval, timeout } => Some(match self.outstanding {
                Some((_, started)) => started.saturating_add(timeout),
                None => self.last_heard.saturating_add(interval),
            }),
        }
    }

    /// What to do at `now`. Call it when the deadline is reached (calling it
    /// earlier is harmless).
    pub fn poll(&mut self, now: u64) -> Action {
        match self.strategy {
            Strategy::Off => Action::None,
            Strategy::UnsolicitedPong { interval } => {
                if now >= self.last_pong_sent.saturating_add(interval) {
                    self.last_pong_sent = now;
                    Action::SendPong
                } else {
                    Action::None
                }
            }
            Strategy::PingPong { interval, timeout } => match self.outstanding {
                Some((_, started)) if now >= started.saturating_add(timeout) => Action::Abort,
                Some(_) => Action::None,
                None if now >= self.last_heard.saturating_add(interval) => {
                    let token = self.next_token;
                    self.next_token += 1;
                    self.outstanding = Some((token, now));
                    Action::SendPing(token)
                }
                None => Action::None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_follows_dotnet() {
        let s = Strategy::select;
        assert_eq!(s(Millis::ZERO, Millis::from_secs(5)), Strategy::Off);
        assert_eq!(s(Millis::Infinite, Millis::from_secs(5)), Strategy::Off);
        assert_eq!(
            s(Millis::from_secs(30), Millis::Infinite),
            Strategy::UnsolicitedPong { interval: 30_000 }
        );
        assert_eq!(
            s(Millis::from_secs(30), Millis::ZERO),
            Strategy::UnsolicitedPong { interval: 30_000 }
        );
        assert_eq!(
            s(Millis::from_secs(10), Millis::from_secs(20)),
            Strategy::PingPong {
                interval: 10_000,
                timeout: 20_000
            }
        );
    }

    #[test]
    fn unsolicited_pong_every_interval_whatever_the_peer_does() {
        let mut k = KeepAlive::new(Strategy::UnsolicitedPong { interval: 100 }, 0);
        assert_eq!(k.deadline(), Some(100));
        assert_eq!(k.poll(99), Action::None);
        k.on_heard(99);
        assert_eq!(k.poll(100), Action::SendPong);
        assert_eq!(k.deadline(), Some(200));
        assert_eq!(k.poll(150), Action::None);
        assert_eq!(k.poll(200), Action::SendPong);
    }

    #[test]
    fn ping_pong_boundaries() {
        let mut k = KeepAlive::new(
            Strategy::PingPong {
                interval: 100,
                timeout: 50,
            },
            0,
        );
        assert_eq!(k.poll(99), Action::None);
        // Data resets the interval.
        k.on_heard(60);
        assert_eq!(k.deadline(), Some(160));
        assert_eq!(k.poll(159), Action::None);
        assert_eq!(k.poll(160), Action::SendPing(1));
        assert_eq!(k.deadline(), Some(210));
        // Data does not answer a PING; a PONG with the wrong token does not either.
        k.on_heard(170);
        k.on_pong(&2u64.to_be_bytes(), 180);
        k.on_pong(b"", 181);
        assert_eq!(k.poll(209), Action::None);
        assert_eq!(k.poll(210), Action::Abort);
    }

    #[test]
    fn matching_pong_clears_and_the_next_ping_waits_an_interval() {
        let mut k = KeepAlive::new(
            Strategy::PingPong {
                interval: 100,
                timeout: 50,
            },
            0,
        );
        assert_eq!(k.poll(100), Action::SendPing(1));
        k.on_pong(&1u64.to_be_bytes(), 149);
        assert_eq!(k.poll(150), Action::None);
        assert_eq!(k.deadline(), Some(249));
        assert_eq!(k.poll(249), Action::SendPing(2));
    }

    #[test]
    fn our_stall_suspends_the_timeout() {
        let mut k = KeepAlive::new(
            Strategy::PingPong {
                interval: 100,
                timeout: 50,
            },
            0,
        );
        assert_eq!(k.poll(100), Action::SendPing(1));
        k.on_stalled(140);
        assert_eq!(k.poll(150), Action::None);
        k.on_stalled(400);
        assert_eq!(k.deadline(), Some(450));
        k.on_pong(&1u64.to_be_bytes(), 420);
        assert_eq!(k.poll(450), Action::None);
    }
}
