//! Soak test: many WebSockets echoing through `sockweave serve --echo
//! --deflate` (a separate process) for a fixed time, checking that no message
//! is lost, duplicated, reordered or changed, and that the server's resident
//! memory stays flat after warm-up. Then 10,000 TCP connections that never send
//! a handshake, to see that the server holds them with bounded memory and lets
//! them go at its handshake timeout.
//!
//! ```sh
//! tests/soak                      # 1,000 connections for 10 minutes (the documented run)
//! cargo run --release -p sockweave --example soak -- --connections 100 --seconds 20 --idle 10000
//! ```
//!
//! Exits non-zero on any lost, duplicated, reordered or corrupted message, any
//! connection error, or server memory growing more than 25% after warm-up.
//! Lines starting with `REPORT` summarize.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sockweave::{ClientWebSocket, CloseCode, DeflateOptions, MessageType, SendFlags};

#[derive(Default)]
struct Totals {
    sent: AtomicU64,
    received: AtomicU64,
    bytes: AtomicU64,
    bad: AtomicU64,
}

fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The message with sequence number `seq` on connection `conn`: its length
/// and bytes follow from both, and it starts with both, so the echo can be
/// checked completely.
fn message(conn: u32, seq: u64) -> Vec<u8> {
    let mut x = (conn as u64) << 32 ^ seq ^ 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let len = 12 + (next() % 16_384) as usize;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&conn.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    // Half text-like (compressible), half noise.
    let compressible = seq.is_multiple_of(2);
    while m.len() < len {
        let r = next();
        if compressible {
            m.extend_from_slice(&b"{\"seq\":12345,\"ok\":true} "[..(len - m.len()).min(24)]);
        } else {
            m.extend_from_slice(&r.to_le_bytes()[..(len - m.len()).min(8)]);
        }
    }
    m
}

/// One connection: up to `window` messages in flight, each echo checked in order.
async fn run_connection(url: String, conn: u32, deflate: bool, until: Instant, totals: Arc<Totals>) {
    let mut ws = ClientWebSocket::new();
    if deflate {
        ws.options_mut().options.dangerous_deflate_options = Some(DeflateOptions::default());
    }
    if let Err(e) = ws.connect(&url).await {
        eprintln!("connection {conn}: connect failed: {e}");
        totals.bad.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let window = 4u64;
    let (mut next_send, mut next_recv) = (0u64, 0u64);
    let mut buf = vec![0u8; 32 * 1024];
    let mut assembled = Vec::new();
    loop {
        let sending = Instant::now() < until;
        while sending && next_send < next_recv + window {
            let m = message(conn, next_send);
            if let Err(e) = ws.send(&m, MessageType::Binary, SendFlags::END_OF_MESSAGE).await {
                eprintln!("connection {conn}: send failed: {e}");
                totals.bad.fetch_add(1, Ordering::Relaxed);
                return;
            }
            totals.sent.fetch_add(1, Ordering::Relaxed);
            next_send += 1;
        }
        if next_recv == next_send {
            break;
        }
        match ws.receive(&mut buf).await {
            Ok(r) => {
                assembled.extend_from_slice(&buf[..r.count]);
                if !r.end_of_message {
                    continue;
                }
                if assembled != message(conn, next_recv) {
                    let got_seq = assembled
                        .get(4..12)
                        .map(|b| u64::from_be_bytes(b.try_into().unwrap()));
                    eprintln!(
                        "connection {conn}: message {next_recv} came back wrong (seq field {got_seq:?}, {} bytes)",
                        assembled.len()
                    );
                    totals.bad.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                totals.received.fetch_add(1, Ordering::Relaxed);
                totals.bytes.fetch_add(assembled.len() as u64, Ordering::Relaxed);
                assembled.clear();
                next_recv += 1;
            }
            Err(e) => {
                eprintln!("connection {conn}: receive failed: {e}");
                totals.bad.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
    if let Err(e) = ws.close(Some(CloseCode::NORMAL), "soak done").await {
        eprintln!("connection {conn}: close failed: {e}");
        totals.bad.fetch_add(1, Ordering::Relaxed);
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| {
            v.parse().unwrap_or_else(|_| panic!("{name} takes a number"))
        })
}

fn main() {
    let connections = arg("--connections", 1000) as u32;
    let seconds = arg("--seconds", 600);
    let idle = arg("--idle", 10_000) as usize;
    let server_bin = std::env::var("SOCKWEAVE_BIN").unwrap_or_else(|_| {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/examples/soak -> target/<profile>/sockweave
        exe.parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("sockweave")
            .display()
            .to_string()
    });
    let mut server = Command::new(&server_bin)
        .args([
            "serve",
            "127.0.0.1:0",
            "--echo",
            "--deflate",
            "--handshake-timeout",
            "3s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {server_bin}: {e} (build it: cargo build --release -p sockweave)")
        });
    let pid = server.id();
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .trim_start_matches("listening on ws://")
        .trim_end_matches('/')
        .to_owned();
    let url = format!("ws://{addr}/soak");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let failed = rt.block_on(async {
        let totals = Arc::new(Totals::default());
        let start = Instant::now();
        let until = start + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for conn in 0..connections {
            let (url, totals) = (url.clone(), totals.clone());
            tasks.push(tokio::spawn(run_connection(url, conn, conn % 2 == 0, until, totals)));
            if conn % 100 == 99 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // Sample the server's memory; the first quarter is warm-up.
        let mut samples = Vec::new();
        let step = Duration::from_secs((seconds / 20).clamp(1, 30));
        while Instant::now() < until {
            tokio::time::sleep(step.min(until.saturating_duration_since(Instant::now()))).await;
            let t = start.elapsed().as_secs();
            let r = rss(pid);
            samples.push((t, r));
            println!(
                "t={t:>4}s  server RSS {:>7.1} MiB  echoed {:>10}  bad {}",
                r as f64 / 1048576.0,
                totals.received.load(Ordering::Relaxed),
                totals.bad.load(Ordering::Relaxed)
            );
        }
        for t in tasks {
            let _ = t.await;
        }
        let sent = totals.sent.load(Ordering::Relaxed);
        let received = totals.received.load(Ordering::Relaxed);
        let bad = totals.bad.load(Ordering::Relaxed);
        let after_warmup: Vec<u64> = samples
            .iter()
            .filter(|(t, _)| *t >= seconds / 4)
            .map(|(_, r)| *r)
            .collect();
        let (lo, hi) = (
            after_warmup.iter().copied().min().unwrap_or(0),
            after_warmup.iter().copied().max().unwrap_or(0),
        );
        let growth = if lo > 0 { hi as f64 / lo as f64 - 1.0 } else { 0.0 };
        println!(
            "REPORT soak: {connections} connections (half with permessage-deflate) for {seconds} s: {received} messages \
             echoed of {sent} sent ({:.0} MB), lost/duplicated/reordered/corrupted or failed: {bad}",
            totals.bytes.load(Ordering::Relaxed) as f64 / 1e6
        );
        println!(
            "REPORT soak: server RSS after warm-up {:.1}..{:.1} MiB (growth {:.1}%)",
            lo as f64 / 1048576.0,
            hi as f64 / 1048576.0,
            growth * 100.0
        );
        let mut failed = bad > 0 || sent != received || growth > 0.25;

        // 10,000 connections that never send a handshake.
        if idle > 0 {
            let before = rss(pid);
            let mut held = Vec::with_capacity(idle);
            for _ in 0..idle {
                match tokio::net::TcpStream::connect(&addr).await {
                    Ok(s) => held.push(s),
                    Err(e) => {
                        println!("idle connection {} failed: {e}", held.len());
                        failed = true;
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let holding = rss(pid).saturating_sub(before);
            // The server's handshake timeout (3 s here) lets them all go.
            let mut closed = 0;
            let deadline = Instant::now() + Duration::from_secs(30);
            for s in &mut held {
                let mut b = [0u8; 1];
                let left = deadline.saturating_duration_since(Instant::now());
                if let Ok(Ok(0)) = tokio::time::timeout(left, tokio::io::AsyncReadExt::read(s, &mut b)).await {
                    closed += 1;
                }
            }
            drop(held);
            tokio::time::sleep(Duration::from_millis(500)).await;
            println!(
                "REPORT idle: {idle} silent TCP connections held with {:.0} bytes of server RSS each ({:.1} MiB); \
                 {closed} closed by the server's handshake timeout; RSS after: {:.1} MiB (before: {:.1} MiB)",
                holding as f64 / idle as f64,
                holding as f64 / 1048576.0,
                rss(pid) as f64 / 1048576.0,
                before as f64 / 1048576.0
            );
            if closed != idle {
                failed = true;
            }
        }
        failed
    });
    let _ = server.kill();
    std::process::exit(if failed { 1 } else { 0 });
}
