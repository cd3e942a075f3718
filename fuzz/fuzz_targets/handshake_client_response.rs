//! `ClientHandshake::parse_response` on arbitrary bytes, whole and in two parts.
//!
//! The handshake is built from a fixed request (see `sockweave_fuzz::client_handshake`)
//! offering two subprotocols, permessage-deflate and one other extension, so
//! the seeds hold a response with the matching `Sec-WebSocket-Accept`.
//!
//! Checks: an accepted head is within the input and the limits, with status 101
//! and only offered choices (deflate parameters within the offer); a caller that first sees a prefix and then the
//! whole input (as a backend reading from a socket does) gets the same answer
//! as one that sees the whole input at once: "incomplete" for a prefix shorter
//! than the head, and exactly the whole-input result for a prefix that holds it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockweave_core::handshake::HandshakeLimits;
use sockweave_fuzz::{client_handshake, split_point, OFFERED_DEFLATE, OFFERED_EXTENSIONS, OFFERED_PROTOCOLS};

fuzz_target!(|data: &[u8]| {
    let (hs, _request) = client_handshake();
    let limits = HandshakeLimits::default();
    let whole = hs.parse_response(data);
    match &whole {
        Ok(Some((acc, n))) => {
            assert!(
                *n <= data.len() && *n <= limits.max_header_bytes,
                "head of {n} bytes"
            );
            assert!(data[..*n].ends_with(b"\n"), "head does not end at a line end");
            assert_eq!(acc.response.status, 101);
            if let Some(p) = &acc.protocol {
                assert!(
                    OFFERED_PROTOCOLS.contains(&p.as_str()),
                    "protocol {p:?} not offered"
                );
            }
            for e in &acc.extensions {
                assert!(
                    OFFERED_EXTENSIONS.iter().any(|o| o.eq_ignore_ascii_case(&e.name)),
                    "extension {:?} not offered",
                    e.name
                );
            }
            assert!(acc.response.header("sec-websocket-accept").is_some());
            let deflates = acc
                .extensions
                .iter()
                .filter(|e| e.name.eq_ignore_ascii_case("permessage-deflate"))
                .count();
            assert_eq!(deflates, usize::from(acc.deflate.is_some()), "{acc:?}");
            if let Some(p) = acc.deflate {
                // Never more than we offered, and the takeover we required.
                assert!((8..=OFFERED_DEFLATE.server_max_window_bits).contains(&p.server_max_window_bits));
                assert!((8..=OFFERED_DEFLATE.client_max_window_bits).contains(&p.client_max_window_bits));
                assert!(
                    p.server_no_context_takeover,
                    "server_no_context_takeover was required"
                );
            }
        }
        Ok(None) => assert!(data.len() <= limits.max_header_bytes),
        Err(e) => {
            let _ = e.to_string();
            if let Some(r) = &e.response {
                let _ = r.header("www-authenticate");
            }
        }
    }
    // The head's end, when the whole input has a complete head (accepted or not).
    let head_len = match &whole {
        Ok(Some((_, n))) => Some(*n),
        _ => None,
    };

    let cut = split_point(data);
    let prefix = &data[..cut];
    let first = hs.parse_response(prefix);
    if cut == data.len() || first.is_err() {
        // An error is final: more bytes must not change it.
        assert_eq!(first, whole, "prefix of {cut} bytes answered differently");
    } else if let Some(n) = head_len {
        if cut < n {
            assert!(
                matches!(first, Ok(None)),
                "prefix of {cut} bytes of a {n}-byte head gave {first:?}"
            );
        } else {
            assert_eq!(
                first, whole,
                "prefix of {cut} bytes holding the whole head differs"
            );
        }
    } else if let Ok(Some((_, n))) = &first {
        panic!("prefix of {cut} bytes accepted a {n}-byte head but the whole input gave {whole:?}");
    }
    if matches!(first, Ok(None)) {
        // What a backend does next: call again with everything received so far.
        assert_eq!(hs.parse_response(data), whole, "not deterministic");
    }
});
