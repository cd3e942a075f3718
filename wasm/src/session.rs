//! [`Session`]: one connection after its handshake, the core's session driven
//! from JavaScript, and [`Received`], what one `receive` returns.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use sockweave_core::session::{self, MessageType, Role, SendFlags, SessionConfig, State, TransportAction};
use sockweave_core::CloseCode;

use crate::convert::{engine_error, js_error};
use crate::options::parse_options;

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
    pub(crate) fn from_config(config: SessionConfig, seed: &[u8]) -> Result<Session, JsValue> {
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

    /// The transport still holds an earlier write: a PONG waiting now is
    /// replaced by the answer to a newer PING (see the core's `output_blocked`).
    #[wasm_bindgen(js_name = outputBlocked)]
    pub fn output_blocked(&mut self) {
        self.inner.output_blocked();
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
}

fn seed_from(bytes: &[u8]) -> Result<[u8; 32], JsValue> {
    bytes.try_into().map_err(|_| {
        js_error(
            "InvalidArgument",
            "the seed must be 32 random bytes (crypto.getRandomValues(new Uint8Array(32)))",
        )
    })
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
