//! The options object from JavaScript into the core's [`Options`], and back
//! out complete ([`normalize_options`]); the version-policy choice the JS
//! client makes from it ([`choose_plan`]).
//!
//! serde-wasm-bindgen ignores unknown keys (even with `deny_unknown_fields`)
//! and its type errors do not say which key they are about, so the keys are
//! checked here first against [`Options::KEYS`] / [`Options::DEFLATE_KEYS`],
//! and a failed conversion is narrowed down to the key that caused it.

use js_sys::{Array, Object};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use sockweave_core::options::{DeflateOptions, HttpVersion, HttpVersionPolicy, Millis, Plan};
use sockweave_core::Options;

use crate::convert::{js_error, serde_error_message, set};

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

fn object_of(entries: &[(String, JsValue)]) -> JsValue {
    let o: JsValue = Object::new().into();
    for (k, v) in entries {
        set(&o, k, v.clone());
    }
    o
}

/// Converts `entries`; on failure, finds the first key whose value alone fails.
fn deserialize_entries<T: DeserializeOwned>(
    entries: &[(String, JsValue)],
    path: &str,
) -> Result<T, (String, String)> {
    serde_wasm_bindgen::from_value::<T>(object_of(entries)).map_err(|whole| {
        for e in entries {
            if let Err(err) = serde_wasm_bindgen::from_value::<T>(object_of(core::slice::from_ref(e))) {
                let mut m = serde_error_message(err);
                if m.starts_with("TypeError") {
                    // The deserializer tripped over a value of another JS type.
                    m = format!(
                        "invalid type: a {} is not accepted here",
                        e.1.js_typeof().as_string().unwrap_or_default()
                    );
                }
                return (format!("{path}{}", e.0), m);
            }
        }
        (path.trim_end_matches('.').into(), serde_error_message(whole))
    })
}

/// The core's [`Options`] from a JS options object (`undefined`/`null`: the
/// defaults), checked: unknown keys, wrong types and values out of range are
/// `InvalidArgument` errors whose message and `key` property name the option.
pub fn parse_options(v: &JsValue) -> Result<Options, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Options::default());
    }
    let entries = checked_entries(v, "", Options::KEYS)?;
    let mut deflate = None;
    for (k, value) in &entries {
        if k == "dangerousDeflateOptions" && !value.is_null() {
            let d = checked_entries(value, "dangerousDeflateOptions.", Options::DEFLATE_KEYS)?;
            deflate = Some(
                deserialize_entries::<DeflateOptions>(&d, "dangerousDeflateOptions.")
                    .map_err(|(key, msg)| option_error(&key, &msg))?,
            );
        }
    }
    let rest: Vec<(String, JsValue)> = entries
        .into_iter()
        .filter(|(k, _)| k != "dangerousDeflateOptions")
        .collect();
    let mut o: Options = deserialize_entries(&rest, "").map_err(|(key, msg)| option_error(&key, &msg))?;
    o.dangerous_deflate_options = deflate;
    o.validate().map_err(|e| option_error(&e.key, &e.message))?;
    Ok(o)
}

fn millis_to_js(m: Millis) -> f64 {
    match m {
        Millis::Finite(n) => n as f64,
        Millis::Infinite => -1.0,
    }
}

/// Checks an options object and returns it complete: every key with its
/// value or default (`keepAliveInterval`/`keepAliveTimeout` stay `undefined`
/// when not given; durations in milliseconds, `-1` for infinite). Throws a
/// `WebSocketError` (`code` `InvalidArgument`, `key` naming the option) for an
/// unknown key, a wrong type or a value out of range.
#[wasm_bindgen(js_name = normalizeOptions)]
pub fn normalize_options(options: JsValue) -> Result<JsValue, JsValue> {
    let o = parse_options(&options)?;
    let v = o
        .serialize(&serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true))
        .map_err(|e| js_error("InvalidArgument", &e.to_string()))?;
    // Durations as plain numbers (-1 = infinite), like the other limits.
    for (k, m) in [
        ("handshakeTimeout", o.handshake_timeout),
        ("closeTimeout", o.close_timeout),
        ("idleTimeout", o.idle_timeout),
    ] {
        set(&v, k, JsValue::from(millis_to_js(m)));
    }
    for (k, m) in [
        ("keepAliveInterval", o.keep_alive_interval),
        ("keepAliveTimeout", o.keep_alive_timeout),
    ] {
        set(
            &v,
            k,
            m.map_or(JsValue::UNDEFINED, |m| JsValue::from(millis_to_js(m))),
        );
    }
    Ok(v)
}

/// Which protocol a client connection uses (core's `Plan::choose`, the
/// version-policy table of .NET's `HttpVersionPolicy`): `{ h2, fallback }`,
/// where `fallback` allows HTTP/1.1 when the server does not offer h2.
/// `version` and `policy` are the normalized options' `httpVersion` and
/// `httpVersionPolicy`.
#[wasm_bindgen(js_name = choosePlan)]
pub fn choose_plan(version: JsValue, policy: JsValue, secure: bool) -> Result<JsValue, JsValue> {
    let bad = |e: serde_wasm_bindgen::Error| js_error("InvalidArgument", &e.to_string());
    let version: HttpVersion = serde_wasm_bindgen::from_value(version).map_err(bad)?;
    let policy: HttpVersionPolicy = serde_wasm_bindgen::from_value(policy).map_err(bad)?;
    let (h2, fallback) = match Plan::choose(version, policy, secure) {
        Plan::Http1 => (false, false),
        Plan::Http2 { fallback } => (true, fallback),
    };
    let plan: JsValue = Object::new().into();
    set(&plan, "h2", JsValue::from(h2));
    set(&plan, "fallback", JsValue::from(fallback));
    Ok(plan)
}
