//! The WebSocket session: one connection, either role, after the handshake.
//!
//! The session is a state machine that never performs I/O and never reads a
//! clock; it owns every protocol decision and every protocol deadline. A
//! backend (`sockweave` on tokio, `sockweave-wasm` in JavaScript) moves bytes,
//! arms one timer and does what the session says:
//!
//! - **in**: write transport bytes into [`Session::read_buf`] and call
//!   [`Session::commit_read`] (or hand a slice to [`Session::feed`]). Frames are
//!   parsed, unmasked and validated as soon as they arrive, whether or not the
//!   application is receiving: PINGs are answered and protocol errors are found
//!   at once. Message data stays in the receive buffer until the application
//!   takes it with [`Session::receive`], so memory is bounded by
//!   `receive_buffer_size`; when the buffer is full, or when more than
//!   `max_pending_output` bytes of PONG answers wait to be written (a peer
//!   that sends PINGs and does not read), `read_buf` is empty and the backend
//!   stops reading (backpressure to the peer). The end of the
//!   transport's input is [`Session::feed_eof`]; a failed transport is
//!   [`Session::transport_failed`].
//! - **out**: [`Session::send`], [`Session::close`], PONG replies and error
//!   closes append frames to an output buffer; the backend writes
//!   [`Session::pending_output`] to the transport and calls
//!   [`Session::consume_output`].
//! - **time**: [`Session::poll_timeout`] is when to call
//!   [`Session::handle_timeout`] next (keep-alive, the close timeout, the
//!   wait for the peer to end the transport).
//! - **the transport's end**: [`Session::transport_action`] says when to shut
//!   down the write side and when to release the transport.
//!
//! States follow .NET's `WebSocketState`, as the application sees them:
//! [`Session::state`] changes with what [`Session::receive`], [`Session::send`]
//! and [`Session::close`] have returned, not when the backend reads. A Close
//! (or a failure) read behind unreceived messages becomes visible once those
//! messages were received. The close handshake follows .NET too: the peer's
//! Close is delivered to the application, which answers with
//! [`Session::close`] (or [`Session::answer_close`]).

mod config;
mod lifecycle;
mod recv;
mod send;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::close::CloseCode;
use crate::deflate::{Compressor, Decompressor};
use crate::error::{Error, ErrorKind};
use crate::keepalive::KeepAlive;

pub use config::SessionConfig;
pub use lifecycle::{TransportAction, LINGER_MS};
pub use recv::ReceiveResult;

/// Which end of the connection this session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Masks every frame it sends; rejects masked frames.
    Client,
    /// Sends unmasked frames; rejects unmasked frames.
    Server,
}

/// .NET's `WebSocketState`, as the application has seen it.
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
    /// The peer's Close was received; we may still send, then answer with ours.
    CloseReceived,
    /// Both Close frames were exchanged.
    Closed,
    /// The connection failed or was aborted.
    Aborted,
}

/// The type of a message (.NET's `WebSocketMessageType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// UTF-8 text (opcode 0x1); validated as it arrives, invalid text fails
    /// the connection with 1007.
    Text,
    /// Arbitrary bytes (opcode 0x2).
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

/// Who is sending: a message sent in pieces belongs to the sender that began
/// it, and no other sender's data may join it (see [`Session::send_with`]).
/// Backends name their senders (native: the task); one sender for everything
/// is [`SenderId::ANY`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SenderId(pub u64);

impl SenderId {
    /// The sender of callers that do not tell senders apart.
    pub const ANY: SenderId = SenderId(0);
}

/// One WebSocket connection (see the module docs for how to drive it).
///
/// The close handshake between two sessions, with a loop standing in for the
/// transport:
///
/// ```
/// use sockweave_core::session::{MessageType, Role, Session, SessionConfig, State};
/// use sockweave_core::CloseCode;
///
/// // What a backend does: write `from`'s output to the transport, which `to` reads.
/// fn pump(from: &mut Session, to: &mut Session) {
///     let n = to.feed(from.pending_output());
///     from.consume_output(n);
/// }
///
/// let mut client = Session::new(SessionConfig::new(Role::Client), [1; 32]);
/// let mut server = Session::new(SessionConfig::new(Role::Server), [2; 32]);
/// client.close(Some(CloseCode::NORMAL), "bye").unwrap(); // CloseOutputAsync in .NET's ClientWebSocket
/// assert_eq!(client.state(), State::CloseSent);
/// pump(&mut client, &mut server);
///
/// let mut buf = [0u8; 64];
/// let r = server.receive(&mut buf).unwrap().unwrap();
/// assert_eq!(r.message_type, MessageType::Close);
/// assert_eq!(r.close_status, Some(CloseCode::NORMAL));
/// assert_eq!(server.state(), State::CloseReceived);
/// server.answer_close().unwrap(); // echoes 1000
/// assert_eq!(server.state(), State::Closed);
/// pump(&mut server, &mut client);
///
/// assert!(matches!(client.poll_close(), Some(Ok(())))); // where CloseAsync would complete
/// assert_eq!(client.state(), State::Closed);
/// assert_eq!(client.close_status(), Some(CloseCode::NORMAL));
/// ```
pub struct Session {
    config: SessionConfig,
    recv: recv::Receiver,
    send: send::Sender,
    life: lifecycle::Lifecycle,
    /// Masking keys must be unpredictable to the application (RFC 6455 section 10.3).
    rng: ChaCha8Rng,
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
            life: lifecycle::Lifecycle::default(),
            rng: ChaCha8Rng::from_seed(seed),
            config,
            keepalive,
            now: 0,
        }
    }

    /// Which end of the connection this session is.
    pub fn role(&self) -> Role {
        self.config.role
    }

    /// What the session runs with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The connection's state as the application has seen it (see the module docs).
    #[inline]
    pub fn state(&self) -> State {
        self.life.state
    }

    /// The negotiated subprotocol, `None` if none was (.NET's ClientWebSocket:
    /// `SubProtocol`).
    pub fn sub_protocol(&self) -> Option<&str> {
        self.config.sub_protocol.as_deref()
    }

    /// The status the peer's Close carried (1005 `NO_STATUS` if none), once
    /// the application has seen that Close (a receive returned it, or `close`
    /// completed).
    pub fn close_status(&self) -> Option<CloseCode> {
        self.seen_close().map(|c| c.code.unwrap_or(CloseCode::NO_STATUS))
    }

    /// The reason the peer's Close carried, once the application has seen it.
    pub fn close_status_description(&self) -> Option<&str> {
        self.seen_close().map(|c| c.reason.as_str())
    }

    /// The error that failed the connection, if it failed (whether or not an
    /// operation has reported it to the application yet).
    #[inline]
    pub fn failure(&self) -> Option<&Error> {
        self.life.failure.as_ref()
    }

    /// The error that failed the connection, reported to the application:
    /// the state becomes `Aborted` (unless the close handshake already
    /// completed for it). `None` if the connection has not failed.
    #[inline]
    pub fn failed(&mut self) -> Option<Error> {
        self.life.failure.as_ref()?;
        Some(self.report_failure())
    }

    /// True while input is still parsed: not after a Close, a failure or end
    /// of file. (Once false, a backend may read only to notice end of file.)
    #[inline]
    pub fn parses_input(&self) -> bool {
        self.recv.is_open()
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

fn invalid_state(message: impl Into<alloc::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::InvalidState, message)
}

// Backends move sessions between tasks and threads.
const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<Session>();
};
