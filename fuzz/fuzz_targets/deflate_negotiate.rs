//! permessage-deflate negotiation on arbitrary `Sec-WebSocket-Extensions`
//! values: the server choosing among offers, the client checking an answer.
//!
//! Input: byte 0 picks the options of both sides (window bits and context
//! takeover); the rest, as lossy UTF-8, is the header value.
//!
//! Checks: what the server accepts has windows in 8..=15 and never larger than
//! its own options allow, and its answer, given back to a client that made an
//! offer the server's choice satisfies, is accepted with the same parameters;
//! whatever the client accepts lies within what it offered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockweave_core::deflate::{client_accept, client_offer, server_accept};
use sockweave_core::handshake::parse_extensions;
use sockweave_core::options::DeflateOptions;

fn options(b: u8) -> DeflateOptions {
    DeflateOptions {
        client_max_window_bits: 8 + (b & 0x07),
        server_max_window_bits: 8 + ((b >> 3) & 0x07),
        client_context_takeover: b & 0x40 == 0,
        server_context_takeover: b & 0x80 == 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    let ours = options(config);
    let text = String::from_utf8_lossy(rest);
    let Ok(list) = parse_extensions(&text) else {
        return;
    };

    // The server's choice among the offers in the header.
    if let Some((params, answer)) = server_accept(&ours, &list) {
        assert!((8..=15).contains(&params.server_max_window_bits));
        assert!((8..=15).contains(&params.client_max_window_bits));
        // The server never compresses with a larger window than it allows itself
        // (8 is served by 9, see deflate/compress.rs).
        assert!(params.server_max_window_bits <= ours.server_max_window_bits.max(9));
        if !ours.server_context_takeover {
            assert!(params.server_no_context_takeover);
        }
        // A client whose own options match what the server chose accepts the answer.
        let client = DeflateOptions {
            client_max_window_bits: 15,
            server_max_window_bits: 15,
            client_context_takeover: true,
            server_context_takeover: true,
        };
        let _ = client_offer(&client);
        if let Ok(p) = client_accept(&client, &answer) {
            assert_eq!(p.server_max_window_bits, params.server_max_window_bits);
            assert_eq!(p.server_no_context_takeover, params.server_no_context_takeover);
        }
    }

    // The client checking each listed extension as the server's answer.
    for e in &list {
        if let Ok(p) = client_accept(&ours, e) {
            assert!(p.client_max_window_bits <= ours.client_max_window_bits.max(9));
            assert!(p.server_max_window_bits <= ours.server_max_window_bits);
            if !ours.server_context_takeover {
                assert!(p.server_no_context_takeover);
            }
        }
    }
});
