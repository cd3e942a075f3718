//! The integration tests' support layer, in the spirit of h2's `h2-support`:
//! in-memory peers ([`peer`]), frame builders on the core's own encoder
//! ([`frames`]), peers made of sockweave itself ([`servers`]), a test PKI
//! ([`pki`]), a counting allocator ([`heap`]), and a time bound for test
//! bodies. Tests about sockets use [`listen`] and real TCP; the rest can use
//! [`peer`] and tokio's paused clock.
//!
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code, unused_imports)]

pub mod frames;
pub mod heap;
pub mod peer;
pub mod pki;
pub mod servers;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

pub use frames::{masked_frame, read_frame, read_masked_frame, server_frame, text_frame};
pub use pki::{Ca, Leaf};
pub use servers::{
    assert_echo, basic, basic_auth_server, connect, echo, echo_server, h2_only_client, raw_accept,
    tls_echo_server, tls_echo_server_for,
};

/// Safety bound around every test body: a hang fails the test instead of blocking the run.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Runs `f`, failing the test if it takes longer than [`LIMIT`].
pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("the test did not finish within its 10 s safety bound")
}

/// A loopback listener and its port.
pub async fn listen() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}
