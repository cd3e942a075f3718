'use strict';
// WebSocketStream (npm/lib/websocket_stream.js): the WHATWG streams-based
// WebSocket over the engine. Echo of every kind of message, the close code
// and reason both ways, cancel / abort with a reason, the AbortSignal and
// close() during the handshake, subprotocols, an unclean end, the server
// direction (WebSocketStream.from), and backpressure in both directions shown
// by counting bytes against a bound computed from the kernel's socket buffer
// limits. Every server binds 127.0.0.1.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const crypto = require('node:crypto');
const { sockweave, within, echo, sleep } = require('./helpers.js');
const { rawServer, frame } = require('./raw_peer.js');

const { WebSocketStream, WebSocketError, ClientWebSocket, acceptUpgrade } = sockweave;

/** A node:http server whose upgrades are accepted with `options` and echoed; `ends` gets each server socket's close status. */
async function echoServer(options = {}) {
  const server = http.createServer();
  const ends = [];
  server.on('upgrade', (req, socket, head) => {
    acceptUpgrade(req, socket, head, options)
      .then(async (ws) => {
        await echo(ws);
        const info = await ws.closed;
        ends.push({ status: ws.closeStatus, description: ws.closeStatusDescription, wasClean: info.wasClean });
      })
      .catch(() => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `ws://127.0.0.1:${server.address().port}`, ends, close: () => new Promise((r) => server.close(r)) };
}

/** A WebSocketError of the spec's shape (a DOMException named WebSocketError with closeCode and reason), as undici and browsers make. */
class SpecWebSocketError extends DOMException {
  constructor(message, { closeCode = null, reason = '' } = {}) {
    super(message, 'WebSocketError');
    Object.defineProperty(this, 'closeCode', { value: closeCode });
    Object.defineProperty(this, 'reason', { value: reason });
  }
}

/** The most a socket buffer can grow to: tcp_rmem / tcp_wmem's maximum (bytes). */
function kernelBufferMax(name) {
  const text = fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8');
  const max = Number(text.trim().split(/\s+/)[2]);
  assert.ok(Number.isFinite(max) && max > 0, `cannot read ${name}`);
  return max;
}

/**
 * Waits until `stalled()` has held with `sample()` unchanged for 20 looks in
 * a row, or `finished()` (a producer that was never held back). Returns the
 * last sample. The assertions on it are about bytes, never about time: with
 * working backpressure the count is below the bound at every moment.
 */
async function untilStalled(sample, stalled, finished) {
  let last = -1;
  let same = 0;
  for (;;) {
    await sleep(50);
    const v = sample();
    if (finished()) return v;
    if (stalled() && v === last) {
      same += 1;
      if (same >= 20) return v;
    } else {
      same = 0;
    }
    last = v;
  }
}

/** Message `i` of the backpressure tests: `size` bytes, `i` in the first 4, the rest from `base` at an offset depending on `i`. */
function payload(base, i, size) {
  const p = Buffer.from(base.subarray((i * 13) % 4096, (i * 13) % 4096 + size));
  p.writeUInt32BE(i, 0);
  return p;
}

function checkPayload(base, i, size, got) {
  const b = Buffer.from(got.buffer, got.byteOffset, got.byteLength);
  assert.equal(b.length, size, `message ${i}: length`);
  assert.equal(b.readUInt32BE(0), i, `message ${i} arrived in order`);
  const start = (i * 13) % 4096;
  assert.ok(b.subarray(4).equals(base.subarray(start + 4, start + size)), `message ${i}: every byte`);
}

test('the class: exports, url, argument errors', async () => {
  assert.equal(typeof WebSocketStream, 'function');
  assert.equal(Object.prototype.toString.call(WebSocketStream.prototype), '[object WebSocketStream]');
  assert.throws(() => new WebSocketStream(), TypeError);
  assert.throws(() => new WebSocketStream('ftp://127.0.0.1/'), (e) => e instanceof DOMException && e.name === 'SyntaxError');
  assert.throws(() => new WebSocketStream('ws://127.0.0.1/#x'), (e) => e instanceof DOMException && e.name === 'SyntaxError');
  assert.throws(() => new WebSocketStream('ws://127.0.0.1:1/', { protocols: ['a', 'a'] }),
    (e) => e instanceof DOMException && e.name === 'SyntaxError');
  assert.throws(() => new WebSocketStream('ws://127.0.0.1:1/', { protocols: 'a' }), TypeError);
  assert.throws(() => new WebSocketStream('ws://127.0.0.1:1/', { subProtocols: ['a'] }), (e) => e instanceof TypeError && /protocols/.test(e.message));
  assert.throws(() => new WebSocketStream('ws://127.0.0.1:1/', { signal: {} }), TypeError);
  assert.throws(() => new WebSocketStream('ws://127.0.0.1:1/', { keepAliveIntervall: 1 }),
    (e) => e instanceof WebSocketError && e.code === 'InvalidArgument' && e.key === 'keepAliveIntervall');
  assert.throws(() => WebSocketStream.from({}), TypeError);

  const srv = await echoServer();
  try {
    const wss = new WebSocketStream(`${srv.url.replace('ws:', 'http:')}/path?q=1`);
    assert.equal(wss.url, `${srv.url}/path?q=1`);
    await within(5000, wss.opened, 'opened');
    assert.throws(() => wss.close(true), TypeError);
    assert.throws(() => wss.close({ closeCode: 1001 }), (e) => e instanceof DOMException && e.name === 'InvalidAccessError');
    assert.throws(() => wss.close({ closeCode: 2999 }), (e) => e instanceof DOMException && e.name === 'InvalidAccessError');
    assert.throws(() => wss.close({ closeCode: 70000 }), TypeError);
    assert.throws(() => wss.close({ reason: 'x'.repeat(124) }), (e) => e instanceof DOMException && e.name === 'SyntaxError');
    wss.close({ closeCode: 1000 });
    assert.deepEqual(await within(5000, wss.closed, 'closed'), { closeCode: 1000, reason: '' });
  } finally {
    await srv.close();
  }
});

test('echo: text, binary (ArrayBuffer, views, Buffer), empty, 1 MiB; strings and plain Uint8Arrays come back', async () => {
  const srv = await echoServer();
  try {
    const wss = new WebSocketStream(srv.url);
    const { readable, writable, protocol, extensions } = await within(5000, wss.opened, 'opened');
    assert.equal(protocol, '');
    assert.equal(extensions, '');
    const reader = readable.getReader();
    const writer = writable.getWriter();
    const big = crypto.randomBytes(1 << 20);
    const bigText = 'sockweave stream '.repeat(70000).slice(0, 1 << 20);
    const sent = ['hello, streams', new Uint8Array([0, 1, 2, 255]), new Uint16Array([1, 0xffff]).buffer,
      new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2), '', new Uint8Array(0), new ArrayBuffer(0), big, bigText,
      'ünïcödé ✓ 𝄞'];
    const writes = sent.map((c) => writer.write(c));
    await within(10000, Promise.all(writes), 'the writes');
    const expect = (c) => {
      if (typeof c === 'string') return c;
      if (c instanceof ArrayBuffer) return new Uint8Array(c);
      return new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
    };
    for (const c of sent) {
      const { value, done } = await within(10000, reader.read(), 'read');
      assert.equal(done, false);
      const want = expect(c);
      if (typeof want === 'string') {
        assert.equal(typeof value, 'string');
        assert.equal(value, want);
      } else {
        assert.equal(Object.getPrototypeOf(value), Uint8Array.prototype, 'binary is a plain Uint8Array');
        assert.equal(value.byteOffset, 0);
        assert.equal(value.buffer.byteLength, value.length, 'the Uint8Array owns its buffer');
        assert.ok(Buffer.from(value.buffer, value.byteOffset, value.length).equals(Buffer.from(want)), `binary of ${want.length} bytes`);
      }
    }
    // Other values are sent as their string (the spec's DOMString conversion).
    await writer.write(42);
    assert.deepEqual(await reader.read(), { value: '42', done: false });
    // A chunk changed after write() was called is sent as it was then.
    const mutable = new Uint8Array([1, 2, 3]);
    const w = writer.write(mutable);
    mutable[0] = 99;
    await w;
    assert.deepEqual(Array.from((await reader.read()).value), [1, 2, 3]);
    writer.releaseLock();
    reader.releaseLock();
    wss.close({ closeCode: 4000, reason: 'done' });
    // The echo server answers with the status (its iteration's answer has no reason).
    assert.deepEqual(await within(5000, wss.closed, 'closed'), { closeCode: 4000, reason: '' });
    assert.deepEqual(await readable.getReader().read(), { value: undefined, done: true });
    await assert.rejects(writable.getWriter().write('late'), (e) => e instanceof DOMException && e.name === 'InvalidStateError');
    await within(5000, (async () => { while (!srv.ends.length) await sleep(10); })(), 'the server end');
    assert.deepEqual(srv.ends, [{ status: 4000, description: 'done', wasClean: true }]);
  } finally {
    await srv.close();
  }
});

test('closed resolves with the server\'s code and reason; the readable ends after every message', async () => {
  const srv = await rawServer(async (conn) => {
    conn.accept();
    const f = await conn.next();
    conn.frame(0x1, `got ${f.payload}`);
    conn.frame(0x2, Buffer.from([1, 2]));
    conn.closeFrame(4321, 'server says bye');
    const answer = await conn.next();
    conn.answer = answer;
    conn.end();
  });
  try {
    const wss = new WebSocketStream(srv.url);
    const { readable, writable } = await within(5000, wss.opened, 'opened');
    const writer = writable.getWriter();
    await writer.write('x');
    const got = [];
    for await (const m of readable) got.push(typeof m === 'string' ? m : Array.from(m));
    assert.deepEqual(got, ['got x', [1, 2]]);
    assert.deepEqual(await within(5000, wss.closed, 'closed'), { closeCode: 4321, reason: 'server says bye' });
    await srv.connections[0].done;
    // The engine answered the server's Close with its status.
    assert.equal(srv.connections[0].answer.opcode, 0x8);
    assert.equal(srv.connections[0].answer.code, 4321);
    await assert.rejects(writer.write('late'), (e) => e instanceof DOMException && e.name === 'InvalidStateError');
    assert.deepEqual(srv.errors, []);
  } finally {
    await srv.close();
  }
});

test('close(): the code and reason the server sees; no code; a reason alone means 1000; messages after close() are dropped', async () => {
  const seen = [];
  const srv = await rawServer(async (conn) => {
    conn.accept();
    const mode = conn.request.path;
    if (mode === '/late') {
      // Messages sent after the client's close() was called are not delivered.
      const hello = await conn.next();
      assert.equal(String(hello.payload), 'ready');
      conn.frame(0x1, 'before');
      const f = await conn.next(); // the client's Close
      conn.frame(0x1, 'after the client\'s close');
      seen.push({ path: mode, code: f.code, reason: f.reason, opcode: f.opcode });
      conn.closeFrame(f.code, f.reason);
    } else {
      const f = await conn.next();
      seen.push({ path: mode, code: f.code, reason: f.reason, opcode: f.opcode });
      conn.closeFrame(f.code, f.reason);
    }
    conn.end();
  });
  try {
    const cases = [
      ['/code', { closeCode: 4001, reason: 'client done' }, { closeCode: 4001, reason: 'client done' }],
      ['/none', undefined, { closeCode: 1005, reason: '' }],
      ['/empty', {}, { closeCode: 1005, reason: '' }],
      ['/reason', { reason: 'only a reason' }, { closeCode: 1000, reason: 'only a reason' }],
    ];
    for (const [path, info, want] of cases) {
      const wss = new WebSocketStream(`${srv.url}${path}`);
      await within(5000, wss.opened, 'opened');
      wss.close(info);
      wss.close({ closeCode: 4999 }); // a second close does nothing
      assert.deepEqual(await within(5000, wss.closed, `closed ${path}`), want);
    }
    const wss = new WebSocketStream(`${srv.url}/late`);
    const { readable, writable } = await within(5000, wss.opened, 'opened');
    const reader = readable.getReader();
    const writer = writable.getWriter();
    await writer.write('ready');
    assert.deepEqual(await reader.read(), { value: 'before', done: false });
    wss.close({ closeCode: 3000, reason: 'r' });
    await assert.rejects(writer.write('after close'), (e) => e instanceof DOMException && e.name === 'InvalidStateError');
    assert.deepEqual(await within(5000, reader.read(), 'read after close'), { value: undefined, done: true });
    assert.deepEqual(await within(5000, wss.closed, 'closed'), { closeCode: 3000, reason: 'r' });
    assert.deepEqual(seen, [
      { path: '/code', code: 4001, reason: 'client done', opcode: 8 },
      { path: '/none', code: undefined, reason: '', opcode: 8 },
      { path: '/empty', code: undefined, reason: '', opcode: 8 },
      { path: '/reason', code: 1000, reason: 'only a reason', opcode: 8 },
      { path: '/late', code: 3000, reason: 'r', opcode: 8 },
    ]);
    assert.deepEqual(srv.errors, []);
  } finally {
    await srv.close();
  }
});

test('cancel / abort: a WebSocketError reason gives the code, anything else none; writable close() waits for the handshake', async () => {
  const seen = [];
  const srv = await rawServer(async (conn) => {
    conn.accept();
    let f = await conn.next();
    while (f.opcode === 0x1) {
      conn.frame(0x1, f.payload); // echo text until the Close
      f = await conn.next();
    }
    seen.push(`${conn.request.path} ${f.opcode} ${f.code} ${JSON.stringify(f.reason)}`);
    if (conn.request.path === '/writer-close') {
      // The writable's close() settles only once our answer came.
      conn.wait = new Promise((r) => { conn.release = r; });
      await conn.wait;
    }
    conn.closeFrame(f.code, f.reason);
    conn.end();
  });
  try {
    const run = async (path, act, want) => {
      const wss = new WebSocketStream(`${srv.url}${path}`);
      const info = await within(5000, wss.opened, 'opened');
      await act(info);
      assert.deepEqual(await within(5000, wss.closed, `closed ${path}`), want);
    };
    await run('/cancel-spec', (i) => i.readable.cancel(new SpecWebSocketError('stop', { closeCode: 4100, reason: 'cancelled' })),
      { closeCode: 4100, reason: 'cancelled' });
    await run('/abort-spec', (i) => i.writable.abort(new SpecWebSocketError('stop', { closeCode: 4200, reason: 'aborted' })),
      { closeCode: 4200, reason: 'aborted' });
    await run('/abort-sockweave', (i) => i.writable.abort(new WebSocketError('Faulted', 'x', { closeCode: 4300, reason: 'ours' })),
      { closeCode: 4300, reason: 'ours' });
    await run('/cancel-plain', (i) => i.readable.cancel({ closeCode: 4400, reason: 'ignored' }), { closeCode: 1005, reason: '' });
    await run('/abort-none', (i) => i.writable.abort(), { closeCode: 1005, reason: '' });
    await run('/cancel-invalid', (i) => i.readable.cancel(new SpecWebSocketError('x', { closeCode: 1001, reason: 'bad code' })),
      { closeCode: 1005, reason: '' });
    await run('/iterate-break', async (i) => {
      // Breaking out of an iteration cancels the readable.
      const writer = i.writable.getWriter();
      await writer.write('one');
      writer.releaseLock();
      for await (const _ of i.readable) break;
    }, { closeCode: 1005, reason: '' });

    const wss = new WebSocketStream(`${srv.url}/writer-close`);
    const { writable } = await within(5000, wss.opened, 'opened');
    let closeSettled = false;
    const closing = writable.getWriter().close().then(() => { closeSettled = true; });
    await within(5000, (async () => { while (!srv.connections.at(-1).release) await sleep(10); })(), 'the server sees the Close');
    assert.equal(closeSettled, false, 'the writable close() waits for the server\'s Close');
    srv.connections.at(-1).release();
    await within(5000, closing, 'writable close');
    assert.deepEqual(await wss.closed, { closeCode: 1005, reason: '' });
    assert.deepEqual(seen, [
      '/cancel-spec 8 4100 "cancelled"',
      '/abort-spec 8 4200 "aborted"',
      '/abort-sockweave 8 4300 "ours"',
      '/cancel-plain 8 undefined ""',
      '/abort-none 8 undefined ""',
      '/cancel-invalid 8 undefined ""',
      '/iterate-break 8 undefined ""',
      '/writer-close 8 undefined ""',
    ]);
    assert.deepEqual(srv.errors, []);
  } finally {
    await srv.close();
  }
});

test('the signal aborts the handshake: opened and closed reject with its reason; close() while connecting', async () => {
  const srv = await rawServer(async (conn) => {
    // Never answers: the client is aborted while waiting for the 101 (its socket ends).
    await new Promise((r) => { conn.socket.once('end', r); conn.socket.once('close', r); });
  });
  try {
    // Already aborted: nothing is opened.
    const pre = AbortSignal.abort(new Error('not today'));
    const a = new WebSocketStream(srv.url, { signal: pre });
    await assert.rejects(a.opened, (e) => e === pre.reason);
    await assert.rejects(a.closed, (e) => e === pre.reason);
    a.close(); // does nothing

    // Aborted during the handshake: the socket is closed, both promises reject with the reason.
    const ac = new AbortController();
    const b = new WebSocketStream(srv.url, { signal: ac.signal });
    await within(5000, (async () => { while (srv.connections.length < 1) await sleep(10); })(), 'the request');
    const reason = new Error('give up');
    ac.abort(reason);
    await assert.rejects(within(5000, b.opened, 'opened'), (e) => e === reason);
    await assert.rejects(b.closed, (e) => e === reason);
    await within(5000, srv.connections[0].done, 'the server sees the socket close');

    // close() while connecting abandons the attempt.
    const c = new WebSocketStream(srv.url);
    await within(5000, (async () => { while (srv.connections.length < 2) await sleep(10); })(), 'the second request');
    c.close({ closeCode: 1000 });
    await assert.rejects(within(5000, c.opened, 'opened'),
      (e) => e instanceof WebSocketError && e.code === 'InvalidState' && e.closeCode === 1006);
    await assert.rejects(c.closed, (e) => e instanceof WebSocketError && e.closeCode === 1006);
    await within(5000, srv.connections[1].done, 'the server sees the socket close');

    // A signal aborted after the handshake does nothing.
    const srv2 = await echoServer();
    try {
      const ac2 = new AbortController();
      const d = new WebSocketStream(srv2.url, { signal: ac2.signal });
      const { readable, writable } = await within(5000, d.opened, 'opened');
      ac2.abort();
      const w = writable.getWriter();
      await w.write('still open');
      assert.deepEqual(await readable.getReader().read(), { value: 'still open', done: false });
      d.close();
      // The echo server answers a Close without a status with 1000 (the engine's rule).
      assert.deepEqual(await within(5000, d.closed, 'closed'), { closeCode: 1000, reason: '' });
    } finally {
      await srv2.close();
    }
  } finally {
    await srv.close();
  }
});

test('a refused connection rejects opened and closed with the WebSocketError', async () => {
  const srv = await rawServer(async (conn) => {
    conn.respond('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    conn.end();
  });
  try {
    const wss = new WebSocketStream(srv.url);
    await assert.rejects(within(5000, wss.opened, 'opened'),
      (e) => e instanceof WebSocketError && e.response && e.response.status === 403 && e.closeCode === 1006);
    await assert.rejects(wss.closed, (e) => e instanceof WebSocketError && e.response.status === 403);
  } finally {
    await srv.close();
  }
});

test('subprotocols and extensions: protocol and extensions of opened', async () => {
  const srv = await echoServer({ subProtocols: ['v2.chat', 'v1.chat'], dangerousDeflateOptions: {} });
  try {
    const a = new WebSocketStream(srv.url, { protocols: ['v1.chat', 'v2.chat'] });
    const ia = await within(5000, a.opened, 'opened');
    assert.equal(ia.protocol, 'v2.chat', 'the server picks from its own preference order');
    assert.equal(ia.extensions, '', 'no permessage-deflate unless asked for');
    a.close();
    await within(5000, a.closed, 'closed');

    const b = new WebSocketStream(srv.url, { protocols: ['v1.chat'], dangerousDeflateOptions: { clientMaxWindowBits: 10 } });
    const ib = await within(5000, b.opened, 'opened');
    assert.equal(ib.protocol, 'v1.chat');
    assert.match(ib.extensions, /^permessage-deflate/);
    const w = ib.writable.getWriter();
    const text = 'compressible '.repeat(10000);
    await w.write(text);
    assert.deepEqual(await ib.readable.getReader().read(), { value: text, done: false });
    b.close();
    await within(5000, b.closed, 'closed');

    const c = new WebSocketStream(srv.url, { protocols: ['none.of.those'] });
    assert.equal((await within(5000, c.opened, 'opened')).protocol, '');
    c.close();
    await within(5000, c.closed, 'closed');
  } finally {
    await srv.close();
  }
});

test('an unclean end: closed rejects with a WebSocketError (closeCode 1006), the streams error', async () => {
  const srv = await rawServer(async (conn) => {
    conn.accept();
    conn.frame(0x1, 'then nothing');
    await conn.next();
    conn.destroy();
  });
  try {
    const wss = new WebSocketStream(srv.url);
    const { readable, writable } = await within(5000, wss.opened, 'opened');
    const reader = readable.getReader();
    assert.deepEqual(await reader.read(), { value: 'then nothing', done: false });
    await writable.getWriter().write('bye?');
    const isUnclean = (e) => e instanceof WebSocketError && e.closeCode === 1006 && e.reason === '';
    await assert.rejects(within(5000, wss.closed, 'closed'), isUnclean);
    await assert.rejects(reader.read(), isUnclean);
  } finally {
    await srv.close();
  }
});

test('a protocol error: closed rejects with the engine\'s WebSocketError (closeCode 1002)', async () => {
  const srv = await rawServer(async (conn) => {
    conn.accept();
    conn.frame(0x1, 'bad', { rsv: 4 }); // RSV1 without an extension
    await conn.untilClose();
    conn.end();
  });
  try {
    const wss = new WebSocketStream(srv.url);
    const { readable } = await within(5000, wss.opened, 'opened');
    const reader = readable.getReader();
    const failed = (e) => e instanceof WebSocketError && e.closeCode === 1002;
    await assert.rejects(within(5000, reader.read(), 'read'), failed);
    await assert.rejects(wss.closed, failed);
  } finally {
    await srv.close();
  }
});

test('the server direction: WebSocketStream.from(acceptUpgrade(...)) echoes with pipeTo; both closed promises', async () => {
  const server = http.createServer();
  const serverStreams = [];
  server.on('upgrade', (req, socket, head) => {
    acceptUpgrade(req, socket, head, { subProtocols: ['echo'] }).then(async (ws) => {
      const wss = WebSocketStream.from(ws);
      serverStreams.push(wss);
      const { readable, writable, protocol } = await wss.opened;
      assert.equal(protocol, 'echo');
      assert.equal(wss.url, '');
      await readable.pipeTo(writable).catch(() => {});
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `ws://127.0.0.1:${server.address().port}`;
    const wss = new WebSocketStream(url, { protocols: ['echo'] });
    const { readable, writable } = await within(5000, wss.opened, 'opened');
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const msgs = ['a', new Uint8Array([1, 2, 3]), 'c'.repeat(100000), crypto.randomBytes(300000)];
    for (const m of msgs) await writer.write(m);
    for (const m of msgs) {
      const { value } = await within(5000, reader.read(), 'echo');
      if (typeof m === 'string') assert.equal(value, m);
      else assert.ok(Buffer.from(value).equals(Buffer.from(m)));
    }
    wss.close({ closeCode: 4500, reason: 'enough' });
    // The server's readable gets our Close, which the engine answers with its status (no reason).
    assert.deepEqual(await within(5000, wss.closed, 'client closed'), { closeCode: 4500, reason: '' });
    assert.deepEqual(await within(5000, serverStreams[0].closed, 'server closed'), { closeCode: 4500, reason: 'enough' });

    // from() over a connected ClientWebSocket; from() of a closed socket throws.
    const cws = new ClientWebSocket({ subProtocols: ['echo'] });
    await cws.connect(url);
    const s2 = WebSocketStream.from(cws);
    const o2 = await s2.opened;
    assert.equal(o2.protocol, 'echo');
    await o2.writable.getWriter().write('via from');
    assert.deepEqual(await o2.readable.getReader().read(), { value: 'via from', done: false });
    s2.close({ closeCode: 1000, reason: 'ok' });
    assert.deepEqual(await within(5000, s2.closed, 'closed'), { closeCode: 1000, reason: '' });
    assert.throws(() => WebSocketStream.from(cws), (e) => e instanceof WebSocketError && e.code === 'InvalidState');
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('backpressure, read side: a reader that does not read stops the server\'s writes; then every byte arrives in order', async (t) => {
  const SIZE = 64 * 1024;
  const COUNT = 4096; // 256 MiB attempted
  const base = crypto.randomBytes(SIZE + 4096);
  const header = frame(0x2, Buffer.alloc(SIZE)).subarray(0, 10);
  const state = { written: 0, handed: 0, waitingDrain: false, allWritten: false };
  const srv = await rawServer(async (conn) => {
    conn.accept();
    const s = conn.socket;
    for (let i = 0; i < COUNT; i++) {
      const f = Buffer.concat([header, payload(base, i, SIZE)]);
      state.handed += f.length;
      // The callback runs once the kernel took the whole frame.
      const ok = s.write(f, (err) => { if (!err) state.written += f.length; });
      if (!ok) {
        state.waitingDrain = true;
        await new Promise((r) => s.once('drain', r));
        state.waitingDrain = false;
      }
    }
    state.allWritten = true;
    conn.closeFrame(1000, 'all sent');
    const rest = await conn.untilClose();
    conn.answer = rest.at(-1);
    conn.end();
  });
  try {
    const wss = new WebSocketStream(srv.url);
    const { readable } = await within(5000, wss.opened, 'opened');
    const reader = readable.getReader();
    const stalledAt = await within(120000, untilStalled(() => state.written, () => state.waitingDrain, () => state.allWritten),
      'the server\'s writes to stall');
    const recvBuf = sockweave.normalizeOptions({}).receiveBufferSize;
    // The client's kernel receive buffer, the server's kernel send buffer, the engine's receive buffer,
    // Node's read buffer and a chunk read ahead, the message being assembled and the one queued in the readable.
    const bound = kernelBufferMax('tcp_rmem') + kernelBufferMax('tcp_wmem') + recvBuf + 16 * 1024 + 2 * 64 * 1024
      + 2 * (SIZE + 14) + 256 * 1024;
    const attempted = COUNT * (SIZE + 10);
    t.diagnostic(`read side: the server wrote ${state.written} bytes to the kernel (${state.handed} handed to Node) `
      + `of ${attempted} attempted before stalling; bound ${bound}`);
    assert.equal(state.allWritten, false, 'the server could not write everything while the reader did not read');
    assert.equal(state.waitingDrain, true);
    assert.ok(stalledAt <= bound, `the server wrote ${stalledAt} bytes, above the bound ${bound}`);
    assert.ok(bound < attempted / 4);

    // Now read: every message, in order, byte for byte.
    for (let i = 0; i < COUNT; i++) {
      const { value, done } = await within(30000, reader.read(), `message ${i}`);
      assert.equal(done, false);
      checkPayload(base, i, SIZE, value);
    }
    assert.deepEqual(await within(10000, reader.read(), 'the end'), { value: undefined, done: true });
    assert.deepEqual(await within(10000, wss.closed, 'closed'), { closeCode: 1000, reason: 'all sent' });
    await srv.connections[0].done;
    assert.equal(srv.connections[0].answer.code, 1000);
    assert.equal(state.written, attempted, 'the server wrote everything once the reader read');
    assert.deepEqual(srv.errors, []);
  } finally {
    await srv.close();
  }
});

test('backpressure, write side: writes stop resolving while the server does not read; then all complete in order', async (t) => {
  const SIZE = 64 * 1024;
  const COUNT = 4096; // 256 MiB attempted
  const base = crypto.randomBytes(SIZE + 4096);
  let release;
  const released = new Promise((r) => { release = r; });
  const got = { messages: 0, bad: null };
  const srv = await rawServer(async (conn) => {
    conn.accept();
    conn.pause(); // read nothing until released
    await released;
    conn.resume();
    for (;;) {
      const f = await conn.next();
      if (f.end) throw new Error('the client ended before its Close');
      if (f.opcode === 0x8) {
        conn.closeFrame(f.code, f.reason);
        conn.end();
        return;
      }
      if (!got.bad) {
        try {
          assert.equal(f.opcode, 0x2);
          checkPayload(base, got.messages, SIZE, f.payload);
        } catch (e) {
          got.bad = e;
        }
      }
      got.messages += 1;
    }
  });
  try {
    const wss = new WebSocketStream(srv.url);
    const { writable } = await within(5000, wss.opened, 'opened');
    const writer = writable.getWriter();
    const state = { accepted: 0, resolved: 0, waiting: false, done: false };
    const writing = (async () => {
      const pending = [];
      for (let i = 0; i < COUNT; i++) {
        state.waiting = true;
        await writer.ready;
        state.waiting = false;
        const p = payload(base, i, SIZE);
        pending.push(writer.write(p).then(() => {
          state.accepted += p.length;
          state.resolved += 1;
        }));
      }
      await Promise.all(pending);
      state.done = true;
    })();
    writing.catch(() => {});
    const stalledAt = await within(120000, untilStalled(() => state.accepted, () => state.waiting, () => state.done),
      'the writes to stall');
    const maxPending = sockweave.normalizeOptions({}).maxPendingOutput;
    // The client's kernel send buffer, the server's kernel receive buffer, the engine's output under
    // maxPendingOutput, Node's write buffer (one output batch and its high-water mark) and the message in hand.
    const bound = kernelBufferMax('tcp_wmem') + kernelBufferMax('tcp_rmem') + 2 * (maxPending + SIZE + 14) + 16 * 1024
      + (SIZE + 14) + 256 * 1024;
    const attempted = COUNT * SIZE;
    t.diagnostic(`write side: ${state.resolved} writes (${stalledAt} bytes) resolved of ${COUNT} (${attempted} bytes) `
      + `while the server did not read; bound ${bound}`);
    assert.equal(state.done, false, 'not every write resolved while the server did not read');
    assert.equal(state.waiting, true, 'the writer waits on ready');
    assert.ok(stalledAt <= bound, `${stalledAt} bytes were accepted, above the bound ${bound}`);
    assert.ok(bound < attempted / 4);
    assert.ok(writer.desiredSize <= 0);

    release();
    await within(120000, writing, 'every write');
    assert.equal(state.resolved, COUNT);
    await within(10000, writer.close(), 'the writable close');
    assert.deepEqual(await within(10000, wss.closed, 'closed'), { closeCode: 1005, reason: '' });
    await srv.connections[0].done;
    if (got.bad) throw got.bad;
    assert.equal(got.messages, COUNT);
    assert.deepEqual(srv.errors, []);
  } finally {
    await srv.close();
  }
});
