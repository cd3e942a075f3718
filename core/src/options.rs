//! The one options type shared by every backend.
//!
//! Its serde form (camelCase keys) is the options object of the npm package, so
//! a JSON object means the same thing in Rust, in Node and in the browser.
//! Unknown keys are an error that names the key: serde rejects them for
//! formats that honour `deny_unknown_fields`, and [`Options::KEYS`] lets a
//! backend that reads the object by hand (the wasm face reads JS objects key
//! by key) check that every key it meets is known.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::headers::HandshakeLimits;

/// A duration in milliseconds, or infinite (.NET's `Timeout.InfiniteTimeSpan`).
///
/// In JSON: a non-negative number of milliseconds, or `-1` / `"infinite"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Millis {
    /// This many milliseconds (in JSON, a number >= 0). Zero as the
    /// keep-alive interval turns keep-alive off, as the keep-alive timeout it
    /// means no PONG check; for the other timeouts [`Options::validate`]
    /// rejects it.
    Finite(u64),
    /// No limit (in JSON, `-1` or `"infinite"`), what .NET's ClientWebSocket
    /// takes as `Timeout.InfiniteTimeSpan`.
    Infinite,
}

impl Millis {
    /// Zero milliseconds (as a keep-alive interval: keep-alive off).
    pub const ZERO: Millis = Millis::Finite(0);

    /// `s` seconds, as `s * 1000` milliseconds.
    pub const fn from_secs(s: u64) -> Millis {
        Millis::Finite(s * 1000)
    }

    /// The value if positive and finite (the only values that turn a timer on).
    pub const fn positive(self) -> Option<u64> {
        match self {
            Millis::Finite(0) | Millis::Infinite => None,
            Millis::Finite(n) => Some(n),
        }
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Millis::Finite(n) => s.serialize_u64(*n),
            Millis::Infinite => s.serialize_i64(-1),
        }
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Millis;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("milliseconds (a number >= 0), or -1 or \"infinite\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Millis, E> {
                Ok(Millis::Finite(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Millis, E> {
                match v {
                    -1 => Ok(Millis::Infinite),
                    v if v >= 0 => Ok(Millis::Finite(v as u64)),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Millis, E> {
                if v == -1.0 || v == f64::INFINITY {
                    Ok(Millis::Infinite)
                } else if (0.0..1.8e19).contains(&v) && (v as u64) as f64 == v {
                    Ok(Millis::Finite(v as u64))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Millis, E> {
                if v == "infinite" {
                    Ok(Millis::Infinite)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// .NET's `WebSocketDeflateOptions` (RFC 7692 parameters; see .NET's ClientWebSocket
/// documentation, <https://learn.microsoft.com/dotnet/fundamentals/networking/websockets>).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DeflateOptions {
    /// LZ77 window of messages the client compresses, 8..=15.
    pub client_max_window_bits: u8,
    /// LZ77 window of messages the server compresses, 8..=15.
    pub server_max_window_bits: u8,
    /// Whether the client keeps its compression context between messages.
    pub client_context_takeover: bool,
    /// Whether the server keeps its compression context between messages.
    pub server_context_takeover: bool,
}

impl Default for DeflateOptions {
    fn default() -> Self {
        DeflateOptions {
            client_max_window_bits: 15,
            server_max_window_bits: 15,
            client_context_takeover: true,
            server_context_takeover: true,
        }
    }
}

/// `HttpVersion`: which HTTP version to request for the handshake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// HTTP/1.1 Upgrade (RFC 6455 section 4), the default; `"1.1"` in JSON.
    /// .NET's ClientWebSocket: `HttpVersion.Version11`.
    #[default]
    Http11,
    /// HTTP/2 extended CONNECT (RFC 8441); `"2"` in JSON. .NET's
    /// ClientWebSocket: `HttpVersion.Version20`.
    Http2,
}

impl Serialize for HttpVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            HttpVersion::Http11 => "1.1",
            HttpVersion::Http2 => "2",
        })
    }
}

impl<'de> Deserialize<'de> for HttpVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HttpVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"1.1\" or \"2\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HttpVersion, E> {
                match v {
                    "1.1" => Ok(HttpVersion::Http11),
                    "2" | "2.0" => Ok(HttpVersion::Http2),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<HttpVersion, E> {
                if v == 1.1 {
                    Ok(HttpVersion::Http11)
                } else if v == 2.0 {
                    Ok(HttpVersion::Http2)
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<HttpVersion, E> {
                if v == 2 {
                    Ok(HttpVersion::Http2)
                } else {
                    Err(E::invalid_value(de::Unexpected::Unsigned(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `HttpVersionPolicy`: how the requested version may be changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HttpVersionPolicy {
    /// Use the requested version or a lower one (the default).
    #[default]
    RequestVersionOrLower,
    /// Use the requested version or a higher one.
    RequestVersionOrHigher,
    /// Use exactly the requested version.
    RequestVersionExact,
}

/// Which protocol a connection may use, from its version and policy (.NET's
/// rules); every backend decides with this one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// HTTP/1.1 Upgrade only.
    Http1,
    /// HTTP/2, falling back to HTTP/1.1 when allowed.
    Http2 {
        /// If the server does not pick `h2` in ALPN or does not allow
        /// extended CONNECT (`SETTINGS_ENABLE_CONNECT_PROTOCOL`), use
        /// HTTP/1.1 instead of failing with `UnsupportedProtocol`.
        fallback: bool,
    },
}

impl Plan {
    /// | requested | policy    | `wss://`/`https://`       | `ws://`/`http://`      |
    /// |-----------|-----------|----------------------------|------------------------|
    /// | 1.1       | OrLower   | HTTP/1.1                   | HTTP/1.1               |
    /// | 1.1       | Exact     | HTTP/1.1                   | HTTP/1.1               |
    /// | 1.1       | OrHigher  | ALPN h2 or HTTP/1.1        | HTTP/1.1               |
    /// | 2         | OrLower   | ALPN h2 or HTTP/1.1        | HTTP/1.1               |
    /// | 2         | Exact     | HTTP/2 only                | h2c (prior knowledge)  |
    /// | 2         | OrHigher  | HTTP/2 only                | h2c (prior knowledge)  |
    pub fn choose(version: HttpVersion, policy: HttpVersionPolicy, secure: bool) -> Plan {
        let wants_2 = version == HttpVersion::Http2 || policy == HttpVersionPolicy::RequestVersionOrHigher;
        let allows_1 = version == HttpVersion::Http11 || policy == HttpVersionPolicy::RequestVersionOrLower;
        match (wants_2, secure, allows_1) {
            (false, _, _) => Plan::Http1,
            (true, true, fallback) => Plan::Http2 { fallback },
            // Without TLS there is no ALPN to ask with: h2c is tried only when
            // HTTP/1.1 is not acceptable anyway.
            (true, false, true) => Plan::Http1,
            (true, false, false) => Plan::Http2 { fallback: false },
        }
    }
}

/// Header names and values, in order. In JSON: an object `{"Name": "value"}` or
/// an array of `[name, value]` pairs (which allows a name to repeat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderList(pub Vec<(String, String)>);

impl Serialize for HeaderList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for HeaderList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HeaderList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of header names to values, or an array of [name, value] pairs")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<HeaderList, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(HeaderList(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<HeaderList, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = s.next_element::<(String, String)>()? {
                    out.push((k, v));
                }
                Ok(HeaderList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Every option of a sockweave WebSocket, client or server, in any backend.
///
/// Fields left out take their defaults. Which fields apply where:
/// - all: keep-alive, deflate, limits, `receiveBufferSize`;
/// - clients (`ClientWebSocket`): `subProtocols` (offered), `requestHeaders`,
///   `httpVersion`, `httpVersionPolicy`;
/// - stream-created sockets (`CreateFromStream`): `isServer`, `subProtocol`
///   (already negotiated by whoever did the handshake);
/// - servers: `subProtocols` (accepted, in preference order),
///   `allowedOrigins`, `allowMissingOrigin`; over HTTP/2 also
///   `maxConcurrentStreams`, `maxRequestBodySize`, `maxBufferedRequestBytes`,
///   `idleTimeout`.
///
/// ```
/// use sockweave_core::options::{Millis, Options};
/// let o: Options = serde_json::from_str(r#"{"keepAliveInterval": 10000, "keepAliveTimeout": 5000}"#).unwrap();
/// assert_eq!(o.keep_alive_timeout, Some(Millis::Finite(5000)));
/// assert!(serde_json::from_str::<Options>(r#"{"keepAliveIntervall": 1}"#)
///     .unwrap_err().to_string().contains("keepAliveIntervall"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Options {
    /// Keep-alive interval. `None` means the default of how the socket is made:
    /// 30 s for `ClientWebSocket`, off for a stream-created socket (as in .NET).
    /// Zero or infinite turn keep-alive off. .NET's ClientWebSocket option
    /// `KeepAliveInterval`.
    pub keep_alive_interval: Option<Millis>,
    /// Keep-alive timeout; `None`, zero or infinite select Unsolicited PONG.
    /// .NET's ClientWebSocket option `KeepAliveTimeout` (see [`crate::keepalive`]).
    pub keep_alive_timeout: Option<Millis>,
    /// permessage-deflate parameters; `None` (the default) disables
    /// compression. .NET's ClientWebSocket option `DangerousDeflateOptions`.
    pub dangerous_deflate_options: Option<DeflateOptions>,
    /// Subprotocols offered by a client, in preference order (.NET's
    /// ClientWebSocket: `AddSubProtocol`); for a server, the ones it accepts,
    /// in its preference order.
    pub sub_protocols: Vec<String>,
    /// The subprotocol already negotiated, for a stream-created socket.
    pub sub_protocol: Option<String>,
    /// Extra headers of the client's handshake request (.NET's
    /// ClientWebSocket: `SetRequestHeader`).
    pub request_headers: HeaderList,
    /// Clients: the HTTP version to request for the handshake (default
    /// HTTP/1.1); .NET's ClientWebSocket option `HttpVersion`. What is used in
    /// the end also depends on `http_version_policy` (see [`Plan::choose`]).
    pub http_version: HttpVersion,
    /// Clients: whether a version other than `http_version` may be used
    /// (default: the same or lower); .NET's ClientWebSocket option
    /// `HttpVersionPolicy`.
    pub http_version_policy: HttpVersionPolicy,
    /// For a stream-created socket: act as the server (do not mask, expect masked frames).
    pub is_server: bool,
    /// Bytes of received data buffered before reading from the transport
    /// pauses. Default 64 KiB; 256..=64 MiB ([`Options::MAX_RECEIVE_BUFFER_SIZE`]).
    pub receive_buffer_size: usize,
    /// Largest message accepted, in bytes after decompression; larger closes
    /// with 1009. Default 64 MiB; 1..=2^40 ([`Options::MAX_MESSAGE_SIZE`]).
    pub max_message_size: u64,
    /// Largest single frame accepted, in payload bytes; larger closes with
    /// 1009. Default 16 MiB; 1..=2^40.
    pub max_frame_size: u64,
    /// Largest handshake request or response head, in bytes. Default 16 KiB;
    /// 256..=1 MiB.
    pub max_handshake_header_bytes: usize,
    /// Most header lines in a handshake request or response. Default 64; 8..=1024.
    pub max_handshake_headers: usize,
    /// Time allowed for the opening handshake (connect, TLS, proxy, HTTP).
    /// Default 10 s; must not be zero.
    pub handshake_timeout: Millis,
    /// Time allowed for the peer to answer our Close before the connection is
    /// aborted. Default 10 s; must not be zero.
    pub close_timeout: Millis,
    /// Bytes of frames queued for writing before `send` waits (backpressure).
    /// Default 256 KiB; 0..=1 GiB.
    pub max_pending_output: usize,
    /// Servers: the origins allowed to open a WebSocket, exactly as browsers
    /// send them (`"https://app.example"`, `"http://localhost:8080"`); others
    /// get 403. Empty: any origin (see README "Cross-site WebSocket hijacking").
    pub allowed_origins: Vec<String>,
    /// Servers with `allowed_origins`: also accept requests without an
    /// `Origin` header (non-browser clients; browsers always send one).
    pub allow_missing_origin: bool,
    /// HTTP/2 servers: streams a client may have open at once on one
    /// connection (WebSockets and requests; SETTINGS_MAX_CONCURRENT_STREAMS).
    /// Default 128; 1..=10,000.
    pub max_concurrent_streams: u32,
    /// HTTP/2 servers: the largest body of an ordinary request, in bytes (413
    /// above it). Default 1 MiB; 0..=1 GiB.
    pub max_request_body_size: usize,
    /// HTTP/2 servers: bytes of request bodies buffered at once on one
    /// connection; streams beyond it wait for the application (flow control).
    /// Default 4 MiB; 0..=1 GiB.
    pub max_buffered_request_bytes: usize,
    /// HTTP/2 servers: a connection with no open stream for this long is
    /// closed (GOAWAY); a request body that makes no progress for this long
    /// is reset. Default 60 s; must not be zero.
    pub idle_timeout: Millis,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keep_alive_interval: None,
            keep_alive_timeout: None,
            dangerous_deflate_options: None,
            sub_protocols: Vec::new(),
            sub_protocol: None,
            request_headers: HeaderList::default(),
            http_version: HttpVersion::default(),
            http_version_policy: HttpVersionPolicy::default(),
            is_server: false,
            receive_buffer_size: 64 * 1024,
            max_message_size: 64 << 20,
            max_frame_size: 16 << 20,
            max_handshake_header_bytes: HandshakeLimits::default().max_header_bytes,
            max_handshake_headers: HandshakeLimits::default().max_headers,
            handshake_timeout: Millis::from_secs(10),
            close_timeout: Millis::from_secs(10),
            max_pending_output: 256 * 1024,
            allowed_origins: Vec::new(),
            allow_missing_origin: false,
            max_concurrent_streams: 128,
            max_request_body_size: 1 << 20,
            max_buffered_request_bytes: 4 << 20,
            idle_timeout: Millis::from_secs(60),
        }
    }
}

/// An option with a value it cannot take. `key` is the camelCase path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionsError {
    /// The offending key, e.g. `"maxFrameSize"` or
    /// `"dangerousDeflateOptions.clientMaxWindowBits"`.
    pub key: String,
    /// What is wrong with its value and what would be accepted.
    pub message: String,
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid option `{}`: {}", self.key, self.message)
    }
}

impl core::error::Error for OptionsError {}

/// The default `ClientWebSocket` keep-alive interval (.NET's `WebSocket.DefaultKeepAliveInterval`).
pub const DEFAULT_KEEP_ALIVE_INTERVAL: Millis = Millis::from_secs(30);

impl Options {
    /// Every top-level key, for backends that must reject unknown keys themselves.
    pub const KEYS: &'static [&'static str] = &[
        "keepAliveInterval",
        "keepAliveTimeout",
        "dangerousDeflateOptions",
        "subProtocols",
        "subProtocol",
        "requestHeaders",
        "httpVersion",
        "httpVersionPolicy",
        "isServer",
        "receiveBufferSize",
        "maxMessageSize",
        "maxFrameSize",
        "maxHandshakeHeaderBytes",
        "maxHandshakeHeaders",
        "handshakeTimeout",
        "closeTimeout",
        "maxPendingOutput",
        "allowedOrigins",
        "allowMissingOrigin",
        "maxConcurrentStreams",
        "maxRequestBodySize",
        "maxBufferedRequestBytes",
        "idleTimeout",
    ];
    /// The keys of `dangerousDeflateOptions`.
    pub const DEFLATE_KEYS: &'static [&'static str] = &[
        "clientMaxWindowBits",
        "serverMaxWindowBits",
        "clientContextTakeover",
        "serverContextTakeover",
    ];

    /// Checks values serde cannot: ranges and consistency. The error names the key.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let err = |key: &str, message: String| {
            Err(OptionsError {
                key: String::from(key),
                message,
            })
        };
        if let Some(d) = &self.dangerous_deflate_options {
            for (key, bits) in [
                (
                    "dangerousDeflateOptions.clientMaxWindowBits",
                    d.client_max_window_bits,
                ),
                (
                    "dangerousDeflateOptions.serverMaxWindowBits",
                    d.server_max_window_bits,
                ),
            ] {
                if !(8..=15).contains(&bits) {
                    return err(key, format!("{bits} is outside 8..=15 (RFC 7692 window bits)"));
                }
            }
        }
        // Every size has a ceiling: a value a peer can make us allocate must
        // not be one that fails the allocation (in wasm that ends every
        // connection of the process).
        for (key, value, min, max) in [
            (
                "receiveBufferSize",
                self.receive_buffer_size as u64,
                256,
                Self::MAX_RECEIVE_BUFFER_SIZE,
            ),
            ("maxFrameSize", self.max_frame_size, 1, Self::MAX_MESSAGE_SIZE),
            ("maxMessageSize", self.max_message_size, 1, Self::MAX_MESSAGE_SIZE),
            (
                "maxHandshakeHeaderBytes",
                self.max_handshake_header_bytes as u64,
                256,
                1 << 20,
            ),
            ("maxHandshakeHeaders", self.max_handshake_headers as u64, 8, 1024),
            ("maxPendingOutput", self.max_pending_output as u64, 0, 1 << 30),
            (
                "maxConcurrentStreams",
                u64::from(self.max_concurrent_streams),
                1,
                10_000,
            ),
            (
                "maxRequestBodySize",
                self.max_request_body_size as u64,
                0,
                1 << 30,
            ),
            (
                "maxBufferedRequestBytes",
                self.max_buffered_request_bytes as u64,
                0,
                1 << 30,
            ),
        ] {
            if value < min {
                return err(key, format!("{value} is too small; use at least {min}"));
            }
            if value > max {
                return err(key, format!("{value} is too large; the limit is {max}"));
            }
        }
        for (key, t) in [
            ("handshakeTimeout", self.handshake_timeout),
            ("closeTimeout", self.close_timeout),
            ("idleTimeout", self.idle_timeout),
        ] {
            if t == Millis::ZERO {
                return err(key, String::from("must be positive (or \"infinite\")"));
            }
        }
        if let Err(e) = crate::headers::validate_subprotocols(&self.sub_protocols) {
            return err("subProtocols", String::from(e.message()));
        }
        if let Some(p) = &self.sub_protocol {
            if let Err(e) = crate::headers::validate_subprotocols(core::slice::from_ref(p)) {
                return err("subProtocol", String::from(e.message()));
            }
        }
        if let Err(e) = crate::headers::validate_extra_headers(&self.request_headers.0) {
            return err("requestHeaders", String::from(e.message()));
        }
        for o in &self.allowed_origins {
            if o.is_empty()
                || o.ends_with('/')
                || !o.contains("://")
                || o.bytes().any(|b| b <= b' ' || b == 0x7f)
            {
                return err(
                    "allowedOrigins",
                    format!(
                        "{o:?} is not an origin; write scheme://host[:port], e.g. \"https://app.example\""
                    ),
                );
            }
        }
        Ok(())
    }

    /// The largest `receiveBufferSize`.
    pub const MAX_RECEIVE_BUFFER_SIZE: u64 = 64 << 20;
    /// The largest `maxMessageSize` and `maxFrameSize` (a message is never
    /// held whole by the engine, so this bounds counters, not memory).
    pub const MAX_MESSAGE_SIZE: u64 = 1 << 40;

    /// The handshake parser limits these options ask for.
    pub fn handshake_limits(&self) -> HandshakeLimits {
        HandshakeLimits {
            max_header_bytes: self.max_handshake_header_bytes,
            max_headers: self.max_handshake_headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn json_round_trip_and_defaults() {
        let o: Options = serde_json::from_str("{}").unwrap();
        assert_eq!(o, Options::default());
        let o = Options {
            keep_alive_interval: Some(Millis::Infinite),
            dangerous_deflate_options: Some(DeflateOptions {
                client_max_window_bits: 10,
                ..Default::default()
            }),
            http_version: HttpVersion::Http2,
            request_headers: HeaderList(alloc::vec![("X-A".into(), "1".into())]),
            ..Default::default()
        };
        let s = serde_json::to_string(&o).unwrap();
        assert_eq!(serde_json::from_str::<Options>(&s).unwrap(), o);
    }

    #[test]
    fn every_key_is_listed() {
        let v = serde_json::to_value(Options {
            dangerous_deflate_options: Some(DeflateOptions::default()),
            ..Default::default()
        })
        .unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut a = keys.clone();
        a.sort();
        let mut b = Options::KEYS.to_vec();
        b.sort();
        assert_eq!(a, b);
        let d: Vec<&str> = v["dangerousDeflateOptions"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let (mut d, mut e) = (d, Options::DEFLATE_KEYS.to_vec());
        d.sort();
        e.sort();
        assert_eq!(d, e);
    }

    #[test]
    fn values_are_checked_and_named() {
        let o: Options =
            serde_json::from_str(r#"{"dangerousDeflateOptions": {"clientMaxWindowBits": 7}}"#).unwrap();
        let e = o.validate().unwrap_err();
        assert_eq!(e.key, "dangerousDeflateOptions.clientMaxWindowBits");
        let e = serde_json::from_str::<Options>(r#"{"dangerousDeflateOptions": {"clientMaxWindowBit": 9}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("clientMaxWindowBit"), "{e}");
        let o: Options = serde_json::from_str(r#"{"requestHeaders": [["Upgrade", "x"]]}"#).unwrap();
        assert_eq!(o.validate().unwrap_err().key, "requestHeaders");
        let o: Options =
            serde_json::from_str(r#"{"keepAliveTimeout": "infinite", "httpVersion": "2"}"#).unwrap();
        assert_eq!(o.keep_alive_timeout, Some(Millis::Infinite));
        assert!(serde_json::from_str::<Options>(r#"{"keepAliveTimeout": -5}"#).is_err());
        assert!(
            serde_json::from_str::<Options>(r#"{"httpVersionPolicy": "requestVersionOrHigher"}"#).is_ok()
        );
        assert!(serde_json::from_str::<Options>(r#"{"httpVersionPolicy": "orHigher"}"#).is_err());
    }

    #[test]
    fn every_size_has_a_ceiling() {
        for (json, key) in [
            (r#"{"receiveBufferSize": 4294967296}"#, "receiveBufferSize"),
            (r#"{"maxHandshakeHeaders": 100000000}"#, "maxHandshakeHeaders"),
            (
                r#"{"maxHandshakeHeaderBytes": 4294967296}"#,
                "maxHandshakeHeaderBytes",
            ),
            (r#"{"maxMessageSize": 18446744073709551615}"#, "maxMessageSize"),
            (r#"{"maxFrameSize": 18446744073709551615}"#, "maxFrameSize"),
            (r#"{"maxPendingOutput": 4294967296}"#, "maxPendingOutput"),
            (r#"{"maxConcurrentStreams": 0}"#, "maxConcurrentStreams"),
            (r#"{"maxConcurrentStreams": 10001}"#, "maxConcurrentStreams"),
            (r#"{"idleTimeout": 0}"#, "idleTimeout"),
            (
                r#"{"allowedOrigins": ["https://app.example/"]}"#,
                "allowedOrigins",
            ),
            (r#"{"allowedOrigins": ["app.example"]}"#, "allowedOrigins"),
        ] {
            let o: Options = serde_json::from_str(json).unwrap();
            let e = o.validate().unwrap_err();
            assert_eq!(e.key, key, "{json}");
            assert!(!e.to_string().is_empty());
        }
        // The ceilings themselves are accepted.
        let o: Options = serde_json::from_str(
            r#"{"receiveBufferSize": 67108864, "maxHandshakeHeaders": 1024,
                "allowedOrigins": ["https://app.example", "http://localhost:8080"]}"#,
        )
        .unwrap();
        o.validate().unwrap();
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn plan_follows_the_version_policy_table() {
        use HttpVersion::*;
        use HttpVersionPolicy::*;
        let cases = [
            (Http11, RequestVersionOrLower, Plan::Http1, Plan::Http1),
            (Http11, RequestVersionExact, Plan::Http1, Plan::Http1),
            (
                Http11,
                RequestVersionOrHigher,
                Plan::Http2 { fallback: true },
                Plan::Http1,
            ),
            (
                Http2,
                RequestVersionOrLower,
                Plan::Http2 { fallback: true },
                Plan::Http1,
            ),
            (
                Http2,
                RequestVersionExact,
                Plan::Http2 { fallback: false },
                Plan::Http2 { fallback: false },
            ),
            (
                Http2,
                RequestVersionOrHigher,
                Plan::Http2 { fallback: false },
                Plan::Http2 { fallback: false },
            ),
        ];
        for (v, p, secure, plain) in cases {
            assert_eq!(Plan::choose(v, p, true), secure, "{v:?} {p:?} over TLS");
            assert_eq!(Plan::choose(v, p, false), plain, "{v:?} {p:?} without TLS");
        }
    }
}
