//! sockweave-wasm: the engine of `sockweave-core` for JavaScript hosts (Node and
//! browsers), through wasm-bindgen.
//!
//! The crate is sans-IO like the core: JavaScript owns the transport and the
//! timers, and moves bytes in and out of a [`Session`] exactly as the native
//! backend's driver does (`native/src/websocket.rs`):
//!
//! - bytes read from the transport go to [`Session::feed`]; a return value
//!   smaller than the input means the receive buffer is full: stop reading
//!   until the application receives, then feed the rest;
//! - [`Session::take_output`] gives the frame bytes to write;
//! - [`Session::poll_timeout`] / [`Session::handle_timeout`] drive keep-alive,
//!   with `now` in milliseconds since the session was made.
//!
//! The handshakes are [`ClientHandshake`] (build the request, check the
//! response) and [`parse_request`] / [`ServerHandshake`] (check a request,
//! build the `101` or the refusal); over HTTP/2 (RFC 8441),
//! [`H2ClientHandshake`] and [`parse_h2_request`] /
//! [`ServerHandshake::accept_h2`] do the same with header lists, the JS host
//! owning the HTTP/2 connection (`node:http2`).
//!
//! Options are the core's [`Options`](sockweave_core::Options) in their JSON
//! form (camelCase keys), read by hand with js-sys (no serde in this crate,
//! for the module's size): unknown keys and wrong types are errors that name
//! the key, then [`Options::validate`](sockweave_core::Options::validate)
//! checks ranges. Errors are JS `Error`s named `WebSocketError` with a stable
//! `code` (the core's `ErrorKind` names, see `Error::code`) and, where there
//! is one, `closeCode`, `key`, `status`.
//!
//! The modules, each importing only modules below it in this list:
//!
//! | module | what it holds |
//! |---|---|
//! | `client` | the client's handshakes: HTTP/1.1 Upgrade ([`ClientHandshake`]) and HTTP/2 extended CONNECT ([`H2ClientHandshake`]); HTTP Basic after a 401 ([`basic_retry`]) |
//! | `server` | the server's handshakes: a request checked and admitted ([`parse_request`], [`parse_h2_request`]), then answered ([`ServerHandshake`]) |
//! | `session` | [`Session`], a connection after its handshake, and [`Received`] |
//! | `options` | the options object checked ([`parse_options`]), completed ([`normalize_options`]); the version policy ([`choose_plan`]) |
//! | `proxy` | HTTP proxies: the `CONNECT` request and the check of its answer ([`proxy_connect_request`], [`proxy_check_response`]), the environment's proxy ([`proxy_from_env`]) |
//! | `convert` | JS values from and to Rust ones: `WebSocketError`s, header lists, responses; the value readers the options use |
//! | `memory` | [`memory_bytes`] |

#![deny(missing_docs)]

mod client;
mod convert;
mod memory;
mod options;
mod proxy;
mod server;
mod session;

pub use client::{basic_retry, ClientHandshake, H2ClientHandshake};
pub use memory::memory_bytes;
pub use options::{choose_plan, normalize_options, parse_options};
pub use proxy::{
    proxy_check_response, proxy_check_url, proxy_connect_request, proxy_from_env, proxy_unusable,
};
pub use server::{parse_h2_request, parse_request, ServerHandshake};
pub use session::{Received, Session};

/// The allocator: talc instead of Rust's default dlmalloc, for a smaller
/// module at the same speed (npm/README.md, "wasm size"). It grows the linear
/// memory as needed, like dlmalloc; the module is single-threaded.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
