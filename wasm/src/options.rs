//! The options object from JavaScript into the core's [`Options`].
//!
//! serde-wasm-bindgen ignores unknown keys (even with `deny_unknown_fields`)
//! and its type errors do not say which key they are about, so the keys are
//! checked here first against [`Options::KEYS`] / [`Options::DEFLATE_KEYS`],
//! and a failed conversion is narrowed down to the key that caused it.

use js_sys::{Array, Object};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};

use sockweave_core::options::DeflateOptions;
use sockweave_core::Options;

use crate::{js_error, set};

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

/// A serde-wasm-bindgen error's text (it comes as a JS `Error`'s string).
pub(crate) fn message(e: serde_wasm_bindgen::Error) -> String {
    let s = e.to_string();
    s.strip_prefix("Error: ").map(String::from).unwrap_or(s)
}

/// Converts `entries`; on failure, finds the first key whose value alone fails.
fn convert<T: DeserializeOwned>(entries: &[(String, JsValue)], path: &str) -> Result<T, (String, String)> {
    serde_wasm_bindgen::from_value::<T>(object_of(entries)).map_err(|whole| {
        for e in entries {
            if let Err(err) = serde_wasm_bindgen::from_value::<T>(object_of(core::slice::from_ref(e))) {
                let mut m = message(err);
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
        (path.trim_end_matches('.').into(), message(whole))
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
                convert::<DeflateOptions>(&d, "dangerousDeflateOptions.")
                    .map_err(|(key, msg)| option_error(&key, &msg))?,
            );
        }
    }
    let rest: Vec<(String, JsValue)> = entries
        .into_iter()
        .filter(|(k, _)| k != "dangerousDeflateOptions")
        .collect();
    let mut o: Options = convert(&rest, "").map_err(|(key, msg)| option_error(&key, &msg))?;
    o.dangerous_deflate_options = deflate;
    o.validate().map_err(|e| option_error(&e.key, &e.message))?;
    Ok(o)
}
