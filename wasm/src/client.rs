//! The client's opening handshakes: the HTTP/1.1 Upgrade
//! ([`ClientHandshake`]) and the HTTP/2 extended CONNECT of RFC 8441
//! ([`H2ClientHandshake`], the JS host owning the HTTP/2 connection). Both
//! build their request from the same options and keep the server's answer
//! the same way ([`Answer`]), so the [`Session`] they make is configured
//! alike whichever protocol carried it.

use js_sys::{Object, Uint8Array};
use wasm_bindgen::prelude::*;

use sockweave_core::auth;
use sockweave_core::handshake::{
    self as hs, ClientHandshakeError, H2ConnectRequest, HandshakeAccepted, HttpResponse,
};
use sockweave_core::session::SessionConfig;
use sockweave_core::Options;

use crate::convert::{engine_error, headers_from_js, js_error, response_to_js, set};
use crate::options::parse_options;
use crate::session::Session;

/// The client's HTTP/1.1 opening handshake: builds the request, checks the
/// server's response, and makes the [`Session`] the server agreed to.
#[wasm_bindgen]
pub struct ClientHandshake {
    hs: hs::ClientHandshake,
    request: Vec<u8>,
    answer: Answer,
}

#[wasm_bindgen]
impl ClientHandshake {
    /// `host`: the `Host` header (with `:port` when not the default), `path`:
    /// path and query. Subprotocols, deflate offer and extra headers come from
    /// `options`; `extraHeaders` (object or `[name, value]` pairs) are added
    /// after them, replacing those of the same name (e.g. cookies). `nonce`:
    /// 16 random bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(
        options: JsValue,
        host: String,
        path: String,
        nonce: &[u8],
        extra_headers: JsValue,
    ) -> Result<ClientHandshake, JsValue> {
        let o = parse_options(&options)?;
        let nonce: [u8; 16] = nonce
            .try_into()
            .map_err(|_| js_error("InvalidArgument", "the nonce must be 16 random bytes"))?;
        let req = client_request(&o, host, path, extra_headers)?;
        let (h, request) =
            hs::ClientHandshake::new(&req, nonce, o.handshake_limits()).map_err(|e| engine_error(&e))?;
        Ok(ClientHandshake {
            hs: h,
            request,
            answer: Answer::new(o),
        })
    }

    /// The request bytes to write.
    #[wasm_bindgen(getter)]
    pub fn request(&self) -> Uint8Array {
        Uint8Array::from(&self.request[..])
    }

    /// Checks the response bytes read so far. `undefined`: incomplete, call
    /// again with more. A number: the response head was that many bytes
    /// (what follows is WebSocket frames). Throws a `WebSocketError` with
    /// `response` (`{status, reason, headers}`) when the server refused.
    #[wasm_bindgen(js_name = parseResponse)]
    pub fn parse_response(&mut self, buf: &[u8]) -> Result<Option<usize>, JsValue> {
        match self.hs.parse_response(buf) {
            Ok(None) => Ok(None),
            Ok(Some((a, n))) => {
                self.answer.accepted(a);
                Ok(Some(n))
            }
            Err(e) => Err(self.answer.refused(e)),
        }
    }

    /// The server's response (`{status, reason, headers}`) once parsed, also after a refusal.
    #[wasm_bindgen(getter)]
    pub fn response(&self) -> JsValue {
        self.answer.response_js()
    }

    /// The subprotocol the server selected.
    #[wasm_bindgen(getter, js_name = subProtocol)]
    pub fn sub_protocol(&self) -> Option<String> {
        self.answer.accepted.as_ref().and_then(|a| a.protocol.clone())
    }

    /// The accepted extensions, in `Sec-WebSocket-Extensions` form (`""` if none).
    #[wasm_bindgen(getter)]
    pub fn extensions(&self) -> String {
        self.answer
            .accepted
            .as_ref()
            .map(|a| hs::format_extensions(&a.extensions))
            .unwrap_or_default()
    }

    /// The session the handshake agreed on (client role; keep-alive defaults
    /// to an unsolicited PONG every 30 s, as for .NET's `ClientWebSocket`).
    #[wasm_bindgen(js_name = intoSession)]
    pub fn into_session(&self, seed: &[u8]) -> Result<Session, JsValue> {
        self.answer.session(
            seed,
            "the handshake response was not accepted yet (parseResponse)",
        )
    }
}

/// The client's HTTP/2 extended CONNECT (RFC 8441): the request's headers,
/// the check of the server's response, and the [`Session`] agreed on.
#[wasm_bindgen]
pub struct H2ClientHandshake {
    req: H2ConnectRequest,
    answer: Answer,
}

#[wasm_bindgen]
impl H2ClientHandshake {
    /// `scheme`: `"https"` for wss://, `"http"` for ws://; `authority` and
    /// `path` as for HTTP/1.1. Subprotocols, deflate and extra headers come
    /// from `options` (plus `extraHeaders`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        options: JsValue,
        scheme: &str,
        authority: String,
        path: String,
        extra_headers: JsValue,
    ) -> Result<H2ClientHandshake, JsValue> {
        let o = parse_options(&options)?;
        let req = client_request(&o, authority, path, extra_headers)?;
        let req = H2ConnectRequest::new(scheme, &req).map_err(|e| engine_error(&e))?;
        Ok(H2ClientHandshake {
            req,
            answer: Answer::new(o),
        })
    }

    /// The request headers for `node:http2`'s `request()`: the pseudo-headers
    /// (`:method` CONNECT, `:protocol` websocket, `:scheme`, `:authority`,
    /// `:path`) and the regular headers (lowercase), as an object.
    #[wasm_bindgen(getter)]
    pub fn headers(&self) -> JsValue {
        let o: JsValue = Object::new().into();
        let r = &self.req;
        for (k, v) in [
            (":method", r.method),
            (":protocol", r.protocol),
            (":scheme", r.scheme.as_str()),
            (":authority", r.authority.as_str()),
            (":path", r.path.as_str()),
        ] {
            set(&o, k, JsValue::from_str(v));
        }
        for (k, v) in &r.headers {
            set(&o, k, JsValue::from_str(v));
        }
        o
    }

    /// Checks the response (`:status` and `[name, value]` header pairs).
    /// Throws a `WebSocketError` with `response` when the server refused.
    #[wasm_bindgen(js_name = checkResponse)]
    pub fn check_response(&mut self, status: u16, headers: JsValue) -> Result<(), JsValue> {
        let headers = headers_from_js(headers, "headers")?;
        match self.req.check_response(status, headers) {
            Ok(a) => {
                self.answer.accepted(a);
                Ok(())
            }
            Err(e) => Err(self.answer.refused(e)),
        }
    }

    /// The server's response (`{status, reason, headers}`) once checked.
    #[wasm_bindgen(getter)]
    pub fn response(&self) -> JsValue {
        self.answer.response_js()
    }

    /// The session the handshake agreed on (as [`ClientHandshake::into_session`]).
    #[wasm_bindgen(js_name = intoSession)]
    pub fn into_session(&self, seed: &[u8]) -> Result<Session, JsValue> {
        self.answer
            .session(seed, "the response was not accepted yet (checkResponse)")
    }
}

/// HTTP Basic after a handshake response (the core's `BasicRule::answer`,
/// the rules native follows too): the `Authorization` value to connect again
/// with, once; `undefined` when the response stands (no 401 with a Basic
/// challenge, or `alreadySent`: this attempt carried the credentials). Over
/// cleartext (`secure` false) without `allowCleartext` it throws an
/// `InsecureCredentials` `WebSocketError` naming `allowBasicOverCleartext`.
/// `url` (without user info) is for that message. Without `origins` the
/// credentials are bound to the origin of the URL given to `connect` (a
/// `ClientWebSocket`'s own); with them (an `Invoker`'s `credentialOrigins`),
/// to those (the core's `origin_allowed`): another origin's 401 stands, and
/// an empty list throws an `InvalidArgument` naming the origin to add.
#[wasm_bindgen(js_name = basicRetry)]
#[allow(clippy::too_many_arguments)] // one call from JS: flat arguments cost the module least
pub fn basic_retry(
    status: u16,
    headers: JsValue,
    already_sent: bool,
    user: &str,
    password: &str,
    secure: bool,
    allow_cleartext: bool,
    url: &str,
    origins: Option<Vec<String>>,
) -> Result<Option<String>, JsValue> {
    let headers = headers_from_js(headers, "headers")?;
    if already_sent || !auth::basic_challenged(status, &headers) {
        return Ok(None);
    }
    let origin_matches = match origins {
        None => true,
        Some(list) => auth::origin_allowed(url, &list, "the Invoker's credentials", "credentialOrigins")
            .map_err(|m| js_error("InvalidArgument", &m))?,
    };
    let rule = auth::BasicRule {
        user,
        password,
        origin_matches,
        secure,
        allow_cleartext,
    };
    match rule.authorization() {
        auth::BasicAnswer::Stands => Ok(None),
        auth::BasicAnswer::Retry(v) => Ok(Some(v)),
        auth::BasicAnswer::RefusedCleartext => Err(js_error(
            "InsecureCredentials",
            &auth::cleartext_refusal(url, "allowBasicOverCleartext"),
        )),
    }
}

/// The request of either protocol: subprotocols, deflate offer and headers
/// from the options, then `extra_headers` after them, each replacing the
/// options' headers of its name (a jar's `Cookie`, the retry's
/// `Authorization`, as native does).
fn client_request(
    o: &Options,
    host: String,
    path: String,
    extra_headers: JsValue,
) -> Result<hs::ClientRequest, JsValue> {
    let extra = headers_from_js(extra_headers, "extraHeaders")?;
    let mut headers = o.request_headers.0.clone();
    headers.retain(|(k, _)| !extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)));
    headers.extend(extra);
    Ok(hs::ClientRequest {
        host,
        path,
        subprotocols: o.sub_protocols.clone(),
        deflate: o.dangerous_deflate_options,
        extensions: Vec::new(),
        headers,
    })
}

/// The server's answer as either handshake keeps it: the response stays
/// readable after a refusal (the JS layer reports its status and headers),
/// and the session is made from the options and what was accepted.
struct Answer {
    options: Options,
    accepted: Option<HandshakeAccepted>,
    response: Option<HttpResponse>,
}

impl Answer {
    fn new(options: Options) -> Answer {
        Answer {
            options,
            accepted: None,
            response: None,
        }
    }

    fn accepted(&mut self, a: HandshakeAccepted) {
        self.response = Some(a.response.clone());
        self.accepted = Some(a);
    }

    /// The `WebSocketError` to throw for a refusal, with `response` when the
    /// server sent one.
    fn refused(&mut self, e: ClientHandshakeError) -> JsValue {
        let v = engine_error(&e.error);
        if let Some(r) = &e.response {
            set(&v, "response", response_to_js(r));
            self.response = e.response;
        }
        v
    }

    fn response_js(&self) -> JsValue {
        self.response.as_ref().map_or(JsValue::UNDEFINED, response_to_js)
    }

    /// The client session agreed on; `not_yet` is the error's text before then.
    fn session(&self, seed: &[u8], not_yet: &str) -> Result<Session, JsValue> {
        let a = self
            .accepted
            .as_ref()
            .ok_or_else(|| js_error("InvalidState", not_yet))?;
        Session::from_config(SessionConfig::for_client(&self.options, a), seed)
    }
}
