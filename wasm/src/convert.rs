//! JS values from and to Rust ones: the `WebSocketError` every export throws,
//! header lists and HTTP responses. The bottom of the crate: it knows no other
//! module.

use js_sys::{Array, Object, Reflect};
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

/// A serde-wasm-bindgen error's text (it comes as a JS `Error`'s string).
pub(crate) fn serde_error_message(e: serde_wasm_bindgen::Error) -> String {
    let s = e.to_string();
    s.strip_prefix("Error: ").map(String::from).unwrap_or(s)
}

/// Headers as a JS array of `[name, value]` pairs.
pub(crate) fn headers_to_js(headers: &[(String, String)]) -> Array {
    headers
        .iter()
        .map(|(k, v)| -> JsValue { Array::of2(&JsValue::from_str(k), &JsValue::from_str(v)).into() })
        .collect()
}

/// Extra headers from JS: `undefined`/`null`, an object `{name: value}` or an
/// array of `[name, value]` pairs.
pub(crate) fn headers_from_js(v: JsValue, what: &str) -> Result<Vec<(String, String)>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    serde_wasm_bindgen::from_value::<sockweave_core::options::HeaderList>(v)
        .map(|h| h.0)
        .map_err(|e| js_error("InvalidArgument", &format!("{what}: {}", serde_error_message(e))))
}

/// An HTTP response as `{status, reason, headers}`.
pub(crate) fn response_to_js(r: &HttpResponse) -> JsValue {
    let o: JsValue = Object::new().into();
    set(&o, "status", JsValue::from(r.status));
    set(&o, "reason", JsValue::from_str(&r.reason));
    set(&o, "headers", headers_to_js(&r.headers).into());
    o
}
