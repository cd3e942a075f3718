'use strict';
// HTTP CONNECT proxies for the npm ClientWebSocket: a real tinyproxy (open,
// and with BasicAuth), ws:// and wss:// over HTTP/1.1 and wss:// over HTTP/2
// (ALPN h2 through the tunnel); credentials in the proxy URL or as
// {url, credentials}; the 407s with the core's messages; the environment
// variables (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) and useProxy: false; and a
// JS mock proxy that sends its 200 and the server's first bytes in one write
// (nothing after the proxy's head may be consumed). tinyproxy must be
// installed (tests/run installs it with apt); without it these tests fail.
//
//   node --test --test-concurrency=1 tests/npm/proxy.test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const https = require('node:https');
const http2 = require('node:http2');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { sockweave, within, echo, makeCerts, freePort } = require('./helpers.js');
const { requireTinyproxy, startTinyproxy, logged } = require('./tinyproxy.js');

const { ClientWebSocket, acceptUpgrade, acceptH2 } = sockweave;

const VARS = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY',
  'no_proxy', 'NO_PROXY', 'GATEWAY_INTERFACE'];
const saved = {};

let certs;
let plain; // ws:// echo server
let secure; // wss:// echo server (https, certificate for localhost)
let h2; // wss:// HTTP/2 echo server (extended CONNECT)
let open; // tinyproxy without credentials
let basic; // tinyproxy with BasicAuth ada secret
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sockweave-npm-proxy-'));

async function upgradeServer(server) {
  server.on('upgrade', (req, socket, head) => {
    acceptUpgrade(req, socket, head, {}).then(echo).catch(() => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server.address().port;
}

async function roundTrip(c, text) {
  await c.send(text);
  assert.equal((await within(5000, c.receiveMessage(), 'echo')).text, text);
  await within(5000, c.close(1000, ''), 'close');
  assert.equal(c.state, 'Closed');
}

async function connect(url, options) {
  const c = new ClientWebSocket(options);
  await within(10000, c.connect(url), `connect ${url}`);
  return c;
}

test.before(async () => {
  requireTinyproxy();
  for (const v of VARS) {
    saved[v] = process.env[v];
    delete process.env[v];
  }
  certs = makeCerts();
  plain = http.createServer((req, res) => res.end());
  plain.wsPort = await upgradeServer(plain);
  secure = https.createServer({ cert: certs.cert, key: certs.key }, (req, res) => res.end());
  secure.wsPort = await upgradeServer(secure);
  h2 = http2.createSecureServer({ cert: certs.cert, key: certs.key, settings: { enableConnectProtocol: true } });
  h2.on('stream', (stream, headers) => { acceptH2(stream, headers, {}).then(echo).catch(() => {}); });
  await new Promise((r) => h2.listen(0, '127.0.0.1', r));
  open = await startTinyproxy(tmp, 'open');
  basic = await startTinyproxy(tmp, 'basic', { auth: 'ada secret', maxClients: 20 });
});

test.after(async () => {
  for (const v of VARS) {
    if (saved[v] === undefined) delete process.env[v];
    else process.env[v] = saved[v];
  }
  await Promise.all([open && open.stop(), basic && basic.stop()]);
  for (const s of [plain, secure, h2]) if (s) s.close();
  if (certs) certs.remove();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('ws:// through tinyproxy (proxy option as a URL string); tinyproxy logs the CONNECT', async () => {
  const target = `127.0.0.1:${plain.wsPort}`;
  const before = open.connects(target);
  const c = await connect(`ws://${target}/`, { proxy: open.url });
  assert.equal(c.httpStatusCode, 101);
  await roundTrip(c, 'through the proxy');
  await logged(() => open.connects(target), before + 1, 'one CONNECT to the ws:// server');
});

test('wss:// through tinyproxy: TLS to the server over the tunnel, with its name', async () => {
  const target = `localhost:${secure.wsPort}`;
  const before = open.connects(target);
  const c = await connect(`wss://${target}/`, { proxy: { url: open.url }, tls: { ca: certs.ca } });
  await roundTrip(c, 'tls through the proxy');
  await logged(() => open.connects(target), before + 1, 'one CONNECT to the wss:// server');
});

test('Basic proxy credentials: in the URL (wss://) and as {url, credentials} (ws://)', async () => {
  const wssTarget = `localhost:${secure.wsPort}`;
  const before = basic.connects(wssTarget);
  const c = await connect(`wss://${wssTarget}/`, {
    proxy: `http://ada:secret@127.0.0.1:${basic.port}`, tls: { ca: certs.ca },
  });
  await roundTrip(c, 'with credentials');
  await logged(() => basic.connects(wssTarget), before + 1, 'one CONNECT through the BasicAuth proxy');
  const d = await connect(`ws://127.0.0.1:${plain.wsPort}/`, {
    proxy: { url: basic.url, credentials: { user: 'ada', password: 'secret' } },
  });
  await roundTrip(d, 'credentials object');
});

test('a 407 is a Proxy error with the core message; wrong credentials are a Proxy error too', async () => {
  const c = new ClientWebSocket({ proxy: basic.url });
  await assert.rejects(within(10000, c.connect(`ws://127.0.0.1:${plain.wsPort}/`)), (e) => {
    assert.equal(e.code, 'Proxy');
    assert.ok(e.message.startsWith('the proxy requires credentials (407 Proxy Authentication Required); set '),
      e.message);
    return true;
  });
  assert.equal(c.state, 'Closed');
  const wrong = new ClientWebSocket({ proxy: `http://ada:nope@127.0.0.1:${basic.port}` });
  await assert.rejects(within(10000, wrong.connect(`ws://127.0.0.1:${plain.wsPort}/`)), (e) => {
    assert.equal(e.code, 'Proxy');
    // tinyproxy answers wrong credentials with 401, not 407: an ordinary refusal
    // naming the status (a 407 after credentials is core's "rejected our credentials", tested in core).
    assert.match(e.message, /^the proxy refused the tunnel to 127\.0\.0\.1:\d+: HTTP 401 /);
    assert.ok(!e.message.includes('nope'));
    return true;
  });
});

test('the environment: HTTP_PROXY for ws://, HTTPS_PROXY for wss://', async () => {
  const wsTarget = `127.0.0.1:${plain.wsPort}`;
  const wssTarget = `localhost:${secure.wsPort}`;
  const ws0 = open.connects(wsTarget);
  const wss0 = basic.connects(wssTarget);
  process.env.HTTP_PROXY = open.url;
  process.env.HTTPS_PROXY = `ada:secret@127.0.0.1:${basic.port}`; // no scheme: http://
  try {
    await roundTrip(await connect(`ws://${wsTarget}/`), 'env ws');
    await roundTrip(await connect(`wss://${wssTarget}/`, { tls: { ca: certs.ca } }), 'env wss');
  } finally {
    delete process.env.HTTP_PROXY;
    delete process.env.HTTPS_PROXY;
  }
  await logged(() => open.connects(wsTarget), ws0 + 1, 'HTTP_PROXY used for ws://');
  await logged(() => basic.connects(wssTarget), wss0 + 1, 'HTTPS_PROXY used for wss://');
});

test('NO_PROXY matching the target bypasses the environment proxy', async () => {
  const target = `127.0.0.1:${plain.wsPort}`;
  const before = open.connects(target);
  const tlsBefore = open.connects(`localhost:${secure.wsPort}`);
  process.env.HTTP_PROXY = open.url;
  process.env.HTTPS_PROXY = open.url;
  process.env.NO_PROXY = 'example.test, 127.0.0.0/8,.localhost';
  try {
    await roundTrip(await connect(`ws://${target}/`), 'bypassed (CIDR)');
    await roundTrip(await connect(`wss://localhost:${secure.wsPort}/`, { tls: { ca: certs.ca } }), 'bypassed (domain)');
    // Another port on a host NO_PROXY does not name still goes through the proxy.
    process.env.NO_PROXY = `127.0.0.1:1,localhost:${secure.wsPort}`;
    await roundTrip(await connect(`ws://${target}/`), 'port does not match');
  } finally {
    delete process.env.HTTP_PROXY;
    delete process.env.HTTPS_PROXY;
    delete process.env.NO_PROXY;
  }
  await logged(() => open.connects(target), before + 1, 'only the connection NO_PROXY did not match was tunnelled');
  assert.equal(open.connects(`localhost:${secure.wsPort}`), tlsBefore, 'no CONNECT for the bypassed wss:// host');
});

test('useProxy: false ignores the environment; an unusable or dead environment proxy fails with Proxy', async () => {
  const dead = await freePort(); // nobody listens there
  const url = `ws://127.0.0.1:${plain.wsPort}/`;
  process.env.HTTP_PROXY = `http://127.0.0.1:${dead}`;
  try {
    await roundTrip(await connect(url, { useProxy: false }), 'direct');
    await roundTrip(await connect(url, { useProxy: false, proxy: `http://127.0.0.1:${dead}` }), 'direct too');
    await assert.rejects(new ClientWebSocket().connect(url), (e) => e.code === 'Proxy' && e.message.includes(`${dead}`));
    process.env.HTTP_PROXY = 'socks5://ada:hunter2@127.0.0.1:1080';
    await assert.rejects(new ClientWebSocket().connect(url), (e) => {
      assert.equal(e.code, 'Proxy');
      assert.match(e.message, /HTTP_PROXY/);
      assert.match(e.message, /socks5/);
      assert.match(e.message, /no_proxy/);
      assert.ok(!e.message.includes('hunter2'), e.message);
      return true;
    });
  } finally {
    delete process.env.HTTP_PROXY;
  }
  await assert.rejects(new ClientWebSocket({ proxy: 'https://127.0.0.1:1' }).connect(url),
    (e) => e.code === 'InvalidArgument');
  await assert.rejects(new ClientWebSocket({ useProxy: 'no' }).connect(url), (e) => e.code === 'InvalidArgument');
});

test('HTTP/2 over wss:// through tinyproxy: ALPN h2 inside the tunnel, extended CONNECT', async () => {
  const target = `localhost:${h2.address().port}`;
  const before = open.connects(target);
  const c = await connect(`wss://${target}/`, {
    httpVersion: '2', httpVersionPolicy: 'requestVersionExact', proxy: open.url, tls: { ca: certs.ca },
  });
  assert.equal(c.httpVersion, '2');
  assert.equal(c.httpStatusCode, 200);
  await roundTrip(c, 'h2 through the proxy');
  await logged(() => open.connects(target), before + 1, 'one CONNECT to the HTTP/2 server');
});

/** A proxy in JS: reads the CONNECT head, then `answer(socket, head)`. */
async function mockProxy(answer) {
  const seen = [];
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    const onData = (c) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      seen.push(buf.subarray(0, end).toString('latin1'));
      answer(sock, buf.subarray(end + 4));
    };
    sock.on('data', onData);
    sock.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, server };
}

test('nothing after the proxy\'s head is consumed: 200, the 101 and a frame in one segment', async () => {
  // The nonce of the handshake is fixed for this test, so the proxy can answer for the server.
  const key = Buffer.alloc(16, 7).toString('base64');
  const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  let request = '';
  let gotRequest;
  const requested = new Promise((r) => { gotRequest = r; });
  const mock = await mockProxy((sock) => {
    sock.write(Buffer.concat([
      Buffer.from('HTTP/1.1 200 Connection established\r\nProxy-Agent: mock\r\n\r\n'),
      Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`),
      Buffer.from([0x81, 5]), Buffer.from('hello'),
    ]));
    sock.on('data', (c) => {
      request += c.toString('latin1');
      if (request.includes('\r\n\r\n')) gotRequest(request);
    });
  });
  // The engine's source of random bytes: Web Crypto where the global exists, else node:crypto (Node 18).
  const [holder, name] = globalThis.crypto && typeof globalThis.crypto.getRandomValues === 'function'
    ? [globalThis.crypto, 'getRandomValues'] : [crypto, 'randomFillSync'];
  const original = holder[name];
  holder[name] = (a) => a.fill(7);
  let c;
  try {
    c = new ClientWebSocket({ proxy: mock.url });
    await within(10000, c.connect('ws://example.test:8080/over-read'), 'connect');
  } finally {
    holder[name] = original;
  }
  try {
    assert.equal(c.httpStatusCode, 101);
    assert.equal((await within(5000, c.receiveMessage(), 'the first frame')).text, 'hello');
    assert.deepEqual(mock.seen, ['CONNECT example.test:8080 HTTP/1.1\r\nHost: example.test:8080']);
    // The client's own request still went out, after the tunnel opened.
    assert.match(await within(5000, requested, 'the request'), /^GET \/over-read HTTP\/1\.1\r\n/);
  } finally {
    c.abort();
    mock.server.close();
  }
});

test('a mock proxy\'s refusal names the status; a close during CONNECT is a Proxy error', async () => {
  const refusing = await mockProxy((sock) => sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
  const closing = await mockProxy((sock) => sock.end('HTTP/1.1 200 Conn'));
  try {
    await assert.rejects(new ClientWebSocket({ proxy: refusing.url }).connect('wss://example.test/'), (e) => {
      assert.equal(e.code, 'Proxy');
      assert.equal(e.message, 'the proxy refused the tunnel to example.test:443: HTTP 403 Forbidden');
      return true;
    });
    await assert.rejects(new ClientWebSocket({ proxy: closing.url }).connect('ws://[::1]:9/'), (e) => {
      assert.equal(e.code, 'Proxy');
      assert.equal(e.message, 'the proxy closed the connection during CONNECT');
      return true;
    });
    assert.deepEqual(closing.seen, ['CONNECT [::1]:9 HTTP/1.1\r\nHost: [::1]:9']);
  } finally {
    refusing.server.close();
    closing.server.close();
  }
});
