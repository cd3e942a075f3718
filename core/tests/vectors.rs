//! Checks the engine against the shared, language-neutral JSON vectors in
//! `tests/vectors/` (the npm package's JavaScript tests read the same files;
//! their format is described in `tests/vectors/README.md`).
//!
//! Every vector is checked and every mismatch is collected, so one run lists
//! all of them. A vector marked `"knownBug"` is expected to fail: its mismatch
//! is printed as a `REPORT` line instead of failing the test, and the test
//! fails if it starts passing (so the marker gets removed with the fix).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;
use sockweave_core::frame::{FrameHeader, HeaderError, OpCode};
use sockweave_core::handshake::{
    format_extensions, h2_accept_headers, parse_extensions, parse_h2_request, parse_request, ClientHandshake,
    ClientRequest, Extension, H2ConnectRequest, HandshakeLimits,
};
use sockweave_core::mask::{apply_mask, apply_mask_bytewise};
use sockweave_core::session::{MessageType, Role, Session, SessionConfig, State};
use sockweave_core::Options;

// ------------------------------------------------------------------ helpers

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` must be an array in {v}"))
}

fn string(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` must be a string in {v}"))
        .to_owned()
}

fn opt_string(v: &Value, key: &str) -> Option<String> {
    match &v[key] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => panic!("`{key}` must be a string or null, not {other}"),
    }
}

fn number(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` must be a non-negative integer in {v}"))
}

fn opt_number(v: &Value, key: &str) -> Option<u64> {
    match &v[key] {
        Value::Null => None,
        n => Some(
            n.as_u64()
                .unwrap_or_else(|| panic!("`{key}` must be a number or null, not {n}")),
        ),
    }
}

fn boolean(v: &Value, key: &str) -> bool {
    v[key]
        .as_bool()
        .unwrap_or_else(|| panic!("`{key}` must be a boolean in {v}"))
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(string(v, key)).unwrap_or_else(|e| panic!("`{key}` is not hex: {e}"))
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    list(v, key)
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

/// `[[name, value], ...]`.
fn pairs(v: &Value, key: &str) -> Vec<(String, String)> {
    list(v, key)
        .iter()
        .map(|p| {
            let p = p.as_array().expect("a [name, value] pair");
            assert_eq!(p.len(), 2, "a [name, value] pair");
            (
                p[0].as_str().expect("a name").to_owned(),
                p[1].as_str().expect("a value").to_owned(),
            )
        })
        .collect()
}

/// The engine's `Options` from an optional `"options"` object (its JSON form).
fn options(v: &Value) -> Options {
    match &v["options"] {
        Value::Null => Options::default(),
        o => {
            let opts: Options =
                serde_json::from_value(o.clone()).unwrap_or_else(|e| panic!("bad options {o}: {e}"));
            opts.validate()
                .unwrap_or_else(|e| panic!("invalid options {o}: {e}"));
            opts
        }
    }
}

/// Collects mismatches; `finish` fails the test with all of them.
#[derive(Default)]
struct Report {
    failures: Vec<String>,
    checked: usize,
}

impl Report {
    fn check(&mut self, what: &str, result: Result<(), String>) {
        self.checked += 1;
        if let Err(e) = result {
            self.failures.push(format!("{what}: {e}"));
        }
    }

    /// Like `check`, for a vector that may carry a `knownBug` marker.
    fn check_vector(&mut self, what: &str, vector: &Value, result: Result<(), String>) {
        match (opt_string(vector, "knownBug"), result) {
            (None, r) => self.check(what, r),
            (Some(bug), Err(e)) => {
                self.checked += 1;
                println!("REPORT known engine bug in vector {what:?} ({bug}): {e}");
            }
            (Some(bug), Ok(())) => self.check(
                what,
                Err(format!(
                    "marked knownBug ({bug}) but the engine now passes; remove the marker"
                )),
            ),
        }
    }

    fn finish(self, file: &str) {
        println!("REPORT {file}: {} vectors checked", self.checked);
        assert!(
            self.failures.is_empty(),
            "{} of {} vectors in {file} failed:\n  {}",
            self.failures.len(),
            self.checked,
            self.failures.join("\n  ")
        );
    }
}

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    ensure(got == want, || format!("{what}: got {got:?}, expected {want:?}"))
}

// --------------------------------------------------------------- frames.json

fn opcode_name(op: OpCode) -> &'static str {
    match op {
        OpCode::Continuation => "continuation",
        OpCode::Text => "text",
        OpCode::Binary => "binary",
        OpCode::Close => "close",
        OpCode::Ping => "ping",
        OpCode::Pong => "pong",
    }
}

fn header_error_name(e: HeaderError) -> &'static str {
    match e {
        HeaderError::ReservedOpcode(_) => "reservedOpcode",
        HeaderError::FragmentedControl => "fragmentedControl",
        HeaderError::ControlTooLong(_) => "controlTooLong",
        HeaderError::LengthOverflow => "lengthOverflow",
    }
}

fn mask_key(v: &Value) -> Option<[u8; 4]> {
    opt_string(v, "maskKey").map(|k| {
        hex::decode(k)
            .expect("maskKey is hex")
            .try_into()
            .expect("maskKey is 4 bytes")
    })
}

fn check_frame(v: &Value) -> Result<(), String> {
    let header_only = v["headerOnly"].as_bool().unwrap_or(false);
    let minimal = v["minimal"].as_bool().unwrap_or(true);
    let key = mask_key(v);
    let payload_len = number(v, "payloadLength");
    let header_len = number(v, "headerLength") as usize;
    let mut wire = hex_field(v, "hex");
    // The unmasked payload the vector describes (None for header-only vectors).
    let payload: Option<Vec<u8>> = match (&v["payloadHex"], &v["payloadPattern"]) {
        (Value::String(_), Value::Null) => Some(hex_field(v, "payloadHex")),
        (Value::Null, Value::Object(_)) => {
            let p = &v["payloadPattern"];
            let byte = hex_field(p, "byte");
            assert_eq!(byte.len(), 1, "payloadPattern.byte is one byte");
            let payload = vec![byte[0]; number(p, "length") as usize];
            // `hex` holds only the header; the payload follows it, masked
            // (with the byte-at-a-time reference, so the fast path is checked against it).
            let start = wire.len();
            wire.extend_from_slice(&payload);
            if let Some(k) = key {
                apply_mask_bytewise(&mut wire[start..], k, 0);
            }
            Some(payload)
        }
        (Value::Null, Value::Null) if header_only => None,
        _ => panic!("a frame vector needs exactly one of payloadHex, payloadPattern, headerOnly"),
    };

    let (h, n) = match FrameHeader::decode(&wire) {
        Ok(Some(x)) => x,
        other => return Err(format!("decode returned {other:?}")),
    };
    eq("headerLength", n, header_len)?;
    eq("fin", h.fin, boolean(v, "fin"))?;
    eq("rsv", u64::from(h.rsv), number(v, "rsv"))?;
    eq(
        "opcode",
        opcode_name(h.opcode),
        v["opcode"].as_str().unwrap_or("?"),
    )?;
    eq("masked", h.mask.is_some(), boolean(v, "masked"))?;
    eq("maskKey", h.mask, key)?;
    eq("payloadLength", h.payload_len, payload_len)?;
    for cut in 0..n {
        eq(
            &format!("decode of the first {cut} header bytes"),
            FrameHeader::decode(&wire[..cut]),
            Ok(None),
        )?;
    }

    if let Some(payload) = payload {
        eq("payload length", payload.len() as u64, payload_len)?;
        eq("frame length", wire.len(), n + payload.len())?;
        let mut unmasked = wire[n..].to_vec();
        let mut bytewise = unmasked.clone();
        let mut pieces = unmasked.clone();
        if let Some(k) = key {
            apply_mask(&mut unmasked, k, 0);
            apply_mask_bytewise(&mut bytewise, k, 0);
            // Unmasking as the bytes trickle in must give the same result.
            let mut phase = 0;
            let mut pos = 0;
            for step in [1usize, 2, 5, 64, 3, 100, 1000].iter().cycle() {
                if pos == pieces.len() {
                    break;
                }
                let end = (pos + step).min(pieces.len());
                phase = apply_mask(&mut pieces[pos..end], k, phase);
                pos = end;
            }
        }
        ensure(unmasked == payload, || "unmasked payload differs".into())?;
        ensure(bytewise == payload, || {
            "apply_mask_bytewise gives another payload".into()
        })?;
        ensure(pieces == payload, || {
            "unmasking in pieces gives another payload".into()
        })?;
    } else {
        eq("header-only frame length", wire.len(), n)?;
    }

    let (enc, m) = h.encode();
    eq("encoded_len", h.encoded_len(), m)?;
    if minimal {
        eq(
            "re-encoded header",
            hex::encode(&enc[..m]),
            hex::encode(&wire[..n]),
        )?;
    } else {
        ensure(enc[..m] != wire[..n], || {
            "marked minimal: false but encode() reproduces it".into()
        })?;
        eq(
            "decode of the minimal re-encoding",
            FrameHeader::decode(&enc[..m]),
            Ok(Some((h, m))),
        )?;
    }
    Ok(())
}

#[test]
fn frames() {
    let doc = load("frames.json");
    let mut report = Report::default();
    for v in list(&doc, "frames") {
        let name = string(v, "name");
        report.check_vector(&format!("frames: {name}"), v, check_frame(v));
    }
    for v in list(&doc, "invalid") {
        let name = string(v, "name");
        let wire = hex_field(v, "hex");
        let want = string(v, "error");
        let r = match FrameHeader::decode(&wire) {
            Err(e) => eq("error", header_error_name(e), want.as_str()),
            other => Err(format!("decode returned {other:?}, expected error {want}")),
        };
        report.check_vector(&format!("invalid: {name}"), v, r);
    }
    report.finish("frames.json");
}

// ------------------------------------------------------------- sessions.json

/// What a session did with an input, in the vectors' terms.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Complete messages: (type, data).
    messages: Vec<(String, String)>,
    close_received: Option<(u16, String)>,
    /// (kind, close code).
    error: Option<(String, Option<u16>)>,
    sent_close_code: Option<u16>,
    pongs: Vec<String>,
}

fn expected_outcome(e: &Value) -> Outcome {
    Outcome {
        messages: list(e, "messages")
            .iter()
            .map(|m| (string(m, "type"), string(m, "dataHex")))
            .collect(),
        close_received: match &e["closeReceived"] {
            Value::Null => None,
            c => Some((number(c, "code") as u16, string(c, "reason"))),
        },
        error: match &e["error"] {
            Value::Null => None,
            x => Some((string(x, "kind"), opt_number(x, "closeCode").map(|c| c as u16))),
        },
        sent_close_code: opt_number(e, "sentCloseCode").map(|c| c as u16),
        pongs: match &e["pongsHex"] {
            Value::Null => Vec::new(),
            _ => strings(e, "pongsHex"),
        },
    }
}

#[derive(Clone, Copy, Debug)]
enum Feeding {
    /// All input, then receive.
    Whole,
    /// One byte per `feed`, then receive.
    Bytewise,
    /// One byte per `feed`, receiving after each.
    Interleaved,
}

/// The application side: assembles messages from `receive` results.
struct App {
    outcome: Outcome,
    current: Option<(MessageType, Vec<u8>)>,
    /// A Close or an error was received: nothing more will come.
    done: bool,
    /// What the session wrote: taken after every feed, as a backend whose
    /// transport takes every write does.
    wire: Vec<u8>,
}

const RECEIVE_CHUNK: usize = 7;

impl App {
    /// Calls `receive` until it has nothing more (Ok(None)), or a Close or an error ends it.
    fn drain(&mut self, s: &mut Session) -> Result<(), String> {
        let mut buf = [0u8; RECEIVE_CHUNK];
        for _ in 0..1_000_000 {
            if self.done {
                return Ok(());
            }
            match s.receive(&mut buf) {
                Ok(None) => return Ok(()),
                Ok(Some(r)) if r.message_type == MessageType::Close => {
                    eq("count of a Close result", r.count, 0)?;
                    let code = r.close_status.map(|c| c.0);
                    eq("session close_status", s.close_status().map(|c| c.0), code)?;
                    let reason = r.close_status_description.unwrap_or_default();
                    eq(
                        "session close_status_description",
                        s.close_status_description(),
                        Some(reason.as_str()),
                    )?;
                    self.outcome.close_received =
                        Some((code.ok_or("a Close result without a status")?, reason));
                    self.done = true;
                }
                Ok(Some(r)) => {
                    ensure(r.count <= RECEIVE_CHUNK, || {
                        format!("receive wrote {} bytes into {RECEIVE_CHUNK}", r.count)
                    })?;
                    ensure(r.close_status.is_none(), || {
                        "a data result with a close status".into()
                    })?;
                    let (ty, data) = self.current.get_or_insert_with(|| (r.message_type, Vec::new()));
                    ensure(*ty == r.message_type, || {
                        format!("message type changed from {ty:?} to {:?}", r.message_type)
                    })?;
                    data.extend_from_slice(&buf[..r.count]);
                    if r.end_of_message {
                        let (ty, data) = self.current.take().expect("set above");
                        let ty = match ty {
                            MessageType::Text => "text",
                            MessageType::Binary => "binary",
                            MessageType::Close => unreachable!(),
                        };
                        self.outcome.messages.push((ty.to_owned(), hex::encode(data)));
                    }
                }
                Err(e) => {
                    self.outcome.error = Some((e.code().to_owned(), e.close_code().map(|c| c.0)));
                    self.done = true;
                }
            }
        }
        Err("receive never ran out of results".into())
    }
}

/// Feeds `data`, receiving whenever the receive buffer is full (and after
/// every call when `interleave`).
fn feed(app: &mut App, s: &mut Session, data: &[u8], interleave: bool) -> Result<(), String> {
    let mut pos = 0;
    let mut stalls = 0;
    while pos < data.len() && !app.done {
        let taken = s.feed(&data[pos..]);
        pos += taken;
        app.wire.extend_from_slice(s.pending_output());
        let n = s.pending_output().len();
        s.consume_output(n);
        if interleave || pos < data.len() {
            app.drain(s)?;
        }
        if taken == 0 {
            stalls += 1;
            ensure(stalls < 3, || {
                format!("stalled at input byte {pos}: the receive buffer stays full")
            })?;
        } else {
            stalls = 0;
        }
    }
    Ok(())
}

/// The frames the session wrote: (PONG payloads, code of a Close frame).
fn parse_output(s: &Session, wire: &[u8]) -> Result<(Vec<String>, Option<u16>), String> {
    let all = [wire, s.pending_output()].concat();
    let mut out = all.as_slice();
    let mut pongs = Vec::new();
    let mut close = None;
    while !out.is_empty() {
        let (h, n) = match FrameHeader::decode(out) {
            Ok(Some(x)) => x,
            other => return Err(format!("the session wrote an undecodable frame: {other:?}")),
        };
        let len = h.payload_len as usize;
        let payload = out.get(n..n + len).ok_or("the session wrote a truncated frame")?;
        let mut payload = payload.to_vec();
        match (s.role(), h.mask) {
            (Role::Client, Some(k)) => {
                apply_mask(&mut payload, k, 0);
            }
            (Role::Server, None) => {}
            (role, m) => return Err(format!("a {role:?} wrote a frame with mask {m:?}")),
        }
        ensure(h.fin && h.rsv == 0, || format!("unexpected output frame {h:?}"))?;
        ensure(close.is_none(), || {
            "the session wrote a frame after its Close".into()
        })?;
        match h.opcode {
            OpCode::Pong => pongs.push(hex::encode(&payload)),
            OpCode::Close => {
                close = Some(match payload.as_slice() {
                    [] => 1005,
                    [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
                    [_] => return Err("the session wrote a 1-byte Close payload".into()),
                });
            }
            op => return Err(format!("the session wrote an unexpected {op:?} frame")),
        }
        out = &out[n + len..];
    }
    Ok((pongs, close))
}

fn run_session(v: &Value, mode: Feeding) -> Result<Outcome, String> {
    let role = match v["role"].as_str() {
        Some("server") => Role::Server,
        Some("client") => Role::Client,
        other => panic!("role must be \"server\" or \"client\", not {other:?}"),
    };
    let input = hex_field(v, "inputHex");
    let mut s = Session::new(SessionConfig::for_stream(role, &options(v)), [0; 32]);
    let mut app = App {
        outcome: Outcome {
            messages: Vec::new(),
            close_received: None,
            error: None,
            sent_close_code: None,
            pongs: Vec::new(),
        },
        current: None,
        done: false,
        wire: Vec::new(),
    };
    match mode {
        Feeding::Whole => feed(&mut app, &mut s, &input, false)?,
        Feeding::Bytewise | Feeding::Interleaved => {
            for i in 0..input.len() {
                if app.done {
                    break;
                }
                feed(
                    &mut app,
                    &mut s,
                    &input[i..i + 1],
                    matches!(mode, Feeding::Interleaved),
                )?;
            }
        }
    }
    app.drain(&mut s)?;
    // The end state must agree with what receive reported.
    if let Some((kind, _)) = &app.outcome.error {
        eq("state after an error", s.state(), State::Aborted)?;
        eq("failure()", s.failure().map(|e| e.code()), Some(kind.as_str()))?;
        let again = s.receive(&mut [0u8; RECEIVE_CHUNK]).err().map(|e| e.code());
        eq("receive after the error", again, Some(kind.as_str()))?;
    } else if app.outcome.close_received.is_some() {
        eq("state after a Close", s.state(), State::CloseReceived)?;
    } else {
        eq("state", s.state(), State::Open)?;
    }
    let (pongs, close) = parse_output(&s, &app.wire)?;
    app.outcome.pongs = pongs;
    app.outcome.sent_close_code = close;
    Ok(app.outcome)
}

fn check_session(v: &Value) -> Result<(), String> {
    let want = expected_outcome(&v["expect"]);
    let mut problems = String::new();
    for mode in [Feeding::Whole, Feeding::Bytewise, Feeding::Interleaved] {
        match run_session(v, mode) {
            Ok(got) if got == want => {}
            Ok(got) => {
                let _ = write!(problems, "[{mode:?}] got {got:?}, expected {want:?}; ");
            }
            Err(e) => {
                let _ = write!(problems, "[{mode:?}] {e}; ");
            }
        }
    }
    ensure(problems.is_empty(), || problems)
}

#[test]
fn sessions() {
    let doc = load("sessions.json");
    let mut report = Report::default();
    let mut invalid = 0;
    for v in list(&doc, "cases") {
        if !v["expect"]["error"].is_null() {
            invalid += 1;
        }
        let name = string(v, "name");
        report.check_vector(&format!("sessions: {name}"), v, check_session(v));
    }
    println!("REPORT sessions.json: {invalid} invalid inputs");
    report.finish("sessions.json");
}

// ----------------------------------------------------------- handshakes.json

fn client_request(r: &Value) -> ClientRequest {
    ClientRequest {
        host: string(r, "host"),
        path: string(r, "path"),
        subprotocols: strings(r, "subprotocols"),
        deflate: None,
        extensions: match opt_string(r, "extensions") {
            Some(h) => parse_extensions(&h).expect("request.extensions parses"),
            None => Vec::new(),
        },
        headers: pairs(r, "headers"),
    }
}

fn limits(v: &Value) -> HandshakeLimits {
    options(v).handshake_limits()
}

fn extension_names(exts: &[Extension]) -> Vec<String> {
    exts.iter().map(|e| e.name.clone()).collect()
}

/// A client-side handshake result: (protocol, extensions), or (error kind, response status).
type ClientResult = Result<(Option<String>, Vec<Extension>), (String, Option<u16>)>;

/// Checks a client-side result against `{"ok": true, "protocol", "extensions"?}`
/// or `{"ok": false, "kind", "status"}`.
fn check_client_result(e: &Value, got: ClientResult) -> Result<(), String> {
    match (boolean(e, "ok"), got) {
        (true, Ok((protocol, extensions))) => {
            eq("protocol", protocol, opt_string(e, "protocol"))?;
            if !e["extensions"].is_null() {
                eq(
                    "extensions",
                    extension_names(&extensions),
                    strings(e, "extensions"),
                )?;
            }
            Ok(())
        }
        (false, Err((kind, status))) => {
            eq("kind", kind, string(e, "kind"))?;
            eq("status", status.map(u64::from), opt_number(e, "status"))
        }
        (true, Err(err)) => Err(format!("expected success, got {err:?}")),
        (false, Ok(ok)) => Err(format!("expected failure, got {ok:?}")),
    }
}

fn check_client(case: &Value, report: &mut Report) {
    let name = string(case, "name");
    let req = client_request(&case["request"]);
    let nonce: [u8; 16] = hex_field(case, "nonceHex")
        .try_into()
        .expect("nonceHex is 16 bytes");
    let built = ClientHandshake::new(&req, nonce, HandshakeLimits::default());
    let r = match (opt_string(case, "requestError"), &built) {
        (Some(kind), Err(e)) => eq("request error", e.code(), kind.as_str()),
        (Some(kind), Ok(_)) => Err(format!("expected request error {kind}, got a request")),
        (None, Err(e)) => Err(format!("the request was refused: {e}")),
        (None, Ok((_, bytes))) => eq(
            "request text",
            String::from_utf8_lossy(bytes).into_owned(),
            string(case, "expectedRequest"),
        ),
    };
    report.check_vector(&format!("client: {name}"), case, r);
    for resp in list(case, "responses") {
        let rname = string(resp, "name");
        let r = check_client_response(&req, nonce, resp);
        report.check_vector(&format!("client: {name} / {rname}"), resp, r);
    }
}

/// One entry of a client case's `responses`: a fresh handshake (same nonce,
/// the entry's options) parses `text`.
fn check_client_response(req: &ClientRequest, nonce: [u8; 16], resp: &Value) -> Result<(), String> {
    let (hs, _) =
        ClientHandshake::new(req, nonce, limits(resp)).map_err(|e| format!("request refused: {e}"))?;
    let text = string(resp, "text");
    let got = match hs.parse_response(text.as_bytes()) {
        Ok(Some((acc, n))) => {
            eq("bytes consumed", n, text.len())?;
            for cut in 0..text.len() {
                ensure(
                    matches!(hs.parse_response(&text.as_bytes()[..cut]), Ok(None)),
                    || format!("the first {cut} bytes are not reported as incomplete"),
                )?;
            }
            Ok((acc.protocol, acc.extensions))
        }
        Ok(None) => return Err("the response is reported as incomplete".into()),
        Err(e) => Err((e.error.code().to_owned(), e.response.as_ref().map(|r| r.status))),
    };
    check_client_result(&resp["expect"], got)
}

fn check_server(case: &Value) -> Result<(), String> {
    let text = string(case, "text");
    let e = &case["expect"];
    match (boolean(e, "ok"), parse_request(text.as_bytes(), limits(case))) {
        (true, Ok(Some((req, n)))) => {
            eq("bytes consumed", n, text.len())?;
            eq("key", req.key.clone(), string(e, "key"))?;
            eq("host", req.host.clone(), string(e, "host"))?;
            eq("path", req.path.clone(), string(e, "path"))?;
            eq("protocols", req.protocols.clone(), strings(e, "protocols"))?;
            eq(
                "extensions",
                extension_names(&req.extensions),
                strings(e, "extensions"),
            )?;
            let select = opt_string(case, "select");
            let resp = req
                .accept_response(select.as_deref(), &[], &[])
                .map_err(|e| format!("accept_response failed: {e}"))?;
            eq(
                "acceptResponse",
                String::from_utf8_lossy(&resp).into_owned(),
                string(e, "acceptResponse"),
            )?;
            for cut in 0..text.len() {
                ensure(
                    matches!(parse_request(&text.as_bytes()[..cut], limits(case)), Ok(None)),
                    || format!("the first {cut} bytes are not reported as incomplete"),
                )?;
            }
            Ok(())
        }
        (false, Err(err)) => {
            eq("kind", err.error.code(), string(e, "kind").as_str())?;
            eq("status", u64::from(err.status), number(e, "status"))
        }
        (_, Ok(None)) => Err("the request is reported as incomplete".into()),
        (true, Err(err)) => Err(format!("expected success, got {err}")),
        (false, Ok(Some((req, _)))) => Err(format!("expected failure, got {req:?}")),
    }
}

fn check_extension(v: &Value) -> Result<(), String> {
    let header = string(v, "header");
    let got = parse_extensions(&header);
    if v["error"].as_bool() == Some(true) {
        return match got {
            Err(e) => eq("error kind", e.code(), "HeaderError"),
            Ok(p) => Err(format!("expected an error, parsed {p:?}")),
        };
    }
    let got = got.map_err(|e| format!("parse failed: {e}"))?;
    let want: Vec<Extension> = list(v, "parsed")
        .iter()
        .map(|x| Extension {
            name: string(x, "name"),
            params: list(x, "params")
                .iter()
                .map(|p| {
                    let p = p.as_array().expect("a [name, value] pair");
                    (
                        p[0].as_str().expect("a name").to_owned(),
                        p[1].as_str().map(str::to_owned),
                    )
                })
                .collect(),
        })
        .collect();
    eq("parsed", &got, &want)?;
    // What format_extensions writes parses back to the same list.
    eq(
        "re-parsed",
        parse_extensions(&format_extensions(&got)).ok().as_ref(),
        Some(&got),
    )
}

fn check_h2_client(case: &Value, report: &mut Report) {
    let name = string(case, "name");
    let req = client_request(&case["request"]);
    let built = H2ConnectRequest::new(&string(case, "scheme"), &req);
    let r = match (opt_string(case, "requestError"), &built) {
        (Some(kind), Err(e)) => eq("request error", e.code(), kind.as_str()),
        (Some(kind), Ok(_)) => Err(format!("expected request error {kind}, got a request")),
        (None, Err(e)) => Err(format!("the request was refused: {e}")),
        (None, Ok(h2)) => check_h2_request(h2, case),
    };
    report.check_vector(&format!("h2 client: {name}"), case, r);
    let Ok(h2) = built else { return };
    for resp in list(case, "responses") {
        let rname = string(resp, "name");
        let got = h2
            .check_response(number(resp, "status") as u16, pairs(resp, "headers"))
            .map(|a| (a.protocol, a.extensions))
            .map_err(|e| (e.error.code().to_owned(), e.response.as_ref().map(|r| r.status)));
        let r = check_client_result(&resp["expect"], got);
        report.check_vector(&format!("h2 client: {name} / {rname}"), resp, r);
    }
}

/// The pseudo-headers and headers of a built extended CONNECT.
fn check_h2_request(h2: &H2ConnectRequest, case: &Value) -> Result<(), String> {
    let p = &case["expectedPseudo"];
    eq(":method", h2.method, p[":method"].as_str().unwrap_or("?"))?;
    eq(":protocol", h2.protocol, p[":protocol"].as_str().unwrap_or("?"))?;
    eq(":scheme", h2.scheme.clone(), string(p, ":scheme"))?;
    eq(":authority", h2.authority.clone(), string(p, ":authority"))?;
    eq(":path", h2.path.clone(), string(p, ":path"))?;
    eq("headers", h2.headers.clone(), pairs(case, "expectedHeaders"))
}

fn check_h2_server(case: &Value) -> Result<(), String> {
    let pseudo = |k: &str| opt_string(case, k);
    let got = parse_h2_request(
        &string(case, "method"),
        pseudo("protocol").as_deref(),
        pseudo("scheme").as_deref(),
        pseudo("path").as_deref(),
        pseudo("authority").as_deref(),
        pairs(case, "headers"),
    );
    let e = &case["expect"];
    match (boolean(e, "ok"), got) {
        (true, Ok(req)) => {
            eq("path", req.path.clone(), string(e, "path"))?;
            eq("host", req.host.clone(), string(e, "host"))?;
            eq("protocols", req.protocols.clone(), strings(e, "protocols"))?;
            eq(
                "extensions",
                extension_names(&req.extensions),
                strings(e, "extensions"),
            )?;
            let select = opt_string(case, "select");
            let headers = h2_accept_headers(&req, select.as_deref(), &[])
                .map_err(|e| format!("h2_accept_headers failed: {e}"))?;
            eq("acceptHeaders", headers, pairs(e, "acceptHeaders"))
        }
        (false, Err(err)) => {
            eq("kind", err.error.code(), string(e, "kind").as_str())?;
            eq("status", u64::from(err.status), number(e, "status"))
        }
        (true, Err(err)) => Err(format!("expected success, got {err}")),
        (false, Ok(req)) => Err(format!("expected failure, got {req:?}")),
    }
}

#[test]
fn handshakes() {
    let doc = load("handshakes.json");
    let mut report = Report::default();
    for case in list(&doc, "client") {
        check_client(case, &mut report);
    }
    for case in list(&doc, "server") {
        let name = string(case, "name");
        report.check_vector(&format!("server: {name}"), case, check_server(case));
    }
    for v in list(&doc, "extensions") {
        let header = string(v, "header");
        report.check_vector(&format!("extensions: {header:?}"), v, check_extension(v));
    }
    let h2 = &doc["h2"];
    for case in list(h2, "client") {
        check_h2_client(case, &mut report);
    }
    for case in list(h2, "server") {
        let name = string(case, "name");
        report.check_vector(&format!("h2 server: {name}"), case, check_h2_server(case));
    }
    report.finish("handshakes.json");
}
