//! JS values from and to Rust ones: the `WebSocketError` every export throws,
//! header lists, HTTP responses, and the readers of JS values that report
//! what they found in serde's words. The bottom of the crate: it knows no
//! other module.

use js_sys::{Array, BigInt, Number, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;

use sockweave_core::handshake::HttpResponse;
use sockweave_core::Error;

/// Sets `obj[key] = value` (an own data property; cannot fail on our objects).
pub(crate) fn set(obj: &JsValue, key: &str, value: JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value);
}

/// A JS `Error` named `WebSocketError` with a stable `code`.
pub(crate) fn js_error(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("WebSocketError");
    let v: JsValue = e.into();
    set(&v, "code", JsValue::from_str(code));
    v
}

/// The JS form of an engine error: `code`, message, and `closeCode` when the
/// connection failed with one.
pub(crate) fn engine_error(e: &Error) -> JsValue {
    let v = js_error(e.code(), e.message());
    if let Some(c) = e.close_code() {
        set(&v, "closeCode", JsValue::from(c.0));
    }
    v
}

/// Headers as a JS array of `[name, value]` pairs.
pub(crate) fn headers_to_js(headers: &[(String, String)]) -> Array {
    headers
        .iter()
        .map(|(k, v)| -> JsValue { Array::of2(&JsValue::from_str(k), &JsValue::from_str(v)).into() })
        .collect()
}

/// Extra headers from JS: `undefined`/`null`, an object `{name: value}`, a
/// `Map`, or an array of `[name, value]` pairs.
pub(crate) fn headers_from_js(v: JsValue, what: &str) -> Result<Vec<(String, String)>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    read_headers(&v).map_err(|e| js_error("InvalidArgument", &format!("{what}: {e}")))
}

/// An HTTP response as `{status, reason, headers}`.
pub(crate) fn response_to_js(r: &HttpResponse) -> JsValue {
    let o: JsValue = Object::new().into();
    set(&o, "status", JsValue::from(r.status));
    set(&o, "reason", JsValue::from_str(&r.reason));
    set(&o, "headers", headers_to_js(&r.headers).into());
    o
}

/// What a JS value is, in the words of serde's `Unexpected` (`string "big"`,
/// `integer `-5``, `unit value` for `null`...).
pub(crate) fn unexpected(v: &JsValue) -> String {
    if v.is_undefined() || v.is_null() {
        String::from("unit value")
    } else if let Some(b) = v.as_bool() {
        format!("boolean `{b}`")
    } else if v.as_f64().is_some() {
        // JS prints the number (no float formatting in the module).
        let text = String::from(
            v.unchecked_ref::<Number>()
                .to_string_with_radix(10)
                .unwrap_or_default(),
        );
        if Number::is_safe_integer(v) {
            format!("integer `{text}`")
        } else {
            format!("floating point `{text}`")
        }
    } else if v.is_bigint() {
        let text = String::from(v.unchecked_ref::<BigInt>().to_string(10).unwrap_or_default());
        format!("integer `{text}`")
    } else if let Some(s) = v.as_string() {
        format!("string {s:?}")
    } else if Array::is_array(v) {
        String::from("sequence")
    } else if v.is_object() {
        String::from("map")
    } else {
        format!("a {}", v.js_typeof().as_string().unwrap_or_default())
    }
}

/// serde's `invalid type` message.
pub(crate) fn invalid_type(v: &JsValue, expected: &str) -> String {
    format!("invalid type: {}, expected {expected}", unexpected(v))
}

/// serde's `invalid value` message.
pub(crate) fn invalid_value(v: &JsValue, expected: &str) -> String {
    format!("invalid value: {}, expected {expected}", unexpected(v))
}

/// A value read from JS, or the message saying why it is not one.
pub(crate) type Read<T> = Result<T, String>;

pub(crate) fn read_string(v: &JsValue) -> Read<String> {
    v.as_string().ok_or_else(|| invalid_type(v, "a string"))
}

/// The elements of an array or of another iterable object.
pub(crate) fn read_sequence(v: &JsValue, expected: &str) -> Read<Vec<JsValue>> {
    if let Some(a) = v.dyn_ref::<Array>() {
        return Ok(a.to_vec());
    }
    if v.is_object() {
        if let Ok(Some(it)) = js_sys::try_iter(v) {
            return it
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| invalid_type(v, expected));
        }
    }
    Err(invalid_type(v, expected))
}

/// Header names and values: an object `{name: value}`, a `Map`, or an array
/// (or another iterable) of `[name, value]` pairs.
pub(crate) fn read_headers(v: &JsValue) -> Read<Vec<(String, String)>> {
    const EXPECTED: &str = "an object of header names to values, or an array of [name, value] pairs";
    let pairs = if v.is_object() && js_sys::try_iter(v).ok().flatten().is_none() {
        Object::entries(v.unchecked_ref()).to_vec()
    } else {
        read_sequence(v, EXPECTED)?
    };
    pairs
        .iter()
        .map(|p| {
            let p = read_sequence(p, "a tuple of size 2")?;
            if p.len() < 2 {
                return Err(format!("invalid length {}, expected a tuple of size 2", p.len()));
            }
            Ok((read_string(&p[0])?, read_string(&p[1])?))
        })
        .collect()
}
