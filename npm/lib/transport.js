'use strict';
// Byte transports under one small interface, so the driver does not care what
// carries the bytes:
//   onData(chunk: Uint8Array), onEnd(), onError(err)   set by the user of the transport
//   pause(), resume()                                    stop / restart reading
//   write(chunk) -> null | Promise                       null: accepted, write more; a promise: wait for it
//   unwritten()                                          bytes given to write() not yet written out
//   end()                                                shut down the writing side once written (FIN)
//   release()                                            end(), then let go once what was written is out
//   destroy()                                            tear down at once
// When to do which is the engine's decision (driver.js asks it).

const noop = () => {};

/**
 * A Node `Duplex` (net.Socket, tls.TLSSocket, an http socket, an HTTP/2
 * stream, a stream pair).
 */
class NodeTransport {
  constructor(stream) {
    this.stream = stream;
    this.onData = noop;
    this.onEnd = noop;
    this.onError = noop;
    this._ended = false;
    const end = () => {
      if (this._ended) return;
      this._ended = true;
      this.onEnd();
    };
    this._handlers = {
      data: (c) => this.onData(c),
      end,
      close: end,
      error: (e) => this.onError(e),
    };
    for (const [ev, fn] of Object.entries(this._handlers)) stream.on(ev, fn);
    if (typeof stream.setNoDelay === 'function') stream.setNoDelay(true);
    // A peer that ends its side after its Close is still owed our Close
    // answer: Node must not end our side by itself (the engine says when).
    if (typeof stream.allowHalfOpen === 'boolean') stream.allowHalfOpen = true;
  }

  pause() {
    this.stream.pause();
  }

  resume() {
    this.stream.resume();
  }

  write(chunk) {
    const s = this.stream;
    if (s.destroyed || s.writableEnded) {
      return Promise.reject(Object.assign(new Error('the transport is closed'), { code: 'EPIPE' }));
    }
    // Frames queued in the same turn (a burst of sends, echoes of a batch of
    // received messages) go out in one writev instead of one syscall each.
    if (!this._corked && typeof s.cork === 'function') {
      this._corked = true;
      s.cork();
      process.nextTick(() => {
        this._corked = false;
        s.uncork();
      });
    }
    if (s.write(chunk)) return null;
    return new Promise((resolve) => {
      const done = () => {
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      s.on('drain', done);
      s.on('close', done);
    });
  }

  /** Bytes in the stream's write buffer (a socket: not yet handed to the kernel). */
  unwritten() {
    return this.stream.writableLength || 0;
  }

  end() {
    const s = this.stream;
    if (s.destroyed || this._ending) return;
    this._ending = true;
    s.end();
  }

  release() {
    const s = this.stream;
    this.end();
    if (s.destroyed) return;
    if (s.writableFinished) s.destroy();
    else s.once('finish', () => s.destroy());
  }

  destroy() {
    this.stream.destroy();
  }

  /** Stops delivering events (the stream is handed on or finished). */
  detach() {
    for (const [ev, fn] of Object.entries(this._handlers)) this.stream.off(ev, fn);
    this.stream.on('error', noop);
  }
}

function toBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError('a readable stream of a WebSocket transport must give bytes (Uint8Array)');
}

/** A WHATWG `{readable, writable}` pair of byte streams. */
class WebStreamTransport {
  constructor({ readable, writable }) {
    this.reader = readable.getReader();
    this.writer = writable.getWriter();
    this.onData = noop;
    this.onEnd = noop;
    this.onError = noop;
    this._paused = true;
    this._reading = false;
    this._closed = false;
    this._unwritten = 0;
    /** Chunks that arrived after pause(), delivered on resume(). */
    this._held = [];
  }

  pause() {
    this._paused = true;
  }

  resume() {
    this._paused = false;
    while (this._held.length && !this._paused) this.onData(this._held.shift());
    if (!this._paused) this._readLoop();
  }

  async _readLoop() {
    if (this._reading) return;
    this._reading = true;
    try {
      while (!this._paused && !this._closed) {
        const { value, done } = await this.reader.read();
        if (this._closed) return;
        if (done) {
          this._closed = true;
          this.onEnd();
          return;
        }
        if (this._paused) this._held.push(toBytes(value));
        else this.onData(toBytes(value));
      }
    } catch (e) {
      if (!this._closed) {
        this._closed = true;
        this.onError(e);
      }
    } finally {
      this._reading = false;
    }
  }

  write(chunk) {
    const w = this.writer;
    const n = chunk.length;
    this._unwritten += n;
    const p = w.write(chunk);
    p.then(() => { this._unwritten -= n; }, (e) => this.onError(e));
    if (w.desiredSize === null) return p;
    return w.desiredSize > 0 ? null : w.ready;
  }

  /** Bytes given to write() whose writes have not completed. */
  unwritten() {
    return this._unwritten;
  }

  end() {
    this.writer.close().catch(noop);
  }

  release() {
    this.end();
    this._release();
  }

  destroy() {
    this.writer.abort().catch(noop);
    this._release();
  }

  _release() {
    if (this._closed) return;
    this._closed = true;
    this.reader.cancel().catch(noop);
  }

  detach() {
    this.onData = noop;
    this.onEnd = noop;
    this.onError = noop;
  }
}

function isWebPair(x) {
  return (
    x && typeof x === 'object' &&
    x.readable && typeof x.readable.getReader === 'function' &&
    x.writable && typeof x.writable.getWriter === 'function'
  );
}

function isNodeDuplex(x) {
  return x && typeof x.on === 'function' && typeof x.write === 'function' && typeof x.pause === 'function';
}

/** Whether a transport error means the peer reset or closed the connection. */
function isReset(e) {
  const code = e && e.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED'
    || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END'
    || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_HTTP2_STREAM_ERROR';
}

/** The transport for a Node `Duplex` or a WHATWG `{readable, writable}` pair. */
function transportFor(stream) {
  if (isWebPair(stream)) return new WebStreamTransport(stream);
  if (isNodeDuplex(stream)) return new NodeTransport(stream);
  throw new TypeError('expected a Node Duplex stream or a WHATWG {readable, writable} pair');
}

module.exports = { NodeTransport, WebStreamTransport, transportFor, isReset, isWebPair, isNodeDuplex };
