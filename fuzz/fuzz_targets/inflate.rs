//! The decompressor on arbitrary raw-deflate input, fed in pieces and drained
//! into small output buffers with a size limit, as the session does.
//!
//! Input: byte 0: input piece size (1..=64 or all), byte 1: output buffer size
//! (1..=256); the rest is the compressed message (RFC 7692's tail is appended).
//!
//! Checks: no panic; consumed never exceeds what was given; written never
//! exceeds the buffer; the total stays within the limit or the run stops
//! there (a bomb costs at most the limit); an error is final for the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockweave_core::deflate::{Decompressor, TAIL};

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let [piece, out_size, rest @ ..] = data else {
        return;
    };
    let piece = if *piece == 0 { usize::MAX } else { (*piece as usize % 64) + 1 };
    let out_size = (*out_size as usize) + 1;
    let mut message = rest.to_vec();
    message.extend_from_slice(&TAIL);
    let mut d = Decompressor::new();
    let mut out = vec![0u8; out_size];
    let mut total = 0usize;
    let mut input = &message[..];
    let mut idle = 0;
    loop {
        let take = input.len().min(piece);
        match d.decompress(&input[..take], &mut out) {
            Ok((used, wrote, ended)) => {
                assert!(used <= take);
                assert!(wrote <= out.len());
                total += wrote;
                input = &input[used..];
                if total > LIMIT || ended {
                    break;
                }
                if used == 0 && wrote == 0 {
                    idle += 1;
                    // No progress with input left (or none): the message is done.
                    if input.is_empty() || idle > 2 {
                        break;
                    }
                } else {
                    idle = 0;
                }
            }
            Err(_) => break,
        }
    }
    // The decompressor can be reused after reset, as with no context takeover.
    d.reset();
    let _ = d.decompress(&TAIL, &mut out);
});
