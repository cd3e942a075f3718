//! The receive direction against an independent deflater: messages compressed
//! by zlib (Python's `zlib`, at every window 9..15, with and without context
//! takeover) must inflate to the originals through our session.

use std::process::Command;

use sockweave_core::deflate::DeflateParams;
use sockweave_core::frame::{FrameHeader, OpCode, RSV1};
use sockweave_core::mask::apply_mask;
use sockweave_core::session::{MessageType, Role, Session, SessionConfig};
use sockweave_core::Options;

const GENERATOR: &str = r#"
import json, os, sys, zlib
out = sys.argv[1]
msgs = [b"", b"a", json.dumps([{"id": i, "name": "user%d" % i, "ok": True} for i in range(300)]).encode(),
        os.urandom(50000), b"abcdefghij" * 20000, bytes(range(256)) * 300]
# Repeats just beyond every window, to catch a wrong window size on our side.
for bits in range(9, 16):
    block = os.urandom(200)
    msgs.append(block + os.urandom((1 << bits) - 100) + block)
json.dump([m.hex() for m in msgs], open(os.path.join(out, "plain.json"), "w"))
for bits in range(9, 16):
    for takeover in (True, False):
        c = zlib.compressobj(6, zlib.DEFLATED, -bits)
        res = []
        for m in msgs:
            if not takeover:
                c = zlib.compressobj(6, zlib.DEFLATED, -bits)
            data = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
            assert data.endswith(b"\x00\x00\xff\xff")
            res.append(data[:-4].hex())
        json.dump(res, open(os.path.join(out, "w%d_%s.json" % (bits, "take" if takeover else "fresh")), "w"))
"#;

fn load(path: &std::path::Path) -> Vec<Vec<u8>> {
    let v: Vec<String> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v.iter().map(|h| hex::decode(h).unwrap()).collect()
}

#[test]
fn zlib_compressed_messages_inflate_at_every_window() {
    let dir = std::env::temp_dir().join(format!("sockweave-zlib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("python3")
        .arg("-c")
        .arg(GENERATOR)
        .arg(&dir)
        .status()
        .expect("python3 is needed for this test");
    assert!(status.success());
    let plain = load(&dir.join("plain.json"));
    for bits in 9..=15u8 {
        for takeover in [true, false] {
            let compressed = load(&dir.join(format!(
                "w{bits}_{}.json",
                if takeover { "take" } else { "fresh" }
            )));
            let mut cfg = SessionConfig::for_stream(Role::Server, &Options::default());
            cfg.deflate = Some(DeflateParams {
                server_max_window_bits: 15,
                client_max_window_bits: bits,
                server_no_context_takeover: false,
                client_no_context_takeover: !takeover,
            });
            let mut s = Session::new(cfg, [0; 32]);
            for (i, (c, p)) in compressed.iter().zip(&plain).enumerate() {
                // Each message in two frames when it can be split, to cross a frame boundary.
                let cut = c.len() / 2;
                let pieces: Vec<&[u8]> = if cut > 0 {
                    vec![&c[..cut], &c[cut..]]
                } else {
                    vec![&c[..]]
                };
                let mut wire = Vec::new();
                for (j, piece) in pieces.iter().enumerate() {
                    let key = [i as u8, j as u8, bits, 7];
                    let h = FrameHeader {
                        fin: j + 1 == pieces.len(),
                        rsv: if j == 0 { RSV1 } else { 0 },
                        opcode: if j == 0 {
                            OpCode::Binary
                        } else {
                            OpCode::Continuation
                        },
                        mask: Some(key),
                        payload_len: piece.len() as u64,
                    };
                    let (hb, n) = h.encode();
                    wire.extend_from_slice(&hb[..n]);
                    let at = wire.len();
                    wire.extend_from_slice(piece);
                    apply_mask(&mut wire[at..], key, 0);
                }
                let mut fed = 0;
                let mut got = Vec::new();
                let mut buf = vec![0u8; 4093];
                loop {
                    match s.receive(&mut buf).unwrap() {
                        Some(r) => {
                            assert_eq!(r.message_type, MessageType::Binary);
                            got.extend_from_slice(&buf[..r.count]);
                            if r.end_of_message {
                                break;
                            }
                        }
                        None => {
                            assert!(fed < wire.len(), "window {bits} message {i}: incomplete");
                            fed += s.feed(&wire[fed..]);
                        }
                    }
                }
                assert!(got == *p, "window {bits} takeover {takeover} message {i} differs");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const CHECKER: &str = r#"
import json, sys, zlib
cases = json.load(open(sys.argv[1]))
for c in cases:
    bits = c["bits"]
    # A strict raw inflater with exactly the negotiated window: it rejects any
    # distance too far back. (zlib cannot inflate with 8; 9 bounds it from above,
    # and the codec's own test checks 8 distance by distance.)
    d = zlib.decompressobj(-max(bits, 9))
    out = b""
    for m, plain in zip(c["messages"], c["plain"]):
        if not c["takeover"]:
            d = zlib.decompressobj(-max(bits, 9))
        got = d.decompress(bytes.fromhex(m) + b"\x00\x00\xff\xff")
        assert got == bytes.fromhex(plain), (bits, c["takeover"], len(got))
print("ok", len(cases))
"#;

#[test]
fn our_compressor_output_inflates_under_zlibs_strict_window() {
    use sockweave_core::deflate::Compressor;
    let mut rnd = 0x9e37_79b9u32;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                rnd ^= rnd << 13;
                rnd ^= rnd >> 17;
                rnd ^= rnd << 5;
                rnd as u8
            })
            .collect()
    };
    let mut plain: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"x".to_vec(),
        // An empty message after a non-empty one: zlib's flush emits nothing there.
        Vec::new(),
        Vec::new(),
        br#"{"id":1,"name":"ada","tags":["a","b"],"ok":true}"#.repeat(200),
        random(40_000),
        b"0123456789".repeat(100_000),
    ];
    // A block repeated just beyond each window size, and just inside it.
    for bits in 8..=15u32 {
        let block = random(64);
        for gap in [(1usize << bits).saturating_sub(64 + 200), (1 << bits) + 10] {
            let mut m = block.clone();
            m.extend(random(gap));
            m.extend_from_slice(&block);
            plain.push(m);
        }
    }
    let mut cases = Vec::new();
    for bits in 8..=15u8 {
        for takeover in [true, false] {
            let mut c = Compressor::new(bits, 6);
            let mut msgs = Vec::new();
            for p in &plain {
                let mut out = Vec::new();
                c.compress(p, true, &mut out);
                if !takeover {
                    c.reset();
                }
                msgs.push(hex::encode(out));
            }
            cases.push(serde_json::json!({
                "bits": bits, "takeover": takeover, "messages": msgs,
                "plain": plain.iter().map(hex::encode).collect::<Vec<_>>(),
            }));
        }
    }
    let path = std::env::temp_dir().join(format!("sockweave-strict-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec(&cases).unwrap()).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(CHECKER)
        .arg(&path)
        .output()
        .expect("python3 is needed");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "strict inflate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
