//! sockweave-wasm: the engine of `sockweave-core` for JavaScript hosts (Node and
//! browsers), through wasm-bindgen.
//!
//! The crate is sans-IO like the core: JavaScript owns the transport and the
//! timers, and moves bytes in and out of a [`Session`] exactly as the native
//! backend's driver does (`native/src/websocket.rs`):
//!
//! - bytes read from the transport go to [`Session::feed`]; a return value
//!   smaller than the input means the receive buffer is full: stop reading
//!   until the application receives, then feed the rest;
//! - [`Session::take_output`] gives the frame bytes to write;
//! - [`Session::poll_timeout`] / [`Session::handle_timeout`] drive keep-alive,
//!   with `now` in milliseconds since the session was made.
//!
//! The handshakes are [`ClientHandshake`] (build the request, check the
//! response) and [`parse_request`] / [`ServerHandshake`] (check a request,
//! build the `101` or the refusal); over HTTP/2 (RFC 8441),
//! [`H2ClientHandshake`] and [`parse_h2_request`] /
//! [`ServerHandshake::accept_h2`] do the same with header lists, the JS host
//! owning the HTTP/2 connection (`node:http2`).
//!
//! Options are the core's [`Options`] in their JSON form (camelCase keys):
//! unknown keys and wrong types are errors that name the key, then
//! [`Options::validate`] checks ranges. Errors are JS `Error`s named
//! `WebSocketError` with a stable `code` (the core's `ErrorKind` names, see
//! `Error::code`) and, where there is one, `closeCode`, `key`, `status`.

#![deny(missing_docs)]

mod options;

use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use sockweave_core::handshake::{
    self as hs, H2ConnectRequest, HandshakeAccepted, HandshakeLimits, HttpResponse, RequestError,
    ServerRequest,
};
use sockweave_core::options::{HttpVersion, HttpVersionPolicy, Millis, Plan};
use sockweave_core::session::{self, MessageType, Role, SendFlags, SessionConfig, State, TransportAction};
use sockweave_core::{CloseCode, Error, ErrorKind, Options};

pub use options::parse_options;

/// Sets `obj[key] = value` (an own data property; cannot fail on our objects).
fn set(obj: &JsValue, key: &str, value: JsValue) {
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
fn engine_error(e: &Error) -> JsValue {
    let v = js_error(e.code(), e.message());
    if let Some(c) = e.close_code() {
        set(&v, "closeCode", JsValue::from(c.0));
    }
    v
}

fn seed_from(bytes: &[u8]) -> Result<[u8; 32], JsValue> {
    bytes.try_into().map_err(|_| {
        js_error(
            "InvalidArgument",
            "the seed must be 32 random bytes (crypto.getRandomValues(new Uint8Array(32)))",
        )
    })
}

/// Headers as a JS array of `[name, value]` pairs.
fn headers_to_js(headers: &[(String, String)]) -> Array {
    headers
        .iter()
        .map(|(k, v)| -> JsValue { Array::of2(&JsValue::from_str(k), &JsValue::from_str(v)).into() })
        .collect()
}

/// Extra headers from JS: `undefined`/`null`, an object `{name: value}` or an
/// array of `[name, value]` pairs.
fn headers_from_js(v: JsValue, what: &str) -> Result<Vec<(String, String)>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    serde_wasm_bindgen::from_value::<sockweave_core::options::HeaderList>(v)
        .map(|h| h.0)
        .map_err(|e| js_error("InvalidArgument", &format!("{what}: {}", options::message(e))))
}

fn response_to_js(r: &HttpResponse) -> JsValue {
    let o: JsValue = Object::new().into();
    set(&o, "status", JsValue::from(r.status));
    set(&o, "reason", JsValue::from_str(&r.reason));
    set(&o, "headers", headers_to_js(&r.headers).into());
    o
}

fn state_name(s: State) -> &'static str {
    match s {
        State::None => "None",
        State::Connecting => "Connecting",
        State::Open => "Open",
        State::CloseSent => "CloseSent",
        State::CloseReceived => "CloseReceived",
        State::Closed => "Closed",
        State::Aborted => "Aborted",
    }
}

fn message_type_name(t: MessageType) -> &'static str {
    match t {
        MessageType::Text => "text",
        MessageType::Binary => "binary",
        MessageType::Close => "close",
    }
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

/// One piece of a received message, or the peer's Close (.NET's
/// `WebSocketReceiveResult`, with the bytes).
#[wasm_bindgen]
pub struct Received {
    data: Option<Uint8Array>,
    message_type: MessageType,
    end_of_message: bool,
    close_status: Option<u16>,
    close_status_description: Option<String>,
}

#[wasm_bindgen]
impl Received {
    /// The bytes of this piece (empty for a Close).
    #[wasm_bindgen(getter)]
    pub fn data(&self) -> Uint8Array {
        self.data
            .clone()
            .unwrap_or_else(|| Uint8Array::new_with_length(0))
    }

    /// `"text"`, `"binary"` or `"close"`.
    #[wasm_bindgen(getter, js_name = messageType)]
    pub fn message_type(&self) -> String {
        message_type_name(self.message_type).into()
    }

    /// This piece ends the message.
    #[wasm_bindgen(getter, js_name = endOfMessage)]
    pub fn end_of_message(&self) -> bool {
        self.end_of_message
    }

    /// For a Close: the peer's status (1005 if it sent none).
    #[wasm_bindgen(getter, js_name = closeStatus)]
    pub fn close_status(&self) -> Option<u16> {
        self.close_status
    }

    /// For a Close: the peer's reason.
    #[wasm_bindgen(getter, js_name = closeStatusDescription)]
    pub fn close_status_description(&self) -> Option<String> {
        self.close_status_description.clone()
    }
}

/// One WebSocket connection after its handshake: the core's session, driven
/// from JavaScript (see the crate docs for the I/O contract).
#[wasm_bindgen]
pub struct Session {
    inner: session::Session,
    scratch: Vec<u8>,
}

impl Session {
    fn from_config(config: SessionConfig, seed: &[u8]) -> Result<Session, JsValue> {
        Ok(Session {
            inner: session::Session::new(config, seed_from(seed)?),
            scratch: Vec::new(),
        })
    }
}

#[wasm_bindgen]
impl Session {
    /// A session over a stream whose handshake was done elsewhere (.NET's
    /// `CreateFromStream`): `options.isServer` picks the role,
    /// `options.subProtocol` is reported as negotiated,
    /// `options.dangerousDeflateOptions` are the agreed permessage-deflate
    /// parameters, keep-alive is off unless set. `seed`: 32 random bytes
    /// (the client's masking keys).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, seed: &[u8]) -> Result<Session, JsValue> {
        let o = parse_options(&options)?;
        let role = if o.is_server { Role::Server } else { Role::Client };
        Session::from_config(SessionConfig::for_stream(role, &o), seed)
    }

    /// Feeds bytes read from the transport. Returns how many were taken:
    /// fewer than `data.length` means the receive buffer is full (stop reading,
    /// feed the rest after the application received). Input after a Close or
    /// a failure is taken and ignored.
    pub fn feed(&mut self, data: &[u8]) -> usize {
        self.inner.feed(data)
    }

    /// Bytes the receive buffer can take now (0: stop reading from the transport).
    #[wasm_bindgen(js_name = readCapacity)]
    pub fn read_capacity(&mut self) -> usize {
        self.inner.read_buf().len()
    }

    /// The transport reached end of file.
    #[wasm_bindgen(js_name = feedEof)]
    pub fn feed_eof(&mut self) {
        self.inner.feed_eof();
    }

    /// Takes up to `max` bytes of the current message (.NET's `ReceiveAsync`).
    /// `undefined`: nothing yet. Throws the connection's error once the data
    /// that came before it was delivered.
    pub fn receive(&mut self, max: usize) -> Result<Option<Received>, JsValue> {
        if self.scratch.len() < max {
            self.scratch.resize(max, 0);
        }
        let buf = &mut self.scratch[..max];
        match self.inner.receive(buf) {
            Ok(None) => Ok(None),
            Ok(Some(r)) => Ok(Some(Received {
                data: (r.count > 0).then(|| Uint8Array::from(&buf[..r.count])),
                message_type: r.message_type,
                end_of_message: r.end_of_message,
                close_status: r.close_status.map(|c| c.0),
                close_status_description: r.close_status_description,
            })),
            Err(e) => Err(engine_error(&e)),
        }
    }

    /// True when `receive` has something to return without more input.
    #[wasm_bindgen(js_name = hasReceived)]
    pub fn has_received(&self) -> bool {
        self.inner.has_received()
    }

    /// Queues a message or a piece of one (.NET's `SendAsync`).
    /// `messageType`: `"text"` or `"binary"`.
    pub fn send(
        &mut self,
        data: &[u8],
        message_type: &str,
        end_of_message: bool,
        disable_compression: bool,
    ) -> Result<(), JsValue> {
        let t = match message_type {
            "text" => MessageType::Text,
            "binary" => MessageType::Binary,
            "close" => MessageType::Close,
            other => {
                return Err(js_error(
                    "InvalidMessageType",
                    &format!("message type {other:?} is not \"text\" or \"binary\""),
                ))
            }
        };
        let flags = SendFlags {
            end_of_message,
            disable_compression,
        };
        self.inner.send(data, t, flags).map_err(|e| engine_error(&e))
    }

    /// Queues a PING (payload at most 125 bytes).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), JsValue> {
        self.inner.ping(payload).map_err(|e| engine_error(&e))
    }

    /// Queues an unsolicited PONG.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), JsValue> {
        self.inner.pong(payload).map_err(|e| engine_error(&e))
    }

    /// Queues our Close (.NET's `CloseOutputAsync`); `code` `undefined` sends
    /// none (then the reason must be empty). A second call does nothing.
    pub fn close(&mut self, code: Option<u16>, reason: &str) -> Result<(), JsValue> {
        self.inner
            .close(code.map(CloseCode), reason)
            .map_err(|e| engine_error(&e))
    }

    /// Takes every byte queued for the transport (`undefined` if none).
    #[wasm_bindgen(js_name = takeOutput)]
    pub fn take_output(&mut self) -> Option<Uint8Array> {
        let out = self.inner.pending_output();
        if out.is_empty() {
            return None;
        }
        let a = Uint8Array::from(out);
        let n = out.len();
        self.inner.consume_output(n);
        Some(a)
    }

    /// Bytes queued for the transport and not yet taken.
    #[wasm_bindgen(getter, js_name = pendingOutputLength)]
    pub fn pending_output_length(&self) -> usize {
        self.inner.pending_output().len()
    }

    /// Tells the session the time (ms since it was made, never going back).
    #[wasm_bindgen(js_name = setNow)]
    pub fn set_now(&mut self, now: f64) {
        self.inner.set_now(now as u64);
    }

    /// When `handleTimeout` should next run (same clock), or `undefined`.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.inner.poll_timeout().map(|t| t as f64)
    }

    /// Runs keep-alive at `now`: may queue a PING or PONG, or abort the
    /// connection when a PONG did not come in time.
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64) {
        self.inner.handle_timeout(now as u64);
    }

    /// Aborts (.NET's `Abort`): nothing more is sent, received or
    /// delivered, and every later call fails.
    pub fn abort(&mut self) {
        self.inner.abort();
    }

    /// The transport failed: `reset` when the peer reset or closed it,
    /// `detail` what the host saw. The session decides what it means.
    #[wasm_bindgen(js_name = transportFailed)]
    pub fn transport_failed(&mut self, reset: bool, detail: &str) {
        self.inner.transport_failed(reset, detail);
    }

    /// What to do with the transport now: `"continue"`, `"shutdownWrite"`
    /// (end the write side once), `"close"` (end it, then release the
    /// transport) or `"drop"` (release it at once).
    #[wasm_bindgen(getter, js_name = transportAction)]
    pub fn transport_action(&self) -> String {
        match self.inner.transport_action() {
            TransportAction::Continue => "continue",
            TransportAction::ShutdownWrite => "shutdownWrite",
            TransportAction::Close => "close",
            TransportAction::Drop => "drop",
        }
        .into()
    }

    /// The error that failed the connection, if it failed (a
    /// `WebSocketError`), whether or not it was reported yet.
    #[wasm_bindgen(getter)]
    pub fn failure(&self) -> JsValue {
        self.inner.failure().map_or(JsValue::UNDEFINED, engine_error)
    }

    /// Reports the connection's failure to the application: returns it (the
    /// state becomes `Aborted`), or `undefined` if it has not failed.
    pub fn failed(&mut self) -> JsValue {
        self.inner
            .failed()
            .map_or(JsValue::UNDEFINED, |e| engine_error(&e))
    }

    /// Starts a receive; throws `InvalidState` while another is pending.
    #[wasm_bindgen(js_name = beginReceive)]
    pub fn begin_receive(&mut self) -> Result<(), JsValue> {
        self.inner.begin_receive().map_err(|e| engine_error(&e))
    }

    /// The receive begun with `beginReceive` completed or was given up.
    #[wasm_bindgen(js_name = endReceive)]
    pub fn end_receive(&mut self) {
        self.inner.end_receive();
    }

    /// Where `close()` waits after sending our Close: `true` once the peer's
    /// Close was read (the state becomes `Closed`), `undefined` while
    /// waiting; throws if the connection failed.
    #[wasm_bindgen(js_name = pollClose)]
    pub fn poll_close(&mut self) -> Result<Option<bool>, JsValue> {
        match self.inner.poll_close() {
            None => Ok(None),
            Some(Ok(())) => Ok(Some(true)),
            Some(Err(e)) => Err(engine_error(&e)),
        }
    }

    /// Answers the peer's Close with its own status (1000 if it had none).
    #[wasm_bindgen(js_name = answerClose)]
    pub fn answer_close(&mut self) -> Result<(), JsValue> {
        self.inner.answer_close().map_err(|e| engine_error(&e))
    }

    /// True while a message sent in pieces has not had its last piece.
    #[wasm_bindgen(getter, js_name = sendingInPieces)]
    pub fn sending_in_pieces(&self) -> bool {
        self.inner.sending_in_pieces()
    }

    /// Both Close frames were exchanged (a clean close), whether or not the
    /// application has received the peer's Close yet.
    #[wasm_bindgen(getter, js_name = closeHandshakeDone)]
    pub fn close_handshake_done(&self) -> bool {
        self.inner.close_handshake_done()
    }

    /// The status of the peer's Close as read from the wire (1005 if none),
    /// whether or not the application has received it yet.
    #[wasm_bindgen(getter, js_name = peerCloseStatus)]
    pub fn peer_close_status(&self) -> Option<u16> {
        self.inner.peer_close().map(|(c, _)| c.0)
    }

    /// The reason of the peer's Close as read from the wire.
    #[wasm_bindgen(getter, js_name = peerCloseReason)]
    pub fn peer_close_reason(&self) -> Option<String> {
        self.inner.peer_close().map(|(_, r)| r.to_owned())
    }

    /// True when nothing received waits to be delivered.
    #[wasm_bindgen(getter, js_name = isDrained)]
    pub fn is_drained(&self) -> bool {
        self.inner.is_drained()
    }

    /// Frees the buffers and compression state once the connection is over
    /// and its last result was delivered; the final state stays readable.
    pub fn retire(&mut self) {
        self.inner.retire();
        self.scratch = Vec::new();
    }

    /// .NET's `WebSocketState` name: `Open`, `CloseSent`, `CloseReceived`,
    /// `Closed` or `Aborted`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        state_name(self.inner.state()).into()
    }

    /// `true` for the server role.
    #[wasm_bindgen(getter, js_name = isServer)]
    pub fn is_server(&self) -> bool {
        self.inner.role() == Role::Server
    }

    /// The negotiated subprotocol.
    #[wasm_bindgen(getter, js_name = subProtocol)]
    pub fn sub_protocol(&self) -> Option<String> {
        self.inner.sub_protocol().map(String::from)
    }

    /// The status of the peer's Close, once received.
    #[wasm_bindgen(getter, js_name = closeStatus)]
    pub fn close_status(&self) -> Option<u16> {
        self.inner.close_status().map(|c| c.0)
    }

    /// The reason of the peer's Close, once received.
    #[wasm_bindgen(getter, js_name = closeStatusDescription)]
    pub fn close_status_description(&self) -> Option<String> {
        self.inner.close_status_description().map(String::from)
    }

    /// True while input is still processed (not after a Close, a failure or EOF).
    #[wasm_bindgen(getter, js_name = isReceiving)]
    pub fn is_receiving(&self) -> bool {
        self.inner.is_receiving()
    }
}

/// The client's HTTP/1.1 opening handshake: builds the request, checks the
/// server's response, and makes the [`Session`] the server agreed to.
#[wasm_bindgen]
pub struct ClientHandshake {
    hs: hs::ClientHandshake,
    request: Vec<u8>,
    options: Options,
    accepted: Option<HandshakeAccepted>,
    response: Option<HttpResponse>,
}

#[wasm_bindgen]
impl ClientHandshake {
    /// `host`: the `Host` header (with `:port` when not the default), `path`:
    /// path and query. Subprotocols, deflate offer and extra headers come from
    /// `options`; `extraHeaders` (object or `[name, value]` pairs) are added
    /// after them (e.g. cookies). `nonce`: 16 random bytes.
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
        let mut headers = o.request_headers.0.clone();
        headers.extend(headers_from_js(extra_headers, "extraHeaders")?);
        let req = hs::ClientRequest {
            host,
            path,
            subprotocols: o.sub_protocols.clone(),
            deflate: o.dangerous_deflate_options,
            extensions: Vec::new(),
            headers,
        };
        let (h, request) =
            hs::ClientHandshake::new(&req, nonce, o.handshake_limits()).map_err(|e| engine_error(&e))?;
        Ok(ClientHandshake {
            hs: h,
            request,
            options: o,
            accepted: None,
            response: None,
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
                self.response = Some(a.response.clone());
                self.accepted = Some(a);
                Ok(Some(n))
            }
            Err(e) => {
                let v = engine_error(&e.error);
                if let Some(r) = &e.response {
                    set(&v, "response", response_to_js(r));
                    self.response = e.response;
                }
                Err(v)
            }
        }
    }

    /// The server's response (`{status, reason, headers}`) once parsed, also after a refusal.
    #[wasm_bindgen(getter)]
    pub fn response(&self) -> JsValue {
        self.response.as_ref().map_or(JsValue::UNDEFINED, response_to_js)
    }

    /// The subprotocol the server selected.
    #[wasm_bindgen(getter, js_name = subProtocol)]
    pub fn sub_protocol(&self) -> Option<String> {
        self.accepted.as_ref().and_then(|a| a.protocol.clone())
    }

    /// The accepted extensions, in `Sec-WebSocket-Extensions` form (`""` if none).
    #[wasm_bindgen(getter)]
    pub fn extensions(&self) -> String {
        self.accepted
            .as_ref()
            .map(|a| hs::format_extensions(&a.extensions))
            .unwrap_or_default()
    }

    /// The session the handshake agreed on (client role; keep-alive defaults
    /// to an unsolicited PONG every 30 s, as for .NET's `ClientWebSocket`).
    #[wasm_bindgen(js_name = intoSession)]
    pub fn into_session(&self, seed: &[u8]) -> Result<Session, JsValue> {
        let a = self.accepted.as_ref().ok_or_else(|| {
            js_error(
                "InvalidState",
                "the handshake response was not accepted yet (parseResponse)",
            )
        })?;
        client_session(&self.options, a, seed)
    }
}

/// The client's HTTP/2 extended CONNECT (RFC 8441): the request's headers,
/// the check of the server's response, and the [`Session`] agreed on.
#[wasm_bindgen]
pub struct H2ClientHandshake {
    req: H2ConnectRequest,
    options: Options,
    accepted: Option<HandshakeAccepted>,
    response: Option<HttpResponse>,
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
        let mut headers = o.request_headers.0.clone();
        headers.extend(headers_from_js(extra_headers, "extraHeaders")?);
        let req = hs::ClientRequest {
            host: authority,
            path,
            subprotocols: o.sub_protocols.clone(),
            deflate: o.dangerous_deflate_options,
            extensions: Vec::new(),
            headers,
        };
        let req = H2ConnectRequest::new(scheme, &req).map_err(|e| engine_error(&e))?;
        Ok(H2ClientHandshake {
            req,
            options: o,
            accepted: None,
            response: None,
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
                self.response = Some(a.response.clone());
                self.accepted = Some(a);
                Ok(())
            }
            Err(e) => {
                let v = engine_error(&e.error);
                if let Some(r) = &e.response {
                    set(&v, "response", response_to_js(r));
                    self.response = e.response;
                }
                Err(v)
            }
        }
    }

    /// The server's response (`{status, reason, headers}`) once checked.
    #[wasm_bindgen(getter)]
    pub fn response(&self) -> JsValue {
        self.response.as_ref().map_or(JsValue::UNDEFINED, response_to_js)
    }

    /// The session the handshake agreed on (as [`ClientHandshake::into_session`]).
    #[wasm_bindgen(js_name = intoSession)]
    pub fn into_session(&self, seed: &[u8]) -> Result<Session, JsValue> {
        let a = self.accepted.as_ref().ok_or_else(|| {
            js_error(
                "InvalidState",
                "the response was not accepted yet (checkResponse)",
            )
        })?;
        client_session(&self.options, a, seed)
    }
}

fn client_session(options: &Options, a: &HandshakeAccepted, seed: &[u8]) -> Result<Session, JsValue> {
    Session::from_config(SessionConfig::for_client(options, a), seed)
}

/// A valid upgrade request, and the server's answer to it.
#[wasm_bindgen]
pub struct ServerHandshake {
    req: ServerRequest,
    options: Options,
    consumed: usize,
    config: Option<SessionConfig>,
}

type Deflate = Option<(sockweave_core::deflate::DeflateParams, hs::Extension)>;

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

/// Parses an HTTP/1.1 upgrade request from the bytes read so far, under
/// `options` (limits, and later the subprotocols and deflate to accept).
/// `undefined`: incomplete, call again with more bytes. Throws a
/// `WebSocketError` with `status` (400, 405, 426, 431, 505) and `response`
/// (the bytes of the HTTP error response to write) for an invalid request.
#[wasm_bindgen(js_name = parseRequest)]
pub fn parse_request(buf: &[u8], options: JsValue) -> Result<Option<ServerHandshake>, JsValue> {
    let o = parse_options(&options)?;
    parse_with(buf, o)
}

fn parse_with(buf: &[u8], o: Options) -> Result<Option<ServerHandshake>, JsValue> {
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

/// Bytes of linear memory the wasm module holds now (it grows, never shrinks):
/// for tests and diagnostics.
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) * 65536) as f64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}
