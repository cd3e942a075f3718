//! The orchestrator: starts the server and load processes for every
//! measurement, pinned to different cores, interleaves the contenders over
//! several repetitions, and writes the table, the `REPORT` lines,
//! `results.md` and `chart.svg`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::libs::{Lib, PEERS, RUN};
use crate::util::median_spread;
use crate::Args;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Role {
    /// The contender is the server, under the neutral load client.
    Server,
    /// The contender is the client, against the neutral server.
    Client,
}

impl Role {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

#[derive(Clone)]
struct Scenario {
    name: &'static str,
    kind: &'static str,
    size: usize,
    window: usize,
    conns: usize,
    deflate: bool,
    /// Which issue target applies.
    target: Target,
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    /// 1.1x the best of fastwebsockets and tokio-websockets.
    Small,
    /// 1.1x fastwebsockets/tokio-websockets and at least the best peer.
    Pipelined,
    /// At least the best peer.
    Large,
    None,
}

fn scenarios() -> Vec<Scenario> {
    let s = |name, kind, size, window, conns, deflate, target| Scenario {
        name,
        kind,
        size,
        window,
        conns,
        deflate,
        target,
    };
    vec![
        s("echo 16 B", "echo", 16, 1, 1, false, Target::Small),
        s("echo 1 KiB", "echo", 1024, 1, 1, false, Target::Small),
        s("echo 64 KiB", "echo", 64 << 10, 1, 1, false, Target::None),
        s("echo 1 MiB", "echo", 1 << 20, 1, 1, false, Target::Large),
        s(
            "pipelined 16 B (64 in flight)",
            "pipe",
            16,
            64,
            1,
            false,
            Target::Pipelined,
        ),
        s(
            "pipelined 1 KiB (64 in flight)",
            "pipe",
            1024,
            64,
            1,
            false,
            Target::Pipelined,
        ),
        s(
            "1,000 connections, echo 16 B",
            "echo",
            16,
            1,
            1000,
            false,
            Target::None,
        ),
        s("deflate echo 1 KiB JSON", "echo", 1024, 1, 1, true, Target::None),
        s(
            "deflate pipelined 1 KiB JSON (64 in flight)",
            "pipe",
            1024,
            64,
            1,
            true,
            Target::None,
        ),
    ]
}

#[derive(Default, Clone)]
struct Samples {
    rate: Vec<f64>,
    /// CPU seconds per message of the side under test, in microseconds.
    cpu_us: Vec<f64>,
    /// Share of one core the neutral peer used (near 1: it saturated).
    peer_load: Vec<f64>,
}

pub(crate) struct Runner {
    exe: PathBuf,
    taskset: bool,
    /// Core of the side under test and of the neutral peer.
    pub(crate) cpus: (usize, usize),
    secs: f64,
    warm: f64,
}

impl Runner {
    fn new(secs: f64, warm: f64) -> Runner {
        let taskset = Command::new("taskset")
            .arg("-c")
            .arg("0")
            .arg("true")
            .status()
            .is_ok_and(|s| s.success());
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runner = Runner {
            exe: std::env::current_exe().expect("own path"),
            taskset: taskset && ncpu >= 2,
            cpus: (0, if ncpu >= 2 { 1 } else { 0 }),
            secs,
            warm,
        };
        if !runner.taskset {
            eprintln!("note: taskset or a second core is missing; processes are not pinned");
        }
        runner
    }

    /// Our own executable on `cpu`, run by `wrapper` (a profiler) if not empty.
    pub(crate) fn command(&self, cpu: usize, wrapper: &[String]) -> Command {
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        if self.taskset {
            argv.extend(["taskset".into(), "-c".into(), cpu.to_string().into()]);
        }
        argv.extend(wrapper.iter().map(Into::into));
        argv.push(self.exe.clone().into());
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    }

    pub(crate) fn start_server(
        &self,
        lib: Lib,
        cpu: usize,
        deflate: bool,
        idle: bool,
        wrapper: &[String],
    ) -> (Child, u16) {
        if lib == Lib::Cli {
            return self.start_cli(cpu, deflate, wrapper);
        }
        let mut c = self.command(cpu, wrapper);
        c.arg("serve").arg(lib.name());
        if deflate {
            c.arg("--deflate");
        }
        if idle {
            c.arg("--idle");
        }
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start the server process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("server output");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("server of {} did not start: {line:?}", lib.name()));
        (child, port)
    }

    /// `sockweave serve 127.0.0.1:0 --echo`, the binary built beside ours
    /// (`cargo build --release -p sockweave`), as users run it: its own
    /// runtime and defaults. It prints `listening on ws://127.0.0.1:PORT/`.
    fn start_cli(&self, cpu: usize, deflate: bool, wrapper: &[String]) -> (Child, u16) {
        let cli = self.exe.with_file_name("sockweave");
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        if self.taskset {
            argv.extend(["taskset".into(), "-c".into(), cpu.to_string().into()]);
        }
        argv.extend(wrapper.iter().map(Into::into));
        argv.push(cli.clone().into());
        argv.extend(["serve".into(), "127.0.0.1:0".into(), "--echo".into()]);
        if deflate {
            // The load client offers the default parameters; the server accepts them.
            argv.push("--deflate".into());
        }
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): build it with cargo build --release -p sockweave",
                    cli.display()
                )
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("server output");
        let port = line
            .trim()
            .strip_prefix("listening on ws://127.0.0.1:")
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("sockweave serve did not start: {line:?}"));
        (child, port)
    }

    pub(crate) fn stop(child: &mut Child) {
        if child.stdin.is_none() {
            // `sockweave serve` runs until it is stopped.
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        drop(child.stdin.take());
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Runs a load process to completion and returns its `RESULT` fields.
    pub(crate) fn run_client(
        &self,
        cpu: usize,
        args: &[String],
        wrapper: &[String],
        timeout: Duration,
    ) -> Option<BTreeMap<String, f64>> {
        let mut child = self
            .command(cpu, wrapper)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start the load process");
        let until = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                _ if Instant::now() > until => {
                    let _ = child.kill();
                    let _ = child.wait();
                    eprintln!("  timed out: {}", args.join(" "));
                    return None;
                }
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        let out = child.wait_with_output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with("RESULT ")) else {
            eprintln!(
                "  failed: {} ({})",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        };
        Some(
            line["RESULT ".len()..]
                .split_whitespace()
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_string(), v.parse().ok()?))
                })
                .collect(),
        )
    }

    /// One measurement: returns (messages/s, CPU µs per message of the side
    /// under test, CPU share of the neutral peer).
    fn measure(&self, sc: &Scenario, role: Role, lib: Lib) -> Option<(f64, f64, f64)> {
        if !lib.has_role(role == Role::Server) {
            return None;
        }
        let (server_lib, client_lib) = match role {
            Role::Server => (lib, Lib::Raw),
            Role::Client => (Lib::Raw, lib),
        };
        // The side under test gets the first core, the neutral peer the second.
        let (server_cpu, client_cpu) = match role {
            Role::Server => (self.cpus.0, self.cpus.1),
            Role::Client => (self.cpus.1, self.cpus.0),
        };
        let (mut server, port) = self.start_server(server_lib, server_cpu, sc.deflate, false, &[]);
        let mut args: Vec<String> = vec![
            "load".into(),
            client_lib.name().into(),
            port.to_string(),
            sc.kind.into(),
            sc.size.to_string(),
            "--peer".into(),
            server.id().to_string(),
            "--secs".into(),
            self.secs.to_string(),
            "--warm".into(),
            self.warm.to_string(),
            "--window".into(),
            sc.window.to_string(),
            "--conns".into(),
            sc.conns.to_string(),
        ];
        if sc.deflate {
            args.push("--deflate".into());
        }
        let r = self.run_client(
            client_cpu,
            &args,
            &[],
            Duration::from_secs_f64(self.secs + self.warm + 30.0),
        );
        Self::stop(&mut server);
        let r = r?;
        let msgs = *r.get("msgs")?;
        let secs = *r.get("secs")?;
        if msgs == 0.0 {
            return None;
        }
        let (cpu_test, cpu_peer) = match role {
            Role::Server => (r["cpu_peer"], r["cpu_self"]),
            Role::Client => (r["cpu_self"], r["cpu_peer"]),
        };
        Some((msgs / secs, cpu_test / msgs * 1e6, cpu_peer / secs))
    }

    /// Idle memory: bytes per connection of the side under test.
    fn idle(&self, role: Role, lib: Lib, deflate: bool, conns: usize) -> Option<f64> {
        if !lib.has_role(role == Role::Server) {
            return None;
        }
        let (server_lib, client_lib) = match role {
            Role::Server => (lib, Lib::Raw),
            Role::Client => (Lib::Raw, lib),
        };
        let (mut server, port) = self.start_server(server_lib, self.cpus.0, deflate, true, &[]);
        let mut args: Vec<String> = vec![
            "idle".into(),
            client_lib.name().into(),
            port.to_string(),
            conns.to_string(),
            "--peer".into(),
            server.id().to_string(),
        ];
        if deflate {
            args.push("--deflate".into());
        }
        let r = self.run_client(self.cpus.1, &args, &[], Duration::from_secs(120));
        Self::stop(&mut server);
        let r = r?;
        let (before, after) = match role {
            Role::Server => (r["peer_before"], r["peer_after"]),
            Role::Client => (r["self_before"], r["self_after"]),
        };
        Some((after - before) / conns as f64)
    }
}

struct Config {
    quick: bool,
    reps: usize,
    secs: f64,
    warm: f64,
    idle_conns: usize,
    out: PathBuf,
    only: Option<String>,
}

pub fn main(args: &Args) {
    let quick = args.flag("quick");
    let cfg = Config {
        quick,
        reps: args.value("reps", if quick { 3 } else { 5 }),
        secs: args.value("secs", if quick { 0.4 } else { 1.0 }),
        warm: args.value("warm", if quick { 0.15 } else { 0.3 }),
        idle_conns: args.value("conns", 10_000),
        out: PathBuf::from(args.value("out", "tests/bench".to_string())),
        only: args
            .flags
            .iter()
            .find(|(n, _)| n == "only")
            .and_then(|(_, v)| v.clone()),
    };
    let started = Instant::now();
    let runner = Runner::new(cfg.secs, cfg.warm);
    let scenarios: Vec<Scenario> = scenarios()
        .into_iter()
        .filter(|s| cfg.only.as_deref().is_none_or(|o| s.name.contains(o)))
        .collect();
    let roles = [Role::Server, Role::Client];
    let mut results: BTreeMap<(usize, Role, Lib), Samples> = BTreeMap::new();
    for rep in 0..cfg.reps {
        eprintln!(
            "repetition {}/{} ({:.0} s so far)",
            rep + 1,
            cfg.reps,
            started.elapsed().as_secs_f64()
        );
        for (si, sc) in scenarios.iter().enumerate() {
            for role in roles {
                // Interleaved: every contender once per repetition, in a rotating order.
                let mut order: Vec<Lib> = RUN
                    .iter()
                    .copied()
                    .filter(|l| (!sc.deflate || l.supports_deflate()) && l.has_role(role == Role::Server))
                    .collect();
                let k = rep % order.len();
                order.rotate_left(k);
                for lib in order {
                    if let Some((rate, cpu, peer)) = runner.measure(sc, role, lib) {
                        let e = results.entry((si, role, lib)).or_default();
                        e.rate.push(rate);
                        e.cpu_us.push(cpu);
                        e.peer_load.push(peer);
                    }
                }
            }
        }
    }
    // Idle memory.
    let mut memory: BTreeMap<(Role, bool, Lib), f64> = BTreeMap::new();
    if cfg.only.is_none() {
        eprintln!(
            "idle memory at {} connections ({:.0} s so far)",
            cfg.idle_conns,
            started.elapsed().as_secs_f64()
        );
        for role in roles {
            for deflate in [false, true] {
                for lib in RUN {
                    if (deflate && !lib.supports_deflate()) || !lib.has_role(role == Role::Server) {
                        continue;
                    }
                    if let Some(b) = runner.idle(role, lib, deflate, cfg.idle_conns) {
                        memory.insert((role, deflate, lib), b);
                    }
                }
            }
        }
    }
    let mask = mask_report(cfg.quick);
    let mut report = render(&cfg, &scenarios, &results, &memory, &mask, &runner);
    if !cfg.quick && cfg.only.is_none() && !args.flag("no-profile") {
        eprintln!("profiles ({:.0} s so far)", started.elapsed().as_secs_f64());
        report.markdown.push_str(&crate::profile::run_all(&runner));
    }
    print!("{}", report.text);
    std::fs::create_dir_all(&cfg.out).ok();
    write_file(&cfg.out.join("results.md"), &report.markdown);
    write_file(&cfg.out.join("chart.svg"), &report.svg);
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
}

fn write_file(p: &Path, s: &str) {
    match std::fs::File::create(p).and_then(|mut f| f.write_all(s.as_bytes())) {
        Ok(()) => eprintln!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write {}: {e}", p.display()),
    }
}

/// Medians and spreads: msg/s, its spread, CPU µs/msg, its spread, peer load.
type Stat = (f64, f64, f64, f64, f64);

struct Rendered {
    text: String,
    markdown: String,
    svg: String,
}

fn fmt_rate(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x >= 100.0 {
        let s = format!("{:.0}", x);
        // Thousands separators.
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        format!("{x:.1}")
    }
}

fn cmd_output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn render(
    cfg: &Config,
    scenarios: &[Scenario],
    results: &BTreeMap<(usize, Role, Lib), Samples>,
    memory: &BTreeMap<(Role, bool, Lib), f64>,
    mask: &[String],
    runner: &Runner,
) -> Rendered {
    let date = cmd_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let model = cmd_output("lscpu", &[])
        .lines()
        .find_map(|l| l.strip_prefix("Model name:").map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".into());
    let nproc = cmd_output("nproc", &[]);
    let kernel = cmd_output("uname", &["-r"]);
    let rustc = cmd_output("rustc", &["--version"]);
    let mut md = String::new();
    let mut text = String::new();
    let mut reports = Vec::new();
    let _ = writeln!(md, "# sockweave benchmarks\n");
    let _ = writeln!(
        md,
        "{date}; {nproc} cores ({model}), Linux {kernel}, {rustc}; {} repetitions of {} s (after {} s warm-up) per contender, interleaved; {}.\n",
        cfg.reps,
        cfg.secs,
        cfg.warm,
        if runner.taskset {
            "side under test pinned to core 0, neutral peer to core 1 (taskset)"
        } else {
            "not pinned"
        }
    );
    let _ = writeln!(
        md,
        "Each library runs its own echo server (\"server\" rows, under the neutral load client) or its own client (\"client\" rows, against the neutral echo server). The neutral peers are `sockweave-bench`'s `raw` client and server: WebSocket on plain TCP with no library, frames built once, a separate process on the other core. Each process runs a single-threaded tokio runtime. msg/s is messages echoed per second (median, ± half the min-max spread); CPU is the side under test's own user+system time (`/proc/PID/stat`) per message. Ratios are sockweave / best peer for msg/s, best peer / sockweave for CPU (above 1: sockweave is better). \"peer load\" is the neutral peer's CPU share: near 100% it is the bottleneck and the CPU column is the one that tells the contenders apart.\n"
    );
    let header_libs: Vec<&str> = RUN.iter().map(|l| l.name()).collect();
    let _ = writeln!(
        md,
        "| scenario | role | {} | msg/s ratio | {} | CPU ratio | `serve --echo` CPU ratio | peer load (sockweave) |",
        header_libs
            .iter()
            .map(|n| format!("{n} msg/s"))
            .collect::<Vec<_>>()
            .join(" | "),
        header_libs
            .iter()
            .map(|n| format!("{n} CPU µs/msg"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(md, "|{}", "---|".repeat(2 + 2 * RUN.len() + 4));
    let _ = writeln!(
        text,
        "{:<46} {:<6} {:>22} {:>22} {:>22} {:>22} {:>22} {:>7} {:>7} {:>7}",
        "scenario",
        "role",
        "sockweave",
        "serve --echo",
        "tokio-tungstenite",
        "fastwebsockets",
        "tokio-websockets",
        "rate x",
        "cpu x",
        "cli cpu x"
    );
    let mut targets: Vec<String> = Vec::new();
    let mut chart: Vec<(String, Vec<(Lib, f64)>)> = Vec::new();
    for (si, sc) in scenarios.iter().enumerate() {
        for role in [Role::Server, Role::Client] {
            let stat = |lib: Lib| -> Option<Stat> {
                let s = results.get(&(si, role, lib))?;
                let (r, rs) = median_spread(&s.rate);
                let (c, cs) = median_spread(&s.cpu_us);
                let (p, _) = median_spread(&s.peer_load);
                Some((r, rs, c, cs, p))
            };
            let ours = stat(Lib::Sockweave);
            let peers: Vec<(Lib, Stat)> = PEERS.iter().filter_map(|&l| stat(l).map(|s| (l, s))).collect();
            let best_rate = peers.iter().map(|p| p.1 .0).fold(f64::NAN, f64::max);
            let best_cpu = peers.iter().map(|p| p.1 .2).fold(f64::NAN, f64::min);
            let (rate_x, cpu_x) = match ours {
                Some(o) => (o.0 / best_rate, best_cpu / o.2),
                None => (f64::NAN, f64::NAN),
            };
            let cell = |lib: Lib, cpu: bool| -> String {
                match stat(lib) {
                    Some((r, rs, c, cs, _)) => {
                        if cpu {
                            format!("{c:.2} ±{:.0}%", cs * 50.0)
                        } else {
                            format!("{} ±{:.0}%", fmt_rate(r), rs * 50.0)
                        }
                    }
                    None => "n/a".into(),
                }
            };
            let ratio = |x: f64| {
                if x.is_finite() {
                    format!("{x:.2}")
                } else {
                    "n/a".into()
                }
            };
            let peer_load = ours.map_or("n/a".into(), |o| format!("{:.0}%", o.4 * 100.0));
            let cli_cpu_x = stat(Lib::Cli).map_or(f64::NAN, |c| best_cpu / c.2);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                sc.name,
                role.name(),
                RUN.iter()
                    .map(|&l| cell(l, false))
                    .collect::<Vec<_>>()
                    .join(" | "),
                ratio(rate_x),
                RUN.iter().map(|&l| cell(l, true)).collect::<Vec<_>>().join(" | "),
                ratio(cpu_x),
                ratio(cli_cpu_x),
                peer_load
            );
            let _ = writeln!(
                text,
                "{:<46} {:<6} {:>22} {:>22} {:>22} {:>22} {:>22} {:>7} {:>7} {:>7}",
                sc.name,
                role.name(),
                cell(Lib::Sockweave, false),
                cell(Lib::Cli, false),
                cell(Lib::Tungstenite, false),
                cell(Lib::FastWs, false),
                cell(Lib::TokioWs, false),
                ratio(rate_x),
                ratio(cpu_x),
                ratio(cli_cpu_x)
            );
            let _ = writeln!(
                text,
                "{:<46} {:<6} {:>22} {:>22} {:>22} {:>22} {:>22}",
                "  CPU µs/msg of the side under test",
                "",
                cell(Lib::Sockweave, true),
                cell(Lib::Cli, true),
                cell(Lib::Tungstenite, true),
                cell(Lib::FastWs, true),
                cell(Lib::TokioWs, true),
            );
            reports.push(format!(
                "REPORT {} {}: sockweave {} msg/s {} µs/msg; {}{}; rate ratio {} cpu ratio {} serve --echo cpu ratio {}",
                sc.name,
                role.name(),
                ours.map_or("n/a".into(), |o| fmt_rate(o.0)),
                ours.map_or("n/a".into(), |o| format!("{:.2}", o.2)),
                stat(Lib::Cli).map_or(String::new(), |c| format!("serve --echo {} msg/s {:.2} µs/msg, ", fmt_rate(c.0), c.2)),
                peers
                    .iter()
                    .map(|(l, s)| format!("{} {} msg/s {:.2} µs/msg", l.name(), fmt_rate(s.0), s.2))
                    .collect::<Vec<_>>()
                    .join(", "),
                ratio(rate_x),
                ratio(cpu_x),
                ratio(cli_cpu_x)
            ));
            chart.push((
                format!("{} ({})", sc.name, role.name()),
                RUN.iter()
                    .map(|&l| (l, stat(l).map_or(f64::NAN, |s| s.0)))
                    .collect(),
            ));
            // The issue's targets.
            if let Some(o) = ours {
                let fast_peers: Vec<&(Lib, Stat)> = peers
                    .iter()
                    .filter(|p| matches!(p.0, Lib::FastWs | Lib::TokioWs))
                    .collect();
                let best_fast_rate = fast_peers.iter().map(|p| p.1 .0).fold(f64::NAN, f64::max);
                let best_fast_cpu = fast_peers.iter().map(|p| p.1 .2).fold(f64::NAN, f64::min);
                let saturated = o.4 > 0.9;
                let judge = |want: f64, rate: f64, cpu: f64| -> (bool, String) {
                    let met = rate >= want || cpu >= want;
                    (
                        met,
                        format!(
                            "msg/s {:.2}x, CPU/msg {:.2}x (want {want:.1}x in either; neutral peer at {:.0}% of a core{})",
                            rate,
                            cpu,
                            o.4 * 100.0,
                            if saturated { ", saturated" } else { "" }
                        ),
                    )
                };
                let mut check = |what: &str, want: f64, rate: f64, cpu: f64| {
                    let (met, detail) = judge(want, rate, cpu);
                    targets.push(format!(
                        "- {} — {} {}, {}: {}",
                        if met { "MET" } else { "MISSED" },
                        sc.name,
                        role.name(),
                        what,
                        detail
                    ));
                };
                match sc.target {
                    Target::Small => check(
                        "vs best of fastwebsockets/tokio-websockets",
                        1.1,
                        o.0 / best_fast_rate,
                        best_fast_cpu / o.2,
                    ),
                    Target::Pipelined => {
                        check(
                            "vs best of fastwebsockets/tokio-websockets",
                            1.1,
                            o.0 / best_fast_rate,
                            best_fast_cpu / o.2,
                        );
                        check("vs best peer", 1.0, rate_x, cpu_x);
                    }
                    Target::Large => check("vs best peer", 1.0, rate_x, cpu_x),
                    Target::None => {}
                }
            }
        }
    }
    // Memory.
    let _ = writeln!(
        md,
        "\n## Idle memory per open connection\n\n{} connections opened and held without traffic; resident-size delta of the side under test divided by the connections (KiB per connection). Peers without permessage-deflate show n/a.\n",
        cfg.idle_conns
    );
    let _ = writeln!(
        md,
        "| role | deflate | {} | ratio (best peer / sockweave) | ratio (best peer / `serve --echo`) |",
        header_libs.join(" | ")
    );
    let _ = writeln!(md, "|{}", "---|".repeat(4 + RUN.len()));
    let _ = writeln!(
        text,
        "\nidle memory, KiB per connection at {} connections:",
        cfg.idle_conns
    );
    for role in [Role::Server, Role::Client] {
        for deflate in [false, true] {
            let v: Vec<Option<f64>> = RUN
                .iter()
                .map(|&l| memory.get(&(role, deflate, l)).copied())
                .collect();
            // v: sockweave, serve --echo, then the peers.
            let best_peer = v[2..].iter().flatten().copied().fold(f64::NAN, f64::min);
            let ratio = v[0].map_or(f64::NAN, |o| best_peer / o);
            let cli_ratio = v[1].map_or(f64::NAN, |o| best_peer / o);
            let cells: Vec<String> = v
                .iter()
                .map(|x| x.map_or("n/a".into(), |b| format!("{:.2}", b / 1024.0)))
                .collect();
            let dfl = if deflate { "yes" } else { "no" };
            let fmt_ratio = |x: f64| {
                if x.is_finite() {
                    format!("{x:.2}")
                } else {
                    "n/a".into()
                }
            };
            let (r, cr) = (fmt_ratio(ratio), fmt_ratio(cli_ratio));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                role.name(),
                dfl,
                cells.join(" | "),
                r,
                cr
            );
            let _ = writeln!(
                text,
                "  {:<6} deflate {:<3} {} (ratio {r}, serve --echo {cr})",
                role.name(),
                dfl,
                cells.join(" / ")
            );
            reports.push(format!(
                "REPORT idle memory {} deflate={}: {} KiB/connection (sockweave / serve --echo / tokio-tungstenite / fastwebsockets / tokio-websockets)",
                role.name(),
                dfl,
                cells.join(" / ")
            ));
            for (who, mine) in [("sockweave", v[0]), ("sockweave serve --echo", v[1])] {
                if let (Some(o), false) = (mine, deflate) {
                    if best_peer.is_finite() {
                        targets.push(format!(
                            "- {} — idle memory {}: {who} {:.2} KiB vs best peer {:.2} KiB per connection",
                            if o < best_peer { "MET" } else { "MISSED" },
                            role.name(),
                            o / 1024.0,
                            best_peer / 1024.0
                        ));
                    }
                }
            }
        }
    }
    let _ = writeln!(md, "\n## Masking\n");
    for l in mask {
        let _ = writeln!(md, "    {l}");
        let _ = writeln!(text, "{l}");
        if l.starts_with("REPORT") {
            reports.push(l.clone());
        }
    }
    if let Some(gbs) = mask
        .iter()
        .find(|l| l.starts_with("REPORT masking 64 KiB"))
        .and_then(|l| l.split_whitespace().nth(4)?.parse::<f64>().ok())
    {
        targets.push(format!(
            "- {} — masking at least 8 GB/s on one core: {gbs:.1} GB/s (64 KiB buffers)",
            if gbs >= 8.0 { "MET" } else { "MISSED" }
        ));
    }
    let _ = writeln!(md, "\n## Targets (issue 9)\n");
    for t in &targets {
        let _ = writeln!(md, "{t}");
    }
    let _ = writeln!(md, "\n![msg/s per library and scenario](chart.svg)\n");
    let _ = writeln!(text, "\ntargets:");
    for t in &targets {
        let _ = writeln!(text, "{t}");
    }
    for r in &reports {
        let _ = writeln!(text, "{r}");
    }
    Rendered {
        text,
        markdown: md,
        svg: svg_chart(&chart, &date),
    }
}

/// A horizontal grouped bar chart: per scenario and role, each library's
/// msg/s relative to the fastest in the group, labelled with the absolute value.
fn svg_chart(groups: &[(String, Vec<(Lib, f64)>)], date: &str) -> String {
    let colors = ["#d62728", "#ff9896", "#1f77b4", "#2ca02c", "#9467bd"];
    let bar_h = 9.0;
    let group_gap = 12.0;
    let label_w = 330.0;
    let bar_w = 420.0;
    let top = 56.0;
    let group_h = bar_h * RUN.len() as f64 + group_gap;
    let height = top + group_h * groups.len() as f64 + 20.0;
    let width = label_w + bar_w + 140.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="18" font-size="14" font-weight="bold">Messages per second, relative to the fastest in each row group ({date})</text>"#
    );
    for (i, lib) in RUN.iter().enumerate() {
        let x = 10.0 + i as f64 * 170.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="30" width="12" height="10" fill="{}"/><text x="{}" y="39">{}</text>"#,
            colors[i],
            x + 16.0,
            lib.name()
        );
    }
    for (gi, (name, vals)) in groups.iter().enumerate() {
        let y0 = top + gi as f64 * group_h;
        let best = vals.iter().map(|v| v.1).fold(f64::NAN, f64::max);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            y0 + bar_h * 2.0 + 3.0,
            xml_escape(name)
        );
        for (i, (_, v)) in vals.iter().enumerate() {
            let y = y0 + i as f64 * bar_h;
            if v.is_finite() && best > 0.0 {
                let w = (v / best * bar_w).max(1.0);
                let _ = writeln!(
                    s,
                    r#"<rect x="{label_w}" y="{y}" width="{w:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="8">{}</text>"#,
                    bar_h - 1.0,
                    colors[i],
                    label_w + w + 3.0,
                    y + bar_h - 2.0,
                    fmt_rate(*v)
                );
            } else {
                let _ = writeln!(
                    s,
                    r##"<text x="{}" y="{:.1}" font-size="8" fill="#888">n/a</text>"##,
                    label_w + 3.0,
                    y + bar_h - 2.0
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Masking throughput of `sockweave_core::mask::apply_mask` against the
/// byte loop `apply_mask_bytewise`, the same functions and method as
/// `cargo bench -p sockweave-core --bench mask` (median of 5, unaligned start).
pub fn mask_report(quick: bool) -> Vec<String> {
    use sockweave_core::mask::{apply_mask, apply_mask_bytewise};
    use std::hint::black_box;
    fn gbs(f: fn(&mut [u8], [u8; 4], usize) -> usize, size: usize, total: usize) -> f64 {
        let mut buf = vec![0x5au8; size + 3];
        let data = &mut buf[3..];
        let key = [0x12, 0x34, 0x56, 0x78];
        let mut v = Vec::new();
        for _ in 0..5 {
            let iters = (total / size).max(1);
            let t = Instant::now();
            for i in 0..iters {
                black_box(f(black_box(&mut *data), key, i & 3));
            }
            v.push((iters * size) as f64 / t.elapsed().as_secs_f64() / 1e9);
        }
        median_spread(&v).0
    }
    let total = if quick { 64 << 20 } else { 256 << 20 };
    let mut out = vec![format!(
        "{:>10} {:>14} {:>14} {:>7}",
        "buffer", "apply_mask GB/s", "byte loop GB/s", "ratio"
    )];
    for (size, label) in [(1 << 10, "1 KiB"), (64 << 10, "64 KiB"), (1 << 20, "1 MiB")] {
        let fast = gbs(apply_mask, size, total);
        let slow = gbs(apply_mask_bytewise, size, total);
        out.push(format!(
            "{label:>10} {fast:>14.2} {slow:>14.2} {:>6.1}x",
            fast / slow
        ));
        out.push(format!(
            "REPORT masking {label} {fast:.2} GB/s (byte loop {slow:.2} GB/s, {:.1}x)",
            fast / slow
        ));
    }
    out
}

/// `sockweave-bench profile`: the profiles section alone.
pub fn profile_only() -> String {
    crate::profile::run_all(&Runner::new(1.0, 0.3))
}
