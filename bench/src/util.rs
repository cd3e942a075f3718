//! Process accounting, payloads and small helpers shared by every role.

use std::time::Instant;

/// CPU time (user + system) a process has used so far, in seconds, from
/// `/proc/PID/stat` (all its threads together).
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // The command name is in parentheses and may contain spaces: skip past it.
    let rest = match stat.rfind(')') {
        Some(i) => &stat[i + 2..],
        None => return f64::NAN,
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, field 3 (state) is index 0: utime is field 14, stime field 15.
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    (utime + stime) / clock_ticks()
}

fn clock_ticks() -> f64 {
    // sysconf(_SC_CLK_TCK) is 100 on every Linux this runs on; getconf confirms it.
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Resident set size of a process, in bytes, from `/proc/PID/status`.
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A measurement window: wall time and the CPU of this process and of the peer.
#[derive(Clone, Copy)]
pub struct Snapshot {
    pub at: Instant,
    pub cpu_self: f64,
    pub cpu_peer: f64,
    pub count: u64,
}

impl Snapshot {
    pub fn take(peer: u32, count: u64) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            cpu_self: cpu_seconds(std::process::id()),
            cpu_peer: cpu_seconds(peer),
            count,
        }
    }
}

/// Binary payload of `n` bytes (not compressible on purpose, no pattern the
/// code could exploit).
pub fn binary_payload(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// JSON-like text of `n` bytes: chat messages from a small vocabulary, the
/// corpus of the permessage-deflate scenarios (same generator as tests/npm/bench.js).
pub fn json_payload(n: usize) -> Vec<u8> {
    let words = [
        "{\"user\":",
        "\"alice\"",
        "\"bob\"",
        ",\"text\":",
        "\"hello\"",
        "\"world\"",
        ",\"ts\":",
        "1732",
        "}",
        " ",
    ];
    let mut s = String::new();
    let mut x: u64 = 12345;
    while s.len() < n {
        x = (x.wrapping_mul(1_103_515_245).wrapping_add(12345)) & 0x7fff_ffff;
        s.push_str(words[(x % words.len() as u64) as usize]);
    }
    s.truncate(n);
    s.into_bytes()
}

/// The payload of a scenario: JSON-like text with deflate, binary without.
pub fn payload(n: usize, deflate: bool) -> Vec<u8> {
    if deflate {
        json_payload(n)
    } else {
        binary_payload(n)
    }
}

/// Sets SO_LINGER 0 so closing a benchmark socket leaves no TIME_WAIT behind
/// (10,000-connection runs would otherwise exhaust the ephemeral ports).
pub fn no_linger(s: &tokio::net::TcpStream) {
    #[allow(deprecated)]
    let _ = s.set_linger(Some(std::time::Duration::ZERO));
    let _ = s.set_nodelay(true);
}

/// Reads an HTTP head (up to and including the blank line) without reading
/// past it: peeks, then takes exactly the head. Returns the head as text.
pub async fn read_http_head(s: &mut tokio::net::TcpStream) -> std::io::Result<String> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 8192];
    loop {
        let n = s.peek(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(end) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
            let mut head = vec![0u8; end + 4];
            s.read_exact(&mut head).await?;
            return Ok(String::from_utf8_lossy(&head).into_owned());
        }
        if n == buf.len() {
            return Err(std::io::Error::other("HTTP head too long"));
        }
        // Not all there yet: wait for more than we have.
        s.readable().await?;
        tokio::time::sleep(std::time::Duration::from_micros(50)).await;
    }
}

/// The value of header `name` in an HTTP head (case-insensitive name).
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `Sec-WebSocket-Accept` for a key (RFC 6455 section 4.2.2).
pub fn accept_key(key: &str) -> String {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Median and relative spread ((max - min) / median) of samples.
pub fn median_spread(v: &[f64]) -> (f64, f64) {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    (m, (s[s.len() - 1] - s[0]) / m)
}
