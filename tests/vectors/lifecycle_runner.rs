//! Runs `tests/vectors/lifecycle.json` against one face of sockweave.
//!
//! Included with `#[path]` by `core/tests/lifecycle.rs` (the engine on a
//! simulated transport and virtual time) and `native/tests/lifecycle.rs`
//! (the tokio backend on a scripted transport and tokio's paused clock); the
//! npm package's twin is `tests/npm/lifecycle.test.js`. The file format is
//! described in `tests/vectors/README.md`. A face implements [`Face`]; this
//! module reads the steps, calls the face and compares what it observes.

#![allow(dead_code)]

use serde_json::Value;
use sockweave_core::frame::{FrameHeader, OpCode};
use sockweave_core::mask::apply_mask;

/// What a receive returned, as the vectors write it.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    Data { text: bool, data: Vec<u8>, end: bool },
    Close { code: u16, reason: String },
}

/// The transport as the peer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Open,
    /// Our write side was shut down; the transport is still held.
    WriteShut,
    /// Released after its write side was shut down.
    Closed,
    /// Released without shutting down its write side.
    Dropped,
}

impl Fate {
    fn name(self) -> &'static str {
        match self {
            Fate::Open => "open",
            Fate::WriteShut => "writeShut",
            Fate::Closed => "closed",
            Fate::Dropped => "dropped",
        }
    }
}

/// One face of sockweave under a scripted peer. Errors are the error kind
/// names (`Error::code()`). Every call returns once the face has settled:
/// everything it can do without more input or time has been done.
#[allow(async_fn_in_trait)]
pub trait Face {
    /// The session for a case: `role` is "client" or "server"; `options` the
    /// options JSON (stream-created, as `CreateFromStream`).
    async fn start(role: &str, options: &Value) -> Self;
    /// The peer sends these bytes.
    async fn peer(&mut self, bytes: &[u8]);
    /// The peer ends its side (end of file).
    async fn peer_end(&mut self);
    /// The transport fails (a reset).
    async fn peer_reset(&mut self);
    /// Whether the peer reads. While it does not, the transport accepts one
    /// write and holds it; further writes wait.
    async fn peer_reading(&mut self, on: bool);
    /// Time passes.
    async fn wait(&mut self, ms: u64);
    async fn receive(&mut self, size: usize) -> Result<Got, String>;
    async fn send(&mut self, text: bool, data: &[u8], end: bool) -> Result<(), String>;
    async fn close_output(&mut self, code: Option<u16>, reason: &str) -> Result<(), String>;
    /// Starts `close` (our Close, then waiting for the peer's).
    async fn close_start(&mut self, code: Option<u16>, reason: &str);
    /// The outcome of the `close` started earlier; `None` while it waits.
    async fn close_done(&mut self) -> Option<Result<(), String>>;
    async fn abort(&mut self);
    fn state(&self) -> String;
    fn close_status(&self) -> Option<u16>;
    /// Bytes the peer has read since the last call.
    fn take_delivered(&mut self) -> Vec<u8>;
    fn fate(&self) -> Fate;
}

/// Runs every case; returns the number of cases and the mismatches.
pub async fn run_all<F: Face>(vectors: &Value, only: Option<&str>) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut n = 0;
    for case in vectors["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        if only.is_some_and(|o| !name.contains(o)) {
            continue;
        }
        n += 1;
        let known = case["knownBug"].as_str();
        match (run_case::<F>(case).await, known) {
            (Ok(()), None) => {}
            (Err(e), None) => failures.push(format!("{name}: {e}")),
            (Err(e), Some(bug)) => println!("REPORT known bug in {name:?} ({bug}): {e}"),
            (Ok(()), Some(bug)) => failures.push(format!("{name}: marked knownBug ({bug}) but passes")),
        }
    }
    (n, failures)
}

async fn run_case<F: Face>(case: &Value) -> Result<(), String> {
    let role = case["role"].as_str().expect("role");
    let mut f = F::start(role, &case["options"]).await;
    let client = role == "client";
    for (i, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
        run_step(&mut f, step, client)
            .await
            .map_err(|e| format!("step {} {}: {e}", i + 1, compact(step)))?;
    }
    Ok(())
}

fn compact(step: &Value) -> String {
    let mut s = step.clone();
    if let Some(o) = s.as_object_mut() {
        o.remove("expect");
    }
    let t = s.to_string();
    if t.len() > 80 {
        format!("{}...", &t[..77])
    } else {
        t
    }
}

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn error_kind(r: &Value) -> Option<String> {
    r.get("error").and_then(Value::as_str).map(String::from)
}

/// Compares an operation's outcome with `"ok"` / `{"error": kind}`.
fn check_done(got: Result<(), String>, want: Option<&Value>) -> Result<(), String> {
    let Some(want) = want else {
        return got.map_err(|e| format!("failed with {e}"));
    };
    match (got, error_kind(want)) {
        (Ok(()), None) if want == "ok" => Ok(()),
        (Err(e), Some(k)) if e == k => Ok(()),
        (got, _) => Err(format!("result {got:?}, expected {want}")),
    }
}

async fn run_step<F: Face>(f: &mut F, step: &Value, client: bool) -> Result<(), String> {
    let expect = &step["expect"];
    let want = expect.get("result");
    if let Some(h) = step.get("peer") {
        f.peer(&hex_of(h)).await;
    } else if step.get("peerEnd").is_some() {
        f.peer_end().await;
    } else if step.get("peerReset").is_some() {
        f.peer_reset().await;
    } else if let Some(on) = step.get("peerReading") {
        f.peer_reading(on.as_bool().expect("bool")).await;
    } else if let Some(ms) = step.get("wait") {
        f.wait(ms.as_u64().expect("ms")).await;
    } else if let Some(r) = step.get("receive") {
        let size = r.get("size").and_then(Value::as_u64).unwrap_or(1024) as usize;
        let got = f.receive(size).await;
        let want = want.expect("a receive step expects a result");
        check_received(got, want)?;
    } else if let Some(s) = step.get("send") {
        let text = s["type"] == "text";
        let end = s.get("end").and_then(Value::as_bool).unwrap_or(true);
        let got = f.send(text, &hex_of(&s["dataHex"]), end).await;
        check_done(got, want)?;
    } else if let Some(c) = step.get("closeOutput") {
        let (code, reason) = close_args(c);
        let got = f.close_output(code, &reason).await;
        check_done(got, want)?;
    } else if let Some(c) = step.get("close") {
        let (code, reason) = close_args(c);
        f.close_start(code, &reason).await;
    } else if step.get("closeDone").is_some() {
        match f.close_done().await {
            None => return Err("close() is still waiting".into()),
            Some(got) => check_done(got, want)?,
        }
    } else if step.get("abort").is_some() {
        f.abort().await;
    } else {
        panic!("unknown step {step}");
    }
    if let Some(s) = expect.get("state") {
        let got = f.state();
        if got != s.as_str().expect("state") {
            return Err(format!("state {got}, expected {s}"));
        }
    }
    if let Some(c) = expect.get("closeStatus") {
        let got = f.close_status();
        if got.map(u64::from) != c.as_u64() {
            return Err(format!("closeStatus {got:?}, expected {c}"));
        }
    }
    if let Some(w) = expect.get("wrote") {
        let bytes = f.take_delivered();
        check_wrote(&bytes, w.as_array().expect("wrote"), client)?;
    }
    if let Some(t) = expect.get("transport") {
        let got = f.fate().name();
        if got != t.as_str().expect("transport") {
            return Err(format!("transport {got}, expected {t}"));
        }
    }
    Ok(())
}

fn close_args(c: &Value) -> (Option<u16>, String) {
    (
        c["code"].as_u64().map(|c| c as u16),
        c["reason"].as_str().unwrap_or("").to_owned(),
    )
}

fn check_received(got: Result<Got, String>, want: &Value) -> Result<(), String> {
    let expected = if let Some(k) = error_kind(want) {
        Err(k)
    } else if want["type"] == "close" {
        Ok(Got::Close {
            code: want["code"].as_u64().expect("code") as u16,
            reason: want["reason"].as_str().unwrap_or("").to_owned(),
        })
    } else {
        Ok(Got::Data {
            text: want["type"] == "text",
            data: hex_of(&want["dataHex"]),
            end: want.get("end").and_then(Value::as_bool).unwrap_or(true),
        })
    };
    if got == expected {
        Ok(())
    } else {
        Err(format!("received {got:?}, expected {expected:?}"))
    }
}

/// Parses the frames a session wrote and compares them with the vector's list.
fn check_wrote(bytes: &[u8], want: &[Value], client: bool) -> Result<(), String> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (h, n) = match FrameHeader::decode(&bytes[at..]) {
            Ok(Some(v)) => v,
            other => return Err(format!("the output is not whole frames at byte {at}: {other:?}")),
        };
        if h.mask.is_some() != client {
            return Err(format!(
                "a {} wrote a frame with mask {:?}",
                if client { "client" } else { "server" },
                h.mask
            ));
        }
        let start = at + n;
        let end = start + h.payload_len as usize;
        if end > bytes.len() {
            return Err("the output ends inside a frame".into());
        }
        let mut payload = bytes[start..end].to_vec();
        if let Some(k) = h.mask {
            apply_mask(&mut payload, k, 0);
        }
        frames.push((h.opcode, payload));
        at = end;
    }
    let describe = |f: &(OpCode, Vec<u8>)| -> String {
        match f.0 {
            OpCode::Close if f.1.len() >= 2 => format!(
                "close {} {:?}",
                u16::from_be_bytes([f.1[0], f.1[1]]),
                String::from_utf8_lossy(&f.1[2..])
            ),
            op => format!("{op:?} {}", hex::encode(&f.1)),
        }
    };
    let got: Vec<String> = frames.iter().map(describe).collect();
    let ok = frames.len() == want.len()
        && frames.iter().zip(want).all(|((op, payload), w)| {
            let name = match op {
                OpCode::Text => "text",
                OpCode::Binary => "binary",
                OpCode::Close => "close",
                OpCode::Ping => "ping",
                OpCode::Pong => "pong",
                OpCode::Continuation => "continuation",
            };
            if w["op"] != name {
                return false;
            }
            if *op == OpCode::Close {
                let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                let reason = payload.get(2..).map(|r| String::from_utf8_lossy(r).into_owned());
                code.map(u64::from) == w["code"].as_u64()
                    && w.get("reason")
                        .is_none_or(|r| Some(r.as_str().unwrap_or("")) == reason.as_deref())
            } else {
                hex::encode(payload) == w["dataHex"].as_str().unwrap_or("")
            }
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "wrote [{}], expected {}",
            got.join(", "),
            Value::Array(want.to_vec())
        ))
    }
}
