//! Helpers shared by the fuzz targets: the fixed client handshake, small
//! HTTP checks that need no HTTP parser, and the session driver.

pub mod session;

use sockweave_core::handshake::{ClientHandshake, ClientRequest, Extension, HandshakeLimits};
use sockweave_core::options::DeflateOptions;

/// Subprotocols the fixed client handshake offers.
pub const OFFERED_PROTOCOLS: &[&str] = &["chat", "superchat"];
/// Extension names the fixed client handshake offers: permessage-deflate
/// (with [`OFFERED_DEFLATE`]) and one the engine does not implement.
pub const OFFERED_EXTENSIONS: &[&str] = &["permessage-deflate", "x-sockweave-test"];
/// The permessage-deflate offer of the fixed client handshake:
/// `permessage-deflate; client_max_window_bits=12; server_no_context_takeover`.
pub const OFFERED_DEFLATE: DeflateOptions = DeflateOptions {
    client_max_window_bits: 12,
    server_max_window_bits: 15,
    client_context_takeover: true,
    server_context_takeover: false,
};
/// The fixed nonce: its key is `AQIDBAUGBwgJCgsMDQ4PEA==`, whose
/// `Sec-WebSocket-Accept` is `C/0nmHhBztSRGR1CwL6Tf4ZjwpY=` (see the seeds).
pub const NONCE: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/// The client handshake of `handshake_client_response`, and its request bytes.
pub fn client_handshake() -> (ClientHandshake, Vec<u8>) {
    let req = ClientRequest {
        host: String::from("example.com:8080"),
        path: String::from("/chat?room=1"),
        subprotocols: OFFERED_PROTOCOLS.iter().map(|p| String::from(*p)).collect(),
        deflate: Some(OFFERED_DEFLATE),
        extensions: vec![Extension::new(OFFERED_EXTENSIONS[1])],
        headers: vec![(String::from("Origin"), String::from("https://example.com"))],
    };
    ClientHandshake::new(&req, NONCE, HandshakeLimits::default()).expect("fixed request is valid")
}

/// A split point in `0..=data.len()` that depends on all of `data` (FNV-1a), so
/// the fuzzer explores different splits without a separate input field.
pub fn split_point(data: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % (data.len() as u64 + 1)) as usize
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The lines of an HTTP head written by the engine, without an HTTP parser:
/// every line ends with CRLF, no line holds another CR or LF, the head ends
/// with an empty line and nothing follows it, and every line after the status
/// line is `Name: value` with a token name. `None` if any of that is false.
pub fn head_lines(head: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(head).ok()?;
    let body = text.strip_suffix("\r\n\r\n")?;
    let lines: Vec<&str> = body.split("\r\n").collect();
    if lines.iter().any(|l| l.contains(['\r', '\n'])) {
        return None;
    }
    for l in &lines[1..] {
        let (name, _) = l.split_once(": ")?;
        if !is_token(name) {
            return None;
        }
    }
    Some(lines)
}

/// An HTTP token (RFC 9110 section 5.6.2).
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}
