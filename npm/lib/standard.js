'use strict';
// WebSocket: the standard (WHATWG) WebSocket interface for Node, as in
// browsers, undici and `ws` (HTML "The WebSocket interface",
// websockets.spec.whatwg.org), over a ClientWebSocket. The engine makes every
// protocol decision (the handshake's checks, failing the connection and with
// which Close, answering the peer's Close, the timeouts); this class only
// turns what ClientWebSocket reports into the standard's ready states and
// events: `open`, `message` (MessageEvent), `error`, `close` (CloseEvent).

const { urlRecord } = require('./url.js');
const { ClientWebSocket, splitOptions } = require('./client.js');
const { normalizeOptions } = require('./engine.js');
const { WebSocketError } = require('./errors.js');

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** The `binaryType` values: the standard's two, and `ws`'s `nodebuffer` (a Buffer). */
const BINARY_TYPES = ['blob', 'arraybuffer', 'nodebuffer'];

/** ClientOptions keys with a standard name in the second argument. */
const RENAMED = { subProtocols: 'protocols', requestHeaders: 'headers' };

const encoder = new TextEncoder();

/** The `close` event (websockets.spec.whatwg.org#the-closeevent-interface). */
class CloseEvent extends Event {
  #wasClean;
  #code;
  #reason;

  constructor(type, init = {}) {
    super(type, init);
    this.#wasClean = !!init.wasClean;
    this.#code = init.code === undefined ? 0 : Number(init.code);
    this.#reason = init.reason === undefined ? '' : String(init.reason);
  }

  /** Whether the close handshake completed. */
  get wasClean() {
    return this.#wasClean;
  }

  /** The status of the server's Close; 1005 if it had none, 1006 if none was received. */
  get code() {
    return this.#code;
  }

  get reason() {
    return this.#reason;
  }
}

/** The `error` event: `message`, and the `WebSocketError` the engine reported (`error`). */
class ErrorEvent extends Event {
  #message;
  #error;

  constructor(type, init = {}) {
    super(type, init);
    this.#message = init.message === undefined ? '' : String(init.message);
    this.#error = init.error;
  }

  get message() {
    return this.#message;
  }

  get error() {
    return this.#error;
  }
}

/** WebIDL `[Clamp] unsigned short`. */
function clampUnsignedShort(v) {
  let x = Number(v);
  if (Number.isNaN(x)) return 0;
  x = Math.min(Math.max(x, 0), 65535);
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** `protocols` as the IDL's `(DOMString or sequence<DOMString>)`. */
function protocolList(p) {
  if (p === undefined) return [];
  if (p !== null && typeof p === 'object' && typeof p[Symbol.iterator] === 'function') return Array.from(p, String);
  return [String(p)];
}

/**
 * The second argument: protocols (a string or a sequence of them), or an
 * init object `{protocols, headers, ...ClientOptions}` (undici's form).
 * Returns the ClientWebSocket options.
 */
function clientOptions(arg) {
  if (arg === undefined || arg === null || typeof arg !== 'object' || typeof arg[Symbol.iterator] === 'function') {
    const protocols = protocolList(arg);
    return protocols.length ? { subProtocols: protocols } : {};
  }
  const { protocols, headers, ...rest } = arg;
  for (const [key, name] of Object.entries(RENAMED)) {
    if (key in rest) {
      throw new TypeError(`new WebSocket(url, { ${key} }): give \`${name}\` instead (the standard name of the same thing)`);
    }
  }
  const options = { ...rest };
  const list = protocolList(protocols);
  if (list.length) options.subProtocols = list;
  if (headers !== undefined && headers !== null) options.requestHeaders = headers;
  return options;
}

/** The value of the handshake response's Sec-WebSocket-Extensions, '' if none. */
function extensionsOf(headers) {
  if (!headers) return '';
  return headers.filter(([n]) => n.toLowerCase() === 'sec-websocket-extensions').map(([, v]) => v).join(', ');
}

function toArrayBuffer(b) {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b.buffer;
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

/** The copy of what `send(data)` sends, with its type and size: [bytes or a promise of them, type, size]. */
function payloadOf(data) {
  if (typeof data === 'string') {
    const bytes = encoder.encode(data);
    return [bytes, 'text', bytes.length];
  }
  if (data instanceof ArrayBuffer) return [new Uint8Array(data.slice(0)), 'binary', data.byteLength];
  if (ArrayBuffer.isView(data)) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    return [bytes, 'binary', bytes.length];
  }
  if (typeof Blob === 'function' && data instanceof Blob) {
    return [data.arrayBuffer().then((ab) => new Uint8Array(ab)), 'binary', data.size];
  }
  const bytes = encoder.encode(String(data));
  return [bytes, 'text', bytes.length];
}

/**
 * The standard WebSocket (client): `new WebSocket(url, protocols)` or
 * `new WebSocket(url, { protocols, headers, ...ClientOptions })`. Events
 * `open`, `message`, `error`, `close` (EventTarget, and `onopen`, ...).
 * `bufferedAmount` counts the bytes of messages sent and not yet written to
 * the socket. For .NET-style receive loops, exact buffers or keep-alive
 * control, use `ClientWebSocket`.
 */
class WebSocket extends EventTarget {
  #ws;
  #url;
  #origin;
  #readyState = CONNECTING;
  #binaryType = 'blob';
  #protocol = '';
  #extensions = '';
  /** Bytes sent (or given to send() after the close began) and not yet written out. */
  #buffered = 0;
  /** Messages not yet given to the engine: {payload, type, size}. */
  #queue = [];
  /** Messages given to the engine, not yet written out: {size, end}. */
  #inflight = [];
  #sending = false;
  /** The Close to send once the queued messages went to the engine: {code, reason}. */
  #closeRequest = null;
  /** The error the connection failed with (an `error` event precedes `close`). */
  #failure = null;

  constructor(url, protocols) {
    super();
    if (arguments.length < 1) {
      throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
    }
    const u = urlRecord(url);
    const options = clientOptions(protocols);
    try {
      normalizeOptions(splitOptions(options)[0]);
    } catch (e) {
      if (e && e.key === 'subProtocols') throw new DOMException(e.message, 'SyntaxError');
      throw e;
    }
    this.#url = u.href;
    this.#origin = u.origin;
    this.#ws = new ClientWebSocket(options);
    this.#ws.on('error', (e) => {
      if (!this.#failure) this.#failure = e;
    });
    this.#run();
  }

  async #run() {
    const ws = this.#ws;
    try {
      await ws.connect(this.#url);
    } catch (e) {
      if (!this.#failure) this.#failure = e;
      this.#finish({ code: 1006, reason: '', wasClean: false });
      return;
    }
    if (this.#readyState !== CONNECTING) {
      // close() came after the handshake had finished: it aborted the connection.
      this.#finish(await ws.closed);
      return;
    }
    this.#readyState = OPEN;
    this.#protocol = ws.subProtocol || '';
    this.#extensions = extensionsOf(ws.httpResponseHeaders);
    this.dispatchEvent(new Event('open'));
    await this.#receiveLoop();
    this.#finish(await ws.closed);
  }

  /** Delivers messages until the server's Close (answered by the engine) or the connection's failure. */
  async #receiveLoop() {
    const ws = this.#ws;
    try {
      for (;;) {
        const m = await ws.receiveMessage();
        if (m.messageType === 'close') {
          if (this.#readyState === OPEN) this.#readyState = CLOSING;
          await ws._answerClose();
          return;
        }
        // Messages that arrive after close() was called are dropped (the standard's rule).
        if (this.#readyState === OPEN) this.#dispatchMessage(m);
      }
    } catch (_) {
      // The connection failed or ended: the error and close events report it.
    }
  }

  #dispatchMessage(m) {
    let data;
    if (m.messageType === 'text') data = m.text;
    else if (this.#binaryType === 'arraybuffer') data = toArrayBuffer(m.data);
    else if (this.#binaryType === 'nodebuffer') data = m.data;
    else data = new Blob([m.data]);
    this.dispatchEvent(new MessageEvent('message', { data, origin: this.#origin }));
  }

  #finish(info) {
    this.#readyState = CLOSED;
    if (this.#failure) {
      const e = this.#failure;
      this.dispatchEvent(new ErrorEvent('error', { message: e && e.message ? e.message : String(e), error: e }));
    }
    this.dispatchEvent(new CloseEvent('close', info));
  }

  /** Gives the queued messages to the engine in order, then the Close if close() was called. */
  async #pumpSends() {
    if (this.#sending) return;
    this.#sending = true;
    const ws = this.#ws;
    try {
      while (this.#queue.length) {
        const item = this.#queue[0];
        let bytes;
        try {
          bytes = await item.payload;
        } catch (e) {
          // A Blob that cannot be read (a file-backed one whose file changed): the message
          // cannot be sent, and the ones after it must not go out without it.
          if (!this.#failure) this.#failure = e;
          ws.abort();
          throw e;
        }
        await ws.send(bytes, { messageType: item.type });
        this.#queue.shift();
        this.#inflight.push({ size: item.size, end: ws._sentEnd });
      }
    } catch (_) {
      // The connection failed: nothing queued will be sent (the close event reports it).
      this.#queue.length = 0;
    } finally {
      this.#sending = false;
    }
    this.#sendCloseIfAsked();
  }

  #sendCloseIfAsked() {
    const c = this.#closeRequest;
    if (!c || this.#sending || this.#queue.length) return;
    this.#closeRequest = null;
    this.#ws.closeOutput(c.code, c.reason).catch(() => {
      // The server's Close came first (answered by then), or the connection failed: the close event tells.
    });
  }

  // ------------------------------------------------------------ the interface

  get url() {
    return this.#url;
  }

  get readyState() {
    return this.#readyState;
  }

  /** Bytes of messages given to send() that are not yet written to the socket. */
  get bufferedAmount() {
    const written = this.#ws._outputWritten();
    while (this.#inflight.length && this.#inflight[0].end <= written) this.#buffered -= this.#inflight.shift().size;
    return this.#buffered;
  }

  /** The extensions the server selected (its Sec-WebSocket-Extensions), '' before open. */
  get extensions() {
    return this.#extensions;
  }

  /** The subprotocol the server selected, '' before open or if none. */
  get protocol() {
    return this.#protocol;
  }

  /** `'blob'` (default), `'arraybuffer'`, or `'nodebuffer'` (a Buffer, as in `ws`); other values are ignored. */
  get binaryType() {
    return this.#binaryType;
  }

  set binaryType(type) {
    if (BINARY_TYPES.includes(type)) this.#binaryType = type;
  }

  /**
   * Sends a message: a string as text; an ArrayBuffer, an ArrayBufferView or
   * a Blob as binary. Throws InvalidStateError while CONNECTING; after close()
   * or the server's Close it only adds to `bufferedAmount` (the standard's rule).
   */
  send(data) {
    if (arguments.length < 1) {
      throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present.");
    }
    if (this.#readyState === CONNECTING) {
      throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError');
    }
    const [payload, type, size] = payloadOf(data);
    this.#buffered += size;
    if (this.#readyState !== OPEN) return;
    this.#queue.push({ payload, type, size });
    this.#pumpSends();
  }

  /**
   * Starts the close handshake: `code` 1000 or 3000-4999 (else
   * InvalidAccessError), `reason` at most 123 bytes of UTF-8 (else
   * SyntaxError). While CONNECTING, fails the connection (error and close events follow).
   */
  close(code, reason) {
    if (code !== undefined) {
      code = clampUnsignedShort(code);
      if (code !== 1000 && (code < 3000 || code > 4999)) {
        throw new DOMException(`Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`,
          'InvalidAccessError');
      }
    }
    if (reason !== undefined) {
      reason = String(reason);
      const n = encoder.encode(reason).length;
      if (n > 123) {
        throw new DOMException(`Failed to execute 'close' on 'WebSocket': The close reason must not be greater than 123 UTF-8 bytes (it has ${n}).`,
          'SyntaxError');
      }
    } else {
      reason = '';
    }
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    if (this.#readyState === CONNECTING) {
      this.#readyState = CLOSING;
      this.#failure = new WebSocketError('InvalidState',
        'close() was called before the connection was established: the connection attempt was abandoned');
      this.#ws.abort();
      return;
    }
    if (code === undefined && reason !== '') code = 1000;
    this.#readyState = CLOSING;
    this.#closeRequest = { code, reason };
    this.#sendCloseIfAsked();
  }
}

/** An `on<type>` event handler attribute: one listener, added when first set, kept in place when changed. */
function handlerAttribute(type) {
  const slots = new WeakMap();
  return {
    enumerable: true,
    configurable: true,
    get() {
      const s = slots.get(this);
      return s ? s.value : null;
    },
    set(fn) {
      const value = typeof fn === 'function' ? fn : null;
      let s = slots.get(this);
      if (value === null) {
        if (s) {
          this.removeEventListener(type, s.listener);
          slots.delete(this);
        }
        return;
      }
      if (s) {
        s.value = value;
        return;
      }
      s = { value, listener: null };
      const slot = s;
      s.listener = (event) => slot.value.call(this, event);
      slots.set(this, s);
      this.addEventListener(type, s.listener);
    },
  };
}

const constant = (value) => ({ value, writable: false, enumerable: true, configurable: false });
const STATES = { CONNECTING: constant(CONNECTING), OPEN: constant(OPEN), CLOSING: constant(CLOSING), CLOSED: constant(CLOSED) };
Object.defineProperties(WebSocket, STATES);
Object.defineProperties(WebSocket.prototype, {
  ...STATES,
  onopen: handlerAttribute('open'),
  onmessage: handlerAttribute('message'),
  onerror: handlerAttribute('error'),
  onclose: handlerAttribute('close'),
  [Symbol.toStringTag]: { value: 'WebSocket', writable: false, enumerable: false, configurable: true },
});

module.exports = { WebSocket, CloseEvent, ErrorEvent };
