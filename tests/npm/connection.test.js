'use strict';
// Client <-> server through the npm package: over in-process stream pairs
// (WHATWG and Node Duplex) and over real TCP on 127.0.0.1.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const crypto = require('node:crypto');
const { sockweave, webPair, duplexPair, tcpPair, within, echo } = require('./helpers.js');

const { ManagedWebSocket, ClientWebSocket, WebSocketError, acceptUpgrade, accept } = sockweave;

/** Exchanges, checks and closes on a connected (client, server) pair whose server echoes. */
async function exercise(client, server, { deflate = false } = {}) {
  const echoing = echo(server);
  // Text and binary.
  await client.send('hello, sockweave');
  let m = await client.receiveMessage();
  assert.equal(m.messageType, 'text');
  assert.equal(m.text, 'hello, sockweave');
  const bin = Buffer.from([0, 1, 2, 254, 255]);
  await client.send(bin);
  m = await client.receiveMessage();
  assert.equal(m.messageType, 'binary');
  assert.deepEqual(m.data, bin);
  // Fragmentation: one message in three sends; receive in small pieces into a buffer.
  await client.send('frag', { endOfMessage: false });
  await client.send('ment', { endOfMessage: false });
  await client.send('ed');
  const buf = new Uint8Array(3);
  const pieces = [];
  for (;;) {
    const r = await client.receive(buf);
    assert.equal(r.messageType, 'text');
    assert.ok(r.count <= 3);
    pieces.push(Buffer.from(buf.subarray(0, r.count)));
    if (r.endOfMessage) break;
  }
  assert.equal(Buffer.concat(pieces).toString(), 'fragmented');
  // 1 MiB, random (incompressible) and repetitive.
  const random = crypto.randomBytes(1 << 20);
  await client.send(random);
  m = await client.receiveMessage();
  assert.ok(m.data.equals(random), '1 MiB random message echoed intact');
  const text = 'sockweave '.repeat(104858).slice(0, 1 << 20);
  await client.send(text);
  m = await client.receiveMessage();
  assert.equal(m.text, text);
  if (deflate) {
    await client.send('not compressed', { disableCompression: true });
    assert.equal((await client.receiveMessage()).text, 'not compressed');
  }
  // Several messages in flight at once keep their order.
  const sends = [];
  for (let i = 0; i < 50; i++) sends.push(client.send(`#${i}`));
  await Promise.all(sends);
  for (let i = 0; i < 50; i++) assert.equal((await client.receiveMessage()).text, `#${i}`);
  // Ping: answered by the engine (no application involvement).
  await client.ping('are you there');
  // Close handshake.
  const closed = new Promise((r) => server.once('close', r));
  await within(5000, client.close(1000, 'bye'), 'close');
  await within(5000, echoing, 'server iteration');
  assert.equal(client.state, 'Closed');
  assert.equal(server.state, 'Closed');
  assert.equal(server.closeStatus, 1000);
  assert.equal(server.closeStatusDescription, 'bye');
  assert.equal(client.closeStatus, 1000);
  const ev = await within(5000, closed, 'server close event');
  assert.deepEqual(ev, { code: 1000, reason: 'bye', wasClean: true });
  await assert.rejects(client.send('late'), (e) => e instanceof WebSocketError && e.code === 'InvalidState');
}

// fromStream has no handshake, so no deflate negotiation: deflate is tested over TCP below.
for (const [name, makePair] of [['WHATWG stream pair', webPair], ['Node Duplex pair', duplexPair]]) {
  test(`fromStream over a ${name}`, async () => {
    const [a, b] = makePair();
    const client = ManagedWebSocket.fromStream(a, {});
    const server = ManagedWebSocket.fromStream(b, { isServer: true, subProtocol: 'chat' });
    assert.equal(server.subProtocol, 'chat');
    assert.equal(client.subProtocol, undefined);
    assert.equal(client.state, 'Open');
    await within(20000, exercise(client, server), 'exercise');
  });
}

/** An http server whose upgrades become echoing WebSockets. */
async function httpServer(options, decide) {
  const server = http.createServer((req, res) => res.end('plain http\n'));
  const sockets = [];
  const errors = [];
  server.on('upgrade', (req, socket, head) => {
    acceptUpgrade(req, socket, head, options, decide).then((ws) => {
      sockets.push(ws);
      server.emit('websocket', ws);
    }, (e) => errors.push(e));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, sockets, errors, url: `ws://127.0.0.1:${server.address().port}` };
}

for (const deflate of [false, true]) {
  test(`ClientWebSocket.connect to acceptUpgrade over TCP${deflate ? ' with deflate' : ''}`, async () => {
    const d = deflate ? { clientMaxWindowBits: 10, serverMaxWindowBits: 11 } : undefined;
    const srv = await httpServer({ subProtocols: ['b', 'a'], dangerousDeflateOptions: d });
    try {
      const got = new Promise((r) => srv.server.once('websocket', r));
      const client = new ClientWebSocket({
        subProtocols: ['a', 'b'],
        requestHeaders: { 'X-Test': 'yes' },
        dangerousDeflateOptions: deflate ? {} : undefined,
      });
      assert.equal(client.state, 'None');
      const connecting = client.connect(`${srv.url}/echo?x=1`);
      assert.equal(client.state, 'Connecting');
      await within(5000, connecting, 'connect');
      const server = await got;
      assert.equal(client.state, 'Open');
      assert.equal(client.subProtocol, 'b', 'the server picks its preference among the offered');
      assert.equal(server.subProtocol, 'b');
      assert.equal(client.httpStatusCode, 101);
      const ext = client.httpResponseHeaders.find(([k]) => k.toLowerCase() === 'sec-websocket-extensions');
      if (deflate) assert.match(ext[1], /permessage-deflate/);
      else assert.equal(ext, undefined);
      await within(20000, exercise(client, server, { deflate }), 'exercise');
      assert.deepEqual(srv.errors, []);
    } finally {
      srv.server.close();
    }
  });
}

test('accept() on a raw net.Server connection, decide() refusing and accepting', async () => {
  const server = net.createServer();
  const results = [];
  server.on('connection', (sock) => {
    accept(sock, {}, (req) => (req.path === '/no'
      ? { status: 403, message: 'not here', headers: { 'X-Why': 'test' } }
      : { subProtocol: null, headers: [['X-Hello', 'there']] }))
      .then((ws) => {
        results.push('accepted');
        return echo(ws);
      }, (e) => results.push(e.code));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${server.address().port}`;
  try {
    const refused = new ClientWebSocket();
    await assert.rejects(refused.connect(`${url}/no`), (e) => {
      assert.equal(e.code, 'NotAWebSocket');
      assert.equal(e.response.status, 403);
      return true;
    });
    assert.equal(refused.httpStatusCode, 403);
    assert.ok(refused.httpResponseHeaders.some(([k, v]) => k === 'X-Why' && v === 'test'));
    const ok = new ClientWebSocket();
    await ok.connect(`${url}/yes`);
    assert.ok(ok.httpResponseHeaders.some(([k, v]) => k === 'X-Hello' && v === 'there'));
    await ok.send('x');
    assert.equal((await ok.receiveMessage()).text, 'x');
    await ok.close();
    assert.deepEqual(results, ['NotAWebSocket', 'accepted']);
  } finally {
    server.close();
  }
});

test('the request decide() saw stays readable after the answer', async () => {
  let kept = null;
  const srv = await httpServer({}, (req) => { kept = req; });
  try {
    const got = new Promise((r) => srv.server.once('websocket', r));
    const client = new ClientWebSocket({ requestHeaders: { 'X-Kept': 'still here' } });
    await within(5000, client.connect(`${srv.url}/keep`), 'connect');
    echo(await got);
    // The engine's own request object is freed by now; the snapshot answers.
    assert.equal(kept.header('x-kept'), 'still here');
    assert.equal(kept.header('X-KEPT'), 'still here');
    assert.equal(kept.header('x-absent'), undefined);
    assert.equal(kept.path, '/keep');
    await client.close();
  } finally {
    srv.server.close();
  }
});

test('invalid upgrade requests get HTTP errors from the engine', async () => {
  const srv = await httpServer({});
  try {
    const port = srv.server.address().port;
    const raw = (text) => new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(text));
      const chunks = [];
      s.on('data', (c) => chunks.push(c));
      s.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      s.on('error', reject);
    });
    const r = await within(5000, raw('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n'), 'refusal');
    assert.match(r, /^HTTP\/1.1 426 /);
    assert.match(r, /Sec-WebSocket-Version: 13/);
    const r2 = await within(5000, raw('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
      + 'Sec-WebSocket-Version: 13\r\n\r\n'), 'refusal');
    assert.match(r2, /^HTTP\/1.1 400 /);
    assert.match(r2, /Sec-WebSocket-Key/);
    assert.deepEqual(srv.errors.map((e) => e.code), ['UnsupportedVersion', 'HeaderError']);
  } finally {
    srv.server.close();
  }
});

test('a protocol error from the peer fails the connection with 1002 and an error event', async () => {
  const [a, b] = await tcpPair();
  const server = ManagedWebSocket.fromStream(b, { isServer: true });
  const errors = [];
  server.on('error', (e) => errors.push(e));
  const closed = new Promise((r) => server.once('close', r));
  // An unmasked frame from a client is a protocol error.
  const reply = new Promise((r) => a.once('data', r));
  a.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
  await assert.rejects(within(5000, server.receive(), 'receive'), (e) => e.code === 'Faulted' && e.closeCode === 1002);
  const frame = await within(5000, reply, 'close frame');
  assert.equal(frame[0], 0x88);
  assert.equal(frame.readUInt16BE(2), 1002);
  await within(5000, closed, 'close event');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].closeCode, 1002);
  assert.equal(server.state, 'Aborted');
  a.destroy();
});

test('a peer that hangs up without a Close: ConnectionClosedPrematurely after the data', async () => {
  const [a, b] = duplexPair();
  const client = ManagedWebSocket.fromStream(a, {});
  b.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
  b.end();
  assert.equal((await client.receiveMessage()).text, 'hi');
  await assert.rejects(within(5000, client.receive(), 'receive'), (e) => e.code === 'ConnectionClosedPrematurely');
  assert.equal(client.state, 'Aborted');
});

test('abort() fails pending and later operations', async () => {
  const [a, b] = webPair();
  const client = ManagedWebSocket.fromStream(a, {});
  ManagedWebSocket.fromStream(b, { isServer: true });
  const pending = client.receive();
  client.abort();
  await assert.rejects(within(2000, pending, 'pending receive'), (e) => e.code === 'InvalidState');
  assert.equal(client.state, 'Aborted');
  await assert.rejects(client.send('x'), (e) => e.code === 'InvalidState');
});

test('message and close events, and async iteration', async () => {
  const [a, b] = webPair();
  const client = ManagedWebSocket.fromStream(a, {});
  const server = ManagedWebSocket.fromStream(b, { isServer: true });
  const seen = [];
  const closed = new Promise((r) => server.on('close', r));
  server.on('message', (m) => {
    seen.push(m.text);
    if (seen.length === 3) server.close(4000, 'enough');
  });
  for (const s of ['one', 'two', 'three']) await client.send(s);
  const got = [];
  for await (const m of client) got.push(m.text);
  assert.deepEqual(got, [], 'the server sent no data messages');
  assert.equal(client.closeStatus, 4000);
  assert.equal(client.closeStatusDescription, 'enough');
  const ev = await within(5000, closed, 'close event');
  assert.equal(ev.wasClean, true);
  assert.deepEqual(seen, ['one', 'two', 'three']);
});

test('bad options: misspelt keys, wrong types and bad values name the key', async () => {
  const cases = [
    [{ keepAliveIntervall: 1000 }, 'keepAliveIntervall', /did you mean `keepAliveInterval`/],
    [{ receiveBufferSize: 'big' }, 'receiveBufferSize', /invalid type: string "big"/],
    [{ maxMessageSize: -1 }, 'maxMessageSize', /invalid/],
    [{ isServer: 'yes' }, 'isServer', /invalid type/],
    [{ subProtocols: 'chat' }, 'subProtocols', /invalid type/],
    [{ keepAliveTimeout: -5 }, 'keepAliveTimeout', /invalid value/],
    [{ dangerousDeflateOptions: { clientMaxWindowBit: 10 } }, 'dangerousDeflateOptions.clientMaxWindowBit', /did you mean/],
    [{ dangerousDeflateOptions: { serverMaxWindowBits: 16 } }, 'dangerousDeflateOptions.serverMaxWindowBits', /outside 8..=15/],
    [{ dangerousDeflateOptions: { clientContextTakeover: 1 } }, 'dangerousDeflateOptions.clientContextTakeover', /invalid type/],
    [{ dangerousDeflateOptions: 'on' }, 'dangerousDeflateOptions', /must be an object/],
    [{ receiveBufferSize: 10 }, 'receiveBufferSize', /too small/],
    [{ requestHeaders: { Upgrade: 'x' } }, 'requestHeaders', /./],
    [{ httpVersion: '3' }, 'httpVersion', /invalid value/],
  ];
  const [a] = webPair();
  for (const [options, key, message] of cases) {
    for (const attempt of [
      () => sockweave.normalizeOptions(options),
      () => ManagedWebSocket.fromStream(a, options),
    ]) {
      assert.throws(attempt, (e) => {
        assert.ok(e instanceof WebSocketError, `${key}: a WebSocketError`);
        assert.equal(e.code, 'InvalidArgument', key);
        assert.ok(e.message.includes(key), `${JSON.stringify(options)}: message ${JSON.stringify(e.message)} names ${key}`);
        if (e.key !== undefined) assert.equal(e.key, key);
        assert.match(e.message, message);
        return true;
      });
    }
    const c = new ClientWebSocket(options);
    await assert.rejects(c.connect('ws://127.0.0.1:9/'), (e) => e.code === 'InvalidArgument' && e.message.includes(key));
  }
  assert.throws(() => sockweave.normalizeOptions([]), (e) => e.code === 'InvalidArgument');
  assert.throws(() => sockweave.normalizeOptions('x'), (e) => e.code === 'InvalidArgument');
  // Good options come back complete; undefined values mean the default.
  const n = sockweave.normalizeOptions({ keepAliveInterval: 'infinite', closeTimeout: undefined, dangerousDeflateOptions: {} });
  assert.equal(n.keepAliveInterval, -1);
  assert.equal(n.closeTimeout, 10000);
  assert.equal(n.receiveBufferSize, 65536);
  assert.deepEqual(n.dangerousDeflateOptions, {
    clientMaxWindowBits: 15, serverMaxWindowBits: 15, clientContextTakeover: true, serverContextTakeover: true,
  });
});

test('connect errors: bad URL, refused port (HTTP/1.1 and h2c), handshake timeout', async () => {
  await assert.rejects(new ClientWebSocket().connect('http//nope'), (e) => e.code === 'InvalidArgument');
  await assert.rejects(new ClientWebSocket().connect('ftp://127.0.0.1/'), (e) => e.code === 'InvalidArgument');
  await assert.rejects(new ClientWebSocket().connect('ws://127.0.0.1/#frag'), (e) => e.code === 'InvalidArgument');
  // A port nobody listens on.
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const closedPort = probe.address().port;
  await new Promise((r) => probe.close(r));
  await assert.rejects(new ClientWebSocket().connect(`ws://127.0.0.1:${closedPort}/`), (e) => e.code === 'Io');
  // A server that never answers the handshake.
  const silent = net.createServer(() => {});
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const c = new ClientWebSocket({ handshakeTimeout: 300 });
    await assert.rejects(within(3000, c.connect(`ws://127.0.0.1:${silent.address().port}/`)), (e) => e.code === 'Timeout');
  } finally {
    silent.close();
  }
  // HTTP/2 only (h2c with prior knowledge) to a closed port (the policy table is in h2.test.js).
  await assert.rejects(
    new ClientWebSocket({ httpVersion: '2', httpVersionPolicy: 'requestVersionExact' }).connect(`ws://127.0.0.1:${closedPort}/`),
    (e) => e.code === 'Io',
  );
  const c = new ClientWebSocket();
  await assert.rejects(c.receive(), (e) => e.code === 'InvalidState');
});

test('backpressure: a peer that does not read stalls send at maxPendingOutput, then it completes', async () => {
  const [a, b] = await tcpPair();
  const client = ManagedWebSocket.fromStream(a, { maxPendingOutput: 65536 });
  const server = ManagedWebSocket.fromStream(b, { isServer: true, receiveBufferSize: 4096 });
  const chunk = Buffer.alloc(256 * 1024, 1);
  let sent = 0;
  const sending = (async () => {
    for (let i = 0; i < 64; i++) {
      await client.send(chunk);
      sent += 1;
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(sent < 64, `send kept going (${sent} x 256 KiB) with a peer that does not read`);
  let total = 0;
  for (let i = 0; i < 64; i++) total += (await server.receiveMessage()).data.length;
  await within(10000, sending, 'sending');
  assert.equal(total, 64 * chunk.length);
  a.destroy();
  b.destroy();
});

test('finished connections free their wasm sessions (memory stays flat over 200 deflate connections)', async () => {
  const { wasm } = require('./helpers.js');
  const server = http.createServer();
  server.on('upgrade', (req, sock, head) => {
    acceptUpgrade(req, sock, head, { dangerousDeflateOptions: {} }).then(echo).catch(() => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `ws://127.0.0.1:${server.address().port}/`;
    const run = async () => {
      const c = new ClientWebSocket({ dangerousDeflateOptions: {} });
      await c.connect(url);
      await c.send('compress me '.repeat(100));
      await c.receiveMessage();
      await c.close();
      // Final state and errors stay available after the session is freed.
      assert.equal(c.state, 'Closed');
      assert.equal(c.closeStatus, 1000);
      await assert.rejects(c.send('x'), (e) => e.code === 'InvalidState');
      // close() took nothing from the receive queue: the peer's Close is still there.
      assert.equal((await c.receive()).messageType, 'close');
      await assert.rejects(c.receive(), (e) => e.code === 'InvalidState');
      await c.close();
    };
    for (let i = 0; i < 20; i++) await run();
    const before = wasm.memoryBytes();
    for (let i = 0; i < 200; i++) await run();
    const grown = wasm.memoryBytes() - before;
    assert.ok(grown <= 4 << 20, `wasm memory grew by ${grown} bytes over 200 connections`);
  } finally {
    server.close();
  }
});

test('accept() over a WHATWG pair: the handshake and the frames behind it in one chunk', async () => {
  const [a, b] = webPair();
  const serving = accept(b, { subProtocols: ['p'] });
  const writer = a.writable.getWriter();
  const reader = a.readable.getReader();
  const key = crypto.randomBytes(16).toString('base64');
  // The request and a masked text frame "hi" right behind it, in one write.
  const frame = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]);
  await writer.write(Buffer.concat([Buffer.from(`GET /w HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n`
    + `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`
    + 'Sec-WebSocket-Protocol: p\r\n\r\n'), frame]));
  // The 101 waits for room in the pipe (backpressure), so read it first.
  const { value } = await within(5000, reader.read(), '101');
  const ws = await within(5000, serving, 'accept');
  const head = Buffer.from(value).toString('latin1');
  assert.match(head, /^HTTP\/1.1 101 /);
  assert.match(head, /Sec-WebSocket-Protocol: p\r\n/);
  const accept1 = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  assert.ok(head.includes(`Sec-WebSocket-Accept: ${accept1}`));
  assert.equal(ws.subProtocol, 'p');
  assert.equal((await within(5000, ws.receiveMessage(), 'message')).text, 'hi');
  ws.abort();
});

test('fromStream over Duplex.toWeb(socket): a WHATWG pair on real TCP', async () => {
  const { Duplex } = require('node:stream');
  const [a, b] = await tcpPair();
  const client = ManagedWebSocket.fromStream(Duplex.toWeb(a), {});
  const server = ManagedWebSocket.fromStream(b, { isServer: true });
  await within(20000, exercise(client, server), 'exercise');
});
