'use strict';
// The npm Invoker (.NET's HttpMessageInvoker): many HTTP/2 WebSockets on one
// pooled connection per origin, the pool replacing a connection the server
// closed, SETTINGS_MAX_CONCURRENT_STREAMS (a full connection makes the invoker
// open another), connection options on a ClientWebSocket that connects
// through an invoker (IncompatibleOptions before any I/O), an idle pooled
// connection not keeping Node running; and the remoteCertificateValidation
// callback, on a ClientWebSocket's own connections and an invoker's
// (HTTP/1.1 and HTTP/2 with ALPN h2).
//
//   node --test --test-concurrency=1 tests/npm/invoker.test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const http2 = require('node:http2');
const https = require('node:https');
const path = require('node:path');
const { once } = require('node:events');
const { execFile } = require('node:child_process');
const { ROOT, sockweave, within, echo, makeCerts } = require('./helpers.js');

const { ClientWebSocket, Invoker, WebSocketError, acceptH2, acceptUpgrade } = sockweave;
const H2 = { httpVersion: '2', httpVersionPolicy: 'requestVersionExact' };

let certs;
test.before(() => { certs = makeCerts(); });
test.after(() => certs.remove());

/** Resolves once `cond()` holds (checked on every turn of the event loop), or fails after 10 s. */
async function until(cond, what) {
  await within(10000, (async () => {
    while (!cond()) await new Promise((r) => setImmediate(r));
  })(), what);
}

/**
 * A node:http2 server (extended CONNECT on) whose WebSockets echo, counting
 * TCP connections, accepted WebSocket streams and closed streams.
 */
async function h2Server({ secure = false, settings = {} } = {}) {
  const all = { enableConnectProtocol: true, ...settings };
  const server = secure
    ? http2.createSecureServer({ cert: certs.cert, key: certs.key, settings: all })
    : http2.createServer({ settings: all });
  const s = { server, connections: 0, accepted: 0, streamsClosed: 0, sessions: [], errors: [], streamsBySession: [] };
  server.on('connection', () => { s.connections += 1; });
  server.on('session', (session) => {
    const i = s.sessions.length;
    s.sessions.push(session);
    s.streamsBySession.push(0);
    session.on('stream', () => { s.streamsBySession[i] += 1; });
  });
  server.on('stream', (stream, headers) => {
    stream.once('close', () => { s.streamsClosed += 1; });
    acceptH2(stream, headers, {}).then((ws) => {
      s.accepted += 1;
      return echo(ws);
    }).catch((e) => s.errors.push(e));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  s.port = server.address().port;
  s.stop = () => {
    for (const x of s.sessions) x.destroy();
    server.close();
  };
  return s;
}

/** An HTTPS server whose HTTP/1.1 Upgrade WebSockets echo, counting connections. */
async function h1Server() {
  const server = https.createServer({ cert: certs.cert, key: certs.key });
  const s = { server, connections: 0 };
  server.on('secureConnection', () => { s.connections += 1; });
  server.on('upgrade', (req, sock, head) => acceptUpgrade(req, sock, head, {}).then(echo).catch(() => {}));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  s.port = server.address().port;
  s.stop = () => {
    server.closeAllConnections();
    server.close();
  };
  return s;
}

async function echoes(c, text) {
  await c.send(text);
  assert.equal((await within(5000, c.receiveMessage(), `echo of ${text}`)).text, text);
}

test('one Invoker carries 100 HTTP/2 WebSockets on one connection; closing them keeps it; close() ends it', async () => {
  const srv = await h2Server();
  const invoker = new Invoker();
  try {
    const url = `ws://127.0.0.1:${srv.port}/many`;
    const clients = await within(20000, Promise.all(Array.from({ length: 100 }, async () => {
      const c = new ClientWebSocket(H2);
      await c.connect(url, { invoker });
      return c;
    })), '100 connects');
    assert.equal(srv.connections, 1);
    await until(() => srv.accepted === 100, '100 accepts');
    assert.equal(srv.accepted, 100);
    assert.equal(invoker.connectionsOpened, 1);
    assert.ok(clients.every((c) => c.httpVersion === '2' && c.state === 'Open'));
    await Promise.all(clients.map((c, i) => echoes(c, `socket ${i} says ${'x'.repeat(i)}`)));

    await within(10000, Promise.all(clients.map((c) => c.close(1000, 'done'))), 'closes');
    assert.ok(clients.every((c) => c.state === 'Closed' && c.closeStatus === 1000));
    await until(() => srv.streamsClosed === 100, 'the server sees every stream close');
    assert.equal(srv.streamsClosed, 100);
    assert.equal(srv.connections, 1);
    assert.equal(srv.sessions.length, 1);
    assert.equal(srv.sessions[0].closed || srv.sessions[0].destroyed, false, 'the pooled session stays');
    assert.equal(invoker.connectionCount, 1);

    // A later socket reuses the idle pooled connection.
    const again = new ClientWebSocket(H2);
    await within(5000, again.connect(url, invoker), 'connect on the idle connection');
    await echoes(again, 'again');
    await within(5000, again.close(), 'close');
    assert.equal(srv.connections, 1);
    assert.equal(invoker.connectionsOpened, 1);

    const gone = once(srv.sessions[0], 'close');
    invoker.close();
    await within(5000, gone, 'the server session closes after invoker.close()');
    assert.equal(invoker.connectionCount, 0);
    assert.equal(invoker.closed, true);
    await assert.rejects(new ClientWebSocket(H2).connect(url, { invoker }), (e) => e.code === 'InvalidState');
    assert.equal(srv.connections, 1);
    assert.deepEqual(srv.errors, []);
  } finally {
    invoker.close();
    srv.stop();
  }
});

test('a connection the server closes (GOAWAY) leaves the pool: the next connect opens a new one', async () => {
  const srv = await h2Server();
  const invoker = new Invoker();
  try {
    const url = `ws://127.0.0.1:${srv.port}/`;
    const a = new ClientWebSocket(H2);
    await within(5000, a.connect(url, { invoker }), 'connect a');
    await echoes(a, 'a');
    // Graceful: GOAWAY now, the connection ends once stream a does.
    srv.sessions[0].close();
    await until(() => invoker.connectionCount === 0, 'the invoker drops the connection on GOAWAY');
    await echoes(a, 'a after GOAWAY');

    const b = new ClientWebSocket(H2);
    await within(5000, b.connect(url, { invoker }), 'connect b');
    assert.equal(srv.connections, 2);
    assert.equal(invoker.connectionsOpened, 2);
    assert.equal(invoker.connectionCount, 1);
    await echoes(b, 'b');
    const firstGone = once(srv.sessions[0], 'close');
    await within(5000, a.close(), 'close a');
    await within(5000, firstGone, 'the first connection ends with its last stream');
    await echoes(b, 'b still');
    await within(5000, b.close(), 'close b');

    // An abrupt end (the server destroys the connection) also leaves the pool.
    srv.sessions[1].destroy();
    await until(() => invoker.connectionCount === 0, 'the invoker drops the destroyed connection');
    const c = new ClientWebSocket(H2);
    await within(5000, c.connect(url, { invoker }), 'connect c');
    assert.equal(srv.connections, 3);
    await echoes(c, 'c');
    await within(5000, c.close(), 'close c');
  } finally {
    invoker.close();
    srv.stop();
  }
});

test('SETTINGS_MAX_CONCURRENT_STREAMS 2: five sockets take three connections (2 + 2 + 1); closed streams free room', async () => {
  const srv = await h2Server({ settings: { maxConcurrentStreams: 2 } });
  const invoker = new Invoker();
  try {
    const url = `ws://127.0.0.1:${srv.port}/`;
    const clients = await within(10000, Promise.all(Array.from({ length: 5 }, async () => {
      const c = new ClientWebSocket(H2);
      await c.connect(url, { invoker });
      return c;
    })), 'five connects');
    assert.equal(srv.connections, 3);
    assert.equal(invoker.connectionsOpened, 3);
    assert.deepEqual([...srv.streamsBySession].sort(), [1, 2, 2]);
    await Promise.all(clients.map((c, i) => echoes(c, `m${i}`)));

    // With one stream closed on a full connection, the next socket goes there.
    const closedBefore = srv.streamsClosed;
    await within(5000, clients[0].close(), 'close one');
    await until(() => srv.streamsClosed === closedBefore + 1, 'the server sees the stream close');
    const f = new ClientWebSocket(H2);
    await within(5000, f.connect(url, { invoker }), 'a sixth connect');
    assert.equal(srv.connections, 3, 'room on a pooled connection: no new one');
    await echoes(f, 'f');
    const g = new ClientWebSocket(H2);
    await within(5000, g.connect(url, { invoker }), 'a seventh connect');
    assert.equal(srv.connections, 3, 'the third connection had room for a second stream');
    await echoes(g, 'g');
    const h = new ClientWebSocket(H2);
    await within(5000, h.connect(url, { invoker }), 'an eighth connect');
    assert.equal(srv.connections, 4, 'all three full: a fourth connection');
    for (const c of [...clients.slice(1), f, g, h]) await within(5000, c.close(), 'close');
    assert.deepEqual(srv.errors, []);
  } finally {
    invoker.close();
    srv.stop();
  }
});

test('connection options on a ClientWebSocket connecting through an invoker: IncompatibleOptions before any I/O', async () => {
  const srv = await h2Server();
  const invoker = new Invoker();
  try {
    const url = `ws://127.0.0.1:${srv.port}/`;
    const withTls = new ClientWebSocket({ ...H2, tls: { ca: certs.ca } });
    await assert.rejects(withTls.connect(url, { invoker }), (e) => e instanceof WebSocketError
      && e.code === 'IncompatibleOptions' && /\btls\b/.test(e.message) && !/remoteCertificateValidation/.test(e.message));
    assert.equal(withTls.state, 'None');
    const withCheck = new ClientWebSocket({ remoteCertificateValidation: () => true });
    await assert.rejects(withCheck.connect(url, invoker), (e) => e.code === 'IncompatibleOptions'
      && /remoteCertificateValidation/.test(e.message) && /Invoker/.test(e.message));
    const both = new ClientWebSocket({ tls: {}, remoteCertificateValidation: () => true });
    await assert.rejects(both.connect(`wss://127.0.0.1:${srv.port}/`, { invoker }),
      (e) => e.code === 'IncompatibleOptions' && /tls, remoteCertificateValidation/.test(e.message));
    // The proxy and cookie settings are connection settings too (as native's non_default); defaults do not count.
    await assert.rejects(new ClientWebSocket({ proxy: 'http://127.0.0.1:9', useProxy: false }).connect(url, { invoker }),
      (e) => e.code === 'IncompatibleOptions' && /proxy, useProxy/.test(e.message) && e.keys.length === 2);
    assert.equal(srv.connections, 0);
    assert.equal(invoker.connectionsOpened, 0);
    // Options that are not connection settings are fine with an invoker.
    const ok = new ClientWebSocket({ ...H2, keepAliveInterval: 1000, useProxy: true, allowBasicOverCleartext: false });
    await within(5000, ok.connect(url, { invoker }), 'connect');
    await echoes(ok, 'fine');
    await within(5000, ok.close(), 'close');
    assert.equal(srv.connections, 1);
    // And a bad Invoker option is named.
    assert.throws(() => new Invoker({ tlss: {} }), (e) => e.code === 'InvalidArgument' && e.key === 'tlss');
    assert.throws(() => new Invoker({ remoteCertificateValidation: true }),
      (e) => e.code === 'InvalidArgument' && e.key === 'remoteCertificateValidation');
  } finally {
    invoker.close();
    srv.stop();
  }
});

test('an idle pooled connection does not keep Node running', async () => {
  const srv = await h2Server();
  try {
    const script = `
      const { ClientWebSocket, Invoker } = require(${JSON.stringify(path.join(ROOT, 'npm'))});
      (async () => {
        const invoker = new Invoker();
        const c = new ClientWebSocket({ httpVersion: '2', httpVersionPolicy: 'requestVersionExact' });
        await c.connect('ws://127.0.0.1:${srv.port}/', { invoker });
        await c.send('hi');
        const m = await c.receiveMessage();
        await c.close();
        console.log(m.text, invoker.connectionCount);
        // No invoker.close(): the process must end by itself.
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const out = await within(15000, new Promise((resolve, reject) => {
      execFile(process.execPath, ['-e', script], (err, stdout, stderr) => (err ? reject(new Error(`${err.message} ${stderr}`)) : resolve(stdout)));
    }), 'the child exits by itself');
    assert.equal(out.trim(), 'hi 1');
    assert.equal(srv.connections, 1);
  } finally {
    srv.stop();
  }
});

/** A remoteCertificateValidation callback answering `answer` and keeping what it saw. */
function recorder(answer) {
  const seen = [];
  const fn = (ctx) => {
    seen.push(ctx);
    return answer;
  };
  fn.seen = seen;
  return fn;
}

function assertUntrustedSeen(cb) {
  assert.equal(cb.seen.length, 1);
  const ctx = cb.seen[0];
  assert.equal(ctx.authorized, false);
  assert.equal(typeof ctx.error, 'string');
  assert.ok(ctx.error.length > 0);
  assert.equal(ctx.hostname, 'localhost');
  assert.ok(Buffer.isBuffer(ctx.certificate.raw) && ctx.certificate.raw.length > 0);
  assert.equal(ctx.certificate.subject.CN, 'server');
}

function assertTrustedSeen(cb) {
  assert.equal(cb.seen.length, 1);
  assert.equal(cb.seen[0].authorized, true);
  assert.equal(cb.seen[0].error, undefined);
  assert.equal(cb.seen[0].hostname, 'localhost');
}

const refused = (e) => e instanceof WebSocketError && e.code === 'Tls'
  && /remoteCertificateValidation callback refused the server certificate/.test(e.message);

test('remoteCertificateValidation on a ClientWebSocket: HTTP/1.1 and HTTP/2 (ALPN h2)', async () => {
  const h1 = await h1Server();
  const h2 = await h2Server({ secure: true });
  try {
    for (const [name, port, extra, version] of [['HTTP/1.1', h1.port, {}, '1.1'], ['HTTP/2', h2.port, H2, '2']]) {
      const url = `wss://localhost:${port}/`;
      // (a) An unknown CA and no callback: Node refuses, as always.
      await assert.rejects(new ClientWebSocket(extra).connect(url), (e) => e.code === 'Tls', `${name} (a)`);
      // (b) The callback accepts what Node would refuse.
      const yes = recorder(true);
      const b = new ClientWebSocket({ ...extra, remoteCertificateValidation: yes });
      await within(5000, b.connect(url), `${name} (b)`);
      assert.equal(b.httpVersion, version);
      assertUntrustedSeen(yes);
      await echoes(b, `${name} accepted`);
      await within(5000, b.close(), 'close');
      // (c) A trusted certificate the callback refuses.
      const no = recorder(false);
      await assert.rejects(new ClientWebSocket({ ...extra, tls: { ca: certs.ca }, remoteCertificateValidation: no }).connect(url),
        (e) => refused(e) && /Node accepted it/.test(e.message), `${name} (c)`);
      assertTrustedSeen(no);
      // A callback that throws refuses too; one that resolves true (async) accepts.
      await assert.rejects(new ClientWebSocket({ ...extra, remoteCertificateValidation: () => { throw new Error('boom'); } })
        .connect(url), (e) => e.code === 'Tls' && /boom/.test(e.message));
      const d = new ClientWebSocket({ ...extra, remoteCertificateValidation: async () => true });
      await within(5000, d.connect(url), `${name} async callback`);
      await within(5000, d.close(), 'close');
    }
    await assert.rejects(new ClientWebSocket({ remoteCertificateValidation: 'yes' }).connect(`wss://localhost:${h1.port}/`),
      (e) => e.code === 'InvalidArgument' && e.key === 'remoteCertificateValidation');
  } finally {
    h1.stop();
    h2.stop();
  }
});

test('remoteCertificateValidation on an Invoker: HTTP/1.1 (a connection each) and HTTP/2 (one pooled, checked once)', async () => {
  const h1 = await h1Server();
  const h2 = await h2Server({ secure: true });
  const invokers = [];
  const make = (o) => {
    const i = new Invoker(o);
    invokers.push(i);
    return i;
  };
  try {
    // HTTP/1.1 through an invoker: the callback accepts an untrusted certificate, once per connection.
    const h1url = `wss://localhost:${h1.port}/`;
    const yes1 = recorder(true);
    const inv1 = make({ remoteCertificateValidation: yes1 });
    const a = new ClientWebSocket();
    await within(5000, a.connect(h1url, { invoker: inv1 }), 'h1 (b)');
    assert.equal(a.httpVersion, '1.1');
    assertUntrustedSeen(yes1);
    const a2 = new ClientWebSocket();
    await within(5000, a2.connect(h1url, { invoker: inv1 }), 'h1 (b) again');
    assert.equal(yes1.seen.length, 2);
    assert.equal(h1.connections, 2);
    await echoes(a, 'h1 a');
    await echoes(a2, 'h1 a2');
    await within(5000, Promise.all([a.close(), a2.close()]), 'close');
    const no1 = recorder(false);
    await assert.rejects(new ClientWebSocket().connect(h1url, { invoker: make({ tls: { ca: certs.ca }, remoteCertificateValidation: no1 }) }),
      refused, 'h1 (c)');
    assertTrustedSeen(no1);
    // Without a callback, the invoker's tls settings decide as Node does.
    await assert.rejects(new ClientWebSocket().connect(h1url, { invoker: make() }), (e) => e.code === 'Tls', 'h1 (a)');
    const trusted = new ClientWebSocket();
    await within(5000, trusted.connect(h1url, { invoker: make({ tls: { ca: certs.ca } }) }), 'h1 with the invoker ca');
    await within(5000, trusted.close(), 'close');

    // HTTP/2 with ALPN h2: the pooled connection is checked once, both sockets share it.
    const h2url = `wss://localhost:${h2.port}/`;
    const yes2 = recorder(true);
    const inv2 = make({ remoteCertificateValidation: yes2 });
    const b = new ClientWebSocket(H2);
    await within(5000, b.connect(h2url, { invoker: inv2 }), 'h2 (b)');
    assert.equal(b.httpVersion, '2');
    assertUntrustedSeen(yes2);
    const b2 = new ClientWebSocket(H2);
    await within(5000, b2.connect(h2url, { invoker: inv2 }), 'h2 (b) again');
    assert.equal(yes2.seen.length, 1, 'one connection, one check');
    assert.equal(h2.connections, 1);
    await echoes(b, 'h2 b');
    await echoes(b2, 'h2 b2');
    await within(5000, Promise.all([b.close(), b2.close()]), 'close');
    const no2 = recorder(false);
    const inv3 = make({ tls: { ca: certs.ca }, remoteCertificateValidation: no2 });
    await assert.rejects(new ClientWebSocket(H2).connect(h2url, { invoker: inv3 }), refused, 'h2 (c)');
    assertTrustedSeen(no2);
    assert.equal(inv3.connectionCount, 0);
    await assert.rejects(new ClientWebSocket(H2).connect(h2url, { invoker: inv3 }), refused, 'h2 (c) again');
    assert.equal(no2.seen.length, 2, 'a refused connection is not pooled');
  } finally {
    for (const i of invokers) i.close();
    h1.stop();
    h2.stop();
  }
});
