//! Our permessage-deflate compressor against C zlib (through flate2) at the same
//! window and level, message by message with context takeover, on the same
//! corpora. Prints ratios and throughput; no thresholds.
//! Run: `cargo bench -p sockweave-core --bench deflate`.

use std::hint::black_box;
use std::time::Instant;

use flate2::{Compress, Compression, FlushCompress};
use sockweave_core::deflate::Compressor;

fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn corpora() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let words = [
        "hello", "there", "how", "are", "you", "today", "meeting", "at", "noon", "sounds", "good", "ok",
    ];
    let users = ["ada", "grace", "linus", "barbara", "ken", "dennis"];
    let chat: Vec<Vec<u8>> = (0..4000)
        .map(|i| {
            let n = 3 + rng(&mut s) as usize % 12;
            let text: Vec<&str> = (0..n).map(|_| words[rng(&mut s) as usize % words.len()]).collect();
            format!(
                r#"{{"type":"message","id":{},"room":"general","user":"{}","ts":{},"text":"{}","reactions":[]}}"#,
                100_000 + i,
                users[rng(&mut s) as usize % users.len()],
                1_764_000_000 + i * 7,
                text.join(" ")
            )
            .into_bytes()
        })
        .collect();
    let levels = ["INFO", "WARN", "DEBUG", "ERROR"];
    let logs: Vec<Vec<u8>> = (0..4000)
        .map(|i| {
            format!(
                "2026-11-24T12:{:02}:{:02}.{:03}Z {} request_id={:016x} path=/api/v1/items/{} status={} duration_ms={}",
                (i / 60) % 60,
                i % 60,
                rng(&mut s) % 1000,
                levels[rng(&mut s) as usize % 4],
                rng(&mut s),
                rng(&mut s) % 5000,
                [200, 200, 200, 404, 500][rng(&mut s) as usize % 5],
                rng(&mut s) % 900
            )
            .into_bytes()
        })
        .collect();
    // Binary: records of small integers and floats, partly repetitive.
    let binary: Vec<Vec<u8>> = (0..1000)
        .map(|_| {
            let mut v = Vec::with_capacity(2048);
            for k in 0..128u32 {
                v.extend_from_slice(&(k % 7).to_le_bytes());
                v.extend_from_slice(&((rng(&mut s) % 1000) as f32 / 10.0).to_le_bytes());
                v.extend_from_slice(&(rng(&mut s) as u16 % 64).to_le_bytes());
            }
            v
        })
        .collect();
    vec![
        ("chat JSON", chat),
        ("log lines", logs),
        ("binary records", binary),
    ]
}

fn ours(msgs: &[Vec<u8>], bits: u8) -> usize {
    let mut c = Compressor::new(bits, 6);
    let mut out = Vec::with_capacity(64 * 1024);
    let mut total = 0;
    for m in msgs {
        out.clear();
        c.compress(m, true, &mut out);
        total += out.len();
    }
    black_box(total)
}

fn zlib(msgs: &[Vec<u8>], bits: u8) -> usize {
    let mut c = Compress::new_with_window_bits(Compression::new(6), false, bits);
    let mut out = Vec::with_capacity(64 * 1024);
    let mut total = 0;
    for m in msgs {
        out.clear();
        let before = c.total_in();
        while (c.total_in() - before) < m.len() as u64 || out.is_empty() {
            let used = (c.total_in() - before) as usize;
            out.reserve(m.len() + 64);
            c.compress_vec(&m[used..], &mut out, FlushCompress::Sync).unwrap();
        }
        total += out.len() - 4; // the sync marker is not sent (RFC 7692)
    }
    black_box(total)
}

fn time(f: impl Fn() -> usize, bytes: usize) -> (usize, f64) {
    let mut best = f64::MAX;
    let mut size = 0;
    for _ in 0..5 {
        let t = Instant::now();
        size = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (size, bytes as f64 / best / 1e6)
}

fn main() {
    println!(
        "{:<16} {:>4} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "corpus", "bits", "ours size", "zlib size", "ours MB/s", "zlib MB/s", "size o/z", "speed o/z"
    );
    for (name, msgs) in corpora() {
        let bytes: usize = msgs.iter().map(Vec::len).sum();
        for bits in [10u8, 15] {
            let (os, osp) = time(|| ours(&msgs, bits), bytes);
            let (zs, zsp) = time(|| zlib(&msgs, bits), bytes);
            println!(
                "{name:<16} {bits:>4} {os:>10} {zs:>10} {osp:>10.1} {zsp:>10.1} {:>9.3} {:>9.2}",
                os as f64 / zs as f64,
                osp / zsp
            );
            println!(
                "REPORT deflate {name} window {bits}: ratio ours {:.3} zlib {:.3} (size ours/zlib {:.3}), speed ours/zlib {:.2}",
                os as f64 / bytes as f64,
                zs as f64 / bytes as f64,
                os as f64 / zs as f64,
                osp / zsp
            );
        }
    }
}
