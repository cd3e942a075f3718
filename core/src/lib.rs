//! # sockweave-core
//!
//! The protocol engine of sockweave, with no I/O, no clock and no async:
//! a state machine that takes bytes (and, for keep-alive, the time) and gives
//! back bytes to write and messages for the application. The `sockweave` crate
//! runs it on tokio; `sockweave-wasm` runs it in Node and browsers.
//!
//! | module | what it does |
//! |---|---|
//! | [`frame`] | RFC 6455 frame header encoding and decoding |
//! | [`mask`] | fast payload masking |
//! | [`handshake`] | HTTP/1.1 Upgrade (both roles) and HTTP/2 extended CONNECT headers |
//! | [`auth`] | HTTP Basic credentials for a client's handshake: when a 401 is answered, and with what |
//! | [`keepalive`] | the keep-alive strategies (off, unsolicited PONG, PING/PONG) |
//! | [`session`] | the connection state machine: messages, control frames, close handshake |
//! | [`options`] | the one options type of every backend (serde, camelCase) |
//! | [`proxy`] | the HTTP proxy `CONNECT` tunnel: its request, the check of the proxy's answer |
//! | [`proxy_env`] | which proxy the environment (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`) names for a URL |
//! | [`deflate`] | permessage-deflate: negotiation, compressor, decompressor |
//! | [`close`] | close codes and close frame payloads |
//! | [`utf8`] | incremental UTF-8 validation |
//! | [`error`] | the error type, with .NET `WebSocketError` kinds |
//!
//! ```
//! use sockweave_core::session::{MessageType, Role, SendFlags, Session, SessionConfig};
//!
//! let mut client = Session::new(SessionConfig::new(Role::Client), [7; 32]);
//! let mut server = Session::new(SessionConfig::new(Role::Server), [0; 32]);
//! client.send(b"hello", MessageType::Text, SendFlags::END_OF_MESSAGE).unwrap();
//! let wire = client.pending_output().to_vec();
//! client.consume_output(wire.len());
//! server.feed(&wire);
//! let mut buf = [0u8; 16];
//! let r = server.receive(&mut buf).unwrap().unwrap();
//! assert_eq!(&buf[..r.count], b"hello");
//! assert!(r.end_of_message);
//! ```
#![no_std]
// Every public item says what it means to a user (units, defaults, RFC sections).
#![warn(missing_docs)]
// Unsafe code is allowed in one place: the allocator glue of the deflate compressor.
#![deny(unsafe_code)]

extern crate alloc;

pub mod auth;
pub mod close;
pub mod deflate;
pub mod error;
pub mod extensions;
pub mod frame;
pub mod handshake;
pub mod headers;
pub mod http1;
pub mod keepalive;
pub mod mask;
pub mod options;
pub mod proxy;
pub mod proxy_env;
pub mod session;
pub mod utf8;

pub use close::CloseCode;
pub use error::{Error, ErrorKind};
pub use options::Options;
pub use session::{MessageType, ReceiveResult, Role, SendFlags, Session, SessionConfig, State};
