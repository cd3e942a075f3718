'use strict';
// The npm Invoker's connection settings, native's InvokerOptions: `proxy`
// (and the environment unless `useProxy: false`) for every connection the
// invoker opens (one CONNECT tunnel carries a pooled HTTP/2 connection and
// all its WebSockets; one tunnel per HTTP/1.1 WebSocket), its `cookieJar`
// shared by the WebSockets that connect through it, and `credentials` bound
// to `credentialOrigins` (the core's origin rule: ws and http are one
// origin, default ports, path ignored), with the errors of an empty list and
// of cleartext without `allowBasicOverCleartext`. Against a real tinyproxy
// (these tests fail without it; tests/run installs it) and the package's
// own servers. Counts and outcomes only, never timing.
//
//   node --test --test-concurrency=1 tests/npm/invoker_settings.test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const https = require('node:https');
const http2 = require('node:http2');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { sockweave, within, echo, makeCerts } = require('./helpers.js');
const { requireTinyproxy, startTinyproxy, logged } = require('./tinyproxy.js');

const { CookieJar } = require(path.join(__dirname, 'node_modules', 'tough-cookie'));
const { ClientWebSocket, Invoker, acceptUpgrade, acceptH2 } = sockweave;

const H2 = { httpVersion: '2', httpVersionPolicy: 'requestVersionExact' };
const USER = 'aladdin';
const PASSWORD = 'open sesame';
const CREDENTIALS = { user: USER, password: PASSWORD };
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const CHALLENGE = { status: 401, headers: [['WWW-Authenticate', 'Basic realm="sockweave"']] };
const VARS = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY',
  'no_proxy', 'NO_PROXY', 'GATEWAY_INTERFACE'];
const saved = {};

let certs;
let proxy; // tinyproxy
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sockweave-npm-invoker-settings-'));

/**
 * An HTTP/1.1 WebSocket server on 127.0.0.1 (TLS with `secure`) whose
 * WebSockets echo; `decide(request, n)` answers request number `n`.
 * `requests` keeps every request, `connections` counts TCP connections.
 */
async function h1Server({ secure = false, decide = () => undefined } = {}) {
  const s = secure ? https.createServer({ cert: certs.cert, key: certs.key }) : http.createServer();
  const out = { requests: [], connections: 0 };
  s.on(secure ? 'secureConnection' : 'connection', () => { out.connections += 1; });
  s.on('upgrade', (req, sock, head) => {
    acceptUpgrade(req, sock, head, {}, (r) => {
      out.requests.push(r);
      return decide(r, out.requests.length - 1);
    }).then(echo).catch(() => {});
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  out.port = s.address().port;
  out.stop = () => {
    s.closeAllConnections();
    return new Promise((r) => s.close(r));
  };
  return out;
}

/** A node:http2 TLS server (extended CONNECT on) counting TCP connections and WebSocket streams. */
async function h2Server() {
  const server = http2.createSecureServer({ cert: certs.cert, key: certs.key, settings: { enableConnectProtocol: true } });
  const out = { connections: 0, streams: 0, sessions: new Set() };
  server.on('connection', () => { out.connections += 1; });
  server.on('session', (x) => { out.sessions.add(x); x.on('close', () => out.sessions.delete(x)); });
  server.on('stream', (stream, headers) => {
    out.streams += 1;
    acceptH2(stream, headers, {}).then(echo).catch(() => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  out.port = server.address().port;
  out.stop = () => {
    for (const x of out.sessions) x.destroy();
    return new Promise((r) => server.close(r));
  };
  return out;
}

async function roundTrip(c, text) {
  await c.send(text);
  assert.equal((await within(5000, c.receiveMessage(), 'echo')).text, text);
}

async function closed(c) {
  await within(5000, c.close(1000, ''), 'close');
  assert.equal(c.state, 'Closed');
}

test.before(async () => {
  requireTinyproxy();
  for (const v of VARS) {
    saved[v] = process.env[v];
    delete process.env[v];
  }
  certs = makeCerts();
  proxy = await startTinyproxy(tmp, 'tinyproxy');
});

test.after(async () => {
  for (const v of VARS) {
    if (saved[v] === undefined) delete process.env[v];
    else process.env[v] = saved[v];
  }
  if (proxy) await proxy.stop();
  if (certs) certs.remove();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('an Invoker takes the connection settings, each checked; unknown keys are named', () => {
  const jar = new CookieJar();
  const inv = new Invoker({
    tls: {}, proxy: 'http://127.0.0.1:1', useProxy: true, cookieJar: jar, credentials: CREDENTIALS,
    credentialOrigins: ['WSS://API.example:443/path', new URL('http://h:8080')], allowBasicOverCleartext: true,
  });
  assert.deepEqual([...inv.options.credentialOrigins], ['wss://api.example/path', 'http://h:8080/']);
  assert.equal(inv.options.cookieJar, jar);
  inv.close();
  const bad = (options, key) => assert.throws(() => new Invoker(options),
    (e) => e.code === 'InvalidArgument' && (key === undefined || e.message.includes(key)), JSON.stringify(options));
  bad({ proxies: 'http://x' }, 'proxies');
  bad({ proxy: 'ftp://x' });
  bad({ proxy: 42 }, 'proxy');
  bad({ useProxy: 'no' }, 'useProxy');
  bad({ cookieJar: {} }, 'cookieJar');
  bad({ credentials: { user: 'a:b', password: 'p' } }, 'credentials.user');
  bad({ credentials: { user: 'a' } }, 'credentials');
  bad({ allowBasicOverCleartext: 'yes' }, 'allowBasicOverCleartext');
  bad({ credentialOrigins: 'https://a.example' }, 'credentialOrigins');
  bad({ credentialOrigins: ['not a url'] }, 'credentialOrigins');
  bad({ credentialOrigins: ['ftp://a.example'] }, 'credentialOrigins');
  // Settings on the socket with an invoker: still IncompatibleOptions.
  const i2 = new Invoker();
  const c = new ClientWebSocket({ cookieJar: jar });
  return assert.rejects(c.connect('ws://127.0.0.1:9/', { invoker: i2 }),
    (e) => e.code === 'IncompatibleOptions' && e.message.includes('cookieJar')).finally(() => i2.close());
});

test('one Invoker with a proxy carries 20 HTTP/2 WebSockets on one CONNECT tunnel', async () => {
  const server = await h2Server();
  const invoker = new Invoker({ proxy: proxy.url, tls: { ca: certs.ca } });
  const target = `127.0.0.1:${server.port}`;
  const sockets = [];
  try {
    const N = 20;
    for (let i = 0; i < N; i++) sockets.push(new ClientWebSocket(H2));
    await within(20000, Promise.all(sockets.map((c) => c.connect(`wss://${target}/`, { invoker }))), 'connects');
    for (const [i, c] of sockets.entries()) {
      assert.equal(c.httpVersion, '2');
      await roundTrip(c, `stream ${i}`);
    }
    await logged(() => proxy.connects(target), 1, 'exactly one CONNECT');
    assert.equal(server.connections, 1, 'the server saw one TCP connection');
    assert.equal(server.streams, N, 'and N streams on it');
    assert.equal(invoker.connectionsOpened, 1);
    for (const c of sockets) await closed(c);
  } finally {
    for (const c of sockets) c.abort();
    invoker.close();
    await server.stop();
  }
});

test('h2c (ws:// over HTTP/2) through an Invoker with a proxy: one tunnel for the pooled connection', async () => {
  const server = http2.createServer({ settings: { enableConnectProtocol: true } });
  let connections = 0;
  let streams = 0;
  const sessions = new Set();
  server.on('connection', () => { connections += 1; });
  server.on('session', (x) => { sessions.add(x); x.on('close', () => sessions.delete(x)); });
  server.on('stream', (stream, headers) => {
    streams += 1;
    acceptH2(stream, headers, {}).then(echo).catch(() => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const target = `127.0.0.1:${server.address().port}`;
  const invoker = new Invoker({ proxy: proxy.url });
  const sockets = [];
  try {
    for (let i = 0; i < 5; i++) sockets.push(new ClientWebSocket(H2));
    await within(20000, Promise.all(sockets.map((c) => c.connect(`ws://${target}/`, { invoker }))), 'connects');
    for (const [i, c] of sockets.entries()) {
      assert.equal(c.httpVersion, '2');
      await roundTrip(c, `h2c ${i}`);
    }
    await logged(() => proxy.connects(target), 1, 'exactly one CONNECT');
    assert.equal(connections, 1);
    assert.equal(streams, 5);
    for (const c of sockets) await closed(c);
  } finally {
    for (const c of sockets) c.abort();
    invoker.close();
    for (const x of sessions) x.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('an Invoker takes HTTPS_PROXY from the environment; useProxy: false ignores it', async () => {
  const server = await h2Server();
  const target = `127.0.0.1:${server.port}`;
  process.env.HTTPS_PROXY = proxy.url;
  const viaEnv = new Invoker({ tls: { ca: certs.ca } });
  const direct = new Invoker({ tls: { ca: certs.ca }, useProxy: false });
  try {
    const a = new ClientWebSocket(H2);
    await within(10000, a.connect(`wss://${target}/`, { invoker: viaEnv }), 'connect via HTTPS_PROXY');
    await roundTrip(a, 'via the environment');
    await logged(() => proxy.connects(target), 1, 'one CONNECT through HTTPS_PROXY');
    await closed(a);
    const b = new ClientWebSocket(H2);
    await within(10000, b.connect(`wss://${target}/`, { invoker: direct }), 'connect direct');
    await roundTrip(b, 'direct');
    await closed(b);
    assert.equal(proxy.connects(target), 1, 'useProxy: false: no CONNECT');
    assert.equal(server.connections, 2, 'one connection per invoker');
  } finally {
    delete process.env.HTTPS_PROXY;
    viaEnv.close();
    direct.close();
    await server.stop();
  }
});

test('HTTP/1.1 WebSockets through an Invoker with a proxy: one CONNECT per WebSocket (ws:// and wss://)', async () => {
  const plain = await h1Server();
  const secure = await h1Server({ secure: true });
  const invoker = new Invoker({ proxy: { url: proxy.url }, tls: { ca: certs.ca } });
  const sockets = [];
  try {
    for (const [server, scheme] of [[plain, 'ws'], [secure, 'wss']]) {
      const target = `127.0.0.1:${server.port}`;
      for (let i = 0; i < 3; i++) {
        const c = new ClientWebSocket();
        sockets.push(c);
        await within(10000, c.connect(`${scheme}://${target}/`, { invoker }), `connect ${scheme} ${i}`);
        assert.equal(c.httpVersion, '1.1');
        await roundTrip(c, `${scheme} ${i}`);
      }
      await logged(() => proxy.connects(target), 3, `three CONNECTs to the ${scheme}:// server`);
      assert.equal(server.connections, 3);
      assert.equal(server.requests.length, 3);
    }
    assert.equal(invoker.connectionsOpened, 0, 'no pooled HTTP/2 connection');
    for (const c of sockets) await closed(c);
  } finally {
    for (const c of sockets) c.abort();
    invoker.close();
    await plain.stop();
    await secure.stop();
  }
});

test("an Invoker's cookieJar: a cookie set in one WebSocket's 101 goes with the next", async () => {
  const server = await h1Server({
    decide: (_r, n) => (n === 0 ? { headers: [['Set-Cookie', 'session=abc; Path=/']] } : undefined),
  });
  const jar = new CookieJar();
  const invoker = new Invoker({ cookieJar: jar });
  try {
    const url = `ws://127.0.0.1:${server.port}/`;
    const a = new ClientWebSocket();
    await within(10000, a.connect(url, { invoker }), 'first');
    await closed(a);
    const b = new ClientWebSocket();
    await within(10000, b.connect(url, { invoker }), 'second');
    await roundTrip(b, 'with the cookie');
    await closed(b);
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[0].header('cookie'), undefined);
    assert.equal(server.requests[1].header('cookie'), 'session=abc');
    assert.equal(await jar.getCookieString(`http://127.0.0.1:${server.port}/`), 'session=abc');
  } finally {
    invoker.close();
    await server.stop();
  }
});

const basicGate = (r) => (r.header('authorization') === BASIC ? undefined : CHALLENGE);

test('credentials go after a Basic challenge to an origin of credentialOrigins, and to no other', async () => {
  const listed = await h1Server({ secure: true, decide: basicGate });
  const other = await h1Server({ secure: true, decide: basicGate });
  // https:// names the wss:// origin; the path does not matter.
  const invoker = new Invoker({
    tls: { ca: certs.ca }, credentials: CREDENTIALS, credentialOrigins: [`https://127.0.0.1:${listed.port}/any/path`],
  });
  try {
    const c = new ClientWebSocket();
    await within(10000, c.connect(`wss://127.0.0.1:${listed.port}/chat`, { invoker }), 'connect to the listed origin');
    await roundTrip(c, 'authorized');
    await closed(c);
    assert.equal(listed.requests.length, 2);
    assert.equal(listed.requests[0].header('authorization'), undefined);
    assert.equal(listed.requests[1].header('authorization'), BASIC);

    const d = new ClientWebSocket();
    await assert.rejects(within(10000, d.connect(`wss://127.0.0.1:${other.port}/`, { invoker }), 'connect elsewhere'),
      (e) => e.code === 'NotAWebSocket');
    assert.equal(d.httpStatusCode, 401, 'the 401 stands');
    assert.equal(other.requests.length, 1, 'no retry');
    assert.equal(other.requests[0].header('authorization'), undefined, 'the credentials were never sent');
  } finally {
    invoker.close();
    await listed.stop();
    await other.stop();
  }
});

test('credentials over HTTP/2 through an Invoker go to a listed origin (wss:// listed as wss://)', async () => {
  const s = http2.createSecureServer({ cert: certs.cert, key: certs.key, settings: { enableConnectProtocol: true } });
  const requests = [];
  const sessions = new Set();
  s.on('session', (x) => { sessions.add(x); x.on('close', () => sessions.delete(x)); });
  s.on('stream', (stream, headers) => {
    acceptH2(stream, headers, {}, (r) => {
      requests.push(r);
      return basicGate(r);
    }).then(echo).catch(() => {});
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  const invoker = new Invoker({ tls: { ca: certs.ca }, credentials: CREDENTIALS, credentialOrigins: [`wss://127.0.0.1:${port}`] });
  try {
    const c = new ClientWebSocket(H2);
    await within(10000, c.connect(`wss://127.0.0.1:${port}/`, { invoker }), 'connect');
    assert.equal(c.httpVersion, '2');
    await roundTrip(c, 'h2 authorized');
    await closed(c);
    assert.equal(requests.length, 2);
    assert.equal(requests[0].header('authorization'), undefined);
    assert.equal(requests[1].header('authorization'), BASIC);
  } finally {
    invoker.close();
    for (const x of sessions) x.destroy();
    await new Promise((r) => s.close(r));
  }
});

test('credentials bound to no origin: InvalidArgument naming the origin to add to credentialOrigins', async () => {
  const server = await h1Server({ secure: true, decide: basicGate });
  const invoker = new Invoker({ tls: { ca: certs.ca }, credentials: CREDENTIALS });
  try {
    const c = new ClientWebSocket();
    await assert.rejects(within(10000, c.connect(`wss://127.0.0.1:${server.port}/`, { invoker }), 'connect'),
      (e) => e.code === 'InvalidArgument'
        && e.message.includes(`add "https://127.0.0.1:${server.port}" to credentialOrigins`)
        && !e.message.includes(PASSWORD));
    assert.equal(c.httpStatusCode, 401);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].header('authorization'), undefined);
  } finally {
    invoker.close();
    await server.stop();
  }
});

test('ws:// with listed credentials: InsecureCredentials without allowBasicOverCleartext, sent with it', async () => {
  const server = await h1Server({ decide: basicGate });
  const origins = [`ws://127.0.0.1:${server.port}`];
  const strict = new Invoker({ credentials: CREDENTIALS, credentialOrigins: origins });
  const lax = new Invoker({ credentials: CREDENTIALS, credentialOrigins: origins, allowBasicOverCleartext: true });
  try {
    const c = new ClientWebSocket();
    await assert.rejects(within(10000, c.connect(`ws://127.0.0.1:${server.port}/`, { invoker: strict }), 'strict'),
      (e) => e.code === 'InsecureCredentials' && e.message.includes('allowBasicOverCleartext'));
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].header('authorization'), undefined);
    const d = new ClientWebSocket();
    await within(10000, d.connect(`ws://127.0.0.1:${server.port}/`, { invoker: lax }), 'lax');
    await roundTrip(d, 'in clear, as asked');
    await closed(d);
    assert.equal(server.requests.length, 3);
    assert.equal(server.requests[2].header('authorization'), BASIC);
  } finally {
    strict.close();
    lax.close();
    await server.stop();
  }
});
