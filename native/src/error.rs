//! The error type of the native backend.

use std::fmt;
use std::io;

use sockweave_core::handshake::HttpResponse;
use sockweave_core::options::OptionsError;
use sockweave_core::CloseCode;

/// What kind of failure, in the categories of .NET's `WebSocketError`, plus
/// the transport-level ones a native client meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`sockweave_core::ErrorKind::InvalidMessageType`].
    InvalidMessageType,
    /// The peer broke the protocol or the connection failed.
    Faulted,
    /// The server is not a WebSocket endpoint or refused the upgrade
    /// ([`Error::response`] tells why).
    NotAWebSocket,
    /// The peer speaks another WebSocket version (the server answered 426,
    /// or a request carried a version other than 13).
    UnsupportedVersion,
    /// The peer does not support what was asked: a subprotocol, an
    /// extension, an HTTP version the version policy requires.
    UnsupportedProtocol,
    /// A handshake header is missing, malformed or not the expected value.
    HeaderError,
    /// The connection ended (or was reset) before the close handshake
    /// completed (.NET's `ConnectionClosedPrematurely`).
    ConnectionClosedPrematurely,
    /// The call is not allowed now: after a Close or an abort, while another
    /// receive is pending, or on a socket already connected.
    InvalidState,
    /// An argument or option is invalid; the message names it.
    InvalidArgument,
    /// Connecting or an I/O operation failed.
    Io,
    /// The TLS handshake failed (certificate not trusted, wrong host name, ...).
    Tls,
    /// The HTTP proxy refused or failed the tunnel.
    Proxy,
    /// An operation did not finish in its configured time.
    Timeout,
    /// Options that cannot be used together (.NET's `ArgumentException` for a
    /// `ClientWebSocket` with connection options and an invoker); the message names them.
    IncompatibleOptions,
    /// Credentials were not sent because the connection is not encrypted
    /// (HTTP Basic over `ws://` or `http://` without `allow_basic_over_cleartext`).
    InsecureCredentials,
    /// A response is larger than its configured limit (`max_response_body`).
    ResponseTooLarge,
}

/// An error from sockweave: a kind, a message that says what happened and
/// what to do, and for failed handshakes the server's response.
pub struct Error {
    kind: ErrorKind,
    message: String,
    close_code: Option<CloseCode>,
    response: Option<Box<HttpResponse>>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            close_code: None,
            response: None,
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub(crate) fn with_response(mut self, response: Option<HttpResponse>) -> Self {
        self.response = response.map(Box::new);
        self
    }

    pub(crate) fn closed_prematurely() -> Self {
        Error::new(
            ErrorKind::ConnectionClosedPrematurely,
            "the remote party closed the WebSocket connection without completing the close handshake",
        )
    }

    /// What kind of failure this is (.NET's `WebSocketError`).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What went wrong and, where there is one, what to do about it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The close code the connection was failed with, if a protocol error failed it.
    pub fn close_code(&self) -> Option<CloseCode> {
        self.close_code
    }

    /// For a failed handshake: the server's HTTP response (status and headers).
    pub fn response(&self) -> Option<&HttpResponse> {
        self.response.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(c) = self.close_code {
            write!(f, " (close code {})", c.0)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(c) = self.close_code {
            d.field("close_code", &c.0);
        }
        if let Some(r) = &self.response {
            d.field("status", &r.status);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<sockweave_core::Error> for Error {
    fn from(e: sockweave_core::Error) -> Self {
        use sockweave_core::ErrorKind as K;
        let kind = match e.kind() {
            K::InvalidMessageType => ErrorKind::InvalidMessageType,
            K::Faulted => ErrorKind::Faulted,
            K::NotAWebSocket => ErrorKind::NotAWebSocket,
            K::UnsupportedVersion => ErrorKind::UnsupportedVersion,
            K::UnsupportedProtocol => ErrorKind::UnsupportedProtocol,
            K::HeaderError => ErrorKind::HeaderError,
            K::ConnectionClosedPrematurely => ErrorKind::ConnectionClosedPrematurely,
            K::InvalidState => ErrorKind::InvalidState,
            K::InvalidArgument => ErrorKind::InvalidArgument,
            K::Proxy => ErrorKind::Proxy,
        };
        let mut out = Error::new(kind, e.message());
        out.close_code = e.close_code();
        out
    }
}

impl From<OptionsError> for Error {
    fn from(e: OptionsError) -> Self {
        Error::new(ErrorKind::InvalidArgument, e.to_string())
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        // Under TLS 1.3 the server checks the client certificate after the
        // handshake, so its refusal arrives on the first read: still a TLS failure.
        if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            let hint = match tls {
                rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired)
                | rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate)
                | rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA) => {
                    " (the server refused our client certificate, or wanted one: set client_certificate)"
                }
                _ => "",
            };
            return Error::new(ErrorKind::Tls, format!("TLS failure: {tls}{hint}")).with_source(e);
        }
        let kind = match e.kind() {
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            io::ErrorKind::UnexpectedEof => ErrorKind::ConnectionClosedPrematurely,
            _ => ErrorKind::Io,
        };
        Error::new(kind, e.to_string()).with_source(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        io::Error::other(e)
    }
}
