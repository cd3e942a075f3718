//! HTTP proxies for the JS host: the `CONNECT` request and the check of the
//! proxy's answer ([`proxy_connect_request`], [`proxy_check_response`]), a
//! proxy URL's check ([`proxy_check_url`]), and which proxy the environment
//! variables name for a connection ([`proxy_from_env`]); the rules are
//! sockweave-core's `proxy` and `proxy_env`. JS owns the sockets.

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;

use sockweave_core::auth::basic_authorization;
use sockweave_core::proxy::{self, MAX_CONNECT_HEAD};
use sockweave_core::proxy_env::{self, ProxyEnv};

use crate::convert::engine_error;

/// How a JS caller sets proxy credentials, for the 407 message.
const CREDENTIALS_OPTION: &str =
    "the proxy's credentials (options.proxy = 'http://user:password@host:port' or {url, credentials: {user, password}})";

/// The `CONNECT` request for `authority` (`host:port`, IPv6 in brackets),
/// with `Proxy-Authorization: Basic` when `user` is given.
#[wasm_bindgen(js_name = proxyConnectRequest)]
pub fn proxy_connect_request(authority: &str, user: Option<String>, password: Option<String>) -> Vec<u8> {
    let authorization = user.map(|u| basic_authorization(&u, password.as_deref().unwrap_or("")));
    proxy::connect_request(authority, authorization.as_deref())
}

/// Checks the proxy's answer to `CONNECT` (the bytes read so far):
/// `undefined` when its head is incomplete, else how many bytes the head
/// took (the rest belongs to the tunnel). `ended`: the proxy closed the
/// connection after these bytes. Throws a `WebSocketError` with code
/// `Proxy` for a refusal (407, any status other than 2xx), a malformed or
/// too large head, or a close before the head ended.
#[wasm_bindgen(js_name = proxyCheckResponse)]
pub fn proxy_check_response(
    buf: &[u8],
    authority: &str,
    credentials_sent: bool,
    ended: bool,
) -> Result<Option<u32>, JsValue> {
    match proxy::check_connect_response(
        buf,
        authority,
        credentials_sent,
        CREDENTIALS_OPTION,
        MAX_CONNECT_HEAD,
    ) {
        Ok(Some(n)) => Ok(Some(n as u32)),
        Ok(None) if ended => Err(engine_error(&proxy::closed_during_connect())),
        Ok(None) => Ok(None),
        Err(e) => Err(engine_error(&e)),
    }
}

/// Checks a proxy URL the host parsed: throws `InvalidArgument` unless its
/// scheme (without `:`) is `http` and it has a host.
#[wasm_bindgen(js_name = proxyCheckUrl)]
pub fn proxy_check_url(scheme: &str, has_host: bool) -> Result<(), JsValue> {
    proxy::check_proxy_url(scheme, has_host).map_err(|e| engine_error(&e))
}

/// The proxy the environment `env` (an object of variables, e.g.
/// `process.env`) names for a connection to `host` (IPv6 without brackets)
/// and `port`, over TLS when `secure`: `undefined` for none (no variable, or
/// `no_proxy` matches), else `[variable, url]` (`url` may hold credentials).
#[wasm_bindgen(js_name = proxyFromEnv)]
pub fn proxy_from_env(env: &JsValue, secure: bool, host: &str, port: u16) -> JsValue {
    let rules = ProxyEnv::from_lookup(|name| Reflect::get(env, &JsValue::from_str(name)).ok()?.as_string());
    match rules.proxy_for(secure, host, port) {
        Some(s) => Array::of2(&JsValue::from_str(s.variable), &JsValue::from_str(&s.url)).into(),
        None => JsValue::UNDEFINED,
    }
}

/// The message for an environment variable that applies to a connection to
/// `host` but holds no usable proxy URL (`shown`: its value without
/// credentials; `why`: what is wrong).
#[wasm_bindgen(js_name = proxyUnusable)]
pub fn proxy_unusable(variable: &str, shown: &str, why: &str, host: &str) -> String {
    proxy_env::unusable(variable, shown, why, host, "useProxy: false")
}
