//! The server's opening handshakes: an HTTP/1.1 upgrade request read from the
//! bytes ([`parse_request`]) or an HTTP/2 extended CONNECT received by
//! `node:http2` ([`parse_h2_request`]) is checked and admitted under the
//! options (the `Origin` policy included), then answered by the one
//! [`ServerHandshake`]: a `101`, the headers of a `200` over HTTP/2, or a
//! refusal.

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;

use sockweave_core::deflate::DeflateParams;
use sockweave_core::handshake::{self as hs, HandshakeLimits, RequestError, ServerRequest};
use sockweave_core::session::SessionConfig;
use sockweave_core::{Error, ErrorKind, Options};

use crate::convert::{engine_error, headers_from_js, headers_to_js, js_error, set};
use crate::options::parse_options;
use crate::session::Session;

/// Parses an HTTP/1.1 upgrade request from the bytes read so far, under
/// `options` (limits, and later the subprotocols and deflate to accept).
/// `undefined`: incomplete, call again with more bytes. Throws a
/// `WebSocketError` with `status` (400, 405, 426, 431, 505) and `response`
/// (the bytes of the HTTP error response to write) for an invalid request.
#[wasm_bindgen(js_name = parseRequest)]
pub fn parse_request(buf: &[u8], options: JsValue) -> Result<Option<ServerHandshake>, JsValue> {
    let o = parse_options(&options)?;
    let limits: HandshakeLimits = o.handshake_limits();
    match hs::parse_request(buf, limits) {
        Ok(None) => Ok(None),
        Ok(Some((req, n))) => {
            req.admit(&o).map_err(|e| request_error(&e))?;
            Ok(Some(ServerHandshake {
                req,
                options: o,
                consumed: n,
                config: None,
            }))
        }
        Err(e) => Err(request_error(&e)),
    }
}

/// Checks an HTTP/2 extended CONNECT request (RFC 8441) received by a
/// `node:http2` server: `method` and the pseudo-headers (`undefined` when
/// absent), the regular headers as `[name, value]` pairs. Throws a
/// `WebSocketError` with `status` (400, 405, 426, 501) for an invalid one;
/// answer an accepted one with [`ServerHandshake::accept_h2`].
#[wasm_bindgen(js_name = parseH2Request)]
pub fn parse_h2_request(
    method: &str,
    protocol: Option<String>,
    scheme: Option<String>,
    path: Option<String>,
    authority: Option<String>,
    headers: JsValue,
    options: JsValue,
) -> Result<ServerHandshake, JsValue> {
    let o = parse_options(&options)?;
    let headers = headers_from_js(headers, "headers")?;
    hs::parse_h2_request(
        method,
        protocol.as_deref(),
        scheme.as_deref(),
        path.as_deref(),
        authority.as_deref(),
        headers,
    )
    .and_then(|req| req.admit(&o).map(|()| req))
    .map(|req| ServerHandshake {
        req,
        options: o,
        consumed: 0,
        config: None,
    })
    .map_err(|e| {
        let v = engine_error(&e.error);
        set(&v, "status", JsValue::from(e.status));
        v
    })
}

/// A valid upgrade request, and the server's answer to it.
#[wasm_bindgen]
pub struct ServerHandshake {
    req: ServerRequest,
    options: Options,
    consumed: usize,
    config: Option<SessionConfig>,
}

#[wasm_bindgen]
impl ServerHandshake {
    /// Bytes of the request head (what follows is WebSocket frames).
    #[wasm_bindgen(getter)]
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// Path and query as requested.
    #[wasm_bindgen(getter)]
    pub fn path(&self) -> String {
        self.req.path.clone()
    }

    /// The `Sec-WebSocket-Key` header.
    #[wasm_bindgen(getter)]
    pub fn key(&self) -> String {
        self.req.key.clone()
    }

    /// The `Host` header.
    #[wasm_bindgen(getter)]
    pub fn host(&self) -> String {
        self.req.host.clone()
    }

    /// Every request header, as `[name, value]` pairs in order.
    #[wasm_bindgen(getter)]
    pub fn headers(&self) -> Array {
        headers_to_js(&self.req.headers)
    }

    /// The offered subprotocols, in the client's order.
    #[wasm_bindgen(getter)]
    pub fn protocols(&self) -> Array {
        self.req.protocols.iter().map(|p| JsValue::from_str(p)).collect()
    }

    /// The names of the offered extensions, in order.
    #[wasm_bindgen(getter)]
    pub fn extensions(&self) -> Array {
        self.req
            .extensions
            .iter()
            .map(|e| JsValue::from_str(&e.name))
            .collect()
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.req.header(name).map(String::from)
    }

    /// The `101 Switching Protocols` response bytes. `subProtocol`: `undefined`
    /// selects the first of `options.subProtocols` the client offered, `null`
    /// none, a string that one (it must have been offered). permessage-deflate
    /// is accepted when `options.dangerousDeflateOptions` allows an offer.
    /// `headers`: extra response headers (object or pairs).
    pub fn accept(&mut self, sub_protocol: JsValue, headers: JsValue) -> Result<Uint8Array, JsValue> {
        let (protocol, deflate) = self.select(sub_protocol)?;
        let extra = headers_from_js(headers, "headers")?;
        let extensions: Vec<_> = deflate.iter().map(|(_, e)| e.clone()).collect();
        let response = self
            .req
            .accept_response(protocol.as_deref(), &extensions, &extra)
            .map_err(|e| engine_error(&e))?;
        self.agree(protocol, deflate);
        Ok(Uint8Array::from(&response[..]))
    }

    /// For HTTP/2: the headers of the `200` response (an object with
    /// `:status`, for `stream.respond()`), choosing as [`accept`](Self::accept) does.
    #[wasm_bindgen(js_name = acceptH2)]
    pub fn accept_h2(&mut self, sub_protocol: JsValue, headers: JsValue) -> Result<JsValue, JsValue> {
        let (protocol, deflate) = self.select(sub_protocol)?;
        let extra = headers_from_js(headers, "headers")?;
        hs::validate_extra_headers(&extra).map_err(|e| engine_error(&e))?;
        let extensions: Vec<_> = deflate.iter().map(|(_, e)| e.clone()).collect();
        let list = hs::h2_accept_headers(&self.req, protocol.as_deref(), &extensions)
            .map_err(|e| engine_error(&e))?;
        let o: JsValue = Object::new().into();
        set(&o, ":status", JsValue::from(200));
        for (k, v) in list.iter().chain(extra.iter()) {
            set(&o, &k.to_ascii_lowercase(), JsValue::from_str(v));
        }
        self.agree(protocol, deflate);
        Ok(o)
    }

    /// The subprotocol `accept` selected.
    #[wasm_bindgen(getter, js_name = subProtocol)]
    pub fn sub_protocol(&self) -> Option<String> {
        self.config.as_ref().and_then(|c| c.sub_protocol.clone())
    }

    /// An HTTP error response refusing the request with `status` and a
    /// message for the body; `headers` (e.g. `WWW-Authenticate`) are added.
    pub fn reject(&self, status: u16, message: String, headers: JsValue) -> Result<Uint8Array, JsValue> {
        let extra = headers_from_js(headers, "headers")?;
        let e = RequestError {
            error: Error::new(ErrorKind::NotAWebSocket, message),
            status,
        };
        Ok(Uint8Array::from(&hs::reject_response(&e, &extra)[..]))
    }

    /// The server session `accept` agreed on (keep-alive off unless set).
    #[wasm_bindgen(js_name = intoSession)]
    pub fn into_session(&self, seed: &[u8]) -> Result<Session, JsValue> {
        let config = self
            .config
            .clone()
            .ok_or_else(|| js_error("InvalidState", "accept() must be called before intoSession()"))?;
        Session::from_config(config, seed)
    }
}

impl ServerHandshake {
    /// The subprotocol (`undefined`: the first of `options.subProtocols` the
    /// client offered; `null`: none) and the deflate negotiation.
    fn select(&self, sub_protocol: JsValue) -> Result<(Option<String>, Deflate), JsValue> {
        let protocol = if sub_protocol.is_undefined() {
            self.req
                .select_subprotocol(&self.options.sub_protocols)
                .map(String::from)
        } else if sub_protocol.is_null() {
            None
        } else {
            Some(sub_protocol.as_string().ok_or_else(|| {
                js_error(
                    "InvalidArgument",
                    "subProtocol must be a string, null or undefined",
                )
            })?)
        };
        let deflate = self
            .req
            .negotiate_deflate(self.options.dangerous_deflate_options.as_ref());
        Ok((protocol, deflate))
    }

    fn agree(&mut self, protocol: Option<String>, deflate: Deflate) {
        self.config = Some(SessionConfig::for_server(
            &self.options,
            protocol,
            deflate.map(|(p, _)| p),
        ));
    }
}

/// An invalid HTTP/1.1 request's error: its `status`, and as `response` the
/// bytes that refuse it, so the JS host answers without building HTTP itself.
fn request_error(e: &RequestError) -> JsValue {
    let v = engine_error(&e.error);
    set(&v, "status", JsValue::from(e.status));
    set(
        &v,
        "response",
        Uint8Array::from(&hs::reject_response(e, &[])[..]).into(),
    );
    v
}

/// The permessage-deflate parameters agreed on, and the extension that says so.
type Deflate = Option<(DeflateParams, hs::Extension)>;
