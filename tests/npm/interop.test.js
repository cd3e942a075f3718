'use strict';
// Interop with Node `ws` 8.23 (installed by tests/peers/setup.sh): our npm
// client against a ws server, and our npm server (node:http + acceptUpgrade)
// with a ws client; plain and with permessage-deflate.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const crypto = require('node:crypto');
const { sockweave, loadWs, within, echo } = require('./helpers.js');

const WS = loadWs();
const { ClientWebSocket, acceptUpgrade } = sockweave;

const messages = () => [
  'hello',
  '',
  'ünïcödé ✓ 𝄞',
  Buffer.from([0, 1, 2, 3, 255]),
  crypto.randomBytes(70000),
  'json '.repeat(20000),
  crypto.randomBytes(1 << 20),
];

const same = (a, b) => (typeof a === 'string' ? b.text === a : b.data.equals(a));

for (const deflate of [false, true, { serverMaxWindowBits: 9, clientMaxWindowBits: 10, serverContextTakeover: false }]) {
  const label = deflate === false ? 'plain' : deflate === true ? 'perMessageDeflate' : 'perMessageDeflate, windows 9/10, no server context takeover';
  test(`npm client against a ws server (${label})`, async () => {
    const perMessageDeflate = deflate === false ? false : { threshold: 0 };
    const wss = new WS.WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate, handleProtocols: (p) => (p.has('chat') ? 'chat' : false) });
    await new Promise((r) => wss.on('listening', r));
    const serverSaw = [];
    wss.on('connection', (ws, req) => {
      serverSaw.push(req.headers['sec-websocket-extensions']);
      ws.on('message', (d, binary) => ws.send(d, { binary }));
      ws.on('close', (code, reason) => serverSaw.push(`close ${code} ${reason}`));
    });
    try {
      const options = { subProtocols: ['chat'] };
      if (deflate === true) options.dangerousDeflateOptions = {};
      else if (deflate) options.dangerousDeflateOptions = deflate;
      const c = new ClientWebSocket(options);
      await within(5000, c.connect(`ws://127.0.0.1:${wss.address().port}/path`), 'connect');
      assert.equal(c.subProtocol, 'chat');
      const ext = (c.httpResponseHeaders.find(([k]) => /^sec-websocket-extensions$/i.test(k)) || [])[1];
      if (deflate) assert.match(ext, /permessage-deflate/);
      else assert.equal(ext, undefined);
      if (deflate && deflate !== true) {
        assert.match(ext, /server_max_window_bits=9/);
        assert.match(ext, /server_no_context_takeover/);
      }
      for (const m of messages()) {
        await c.send(m);
        const r = await within(10000, c.receiveMessage(), 'echo');
        assert.equal(r.messageType, typeof m === 'string' ? 'text' : 'binary');
        assert.ok(same(m, r), `echo of a ${m.length}-long ${typeof m} differs`);
      }
      // Fragmented, and uncompressed on request.
      await c.send('part one, ', { endOfMessage: false });
      await c.send('part two');
      assert.equal((await c.receiveMessage()).text, 'part one, part two');
      await c.send('raw', { disableCompression: true });
      assert.equal((await c.receiveMessage()).text, 'raw');
      await within(5000, c.close(4001, 'done'), 'close');
      assert.equal(c.state, 'Closed');
      assert.equal(c.closeStatus, 4001, 'ws echoes the close code');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(serverSaw[1], 'close 4001 done');
      if (deflate) assert.match(serverSaw[0], /permessage-deflate/);
    } finally {
      wss.close();
    }
  });

  test(`ws client against the npm server (${label})`, async () => {
    const server = http.createServer();
    const serverErrors = [];
    const serverOptions = { subProtocols: ['v2', 'v1'] };
    if (deflate === true) serverOptions.dangerousDeflateOptions = {};
    else if (deflate) serverOptions.dangerousDeflateOptions = deflate;
    let serverWs;
    server.on('upgrade', (req, sock, head) => {
      acceptUpgrade(req, sock, head, serverOptions).then((ws) => {
        serverWs = ws;
        return echo(ws);
      }).catch((e) => serverErrors.push(e));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      const perMessageDeflate = deflate === false ? false
        : deflate === true ? { threshold: 0 }
          : { threshold: 0, clientMaxWindowBits: 10, serverMaxWindowBits: 9, serverNoContextTakeover: true };
      const c = new WS(`ws://127.0.0.1:${server.address().port}/`, ['v1', 'v2'], { perMessageDeflate });
      await within(5000, new Promise((r, j) => { c.on('open', r); c.on('error', j); }), 'ws open');
      assert.equal(c.protocol, 'v2');
      if (deflate) assert.match(c.extensions, /permessage-deflate/);
      else assert.equal(c.extensions, '');
      const incoming = [];
      let wake = null;
      c.on('message', (d, binary) => {
        incoming.push({ data: Buffer.from(d), binary });
        if (wake) wake();
      });
      const next = async () => {
        while (!incoming.length) await within(10000, new Promise((r) => { wake = r; }), 'ws message');
        return incoming.shift();
      };
      for (const m of messages()) {
        c.send(m);
        const r = await next();
        assert.equal(r.binary, typeof m !== 'string');
        assert.ok(typeof m === 'string' ? r.data.toString() === m : r.data.equals(m));
      }
      const closed = new Promise((r) => c.on('close', (code, reason) => r([code, reason.toString()])));
      c.close(1000, 'bye');
      assert.deepEqual(await within(5000, closed, 'ws close'), [1000, '']);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(serverWs.state, 'Closed');
      assert.equal(serverWs.closeStatus, 1000);
      assert.equal(serverWs.closeStatusDescription, 'bye');
      assert.deepEqual(serverErrors, []);
    } finally {
      server.close();
    }
  });
}
