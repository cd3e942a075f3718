'use strict';
// The connection's life over real loopback sockets, with raw peers written
// byte by byte: the close rules of tests/vectors/lifecycle.json (which
// lifecycle.test.js runs on a scripted transport) seen on the wire, the rules
// that need overlapping calls, AbortSignal, ClientWebSocket#connect's
// failures, and a PING flood's memory. The twin of
// native/tests/lifecycle_sockets.rs and native/tests/ping_flood.rs.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const http = require('node:http');
const crypto = require('node:crypto');
const { sockweave, wasm, tcpPair, within, echo, sleep } = require('./helpers.js');

const { ClientWebSocket, ManagedWebSocket, acceptUpgrade } = sockweave;

function serverFrame(op, payload = Buffer.alloc(0)) {
  assert.ok(payload.length < 126);
  return Buffer.concat([Buffer.from([0x80 | op, payload.length]), payload]);
}

function maskedFrame(op, payload = Buffer.alloc(0)) {
  assert.ok(payload.length < 126);
  const key = Buffer.from([9, 8, 7, 6]);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from([0x80 | op, 0x80 | payload.length]), key, body]);
}

function closePayload(code, reason = '') {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}

/** Parses masked client frames: [{op, payload}]. */
function clientFrames(bytes) {
  const out = [];
  let p = 0;
  while (p + 6 <= bytes.length) {
    const len = bytes[p + 1] & 0x7f;
    assert.ok(len < 126 && (bytes[p + 1] & 0x80));
    const key = bytes.subarray(p + 2, p + 6);
    const payload = Buffer.from(bytes.subarray(p + 6, p + 6 + len).map((b, i) => b ^ key[i % 4]));
    out.push({ op: bytes[p] & 0x0f, payload });
    p += 6 + len;
  }
  return out;
}

/**
 * A raw server: answers the handshake (with `protocol` if given), writes
 * `frames`, half-closes if asked, and resolves `received` with every byte
 * the client sent after its request, once the client ends.
 */
async function rawServer(frames, { halfClose = false, protocol } = {}) {
  let resolveReceived;
  const received = new Promise((r) => { resolveReceived = r; });
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    let head = Buffer.alloc(0);
    let after = [];
    let answered = false;
    sock.on('data', (c) => {
      if (answered) {
        after.push(c);
        return;
      }
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      answered = true;
      after.push(head.subarray(end + 4));
      const key = /sec-websocket-key: *(\S+)/i.exec(head.toString())[1];
      const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Accept: ${accept}\r\n${protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : ''}\r\n`);
      sock.write(frames);
      if (halfClose) sock.end();
    });
    sock.on('end', () => {
      resolveReceived(Buffer.concat(after));
      if (!halfClose) sock.end();
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `ws://127.0.0.1:${server.address().port}/`, received, close: () => server.close() };
}

async function npmEchoServer(options) {
  const server = http.createServer();
  const sockets = [];
  server.on('upgrade', (req, sock, head) => {
    sockets.push(sock);
    acceptUpgrade(req, sock, head, options || {}).then(echo).catch(() => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, sockets, url: `ws://127.0.0.1:${server.address().port}/` };
}

test('a server that sends its Close and half-closes gets our Close answer (RFC 6455 5.5.1)', async () => {
  const peer = await rawServer(serverFrame(8, closePayload(1000, 'bye')), { halfClose: true });
  try {
    const c = new ClientWebSocket({ keepAliveInterval: 0 });
    await c.connect(peer.url);
    const r = await within(5000, c.receive(), 'receive');
    assert.equal(r.messageType, 'close');
    assert.equal(c.state, 'CloseReceived');
    await c.close();
    assert.equal(c.state, 'Closed');
    const frames = clientFrames(await within(5000, peer.received, 'the client\'s end'));
    assert.deepEqual(frames.map((f) => [f.op, f.payload.toString('hex')]), [[8, closePayload(1000).toString('hex')]]);
    const ev = await within(5000, c.closed, 'closed');
    assert.deepEqual(ev, { code: 1000, reason: 'bye', wasClean: true });
  } finally {
    peer.close();
  }
});

test('the state follows what receive returned, not what was read', async () => {
  const frames = Buffer.concat([serverFrame(1, Buffer.from('a')), serverFrame(1, Buffer.from('b')), serverFrame(8, closePayload(1001))]);
  const peer = await rawServer(frames, { halfClose: true });
  try {
    const c = new ClientWebSocket({ keepAliveInterval: 0 });
    await c.connect(peer.url);
    await sleep(100); // the driver reads all of it meanwhile
    const seen = [];
    while (c.state === 'Open') {
      const r = await within(5000, c.receive(), 'receive');
      seen.push(r.messageType === 'close' ? `close ${r.closeStatus}` : r.data.toString());
    }
    assert.deepEqual(seen, ['a', 'b', 'close 1001']);
    assert.equal(c.state, 'CloseReceived');
    await c.closeOutput(1001);
    assert.equal(clientFrames(await peer.received).length, 1);
  } finally {
    peer.close();
  }
});

test('close() leaves every message and the Close to a receive pending meanwhile', async () => {
  const srv = await npmEchoServer();
  try {
    const c = new ClientWebSocket();
    await c.connect(srv.url);
    const got = [];
    const receiving = (async () => {
      for (;;) {
        const r = await c.receive();
        got.push(r.messageType === 'close' ? 'close' : r.data.toString());
        if (r.messageType === 'close') return;
      }
    })();
    await c.send('one');
    await c.send('two');
    await within(5000, c.close(1000, 'bye'), 'close');
    assert.equal(c.state, 'Closed');
    await within(5000, receiving, 'the pending receive');
    assert.deepEqual(got, ['one', 'two', 'close']);
  } finally {
    srv.server.close();
  }
});

test('one receive at a time; a message in pieces takes no overlapping send; whole messages may overlap', async () => {
  const srv = await npmEchoServer();
  try {
    const c = new ClientWebSocket();
    await c.connect(srv.url);
    const first = c.receive();
    await assert.rejects(c.receive(), (e) => e.code === 'InvalidState' && /only one receive/.test(e.message));
    // Whole messages from several callers at once: each arrives whole.
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.send(`m${i}`)));
    const got = [(await first).data.toString()];
    while (got.length < 20) got.push((await c.receiveMessage()).text);
    assert.deepEqual(got.sort(), Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
    // A piece overlapping another send is refused, so nothing can join the message.
    const piece = c.send('p1-', { endOfMessage: false });
    await assert.rejects(c.send('x'), (e) => e.code === 'InvalidState');
    await assert.rejects(c.send('y', { endOfMessage: false }), (e) => e.code === 'InvalidState');
    await piece;
    await c.send('p2');
    assert.equal((await c.receiveMessage()).text, 'p1-p2');
    await c.close();
  } finally {
    srv.server.close();
  }
});

test('after abort() every call fails and nothing buffered is delivered', async () => {
  const peer = await rawServer(serverFrame(1, Buffer.from('buffered')));
  try {
    const c = new ClientWebSocket({ keepAliveInterval: 0 });
    await c.connect(peer.url);
    await sleep(50);
    c.abort();
    assert.equal(c.state, 'Aborted');
    await assert.rejects(c.receive(), (e) => e.code === 'InvalidState');
    await assert.rejects(c.send('x'), (e) => e.code === 'InvalidState');
    await assert.rejects(c.close(), (e) => e.code === 'InvalidState');
    const ev = await within(5000, c.closed, 'closed');
    assert.equal(ev.wasClean, false);
  } finally {
    peer.close();
  }
});

test('an AbortSignal aborts a pending receive, send or close (as cancelling does in .NET)', async () => {
  const peer = await rawServer(Buffer.alloc(0));
  try {
    const c = new ClientWebSocket({ keepAliveInterval: 0 });
    await c.connect(peer.url);
    const ac = new AbortController();
    const pending = c.receive(undefined, { signal: ac.signal });
    ac.abort(new Error('stop'));
    await assert.rejects(pending, /stop/);
    assert.equal(c.state, 'Aborted');
    await assert.rejects(c.send('x'), (e) => e.code === 'InvalidState');
    // An already aborted signal aborts at once.
    const d = new ClientWebSocket({ keepAliveInterval: 0 });
    await d.connect(peer.url);
    await assert.rejects(d.close(1000, '', { signal: AbortSignal.abort(new Error('now')) }), /now/);
    assert.equal(d.state, 'Aborted');
  } finally {
    peer.close();
  }
});

test('fromStream applies dangerousDeflateOptions: the frame on the wire is compressed', async () => {
  const [a, b] = await tcpPair();
  const ws = ManagedWebSocket.fromStream(a, { dangerousDeflateOptions: {} });
  const text = 'compress me '.repeat(1000);
  const head = new Promise((r) => b.once('data', r));
  await ws.send(text);
  const h = await within(5000, head, 'the frame');
  assert.equal(h[0], 0x80 | 0x40 | 0x1, 'FIN, RSV1 (compressed), text');
  assert.ok((h[1] & 0x7f) < 126, 'a short frame');
  ws.abort();
  b.destroy();
  // And two stream-created ends with the same options understand each other.
  const [x, y] = await tcpPair();
  const left = ManagedWebSocket.fromStream(x, { dangerousDeflateOptions: {} });
  const right = ManagedWebSocket.fromStream(y, { dangerousDeflateOptions: {}, isServer: true });
  await left.send(text);
  assert.equal((await within(5000, right.receiveMessage(), 'receive')).text, text);
  left.abort();
  right.abort();
});

test('a subprotocol answered in another case is accepted, reported as offered', async () => {
  const peer = await rawServer(Buffer.alloc(0), { protocol: 'Chat' });
  try {
    const c = new ClientWebSocket({ subProtocols: ['chat'], keepAliveInterval: 0 });
    await c.connect(peer.url);
    assert.equal(c.subProtocol, 'chat');
    c.abort();
  } finally {
    peer.close();
  }
});

test('connect: single use, Closed after a failure; a timeout or abort destroys the socket', async () => {
  // Nobody listens: the connect fails, the state is Closed, a second connect is refused.
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  const c = new ClientWebSocket();
  await assert.rejects(c.connect(`ws://127.0.0.1:${port}/`));
  assert.equal(c.state, 'Closed');
  await assert.rejects(c.connect(`ws://127.0.0.1:${port}/`), (e) => e.code === 'InvalidState');

  // A server that takes the TCP connection and never answers.
  let opened = 0;
  let closed = 0;
  const silent = net.createServer((sock) => {
    opened += 1;
    sock.resume(); // read (and drop) what comes, so the client's end is seen
    sock.on('close', () => { closed += 1; });
    sock.on('error', () => {});
  });
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${silent.address().port}/`;
  try {
    const t = new ClientWebSocket({ handshakeTimeout: 200 });
    await assert.rejects(t.connect(url), (e) => e.code === 'Timeout');
    assert.equal(t.state, 'Closed');
    const a = new ClientWebSocket();
    const connecting = a.connect(url);
    await sleep(50);
    assert.equal(a.state, 'Connecting');
    a.abort();
    await assert.rejects(connecting, (e) => e.code === 'InvalidState' && /aborted/.test(e.message));
    const ac = new AbortController();
    const signalled = new ClientWebSocket().connect(url, { signal: ac.signal });
    await sleep(50);
    ac.abort(new Error('user gave up'));
    await assert.rejects(signalled, /user gave up/);
    // Every socket of the three attempts was closed.
    for (let i = 0; i < 100 && closed < 3; i++) await sleep(20);
    assert.equal(opened, 3);
    assert.equal(closed, 3);
  } finally {
    silent.close();
  }
});

test('a PING flood from a peer that never reads keeps the wasm memory bounded', async () => {
  const srv = await npmEchoServer();
  try {
    const sock = net.connect(new URL(srv.url).port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    sock.pause(); // never read what the server writes
    const ping = maskedFrame(9, Buffer.alloc(125, 0x55));
    const chunk = Buffer.concat(Array.from({ length: 8192 }, () => ping)); // 1 MiB
    await sleep(50);
    const before = wasm.memoryBytes();
    let sent = 0;
    const FLOOD = 64 << 20;
    while (sent < FLOOD) {
      if (!sock.write(chunk)) {
        const drained = await Promise.race([new Promise((r) => sock.once('drain', () => r(true))), sleep(2000).then(() => false)]);
        if (!drained) break; // the server stopped reading: TCP holds the flood back
      }
      sent += chunk.length;
    }
    const grown = wasm.memoryBytes() - before;
    console.log(`REPORT npm ping flood: ${sent >> 20} MiB written, wasm memory +${grown >> 10} KiB`);
    assert.ok(grown <= 2 << 20, `the wasm memory grew by ${grown} bytes`);
    assert.ok(sent < FLOOD, 'the server read every PING though nobody read its answers');
    sock.destroy();
  } finally {
    srv.server.close();
    for (const s of srv.sockets) s.destroy();
  }
});
