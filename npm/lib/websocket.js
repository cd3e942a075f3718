'use strict';
// ManagedWebSocket: the application's face of a connection (.NET's WebSocket
// semantics; .NET's implementation class behind ClientWebSocket has this
// name), over the driver (driver.js) that runs the wasm engine on a byte
// transport. The JavaScript twin of native/src/websocket.rs.

const { EventEmitter } = require('node:events');
const { wasm, engine, normalizeOptions, randomBytes } = require('./engine.js');
const { WebSocketError, adopt, closedPrematurely } = require('./errors.js');
const { transportFor } = require('./transport.js');
const { Driver } = require('./driver.js');
const { asBuffer, concatBytes } = require('./bytes.js');

/** The most bytes one `receive()` without a buffer returns. */
const DEFAULT_RECEIVE_CHUNK = 64 * 1024;
/** The most bytes one `receive(buffer)` takes (bounds the engine's scratch space; the rest comes next call). */
const MAX_RECEIVE_CHUNK = 1 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A whole received message. */
class Message {
  constructor(messageType, data) {
    /** `'text'` or `'binary'`. */
    this.messageType = messageType;
    /** The payload (a Buffer in Node, a Uint8Array in the browser). */
    this.data = data;
  }

  /** The payload decoded as UTF-8 (text messages are valid UTF-8). */
  get text() {
    return decoder.decode(this.data);
  }
}

function toPayload(data) {
  if (typeof data === 'string') return [encoder.encode(data), 'text'];
  if (data instanceof Uint8Array) return [data, 'binary'];
  if (ArrayBuffer.isView(data)) return [new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 'binary'];
  if (data instanceof ArrayBuffer) return [new Uint8Array(data), 'binary'];
  throw new WebSocketError('InvalidArgument', 'send() takes a string, a Uint8Array/Buffer, an ArrayBufferView or an ArrayBuffer');
}

const CONSTRUCT = Symbol('construct');

/** Settles when `changed` resolves; rejects with the signal's reason if it aborts first. */
function orAbort(changed, signal) {
  if (!signal) return changed;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    changed.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

function optionsOf(opts) {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object') throw new WebSocketError('InvalidArgument', 'the options must be an object');
  return opts;
}

/**
 * A WebSocket connection in either role over any byte stream. Made by
 * `ManagedWebSocket.fromStream`, `ClientWebSocket#connect`, `acceptUpgrade` or `accept`.
 * Events: `message` (a `Message`), `close` ({code, reason, wasClean}), `error` (a `WebSocketError`).
 *
 * `state` and `closeStatus` follow what `receive` (and `send`, `close`) have
 * returned, as in .NET: a Close read behind messages not yet received shows
 * once those messages and the Close were received. One `receive` at a time;
 * whole-message `send`s may overlap, but while a message is sent in pieces
 * (`endOfMessage: false`) each piece must wait for the previous `send` to
 * resolve. Operations take `{ signal }` (an `AbortSignal`): aborting a pending
 * operation aborts the WebSocket, as cancelling does in .NET.
 */
class ManagedWebSocket extends EventEmitter {
  constructor(token) {
    super();
    if (token !== CONSTRUCT) {
      throw new TypeError('use ManagedWebSocket.fromStream(), ClientWebSocket#connect(), acceptUpgrade() or accept()');
    }
    this._session = null;
    this._driver = null;
    this._waiters = [];
    this._sendsPending = 0;
    /** Pending sends that are pieces of a message. */
    this._piecesPending = 0;
    this._userAborted = false;
    this._messageLoop = false;
    /** Where the last message (or piece) sent ends in the output, counted in bytes from the start. */
    this._sentEnd = 0;
    this._closed = new Promise((resolve) => {
      this._resolveClosed = resolve;
    });
    this.on('newListener', (ev) => {
      if (ev === 'message' && !this._messageLoop) queueMicrotask(() => this._startMessageLoop());
    });
  }

  /**
   * .NET's `WebSocket.CreateFromStream`: a WebSocket over `stream` (a Node
   * `Duplex` or a WHATWG `{readable, writable}` pair) whose handshake was done
   * elsewhere. `options.isServer` picks the role,
   * `options.dangerousDeflateOptions` are the agreed permessage-deflate
   * parameters; keep-alive is off unless set.
   */
  static fromStream(stream, options) {
    const session = engine(() => new wasm.Session(options, randomBytes(32)));
    const ws = new ManagedWebSocket(CONSTRUCT);
    ws._attach(session, transportFor(stream), normalizeOptions(options), null);
    return ws;
  }

  /** Starts the driver. `leftover`: bytes read past the handshake. */
  _attach(session, transport, normalized, leftover) {
    this._session = session;
    this._maxPendingOutput = normalized.maxPendingOutput;
    this._driver = new Driver(session, transport, leftover, () => this._wake(), () => this._onFinished());
  }

  /** The transport was released: report the end, free what is no longer needed. */
  _onFinished() {
    const s = this._session;
    const failure = s.failure;
    const info = {
      code: s.peerCloseStatus === undefined ? 1006 : s.peerCloseStatus,
      reason: s.peerCloseReason || '',
      wasClean: s.closeHandshakeDone,
    };
    this._retireIfDone();
    queueMicrotask(() => {
      if (failure && !this._userAborted && this.listenerCount('error') > 0) this.emit('error', adopt(failure));
      this.emit('close', info);
      this._resolveClosed(info);
    });
  }

  /**
   * Frees the engine's buffers and compression state (about 0.3 MB with
   * compression) once the connection is over and nothing received waits to
   * be delivered, instead of at garbage collection. The final state, status
   * and errors stay.
   */
  _retireIfDone() {
    const s = this._session;
    if (this._driver.finished && s.isDrained && !this._retired) {
      this._retired = true;
      s.retire();
    }
  }

  _wake() {
    if (!this._waiters.length) return;
    const w = this._waiters;
    this._waiters = [];
    for (const fn of w) fn();
  }

  /** Resolves at the next change (data, output written, a timer, the end). */
  _changed(signal) {
    return orAbort(new Promise((resolve) => this._waiters.push(resolve)), signal);
  }

  _connected() {
    if (!this._session) throw new WebSocketError('InvalidState', 'the WebSocket is not connected; call connect() first');
    return this._session;
  }

  /** Runs `op` under `signal`: an abort, before or during it, aborts the WebSocket (.NET's cancellation). */
  async _cancellable(signal, op) {
    if (signal && signal.aborted) {
      this.abort();
      throw signal.reason;
    }
    try {
      return await op();
    } catch (e) {
      if (signal && signal.aborted && e === signal.reason) this.abort();
      throw e;
    }
  }

  // --------------------------------------------------------- operations

  /** .NET's `WebSocketState`: `None`, `Connecting`, `Open`, `CloseSent`, `CloseReceived`, `Closed`, `Aborted`. */
  get state() {
    return this._session ? this._session.state : 'None';
  }

  /** The status of the peer's Close, once received. */
  get closeStatus() {
    return this._session ? this._session.closeStatus : undefined;
  }

  /** The reason of the peer's Close, once received. */
  get closeStatusDescription() {
    return this._session ? this._session.closeStatusDescription : undefined;
  }

  /**
   * Resolves once the connection is over and the transport released, with
   * `{code, reason, wasClean}` (`code` 1006 when no Close was received). Never rejects.
   */
  get closed() {
    return this._closed;
  }

  /** The negotiated subprotocol. */
  get subProtocol() {
    return this._session ? this._session.subProtocol : undefined;
  }

  /**
   * Receives the next piece of a message (.NET's `ReceiveAsync`). With a
   * `buffer`, writes into it and returns `{count, messageType, endOfMessage, ...}`;
   * without, returns `{data, count, ...}` (at most 64 KiB). A `close` result
   * carries `closeStatus` and `closeStatusDescription`. One receive at a
   * time: another while one is pending throws `InvalidState`.
   * `opts.signal`: an `AbortSignal` (aborting it aborts the WebSocket).
   */
  async receive(buffer, opts) {
    const s = this._connected();
    const { signal } = optionsOf(opts);
    const max = buffer ? Math.min(buffer.length, MAX_RECEIVE_CHUNK) : DEFAULT_RECEIVE_CHUNK;
    return this._cancellable(signal, async () => {
      engine(() => s.beginReceive());
      try {
        for (;;) {
          const r = engine(() => s.receive(max));
          if (r) {
            const data = r.data;
            const result = {
              count: data.length,
              messageType: r.messageType,
              endOfMessage: r.endOfMessage,
              closeStatus: r.closeStatus,
              closeStatusDescription: r.closeStatusDescription,
            };
            r.free();
            if (buffer) buffer.set(data);
            else result.data = asBuffer(data);
            this._driver.inputMayFlow();
            return result;
          }
          if (this._driver.finished) throw closedPrematurely();
          await this._changed(signal);
        }
      } finally {
        s.endReceive();
        this._retireIfDone();
      }
    });
  }

  /**
   * Receives a whole message: a `Message` ({messageType, data, text}), or for
   * the peer's Close `{messageType: 'close', closeStatus, closeStatusDescription}`.
   */
  async receiveMessage(opts) {
    const parts = [];
    for (;;) {
      const r = await this.receive(undefined, opts);
      if (r.messageType === 'close') return r;
      if (r.count) parts.push(r.data);
      if (r.endOfMessage) {
        const data = parts.length === 1 ? parts[0] : concatBytes(parts);
        return new Message(r.messageType, data);
      }
    }
  }

  /**
   * Sends a message, or a piece of one with `endOfMessage: false` (.NET's
   * `SendAsync`). A string is sent as text, bytes as binary, unless
   * `messageType` says otherwise. Resolves once at most `maxPendingOutput`
   * bytes wait to be written. Whole messages may be sent while other sends
   * are pending (each goes out whole); a message in pieces may not: its next
   * piece is sent after the previous `send` resolved, and no other send may
   * overlap it (`InvalidState`), so no other data can join it.
   */
  async send(data, opts) {
    const s = this._connected();
    const [bytes, defaultType] = toPayload(data);
    const o = optionsOf(opts);
    const type = o.messageType || defaultType;
    const eom = o.endOfMessage === undefined ? true : !!o.endOfMessage;
    const inPieces = !eom || s.sendingInPieces;
    if (this._sendsPending > 0 && (inPieces || this._piecesPending > 0)) {
      throw new WebSocketError('InvalidState',
        'a message is being sent in pieces: send each piece after the previous send() resolved; '
        + 'only whole messages may be sent while other sends are pending');
    }
    this._sendsPending++;
    if (inPieces) this._piecesPending++;
    try {
      await this._cancellable(o.signal, async () => {
        await this._outputBelow(this._maxPendingOutput, o.signal);
        engine(() => s.send(bytes, type, eom, !!o.disableCompression));
        this._sentEnd = this._driver.taken + s.pendingOutputLength;
        this._driver.pump();
        await this._outputBelow(this._maxPendingOutput, o.signal);
      });
    } finally {
      this._sendsPending--;
      if (inPieces) this._piecesPending--;
    }
  }

  /** Sends a PING (payload at most 125 bytes). */
  async ping(payload) {
    const s = this._connected();
    const [bytes] = toPayload(payload === undefined ? new Uint8Array(0) : payload);
    engine(() => s.ping(bytes));
    this._driver.pump();
  }

  /**
   * Output bytes written out to the transport so far (frames, from the
   * start); a message sent is out once this reaches its `_sentEnd`.
   */
  _outputWritten() {
    return this._driver ? this._driver.written : 0;
  }

  async _outputBelow(limit, signal) {
    for (;;) {
      const s = this._session;
      const f = s.failed();
      if (f) throw adopt(f);
      if (s.pendingOutputLength <= limit && (limit > 0 || !this._driver.writing)) return;
      if (this._driver.finished) throw closedPrematurely();
      await this._changed(signal);
    }
  }

  /**
   * Sends our Close without waiting for the peer's (.NET's
   * `CloseOutputAsync`); after a received Close this completes the handshake.
   */
  async closeOutput(code, reason, opts) {
    const s = this._connected();
    const { signal } = optionsOf(opts);
    return this._cancellable(signal, async () => {
      engine(() => s.close(code === undefined || code === null ? undefined : code, reason || ''));
      this._driver.pump();
      await this._outputBelow(0, signal);
    });
  }

  /**
   * Sends our Close (default 1000) and waits for the peer's (.NET's
   * `CloseAsync`); the state is then `Closed`. Nothing is taken from the
   * receive queue: a pending (or later) `receive` still gets the messages
   * that arrived before the peer's Close, and then the Close.
   */
  async close(code = 1000, reason = '', opts) {
    const s = this._connected();
    const { signal } = optionsOf(opts);
    await this.closeOutput(code, reason, opts);
    return this._cancellable(signal, async () => {
      for (;;) {
        if (engine(() => s.pollClose())) return;
        if (this._driver.finished) throw closedPrematurely();
        await this._changed(signal);
      }
    });
  }

  /** Aborts at once: the transport is torn down, pending operations fail, and so does every later call (.NET's `Abort`). */
  abort() {
    if (!this._session) return;
    this._userAborted = true;
    this._session.abort();
    this._driver.pump();
    this._wake();
  }

  /** Whole messages until the peer's Close (which is answered with the same status). */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      let m;
      try {
        m = await this.receiveMessage();
      } catch (e) {
        if (this.state === 'Closed' || this.state === 'CloseReceived') return;
        throw e;
      }
      if (m.messageType === 'close') {
        await this._answerClose();
        return;
      }
      yield m;
    }
  }

  /**
   * After a receive returned the peer's Close: answers it with the peer's
   * status (the engine's answer) unless our Close went out already, and
   * waits until the answer is written. Never throws: the transport may be
   * gone, and the close event reports the outcome.
   */
  async _answerClose() {
    if (this.state !== 'CloseReceived') return;
    try {
      engine(() => this._session.answerClose());
      this._driver.pump();
      await this._outputBelow(0);
    } catch (_) {
      // Reported by the close event.
    }
  }

  async _startMessageLoop() {
    if (this._messageLoop || this.listenerCount('message') === 0) return;
    this._messageLoop = true;
    try {
      for await (const m of this) this.emit('message', m);
    } catch (_) {
      // Reported by the `error` event when the connection finishes.
    }
  }
}

module.exports = { ManagedWebSocket, Message, CONSTRUCT };
