'use strict';
// Cookies and HTTP Basic credentials of the npm ClientWebSocket, twins of
// native/tests/credentials.rs and the native cookie tests: Basic only after a
// 401 with a Basic challenge, one retry on a new connection, never over ws://
// without allowBasicOverCleartext (the engine decides: core's auth rules);
// cookies through a user's jar (tough-cookie's CookieJar, which holds the
// public suffix list), read before each handshake and fed every Set-Cookie.
//
//   node --test --test-concurrency=1 tests/npm/credentials.test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const https = require('node:https');
const http2 = require('node:http2');
const path = require('node:path');
const { sockweave, within, echo, makeCerts } = require('./helpers.js');

const { CookieJar } = require(path.join(__dirname, 'node_modules', 'tough-cookie'));
const { ClientWebSocket, acceptUpgrade, acceptH2 } = sockweave;

const USER = 'aladdin';
const PASSWORD = 'open sesame';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const CHALLENGE = { status: 401, headers: [['WWW-Authenticate', 'Basic realm="sockweave"']] };

let certs;
test.before(() => { certs = makeCerts(); });
test.after(() => certs.remove());

/**
 * An HTTP/1.1 WebSocket server on 127.0.0.1 (TLS with `secure`) whose
 * WebSockets echo; `decide(request, n)` answers request number `n` (from 0).
 * `requests` keeps every request's headers.
 */
async function server({ secure = false, decide = () => undefined } = {}) {
  const s = secure ? https.createServer({ cert: certs.cert, key: certs.key }) : http.createServer();
  const requests = [];
  s.on('upgrade', (req, sock, head) => {
    acceptUpgrade(req, sock, head, {}, (r) => {
      requests.push(r);
      return decide(r, requests.length - 1);
    }).then(echo).catch(() => {});
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const stop = () => {
    s.closeAllConnections();
    return new Promise((r) => s.close(r));
  };
  return { port: s.address().port, requests, stop };
}

/** The same on node:http2 over TLS (RFC 8441): `requests` holds each extended CONNECT. */
async function h2Server(decide) {
  const s = http2.createSecureServer({ cert: certs.cert, key: certs.key, settings: { enableConnectProtocol: true } });
  const requests = [];
  const sessions = new Set();
  s.on('session', (x) => { sessions.add(x); x.on('close', () => sessions.delete(x)); });
  s.on('stream', (stream, headers) => {
    acceptH2(stream, headers, {}, (r) => {
      requests.push(r);
      return decide(r, requests.length - 1);
    }).then(echo).catch(() => {});
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const stop = () => {
    for (const x of sessions) x.destroy();
    return new Promise((r) => s.close(r));
  };
  return { port: s.address().port, requests, stop };
}

/** Accepts requests with the right credentials, challenges the others. */
const basicGate = (challenge = CHALLENGE) => (r) => (r.header('authorization') === BASIC ? undefined : challenge);

async function connected(c, url, extra) {
  await within(10000, c.connect(url, extra), 'connect');
  assert.equal(c.state, 'Open');
  await c.send('ping');
  assert.equal((await within(5000, c.receiveMessage(), 'echo')).text, 'ping');
  await within(5000, c.close(1000), 'close');
}

async function refused(c, url) {
  const e = await within(10000, c.connect(url).then(() => null, (x) => x), 'connect');
  assert.ok(e, 'connect should fail');
  assert.equal(c.state, 'Closed');
  return e;
}

test('Basic over wss:// after a 401 with a Basic challenge: two requests, the second with the credentials', async () => {
  const srv = await server({ secure: true, decide: basicGate() });
  try {
    const c = new ClientWebSocket({ tls: { ca: certs.ca }, credentials: { user: USER, password: PASSWORD } });
    await connected(c, `wss://127.0.0.1:${srv.port}/chat`);
    assert.equal(c.httpStatusCode, 101);
    assert.equal(srv.requests.length, 2);
    assert.equal(srv.requests[0].header('authorization'), undefined);
    assert.equal(srv.requests[1].header('authorization'), BASIC);
  } finally {
    await srv.stop();
  }
});

test('no credentials are sent before a challenge, and none without credentials', async () => {
  const srv = await server({ secure: true });
  try {
    const c = new ClientWebSocket({ tls: { ca: certs.ca }, credentials: { user: USER, password: PASSWORD } });
    await connected(c, `wss://127.0.0.1:${srv.port}/`);
    assert.equal(srv.requests.length, 1);
    assert.equal(srv.requests[0].header('authorization'), undefined);
  } finally {
    await srv.stop();
  }
});

test('Basic over ws:// without allowBasicOverCleartext fails before sending the password', async () => {
  const srv = await server({ decide: basicGate() });
  try {
    const c = new ClientWebSocket({ credentials: { user: USER, password: PASSWORD } });
    const e = await refused(c, `ws://127.0.0.1:${srv.port}/`);
    assert.equal(e.code, 'InsecureCredentials');
    assert.match(e.message, /allowBasicOverCleartext/);
    assert.doesNotMatch(e.message, /open sesame/);
    assert.equal(e.response.status, 401);
    assert.equal(c.httpStatusCode, 401);
    assert.equal(srv.requests.length, 1);
    assert.ok(srv.requests.every((r) => r.header('authorization') === undefined));
  } finally {
    await srv.stop();
  }
});

test('Basic over ws:// with allowBasicOverCleartext succeeds', async () => {
  const srv = await server({ decide: basicGate() });
  try {
    const c = new ClientWebSocket({ credentials: { user: USER, password: PASSWORD }, allowBasicOverCleartext: true });
    await connected(c, `ws://127.0.0.1:${srv.port}/`);
    assert.equal(srv.requests.length, 2);
    assert.equal(srv.requests[1].header('authorization'), BASIC);
  } finally {
    await srv.stop();
  }
});

test('a wrong password: one retry, then the 401 is the error', async () => {
  const srv = await server({ secure: true, decide: basicGate() });
  try {
    const c = new ClientWebSocket({ tls: { ca: certs.ca }, credentials: { user: USER, password: 'wrong' } });
    const e = await refused(c, `wss://127.0.0.1:${srv.port}/`);
    assert.match(e.message, /401/);
    assert.equal(e.response.status, 401);
    assert.equal(c.httpStatusCode, 401);
    assert.equal(srv.requests.length, 2);
    assert.equal(srv.requests[1].header('authorization'), `Basic ${Buffer.from(`${USER}:wrong`).toString('base64')}`);
  } finally {
    await srv.stop();
  }
});

test('a 401 without a Basic challenge is not retried', async () => {
  const srv = await server({ secure: true, decide: () => ({ status: 401, headers: [['WWW-Authenticate', 'Bearer realm="x"']] }) });
  try {
    const c = new ClientWebSocket({ tls: { ca: certs.ca }, credentials: { user: USER, password: PASSWORD } });
    const e = await refused(c, `wss://127.0.0.1:${srv.port}/`);
    assert.match(e.message, /401/);
    assert.equal(srv.requests.length, 1);
    assert.equal(srv.requests[0].header('authorization'), undefined);
  } finally {
    await srv.stop();
  }
});

test('credentials and allowBasicOverCleartext are checked before any I/O', async () => {
  for (const options of [{ credentials: 'user:pw' }, { credentials: { user: 'a:b', password: 'p' } },
    { credentials: { user: 'a' } }, { allowBasicOverCleartext: 'yes' }, { cookieJar: {} }]) {
    const c = new ClientWebSocket(options);
    await assert.rejects(c.connect('ws://127.0.0.1:9/'), (e) => e.code === 'InvalidArgument');
  }
});

test('Basic over HTTP/2: a 401 on the extended CONNECT, then a new connection with the credentials', async () => {
  const gate = basicGate({ status: 401, headers: [...CHALLENGE.headers, ['Set-Cookie', 'h2=yes; Path=/']] });
  const srv = await h2Server(gate);
  try {
    const jar = new CookieJar();
    const c = new ClientWebSocket({
      httpVersion: '2', httpVersionPolicy: 'requestVersionExact', tls: { ca: certs.ca },
      credentials: { user: USER, password: PASSWORD }, cookieJar: jar,
    });
    await connected(c, `wss://127.0.0.1:${srv.port}/h2`);
    assert.equal(c.httpVersion, '2');
    assert.equal(srv.requests.length, 2);
    assert.equal(srv.requests[0].header('authorization'), undefined);
    assert.equal(srv.requests[1].header('authorization'), BASIC);
    // The cookie of the 401 went out with the retry.
    assert.equal(srv.requests[1].header('cookie'), 'h2=yes');
  } finally {
    await srv.stop();
  }
});

test('a cookie set in the 101 response is sent on the next connection', async () => {
  const srv = await server({
    decide: (_r, n) => (n === 0 ? { headers: [['Set-Cookie', 'session=abc; Path=/'], ['Set-Cookie', 'theme=dark']] } : undefined),
  });
  try {
    const jar = new CookieJar();
    const url = `ws://127.0.0.1:${srv.port}/`;
    await connected(new ClientWebSocket({ cookieJar: jar }), url);
    assert.equal(srv.requests[0].header('cookie'), undefined);
    // The jar was given the http form of the URL.
    assert.equal(await jar.getCookieString(`http://127.0.0.1:${srv.port}/`), 'session=abc; theme=dark');
    await connected(new ClientWebSocket({ cookieJar: jar, requestHeaders: { Cookie: 'stale=1' } }), url);
    // The jar's Cookie replaces one of requestHeaders, as native does.
    assert.deepEqual(srv.requests[1].headers.filter(([k]) => k.toLowerCase() === 'cookie').map(([, v]) => v),
      ['session=abc; theme=dark']);
  } finally {
    await srv.stop();
  }
});

test('cookies set on a 401 are stored', async () => {
  const srv = await server({
    decide: (_r, n) => (n === 0 ? { status: 401, headers: [['Set-Cookie', 'seen=1']] } : undefined),
  });
  try {
    const jar = new CookieJar();
    const url = `ws://127.0.0.1:${srv.port}/`;
    const e = await refused(new ClientWebSocket({ cookieJar: jar }), url);
    assert.equal(e.response.status, 401);
    assert.equal(srv.requests.length, 1);
    await connected(new ClientWebSocket({ cookieJar: jar }), url);
    assert.equal(srv.requests[1].header('cookie'), 'seen=1');
  } finally {
    await srv.stop();
  }
});

test('a Secure cookie is sent over wss:// and never over ws://', async () => {
  const setting = (at) => (_r, n) => (n === at ? { headers: [['Set-Cookie', 's=1; Secure'], ['Set-Cookie', 'p=2']] } : undefined);
  const tlsSrv = await server({ secure: true, decide: setting(0) });
  const plain = await server({ decide: setting(1) });
  try {
    // Over TLS the Secure cookie is kept and sent back.
    const jar = new CookieJar();
    const wss = `wss://127.0.0.1:${tlsSrv.port}/`;
    await connected(new ClientWebSocket({ cookieJar: jar, tls: { ca: certs.ca } }), wss);
    await connected(new ClientWebSocket({ cookieJar: jar, tls: { ca: certs.ca } }), wss);
    assert.equal(tlsSrv.requests[1].header('cookie'), 's=1; p=2');
    // Over ws:// it is not sent, whether set over ws:// or over wss:// (same host).
    const ws = `ws://127.0.0.1:${plain.port}/`;
    await connected(new ClientWebSocket({ cookieJar: jar }), ws);
    assert.equal(plain.requests[0].header('cookie'), 'p=2');
    const fresh = new CookieJar();
    await connected(new ClientWebSocket({ cookieJar: fresh }), ws);
    await connected(new ClientWebSocket({ cookieJar: fresh }), ws);
    assert.equal(plain.requests[2].header('cookie'), 'p=2');
  } finally {
    await tlsSrv.stop();
    await plain.stop();
  }
});

test('public suffix domains (co.uk, com, github.io) are refused by the jar and not sent', async () => {
  // The host names resolve to 127.0.0.1 through tls.connect's `lookup`; the
  // test certificate is for localhost, so the host name check is off here.
  const lookup = (_host, o, cb) => (o && o.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4));
  const tlsOptions = { ca: certs.ca, lookup, checkServerIdentity: () => undefined };
  for (const [host, suffix, site] of [['www.example.co.uk', 'co.uk', 'example.co.uk'],
    ['www.example.com', 'com', 'example.com'], ['me.github.io', 'github.io', 'me.github.io']]) {
    const srv = await server({
      secure: true,
      decide: (_r, n) => (n === 0 ? {
        headers: [['Set-Cookie', `wide=1; Domain=${suffix}`], ['Set-Cookie', `site=2; Domain=${site}`], ['Set-Cookie', 'host=3']],
      } : undefined),
    });
    try {
      const jar = new CookieJar();
      const url = `wss://${host}:${srv.port}/`;
      await connected(new ClientWebSocket({ cookieJar: jar, tls: tlsOptions }), url);
      assert.equal(srv.requests[0].host, `${host}:${srv.port}`);
      await connected(new ClientWebSocket({ cookieJar: jar, tls: tlsOptions }), url);
      assert.equal(srv.requests[1].header('cookie'), 'site=2; host=3', host);
      assert.equal(await jar.getCookieString(`https://another.${suffix}/`), '', host);
    } finally {
      await srv.stop();
    }
  }
});
