'use strict';
// A scripted WebSocket server on node:net (127.0.0.1 only) that writes exact
// bytes: the tests of the standard `WebSocket` class use it to send what a
// well-behaved server would not (fragments with a PING between them, invalid
// UTF-8, reserved bits, a Close without a status, a TCP end without a Close,
// a wrong Sec-WebSocket-Accept) and to see every frame the client sends.
//
//   const srv = await rawServer(async (conn) => { ... });   // one call per connection
//   srv.url                       ws://127.0.0.1:PORT
//   srv.close()
//
// `conn`: request {method, path, headers (lower-case names)}, accept(opts),
// respond(text), frame(opcode, payload, opts), write(bytes), next() (the next
// client frame, unmasked: {fin, rsv, opcode, payload, code?, reason?} or
// {end: true}), closeFrame(code, reason), end(), destroy(), pause(), resume(),
// done (resolves when the script has finished with this connection).

const net = require('node:net');
const crypto = require('node:crypto');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function acceptKey(key) {
  return crypto.createHash('sha1').update(key + GUID).digest('base64');
}

/** A server frame (unmasked): `opcode`, `payload` (bytes or a string), `{fin, rsv}` (rsv: the 3 bits, 0-7). */
function frame(opcode, payload, { fin = true, rsv = 0 } = {}) {
  const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload || []);
  const n = body.length;
  let head;
  if (n < 126) {
    head = Buffer.from([0, n]);
  } else if (n < 65536) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  return Buffer.concat([head, body]);
}

/** A Close frame's payload: no body when `code` is undefined. */
function closePayload(code, reason = '') {
  if (code === undefined) return Buffer.alloc(0);
  const r = Buffer.from(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

class Conn {
  constructor(socket, request, rest) {
    this.socket = socket;
    this.request = request;
    this._buf = rest;
    /** Chunks read after `_buf`, and their total length (joined only once a whole frame is there). */
    this._more = [];
    this._moreLength = 0;
    /** The length of `_buf` plus `_more` that the next frame needs (0: unknown). */
    this._need = 0;
    this._ended = false;
    this._waiter = null;
    socket.on('data', (c) => {
      this._more.push(c);
      this._moreLength += c.length;
      if (this._buf.length + this._moreLength >= this._need) this._poke();
    });
    socket.on('end', () => {
      this._ended = true;
      this._poke();
    });
    socket.on('close', () => {
      this._ended = true;
      this._poke();
    });
  }

  _poke() {
    const w = this._waiter;
    this._waiter = null;
    if (w) w();
  }

  /** The 101 answer: `{protocol, extensions, accept (a wrong key to send), headers: [[n, v]]}`. */
  accept(opts = {}) {
    const key = this.request.headers['sec-websocket-key'] || '';
    const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${opts.accept !== undefined ? opts.accept : acceptKey(key)}`];
    if (opts.protocol) lines.push(`Sec-WebSocket-Protocol: ${opts.protocol}`);
    if (opts.extensions) lines.push(`Sec-WebSocket-Extensions: ${opts.extensions}`);
    for (const [n, v] of opts.headers || []) lines.push(`${n}: ${v}`);
    this.write(`${lines.join('\r\n')}\r\n\r\n`);
  }

  respond(text) {
    this.write(text);
  }

  write(bytes) {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes);
  }

  frame(opcode, payload, opts) {
    this.write(frame(opcode, payload, opts));
  }

  closeFrame(code, reason) {
    this.frame(0x8, closePayload(code, reason));
  }

  /** The next frame from the client (unmasked), or `{end: true}` once the client's side ended. */
  async next() {
    for (;;) {
      const f = this._parse();
      if (f) return f;
      if (this._ended) return { end: true };
      await new Promise((r) => { this._waiter = r; });
    }
  }

  /** Frames until the client's Close (inclusive) or its end; returns them. */
  async untilClose() {
    const got = [];
    for (;;) {
      const f = await this.next();
      got.push(f);
      if (f.end || f.opcode === 0x8) return got;
    }
  }

  _parse() {
    if (this._more.length) {
      this._buf = Buffer.concat([this._buf, ...this._more]);
      this._more = [];
      this._moreLength = 0;
    }
    const b = this._buf;
    this._need = 2;
    if (b.length < 2) return null;
    let len = b[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      len = Number(b.readBigUInt64BE(2));
      off = 10;
    }
    const masked = (b[1] & 0x80) !== 0;
    const maskAt = off;
    if (masked) off += 4;
    this._need = off + len;
    if (b.length < off + len) return null;
    const payload = Buffer.from(b.subarray(off, off + len));
    if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[maskAt + (i % 4)];
    this._buf = b.subarray(off + len);
    this._need = 0;
    const f = { fin: (b[0] & 0x80) !== 0, rsv: (b[0] >> 4) & 7, opcode: b[0] & 0x0f, masked, payload };
    if (f.opcode === 0x8) {
      f.code = payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
      f.reason = payload.subarray(2).toString();
    }
    return f;
  }

  end() {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy() {
    this.socket.destroy();
  }

  pause() {
    this.socket.pause();
  }

  resume() {
    this.socket.resume();
  }
}

/** Reads the HTTP request head; resolves with [request, bytes after it] or null if the client left first. */
function readRequest(socket) {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const onData = (c) => {
      buf = Buffer.concat([buf, c]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      const [line, ...fields] = buf.subarray(0, i).toString('latin1').split('\r\n');
      const [method, path] = line.split(' ');
      const headers = {};
      for (const f of fields) {
        const c2 = f.indexOf(':');
        const name = f.slice(0, c2).trim().toLowerCase();
        const value = f.slice(c2 + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      resolve([{ method, path, headers }, buf.subarray(i + 4)]);
    };
    const onClose = () => resolve(null);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/**
 * Starts a scripted server; `script(conn)` runs for each connection whose
 * request arrived. Errors of the script are collected in `errors`.
 */
async function rawServer(script) {
  const sockets = new Set();
  const errors = [];
  const connections = [];
  const server = net.createServer({ allowHalfOpen: true }, async (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    const r = await readRequest(socket);
    if (!r) return;
    const conn = new Conn(socket, r[0], r[1]);
    socket.resume();
    connections.push(conn);
    let finished;
    conn.done = new Promise((res) => { finished = res; });
    try {
      await script(conn);
    } catch (e) {
      errors.push(e);
    }
    finished();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    errors,
    connections,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

module.exports = { rawServer, frame, closePayload, acceptKey };
