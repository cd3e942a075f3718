//! The invoker's HTTP/1.1 response reader (`sockweave_core::http1`): a head,
//! then a body in its framing, on arbitrary bytes fed whole and in pieces.
//!
//! The first input byte picks a `HEAD` request (bit 0) and the size of the
//! pieces the body is fed in (the rest of the byte, plus one); the rest is
//! what the server sent.
//!
//! Checks: a parsed head is within the input and the limits; a prefix cut
//! inside the head is "incomplete", one holding it gives the same head; the
//! body decoded in pieces gives exactly what it gives decoded whole (bytes
//! and where it ended, or the same error); a body never exceeds the limit, a `Content-Length`
//! body that completes has exactly that length; and end-of-input completes a
//! read-until-close body and fails any other unfinished one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockweave_core::headers::HandshakeLimits;
use sockweave_core::http1::{parse_response_head, BodyDecoder, Framing, Http1Error};
use sockweave_fuzz::split_point;

const MAX_BODY: u64 = 4096;

/// Decodes `input` in pieces of `step`: (body, bytes used, done, error).
fn decode(framing: Framing, input: &[u8], step: usize) -> (Vec<u8>, usize, bool, Option<Http1Error>) {
    let mut d = match BodyDecoder::new(framing, MAX_BODY) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), 0, false, Some(e)),
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < input.len() && !d.is_done() {
        let end = (at + step).min(input.len());
        match d.decode(&input[at..end], &mut out) {
            Ok(n) => {
                assert!(n <= end - at);
                assert!(n == end - at || d.is_done(), "stopped early without finishing");
                at += n;
            }
            // How much was decoded before an error depends on the pieces; the error does not.
            Err(e) => return (Vec::new(), 0, false, Some(e)),
        }
        assert!(out.len() as u64 <= MAX_BODY, "body over the limit");
        assert_eq!(out.len() as u64, d.received());
    }
    let done_before_eof = d.is_done();
    let eof = d.end_of_input();
    match framing {
        Framing::UntilClose => assert!(eof.is_ok()),
        _ => assert_eq!(eof.is_ok(), done_before_eof),
    }
    if let (Framing::Length(n), true) = (framing, done_before_eof) {
        assert_eq!(out.len() as u64, n);
    }
    (out, at, done_before_eof, eof.err())
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, raw)) = data.split_first() else {
        return;
    };
    let head_request = flags & 1 == 1;
    let step = usize::from(flags >> 1) + 1;
    let limits = HandshakeLimits::default();
    let whole = parse_response_head(raw, &limits, head_request);
    let cut = split_point(raw);
    let prefix = parse_response_head(&raw[..cut], &limits, head_request);
    let Ok(Some((head, used))) = whole else {
        // Without a head in the whole input, no prefix has one either.
        assert!(
            !matches!(prefix, Ok(Some(_))),
            "a prefix has a head the whole input lacks"
        );
        return;
    };
    assert!(
        used <= raw.len() && used <= limits.max_header_bytes,
        "head of {used} bytes"
    );
    assert!(head.headers.len() <= limits.max_headers);
    match prefix {
        Ok(Some((h, n))) => assert_eq!((h, n), (head.clone(), used), "a prefix parses differently"),
        Ok(None) => assert!(cut < used, "a prefix holding the head is incomplete"),
        Err(e) => panic!("a prefix of a valid head is an error: {e}"),
    }
    if head_request || (100..200).contains(&head.status) || head.status == 204 || head.status == 304 {
        assert_eq!(head.framing, Framing::None);
    }
    let body = &raw[used..];
    let at_once = decode(head.framing, body, body.len().max(1));
    let in_pieces = decode(head.framing, body, step);
    assert_eq!(at_once, in_pieces, "pieces of {step} decode differently");
});
