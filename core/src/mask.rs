//! Masking and unmasking of payloads (RFC 6455 section 5.3).
//!
//! Masking is an XOR with a 4-byte key repeated over the payload. The key is
//! widened to a 64-byte pattern so the compiler turns the main loop into
//! full-width vector XORs (SSE2 on any x86-64, NEON, wasm simd128 when enabled);
//! only the unaligned head and the short tail are handled byte by byte.

/// XORs `buf` with `key`, starting at key position `phase` (0..=3).
///
/// `phase` lets a payload be unmasked in pieces as it arrives: pass the number of
/// payload bytes already processed (modulo 4 is taken here). Returns the phase for
/// the next piece.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    let mut phase = phase & 3;
    let next = (phase + buf.len()) & 3;
    // Short buffers (control frames, tiny messages) are not worth the setup.
    if buf.len() < 64 {
        for b in buf.iter_mut() {
            *b ^= key[phase];
            phase = (phase + 1) & 3;
        }
        return next;
    }
    // Head: up to the next 8-byte boundary so the wide loop works on aligned words.
    let head = buf.as_ptr().align_offset(8).min(buf.len());
    let (first, rest) = buf.split_at_mut(head);
    for b in first.iter_mut() {
        *b ^= key[phase];
        phase = (phase + 1) & 3;
    }
    let rotated = [
        key[phase],
        key[(phase + 1) & 3],
        key[(phase + 2) & 3],
        key[(phase + 3) & 3],
    ];
    let mut pattern = [0u8; 64];
    for (i, p) in pattern.iter_mut().enumerate() {
        *p = rotated[i & 3];
    }
    let mut chunks = rest.chunks_exact_mut(64);
    for chunk in &mut chunks {
        for (b, m) in chunk.iter_mut().zip(pattern.iter()) {
            *b ^= m;
        }
    }
    // Each chunk is a multiple of 4 bytes, so the tail starts at phase 0 of `rotated`.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= rotated[i & 3];
    }
    next
}

/// Appends `src` masked with `key` (from key position 0) to `out`: the copy
/// and the XOR in one pass over the payload, instead of copying it into the
/// output buffer and masking it there.
pub fn extend_masked(out: &mut alloc::vec::Vec<u8>, src: &[u8], key: [u8; 4]) {
    out.reserve(src.len());
    if src.len() < 64 {
        out.extend(src.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
        return;
    }
    let mut pattern = [0u8; 64];
    for (i, p) in pattern.iter_mut().enumerate() {
        *p = key[i & 3];
    }
    let mut chunks = src.chunks_exact(64);
    for chunk in &mut chunks {
        let mut block = [0u8; 64];
        for ((d, s), m) in block.iter_mut().zip(chunk).zip(pattern.iter()) {
            *d = s ^ m;
        }
        out.extend_from_slice(&block);
    }
    // Each chunk is a multiple of 4 bytes, so the tail starts at key position 0.
    let tail = chunks.remainder();
    out.extend(tail.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
}

/// The reference implementation: one byte at a time. Used by tests and the
/// masking benchmark as the baseline.
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(phase + i) & 3];
    }
    (phase + buf.len()) & 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn fast_mask_matches_bytewise_at_every_offset_and_phase() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..600u32).map(|i| (i * 7 + 3) as u8).collect();
        for start in 0..9 {
            for len in [0, 1, 3, 63, 64, 65, 127, 200, 591] {
                for phase in 0..4 {
                    let mut a = data.clone();
                    let mut b = data.clone();
                    let pa = apply_mask(&mut a[start..start + len], key, phase);
                    let pb = apply_mask_bytewise(&mut b[start..start + len], key, phase);
                    assert_eq!(a, b, "start {start} len {len} phase {phase}");
                    assert_eq!(pa, pb);
                }
            }
        }
    }

    #[test]
    fn extend_masked_matches_copy_then_mask() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..700u32).map(|i| (i * 11 + 5) as u8).collect();
        for start in 0..5 {
            for len in [0, 1, 3, 4, 63, 64, 65, 127, 128, 200, 695] {
                let src = &data[start..start + len];
                let mut want = src.to_vec();
                apply_mask_bytewise(&mut want, key, 0);
                let mut out = alloc::vec![9u8, 8];
                extend_masked(&mut out, src, key);
                assert_eq!(out[..2], [9, 8]);
                assert_eq!(out[2..], want[..], "start {start} len {len}");
            }
        }
    }

    #[test]
    fn masking_in_pieces_equals_masking_whole() {
        let key = [1, 2, 3, 250];
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 13) as u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        let mut pieces = data.clone();
        let mut phase = 0;
        let mut pos = 0;
        for step in [1usize, 5, 70, 3, 130, 2, 400, 389] {
            phase = apply_mask(&mut pieces[pos..pos + step], key, phase);
            pos += step;
        }
        assert_eq!(pos, data.len());
        assert_eq!(whole, pieces);
    }
}
