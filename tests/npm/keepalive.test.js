'use strict';
// Keep-alive in Node: a silent peer is detected within interval + timeout; an
// application that does not receive is not aborted while the peer answers.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const http = require('node:http');
const crypto = require('node:crypto');
const { sockweave, loadWs, within, sleep } = require('./helpers.js');

const { ClientWebSocket, ManagedWebSocket, acceptUpgrade } = sockweave;
// The core's message (.NET's wording, core/src/keepalive.rs PONG_TIMEOUT_MESSAGE).
const PONG_MESSAGE = "didn't receive a Pong frame";

/**
 * A raw TCP server that answers the opening handshake (computed here, not by
 * the engine) and then never sends or answers anything. Counts PINGs seen.
 */
async function silentServer() {
  const state = { pings: 0, sockets: [] };
  const server = net.createServer((sock) => {
    state.sockets.push(sock);
    let head = '';
    let upgraded = false;
    sock.on('data', (c) => {
      if (upgraded) {
        // Count PING frames (opcode 9) at frame starts; small control frames arrive whole here.
        for (let p = 0; p + 1 < c.length;) {
          const len = c[p + 1] & 0x7f;
          if ((c[p] & 0x0f) === 9) state.pings += 1;
          p += 2 + 4 + len;
        }
        return;
      }
      head += c.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      upgraded = true;
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)[1];
      const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  state.url = `ws://127.0.0.1:${server.address().port}/`;
  state.close = () => {
    for (const s of state.sockets) s.destroy();
    server.close();
  };
  return state;
}

test('a silent peer is aborted with the Pong timeout error within interval + timeout', async () => {
  const peer = await silentServer();
  try {
    const interval = 400;
    const timeout = 300;
    const c = new ClientWebSocket({ keepAliveInterval: interval, keepAliveTimeout: timeout });
    await c.connect(peer.url);
    const errors = [];
    c.on('error', (e) => errors.push(e));
    const start = Date.now();
    const receiving = c.receive();
    await assert.rejects(within(interval + timeout + 2000, receiving, 'abort'), (e) => {
      assert.equal(e.code, 'Faulted');
      assert.ok(e.message.includes(PONG_MESSAGE), e.message);
      return true;
    });
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= interval + timeout - 50, `aborted after ${elapsed} ms, before interval + timeout`);
    assert.ok(elapsed <= interval + timeout + 500, `aborted after ${elapsed} ms, later than interval + timeout + 500`);
    assert.equal(c.state, 'Aborted');
    assert.equal(peer.pings, 1, 'one PING was sent');
    await sleep(0);
    assert.equal(errors.length, 1);
    assert.ok(errors[0].message.includes(PONG_MESSAGE));
    // Later operations fail with the same error.
    await assert.rejects(c.send('x'), (e) => e.message.includes(PONG_MESSAGE));
  } finally {
    peer.close();
  }
});

test('the silent peer is detected with no receive pending (reads run on their own)', async () => {
  const peer = await silentServer();
  try {
    const c = new ClientWebSocket({ keepAliveInterval: 200, keepAliveTimeout: 200 });
    await c.connect(peer.url);
    const closed = new Promise((r) => c.once('close', r));
    const ev = await within(2000, closed, 'close event');
    assert.equal(ev.code, 1006);
    assert.equal(ev.wasClean, false);
    // The state follows what operations returned: the next one reports the abort.
    assert.equal(c.state, 'Open');
    await assert.rejects(c.receive(), (e) => e.message.includes(PONG_MESSAGE));
    assert.equal(c.state, 'Aborted');
  } finally {
    peer.close();
  }
});

/** An npm server (node:http + acceptUpgrade) that sends `flood` bytes of messages, then echoes. */
async function npmServer(flood) {
  const server = http.createServer();
  const sockets = [];
  server.on('upgrade', async (req, sock, head) => {
    const ws = await acceptUpgrade(req, sock, head, {});
    sockets.push(ws);
    try {
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      for (let sent = 0; sent < flood; sent += chunk.length) await ws.send(chunk);
      for await (const m of ws) await ws.send(m.data, { messageType: m.messageType });
    } catch (_) {
      // The test checks the client side.
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, sockets, url: `ws://127.0.0.1:${server.address().port}/` };
}

for (const [name, flood] of [['an idle peer', 0], ['a peer whose data fills the receive buffer', 2 << 20]]) {
  test(`no false abort: the application does not receive for 5 x the timeout, ${name}`, async () => {
    const srv = await npmServer(flood);
    try {
      const timeout = 200;
      const c = new ClientWebSocket({ keepAliveInterval: 100, keepAliveTimeout: timeout, receiveBufferSize: 16384 });
      await c.connect(srv.url);
      await sleep(5 * timeout + 200);
      assert.equal(c.state, 'Open', `aborted: ${c._session.failure && c._session.failure.message}`);
      if (flood) {
        // White-box: the receive buffer is full and the socket is paused, so the
        // peer's PONGs wait unread behind its data (the stall is ours, not its silence).
        assert.ok(c._driver._unfed.length > 0, 'data waits for room in the receive buffer');
        assert.ok(c._driver.transport.stream.isPaused(), 'the socket is paused');
      }
      let got = 0;
      while (got < flood) got += (await within(5000, c.receiveMessage(), 'receive')).data.length;
      assert.equal(got, flood);
      await c.send('still here');
      assert.equal((await within(5000, c.receiveMessage(), 'echo')).text, 'still here');
      await c.close();
      assert.equal(c.state, 'Closed');
    } finally {
      srv.server.close();
    }
  });
}

test('no false abort against Node ws (it answers PINGs) while the application does not receive', async () => {
  const WS = loadWs();
  const wss = new WS.WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.on('listening', r));
  let pings = 0;
  wss.on('connection', (ws) => {
    ws.on('ping', () => { pings += 1; });
    ws.on('message', (d, binary) => ws.send(d, { binary }));
  });
  try {
    const c = new ClientWebSocket({ keepAliveInterval: 100, keepAliveTimeout: 200 });
    await c.connect(`ws://127.0.0.1:${wss.address().port}/`);
    await sleep(1200);
    assert.equal(c.state, 'Open');
    assert.ok(pings >= 5, `only ${pings} PINGs in 1.2 s at a 100 ms interval`);
    await c.send('ok');
    assert.equal((await c.receiveMessage()).text, 'ok');
    await c.close();
  } finally {
    wss.close();
  }
});

test('unsolicited PONG heartbeat (interval, no timeout) reaches the peer; keep-alive off sends nothing', async () => {
  const WS = loadWs();
  const wss = new WS.WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.on('listening', r));
  const pongs = [];
  wss.on('connection', (ws, req) => {
    ws.on('pong', () => pongs.push(req.url));
  });
  try {
    const base = `ws://127.0.0.1:${wss.address().port}`;
    const a = new ClientWebSocket({ keepAliveInterval: 100 });
    const b = new ClientWebSocket({ keepAliveInterval: 0 });
    await a.connect(`${base}/a`);
    await b.connect(`${base}/b`);
    await sleep(700);
    const n = pongs.filter((u) => u === '/a').length;
    assert.ok(n >= 4 && n <= 8, `${n} PONGs in 700 ms at a 100 ms interval`);
    assert.equal(pongs.filter((u) => u === '/b').length, 0);
    await a.close();
    await b.close();
  } finally {
    wss.close();
  }
});

test('server-side keep-alive over fromStream detects a silent client', async () => {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise((r) => server.once('connection', r));
  const raw = net.connect(server.address().port, '127.0.0.1');
  const sock = await accepted;
  try {
    const ws = ManagedWebSocket.fromStream(sock, { isServer: true, keepAliveInterval: 150, keepAliveTimeout: 150 });
    await assert.rejects(within(2000, ws.receive(), 'abort'), (e) => e.message.includes(PONG_MESSAGE));
  } finally {
    raw.destroy();
    server.close();
  }
});

test('closeTimeout: a peer that never answers our Close is aborted after the timeout', async () => {
  const peer = await silentServer();
  try {
    const c = new ClientWebSocket({ closeTimeout: 300, keepAliveInterval: 0 });
    await c.connect(peer.url);
    const start = Date.now();
    await assert.rejects(within(3000, c.close(1000, ''), 'close'), (e) => {
      assert.equal(e.code, 'Faulted');
      assert.match(e.message, /did not answer our Close within 0.3 s/);
      return true;
    });
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 250 && elapsed < 1500, `aborted after ${elapsed} ms`);
    assert.equal(c.state, 'Aborted');
  } finally {
    peer.close();
  }
});
