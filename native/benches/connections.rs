//! 1,000 WebSockets to one origin: over one HTTP/2 connection through one
//! invoker vs 1,000 HTTP/1.1 connections, in the same run against the same
//! server (`sockweave serve --echo`, a separate process on 127.0.0.1).
//!
//! Reports the time to open them all, the memory it takes (this process's heap,
//! counted by the allocator, and both processes' resident size), and the echo
//! throughput of one connection of each kind. Run with
//! `cargo bench -p sockweave --bench connections`; lines start with `REPORT`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sockweave::{
    ClientWebSocket, HttpVersion, HttpVersionPolicy, Invoker, InvokerOptions, MessageType, SendFlags,
};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SOCKETS: usize = 1000;

/// Resident set size of a process, in bytes.
fn rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn server() -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockweave"))
        // All the sockets share one HTTP/2 connection: allow them all (the default is 128).
        .args([
            "serve",
            "127.0.0.1:0",
            "--echo",
            "--max-concurrent-streams",
            "1000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start sockweave serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    (child, port)
}

fn client(version: HttpVersion) -> ClientWebSocket {
    let mut ws = ClientWebSocket::new();
    ws.options_mut().options.http_version = version;
    ws.options_mut().options.http_version_policy = HttpVersionPolicy::RequestVersionExact;
    ws
}

struct Opened {
    sockets: Vec<ClientWebSocket>,
    seconds: f64,
    heap: usize,
    server_rss: usize,
}

async fn open_all(port: u16, server_pid: u32, version: HttpVersion) -> Opened {
    let url = format!("ws://127.0.0.1:{port}/");
    // Loopback: proxies from the environment do not apply.
    let invoker = Invoker::new(InvokerOptions {
        use_proxy: false,
        ..Default::default()
    });
    let (heap0, srss0) = (LIVE.load(Ordering::Relaxed), rss(server_pid));
    let start = Instant::now();
    let mut sockets = Vec::with_capacity(SOCKETS);
    // 50 handshakes in flight at a time, as a busy client would.
    for _ in 0..SOCKETS / 50 {
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (url, invoker) = (url.clone(), invoker.clone());
            tasks.push(tokio::spawn(async move {
                let mut ws = client(version);
                ws.connect_with(&url, &invoker).await.unwrap();
                ws
            }));
        }
        for t in tasks {
            sockets.push(t.await.unwrap());
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    // Every socket works: one small echo each.
    for ws in &sockets {
        ws.send(b"hi", MessageType::Text, SendFlags::END_OF_MESSAGE)
            .await
            .unwrap();
        let mut buf = [0u8; 8];
        ws.receive(&mut buf).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let expected = if version == HttpVersion::Http2 { 1 } else { SOCKETS };
    assert_eq!(invoker.connections_opened(), expected);
    Opened {
        seconds,
        heap: LIVE.load(Ordering::Relaxed).saturating_sub(heap0),
        server_rss: rss(server_pid).saturating_sub(srss0),
        sockets,
    }
}

/// Echo throughput of one connection: 64 MiB in 64 KiB messages, sent and
/// received at once; returns MB/s of payload echoed.
async fn throughput(port: u16, version: HttpVersion) -> f64 {
    let mut ws = client(version);
    ws.connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    let message = vec![7u8; 64 * 1024];
    let count = 1024;
    let start = Instant::now();
    let send = async {
        for _ in 0..count {
            ws.send(&message, MessageType::Binary, SendFlags::END_OF_MESSAGE)
                .await
                .unwrap();
        }
    };
    let receive = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < count * message.len() {
            got += ws.receive(&mut buf).await.unwrap().count;
        }
    };
    tokio::join!(send, receive);
    let mb = (count * message.len()) as f64 / 1e6;
    mb / start.elapsed().as_secs_f64()
}

/// Rounds of the throughput measurement.
const ROUNDS: usize = 5;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mib(b: usize) -> f64 {
    b as f64 / 1048576.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut results = Vec::new();
        for version in [HttpVersion::Http2, HttpVersion::Http11] {
            // A fresh server each time, so its resident size starts from the same point.
            let (mut child, port) = server();
            let opened = open_all(port, child.id(), version).await;
            let name = if version == HttpVersion::Http2 { "HTTP/2 (1 connection)" } else { "HTTP/1.1 (1,000 connections)" };
            println!(
                "REPORT {SOCKETS} WebSockets over {name}: open {:.3} s, client heap {:.2} MiB ({:.2} KiB each), server RSS +{:.1} MiB",
                opened.seconds,
                mib(opened.heap),
                opened.heap as f64 / SOCKETS as f64 / 1024.0,
                mib(opened.server_rss)
            );
            for ws in &opened.sockets {
                ws.close(None, "").await.unwrap();
            }
            drop(opened.sockets);
            let _ = child.kill();
            results.push((opened.seconds, opened.heap, opened.server_rss));
        }
        println!(
            "REPORT HTTP/2 / HTTP/1.1 for {SOCKETS} sockets: open time {:.2}, client heap {:.2}, server RSS {:.2}",
            results[0].0 / results[1].0,
            results[0].1 as f64 / results[1].1 as f64,
            results[0].2 as f64 / results[1].2 as f64
        );
        let (mut child, port) = server();
        // Interleaved rounds; the medians are reported.
        let (mut h2s, mut h1s) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            h2s.push(throughput(port, HttpVersion::Http2).await);
            h1s.push(throughput(port, HttpVersion::Http11).await);
        }
        let (h2, h1) = (median(&mut h2s), median(&mut h1s));
        println!(
            "REPORT echo throughput of one connection, 64 KiB messages (median of {ROUNDS}): HTTP/2 {h2:.0} MB/s, HTTP/1.1 {h1:.0} MB/s (ratio {:.2})",
            h2 / h1
        );
        let _ = child.kill();
    });
}
