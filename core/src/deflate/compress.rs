//! The permessage-deflate compressor: zlib-rs (a pure-Rust port of zlib)
//! through its C-style API, which is `no_std` once it is given an allocator.
//!
//! Why zlib-rs and not miniz_oxide, which inflates for us: miniz_oxide's
//! compressor ignores window bits (its output refers back up to 32 KiB whatever
//! was negotiated), so a peer that negotiated a smaller window would fail to
//! inflate it. zlib's deflater keeps every match distance below
//! `2^bits - MIN_LOOKAHEAD` (262) for raw windows 9..=15.
//!
//! Window 8: zlib (and zlib-rs) refuse to compress with it, but a 9-bit
//! window's matches reach back at most 512 - 262 = 250 bytes, inside 256. So
//! when 8 is negotiated we compress with 9, and every back-reference still fits
//! an 8-bit window; the tests check this distance by distance.
#![allow(unsafe_code)]

use alloc::alloc::{alloc, dealloc, Layout};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::mem::MaybeUninit;

use libz_rs_sys::{
    deflate, deflateEnd, deflateInit2_, deflateReset, uInt, z_stream, zlibVersion, Z_BUF_ERROR,
    Z_DEFAULT_STRATEGY, Z_DEFLATED, Z_OK, Z_SYNC_FLUSH,
};

use super::TAIL;

/// Every allocation carries its size in front, so `zfree` can rebuild the layout.
const HEADER: usize = 16;

/// zlib's allocation callback over the global allocator.
unsafe extern "C" fn zalloc(_opaque: *mut c_void, items: uInt, size: uInt) -> *mut c_void {
    let Some(bytes) = (items as usize)
        .checked_mul(size as usize)
        .and_then(|n| n.checked_add(HEADER))
    else {
        return core::ptr::null_mut();
    };
    let Ok(layout) = Layout::from_size_align(bytes, HEADER) else {
        return core::ptr::null_mut();
    };
    // SAFETY: `layout` has a non-zero size (at least HEADER).
    let base = unsafe { alloc(layout) };
    if base.is_null() {
        return base.cast();
    }
    // SAFETY: `base` is valid for `bytes >= HEADER` bytes and aligned to 16, so
    // a usize fits at its start and `base + HEADER` stays inside the block.
    unsafe {
        base.cast::<usize>().write(bytes);
        base.add(HEADER).cast()
    }
}

/// zlib's free callback, the inverse of [`zalloc`].
unsafe extern "C" fn zfree(_opaque: *mut c_void, ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from `zalloc`, so the block starts HEADER bytes before
    // it and holds its size there; the layout is rebuilt exactly.
    unsafe {
        let base = ptr.cast::<u8>().sub(HEADER);
        let bytes = base.cast::<usize>().read();
        dealloc(base, Layout::from_size_align_unchecked(bytes, HEADER));
    }
}

/// An initialised zlib deflate stream. Boxed: zlib's state points back at
/// the stream, so it must not move.
struct Stream(Box<z_stream>);

impl Stream {
    fn new(window_bits: u8, level: u8) -> Option<Stream> {
        // SAFETY: z_stream is plain data (pointers, integers, optional fn
        // pointers) for which all-zero is the "not initialised" value zlib expects.
        let mut strm: Box<z_stream> = unsafe { Box::new(MaybeUninit::zeroed().assume_init()) };
        strm.zalloc = Some(zalloc);
        strm.zfree = Some(zfree);
        // Raw deflate (negative window bits); 8 is compressed with 9 (see the module docs).
        let bits = -i32::from(window_bits.clamp(9, 15));
        // SAFETY: `strm` is a zeroed stream with allocator callbacks, and the
        // version and size arguments describe this library's own z_stream.
        let rc = unsafe {
            deflateInit2_(
                &mut *strm,
                i32::from(level.min(9)),
                Z_DEFLATED,
                bits,
                8,
                Z_DEFAULT_STRATEGY,
                zlibVersion(),
                core::mem::size_of::<z_stream>() as i32,
            )
        };
        (rc == Z_OK).then_some(Stream(strm))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised by deflateInit2_ and is ended once.
        unsafe {
            deflateEnd(&mut *self.0);
        }
    }
}

// SAFETY: the stream's pointers refer only to memory it owns (its state, which
// it allocated); nothing is shared with another thread.
unsafe impl Send for Stream {}

/// Raw-deflate compressor for one direction of a connection.
pub struct Compressor {
    window_bits: u8,
    level: u8,
    /// Allocated on the first message, so an idle connection costs nothing.
    stream: Option<Stream>,
}

impl Compressor {
    /// `window_bits` is the negotiated window of our direction (8..=15);
    /// `level` is zlib's 0..=9.
    pub fn new(window_bits: u8, level: u8) -> Compressor {
        Compressor {
            window_bits,
            level,
            stream: None,
        }
    }

    /// Compresses `input` (a message, or a piece of one), appending raw deflate
    /// bytes to `out`. The output is sync-flushed so it can be sent at once;
    /// at the end of a message the flush's `00 00 ff ff` is removed (RFC 7692
    /// section 7.2.1).
    pub fn compress(&mut self, input: &[u8], end_of_message: bool, out: &mut Vec<u8>) {
        if self.stream.is_none() {
            self.stream = Stream::new(self.window_bits, self.level);
        }
        let Some(stream) = self.stream.as_mut() else {
            // zlib could not allocate its state: send the data as stored
            // blocks, which any inflater accepts and which refer to nothing.
            stored(input, end_of_message, out);
            return;
        };
        let strm = &mut *stream.0;
        let start = out.len();
        strm.next_in = input.as_ptr();
        strm.avail_in = input.len() as uInt;
        loop {
            // Room for the worst case of what is left, plus the flush marker.
            let room = (strm.avail_in as usize) + (strm.avail_in as usize >> 8) + 64;
            out.reserve(room);
            let spare = out.spare_capacity_mut();
            let avail = spare.len().min(uInt::MAX as usize);
            strm.next_out = spare.as_mut_ptr().cast();
            strm.avail_out = avail as uInt;
            // SAFETY: next_in/avail_in describe `input`, next_out/avail_out the
            // spare capacity of `out`; both outlive the call.
            let rc = unsafe { deflate(strm, Z_SYNC_FLUSH) };
            let written = avail - strm.avail_out as usize;
            // SAFETY: zlib initialised exactly `written` bytes of the spare capacity.
            unsafe { out.set_len(out.len() + written) };
            debug_assert!(rc == Z_OK || rc == Z_BUF_ERROR, "deflate returned {rc}");
            // Done once all input is taken and the flush fitted (output room left over).
            if strm.avail_in == 0 && strm.avail_out != 0 {
                break;
            }
            if rc != Z_OK && rc != Z_BUF_ERROR {
                break;
            }
        }
        strm.next_in = core::ptr::null();
        strm.next_out = core::ptr::null_mut();
        if end_of_message {
            if out[start..].ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
            } else if out.len() == start {
                // zlib emits nothing for a flush with no new input (an empty
                // message after a flushed one). The receiver appends 00 00 ff ff,
                // which is only the LEN/NLEN of an empty stored block: its 3-bit
                // header must come from us (RFC 7692 section 7.2.3.6: "0x00").
                out.push(0x00);
            }
        }
    }

    /// Forgets the window (no context takeover for our side).
    pub fn reset(&mut self) {
        if let Some(s) = self.stream.as_mut() {
            // SAFETY: an initialised stream; reset keeps its allocations.
            unsafe {
                deflateReset(&mut *s.0);
            }
        }
    }
}

/// `input` as stored (uncompressed) deflate blocks, sync-flushed the same way.
fn stored(input: &[u8], end_of_message: bool, out: &mut Vec<u8>) {
    for chunk in input.chunks(0xFFFF) {
        let n = chunk.len() as u16;
        out.push(0x00);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    if !end_of_message {
        out.extend_from_slice(&TAIL);
    } else {
        // An empty stored block, minus the tail, ends the message.
        out.push(0x00);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::Decompressor;

    /// Inflates raw deflate and reports the farthest back-reference, by
    /// decoding the stream itself: an independent check of the window.
    fn max_distance(data: &[u8]) -> usize {
        struct Bits<'a> {
            d: &'a [u8],
            pos: usize,
        }
        impl Bits<'_> {
            fn bit(&mut self) -> u32 {
                let b = (self.d[self.pos / 8] >> (self.pos % 8)) & 1;
                self.pos += 1;
                u32::from(b)
            }
            fn bits(&mut self, n: u32) -> u32 {
                (0..n).fold(0, |acc, i| acc | (self.bit() << i))
            }
        }
        fn table(lengths: &[u8]) -> Vec<(u32, u32, usize)> {
            // (code, length, symbol), canonical Huffman.
            let mut out = Vec::new();
            let mut code = 0u32;
            for len in 1..=15u8 {
                for (sym, &l) in lengths.iter().enumerate() {
                    if l == len {
                        out.push((code, u32::from(len), sym));
                        code += 1;
                    }
                }
                code <<= 1;
            }
            out
        }
        fn decode(b: &mut Bits<'_>, t: &[(u32, u32, usize)]) -> usize {
            let (mut code, mut len) = (0u32, 0u32);
            loop {
                code = (code << 1) | b.bit();
                len += 1;
                if let Some(e) = t.iter().find(|e| e.1 == len && e.0 == code) {
                    return e.2;
                }
            }
        }
        const LBASE: [u32; 29] = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
            163, 195, 227, 258,
        ];
        const LEXTRA: [u32; 29] = [
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
        ];
        const DBASE: [u32; 30] = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
            3073, 4097, 6145, 8193, 12289, 16385, 24577,
        ];
        let mut b = Bits { d: data, pos: 0 };
        let mut max = 0usize;
        while b.pos + 3 <= data.len() * 8 {
            let _final = b.bit();
            match b.bits(2) {
                0 => {
                    b.pos = b.pos.div_ceil(8) * 8;
                    if b.pos + 32 > data.len() * 8 {
                        break;
                    }
                    let len = b.bits(16) as usize;
                    b.bits(16);
                    b.pos += len * 8;
                }
                t @ (1 | 2) => {
                    let (lit, dist) = if t == 1 {
                        let mut l = [8u8; 288];
                        l[144..256].fill(9);
                        l[256..280].fill(7);
                        (table(&l), table(&[5u8; 30]))
                    } else {
                        let hlit = b.bits(5) as usize + 257;
                        let hdist = b.bits(5) as usize + 1;
                        let hclen = b.bits(4) as usize + 4;
                        const ORDER: [usize; 19] =
                            [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
                        let mut cl = [0u8; 19];
                        for &i in ORDER.iter().take(hclen) {
                            cl[i] = b.bits(3) as u8;
                        }
                        let ct = table(&cl);
                        let mut lens = Vec::new();
                        while lens.len() < hlit + hdist {
                            match decode(&mut b, &ct) {
                                s @ 0..=15 => lens.push(s as u8),
                                16 => {
                                    let p = *lens.last().unwrap();
                                    let n = 3 + b.bits(2);
                                    lens.extend((0..n).map(|_| p));
                                }
                                17 => lens.extend((0..3 + b.bits(3)).map(|_| 0)),
                                _ => lens.extend((0..11 + b.bits(7)).map(|_| 0)),
                            }
                        }
                        (table(&lens[..hlit]), table(&lens[hlit..]))
                    };
                    loop {
                        let sym = decode(&mut b, &lit);
                        if sym < 256 {
                            continue;
                        }
                        if sym == 256 {
                            break;
                        }
                        b.bits(LEXTRA[sym - 257]);
                        let _ = LBASE[sym - 257];
                        let ds = decode(&mut b, &dist);
                        let extra = if ds < 4 { 0 } else { (ds as u32 - 2) / 2 };
                        let d = DBASE[ds] + b.bits(extra);
                        max = max.max(d as usize);
                    }
                }
                _ => panic!("invalid block type"),
            }
        }
        max
    }

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut d = Decompressor::new();
        let mut input = data.to_vec();
        input.extend_from_slice(&TAIL);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        let mut pos = 0;
        loop {
            let (used, wrote, _) = d.decompress(&input[pos..], &mut buf).unwrap();
            pos += used;
            out.extend_from_slice(&buf[..wrote]);
            if used == 0 && wrote == 0 {
                return out;
            }
        }
    }

    fn sample(len: usize, seed: u32) -> Vec<u8> {
        // Random blocks repeated at every distance up to 32 KiB.
        let mut x = seed | 1;
        let mut v: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let mut d = 3;
        while d < len / 2 {
            // The same 40 bytes again at distance `d` from the start: a match
            // only a window of at least `d` can use.
            v.copy_within(0..40, d);
            d = d * 3 / 2 + 7;
        }
        v
    }

    #[test]
    fn every_window_is_honoured() {
        let data = sample(100_000, 7);
        for bits in 8..=15u8 {
            let mut c = Compressor::new(bits, 6);
            let mut out = Vec::new();
            c.compress(&data, true, &mut out);
            assert_eq!(inflate(&out), data, "window {bits}");
            let far = max_distance(&out);
            assert!(far <= 1 << bits, "window {bits}: a match reaches back {far}");
            assert!(far > 100, "window {bits}: no long matches at all ({far})");
        }
    }

    #[test]
    fn empty_and_pieces() {
        let mut c = Compressor::new(15, 6);
        let mut out = Vec::new();
        c.compress(b"", true, &mut out);
        assert!(inflate(&out).is_empty());
        let mut c = Compressor::new(12, 6);
        let mut out = Vec::new();
        c.compress(b"hello ", false, &mut out);
        c.compress(b"world", true, &mut out);
        assert_eq!(inflate(&out), b"hello world");
        let mut out = Vec::new();
        stored(b"abc", true, &mut out);
        assert_eq!(inflate(&out), b"abc");
    }
}
