//! `sockweave bench URL`: a load test of any WebSocket echo server, on
//! sockweave's public client API.
//!
//! Every connection keeps `--in-flight` messages on their way: it sends one
//! whenever an echo comes back, and times each message from just before its
//! `send` to the end of its echo (a round trip; echoes come back in order).
//! Progress goes to stderr once a second, the summary to stdout.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lexopt::prelude::*;
use sockweave::{
    ClientWebSocket, ClientWebSocketOptions, CloseCode, HttpVersion, Invoker, MessageType, Millis, SendFlags,
    WebSocket,
};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::args::{ClientArgs, Res};

/// How long echoes still on their way at the end may take to arrive.
const DRAIN: Duration = Duration::from_secs(10);
/// How long the server may take to answer our Close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// Handshakes in flight at once while connecting.
const CONNECTING_AT_ONCE: usize = 64;
/// Errors printed as they happen; the rest are only counted.
const ERRORS_SHOWN: u64 = 5;
/// Round trips a connection times before adding them to the shared histogram.
const BATCH: usize = 256;

/// What every connection does.
struct Config {
    payload: Vec<u8>,
    message_type: MessageType,
    in_flight: usize,
    duration: Duration,
}

pub async fn run(mut p: lexopt::Parser) -> Res<i32> {
    let mut url = None;
    let mut connections: usize = 1;
    let mut size: usize = 32;
    let mut in_flight: usize = 1;
    let mut duration = Duration::from_secs(10);
    let mut text = false;
    let mut opts = ClientArgs::default();
    while let Some(arg) = p.next()? {
        match arg {
            Value(v) if url.is_none() => url = Some(v.string()?),
            Short('c') | Long("connections") => {
                connections = count(&p.value()?.string()?, "--connections", 1_000_000)?;
            }
            Long("size") => size = parse_size(&p.value()?.string()?)?,
            Long("in-flight") => in_flight = count(&p.value()?.string()?, "--in-flight", 65_536)?,
            Long("duration") => {
                duration = match crate::args::parse_millis(&p.value()?.string()?)? {
                    Millis::Finite(ms) if ms > 0 => Duration::from_millis(ms),
                    _ => return Err("--duration must be a finite time above zero, e.g. 10s".into()),
                }
            }
            Long("text") => text = true,
            other => {
                let name = crate::args::option_name(&other).ok_or_else(|| other.unexpected())?;
                if !opts.take(&name, &mut p)? {
                    return Err(format!("unknown option {name} (sockweave bench --help lists them)").into());
                }
            }
        }
    }
    let url =
        url.ok_or("bench needs the URL of an echo server, e.g. sockweave bench ws://127.0.0.1:9001/")?;
    let options = opts.finish()?;
    if size as u64 > options.options.max_message_size {
        return Err(format!(
            "--size {size} is above --max-message-size {}: raise it (the echoes are that large too)",
            options.options.max_message_size
        )
        .into());
    }
    if let Some(proxy) = crate::args::proxy_note(&options, &url) {
        eprintln!("through the proxy {proxy}");
    }
    // One invoker for every connection: the TLS setup is made once, and over
    // HTTP/2 the WebSockets share one connection (RFC 8441), as in an application.
    let mut invoker_options = options.invoker_options();
    if invoker_options.credentials.is_some() {
        invoker_options.credential_origins = vec![url.clone()];
    }
    let invoker = Invoker::new(invoker_options);
    let protocol = ClientWebSocketOptions {
        options: options.options.clone(),
        ..ClientWebSocketOptions::default()
    };
    let deflate_offered = options.options.dangerous_deflate_options.is_some();

    let stats = Arc::new(Stats::default());
    eprintln!("connecting {connections} connection(s) to {url}");
    let t0 = Instant::now();
    let (sockets, details) = connect_all(&url, connections, &invoker, &protocol, &stats).await;
    let Some(details) = details else {
        return Err(format!(
            "no connection could be made to {url}: {}",
            stats.first_error().unwrap_or_default()
        )
        .into());
    };
    let version = match details.version {
        Some(HttpVersion::Http2) => "HTTP/2",
        _ => "HTTP/1.1",
    };
    let deflate = match (deflate_offered, details.deflate) {
        (_, true) => "deflate on",
        (true, false) => "deflate offered, refused by the server",
        (false, false) => "deflate off",
    };
    eprintln!(
        "connected {} of {connections} in {:.2} s over {version} ({} TCP connection(s))",
        sockets.len(),
        t0.elapsed().as_secs_f64(),
        invoker.connections_opened()
    );

    let config = Arc::new(Config {
        payload: payload(size),
        message_type: if text {
            MessageType::Text
        } else {
            MessageType::Binary
        },
        in_flight,
        duration,
    });
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let (config, stats) = (config.clone(), stats.clone());
        tasks.spawn(async move {
            let limit = config.duration + DRAIN + CLOSE_WAIT;
            let result = match tokio::time::timeout(limit, drive(&ws, &config, &stats, start)).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "did not finish within {:.0} s of the start (the server stopped echoing or closing)",
                    limit.as_secs_f64()
                )),
            };
            if let Err(e) = result {
                stats.error(&format!("connection {i}: {e}"));
                ws.abort();
            }
        });
    }
    let progress = tokio::spawn(progress(stats.clone(), start));
    while tasks.join_next().await.is_some() {}
    progress.abort();
    let _ = progress.await;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }

    let messages = stats.done.load(Ordering::Relaxed);
    let errors = stats.errors.load(Ordering::Relaxed);
    // The measured time ends with the last echo (closing is not measured).
    let secs = (stats.last_echo_ns.load(Ordering::Relaxed) as f64 / 1e9).max(1e-9);
    let rate = messages as f64 / secs;
    let mib = messages as f64 * size as f64 / secs / (1024.0 * 1024.0);
    let kind = if text { "text" } else { "binary" };
    println!(
        "sockweave bench {url}: {version}, {connections} connection(s) x {in_flight} in flight, \
         {size}-byte {kind} messages, {deflate}, {:.1} s",
        duration.as_secs_f64()
    );
    let hist = stats.hist.lock().unwrap_or_else(|e| e.into_inner());
    let latency = if hist.count == 0 {
        String::from("latency: no round trip completed")
    } else {
        format!(
            "latency p50 {} p90 {} p99 {} max {}",
            ms(hist.quantile(0.50)),
            ms(hist.quantile(0.90)),
            ms(hist.quantile(0.99)),
            ms(hist.max)
        )
    };
    println!(
        "summary: {messages} messages in {secs:.2} s, {rate:.0} msg/s, {mib:.2} MiB/s each way, \
         {latency}, {errors} errors"
    );
    Ok(if errors == 0 && messages > 0 { 0 } else { 1 })
}

/// What the first connection learnt about the server.
struct Details {
    version: Option<HttpVersion>,
    deflate: bool,
}

/// Opens `n` connections, `CONNECTING_AT_ONCE` handshakes at a time. Failures
/// are counted in `stats`; `None` if none succeeded.
async fn connect_all(
    url: &str,
    n: usize,
    invoker: &Invoker,
    protocol: &ClientWebSocketOptions,
    stats: &Arc<Stats>,
) -> (Vec<WebSocket>, Option<Details>) {
    let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (url, invoker, protocol, gate) =
            (url.to_owned(), invoker.clone(), protocol.clone(), gate.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let mut ws = ClientWebSocket::with_options(protocol);
            ws.connect_with(&url, &invoker).await.map_err(|e| e.to_string())?;
            let deflate = ws.http_response_headers().is_some_and(|h| {
                h.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("sec-websocket-extensions") && v.contains("permessage-deflate")
                })
            });
            let details = Details {
                version: ws.http_version(),
                deflate,
            };
            let socket = ws
                .into_websocket()
                .ok_or("connect returned without a connection")?;
            Ok::<_, String>((socket, details))
        });
    }
    let mut sockets = Vec::with_capacity(n);
    let mut first = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok((socket, details))) => {
                sockets.push(socket);
                first.get_or_insert(details);
            }
            Ok(Err(e)) => stats.error(&format!("connecting: {e}")),
            Err(e) => stats.error(&format!("connecting: {e}")),
        }
    }
    (sockets, first)
}

/// One connection's run: sends while the duration lasts, keeping
/// `in_flight` messages on their way; then waits for the last echoes and
/// closes.
async fn drive(ws: &WebSocket, config: &Config, stats: &Stats, start: Instant) -> Result<(), String> {
    let window = Semaphore::new(config.in_flight);
    // When each message on its way was sent, oldest first.
    let sent: Mutex<VecDeque<Instant>> = Mutex::new(VecDeque::with_capacity(config.in_flight));
    let sending_done = AtomicBool::new(false);
    let deadline = start + config.duration;
    let writer = async {
        loop {
            let permit = tokio::select! {
                biased;
                _ = tokio::time::sleep_until(deadline) => break,
                p = window.acquire() => p.map_err(|_| "the send window was closed".to_owned())?,
            };
            permit.forget();
            sent.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(Instant::now());
            ws.send(&config.payload, config.message_type, SendFlags::END_OF_MESSAGE)
                .await
                .map_err(|e| format!("send: {e}"))?;
        }
        let all = u32::try_from(config.in_flight).unwrap_or(u32::MAX);
        let drained = tokio::time::timeout(DRAIN, window.acquire_many(all)).await;
        sending_done.store(true, Ordering::Release);
        if drained.is_err() {
            let missing = sent.lock().unwrap_or_else(|e| e.into_inner()).len();
            return Err(format!(
                "{missing} message(s) not echoed within {} s after the end",
                DRAIN.as_secs()
            ));
        }
        ws.close_output(Some(CloseCode::NORMAL), "")
            .await
            .map_err(|e| format!("close: {e}"))
    };
    let reader = async {
        let mut recorder = Recorder {
            stats,
            start,
            batch: Vec::with_capacity(BATCH),
        };
        let mut buf = vec![0u8; config.payload.len().clamp(4096, 1 << 20)];
        let mut length = 0usize;
        loop {
            let r = ws.receive(&mut buf).await.map_err(|e| format!("receive: {e}"))?;
            if r.message_type == MessageType::Close {
                if sending_done.load(Ordering::Acquire) {
                    return Ok(());
                }
                return Err(format!(
                    "the server closed the connection during the run (status {})",
                    r.close_status
                        .map_or_else(|| "none".to_owned(), |c| c.0.to_string())
                ));
            }
            length += r.count;
            if !r.end_of_message {
                continue;
            }
            let sent_at = sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
                .ok_or("a message arrived that nothing was sent for: is this an echo server?")?;
            if length != config.payload.len() {
                return Err(format!(
                    "an echo of {length} bytes came back for a message of {}: is this an echo server?",
                    config.payload.len()
                ));
            }
            length = 0;
            recorder.record(sent_at);
            window.add_permits(1);
        }
    };
    tokio::try_join!(writer, reader).map(|_| ())
}

/// Round trips of one connection, handed to the shared histogram in batches.
struct Recorder<'a> {
    stats: &'a Stats,
    start: Instant,
    batch: Vec<u64>,
}

impl Recorder<'_> {
    fn record(&mut self, sent_at: Instant) {
        let now = Instant::now();
        self.batch.push(now.duration_since(sent_at).as_nanos() as u64);
        self.stats.done.fetch_add(1, Ordering::Relaxed);
        self.stats.last_echo_ns.fetch_max(
            now.duration_since(self.start).as_nanos() as u64,
            Ordering::Relaxed,
        );
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let mut h = self.stats.hist.lock().unwrap_or_else(|e| e.into_inner());
        for ns in self.batch.drain(..) {
            h.add(ns);
        }
    }
}

impl Drop for Recorder<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Counters shared by every connection.
#[derive(Default)]
struct Stats {
    /// Round trips completed.
    done: AtomicU64,
    errors: AtomicU64,
    /// Nanoseconds from the start to the last echo.
    last_echo_ns: AtomicU64,
    hist: Mutex<Histogram>,
    first_error: Mutex<Option<String>>,
}

impl Stats {
    fn error(&self, message: &str) {
        let n = self.errors.fetch_add(1, Ordering::Relaxed);
        if n < ERRORS_SHOWN {
            eprintln!("sockweave bench: {message}");
        } else if n == ERRORS_SHOWN {
            eprintln!("sockweave bench: (further errors are only counted)");
        }
        self.first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(|| message.to_owned());
    }

    fn first_error(&self) -> Option<String> {
        self.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Prints a progress line on stderr every second: elapsed time, messages per
/// second over the last second, totals. On a terminal the line is rewritten.
async fn progress(stats: Arc<Stats>, start: Instant) {
    let tty = std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let mut last = 0;
    loop {
        tick.tick().await;
        let done = stats.done.load(Ordering::Relaxed);
        let line = format!(
            "{:5.1} s  {:>9} msg/s  {:>11} messages  {} errors",
            start.elapsed().as_secs_f64(),
            done - last,
            done,
            stats.errors.load(Ordering::Relaxed)
        );
        last = done;
        if tty {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

/// A log-linear histogram of nanoseconds: exact below 128, then 128 buckets
/// per power of two (under 0.8% error), in constant memory.
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max: u64,
}

const SUB: u64 = 128;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: vec![0; (64 - 7 + 1) * SUB as usize],
            count: 0,
            max: 0,
        }
    }
}

impl Histogram {
    fn index(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        let shift = 63 - v.leading_zeros() as u64 - 7;
        ((shift + 1) * SUB + ((v >> shift) - SUB)) as usize
    }

    /// The middle of bucket `i`.
    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < SUB {
            return i;
        }
        let shift = i / SUB - 1;
        let low = (i % SUB + SUB) << shift;
        low + (1u64 << shift) / 2
    }

    fn add(&mut self, ns: u64) {
        self.buckets[Self::index(ns)] += 1;
        self.count += 1;
        self.max = self.max.max(ns);
    }

    /// The value at quantile `q` (0..=1), never above the maximum seen.
    fn quantile(&self, q: f64) -> u64 {
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count.max(1));
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::value(i).min(self.max);
            }
        }
        self.max
    }
}

fn ms(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

/// Pseudo-random lower-case letters: valid UTF-8 for `--text`, and
/// compressible about as much as ordinary text for `--deflate`.
fn payload(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect()
}

/// `32`, `4k`, `64KiB`, `1m`, `1MiB` (k and m are 1024 and 1024²).
fn parse_size(s: &str) -> Res<usize> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix("ib").or_else(|| t.strip_suffix('b')).unwrap_or(&t);
    let (num, mult) = if let Some(n) = t.strip_suffix('k') {
        (n, 1024)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1024 * 1024)
    } else {
        (t, 1)
    };
    num.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("--size {s:?}: use a number of bytes, e.g. 32, 4k or 1m").into())
}

/// A count from 1 to `max`.
fn count(s: &str, option: &str, max: usize) -> Res<usize> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("{option} {s:?}: use a whole number from 1 to {max}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_round_trip() {
        for v in [
            0u64,
            1,
            127,
            128,
            129,
            255,
            256,
            1_000,
            123_456,
            10_000_000_000,
            u64::MAX,
        ] {
            let i = Histogram::index(v);
            let back = Histogram::value(i);
            let err = back.abs_diff(v) as f64 / (v.max(1) as f64);
            assert!(err < 0.008, "{v} -> {i} -> {back}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for v in 1..=1000u64 {
            h.add(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.01, "{p50}");
        assert_eq!(h.quantile(1.0), 1_000_000);
        assert_eq!(h.max, 1_000_000);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("32").unwrap(), 32);
        assert_eq!(parse_size("4k").unwrap(), 4096);
        assert_eq!(parse_size("64KiB").unwrap(), 65536);
        assert_eq!(parse_size("1m").unwrap(), 1 << 20);
        assert!(parse_size("x").is_err());
        assert!(parse_size("-1").is_err());
    }
}
