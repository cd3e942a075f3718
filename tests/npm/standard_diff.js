'use strict';
// The standard WebSocket class against undici's, scenario by scenario.
//
//   node tests/npm/standard_diff.js [SUBSTRING]      (tests/npm/run.sh part standard_diff)
//
// Each scenario runs once against undici's `WebSocket` (the reference: the
// WHATWG class Node itself ships) and once against sockweave's, each time
// with a fresh scripted server (tests/npm/raw_peer.js: node:net on 127.0.0.1,
// exact bytes). What is recorded:
//   - the client's events in order: type, readyState during the event,
//     MessageEvent data (described: text, ArrayBuffer bytes, Blob bytes) and
//     origin, CloseEvent code/reason/wasClean, plus the scenario's own notes
//     (an exception's name, bufferedAmount at a point, readyState after a call);
//   - the server's view: the request's subprotocol offer and test header,
//     each frame the client sent (data, PONGs, Close code and reason).
// Both records must be equal. The exceptions are DELIBERATE below: for each,
// the exact record of both sides is written down with the reason, and both
// are asserted. The report prints each scenario as "equal" or "deliberate
// difference: ...". Every scenario is bounded (SCENARIO_MS); everything
// binds 127.0.0.1.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');
const path = require('node:path');
const { rawServer } = require('./raw_peer.js');

const ROOT = path.join(__dirname, '..', '..');
const ours = require(path.join(ROOT, 'npm')).WebSocket;
let undici;
try {
  undici = require('undici').WebSocket;
} catch (e) {
  throw new Error('undici is not installed in tests/npm/node_modules: run `npm ci` in tests/npm (tests/npm/run.sh does)');
}

const IMPLS = [['undici', undici], ['sockweave', ours]];
/** The most one scenario may take on one implementation. */
const SCENARIO_MS = 20000;
const MiB = 1 << 20;

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex').slice(0, 16);

function describeBytes(b) {
  const buf = Buffer.from(b);
  return buf.length <= 32 ? `${buf.length}:${buf.toString('hex')}` : `${buf.length}:sha256=${sha(buf)}`;
}

function describeText(s) {
  return s.length <= 64 ? JSON.stringify(s) : `text(${Buffer.byteLength(s)} bytes, sha256=${sha(Buffer.from(s))})`;
}

/** A server frame as the record shows it. */
function describeFrame(f, { freeReason = false } = {}) {
  if (f.end) return 'client ended TCP';
  switch (f.opcode) {
    case 0x1: return `text ${describeText(f.payload.toString())}${f.fin ? '' : ' (fin=0)'}`;
    case 0x2: return `binary ${describeBytes(f.payload)}${f.fin ? '' : ' (fin=0)'}`;
    case 0x0: return `continuation ${describeBytes(f.payload)}`;
    case 0x9: return `ping ${describeBytes(f.payload)}`;
    case 0xa: return `pong ${describeBytes(f.payload)}`;
    case 0x8:
      if (f.code === undefined) return 'close (no status)';
      // After a failure, the reason is the implementation's own text.
      return `close ${f.code}${freeReason ? ' (reason: implementation text)' : ` ${JSON.stringify(f.reason)}`}`;
    default: return `opcode ${f.opcode}`;
  }
}

/** Reads client frames until its Close; logs each; answers the Close with `answer` (code, reason) and ends. */
async function closeExchange(c, log, { answer = 'echo', freeReason = false } = {}) {
  for (;;) {
    const f = await c.next();
    if (f.end) {
      log('client ended TCP before its Close');
      return;
    }
    if (f.opcode === 0xa) continue; // keep-alive PONGs are not part of any scenario
    log(`got ${describeFrame(f, { freeReason })}`);
    if (f.opcode === 0x8) {
      if (answer === 'echo') c.closeFrame(f.code, f.code === undefined ? '' : f.reason);
      c.end();
      return;
    }
  }
}

/** Resolves with the next client frame that is not a PONG. */
async function nextData(c) {
  for (;;) {
    const f = await c.next();
    if (f.end || f.opcode !== 0xa) return f;
  }
}

/** Test coordination between a scenario's client and its server (same process). */
function signals() {
  const waiting = new Map();
  const fired = new Set();
  return {
    fire(name) {
      fired.add(name);
      const w = waiting.get(name);
      if (w) w();
    },
    wait(name) {
      if (fired.has(name)) return Promise.resolve();
      return new Promise((r) => waiting.set(name, r));
    },
  };
}

/**
 * Runs `scenario` against `WS`. Returns {events, server}. The client record
 * ends at the close event (plus what the scenario's `afterClose` notes).
 */
async function runScenario(scenario, WS) {
  const serverLog = [];
  const sig = signals();
  const srv = await rawServer(async (c) => {
    await scenario.server(c, (line) => serverLog.push(line), sig);
  });
  const events = [];
  const blobs = [];
  let ws;
  let timer;
  try {
    const url = scenario.url ? await scenario.url(srv) : `${srv.url}/chat`;
    const closed = new Promise((resolve) => {
      const note = (line) => events.push(line);
      const ctx = { note, sig, srv, get ws() { return ws; } };
      try {
        ws = scenario.construct ? scenario.construct(WS, url, ctx) : new WS(url);
      } catch (e) {
        note(`constructor threw ${e.name}`);
        resolve();
        return;
      }
      const rs = () => ws.readyState;
      ws.addEventListener('open', () => {
        events.push(`open rs=${rs()} protocol=${JSON.stringify(ws.protocol)} extensions=${JSON.stringify(ws.extensions)}`);
      });
      ws.addEventListener('message', (e) => {
        let d;
        if (typeof e.data === 'string') d = `text ${describeText(e.data)}`;
        else if (e.data instanceof ArrayBuffer) d = `arraybuffer ${describeBytes(new Uint8Array(e.data))}`;
        else if (typeof Blob === 'function' && e.data instanceof Blob) {
          d = `blob#${blobs.length} size=${e.data.size}`;
          blobs.push(e.data);
        } else if (Buffer.isBuffer(e.data)) d = `Buffer ${describeBytes(e.data)}`;
        else d = `other ${Object.prototype.toString.call(e.data)}`;
        events.push(`message rs=${rs()} ${d} origin=${e.origin}`);
      });
      ws.addEventListener('error', () => events.push(`error rs=${rs()}`));
      ws.addEventListener('close', (e) => {
        events.push(`close rs=${rs()} code=${e.code} reason=${JSON.stringify(e.reason)} wasClean=${e.wasClean}`);
        Promise.resolve(scenario.afterClose && scenario.afterClose(ctx)).then(resolve);
      });
      if (scenario.client) scenario.client(ws, ctx);
    });
    const limit = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not reach its close event within ${SCENARIO_MS} ms; `
        + `events so far: ${JSON.stringify(events)}; server: ${JSON.stringify(serverLog)}`)), SCENARIO_MS);
    });
    await Promise.race([closed, limit]);
    // The server's script finishes once the client is gone (its frames are all read).
    await Promise.race([Promise.all(srv.connections.map((c) => c.done)), limit]);
    if (srv.errors.length) throw srv.errors[0];
    for (let i = 0; i < blobs.length; i++) events.push(`blob#${i} = ${describeBytes(new Uint8Array(await blobs[i].arrayBuffer()))}`);
  } finally {
    clearTimeout(timer);
    await srv.close();
  }
  return { events, server: serverLog };
}

/** A port with nothing listening on 127.0.0.1. */
function closedPort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const pattern = (n, seed) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

// ---------------------------------------------------------------- scenarios

const SCENARIOS = [
  {
    name: 'open with protocols and a header; send while CONNECTING; echo; client close(1000, reason)',
    url: (srv) => `${srv.url.replace('ws:', 'http:')}/chat?room=1`,
    construct: (WS, url, { note }) => {
      const ws = new WS(url, { protocols: ['chat', 'superchat'], headers: { 'x-test': 'abc' } });
      note(`url=${ws.url.replace(/:\d+\//, ':PORT/')} rs=${ws.readyState} binaryType=${ws.binaryType} bufferedAmount=${ws.bufferedAmount}`);
      try {
        ws.send('too early');
        note('send while CONNECTING did not throw');
      } catch (e) {
        note(`send while CONNECTING threw ${e.name}`);
      }
      return ws;
    },
    server: async (c, log) => {
      log(`request ${c.request.method} ${c.request.path} protocols=${c.request.headers['sec-websocket-protocol']} `
        + `x-test=${c.request.headers['x-test']}`);
      c.accept({ protocol: 'chat' });
      const f = await nextData(c);
      log(`got ${describeFrame(f)}`);
      c.frame(0x1, `echo: ${f.payload}`);
      await closeExchange(c, log);
    },
    client: (ws, { note }) => {
      ws.onopen = () => ws.send('hello');
      ws.onmessage = () => {
        ws.close(1000, 'done');
        note(`after close(): rs=${ws.readyState}`);
      };
    },
  },
  {
    name: 'close(undefined, reason) sends 1000 with the reason',
    server: async (c, log) => {
      c.accept();
      await closeExchange(c, log);
    },
    client: (ws) => {
      ws.onopen = () => ws.close(undefined, 'no code given');
    },
  },
  {
    name: 'frames in the same packet as the 101 response',
    server: async (c, log) => {
      const key = c.request.headers['sec-websocket-key'];
      const { acceptKey, frame } = require('./raw_peer.js');
      c.write(Buffer.concat([
        Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
          + `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`),
        frame(0x1, 'right away'), frame(0x2, [7]), frame(0x8, Buffer.from([0x0f, 0xa0])),
      ]));
      await closeExchange(c, log, { answer: 'none' });
    },
    client: (ws) => {
      ws.binaryType = 'arraybuffer';
    },
  },
  {
    name: 'server sends its Close and ends TCP at once (half-close)',
    server: async (c, log) => {
      c.accept();
      c.frame(0x1, 'bye now');
      c.closeFrame(1001, 'going away');
      c.socket.end();
      await closeExchange(c, log, { answer: 'none' });
    },
  },
  {
    name: 'event handler attributes: order, replacement, null',
    server: async (c, log) => {
      c.accept();
      c.frame(0x1, 'one');
      const f = await nextData(c);
      log(`got ${describeFrame(f)}`);
      c.frame(0x1, 'two');
      await closeExchange(c, log);
    },
    client: (ws, { note }) => {
      note(`initially: onopen=${ws.onopen} onmessage=${ws.onmessage} onerror=${ws.onerror} onclose=${ws.onclose}`);
      let n = 0;
      ws.addEventListener('message', () => note('listener A'));
      ws.onmessage = () => note('handler 1');
      ws.addEventListener('message', () => note('listener B'));
      const h2 = () => {
        note('handler 2');
        n += 1;
        if (n === 1) {
          ws.onmessage = null;
          note(`onmessage after null: ${ws.onmessage}`);
          ws.onmessage = 'not a function';
          note(`onmessage after a string: ${ws.onmessage}`);
          ws.send('next');
        }
      };
      ws.onmessage = h2;
      note(`onmessage is the last one set: ${ws.onmessage === h2}`);
      ws.addEventListener('message', (e) => {
        if (e.data === 'two') ws.close(1000);
      });
      ws.onclose = (e) => note(`onclose: ${e.code}`);
    },
  },
  {
    name: 'binary: Uint8Array, ArrayBuffer, DataView, Blob sent; arraybuffer and blob received; close() without code',
    server: async (c, log) => {
      c.accept();
      for (let i = 0; i < 4; i++) {
        const f = await nextData(c);
        log(`got ${describeFrame(f)}`);
        c.frame(0x2, f.payload);
      }
      await closeExchange(c, log);
    },
    client: (ws) => {
      ws.binaryType = 'arraybuffer';
      let n = 0;
      ws.onopen = () => {
        ws.send(new Uint8Array([1, 2, 3]));
        ws.send(new Uint8Array([9, 8, 7, 6]).buffer);
        ws.send(new DataView(new Uint8Array([0, 1, 2, 3, 4, 5]).buffer, 2, 3));
        ws.send(new Blob(['ab', new Uint8Array([0xff])]));
      };
      ws.onmessage = () => {
        n += 1;
        if (n === 2) ws.binaryType = 'blob';
        if (n === 4) ws.close();
      };
    },
  },
  {
    name: 'empty messages both ways; close(4999, reason)',
    server: async (c, log) => {
      c.accept();
      c.frame(0x1, '');
      c.frame(0x2, '');
      for (let i = 0; i < 2; i++) log(`got ${describeFrame(await nextData(c))}`);
      await closeExchange(c, log);
    },
    client: (ws) => {
      ws.binaryType = 'arraybuffer';
      let n = 0;
      ws.onopen = () => {
        ws.send('');
        ws.send(new ArrayBuffer(0));
      };
      ws.onmessage = () => {
        n += 1;
        if (n === 2) ws.close(4999, 'é'.repeat(61));
      };
    },
  },
  {
    name: 'large messages: 1 MiB binary echoed, 1 MiB text from the server',
    server: async (c, log) => {
      c.accept();
      const f = await nextData(c);
      log(`got ${describeFrame(f)}`);
      c.frame(0x2, f.payload);
      c.frame(0x1, 'ü'.repeat(MiB / 2));
      await closeExchange(c, log);
    },
    client: (ws) => {
      ws.binaryType = 'arraybuffer';
      let n = 0;
      ws.onopen = () => ws.send(pattern(MiB, 7));
      ws.onmessage = () => {
        n += 1;
        if (n === 2) ws.close(1000);
      };
    },
  },
  {
    name: 'fragmented messages from the server, a PING between fragments',
    server: async (c, log) => {
      c.accept();
      c.frame(0x1, 'frag', { fin: false });
      c.frame(0x9, 'are you there');
      c.frame(0x0, 'ment', { fin: false });
      c.frame(0x0, 'ed ✓', { fin: true });
      c.frame(0x2, [1, 2], { fin: false });
      c.frame(0x0, [3], { fin: true });
      const pong = await c.next();
      log(`got ${describeFrame(pong)}`);
      c.closeFrame(1000, 'that was all');
      await closeExchange(c, log, { answer: 'none' });
    },
    client: (ws) => {
      ws.binaryType = 'arraybuffer';
    },
  },
  {
    name: 'invalid UTF-8 in a text message from the server (after a valid one)',
    server: async (c, log) => {
      c.accept();
      c.frame(0x1, 'valid');
      c.frame(0x1, Buffer.from([0x61, 0xff, 0xfe]));
      await closeExchange(c, log, { freeReason: true });
    },
  },
  {
    name: 'protocol error: RSV2 set without an extension',
    server: async (c, log) => {
      c.accept();
      c.frame(0x1, 'x', { rsv: 2 });
      await closeExchange(c, log, { freeReason: true });
    },
  },
  {
    name: 'protocol error: reserved opcode 0x3',
    server: async (c, log) => {
      c.accept();
      c.frame(0x3, 'x');
      await closeExchange(c, log, { freeReason: true });
    },
  },
  {
    name: 'protocol error: the server\'s Close carries status 999',
    server: async (c, log) => {
      c.accept();
      c.closeFrame(999, 'bad');
      await closeExchange(c, log, { freeReason: true });
    },
  },
  {
    name: 'server-initiated close with code and reason',
    server: async (c, log) => {
      c.accept();
      c.frame(0x1, 'before close');
      c.closeFrame(4001, 'server says bye');
      await closeExchange(c, log, { answer: 'none' });
    },
  },
  {
    name: 'server-initiated close without a status',
    server: async (c, log) => {
      c.accept();
      c.closeFrame(undefined);
      await closeExchange(c, log, { answer: 'none' });
    },
  },
  {
    name: 'messages after close() are not delivered',
    server: async (c, log) => {
      c.accept();
      c.frame(0x1, 'first');
      const f = await nextData(c);
      log(`got ${describeFrame(f)}`);
      c.frame(0x1, 'after the client\'s close');
      c.closeFrame(f.code, f.reason);
      c.end();
    },
    client: (ws) => {
      ws.onmessage = () => ws.close(3000, 'stop');
    },
  },
  {
    name: 'server ends TCP without a Close',
    server: async (c, log) => {
      c.accept();
      c.frame(0x1, 'last words');
      c.end();
      const f = await c.next();
      log(describeFrame(f));
    },
  },
  {
    name: 'server resets TCP without a Close',
    server: async (c) => {
      c.accept();
      c.frame(0x1, 'last words');
      // Written first, then a reset: wait until the kernel has taken the frame.
      await new Promise((r) => c.socket.write('', r));
      c.socket.resetAndDestroy();
    },
  },
  {
    name: 'bufferedAmount while the server does not read',
    server: async (c, log, sig) => {
      c.accept();
      const first = await nextData(c);
      log(`got ${describeFrame(first)}`);
      c.pause();
      c.frame(0x1, 'not reading now');
      await sig.wait('resume');
      c.resume();
      let bytes = first.payload.length;
      for (let i = 1; i < 32; i++) bytes += (await nextData(c)).payload.length;
      log(`got ${bytes} bytes in 32 messages`);
      c.frame(0x1, `got ${bytes} bytes`);
      await closeExchange(c, log);
    },
    client: (ws, { note, sig }) => {
      const total = 32 * MiB;
      ws.onopen = () => {
        for (let i = 0; i < 32; i++) ws.send(pattern(MiB, i));
        note(`bufferedAmount right after 32 sends of 1 MiB: ${ws.bufferedAmount}`);
      };
      ws.onmessage = (e) => {
        const b = ws.bufferedAmount;
        if (e.data === 'not reading now') {
          // The first MiB was read by the server; the kernel cannot hold the other 31.
          note(`server not reading: 0 < bufferedAmount <= ${total - MiB}: ${b > 0 && b <= total - MiB}`);
          sig.fire('resume');
        } else {
          note(`server read everything: bufferedAmount=${b}`);
          ws.close(1000);
        }
      };
    },
  },
  {
    name: 'send() after close: bufferedAmount',
    server: async (c, log) => {
      c.accept();
      await closeExchange(c, log);
    },
    client: (ws, { note }) => {
      ws.onopen = () => {
        ws.close(1000, 'bye');
        ws.send('abc');
        note(`send while CLOSING: bufferedAmount=${ws.bufferedAmount}`);
      };
    },
    afterClose: ({ ws, note }) => {
      ws.send(new Uint8Array(5));
      note(`send after the close event: bufferedAmount=${ws.bufferedAmount} rs=${ws.readyState}`);
    },
  },
  {
    name: 'close() argument checks',
    server: async (c, log) => {
      c.accept();
      await closeExchange(c, log);
    },
    client: (ws, { note }) => {
      ws.onopen = () => {
        for (const [code, reason] of [[1001], [2999], [5000], [0], [1000, 'x'.repeat(124)], [3000, '€'.repeat(42)]]) {
          try {
            ws.close(code, reason);
            note(`close(${code}, ${reason === undefined ? '-' : `${Buffer.byteLength(reason)} bytes`}) did not throw`);
          } catch (e) {
            note(`close(${code}, ${reason === undefined ? '-' : `${Buffer.byteLength(reason)} bytes`}) threw ${e.name}`);
          }
        }
        note(`rs=${ws.readyState}`);
        ws.close(3000, '€'.repeat(41));
      };
    },
  },
  {
    name: 'constructor checks (bad URL, scheme, fragment, duplicate or invalid protocols)',
    construct: (WS, url, { note, srv }) => {
      const bad = [
        ['not a url', undefined], ['ftp://127.0.0.1/', undefined], [`${srv.url}/#frag`, undefined], [`${srv.url}/#`, undefined],
        [srv.url, ['a', 'a']], [srv.url, ['chat', 'Chat']], [srv.url, 'a b'], [srv.url, ['ok', '']], [srv.url, ['x,y']],
      ];
      for (const [u, p] of bad) {
        try {
          const w = new WS(u, p);
          note(`new WebSocket(${JSON.stringify(u.replace(/:\d+/, ':PORT'))}, ${JSON.stringify(p)}) did not throw`);
          w.close();
        } catch (e) {
          note(`new WebSocket(${JSON.stringify(u.replace(/:\d+/, ':PORT'))}, ${JSON.stringify(p)}) threw ${e.name}`);
        }
      }
      return new WS(url, 'chat');
    },
    server: async (c, log) => {
      log(`protocols=${c.request.headers['sec-websocket-protocol']}`);
      c.accept({ protocol: 'chat' });
      await closeExchange(c, log);
    },
    client: (ws) => {
      ws.onopen = () => ws.close();
    },
  },
  {
    name: 'error before open: connection refused',
    url: async () => `ws://127.0.0.1:${await closedPort()}/`,
    server: async () => {},
  },
  {
    name: 'error before open: 404 handshake response',
    server: async (c) => {
      c.respond('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot here\n');
      c.end();
    },
  },
  {
    name: 'error before open: wrong Sec-WebSocket-Accept',
    server: async (c) => {
      c.accept({ accept: 'dGhlIHNhbXBsZSBub25jZQ==' });
      c.end();
    },
  },
  {
    name: 'error before open: a subprotocol that was not offered',
    construct: (WS, url) => new WS(url, ['chat']),
    server: async (c) => {
      c.accept({ protocol: 'other' });
      c.end();
    },
  },
  {
    name: 'close() while CONNECTING',
    server: async (c) => {
      // The request may or may not arrive before the client gives up; it is never answered.
      await c.next();
    },
    client: (ws, { note }) => {
      ws.close();
      note(`close() returned: rs=${ws.readyState}`);
    },
    afterClose: ({ ws, note }) => note(`after the close event: rs=${ws.readyState}`),
  },
  {
    name: 'binaryType nodebuffer',
    server: async (c, log) => {
      c.accept();
      c.frame(0x2, [1, 2, 3]);
      await closeExchange(c, log);
    },
    client: (ws, { note }) => {
      ws.binaryType = 'nodebuffer';
      note(`binaryType=${ws.binaryType}`);
      ws.onmessage = () => ws.close();
    },
  },
  {
    name: 'permessage-deflate offer (server accepts none)',
    server: async (c, log) => {
      log(`offered extensions: ${c.request.headers['sec-websocket-extensions'] || '(none)'}`);
      c.accept();
      await closeExchange(c, log);
    },
    client: (ws) => {
      ws.onopen = () => ws.close();
    },
  },
];

// ------------------------------------------------------- deliberate differences

// Each: the scenario's name, the reason, and the exact record of both sides.
const DELIBERATE = {
  'server-initiated close without a status': {
    reason: 'the engine answers a Close without a status with 1000 (its rule for every API, as .NET'
      + ' does); undici answers with an empty Close. Both are allowed (RFC 6455 5.5.1: the answer "typically"'
      + ' echoes the status); the close event is the same (1005)',
    diff: (undiciSide, oursSide) => {
      assert.deepEqual(undiciSide.server, ['got close (no status)']);
      assert.deepEqual(oursSide.server, ['got close 1000 ""']);
    },
  },
  'send() after close: bufferedAmount': {
    reason: 'the standard says every send() that does not throw adds its size to bufferedAmount, also once'
      + ' the close has begun (the data is not sent); undici leaves bufferedAmount unchanged then',
    diff: (undiciSide, oursSide) => {
      assert.ok(undiciSide.events.includes('send while CLOSING: bufferedAmount=0'));
      assert.ok(undiciSide.events.includes('send after the close event: bufferedAmount=0 rs=3'));
      assert.ok(oursSide.events.includes('send while CLOSING: bufferedAmount=3'));
      assert.ok(oursSide.events.includes('send after the close event: bufferedAmount=8 rs=3'));
    },
  },
  'close() while CONNECTING': {
    reason: 'the standard fails the connection and sets readyState to CLOSING; the error and close events'
      + ' come later, as tasks, with readyState CLOSED. undici fires both inside close(), and then sets'
      + ' readyState back to CLOSING (2), where it stays after its close event',
    diff: (undiciSide, oursSide) => {
      assert.deepEqual(undiciSide.events, ['error rs=3', 'close rs=3 code=1006 reason="" wasClean=false',
        'after the close event: rs=3', 'close() returned: rs=2']);
      assert.deepEqual(oursSide.events, ['close() returned: rs=2', 'error rs=3',
        'close rs=3 code=1006 reason="" wasClean=false', 'after the close event: rs=3']);
      assert.deepEqual(undiciSide.server, oursSide.server);
    },
  },
  'event handler attributes: order, replacement, null': {
    reason: 'the HTML standard keeps an event handler\'s listener where it was first added when the handler'
      + ' is replaced (so handler 2 runs between listeners A and B); undici removes the listener and adds the'
      + ' new one last',
    diff: (undiciSide, oursSide) => {
      const handler2 = ['handler 2', 'onmessage after null: null', 'onmessage after a string: null'];
      const record = (first) => ['initially: onopen=null onmessage=null onerror=null onclose=null',
        'onmessage is the last one set: true', 'open rs=1 protocol="" extensions=""',
        'message rs=1 text "one" origin=ws://127.0.0.1:PORT', ...first,
        'message rs=1 text "two" origin=ws://127.0.0.1:PORT', 'listener A', 'listener B',
        'close rs=3 code=1000 reason="" wasClean=true', 'onclose: 1000'];
      assert.deepEqual(undiciSide.events, record(['listener A', 'listener B', ...handler2]));
      assert.deepEqual(oursSide.events, record(['listener A', ...handler2, 'listener B']));
      assert.deepEqual(undiciSide.server, oursSide.server);
    },
  },
  'binaryType nodebuffer': {
    reason: '`nodebuffer` (the data as a Buffer, as `ws` has) is a sockweave extension; undici turns an'
      + ' unknown binaryType into `blob` (the standard ignores unknown values)',
    diff: (undiciSide, oursSide) => {
      assert.deepEqual(undiciSide.events, ['binaryType=blob', 'open rs=1 protocol="" extensions=""',
        'message rs=1 blob#0 size=3 origin=ws://127.0.0.1:PORT', 'close rs=3 code=1005 reason="" wasClean=true',
        'blob#0 = 3:010203']);
      assert.deepEqual(oursSide.events, ['binaryType=nodebuffer', 'open rs=1 protocol="" extensions=""',
        'message rs=1 Buffer 3:010203 origin=ws://127.0.0.1:PORT', 'close rs=3 code=1005 reason="" wasClean=true']);
      assert.deepEqual(undiciSide.server, oursSide.server);
    },
  },
  'permessage-deflate offer (server accepts none)': {
    reason: 'sockweave offers permessage-deflate only when `dangerousDeflateOptions` is given (the'
      + ' engine\'s default, as .NET: compression costs memory per connection and exposes secrets mixed'
      + ' with attacker data to compression oracles); undici always offers it',
    diff: (undiciSide, oursSide) => {
      assert.deepEqual(undiciSide.server[0], 'offered extensions: permessage-deflate; client_max_window_bits');
      assert.deepEqual(oursSide.server[0], 'offered extensions: (none)');
      assert.deepEqual(undiciSide.events, oursSide.events);
      assert.deepEqual(undiciSide.server.slice(1), oursSide.server.slice(1));
    },
  },
};

/** Makes records comparable across runs: each run has its own port. */
function normalise(record) {
  const strip = (s) => s.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT');
  return { events: record.events.map(strip), server: record.server.map(strip) };
}

const report = [];
const only = process.argv[2];

for (const scenario of SCENARIOS) {
  if (only && !scenario.name.includes(only)) continue;
  test(scenario.name, async () => {
    const records = {};
    for (const [name, WS] of IMPLS) {
      try {
        records[name] = normalise(await runScenario(scenario, WS));
      } catch (e) {
        throw new Error(`${name}: ${e.message}`, { cause: e });
      }
    }
    const [a, b] = [records.undici, records.sockweave];
    if (process.env.STANDARD_DIFF_VERBOSE) console.log(JSON.stringify({ scenario: scenario.name, undici: a, sockweave: b }, null, 1));
    const deliberate = DELIBERATE[scenario.name];
    if (deliberate) {
      assert.notDeepEqual(a, b, `listed as a deliberate difference but equal: ${JSON.stringify(a)}`);
      try {
        deliberate.diff(a, b);
      } catch (e) {
        e.message += `\nundici:    ${JSON.stringify(a, null, 1)}\nsockweave: ${JSON.stringify(b, null, 1)}`;
        throw e;
      }
      report.push(`${scenario.name}: deliberate difference: ${deliberate.reason}`);
    } else {
      assert.deepEqual(b, a, `sockweave (actual) differs from undici (expected)`);
      report.push(`${scenario.name}: equal`);
    }
  });
}

after(() => {
  console.log(`REPORT standard WebSocket vs undici ${require('undici/package.json').version}: `
    + `${report.filter((r) => r.endsWith(': equal')).length} equal, `
    + `${report.filter((r) => !r.endsWith(': equal')).length} deliberate differences, `
    + `${(only ? SCENARIOS.filter((s) => s.name.includes(only)) : SCENARIOS).length - report.length} failed`);
  for (const r of report) console.log(`REPORT   ${r}`);
});
