'use strict';
// WebSocket: the wasm engine on a byte transport. The driver here is the JS
// twin of native/src/websocket.rs: it reads whenever the receive buffer has
// room, whether or not the application is receiving (so PINGs are answered
// and PONGs are seen), stops reading only when the buffer is full, writes
// what the engine queues, and runs the keep-alive, close and linger timers.

const { EventEmitter } = require('node:events');
const { performance } = require('node:perf_hooks');
const nodeCrypto = require('node:crypto');
const wasm = require('../dist/sockweave_wasm.js');
const { WebSocketError, adopt, closedPrematurely, PREMATURE } = require('./errors.js');
const { transportFor } = require('./transport.js');
const { asBuffer, concatBytes } = require('./bytes.js');

/** How long a client waits after the close handshake for the server to close TCP first. */
const CLIENT_LINGER_MS = 2000;
/** The most bytes one `receive()` without a buffer returns. */
const DEFAULT_RECEIVE_CHUNK = 64 * 1024;
/** The most bytes one `receive(buffer)` takes (bounds the engine's scratch space; the rest comes next call). */
const MAX_RECEIVE_CHUNK = 1 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function randomBytes(n) {
  const a = new Uint8Array(n);
  if (globalThis.crypto && typeof globalThis.crypto.getRandomValues === 'function') {
    globalThis.crypto.getRandomValues(a);
  } else {
    nodeCrypto.randomFillSync(a);
  }
  return a;
}

/** Calls into the engine, turning its thrown errors into `WebSocketError`s. */
function engine(fn) {
  try {
    return fn();
  } catch (e) {
    throw adopt(e);
  }
}

/** Checks an options object (throws naming a bad key) and returns it complete. */
function normalizeOptions(options) {
  return engine(() => wasm.normalizeOptions(options));
}

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

/**
 * What is left of a session once its connection is over and its last result
 * was delivered: its final state and the errors operations get. The wasm
 * session is freed then, so a finished connection does not keep its buffers
 * and deflate state (about 0.3 MB with compression) until garbage collection.
 */
class DeadSession {
  constructor(s, receiveError) {
    const attempt = (fn) => {
      try {
        fn();
        return null;
      } catch (e) {
        return adopt(e);
      }
    };
    this.state = s.state;
    this.closeStatus = s.closeStatus;
    this.closeStatusDescription = s.closeStatusDescription;
    this.subProtocol = s.subProtocol;
    this.isServer = s.isServer;
    this.failure = s.failure;
    this._receiveError = receiveError;
    this._sendError = attempt(() => s.send(new Uint8Array(0), 'binary', true, false));
    this._closeError = attempt(() => s.close(undefined, ''));
    this._pingError = attempt(() => s.ping(new Uint8Array(0)));
    this.pendingOutputLength = 0;
    this.isReceiving = false;
    this.isFinished = true;
  }

  receive() { throw this._receiveError; }
  send() { throw this._sendError; }
  ping() { throw this._pingError; }
  pong() { throw this._pingError; }
  close() { if (this._closeError) throw this._closeError; }
  hasReceived() { return true; }
  takeOutput() { return undefined; }
  feed(data) { return data.length; }
  readCapacity() { return 0; }
  feedEof() {}
  setNow() {}
  pollTimeout() { return undefined; }
  handleTimeout() {}
  abort() {}
  abortWith() {}
  free() {}
}

const CONSTRUCT = Symbol('construct');

/**
 * A WebSocket connection in either role over any byte stream. Made by
 * `WebSocket.fromStream`, `ClientWebSocket#connect`, `acceptUpgrade` or `accept`.
 * Events: `message` (a `Message`), `close` ({code, reason}), `error` (a `WebSocketError`).
 */
class WebSocket extends EventEmitter {
  constructor(token) {
    super();
    if (token !== CONSTRUCT) {
      throw new TypeError('use WebSocket.fromStream(), ClientWebSocket#connect(), acceptUpgrade() or accept()');
    }
    this._s = null;
    this._t = null;
    this._waiters = [];
    this._messageLoop = false;
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
   * elsewhere. `options.isServer` picks the role; keep-alive is off unless set.
   */
  static fromStream(stream, options) {
    const session = engine(() => new wasm.Session(options, randomBytes(32)));
    const ws = new WebSocket(CONSTRUCT);
    ws._attach(session, transportFor(stream), normalizeOptions(options), null);
    return ws;
  }

  /** Starts the driver. `leftover`: bytes read past the handshake. */
  _attach(session, transport, normalized, leftover) {
    this._s = session;
    this._t = transport;
    this._maxPendingOutput = normalized.maxPendingOutput;
    this._closeTimeout = normalized.closeTimeout; // ms, -1 = infinite
    this._epoch = performance.now();
    this._early = [];
    this._eof = false;
    this._writing = false;
    this._finished = false;
    this._userAborted = false;
    this._closeSentAt = null;
    this._timer = null;
    this._timerAt = Infinity;
    this._inPump = false;
    this._pumpAgain = false;
    transport.onData = (c) => this._onData(c);
    transport.onEnd = () => this._onEnd();
    transport.onError = (e) => this._onError(e);
    if (leftover && leftover.length) this._onData(leftover);
    // Read on, unless what came with the handshake already filled the receive buffer.
    if (!this._early.length) transport.resume();
    this._pump();
  }

  _now() {
    return Math.floor(performance.now() - this._epoch);
  }

  // ------------------------------------------------------------- driver

  _onData(chunk) {
    if (this._finished) return;
    const s = this._s;
    s.setNow(this._now());
    if (this._early.length) {
      // Arrived while pausing (a read already in flight): keep it in order.
      this._early.push(chunk);
      this._t.pause();
    } else {
      const n = s.feed(chunk);
      if (n < chunk.length) {
        // The receive buffer is full: stop reading until the application receives.
        this._early.push(chunk.subarray(n));
        this._t.pause();
      }
    }
    this._wake();
    this._pump();
  }

  _onEnd() {
    if (this._finished || this._eof) return;
    this._eof = true;
    if (!this._early.length) this._s.feedEof();
    this._wake();
    this._pump();
  }

  _onError(e) {
    if (this._finished) return;
    const code = e && (e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED'
      || e.code === 'ERR_STREAM_WRITE_AFTER_END')
      ? 'ConnectionClosedPrematurely' : 'Faulted';
    this._s.abortWith(code, `transport error: ${e && e.message ? e.message : e}`);
    this._eof = true;
    this._early = [];
    this._wake();
    this._pump();
  }

  /** After the application took data: feed what waited, read again. */
  _drained() {
    if (!this._early.length || this._finished) return;
    const s = this._s;
    while (this._early.length) {
      const c = this._early[0];
      const n = s.feed(c);
      if (n < c.length) {
        this._early[0] = c.subarray(n);
        break;
      }
      this._early.shift();
    }
    if (!this._early.length) {
      if (this._eof) s.feedEof();
      else this._t.resume();
    }
    this._pump();
  }

  _flush() {
    const s = this._s;
    let wrote = false;
    while (!this._writing) {
      const out = s.takeOutput();
      if (!out) break;
      wrote = true;
      let p;
      try {
        p = this._t.write(out);
      } catch (e) {
        this._onError(e);
        return;
      }
      if (p) {
        this._writing = true;
        p.then(
          () => {
            this._writing = false;
            this._wake();
            this._pump();
          },
          (e) => {
            this._writing = false;
            this._onError(e);
          },
        );
      }
    }
    if (wrote) this._wake();
  }

  /** The driver's step: write, finish when done, arm timers. Re-entrant calls are folded. */
  _pump() {
    if (this._finished) return;
    if (this._inPump) {
      this._pumpAgain = true;
      return;
    }
    this._inPump = true;
    try {
      do {
        this._pumpAgain = false;
        this._step();
      } while (this._pumpAgain && !this._finished);
    } finally {
      this._inPump = false;
    }
  }

  _step() {
    const s = this._s;
    for (;;) {
      if (this._finished) return;
      this._flush();
      const state = s.state;
      const flushed = s.pendingOutputLength === 0 && !this._writing;
      if (flushed) {
        let done;
        if (state === 'Aborted') done = true;
        else if (state === 'Closed') done = s.isServer || this._eof;
        else done = this._eof && !this._early.length;
        if (done) {
          this._finish();
          return;
        }
      }
      // Timers: keep-alive, the close timeout, the client's linger.
      const now = this._now();
      let deadline = s.pollTimeout();
      if (deadline !== undefined && deadline <= now) {
        s.handleTimeout(now);
        if (s.pendingOutputLength > 0 || s.state === 'Aborted') {
          this._wake();
          continue;
        }
        deadline = s.pollTimeout();
      }
      if (deadline === undefined) deadline = Infinity;
      if (state === 'CloseSent' || state === 'Closed') {
        if (this._closeSentAt === null) this._closeSentAt = now;
        const closed = state === 'Closed';
        let closeDeadline;
        if (closed) closeDeadline = this._closeSentAt + CLIENT_LINGER_MS;
        else closeDeadline = this._closeTimeout < 0 ? Infinity : this._closeSentAt + this._closeTimeout;
        if (closeDeadline <= now) {
          if (closed) {
            this._finish();
            return;
          }
          s.abortWith('Faulted',
            `the peer did not answer our Close within ${this._closeTimeout / 1000} s; the connection was aborted`);
          this._wake();
          continue;
        }
        deadline = Math.min(deadline, closeDeadline);
      }
      this._arm(deadline);
      return;
    }
  }

  _arm(deadline) {
    if (deadline === this._timerAt) return;
    if (this._timer) clearTimeout(this._timer);
    this._timer = null;
    this._timerAt = deadline;
    if (deadline === Infinity) return;
    const delay = Math.max(0, deadline - this._now());
    this._timer = setTimeout(() => {
      this._timer = null;
      this._timerAt = Infinity;
      this._pump();
    }, delay + 1);
  }

  _finish() {
    if (this._finished) return;
    this._finished = true;
    if (this._timer) clearTimeout(this._timer);
    this._timer = null;
    const s = this._s;
    s.feedEof();
    const state = s.state;
    if (state === 'Open' || state === 'CloseSent' || state === 'CloseReceived') {
      // Later sends fail; data already received is still delivered first.
      s.abortWith('ConnectionClosedPrematurely', PREMATURE);
    }
    this._t.detach();
    // Our FIN after what was written (a failure's Close frame included); abort() already tore down.
    if (!this._userAborted) this._t.end();
    this._wake();
    const failure = s.failure;
    const info = {
      code: s.closeStatus === undefined ? 1006 : s.closeStatus,
      reason: s.closeStatusDescription || '',
      wasClean: s.state === 'Closed',
    };
    if (this._terminal) this._release(this._terminal);
    else if (this._userAborted) this._release(adopt(failure));
    queueMicrotask(() => {
      if (failure && !this._userAborted && this.listenerCount('error') > 0) this.emit('error', adopt(failure));
      this.emit('close', info);
      this._resolveClosed(info);
    });
  }

  /**
   * Frees the wasm session once the connection is finished and the
   * application got its last result (the Close, an error, or it aborted).
   * `receiveError`: what later receives throw.
   */
  _release(receiveError) {
    const s = this._s;
    if (!this._finished || !s || s instanceof DeadSession) return;
    this._s = new DeadSession(s, receiveError);
    s.free();
  }

  _wake() {
    if (!this._waiters.length) return;
    const w = this._waiters;
    this._waiters = [];
    for (const fn of w) fn();
  }

  _changed() {
    return new Promise((resolve) => this._waiters.push(resolve));
  }

  _session() {
    if (!this._s) throw new WebSocketError('InvalidState', 'the WebSocket is not connected; call connect() first');
    return this._s;
  }

  // --------------------------------------------------------- operations

  /** .NET's `WebSocketState`: `None`, `Connecting`, `Open`, `CloseSent`, `CloseReceived`, `Closed`, `Aborted`. */
  get state() {
    return this._s ? this._s.state : 'None';
  }

  /** The status of the peer's Close, once received. */
  get closeStatus() {
    return this._s ? this._s.closeStatus : undefined;
  }

  /** The reason of the peer's Close, once received. */
  get closeStatusDescription() {
    return this._s ? this._s.closeStatusDescription : undefined;
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
    return this._s ? this._s.subProtocol : undefined;
  }

  /**
   * Receives the next piece of a message (.NET's `ReceiveAsync`). With a
   * `buffer`, writes into it and returns `{count, messageType, endOfMessage, ...}`;
   * without, returns `{data, count, ...}` (at most 64 KiB). A `close` result
   * carries `closeStatus` and `closeStatusDescription`.
   */
  async receive(buffer) {
    this._session();
    const max = buffer ? Math.min(buffer.length, MAX_RECEIVE_CHUNK) : DEFAULT_RECEIVE_CHUNK;
    for (;;) {
      const s = this._s;
      let r;
      try {
        r = s.receive(max);
      } catch (e) {
        // The last result: later receives get the same error, and the session can go.
        this._terminal = adopt(e);
        this._release(this._terminal);
        throw this._terminal;
      }
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
        if (result.messageType === 'close') {
          this._terminal = new WebSocketError('InvalidState',
            "the peer's Close was already received; nothing more will arrive");
          this._release(this._terminal);
        } else {
          this._drained();
        }
        return result;
      }
      if (this._finished) {
        const f = s.failure;
        this._terminal = f ? adopt(f) : closedPrematurely();
        this._release(this._terminal);
        throw this._terminal;
      }
      await this._changed();
    }
  }

  /**
   * Receives a whole message: a `Message` ({messageType, data, text}), or for
   * the peer's Close `{messageType: 'close', closeStatus, closeStatusDescription}`.
   */
  async receiveMessage() {
    const parts = [];
    for (;;) {
      const r = await this.receive();
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
   * bytes wait to be written.
   */
  async send(data, opts) {
    this._session();
    const [bytes, defaultType] = toPayload(data);
    const o = opts || {};
    const type = o.messageType || defaultType;
    const eom = o.endOfMessage === undefined ? true : !!o.endOfMessage;
    await this._outputBelow(this._maxPendingOutput);
    engine(() => this._s.send(bytes, type, eom, !!o.disableCompression));
    this._pump();
    await this._outputBelow(this._maxPendingOutput);
  }

  /** Sends a PING (payload at most 125 bytes). */
  async ping(payload) {
    const s = this._session();
    const [bytes] = toPayload(payload === undefined ? new Uint8Array(0) : payload);
    engine(() => s.ping(bytes));
    this._pump();
  }

  async _outputBelow(limit) {
    for (;;) {
      const s = this._s;
      const f = s.failure;
      if (f) throw adopt(f);
      if (s.pendingOutputLength <= limit && (limit > 0 || !this._writing)) return;
      if (this._finished) throw closedPrematurely();
      await this._changed();
    }
  }

  /**
   * Sends our Close without waiting for the peer's (.NET's
   * `CloseOutputAsync`); after a received Close this completes the handshake.
   */
  async closeOutput(code, reason) {
    const s = this._session();
    engine(() => s.close(code === undefined || code === null ? undefined : code, reason || ''));
    if (this._closeSentAt === null) this._closeSentAt = this._now();
    this._pump();
    await this._outputBelow(0);
  }

  /**
   * Sends our Close (default 1000) and waits for the peer's (.NET's
   * `CloseAsync`); data messages that arrive first are discarded.
   */
  async close(code = 1000, reason = '') {
    await this.closeOutput(code, reason);
    for (;;) {
      if (this.state === 'Closed') return;
      let r;
      try {
        r = await this.receive();
      } catch (e) {
        if (this.state === 'Closed') return;
        throw e;
      }
      if (r.messageType === 'close') return;
    }
  }

  /** Aborts at once: the transport is torn down, pending operations fail (.NET's `Abort`). */
  abort() {
    if (!this._s) return;
    this._userAborted = true;
    this._s.abort();
    if (!this._finished) {
      this._t.destroy();
      this._finish();
    }
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
        if (this.state === 'CloseReceived') {
          const c = m.closeStatus;
          const valid = c !== undefined && ((c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999));
          try {
            await this.closeOutput(valid ? c : 1000, '');
          } catch (_) {
            // The transport may already be gone; the close event reports the outcome.
          }
        }
        return;
      }
      yield m;
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

module.exports = { WebSocket, Message, CONSTRUCT, engine, normalizeOptions, randomBytes, wasm };
