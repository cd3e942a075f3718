'use strict';
// WebSockets over HTTP/2 (RFC 8441) in the npm package: ClientWebSocket with
// httpVersion '2' (h2c with prior knowledge, TLS with ALPN h2) and the
// version policy's fallbacks, acceptH2 on a node:http2 server, refusals; and
// interop with Node ws on node:http2 and Python hypercorn (tests/interop's peers).

const test = require('node:test');
const assert = require('node:assert/strict');
const http2 = require('node:http2');
const https = require('node:https');
const path = require('node:path');
const fs = require('node:fs');
const { ROOT, sockweave, within, echo, makeCerts, freePort, spawnPeer } = require('./helpers.js');

const { ClientWebSocket, acceptH2, acceptUpgrade } = sockweave;
const H2 = { httpVersion: '2', httpVersionPolicy: 'requestVersionExact' };

let certs;
test.before(() => { certs = makeCerts(); });
test.after(() => certs.remove());

/** An npm HTTP/2 server (extended CONNECT on unless `connect: false`) whose WebSockets echo. */
async function h2Server({ secure = false, connect = true, options = {} } = {}) {
  const settings = { enableConnectProtocol: connect };
  const server = secure
    ? http2.createSecureServer({ cert: certs.cert, key: certs.key, settings })
    : http2.createServer({ settings });
  const accepted = [];
  const errors = [];
  server.on('stream', (stream, headers) => {
    acceptH2(stream, headers, options).then((ws) => {
      accepted.push(ws);
      return echo(ws);
    }).catch((e) => errors.push(e));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return { server, accepted, errors, port };
}

async function roundTrip(c) {
  const big = Buffer.alloc(1 << 20, 0x5a);
  await c.send(big);
  assert.ok((await within(10000, c.receiveMessage(), 'echo')).data.equals(big));
  await c.send('h2 text', { endOfMessage: false });
  await c.send(' in pieces');
  assert.equal((await within(5000, c.receiveMessage(), 'echo')).text, 'h2 text in pieces');
  await within(5000, c.close(1000, 'h2 bye'), 'close');
  assert.equal(c.state, 'Closed');
  assert.equal(c.closeStatus, 1000);
}

test('h2c with prior knowledge: npm client and acceptH2 server, subprotocol and deflate', async () => {
  const srv = await h2Server({ options: { subProtocols: ['chat'], dangerousDeflateOptions: {} } });
  try {
    const c = new ClientWebSocket({ ...H2, subProtocols: ['x', 'chat'], dangerousDeflateOptions: {} });
    await within(5000, c.connect(`ws://127.0.0.1:${srv.port}/h2`), 'connect');
    assert.equal(c.httpVersion, '2');
    assert.equal(c.httpStatusCode, 200);
    assert.equal(c.subProtocol, 'chat');
    assert.ok(c.httpResponseHeaders.some(([k, v]) => k === 'sec-websocket-extensions' && /permessage-deflate/.test(v)));
    await roundTrip(c);
    await within(5000, c.closed, 'closed');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(srv.accepted[0].state, 'Closed');
    assert.equal(srv.accepted[0].closeStatusDescription, 'h2 bye');
    assert.deepEqual(srv.errors, []);
  } finally {
    srv.server.close();
  }
});

test('wss:// with ALPN h2, and the version policy table', async () => {
  const srv = await h2Server({ secure: true });
  const h1 = https.createServer({ cert: certs.cert, key: certs.key });
  h1.on('upgrade', (req, sock, head) => acceptUpgrade(req, sock, head, {}).then(echo).catch(() => {}));
  await new Promise((r) => h1.listen(0, '127.0.0.1', r));
  try {
    const tls = { ca: certs.ca };
    const connect = async (url, options) => {
      const c = new ClientWebSocket({ ...options, tls });
      await within(5000, c.connect(url), `connect ${JSON.stringify(options)}`);
      const v = c.httpVersion;
      await c.send('v');
      assert.equal((await c.receiveMessage()).text, 'v');
      await c.close();
      return v;
    };
    const h2url = `wss://localhost:${srv.port}/`;
    const h1url = `wss://localhost:${h1.address().port}/`;
    assert.equal(await connect(h2url, H2), '2');
    assert.equal(await connect(h2url, { httpVersion: '2', httpVersionPolicy: 'requestVersionOrLower' }), '2');
    assert.equal(await connect(h2url, { httpVersion: '1.1', httpVersionPolicy: 'requestVersionOrHigher' }), '2');
    // An HTTP/1.1-only server: the policy decides.
    assert.equal(await connect(h1url, { httpVersion: '2', httpVersionPolicy: 'requestVersionOrLower' }), '1.1');
    assert.equal(await connect(h1url, {}), '1.1');
    await assert.rejects(new ClientWebSocket({ ...H2, tls }).connect(h1url),
      (e) => e.code === 'UnsupportedProtocol' || e.code === 'Tls');
  } finally {
    srv.server.close();
    h1.close();
  }
});

test('an HTTP/2 server without extended CONNECT: refused under Exact, HTTP/1.1 under OrLower', async () => {
  const plain = await h2Server({ connect: false });
  try {
    await assert.rejects(new ClientWebSocket(H2).connect(`ws://127.0.0.1:${plain.port}/`),
      (e) => e.code === 'UnsupportedProtocol' && /SETTINGS_ENABLE_CONNECT_PROTOCOL/.test(e.message));
  } finally {
    plain.server.close();
  }
  // TLS, h2 without extended CONNECT, HTTP/1.1 allowed: a second connection with HTTP/1.1.
  const server = http2.createSecureServer({ cert: certs.cert, key: certs.key, allowHTTP1: true });
  server.on('upgrade', (req, sock, head) => acceptUpgrade(req, sock, head, {}).then(echo).catch(() => {}));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const c = new ClientWebSocket({ httpVersion: '2', httpVersionPolicy: 'requestVersionOrLower', tls: { ca: certs.ca } });
    await within(5000, c.connect(`wss://localhost:${server.address().port}/`), 'connect');
    assert.equal(c.httpVersion, '1.1');
    await c.send('fallback');
    assert.equal((await c.receiveMessage()).text, 'fallback');
    await c.close();
  } finally {
    server.close();
  }
});

test('acceptH2 refuses invalid extended CONNECTs with the engine status; decide() can refuse', async () => {
  const srv = await h2Server();
  const refusing = http2.createServer({ settings: { enableConnectProtocol: true } });
  const refusals = [];
  refusing.on('stream', (stream, headers) => {
    acceptH2(stream, headers, {}, () => ({ status: 403, message: 'no', headers: { 'X-Why': 'test' } }))
      .catch((e) => refusals.push(e.code));
  });
  await new Promise((r) => refusing.listen(0, '127.0.0.1', r));
  try {
    const session = http2.connect(`http://127.0.0.1:${srv.port}`);
    await new Promise((r) => session.once('remoteSettings', r));
    const status = (headers) => new Promise((resolve, reject) => {
      const s = session.request(headers, { endStream: false });
      s.on('response', (h) => {
        resolve(h[':status']);
        s.close();
      });
      s.on('error', reject);
    });
    const base = { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': '/', ':authority': 'x' };
    assert.equal(await status({ ...base, 'sec-websocket-version': '8' }), 426);
    assert.equal(await status(base), 426);
    assert.equal(await status({ ...base, ':protocol': 'other', 'sec-websocket-version': '13' }), 501);
    session.destroy();
    await assert.rejects(new ClientWebSocket(H2).connect(`ws://127.0.0.1:${refusing.address().port}/`), (e) => {
      assert.equal(e.code, 'NotAWebSocket');
      assert.equal(e.response.status, 403);
      return true;
    });
    assert.deepEqual(srv.errors.map((e) => e.code), ['UnsupportedVersion', 'UnsupportedVersion', 'NotAWebSocket']);
    assert.deepEqual(refusals, ['NotAWebSocket']);
  } finally {
    srv.server.close();
    refusing.close();
  }
});

test('acceptH2 with allowedOrigins: 403 for another origin or none, a WebSocket for the listed one', async () => {
  const srv = await h2Server({ options: { allowedOrigins: ['https://app.example'] } });
  try {
    const url = `ws://127.0.0.1:${srv.port}/`;
    for (const origin of ['https://evil.example', 'http://app.example', undefined]) {
      const c = new ClientWebSocket({ ...H2, requestHeaders: origin ? { Origin: origin } : {} });
      await assert.rejects(c.connect(url), (e) => {
        assert.equal(e.code, 'NotAWebSocket', String(origin));
        assert.equal(e.response.status, 403, String(origin));
        return true;
      });
    }
    const c = new ClientWebSocket({ ...H2, requestHeaders: { Origin: 'https://app.example' } });
    await within(10000, c.connect(url), 'connect');
    await c.send('hi');
    assert.equal((await within(5000, c.receiveMessage(), 'echo')).text, 'hi');
    await within(5000, c.close(1000, ''), 'close');
  } finally {
    srv.server.close();
  }
});

const PEERS = [
  ['Node ws on node:http2', () => [process.execPath, [path.join(ROOT, 'tests', 'interop', 'h2_peers.js'), 'server']],
    { NODE_PATH: path.join(ROOT, 'tests', 'peers', 'node', 'node_modules') }],
  ['Python hypercorn', () => [path.join(ROOT, 'tests', '.cache', 'py3', 'bin', 'python'), [path.join(ROOT, 'tests', 'interop', 'h2_peers.py')]], {}],
];

for (const [name, command, env] of PEERS) {
  for (const secure of [false, true]) {
    test(`npm HTTP/2 client against ${name} (${secure ? 'TLS, ALPN h2' : 'h2c'})`, async () => {
      const [cmd, args] = command();
      assert.ok(fs.existsSync(cmd) && fs.existsSync(args[0]), `${cmd} ${args[0]} exist (tests/peers/setup.sh)`);
      const port = await freePort();
      const extra = secure ? [path.join(certs.dir, 'server.pem'), path.join(certs.dir, 'server.key')] : [];
      const peer = spawnPeer(cmd, [...args, String(port), ...extra], 'ready', env);
      try {
        await within(15000, peer.ready, `${name} start`);
        const c = new ClientWebSocket({ ...H2, subProtocols: ['chat'], tls: { ca: certs.ca } });
        await within(5000, c.connect(`${secure ? 'wss' : 'ws'}://localhost:${port}/echo`), 'connect');
        assert.equal(c.httpVersion, '2');
        assert.equal(c.subProtocol, 'chat');
        for (const m of ['hello h2', Buffer.from([1, 2, 3]), 'z'.repeat(300000)]) {
          await c.send(m);
          const r = await within(10000, c.receiveMessage(), 'echo');
          assert.ok(typeof m === 'string' ? r.text === m : r.data.equals(m));
        }
        await within(5000, c.close(1000, ''), 'close');
        assert.equal(c.state, 'Closed');
      } finally {
        peer.p.kill();
      }
    });
  }
}
