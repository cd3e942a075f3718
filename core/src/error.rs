//! The one error type of the engine, with kinds mirroring .NET's `WebSocketError`.

use alloc::borrow::Cow;
use core::fmt;

use crate::close::CloseCode;

/// What went wrong, in the categories of .NET's `WebSocketError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A message type the operation cannot take (e.g. sending `Close` as data,
    /// or continuing a text message as binary).
    InvalidMessageType,
    /// The peer broke the protocol, or the connection failed; the connection is aborted.
    Faulted,
    /// The other side is not a WebSocket endpoint (the handshake failed).
    NotAWebSocket,
    /// The peer wants a WebSocket version other than 13.
    UnsupportedVersion,
    /// No subprotocol or extension both sides support, or the peer chose one we did not offer.
    UnsupportedProtocol,
    /// A handshake header is missing or malformed.
    HeaderError,
    /// The transport ended before the close handshake completed.
    ConnectionClosedPrematurely,
    /// The operation is not valid in the current state (e.g. send after close).
    InvalidState,
    /// A caller-supplied argument or option is invalid.
    InvalidArgument,
    /// The HTTP proxy refused or failed the `CONNECT` tunnel, or the
    /// environment names a proxy that cannot be used ([`crate::proxy`]).
    Proxy,
}

/// An engine error: its kind, the close code the connection failed with (if
/// it failed), and a message that says what happened and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    close_code: Option<CloseCode>,
    message: Cow<'static, str>,
}

impl Error {
    /// An error of `kind` that does not fail the connection (no close code),
    /// e.g. a bad argument or an operation in the wrong state. `message` should
    /// say what happened and what to do about it.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            close_code: None,
            message: message.into(),
        }
    }

    /// A protocol violation by the peer that fails the connection with `code`.
    pub fn protocol(code: CloseCode, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind: ErrorKind::Faulted,
            close_code: Some(code),
            message: message.into(),
        }
    }

    /// The category, as .NET's ClientWebSocket reports it in
    /// `WebSocketException.WebSocketErrorCode`.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The close code sent to the peer because of this error, if any.
    pub fn close_code(&self) -> Option<CloseCode> {
        self.close_code
    }

    /// The human-readable message (also what `Display` prints).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A stable, machine-readable name for the kind (used as the JS `code`).
    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::InvalidMessageType => "InvalidMessageType",
            ErrorKind::Faulted => "Faulted",
            ErrorKind::NotAWebSocket => "NotAWebSocket",
            ErrorKind::UnsupportedVersion => "UnsupportedVersion",
            ErrorKind::UnsupportedProtocol => "UnsupportedProtocol",
            ErrorKind::HeaderError => "HeaderError",
            ErrorKind::ConnectionClosedPrematurely => "ConnectionClosedPrematurely",
            ErrorKind::InvalidState => "InvalidState",
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::Proxy => "Proxy",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(code) = self.close_code {
            write!(f, " (close code {})", code.0)?;
        }
        Ok(())
    }
}

impl core::error::Error for Error {}
