//! In-memory peers over a tokio duplex pipe, in the spirit of h2's
//! `h2-support`: no sockets, no ports, and with `start_paused` tests the
//! clock is tokio's, so timers fire exactly and take no real time.

use sockweave::{Options, WebSocket};
use tokio::io::DuplexStream;

/// Bytes the pipe holds in each direction before a writer waits.
pub const PIPE: usize = 64 * 1024;

/// A connected client and server, the handshake done elsewhere (as
/// `WebSocket::from_stream` is used): `client` and `server` are the options
/// of each side (`is_server` is set here).
pub fn pair(client: Options, server: Options) -> (WebSocket, WebSocket) {
    let (a, b) = tokio::io::duplex(PIPE);
    let c = WebSocket::from_stream(
        a,
        &Options {
            is_server: false,
            ..client
        },
    )
    .unwrap();
    let s = WebSocket::from_stream(
        b,
        &Options {
            is_server: true,
            ..server
        },
    )
    .unwrap();
    (c, s)
}

/// One WebSocket and the raw other end of its pipe, for a test that plays
/// the peer byte by byte (frames from [`super::frames`]).
pub fn raw(options: Options) -> (WebSocket, DuplexStream) {
    let (a, b) = tokio::io::duplex(PIPE);
    (WebSocket::from_stream(a, &options).unwrap(), b)
}
