//! What a session runs with, and how a handshake's outcome becomes it.
//!
//! Every backend builds its sessions with these constructors, so a default
//! (the client's 30 s keep-alive) or a negotiated value (subprotocol,
//! permessage-deflate) is decided once, here.

use alloc::string::String;

use super::Role;
use crate::deflate::DeflateParams;
use crate::handshake::HandshakeAccepted;
use crate::keepalive::Strategy;
use crate::options::{DeflateOptions, Millis, Options, DEFAULT_KEEP_ALIVE_INTERVAL};

/// The limits, identity and deadlines a session runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Which end this session is: clients mask what they send, servers expect
    /// masked frames.
    pub role: Role,
    /// Most bytes of received message data held until the application takes
    /// them; when full, the backend stops reading. From
    /// `Options::receive_buffer_size`, at least 256.
    pub receive_buffer_size: usize,
    /// Largest message accepted, in bytes after decompression; a larger one
    /// fails the connection with 1009 (`MESSAGE_TOO_BIG`).
    pub max_message_size: u64,
    /// Largest frame accepted, in payload bytes; a larger one fails the
    /// connection with 1009 (`MESSAGE_TOO_BIG`).
    pub max_frame_size: u64,
    /// Bytes of frames queued for writing above which `send` waits; also the
    /// most bytes of PONG answers queued before input stops being processed
    /// (a peer that sends PINGs and never reads cannot grow the queue).
    pub max_pending_output: usize,
    /// The negotiated subprotocol, reported by [`Session::sub_protocol`](super::Session::sub_protocol).
    pub sub_protocol: Option<String>,
    /// The negotiated permessage-deflate parameters, if any.
    pub deflate: Option<DeflateParams>,
    /// The keep-alive strategy.
    pub keep_alive: Strategy,
    /// Milliseconds the peer has to answer our Close; `None`: no limit.
    pub close_timeout: Option<u64>,
}

impl SessionConfig {
    /// Defaults for `role`: no subprotocol, no compression, keep-alive off.
    pub fn new(role: Role) -> Self {
        Self::base(role, &Options::default(), Millis::ZERO)
    }

    /// A session over a stream whose handshake was done elsewhere (.NET's
    /// `WebSocket.CreateFromStream`): `options.sub_protocol` is taken as
    /// negotiated, `options.dangerous_deflate_options` as the permessage-deflate
    /// parameters both sides agreed on (.NET's
    /// `WebSocketCreationOptions.DangerousDeflateOptions`), and keep-alive is off
    /// unless the options set it.
    pub fn for_stream(role: Role, options: &Options) -> Self {
        let mut c = Self::base(role, options, Millis::ZERO);
        c.sub_protocol = options.sub_protocol.clone();
        c.deflate = options.dangerous_deflate_options.map(|d| agreed(&d));
        c
    }

    /// A client session after the server accepted (HTTP/1.1 or HTTP/2):
    /// what the server selected, and keep-alive defaulting to an unsolicited
    /// PONG every 30 s as for .NET's `ClientWebSocket`.
    pub fn for_client(options: &Options, accepted: &HandshakeAccepted) -> Self {
        let mut c = Self::base(Role::Client, options, DEFAULT_KEEP_ALIVE_INTERVAL);
        c.sub_protocol = accepted.protocol.clone();
        c.deflate = accepted.deflate;
        c
    }

    /// A server session after it accepted a request (HTTP/1.1 or HTTP/2)
    /// with `sub_protocol` and the permessage-deflate parameters it answered
    /// with; keep-alive is off unless the options set it.
    pub fn for_server(
        options: &Options,
        sub_protocol: Option<String>,
        deflate: Option<DeflateParams>,
    ) -> Self {
        let mut c = Self::base(Role::Server, options, Millis::ZERO);
        c.sub_protocol = sub_protocol;
        c.deflate = deflate;
        c
    }

    fn base(role: Role, o: &Options, default_interval: Millis) -> Self {
        SessionConfig {
            role,
            receive_buffer_size: o.receive_buffer_size.max(256),
            max_message_size: o.max_message_size,
            max_frame_size: o.max_frame_size,
            max_pending_output: o.max_pending_output,
            sub_protocol: None,
            deflate: None,
            keep_alive: Strategy::select(
                o.keep_alive_interval.unwrap_or(default_interval),
                o.keep_alive_timeout.unwrap_or(Millis::Infinite),
            ),
            close_timeout: o.close_timeout.positive(),
        }
    }
}

/// Deflate options given as already agreed (no negotiation happened).
fn agreed(d: &DeflateOptions) -> DeflateParams {
    DeflateParams {
        server_max_window_bits: d.server_max_window_bits,
        client_max_window_bits: d.client_max_window_bits,
        server_no_context_takeover: !d.server_context_takeover,
        client_no_context_takeover: !d.client_context_takeover,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::HttpResponse;
    use alloc::vec::Vec;

    fn accepted() -> HandshakeAccepted {
        HandshakeAccepted {
            response: HttpResponse {
                status: 101,
                reason: String::new(),
                headers: Vec::new(),
            },
            protocol: Some("chat".into()),
            extensions: Vec::new(),
            deflate: None,
        }
    }

    #[test]
    fn clients_default_to_an_unsolicited_pong_every_30_s() {
        let c = SessionConfig::for_client(&Options::default(), &accepted());
        assert_eq!(c.keep_alive, Strategy::UnsolicitedPong { interval: 30_000 });
        assert_eq!(c.sub_protocol.as_deref(), Some("chat"));
        assert_eq!(c.close_timeout, Some(10_000));
        let off = Options {
            keep_alive_interval: Some(Millis::ZERO),
            ..Default::default()
        };
        assert_eq!(
            SessionConfig::for_client(&off, &accepted()).keep_alive,
            Strategy::Off
        );
    }

    #[test]
    fn servers_and_streams_have_keep_alive_off_unless_set() {
        let o = Options::default();
        assert_eq!(
            SessionConfig::for_server(&o, None, None).keep_alive,
            Strategy::Off
        );
        assert_eq!(
            SessionConfig::for_stream(Role::Client, &o).keep_alive,
            Strategy::Off
        );
        let set = Options {
            keep_alive_interval: Some(Millis::from_secs(5)),
            keep_alive_timeout: Some(Millis::from_secs(2)),
            ..Default::default()
        };
        assert_eq!(
            SessionConfig::for_server(&set, None, None).keep_alive,
            Strategy::PingPong {
                interval: 5000,
                timeout: 2000
            }
        );
    }

    #[test]
    fn a_stream_applies_the_deflate_options_as_agreed() {
        let o = Options {
            dangerous_deflate_options: Some(DeflateOptions {
                client_max_window_bits: 10,
                server_max_window_bits: 12,
                client_context_takeover: false,
                server_context_takeover: true,
            }),
            sub_protocol: Some("x".into()),
            close_timeout: Millis::Infinite,
            ..Default::default()
        };
        for role in [Role::Client, Role::Server] {
            let c = SessionConfig::for_stream(role, &o);
            assert_eq!(
                c.deflate,
                Some(DeflateParams {
                    server_max_window_bits: 12,
                    client_max_window_bits: 10,
                    server_no_context_takeover: false,
                    client_no_context_takeover: true,
                })
            );
            assert_eq!(c.sub_protocol.as_deref(), Some("x"));
            assert_eq!(c.close_timeout, None);
        }
    }
}
