'use strict';
// The standard WebSocket class (npm/lib/standard.js) beyond what the
// differential suite against undici covers (standard_diff.js): its own
// options (deflate, HTTP/2, TLS, keep-alive, handshake timeout, headers in
// every form), the exact bufferedAmount, the order of sends of every kind,
// the error event's WebSocketError, nodebuffer, argument conversions. Every
// server binds 127.0.0.1.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const https = require('node:https');
const http2 = require('node:http2');
const { sockweave, within, echo, makeCerts, freePort } = require('./helpers.js');
const { rawServer } = require('./raw_peer.js');

const { WebSocket, ManagedWebSocket, ClientWebSocket, WebSocketError, acceptUpgrade, acceptH2 } = sockweave;

let certs;
test.before(() => { certs = makeCerts(); });
test.after(() => certs.remove());

/** Resolves with the next event of `type` (rejects after `ms`). */
function next(ws, type, ms = 5000) {
  return within(ms, new Promise((resolve) => ws.addEventListener(type, resolve, { once: true })), `the ${type} event`);
}

/** Every event until close: [type, readyState, detail]. */
function recordUntilClose(ws, ms = 10000) {
  const events = [];
  for (const t of ['open', 'message', 'error']) {
    ws.addEventListener(t, (e) => events.push([t, ws.readyState, t === 'message' ? e.data : t === 'error' ? e.error : undefined]));
  }
  return within(ms, new Promise((resolve) => ws.addEventListener('close', (e) => {
    events.push(['close', ws.readyState, { code: e.code, reason: e.reason, wasClean: e.wasClean }]);
    resolve(events);
  })), 'the close event');
}

/** A node:http server whose upgrades are accepted with `options` and echoed; `seen` gets each request's path, headers, protocols. */
async function echoServer(options = {}, { secure = false } = {}) {
  const server = secure ? https.createServer({ cert: certs.cert, key: certs.key }) : http.createServer();
  const seen = [];
  server.on('upgrade', (req, socket, head) => {
    acceptUpgrade(req, socket, head, options, (r) => {
      seen.push({ path: r.path, protocols: r.protocols, header: (n) => r.headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v).join(', ') });
    })
      .then(echo).catch(() => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { server, seen, url: `${secure ? 'wss' : 'ws'}://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

test('the class: constants, names, the renamed engine class, argument errors', async () => {
  assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
  assert.deepEqual([WebSocket.prototype.CONNECTING, WebSocket.prototype.CLOSED], [0, 3]);
  assert.throws(() => { WebSocket.OPEN = 5; }, TypeError);
  assert.equal(Object.prototype.toString.call(WebSocket.prototype), '[object WebSocket]');
  assert.ok(WebSocket.prototype instanceof EventTarget);
  assert.equal(typeof ManagedWebSocket.fromStream, 'function');
  assert.ok(ClientWebSocket.prototype instanceof ManagedWebSocket);
  assert.equal(WebSocket.fromStream, undefined);

  assert.throws(() => new WebSocket(), TypeError);
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', { subProtocols: ['a'] }),
    (e) => e instanceof TypeError && /give `protocols`/.test(e.message));
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', { requestHeaders: {} }),
    (e) => e instanceof TypeError && /give `headers`/.test(e.message));
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', { keepAliveIntervall: 1 }),
    (e) => e instanceof WebSocketError && e.code === 'InvalidArgument' && e.key === 'keepAliveIntervall');
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', { dispatcher: {} }),
    (e) => e instanceof WebSocketError && e.code === 'InvalidArgument' && e.key === 'dispatcher');
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', { headers: { 'Sec-WebSocket-Key': 'x' } }),
    (e) => e instanceof WebSocketError && e.key === 'requestHeaders');
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', { protocols: ['a', 'a'] }),
    (e) => e instanceof DOMException && e.name === 'SyntaxError' && /listed twice/.test(e.message));
  assert.throws(() => new WebSocket('wss://127.0.0.1:1/', { dangerousDeflateOptions: { clientMaxWindowBits: 7 } }),
    (e) => e instanceof WebSocketError && e.key === 'dangerousDeflateOptions.clientMaxWindowBits');

  // https maps to wss; the URL's serialization is kept.
  const ws = new WebSocket(new URL('https://127.0.0.1:1/a b?c=d'));
  assert.equal(ws.url, 'wss://127.0.0.1:1/a%20b?c=d');
  assert.equal(ws.readyState, WebSocket.CONNECTING);
  assert.equal(ws.protocol, '');
  assert.equal(ws.extensions, '');
  ws.close();
  assert.equal(ws.readyState, WebSocket.CLOSING);
  const events = await recordUntilClose(ws);
  assert.deepEqual(events.map(([t, rs]) => [t, rs]), [['error', 3], ['close', 3]]);
  assert.ok(events[0][2] instanceof WebSocketError);
});

test('init form: protocols, headers (object, pairs, Map, Headers), deflate; extensions and protocol', async () => {
  const srv = await echoServer({ subProtocols: ['chat'], dangerousDeflateOptions: { clientMaxWindowBits: 10 } });
  try {
    const forms = [{ 'x-a': '1' }, [['x-a', '1'], ['x-b', '2']], new Map([['x-a', '1']]), new Headers({ 'x-a': '1' })];
    for (const headers of forms) {
      const ws = new WebSocket(`${srv.url}/p`, {
        protocols: 'chat', headers, dangerousDeflateOptions: { clientMaxWindowBits: 10 }, keepAliveInterval: 0,
      });
      ws.binaryType = 'arraybuffer';
      const events = recordUntilClose(ws);
      await next(ws, 'open');
      assert.equal(ws.protocol, 'chat');
      assert.match(ws.extensions, /^permessage-deflate/);
      assert.match(ws.extensions, /client_max_window_bits=10/);
      ws.send('a'.repeat(10000));
      ws.send(new Uint8Array(3000).fill(7));
      let n = 0;
      ws.onmessage = () => { n += 1; if (n === 2) ws.close(3001, 'done'); };
      const got = await events;
      assert.equal(got[1][2], 'a'.repeat(10000));
      assert.deepEqual(new Uint8Array(got[2][2]), new Uint8Array(3000).fill(7));
      assert.deepEqual(got.at(-1)[2], { code: 3001, reason: '', wasClean: true });
      const req = srv.seen.at(-1);
      assert.equal(req.header('x-a'), '1');
      assert.deepEqual(req.protocols, ['chat']);
    }
    assert.equal(srv.seen[1].header('x-b'), '2');
  } finally {
    await srv.close();
  }
});

test('bufferedAmount: the bytes of each message until written to the socket, Blobs included', async () => {
  const srv = await rawServer(async (c) => {
    c.accept();
    const sizes = [];
    for (let i = 0; i < 4; i++) sizes.push((await c.next()).payload.length);
    c.frame(0x1, sizes.join(','));
    const f = await c.next();
    c.closeFrame(f.code);
    c.end();
  });
  try {
    const ws = new WebSocket(srv.url);
    await next(ws, 'open');
    assert.equal(ws.bufferedAmount, 0);
    ws.send('é'.repeat(500));
    assert.equal(ws.bufferedAmount, 1000);
    ws.send(new Blob(['0123456789']));
    ws.send(new Float64Array(3));
    ws.send(new ArrayBuffer(7));
    assert.equal(ws.bufferedAmount, 1000 + 10 + 24 + 7);
    const m = await next(ws, 'message');
    assert.equal(m.data, '1000,10,24,7');
    assert.equal(ws.bufferedAmount, 0);
    ws.close();
    await next(ws, 'close');
    assert.equal(ws.bufferedAmount, 0);
  } finally {
    await srv.close();
  }
});

test('sends keep their order (Blobs are read first); close() goes after what was sent', async () => {
  const srv = await rawServer(async (c) => {
    c.accept();
    const got = [];
    for (;;) {
      const f = await c.next();
      if (f.end) break;
      got.push(f.opcode === 0x8 ? `close ${f.code} ${f.reason}` : `${f.opcode} ${f.payload.length} ${f.payload.subarray(0, 3).toString()}`);
      if (f.opcode === 0x8) {
        c.frame(0x8, f.payload);
        c.end();
        break;
      }
    }
    srv.got = got;
  });
  try {
    const ws = new WebSocket(srv.url);
    await next(ws, 'open');
    const mutable = new Uint8Array([0x61, 0x62, 0x63]);
    ws.send(new Blob([Buffer.alloc(200000, 0x42)]));
    ws.send('txt');
    ws.send(mutable);
    mutable[0] = 0x7a; // the message was copied when send() was called
    ws.send(new Blob(['blob2']));
    ws.send(42);
    ws.close(4000, 'end');
    ws.send('dropped');
    const closed = await next(ws, 'close');
    assert.deepEqual([closed.code, closed.reason, closed.wasClean], [4000, 'end', true]);
    assert.deepEqual(srv.got, ['2 200000 BBB', '1 3 txt', '2 3 abc', '2 5 blo', '1 2 42', 'close 4000 end']);
    assert.equal(ws.bufferedAmount, 'dropped'.length);
  } finally {
    await srv.close();
  }
});

test('binaryType: invalid values are ignored; nodebuffer gives a Buffer; handlers see the socket as this', async () => {
  const srv = await rawServer(async (c) => {
    c.accept();
    c.frame(0x2, [1, 2, 3]);
    c.frame(0x2, [4]);
    const f = await c.next();
    c.closeFrame(f.code);
    c.end();
  });
  try {
    const ws = new WebSocket(srv.url);
    assert.equal(ws.binaryType, 'blob');
    ws.binaryType = 'nodebuffer';
    ws.binaryType = 'text';
    assert.equal(ws.binaryType, 'nodebuffer');
    const data = [];
    let self;
    ws.onmessage = function onmessage(e) {
      self = this;
      data.push(e.data);
      if (data.length === 2) ws.close();
    };
    await next(ws, 'close');
    assert.equal(self, ws);
    assert.ok(Buffer.isBuffer(data[0]));
    assert.deepEqual([...data[0]], [1, 2, 3]);
    assert.deepEqual([...data[1]], [4]);
  } finally {
    await srv.close();
  }
});

test('the error event carries the WebSocketError (protocol error, refused handshake, TLS, no listener at all)', async () => {
  const bad = await rawServer(async (c) => {
    c.accept();
    c.frame(0x1, Buffer.from([0xc3, 0x28]));
    await c.next();
    c.end();
  });
  const refusing = await rawServer(async (c) => {
    c.respond('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    c.end();
  });
  const tlsSrv = await echoServer({}, { secure: true });
  try {
    let events = await recordUntilClose(new WebSocket(bad.url));
    assert.deepEqual(events.map(([t]) => t), ['open', 'error', 'close']);
    assert.equal(events[1][2].code, 'Faulted');
    assert.equal(events[1][2].closeCode, 1007);
    assert.deepEqual(events[2][2], { code: 1006, reason: '', wasClean: false });

    events = await recordUntilClose(new WebSocket(refusing.url));
    assert.deepEqual(events.map(([t]) => t), ['error', 'close']);
    assert.ok(events[0][2] instanceof WebSocketError);
    assert.equal(events[0][2].response.status, 403);

    events = await recordUntilClose(new WebSocket(tlsSrv.url));
    assert.deepEqual(events.map(([t]) => t), ['error', 'close']);
    assert.equal(events[0][2].code, 'Tls');

    // An error event without listeners is not an uncaught exception (EventTarget, not EventEmitter).
    const quiet = new WebSocket(`ws://127.0.0.1:${await freePort()}/`);
    await new Promise((r) => { quiet.onclose = r; });
    assert.equal(quiet.readyState, WebSocket.CLOSED);
  } finally {
    await bad.close();
    await refusing.close();
    await tlsSrv.close();
  }
});

test('wss:// with the tls option', async () => {
  const srv = await echoServer({}, { secure: true });
  try {
    const ws = new WebSocket(`${srv.url}/secure`, { tls: { ca: certs.ca } });
    const events = recordUntilClose(ws);
    await next(ws, 'open');
    ws.send('over TLS');
    ws.onmessage = () => ws.close(1000, 'tls bye');
    const got = await events;
    assert.deepEqual(got.map(([t, rs, d]) => [t, rs, d]), [['open', 1, undefined], ['message', 1, 'over TLS'],
      ['close', 3, { code: 1000, reason: '', wasClean: true }]]);
  } finally {
    await srv.close();
  }
});

test('HTTP/2 (RFC 8441) through httpVersion and httpVersionPolicy', async () => {
  const server = http2.createServer({ settings: { enableConnectProtocol: true } });
  server.on('stream', (stream, headers) => {
    acceptH2(stream, headers, { subProtocols: ['chat'] }).then(echo).catch(() => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.address().port}/h2`, {
      protocols: ['x', 'chat'], httpVersion: '2', httpVersionPolicy: 'requestVersionExact',
    });
    ws.binaryType = 'arraybuffer';
    const events = recordUntilClose(ws);
    await next(ws, 'open');
    assert.equal(ws.protocol, 'chat');
    ws.send(new Uint8Array(1 << 20).fill(3));
    ws.onmessage = () => ws.close(1000);
    const got = await events;
    assert.equal(got[1][2].byteLength, 1 << 20);
    assert.deepEqual(got.at(-1)[2], { code: 1000, reason: '', wasClean: true });
  } finally {
    server.close();
  }
});

test('keep-alive: a server that never answers PINGs fails the connection (keepAliveTimeout)', async () => {
  const srv = await rawServer(async (c) => {
    c.accept();
    for (;;) {
      const f = await c.next();
      if (f.end) return;
    }
  });
  try {
    const ws = new WebSocket(srv.url, { keepAliveInterval: 100, keepAliveTimeout: 100 });
    const events = await recordUntilClose(ws);
    assert.deepEqual(events.map(([t]) => t), ['open', 'error', 'close']);
    assert.match(events[1][2].message, /Pong frame/);
    assert.equal(events[2][2].code, 1006);
  } finally {
    await srv.close();
  }
});

test('handshakeTimeout: a server that never answers the request', async () => {
  const srv = await rawServer(async (c) => { await c.next(); });
  try {
    const ws = new WebSocket(srv.url, { handshakeTimeout: 200 });
    const events = await recordUntilClose(ws);
    assert.deepEqual(events.map(([t, rs]) => [t, rs]), [['error', 3], ['close', 3]]);
    assert.equal(events[0][2].code, 'Timeout');
  } finally {
    await srv.close();
  }
});

test('a Blob that cannot be read fails the connection (the messages after it are not sent)', async () => {
  const srv = await rawServer(async (c) => {
    c.accept();
    const got = [];
    for (;;) {
      const f = await c.next();
      if (f.end) break;
      got.push(f.opcode);
    }
    srv.got = got;
  });
  try {
    class UnreadableBlob extends Blob {
      arrayBuffer() {
        return Promise.reject(new Error('the file behind this Blob changed'));
      }
    }
    const ws = new WebSocket(srv.url);
    await next(ws, 'open');
    const events = recordUntilClose(ws);
    ws.send(new UnreadableBlob(['x']));
    ws.send('after the blob');
    const got = await events;
    assert.deepEqual(got.map(([t]) => t), ['error', 'close']);
    assert.equal(got[0][2].message, 'the file behind this Blob changed');
    assert.deepEqual(got[1][2], { code: 1006, reason: '', wasClean: false });
    await within(5000, srv.connections[0].done, 'the server');
    assert.deepEqual(srv.got, []);
  } finally {
    await srv.close();
  }
});
