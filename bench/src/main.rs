//! `sockweave-bench`: sockweave against tokio-tungstenite, fastwebsockets and
//! tokio-websockets, side by side in one run on one machine.
//!
//! `sockweave-bench run [--quick] [--out DIR]` runs everything (see
//! `tests/bench/run.sh`, which also runs the Node comparison). The other
//! commands are the processes it starts:
//!
//! - `serve LIB [--deflate] [--idle]`: an echo server of LIB (or `raw`, the
//!   neutral server) on 127.0.0.1, printing `PORT n`; ends when stdin closes.
//! - `load LIB PORT KIND SIZE --peer PID [--secs S] [--warm W] [--window N] [--conns N] [--deflate]`:
//!   a load client of LIB (or `raw`, the neutral client); prints `RESULT`
//!   with the message count, the wall time, and the CPU time of itself and of
//!   process PID over the same window.
//! - `idle LIB PORT N --peer PID [--deflate]`: opens N connections and holds
//!   them; prints the resident size of itself and of PID before and after.
//! - `mask`: masking throughput of the engine against a byte loop.
//! - `profile`: only the profiles (instructions and system calls per
//!   message, see `profile.rs`), printed as markdown; `run` includes them
//!   unless `--quick` or `--no-profile`.
//! - `load ... --profile callgrind|strace --profile-out FILE [--profile-self]`:
//!   counts over the measuring window (the orchestrator starts the side
//!   under test under valgrind, or strace attaches to it).
//!
//! Every process runs a single-threaded tokio runtime; the orchestrator pins
//! the side under test and its peer to different cores with `taskset`.

mod libs;
mod profile;
mod raw;
mod run;
mod util;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::rc::Rc;
use std::time::Duration;

use libs::{Client, FwClient, Lib, SwClient, TtClient, TwClient};
use util::Snapshot;

/// Connections held open by an idle server.
#[derive(Default)]
pub struct Holder(RefCell<Vec<Box<dyn Any>>>);

impl Holder {
    pub fn keep(&self, x: Box<dyn Any>) {
        self.0.borrow_mut().push(x);
    }
}

struct Args {
    positional: Vec<String>,
    flags: Vec<(String, Option<String>)>,
}

impl Args {
    fn parse(args: impl Iterator<Item = String>) -> Args {
        let mut positional = Vec::new();
        let mut flags = Vec::new();
        let mut it = args.peekable();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let value = match it.peek() {
                    Some(v) if !v.starts_with("--") && takes_value(name) => it.next(),
                    _ => None,
                };
                flags.push((name.to_string(), value));
            } else {
                positional.push(a);
            }
        }
        Args { positional, flags }
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    fn value<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref()?.parse().ok())
            .unwrap_or(default)
    }

    fn pos<T: std::str::FromStr>(&self, i: usize, what: &str) -> T {
        self.positional
            .get(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| die(&format!("missing or invalid {what}")))
    }
}

fn takes_value(name: &str) -> bool {
    matches!(
        name,
        "secs" | "warm" | "window" | "conns" | "peer" | "out" | "reps" | "only" | "profile" | "profile-out"
    )
}

fn die(msg: &str) -> ! {
    eprintln!("sockweave-bench: {msg}");
    std::process::exit(2)
}

fn main() {
    let args = Args::parse(std::env::args().skip(1));
    let Some(cmd) = args.positional.first().cloned() else {
        die("usage: sockweave-bench run [--quick] [--no-profile] | profile | serve | load | idle | mask");
    };
    match cmd.as_str() {
        "run" => run::main(&args),
        "profile" => print!("{}", run::profile_only()),
        "mask" => {
            for line in run::mask_report(args.flag("quick")) {
                println!("{line}");
            }
        }
        "serve" => runtime().block_on(tokio::task::LocalSet::new().run_until(serve(&args))),
        "load" => runtime().block_on(tokio::task::LocalSet::new().run_until(load(&args))),
        "idle" => runtime().block_on(tokio::task::LocalSet::new().run_until(idle(&args))),
        _ => die(&format!("unknown command {cmd}")),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn serve(args: &Args) {
    let lib: Lib = args.pos(1, "library");
    let deflate = args.flag("deflate");
    let idle = args.flag("idle");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| die(&format!("bind: {e}")));
    println!("PORT {}", listener.local_addr().unwrap().port());
    io::stdout().flush().unwrap();
    // The orchestrator ends us by closing stdin.
    std::thread::spawn(|| {
        let _ = io::copy(&mut io::stdin(), &mut io::sink());
        std::process::exit(0);
    });
    let hold = Rc::new(Holder::default());
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let hold = hold.clone();
        tokio::task::spawn_local(async move {
            let _ = libs::serve(lib, tcp, deflate, idle, &hold).await;
        });
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One message in flight per connection.
    Echo,
    /// `window` messages in flight on one connection.
    Pipe,
}

struct LoadSpec {
    port: u16,
    kind: Kind,
    payload: Vec<u8>,
    window: usize,
    conns: usize,
    deflate: bool,
}

async fn connect_all<C, F, Fut>(n: usize, f: F) -> Vec<C>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = io::Result<C>>,
{
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let batch = (n - out.len()).min(100);
        let got = futures_util::future::join_all((0..batch).map(|_| f())).await;
        for c in got {
            out.push(c.unwrap_or_else(|e| die(&format!("connect: {e}"))));
        }
    }
    out
}

async fn client_loop<C: Client>(mut c: C, kind: Kind, window: usize, len: usize, count: Rc<Cell<u64>>) {
    let r: io::Result<()> = async {
        match kind {
            Kind::Echo => loop {
                c.send().await?;
                c.flush().await?;
                check(c.recv().await?, len)?;
                count.set(count.get() + 1);
            },
            Kind::Pipe => {
                for _ in 0..window {
                    c.send().await?;
                }
                c.flush().await?;
                loop {
                    check(c.recv().await?, len)?;
                    count.set(count.get() + 1);
                    c.send().await?;
                    while let Some(r) = c.try_recv().await {
                        check(r?, len)?;
                        count.set(count.get() + 1);
                        c.send().await?;
                    }
                    c.flush().await?;
                }
            }
        }
    }
    .await;
    if let Err(e) = r {
        die(&format!("client: {e}"));
    }
}

fn check(got: usize, want: usize) -> io::Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(io::Error::other(format!("echo of {got} bytes, sent {want}")))
    }
}

async fn raw_loop(mut c: raw::RawClient, kind: Kind, window: usize, count: Rc<Cell<u64>>) {
    let r: io::Result<()> = async {
        match kind {
            Kind::Echo => loop {
                c.send(1).await?;
                let k = c.recv_some().await?;
                count.set(count.get() + k as u64);
            },
            Kind::Pipe => {
                c.send(window).await?;
                loop {
                    let k = c.recv_some().await?;
                    count.set(count.get() + k as u64);
                    c.send(k).await?;
                }
            }
        }
    }
    .await;
    if let Err(e) = r {
        die(&format!("raw client: {e}"));
    }
}

fn spawn_loops<C: Client + 'static>(conns: Vec<C>, s: &LoadSpec, count: &Rc<Cell<u64>>) {
    for c in conns {
        let count = count.clone();
        tokio::task::spawn_local(client_loop(c, s.kind, s.window, s.payload.len(), count));
    }
}

async fn load(args: &Args) {
    let lib: Lib = args.pos(1, "library");
    let kind = match args.pos::<String>(3, "kind").as_str() {
        "echo" => Kind::Echo,
        "pipe" => Kind::Pipe,
        k => die(&format!("unknown kind {k}")),
    };
    let deflate = args.flag("deflate");
    let s = LoadSpec {
        port: args.pos(2, "port"),
        kind,
        payload: util::payload(args.pos(4, "size"), deflate),
        window: args.value("window", 64),
        conns: args.value("conns", 1),
        deflate,
    };
    let peer: u32 = args.value("peer", 0);
    let secs: f64 = args.value("secs", 1.0);
    let warm: f64 = args.value("warm", 0.3);
    let count = Rc::new(Cell::new(0u64));
    let (port, data, deflate) = (s.port, s.payload.clone(), s.deflate);
    match lib {
        Lib::Cli => die("`sockweave serve --echo` is a server; it has no load client"),
        Lib::Raw => {
            let conns = connect_all(s.conns, || {
                raw::RawClient::connect(port, &data, deflate, s.window)
            })
            .await;
            for mut c in conns {
                if !deflate {
                    // Every connection checks one echo byte for byte before the run.
                    c.verify_echo(&data)
                        .await
                        .unwrap_or_else(|e| die(&format!("verify: {e}")));
                }
                tokio::task::spawn_local(raw_loop(c, s.kind, s.window, count.clone()));
            }
        }
        Lib::Sockweave => {
            let conns = connect_all(s.conns, || SwClient::connect(port, &data, deflate)).await;
            spawn_loops(conns, &s, &count);
        }
        Lib::Tungstenite => {
            let conns = connect_all(s.conns, || TtClient::connect(port, &data)).await;
            spawn_loops(conns, &s, &count);
        }
        Lib::TokioWs => {
            let conns = connect_all(s.conns, || TwClient::connect(port, &data)).await;
            spawn_loops(conns, &s, &count);
        }
        Lib::FastWs => {
            let conns = connect_all(s.conns, || FwClient::connect(port, &data)).await;
            spawn_loops(conns, &s, &count);
        }
    }
    let mut profile = profile::Hook::from_args(args, peer);
    tokio::time::sleep(Duration::from_secs_f64(warm)).await;
    // A profiler starts and stops counting some time after it is asked to:
    // count the messages from the middle of the one to the middle of the other.
    let mut msgs_from = None;
    if let Some(p) = profile.as_mut() {
        let before = count.get();
        p.start().await;
        msgs_from = Some((before + count.get()) / 2);
    }
    let a = Snapshot::take(peer, count.get());
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let b = Snapshot::take(peer, count.get());
    let mut msgs = b.count - a.count;
    if let (Some(p), Some(from)) = (profile.as_mut(), msgs_from) {
        let before = count.get();
        p.stop().await;
        msgs = (before + count.get()) / 2 - from;
    }
    println!(
        "RESULT msgs={} secs={:.6} cpu_self={:.4} cpu_peer={:.4}",
        msgs,
        (b.at - a.at).as_secs_f64(),
        b.cpu_self - a.cpu_self,
        b.cpu_peer - a.cpu_peer
    );
    io::stdout().flush().unwrap();
    std::process::exit(0);
}

async fn idle(args: &Args) {
    let lib: Lib = args.pos(1, "library");
    let port: u16 = args.pos(2, "port");
    let n: usize = args.pos(3, "connections");
    let deflate = args.flag("deflate");
    let peer: u32 = args.value("peer", 0);
    let me = std::process::id();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (self0, peer0) = (util::rss_bytes(me), util::rss_bytes(peer));
    let hold = Holder::default();
    let data: Vec<u8> = Vec::new();
    match lib {
        Lib::Cli => die("`sockweave serve --echo` is a server; it has no load client"),
        Lib::Raw => {
            for c in connect_all(n, || raw::RawClient::connect(port, &data, deflate, 1)).await {
                hold.keep(Box::new(c));
            }
        }
        Lib::Sockweave => {
            for c in connect_all(n, || SwClient::connect(port, &data, deflate)).await {
                hold.keep(Box::new(c.into_idle()));
            }
        }
        Lib::Tungstenite => {
            for c in connect_all(n, || TtClient::connect(port, &data)).await {
                hold.keep(Box::new(c));
            }
        }
        Lib::TokioWs => {
            for c in connect_all(n, || TwClient::connect(port, &data)).await {
                hold.keep(Box::new(c));
            }
        }
        Lib::FastWs => {
            for c in connect_all(n, || FwClient::connect(port, &data)).await {
                hold.keep(Box::new(c));
            }
        }
    }
    // Let both sides settle (drivers run, handshake buffers go).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (self1, peer1) = (util::rss_bytes(me), util::rss_bytes(peer));
    println!(
        "RESULT conns={n} self_before={self0} self_after={self1} peer_before={peer0} peer_after={peer1}"
    );
    io::stdout().flush().unwrap();
    std::process::exit(0);
}
