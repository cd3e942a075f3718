//! Masking throughput: the engine's `apply_mask` against a plain byte loop.
//! Prints GB/s per buffer size; no thresholds (run: `cargo bench -p sockweave-core --bench mask`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use sockweave_core::mask::{apply_mask, apply_mask_bytewise};

fn measure(f: fn(&mut [u8], [u8; 4], usize) -> usize, size: usize) -> f64 {
    let mut buf = vec![0x5au8; size + 3];
    // Offset by 3 so the fast path also pays for an unaligned head.
    let data = &mut buf[3..];
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut best = f64::MAX;
    for _ in 0..5 {
        let iters = (256 << 20) / size.max(1);
        let start = Instant::now();
        for i in 0..iters {
            black_box(f(black_box(&mut *data), key, i & 3));
        }
        let per_byte = start.elapsed().as_secs_f64() / (iters * size) as f64;
        best = best.min(per_byte);
        if start.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    1.0 / best / 1e9
}

fn main() {
    println!(
        "{:>10} {:>12} {:>12} {:>8}",
        "size", "fast GB/s", "bytes GB/s", "ratio"
    );
    for size in [1 << 10, 16 << 10, 64 << 10, 1 << 20, 16 << 20] {
        let fast = measure(apply_mask, size);
        let slow = measure(apply_mask_bytewise, size);
        println!("{size:>10} {fast:>12.2} {slow:>12.2} {:>7.1}x", fast / slow);
    }
}
