//! The WebSocket session: one open connection, either role, after the handshake.
//!
//! The session is a state machine that never performs I/O and never reads a
//! clock. The backend moves bytes:
//!
//! - **in**: write transport bytes into [`Session::read_buf`] and call
//!   [`Session::commit_read`] (or hand a slice to [`Session::feed`]). Frames are
//!   parsed, unmasked and validated as soon as they arrive, whether or not the
//!   application is receiving: PINGs are answered and protocol errors are found
//!   at once. Message data stays in the receive buffer until the application
//!   takes it with [`Session::receive`], so memory is bounded by
//!   `receive_buffer_size`; when the buffer is full, `read_buf` is empty and the
//!   backend stops reading (backpressure to the peer).
//! - **out**: [`Session::send`], [`Session::close`], PONG replies and error
//!   closes append frames to an output buffer; the backend writes
//!   [`Session::pending_output`] to the transport and calls
//!   [`Session::consume_output`].
//!
//! States follow .NET's `WebSocketState`. The close handshake follows .NET too:
//! a received Close moves the session to `CloseReceived` and is delivered to the
//! application, which answers with [`Session::close`] (a `Stream`-style
//! backend may do that for it).

mod recv;
mod send;

use alloc::string::String;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::close::{CloseCode, CloseFrame};
use crate::deflate::{Compressor, Decompressor, DeflateParams};
use crate::error::Error;
use crate::error::ErrorKind;
use crate::frame::OpCode;
use crate::keepalive::{Action, KeepAlive, Strategy, PONG_TIMEOUT_MESSAGE};
use crate::options::{Millis, Options};

pub use recv::ReceiveResult;

/// Which end of the connection this session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Masks every frame it sends; rejects masked frames.
    Client,
    /// Sends unmasked frames; rejects unmasked frames.
    Server,
}

/// .NET's `WebSocketState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Created, not connected (backends only).
    None,
    /// The opening handshake is in progress (backends only).
    Connecting,
    /// Messages flow both ways.
    Open,
    /// We sent a Close and wait for the peer's.
    CloseSent,
    /// The peer sent a Close; we may still send, then answer with ours.
    CloseReceived,
    /// Both Close frames were exchanged.
    Closed,
    /// The connection failed or was aborted.
    Aborted,
}

/// The type of a message (.NET's `WebSocketMessageType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    Text,
    Binary,
    /// Only in receive results: the peer's Close frame.
    Close,
}

/// Per-send flags (.NET's `WebSocketMessageFlags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SendFlags {
    /// This call ends the message (FIN). Clear it to send a message in pieces.
    pub end_of_message: bool,
    /// Send this message uncompressed even if permessage-deflate is on.
    pub disable_compression: bool,
}

impl SendFlags {
    /// A whole message in one call, compressed if compression is on.
    pub const END_OF_MESSAGE: SendFlags = SendFlags {
        end_of_message: true,
        disable_compression: false,
    };
    /// A piece of a message; more follows.
    pub const PARTIAL: SendFlags = SendFlags {
        end_of_message: false,
        disable_compression: false,
    };
}

/// The limits and identity a session runs with, derived from [`Options`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    pub role: Role,
    pub receive_buffer_size: usize,
    pub max_message_size: u64,
    pub max_frame_size: u64,
    /// The negotiated subprotocol, reported by [`Session::sub_protocol`].
    pub sub_protocol: Option<String>,
    /// The negotiated permessage-deflate parameters, if any.
    pub deflate: Option<DeflateParams>,
    /// The keep-alive strategy.
    pub keep_alive: Strategy,
}

impl SessionConfig {
    pub fn new(role: Role) -> Self {
        Self::from_options(role, &Options::default())
    }

    pub fn from_options(role: Role, o: &Options) -> Self {
        SessionConfig {
            role,
            receive_buffer_size: o.receive_buffer_size.max(256),
            max_message_size: o.max_message_size,
            max_frame_size: o.max_frame_size,
            sub_protocol: o.sub_protocol.clone(),
            deflate: None,
            // Unset interval: off, as for .NET's stream-created sockets; a client
            // backend fills in its 30 s default before building the config.
            keep_alive: Strategy::select(
                o.keep_alive_interval.unwrap_or(Millis::ZERO),
                o.keep_alive_timeout.unwrap_or(Millis::Infinite),
            ),
        }
    }
}

/// One open WebSocket connection (see the module docs for how to drive it).
pub struct Session {
    config: SessionConfig,
    state: State,
    recv: recv::Receiver,
    send: send::Sender,
    /// Masking keys must be unpredictable to the application (RFC 6455 section 10.3).
    rng: ChaCha8Rng,
    close_received: Option<CloseFrame>,
    close_sent: bool,
    failure: Option<Error>,
    keepalive: KeepAlive,
    /// The backend's clock: milliseconds since the session was created.
    now: u64,
}

impl Session {
    /// A session in the `Open` state. `seed` must be 32 random bytes from the
    /// platform's secure source: the client's masking keys are drawn from it.
    pub fn new(config: SessionConfig, seed: [u8; 32]) -> Self {
        // Our side compresses with our window; the peer's side decides when we reset inflating.
        let (ours, theirs) = match (config.deflate, config.role) {
            (None, _) => (None, false),
            (Some(p), Role::Client) => (
                Some((p.client_max_window_bits, p.client_no_context_takeover)),
                p.server_no_context_takeover,
            ),
            (Some(p), Role::Server) => (
                Some((p.server_max_window_bits, p.server_no_context_takeover)),
                p.client_no_context_takeover,
            ),
        };
        let out_deflate = ours.map(|(bits, reset)| send::OutDeflate {
            compressor: Compressor::new(bits, DEFLATE_LEVEL),
            reset_after_message: reset,
        });
        let in_deflate = config.deflate.map(|_| (Decompressor::new(), theirs));
        let keepalive = KeepAlive::new(config.keep_alive, 0);
        Session {
            recv: recv::Receiver::new(config.receive_buffer_size, in_deflate),
            send: send::Sender::new(out_deflate),
            rng: ChaCha8Rng::from_seed(seed),
            config,
            state: State::Open,
            close_received: None,
            close_sent: false,
            failure: None,
            keepalive,
            now: 0,
        }
    }

    /// Tells the session the time (milliseconds since it was created, never
    /// going back). Call it before feeding input so "last heard from the peer"
    /// is right; [`handle_timeout`](Self::handle_timeout) does it too.
    pub fn set_now(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called
    /// (same clock as [`set_now`](Self::set_now)); `None` if no timer is needed.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            State::Open | State::CloseReceived => self.keepalive.deadline(),
            _ => None,
        }
    }

    /// Runs keep-alive at `now`: may queue a PING or PONG, or abort the
    /// connection when a PONG did not come in time.
    pub fn handle_timeout(&mut self, now: u64) {
        self.set_now(now);
        if !matches!(self.state, State::Open | State::CloseReceived) {
            return;
        }
        if self.recv.is_stalled() {
            self.keepalive.on_stalled(self.now);
        }
        match self.keepalive.poll(self.now) {
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
            Action::Abort => self.abort_with(Error::new(ErrorKind::Faulted, PONG_TIMEOUT_MESSAGE)),
        }
    }

    pub fn role(&self) -> Role {
        self.config.role
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn sub_protocol(&self) -> Option<&str> {
        self.config.sub_protocol.as_deref()
    }

    /// The status the peer's Close frame carried, once one was received
    /// (1005 `NO_STATUS` if it had none).
    pub fn close_status(&self) -> Option<CloseCode> {
        self.close_received
            .as_ref()
            .map(|c| c.code.unwrap_or(CloseCode::NO_STATUS))
    }

    /// The reason the peer's Close frame carried.
    pub fn close_status_description(&self) -> Option<&str> {
        self.close_received.as_ref().map(|c| c.reason.as_str())
    }

    /// The error that failed the connection, if it failed.
    pub fn failure(&self) -> Option<&Error> {
        self.failure.as_ref()
    }

    /// Aborts: no more frames are sent or processed (.NET's `Abort`).
    pub fn abort(&mut self) {
        self.abort_with(Error::new(
            crate::error::ErrorKind::InvalidState,
            "the WebSocket was aborted",
        ));
        self.send.discard();
    }

    /// Fails the connection with an error found outside the engine (a transport
    /// error, a timeout): nothing more is sent or processed; data already
    /// received is still delivered, then `err` is reported.
    pub fn abort_with(&mut self, err: Error) {
        if matches!(self.state, State::Closed | State::Aborted) {
            return;
        }
        self.recv.stop();
        self.send.discard();
        self.state = State::Aborted;
        self.failure = Some(err);
    }

    /// True while input is still processed: not after a Close, a failure or
    /// end of file. (Once false, a backend may read only to notice end of file.)
    pub fn is_receiving(&self) -> bool {
        self.recv.is_open()
    }

    /// True once the transport should be shut down: the close handshake is
    /// complete or the connection failed, and everything queued was written.
    /// (A client should still give the server a moment to close TCP first,
    /// RFC 6455 section 7.1.1; that wait is the backend's.)
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Closed | State::Aborted) && self.pending_output().is_empty()
    }

    /// Fails the connection: send a Close with the error's code (if we have not
    /// sent one), stop processing input, and remember the error for the application.
    pub(crate) fn fail(&mut self, err: Error) {
        if matches!(self.state, State::Aborted) {
            return;
        }
        if let Some(code) = err.close_code() {
            if !self.close_sent {
                let reason = truncate_reason(err.message());
                self.send
                    .write_close(&mut self.rng, self.config.role, Some(code), reason);
                self.close_sent = true;
            }
        }
        self.recv.stop();
        self.state = State::Aborted;
        self.failure = Some(err);
    }
}

/// zlib's default level: the usual balance of ratio and speed.
const DEFLATE_LEVEL: u8 = 6;

/// Cuts an error message to fit a close frame (123 bytes, at a char boundary).
fn truncate_reason(msg: &str) -> &str {
    if msg.len() <= crate::close::MAX_REASON_LEN {
        return msg;
    }
    let mut end = crate::close::MAX_REASON_LEN;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    &msg[..end]
}

// Backends move sessions between tasks and threads.
const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<Session>();
};
