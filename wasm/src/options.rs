//! The options object from JavaScript into the core's [`Options`], and back
//! out complete ([`normalize_options`]); the version-policy choice the JS
//! client makes from it ([`choose_plan`]).
//!
//! The object is read by hand with js-sys, key by key (no serde in the
//! module: serde-wasm-bindgen cost about a tenth of its size and ignored
//! unknown keys anyway). The keys are checked first against
//! [`Options::KEYS`] / [`Options::DEFLATE_KEYS`]; each value is then read
//! with the types and the accepted forms of the core's serde form (the same
//! JSON means the same options in Rust and in JS), and an error names its
//! key and says what was found and what was expected, in serde's words
//! (`invalid type: string "big", expected usize`).

use js_sys::{Array, Number, Object};
use wasm_bindgen::prelude::*;

use sockweave_core::options::{DeflateOptions, HttpVersion, HttpVersionPolicy, Millis, Plan};
use sockweave_core::Options;

use crate::convert::{
    invalid_type, invalid_value, js_error, read_headers, read_sequence, read_string, set, Read,
};

/// An `InvalidArgument` error about option `key`, with `key` as a property.
fn option_error(key: &str, message: &str) -> JsValue {
    let e = js_error("InvalidArgument", &format!("invalid option `{key}`: {message}"));
    set(&e, "key", JsValue::from_str(key));
    e
}

/// Edit distance, for "did you mean" (keys are short ASCII).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(!ca.eq_ignore_ascii_case(cb));
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn unknown_key(path: &str, key: &str, known: &[&str]) -> JsValue {
    let full = format!("{path}{key}");
    let best = known
        .iter()
        .map(|k| (distance(key, k), *k))
        .min()
        .filter(|(d, _)| *d <= 3);
    let hint = match best {
        Some((_, k)) => format!("unknown option; did you mean `{path}{k}`?"),
        None => format!("unknown option; the options are {}", known.join(", ")),
    };
    option_error(&full, &hint)
}

/// The own enumerable entries of a plain object, with `undefined` values left
/// out (they mean "the default"), checked against `known`.
fn checked_entries(v: &JsValue, path: &str, known: &[&str]) -> Result<Vec<(String, JsValue)>, JsValue> {
    if !v.is_object() || Array::is_array(v) || v.is_function() {
        let what = if path.is_empty() {
            String::from("options")
        } else {
            format!("option `{}`", path.trim_end_matches('.'))
        };
        return Err(js_error("InvalidArgument", &format!("{what} must be an object")));
    }
    let mut out = Vec::new();
    for entry in Object::entries(v.unchecked_ref()).iter() {
        let pair: Array = entry.unchecked_into();
        let key = pair.get(0).as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            return Err(unknown_key(path, &key, known));
        }
        let value = pair.get(1);
        if !value.is_undefined() {
            out.push((key, value));
        }
    }
    Ok(out)
}

fn read_bool(v: &JsValue) -> Read<bool> {
    v.as_bool().ok_or_else(|| invalid_type(v, "a boolean"))
}

/// An unsigned integer up to `max` (`what` is the Rust type's name): a number
/// that is a safe integer, or for the 64-bit types (`bigint`) also a `bigint`.
fn read_uint(v: &JsValue, max: u64, what: &str, bigint: bool) -> Read<u64> {
    let n = if Number::is_safe_integer(v) {
        let f = v.as_f64().unwrap_or(-1.0);
        if f < 0.0 {
            return Err(invalid_value(v, what));
        }
        f as u64
    } else if bigint && v.is_bigint() {
        u64::try_from(v.clone()).map_err(|_| invalid_value(v, what))?
    } else {
        return Err(invalid_type(v, what));
    };
    if n > max {
        return Err(invalid_value(v, what));
    }
    Ok(n)
}

fn read_usize(v: &JsValue) -> Read<usize> {
    read_uint(v, usize::MAX as u64, "usize", true).map(|n| n as usize)
}

fn read_u64(v: &JsValue) -> Read<u64> {
    read_uint(v, u64::MAX, "u64", true)
}

fn read_u32(v: &JsValue) -> Read<u32> {
    read_uint(v, u32::MAX.into(), "u32", false).map(|n| n as u32)
}

fn read_u8(v: &JsValue) -> Read<u8> {
    read_uint(v, u8::MAX.into(), "u8", false).map(|n| n as u8)
}

/// [`Millis`]: a number of milliseconds >= 0 (or a `bigint`), `-1`,
/// `Infinity` or `"infinite"`.
fn read_millis(v: &JsValue) -> Read<Millis> {
    const EXPECTED: &str = "milliseconds (a number >= 0), or -1 or \"infinite\"";
    if let Some(f) = v.as_f64() {
        if f == -1.0 || f == f64::INFINITY {
            Ok(Millis::Infinite)
        } else if (0.0..1.8e19).contains(&f) && (f as u64) as f64 == f {
            Ok(Millis::Finite(f as u64))
        } else {
            Err(invalid_value(v, EXPECTED))
        }
    } else if v.is_bigint() {
        if let Ok(n) = u64::try_from(v.clone()) {
            Ok(Millis::Finite(n))
        } else if i64::try_from(v.clone()) == Ok(-1) {
            Ok(Millis::Infinite)
        } else {
            Err(invalid_value(v, EXPECTED))
        }
    } else if v.as_string().as_deref() == Some("infinite") {
        Ok(Millis::Infinite)
    } else if v.is_string() {
        Err(invalid_value(v, EXPECTED))
    } else {
        Err(invalid_type(v, EXPECTED))
    }
}

/// `None` for `null` (`undefined` entries were left out before).
fn read_optional<T>(v: &JsValue, read: fn(&JsValue) -> Read<T>) -> Read<Option<T>> {
    if v.is_null() {
        Ok(None)
    } else {
        read(v).map(Some)
    }
}

fn read_strings(v: &JsValue) -> Read<Vec<String>> {
    read_sequence(v, "a sequence")?.iter().map(read_string).collect()
}

/// `"1.1"`, `"2"` (or `"2.0"`), or the numbers 1.1 and 2.
fn read_http_version(v: &JsValue) -> Read<HttpVersion> {
    const EXPECTED: &str = "\"1.1\" or \"2\"";
    match (v.as_string().as_deref(), v.as_f64()) {
        (Some("1.1"), _) | (_, Some(1.1)) => Ok(HttpVersion::Http11),
        (Some("2" | "2.0"), _) | (_, Some(2.0)) => Ok(HttpVersion::Http2),
        (Some(_), _) | (_, Some(_)) => Err(invalid_value(v, EXPECTED)),
        _ => Err(invalid_type(v, EXPECTED)),
    }
}

const POLICIES: [(&str, HttpVersionPolicy); 3] = [
    ("requestVersionOrLower", HttpVersionPolicy::RequestVersionOrLower),
    (
        "requestVersionOrHigher",
        HttpVersionPolicy::RequestVersionOrHigher,
    ),
    ("requestVersionExact", HttpVersionPolicy::RequestVersionExact),
];

fn read_policy(v: &JsValue) -> Read<HttpVersionPolicy> {
    let s = v
        .as_string()
        .ok_or_else(|| invalid_type(v, "enum HttpVersionPolicy"))?;
    POLICIES
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, p)| *p)
        .ok_or_else(|| {
            format!(
                "unknown variant `{s}`, expected one of `{}`, `{}`, `{}`",
                POLICIES[0].0, POLICIES[1].0, POLICIES[2].0
            )
        })
}

fn policy_name(p: HttpVersionPolicy) -> &'static str {
    POLICIES
        .iter()
        .find(|(_, q)| *q == p)
        .map_or("", |(name, _)| name)
}

/// `dangerousDeflateOptions` (keys checked, `undefined` values left out).
fn read_deflate(entries: &[(String, JsValue)]) -> Result<DeflateOptions, (String, String)> {
    let mut d = DeflateOptions::default();
    for (k, v) in entries {
        let r = match k.as_str() {
            "clientMaxWindowBits" => read_u8(v).map(|b| d.client_max_window_bits = b),
            "serverMaxWindowBits" => read_u8(v).map(|b| d.server_max_window_bits = b),
            "clientContextTakeover" => read_bool(v).map(|b| d.client_context_takeover = b),
            "serverContextTakeover" => read_bool(v).map(|b| d.server_context_takeover = b),
            _ => Err(String::from("unknown option")),
        };
        r.map_err(|m| (format!("dangerousDeflateOptions.{k}"), m))?;
    }
    Ok(d)
}

/// Sets the option `key` of `o` from `v` (one of [`Options::KEYS`] other than
/// `dangerousDeflateOptions`).
fn read_option(o: &mut Options, key: &str, v: &JsValue) -> Read<()> {
    match key {
        "keepAliveInterval" => o.keep_alive_interval = read_optional(v, read_millis)?,
        "keepAliveTimeout" => o.keep_alive_timeout = read_optional(v, read_millis)?,
        "subProtocols" => o.sub_protocols = read_strings(v)?,
        "subProtocol" => o.sub_protocol = read_optional(v, read_string)?,
        "requestHeaders" => o.request_headers.0 = read_headers(v)?,
        "httpVersion" => o.http_version = read_http_version(v)?,
        "httpVersionPolicy" => o.http_version_policy = read_policy(v)?,
        "isServer" => o.is_server = read_bool(v)?,
        "receiveBufferSize" => o.receive_buffer_size = read_usize(v)?,
        "maxMessageSize" => o.max_message_size = read_u64(v)?,
        "maxFrameSize" => o.max_frame_size = read_u64(v)?,
        "maxHandshakeHeaderBytes" => o.max_handshake_header_bytes = read_usize(v)?,
        "maxHandshakeHeaders" => o.max_handshake_headers = read_usize(v)?,
        "handshakeTimeout" => o.handshake_timeout = read_millis(v)?,
        "closeTimeout" => o.close_timeout = read_millis(v)?,
        "maxPendingOutput" => o.max_pending_output = read_usize(v)?,
        "allowedOrigins" => o.allowed_origins = read_strings(v)?,
        "allowMissingOrigin" => o.allow_missing_origin = read_bool(v)?,
        "maxConcurrentStreams" => o.max_concurrent_streams = read_u32(v)?,
        "maxRequestBodySize" => o.max_request_body_size = read_usize(v)?,
        "maxBufferedRequestBytes" => o.max_buffered_request_bytes = read_usize(v)?,
        "idleTimeout" => o.idle_timeout = read_millis(v)?,
        // A key of Options::KEYS this reader does not know yet.
        _ => return Err(String::from("unknown option")),
    }
    Ok(())
}

/// The core's [`Options`] from a JS options object (`undefined`/`null`: the
/// defaults), checked: unknown keys, wrong types and values out of range are
/// `InvalidArgument` errors whose message and `key` property name the option.
pub fn parse_options(v: &JsValue) -> Result<Options, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Options::default());
    }
    let entries = checked_entries(v, "", Options::KEYS)?;
    let mut o = Options::default();
    for (k, value) in &entries {
        if k == "dangerousDeflateOptions" {
            o.dangerous_deflate_options = if value.is_null() {
                None
            } else {
                let d = checked_entries(value, "dangerousDeflateOptions.", Options::DEFLATE_KEYS)?;
                Some(read_deflate(&d).map_err(|(key, msg)| option_error(&key, &msg))?)
            };
        } else {
            read_option(&mut o, k, value).map_err(|msg| option_error(k, &msg))?;
        }
    }
    o.validate().map_err(|e| option_error(&e.key, &e.message))?;
    Ok(o)
}

fn millis_to_js(m: Millis) -> JsValue {
    match m {
        Millis::Finite(n) => JsValue::from(n as f64),
        Millis::Infinite => JsValue::from(-1.0),
    }
}

fn strings_to_js(v: &[String]) -> JsValue {
    v.iter().map(|s| JsValue::from_str(s)).collect::<Array>().into()
}

/// Checks an options object and returns it complete: every key with its
/// value or default (`keepAliveInterval`/`keepAliveTimeout` stay `undefined`
/// when not given; durations in milliseconds, `-1` for infinite). Throws a
/// `WebSocketError` (`code` `InvalidArgument`, `key` naming the option) for an
/// unknown key, a wrong type or a value out of range.
#[wasm_bindgen(js_name = normalizeOptions)]
pub fn normalize_options(options: JsValue) -> Result<JsValue, JsValue> {
    let o = parse_options(&options)?;
    // The keys in the order of Options::KEYS, as serde wrote them.
    let v: JsValue = Object::new().into();
    let opt_millis = |m: Option<Millis>| m.map_or(JsValue::UNDEFINED, millis_to_js);
    set(&v, "keepAliveInterval", opt_millis(o.keep_alive_interval));
    set(&v, "keepAliveTimeout", opt_millis(o.keep_alive_timeout));
    let deflate = o.dangerous_deflate_options.map_or(JsValue::UNDEFINED, |d| {
        let j: JsValue = Object::new().into();
        set(&j, "clientMaxWindowBits", JsValue::from(d.client_max_window_bits));
        set(&j, "serverMaxWindowBits", JsValue::from(d.server_max_window_bits));
        set(
            &j,
            "clientContextTakeover",
            JsValue::from(d.client_context_takeover),
        );
        set(
            &j,
            "serverContextTakeover",
            JsValue::from(d.server_context_takeover),
        );
        j
    });
    set(&v, "dangerousDeflateOptions", deflate);
    set(&v, "subProtocols", strings_to_js(&o.sub_protocols));
    set(
        &v,
        "subProtocol",
        o.sub_protocol
            .as_deref()
            .map_or(JsValue::UNDEFINED, JsValue::from_str),
    );
    let headers: JsValue = Object::new().into();
    for (k, h) in &o.request_headers.0 {
        set(&headers, k, JsValue::from_str(h));
    }
    set(&v, "requestHeaders", headers);
    let version = match o.http_version {
        HttpVersion::Http11 => "1.1",
        HttpVersion::Http2 => "2",
    };
    set(&v, "httpVersion", JsValue::from_str(version));
    set(
        &v,
        "httpVersionPolicy",
        JsValue::from_str(policy_name(o.http_version_policy)),
    );
    set(&v, "isServer", JsValue::from(o.is_server));
    // Sizes are validated far below 2^53, so they are exact as numbers.
    let size = |n: u64| JsValue::from(n as f64);
    set(&v, "receiveBufferSize", size(o.receive_buffer_size as u64));
    set(&v, "maxMessageSize", size(o.max_message_size));
    set(&v, "maxFrameSize", size(o.max_frame_size));
    set(
        &v,
        "maxHandshakeHeaderBytes",
        size(o.max_handshake_header_bytes as u64),
    );
    set(&v, "maxHandshakeHeaders", size(o.max_handshake_headers as u64));
    // Durations as plain numbers (-1 = infinite), like the other limits.
    set(&v, "handshakeTimeout", millis_to_js(o.handshake_timeout));
    set(&v, "closeTimeout", millis_to_js(o.close_timeout));
    set(&v, "maxPendingOutput", size(o.max_pending_output as u64));
    set(&v, "allowedOrigins", strings_to_js(&o.allowed_origins));
    set(&v, "allowMissingOrigin", JsValue::from(o.allow_missing_origin));
    set(&v, "maxConcurrentStreams", size(o.max_concurrent_streams.into()));
    set(&v, "maxRequestBodySize", size(o.max_request_body_size as u64));
    set(
        &v,
        "maxBufferedRequestBytes",
        size(o.max_buffered_request_bytes as u64),
    );
    set(&v, "idleTimeout", millis_to_js(o.idle_timeout));
    Ok(v)
}

/// Which protocol a client connection uses (core's `Plan::choose`, the
/// version-policy table of .NET's `HttpVersionPolicy`): `{ h2, fallback }`,
/// where `fallback` allows HTTP/1.1 when the server does not offer h2.
/// `version` and `policy` are the normalized options' `httpVersion` and
/// `httpVersionPolicy`.
#[wasm_bindgen(js_name = choosePlan)]
pub fn choose_plan(version: JsValue, policy: JsValue, secure: bool) -> Result<JsValue, JsValue> {
    let bad = |m: String| js_error("InvalidArgument", &m);
    let version = read_http_version(&version).map_err(bad)?;
    let policy = read_policy(&policy).map_err(bad)?;
    let (h2, fallback) = match Plan::choose(version, policy, secure) {
        Plan::Http1 => (false, false),
        Plan::Http2 { fallback } => (true, fallback),
    };
    let plan: JsValue = Object::new().into();
    set(&plan, "h2", JsValue::from(h2));
    set(&plan, "fallback", JsValue::from(fallback));
    Ok(plan)
}
