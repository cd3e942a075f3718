//! Where the time goes: the user-space instructions (valgrind's callgrind)
//! and the system calls (strace) per message of the side under test,
//! counted over the measuring window only.
//!
//! On a shared machine msg/s and CPU time vary by ±10-30% from run to run;
//! these counts repeat to within a few percent. They show what the library
//! itself costs (instructions) and what it asks of the kernel (system calls;
//! on loopback most of the CPU time per message is the kernel's), so they
//! explain the timing tables rather than replace them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::libs::{Lib, PEERS, RUN};
use crate::run::{Role, Runner};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Tool {
    Callgrind,
    Strace,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Callgrind => "callgrind",
            Tool::Strace => "strace",
        }
    }

    fn parse(s: &str) -> Option<Tool> {
        match s {
            "callgrind" => Some(Tool::Callgrind),
            "strace" => Some(Tool::Strace),
            _ => None,
        }
    }

    fn metric(self) -> &'static str {
        match self {
            Tool::Callgrind => "instructions / msg",
            Tool::Strace => "system calls / msg",
        }
    }
}

/// In the load process: zeroes the count when the window starts and
/// collects it when it ends (`--profile TOOL --profile-out FILE`, and
/// `--profile-self` when the load process itself is the side under test).
pub struct Hook {
    tool: Tool,
    pid: u32,
    out: String,
    strace: Option<Child>,
}

impl Hook {
    pub fn from_args(args: &crate::Args, peer: u32) -> Option<Hook> {
        let tool = Tool::parse(&args.value("profile", String::new()))?;
        Some(Hook {
            tool,
            pid: if args.flag("profile-self") {
                std::process::id()
            } else {
                peer
            },
            out: args.value("profile-out", String::new()),
            strace: None,
        })
    }

    pub async fn start(&mut self) {
        match self.tool {
            Tool::Callgrind => {
                run(Command::new("callgrind_control")
                    .arg("-z")
                    .arg(self.pid.to_string()))
                .await;
            }
            Tool::Strace => {
                self.strace = Command::new("strace")
                    .args(["-f", "-c", "-o", &self.out, "-p", &self.pid.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .ok();
                // The window starts once strace is attached.
                for _ in 0..5000 {
                    if traced(self.pid) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }

    pub async fn stop(&mut self) {
        match self.tool {
            Tool::Callgrind => {
                run(Command::new("callgrind_control")
                    .arg("-d")
                    .arg(self.pid.to_string()))
                .await;
            }
            Tool::Strace => {
                if let Some(mut child) = self.strace.take() {
                    // strace writes its summary when interrupted.
                    run(Command::new("kill").arg("-INT").arg(child.id().to_string())).await;
                    wait(&mut child).await;
                }
            }
        }
    }
}

/// True once a tracer is attached to process `pid`.
fn traced(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("TracerPid:"))
                .map(|v| v.trim() != "0")
        })
        .unwrap_or(false)
}

/// Runs `cmd` to completion without blocking the (single-threaded) runtime:
/// when the load process profiles itself, it must keep running meanwhile.
async fn run(cmd: &mut Command) {
    if let Ok(mut child) = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
        wait(&mut child).await;
    }
}

async fn wait(child: &mut Child) {
    for _ in 0..3000 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The scenarios profiled: (name, kind, size, window, connections). Many
/// connections are 200 here, not 1,000: under valgrind tokio-tungstenite
/// takes minutes to set up 1,000 (it zeroes a 128 KiB read buffer per read).
const SCENARIOS: [(&str, &str, usize, usize, usize); 7] = [
    ("echo 16 B", "echo", 16, 1, 1),
    ("echo 1 KiB", "echo", 1024, 1, 1),
    ("echo 64 KiB", "echo", 64 << 10, 1, 1),
    ("echo 1 MiB", "echo", 1 << 20, 1, 1),
    ("pipelined 16 B (64 in flight)", "pipe", 16, 64, 1),
    ("pipelined 1 KiB (64 in flight)", "pipe", 1024, 64, 1),
    ("200 connections, echo 16 B", "echo", 16, 1, 200),
];

/// Whether valgrind and strace are here; names the missing ones.
pub fn missing_tools() -> Vec<&'static str> {
    ["valgrind", "callgrind_control", "strace"]
        .into_iter()
        .filter(|t| {
            !Command::new(t)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect()
}

type Counts = BTreeMap<(usize, Role, Tool, Lib), f64>;

/// Profiles every contender in both roles; returns the markdown section.
pub fn run_all(runner: &Runner) -> String {
    let missing = missing_tools();
    if !missing.is_empty() {
        let msg = format!("skipped: {} not installed", missing.join(", "));
        eprintln!("profiles {msg}");
        return format!("\n## Where the time goes (profiles)\n\n{msg}\n");
    }
    let mut counts = Counts::new();
    // PROFILE_LIBS / PROFILE_SCENARIOS (comma-separated names, substrings of
    // scenario names) narrow a run, e.g. to compare two builds of sockweave.
    let only = |var: &str, name: &str| {
        std::env::var(var).map_or(true, |v| v.split(',').any(|w| name.contains(w.trim())))
    };
    for (si, sc) in SCENARIOS.iter().enumerate() {
        if !only("PROFILE_SCENARIOS", sc.0) {
            continue;
        }
        for role in [Role::Server, Role::Client] {
            for lib in RUN
                .into_iter()
                .filter(|l| l.has_role(role == Role::Server) && only("PROFILE_LIBS", l.name()))
            {
                for tool in [Tool::Callgrind, Tool::Strace] {
                    eprintln!(
                        "profile: {} {} {} ({})",
                        sc.0,
                        role.name(),
                        lib.name(),
                        tool.name()
                    );
                    if let Some(c) = measure(runner, *sc, role, lib, tool) {
                        counts.insert((si, role, tool, lib), c);
                    }
                }
            }
        }
    }
    render(&counts)
}

/// Counts per message for one contender, role and tool.
fn measure(
    runner: &Runner,
    (_, kind, size, window, conns): (&str, &str, usize, usize, usize),
    role: Role,
    lib: Lib,
    tool: Tool,
) -> Option<f64> {
    let out: PathBuf = std::env::temp_dir().join(format!(
        "sockweave-bench-{}-{}-{}-{}.out",
        std::process::id(),
        lib.name(),
        role.name(),
        tool.name()
    ));
    let _ = std::fs::remove_file(&out);
    let dump = PathBuf::from(format!("{}.1", out.display()));
    let _ = std::fs::remove_file(&dump);
    let wrapper: Vec<String> = match tool {
        Tool::Callgrind => vec![
            "valgrind".into(),
            "--tool=callgrind".into(),
            format!("--callgrind-out-file={}", out.display()),
        ],
        Tool::Strace => Vec::new(),
    };
    let (server_lib, client_lib, server_wrap, client_wrap) = match role {
        Role::Server => (lib, Lib::Raw, wrapper.as_slice(), &[][..]),
        Role::Client => (Lib::Raw, lib, &[][..], wrapper.as_slice()),
    };
    let (server_cpu, client_cpu) = match role {
        Role::Server => (runner.cpus.0, runner.cpus.1),
        Role::Client => (runner.cpus.1, runner.cpus.0),
    };
    let (mut server, port) = runner.start_server(server_lib, server_cpu, false, false, server_wrap);
    let mut args: Vec<String> = [
        "load",
        client_lib.name(),
        &port.to_string(),
        kind,
        &size.to_string(),
        "--peer",
        &server.id().to_string(),
        "--secs",
        "2",
        "--warm",
        "1",
        "--window",
        &window.to_string(),
        "--conns",
        &conns.to_string(),
        "--profile",
        tool.name(),
        "--profile-out",
        &out.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if role == Role::Client {
        args.push("--profile-self".into());
    }
    let r = runner.run_client(client_cpu, &args, client_wrap, Duration::from_secs(90));
    Runner::stop(&mut server);
    let msgs = *r?.get("msgs")?;
    let count = match tool {
        Tool::Callgrind => callgrind_total(&std::fs::read_to_string(&dump).ok()?),
        Tool::Strace => strace_total(&std::fs::read_to_string(&out).ok()?),
    };
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&dump);
    (msgs > 0.0).then_some(count? / msgs)
}

/// The instruction total of a callgrind dump.
fn callgrind_total(dump: &str) -> Option<f64> {
    dump.lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The call total of `strace -c` output (the `total` row's calls column).
fn strace_total(out: &str) -> Option<f64> {
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.trim_end().ends_with("total"))?
        .split_whitespace()
        .collect();
    row.get(3)?.parse().ok()
}

fn render(counts: &Counts) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n## Where the time goes (profiles)\n\nCounted over a 2 s window after 1 s of warm-up, one run each: user-space instructions per message of the side under test (valgrind --tool=callgrind; the whole process: library, tokio, the benchmark's own loop) and system calls per message (strace -c -f, attached for the window). These counts repeat to within a few percent, where msg/s and CPU time on this shared machine do not. Ratio: best peer / sockweave (above 1: sockweave does less).\n"
    );
    let names: Vec<&str> = RUN.iter().map(|l| l.name()).collect();
    let _ = writeln!(md, "| scenario | role | count | {} | ratio |", names.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(4 + RUN.len()));
    for (si, sc) in SCENARIOS.iter().enumerate() {
        for role in [Role::Server, Role::Client] {
            for tool in [Tool::Callgrind, Tool::Strace] {
                let get = |lib: Lib| counts.get(&(si, role, tool, lib)).copied();
                let cells: Vec<String> = RUN
                    .iter()
                    .map(|&l| match get(l) {
                        Some(v) if tool == Tool::Callgrind => format!("{v:.0}"),
                        Some(v) => format!("{v:.2}"),
                        None => "n/a".into(),
                    })
                    .collect();
                let best_peer = PEERS.iter().filter_map(|&l| get(l)).fold(f64::NAN, f64::min);
                let ratio = match get(Lib::Sockweave) {
                    Some(o) if best_peer.is_finite() && o > 0.0 => format!("{:.2}", best_peer / o),
                    _ => "n/a".into(),
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {ratio} |",
                    sc.0,
                    role.name(),
                    tool.metric(),
                    cells.join(" | ")
                );
                println!(
                    "REPORT profile {} {} {}: {} (ratio {ratio})",
                    sc.0,
                    role.name(),
                    tool.metric(),
                    RUN.iter()
                        .zip(&cells)
                        .map(|(l, c)| format!("{} {c}", l.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    md
}
