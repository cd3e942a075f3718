'use strict';
// WebSocketStream: the WHATWG streams-based WebSocket API (the one Chromium
// ships; github.com/ricea/websocketstream-explainer, whatwg/websockets PR 48)
// over a ManagedWebSocket. `opened` gives a ReadableStream of messages
// (strings for text, Uint8Arrays for binary) and a WritableStream taking
// strings, ArrayBuffers and ArrayBufferViews; `closed` the close code and reason.
//
// Backpressure is real in both directions: the readable's source pulls (one
// message is read from the engine only when the stream asks for one), so a
// reader that stops reading stops receiving, the engine's receive buffer
// fills and the engine stops reading the transport; a write resolves when
// `send()` did, that is when the engine took the message and its output is
// under `maxPendingOutput`. Every protocol decision (answering the peer's
// Close, failing the connection, the timeouts) stays the engine's; this
// file only maps the engine's results onto the streams and the promises.

const { urlRecord } = require('./url.js');
const { ClientWebSocket, splitOptions } = require('./client.js');
const { ManagedWebSocket } = require('./websocket.js');
const { normalizeOptions } = require('./engine.js');
const { WebSocketError, PREMATURE } = require('./errors.js');

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Made only by `WebSocketStream.from`. */
const ADOPT = Symbol('adopt');

/** ClientOptions keys with a standard name in the options (as in the standard WebSocket's init). */
const RENAMED = { subProtocols: 'protocols', requestHeaders: 'headers' };

/**
 * The options: `{protocols, signal, headers, ...ClientOptions}` (WebIDL's
 * WebSocketStreamOptions plus sockweave's). Returns [ClientWebSocket options, signal].
 */
function streamOptions(arg) {
  if (arg === undefined || arg === null) return [{}, null];
  if (typeof arg !== 'object' && typeof arg !== 'function') {
    throw new TypeError('new WebSocketStream(url, options): options must be an object');
  }
  const { protocols, signal, headers, ...rest } = arg;
  for (const [key, name] of Object.entries(RENAMED)) {
    if (key in rest) {
      throw new TypeError(`new WebSocketStream(url, { ${key} }): give \`${name}\` instead (the standard name of the same thing)`);
    }
  }
  const options = { ...rest };
  if (protocols !== undefined) {
    if (protocols === null || typeof protocols !== 'object' || typeof protocols[Symbol.iterator] !== 'function') {
      throw new TypeError('new WebSocketStream(url, { protocols }): protocols must be a sequence of strings');
    }
    const list = Array.from(protocols, String);
    if (list.length) options.subProtocols = list;
  }
  if (headers !== undefined && headers !== null) options.requestHeaders = headers;
  if (signal !== undefined && signal !== null && !(signal instanceof AbortSignal)) {
    throw new TypeError('new WebSocketStream(url, { signal }): signal must be an AbortSignal');
  }
  return [options, signal || null];
}

/** The value of the handshake response's Sec-WebSocket-Extensions, '' if none. */
function extensionsOf(headers) {
  if (!headers) return '';
  return headers.filter(([n]) => n.toLowerCase() === 'sec-websocket-extensions').map(([, v]) => v).join(', ');
}

/**
 * The close code and reason as the spec's "close the WebSocket" checks them:
 * a code of 1000 or 3000-4999 (else InvalidAccessError), a reason of at
 * most 123 UTF-8 bytes (else SyntaxError); a reason without a code gets 1000.
 */
function checkClose(code, reason) {
  if (code !== undefined && code !== null && code !== 1000 && (code < 3000 || code > 4999)) {
    throw new DOMException(`the close code must be either 1000, or between 3000 and 4999; ${code} is neither`,
      'InvalidAccessError');
  }
  const n = encoder.encode(reason).length;
  if (n > 123) throw new DOMException(`the close reason must not be greater than 123 UTF-8 bytes (it has ${n})`, 'SyntaxError');
  if ((code === undefined || code === null) && reason !== '') code = 1000;
  return { code: code === null ? undefined : code, reason };
}

/** WebIDL `[EnforceRange] unsigned short`. */
function enforceUnsignedShort(v, what) {
  const x = Number(v);
  if (!Number.isFinite(x)) throw new TypeError(`${what} is not a finite number`);
  const t = Math.trunc(x);
  if (t < 0 || t > 65535) throw new TypeError(`${what} is outside the range of an unsigned short`);
  return t;
}

/**
 * A reason given to `readable.cancel()` or `writable.abort()` that carries a
 * close code: the spec's `WebSocketError` (a DOMException named
 * "WebSocketError" with `closeCode` and `reason`: the browser's or undici's),
 * or sockweave's own `WebSocketError` given `closeCode` and `reason`. Other
 * reasons (plain objects too, as the web platform tests require) close
 * without a code.
 */
function closeInfoOf(reason) {
  if (!reason || typeof reason !== 'object' || reason.name !== 'WebSocketError') return null;
  if (!(reason instanceof Error) && !(typeof DOMException === 'function' && reason instanceof DOMException)) return null;
  const code = reason.closeCode;
  if (code !== null && code !== undefined && typeof code !== 'number') return null;
  return { code, reason: typeof reason.reason === 'string' ? reason.reason : '' };
}

/** A promise with its settle functions; its rejection counts as handled (the spec's `closed` and `opened`). */
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** The chunk as what `send()` takes: [bytes (a copy), 'text' | 'binary']. */
function chunkPayload(chunk) {
  if (chunk instanceof ArrayBuffer) return [new Uint8Array(chunk.slice(0)), 'binary'];
  if (ArrayBuffer.isView(chunk)) {
    return [new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength).slice(), 'binary'];
  }
  if (typeof SharedArrayBuffer === 'function' && chunk instanceof SharedArrayBuffer) {
    throw new TypeError('a WebSocketStream cannot write a SharedArrayBuffer');
  }
  return [encoder.encode(typeof chunk === 'string' ? chunk : String(chunk)), 'text'];
}

/** The bytes of a message received in pieces, as one Uint8Array that owns its buffer. */
function joinPieces(pieces, total) {
  if (pieces.length === 1) {
    const p = pieces[0];
    return new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The WHATWG WebSocketStream: `new WebSocketStream(url, { protocols, signal,
 * headers, ...ClientOptions })`. `opened` resolves with `{readable,
 * writable, protocol, extensions}`, `closed` with `{closeCode, reason}` on a
 * clean close (it rejects with a `WebSocketError` carrying `closeCode` and
 * `reason` otherwise); `close({closeCode, reason})` starts the close
 * handshake (or abandons the handshake while connecting); `signal` aborts
 * the opening handshake. `WebSocketStream.from(ws)` puts the same streams
 * over an open `ManagedWebSocket` (e.g. one `acceptUpgrade` returned).
 */
class WebSocketStream {
  #url = '';
  #opened = deferred();
  #closed = deferred();
  /** The ManagedWebSocket (a ClientWebSocket unless made by `from`). */
  #ws;
  /** The opening handshake completed. */
  #established = false;
  /** The signal aborted the opening handshake (the promises were rejected with its reason). */
  #handshakeAborted = false;
  /** close() was called while connecting. */
  #abandoned = false;
  /** Our Close was asked for (close(), cancel, abort, the writable's close): messages are dropped from then on. */
  #closing = false;
  /** A receive returned the peer's Close: nothing more will be received. */
  #peerCloseSeen = false;
  /** The current receive activity (a pull, then the drain), so that one receive runs at a time. */
  #receiving = null;
  #draining = false;
  #readableController = null;
  #writableController = null;
  #readableDone = false;
  /** The writable's close is in flight (its promise settles with `closed`). */
  #writableClosing = false;
  /** The connection ended cleanly before the peer's Close was received: close the readable when it is. */
  #closeReadableWhenSeen = false;
  /** The error the engine failed the connection with. */
  #failure = null;

  constructor(url, options) {
    if (url === ADOPT) {
      this.#adopt(options);
      return;
    }
    if (arguments.length < 1) {
      throw new TypeError("Failed to construct 'WebSocketStream': 1 argument required, but only 0 present.");
    }
    const u = urlRecord(url);
    const [clientOptions, signal] = streamOptions(options);
    try {
      normalizeOptions(splitOptions(clientOptions)[0]);
    } catch (e) {
      if (e && e.key === 'subProtocols') throw new DOMException(e.message, 'SyntaxError');
      throw e;
    }
    this.#url = u.href;
    if (signal && signal.aborted) {
      this.#opened.reject(signal.reason);
      this.#closed.reject(signal.reason);
      return;
    }
    const ws = new ClientWebSocket(clientOptions);
    this.#ws = ws;
    let onAbort = null;
    if (signal) {
      onAbort = () => {
        if (this.#established || this.#handshakeAborted || this.#abandoned) return;
        this.#handshakeAborted = true;
        this.#opened.reject(signal.reason);
        this.#closed.reject(signal.reason);
        ws.abort();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    ws.connect(u.href).then(
      () => {
        if (onAbort) signal.removeEventListener('abort', onAbort);
        if (this.#handshakeAborted) return;
        if (this.#abandoned) {
          // close() came after the handshake had finished but before this ran.
          ws.abort();
          this.#rejectUnopened(this.#abandonError());
          return;
        }
        this.#open(extensionsOf(ws.httpResponseHeaders));
      },
      (e) => {
        if (onAbort) signal.removeEventListener('abort', onAbort);
        if (this.#handshakeAborted) return;
        this.#rejectUnopened(this.#abandoned ? this.#abandonError() : e);
      },
    );
  }

  /**
   * A WebSocketStream over `ws`, an open `ManagedWebSocket` of either role
   * (`acceptUpgrade`, `accept`, `acceptH2`, `fromStream`, a connected
   * `ClientWebSocket`) that nothing else reads from. `url` is '' (a
   * ClientWebSocket's URL is not kept), `opened` is resolved already;
   * `extensions` is the server's Sec-WebSocket-Extensions for a
   * ClientWebSocket and '' otherwise (a server's agreed extensions are not
   * reported by the engine).
   */
  static from(ws) {
    if (!(ws instanceof ManagedWebSocket)) throw new TypeError('WebSocketStream.from() takes a ManagedWebSocket');
    if (ws.state !== 'Open') {
      throw new WebSocketError('InvalidState', `WebSocketStream.from() needs an open WebSocket, not one in state ${ws.state}`);
    }
    return new WebSocketStream(ADOPT, ws);
  }

  #adopt(ws) {
    this.#ws = ws;
    this.#open(ws instanceof ClientWebSocket ? extensionsOf(ws.httpResponseHeaders) : '');
  }

  #abandonError() {
    return new WebSocketError('InvalidState',
      'close() was called before the connection was established: the connection attempt was abandoned');
  }

  /** The connection never opened: opened and closed reject with `e` (closeCode 1006). */
  #rejectUnopened(e) {
    const err = e instanceof Error ? e : new WebSocketError('Io', String(e));
    if (err.closeCode === undefined) err.closeCode = 1006;
    if (err.reason === undefined) err.reason = '';
    this.#opened.reject(err);
    this.#closed.reject(err);
  }

  #open(extensions) {
    const ws = this.#ws;
    this.#established = true;
    ws.on('error', (e) => {
      if (!this.#failure) this.#failure = e;
    });
    const readable = new ReadableStream({
      start: (c) => {
        this.#readableController = c;
      },
      pull: () => this.#pull(),
      cancel: (reason) => {
        this.#readableDone = true;
        return this.#closeUsingReason(reason);
      },
    });
    const writable = new WritableStream({
      start: (c) => {
        this.#writableController = c;
      },
      write: (chunk) => this.#write(chunk),
      close: () => {
        this.#writableClosing = true;
        this.#startClose(undefined, '');
        return this.#closed.promise.then(() => {});
      },
      abort: (reason) => this.#closeUsingReason(reason),
    });
    ws.closed.then((info) => this.#finish(info));
    this.#opened.resolve({ readable, writable, protocol: ws.subProtocol || '', extensions });
  }

  // --------------------------------------------------------------- reading

  /** The readable asks for a message: receive one from the engine (the only place that reads while open). */
  #pull() {
    if (this.#closing || this.#peerCloseSeen || this.#readableDone) return undefined;
    const p = this.#receiveMessage();
    this.#receiving = p;
    return p.finally(() => {
      if (this.#receiving === p) this.#receiving = null;
    });
  }

  async #receiveMessage() {
    const ws = this.#ws;
    const pieces = [];
    let total = 0;
    for (;;) {
      let r;
      try {
        r = await ws.receive();
      } catch (_) {
        // The connection failed or ended: #finish reports it on the streams.
        this.#peerCloseSeen = true;
        this.#closeReadableIfDue();
        return;
      }
      if (r.messageType === 'close') {
        this.#peerCloseSeen = true;
        // Answered with the engine's answer (the peer's status) unless our Close went out already.
        await ws._answerClose();
        this.#closeReadableIfDue();
        return;
      }
      if (this.#closing) return; // Our close began: the drain takes over, messages are dropped.
      if (r.count) {
        pieces.push(r.data);
        total += r.count;
      }
      if (!r.endOfMessage) continue;
      if (this.#readableDone) return;
      const data = pieces.length ? joinPieces(pieces, total) : new Uint8Array(0);
      this.#readableController.enqueue(r.messageType === 'text' ? decoder.decode(data) : data);
      return;
    }
  }

  /** After our Close: receive and drop messages until the peer's Close (or the end), so the engine sees it. */
  #drain() {
    if (this.#draining) return;
    this.#draining = true;
    const ws = this.#ws;
    (async () => {
      if (this.#receiving) await this.#receiving;
      while (!this.#peerCloseSeen) {
        let r;
        try {
          r = await ws.receive();
        } catch (_) {
          break;
        }
        if (r.messageType === 'close') {
          this.#peerCloseSeen = true;
          await ws._answerClose();
        }
      }
      this.#peerCloseSeen = true;
      this.#closeReadableIfDue();
    })();
  }

  #closeReadableIfDue() {
    if (!this.#closeReadableWhenSeen) return;
    this.#closeReadableWhenSeen = false;
    this.#closeReadable();
  }

  #closeReadable() {
    if (this.#readableDone) return;
    this.#readableDone = true;
    try {
      this.#readableController.close();
    } catch (_) {
      // Cancelled meanwhile.
    }
  }

  // --------------------------------------------------------------- writing

  async #write(chunk) {
    const [bytes, type] = chunkPayload(chunk);
    if (this.#closing || this.#peerCloseSeen) {
      throw new DOMException('the WebSocketStream is closing: the message was not sent', 'InvalidStateError');
    }
    await this.#ws.send(bytes, { messageType: type });
  }

  // --------------------------------------------------------------- closing

  /** Starts the close handshake with our Close (the engine checks and sends it), then drains what still comes. */
  #startClose(code, reason) {
    if (this.#closing) return;
    this.#closing = true;
    this.#ws.closeOutput(code, reason).catch(() => {
      // The connection failed or is over: #finish reports it.
    });
    this.#drain();
  }

  /** The spec's "close using reason": a WebSocketError's code and reason, or no code. */
  #closeUsingReason(reason) {
    const info = closeInfoOf(reason);
    let code;
    let text = '';
    if (info) {
      try {
        ({ code, reason: text } = checkClose(info.code, info.reason));
      } catch (_) {
        code = undefined;
        text = '';
      }
    }
    this.#startClose(code, text);
  }

  /** The connection is over (the transport was released): settle the streams and `closed`. */
  #finish(info) {
    if (info.wasClean) {
      const closeInfo = { closeCode: info.code, reason: info.reason };
      if (this.#peerCloseSeen || this.#closing) this.#closeReadable();
      else this.#closeReadableWhenSeen = true;
      // (error() does nothing to a writable that is closed or errored already.)
      if (!this.#writableClosing) {
        this.#writableController.error(new DOMException('A closed WebSocketStream cannot be written to', 'InvalidStateError'));
      }
      this.#closed.resolve(closeInfo);
      return;
    }
    const err = this.#failure || new WebSocketError('ConnectionClosedPrematurely', PREMATURE);
    if (err.closeCode === undefined) err.closeCode = info.code;
    if (err.reason === undefined) err.reason = info.reason;
    if (!this.#readableDone) {
      this.#readableDone = true;
      this.#readableController.error(err);
    }
    this.#writableController.error(err);
    this.#closed.reject(err);
  }

  // ------------------------------------------------------------- interface

  /** The URL, serialized (http(s) mapped to ws(s)); '' for `WebSocketStream.from`. */
  get url() {
    return this.#url;
  }

  /** Resolves with `{readable, writable, protocol, extensions}` once open; rejects if the connection never opened. */
  get opened() {
    return this.#opened.promise;
  }

  /** Resolves with `{closeCode, reason}` after a clean close; rejects (a WebSocketError with `closeCode`, `reason`) otherwise. */
  get closed() {
    return this.#closed.promise;
  }

  /**
   * Starts the close handshake with `closeCode` (1000 or 3000-4999, else
   * InvalidAccessError; none sends a Close without a status, 1000 if only a
   * reason is given) and `reason` (at most 123 UTF-8 bytes, else SyntaxError).
   * Messages that arrive afterwards are dropped. While connecting, abandons
   * the connection (`opened` and `closed` reject).
   */
  close(closeInfo) {
    if (closeInfo !== undefined && closeInfo !== null && typeof closeInfo !== 'object' && typeof closeInfo !== 'function') {
      throw new TypeError("Failed to execute 'close' on 'WebSocketStream': The provided value is not of type 'WebSocketCloseInfo'.");
    }
    const ci = closeInfo || {};
    const rawCode = ci.closeCode;
    const code = rawCode === undefined ? undefined : enforceUnsignedShort(rawCode, 'closeCode');
    const reason = ci.reason === undefined ? '' : String(ci.reason);
    const checked = checkClose(code, reason);
    if (!this.#established) {
      if (this.#handshakeAborted || this.#abandoned || !this.#ws) return;
      this.#abandoned = true;
      this.#ws.abort();
      return;
    }
    this.#startClose(checked.code, checked.reason);
  }
}

Object.defineProperty(WebSocketStream.prototype, Symbol.toStringTag, {
  value: 'WebSocketStream', writable: false, enumerable: false, configurable: true,
});

module.exports = { WebSocketStream };
