'use strict';
// wss:// (node:tls under ClientWebSocket, node:https + acceptUpgrade as the
// server) with a test CA made here by openssl, TLS refusals; and interop with
// Python `websockets` 17.4 (tests/.cache/py3, installed by tests/peers/setup.sh)
// in both roles, plain and with permessage-deflate.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const https = require('node:https');
const { ROOT, sockweave, within, echo, makeCerts, freePort, spawnPeer } = require('./helpers.js');

const { ClientWebSocket, acceptUpgrade } = sockweave;
const PYTHON = path.join(ROOT, 'tests', '.cache', 'py3', 'bin', 'python');
const PEER = path.join(__dirname, 'py_peer.py');

let certs;
test.before(() => { certs = makeCerts(); });
test.after(() => certs.remove());

async function wssServer(cert, key) {
  const server = https.createServer({ cert, key });
  server.on('upgrade', (req, sock, head) => {
    acceptUpgrade(req, sock, head, { dangerousDeflateOptions: {} }).then(echo).catch(() => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

test('wss:// with a test CA, by name and by IP; deflate over TLS', async () => {
  const server = await wssServer(certs.cert, certs.key);
  try {
    const port = server.address().port;
    for (const host of ['localhost', '127.0.0.1']) {
      const c = new ClientWebSocket({ tls: { ca: certs.ca }, dangerousDeflateOptions: {} });
      await within(5000, c.connect(`wss://${host}:${port}/secure`), `connect to ${host}`);
      const big = 'tls '.repeat(300000);
      await c.send(big);
      assert.equal((await c.receiveMessage()).text, big);
      await c.close();
      assert.equal(c.state, 'Closed');
    }
  } finally {
    server.close();
  }
});

test('wss:// refusals: unknown CA and wrong name are Tls errors', async () => {
  const server = await wssServer(certs.cert, certs.key);
  const other = await wssServer(certs.otherCert, certs.otherKey);
  try {
    await assert.rejects(new ClientWebSocket().connect(`wss://localhost:${server.address().port}/`),
      (e) => e.code === 'Tls' && /certificate/i.test(e.message));
    await assert.rejects(new ClientWebSocket({ tls: { ca: certs.ca } }).connect(`wss://localhost:${other.address().port}/`),
      (e) => e.code === 'Tls');
    // Verification can be turned off, as a user would for a test server.
    const c = new ClientWebSocket({ tls: { rejectUnauthorized: false } });
    await c.connect(`wss://localhost:${other.address().port}/`);
    await c.close();
  } finally {
    server.close();
    other.close();
  }
});

const runPython = (args, until) => spawnPeer(PYTHON, [PEER, ...args], until);

for (const mode of ['plain', 'deflate']) {
  test(`npm client against a Python websockets server (${mode})`, async () => {
    assert.ok(fs.existsSync(PYTHON), 'Python websockets is installed (tests/peers/setup.sh py3)');
    const port = await freePort();
    const py = runPython(['server', String(port), mode], 'ready');
    try {
      await within(15000, py.ready, 'python server');
      const c = new ClientWebSocket({ subProtocols: ['chat'], dangerousDeflateOptions: mode === 'deflate' ? {} : undefined });
      await c.connect(`ws://127.0.0.1:${port}/`);
      assert.equal(c.subProtocol, 'chat');
      const ext = c.httpResponseHeaders.find(([k]) => /^sec-websocket-extensions$/i.test(k));
      assert.equal(Boolean(ext && /permessage-deflate/.test(ext[1])), mode === 'deflate');
      for (const m of ['hello', 'ünï ✓', 'y'.repeat(500000), Buffer.from([9, 8, 7])]) {
        await c.send(m);
        const r = await within(10000, c.receiveMessage(), 'echo');
        assert.ok(typeof m === 'string' ? r.text === m : r.data.equals(m));
      }
      await c.close(1000, 'npm done');
      assert.equal(c.closeStatus, 1000);
    } finally {
      py.p.kill();
    }
  });

  test(`Python websockets client against the npm server (${mode})`, async () => {
    assert.ok(fs.existsSync(PYTHON), 'Python websockets is installed (tests/peers/setup.sh py3)');
    const server = http.createServer();
    const closes = [];
    server.on('upgrade', (req, sock, head) => {
      acceptUpgrade(req, sock, head, { subProtocols: ['chat'], dangerousDeflateOptions: mode === 'deflate' ? {} : undefined })
        .then(async (ws) => {
          await echo(ws);
          closes.push([ws.closeStatus, ws.closeStatusDescription]);
        })
        .catch((e) => closes.push(e));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      const py = runPython(['client', `ws://127.0.0.1:${server.address().port}/`, mode]);
      const code = await within(20000, py.exited, 'python client');
      assert.equal(code, 0, `python client failed: ${py.errors()}`);
      assert.match(py.output(), /^ok 6/);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(closes, [[1000, 'py done']]);
    } finally {
      server.close();
    }
  });
}
