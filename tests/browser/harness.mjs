// The in-page tests of tests/browser/run.sh. Query parameters:
//   echo=PORT      also run the relay tests against `sockweave serve 127.0.0.1:PORT --echo`
//   only=SUBSTR    only tests whose name contains SUBSTR
//   autobahn=PORT&agent=NAME   instead of the tests, drive Autobahn's fuzzing server (see autobahn.mjs)
// Results: window.__results = {done, results: [{name, ok, ms, error}]}, also rendered in the page.
import {
  ManagedWebSocket, ClientWebSocket, WebSocketError, accept, connectedPair, webSocketDuplex,
} from '/npm/browser.mjs';

const params = new URLSearchParams(location.search);
const results = [];
window.__results = { done: false, results };
const tests = [];
const test = (name, fn, ms = 10000) => tests.push({ name, fn, ms });

class AssertionError extends Error {}
function assert(cond, msg) {
  if (!cond) throw new AssertionError(msg || 'assertion failed');
}
function eq(a, b, msg) {
  if (a !== b) throw new AssertionError(`${msg || 'not equal'}: got ${JSON.stringify(a)}, expected ${JSON.stringify(b)}`);
}
function bytesEq(a, b, msg) {
  eq(a.length, b.length, `${msg}: length`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new AssertionError(`${msg}: differs at byte ${i}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function randomPayload(n) {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(a.subarray(i, Math.min(n, i + 65536)));
  return a;
}

/** A duplex wrapped so the bytes crossing it are counted. */
function tapped(duplex, counter, key) {
  const t = new TransformStream({
    transform(chunk, c) {
      counter[key] += chunk.byteLength;
      c.enqueue(chunk);
    },
  });
  t.readable.pipeTo(duplex.writable).catch(() => {});
  return { readable: duplex.readable, writable: t.writable };
}

/** A client and a server, with the handshake, over an in-page pair. */
async function connectedSockets(clientOptions = {}, serverOptions = {}, counter) {
  let [a, b] = connectedPair();
  if (counter) a = tapped(a, counter, 'clientToServer');
  if (counter) b = tapped(b, counter, 'serverToClient');
  const serverP = accept(b, serverOptions);
  const client = new ClientWebSocket({ keepAliveInterval: 0, ...clientOptions });
  await client.connect('ws://in-page.test/chat', a);
  const server = await serverP;
  return { client, server };
}

async function echoLoop(ws) {
  for await (const m of ws) await ws.send(m.data, { messageType: m.messageType });
}

// ------------------------------------------------------------------ in-page

test('in-page: text message both ways', async () => {
  const { client, server } = await connectedSockets();
  eq(client.state, 'Open', 'client state');
  eq(server.state, 'Open', 'server state');
  await client.send('héllo, wörld ✓');
  const m = await server.receiveMessage();
  eq(m.messageType, 'text', 'type');
  eq(m.text, 'héllo, wörld ✓', 'text at the server');
  await server.send(`${m.text} back`);
  eq((await client.receiveMessage()).text, 'héllo, wörld ✓ back', 'text at the client');
  client.abort();
  server.abort();
});

test('in-page: binary messages (0 B to 1 MiB)', async () => {
  const { client, server } = await connectedSockets();
  const echo = echoLoop(server).catch(() => {});
  for (const n of [0, 1, 125, 126, 65535, 65536, 1 << 20]) {
    const p = randomPayload(n);
    await client.send(p);
    const m = await client.receiveMessage();
    eq(m.messageType, 'binary', `type of ${n}`);
    bytesEq(m.data, p, `echo of ${n} bytes`);
  }
  await client.close(1000, 'done');
  await echo;
});

test('in-page: fragmentation (send pieces, receive into a small buffer)', async () => {
  const { client, server } = await connectedSockets();
  await client.send('first, ', { endOfMessage: false });
  await client.send('second, ', { endOfMessage: false });
  await client.send('last');
  const m = await server.receiveMessage();
  eq(m.text, 'first, second, last', 'reassembled text');
  // A 10,000-byte binary message read 4,096 bytes at a time.
  const p = randomPayload(10000);
  await server.send(p.subarray(0, 3000), { endOfMessage: false });
  await server.send(p.subarray(3000));
  const buf = new Uint8Array(4096);
  const got = [];
  let r;
  let calls = 0;
  do {
    r = await client.receive(buf);
    calls += 1;
    eq(r.messageType, 'binary', 'piece type');
    got.push(buf.slice(0, r.count));
  } while (!r.endOfMessage);
  assert(calls >= 3, `expected at least 3 receives, got ${calls}`);
  const all = new Uint8Array(got.reduce((n, g) => n + g.length, 0));
  let at = 0;
  for (const g of got) { all.set(g, at); at += g.length; }
  bytesEq(all, p, 'fragmented binary');
  client.abort();
  server.abort();
});

for (const [cBits, sBits] of [[8, 8], [9, 15], [12, 10], [15, 15]]) {
  test(`in-page: permessage-deflate client_max_window_bits=${cBits} server_max_window_bits=${sBits}`, async () => {
    const counter = { clientToServer: 0, serverToClient: 0 };
    const { client, server } = await connectedSockets(
      { dangerousDeflateOptions: { clientMaxWindowBits: cBits, serverMaxWindowBits: sBits } },
      { dangerousDeflateOptions: { clientMaxWindowBits: 15, serverMaxWindowBits: 15 } },
      counter,
    );
    const headers = client.httpResponseHeaders || [];
    const ext = headers.filter(([k]) => k.toLowerCase() === 'sec-websocket-extensions').map(([, v]) => v).join(', ');
    assert(ext.includes('permessage-deflate'), `negotiated extensions: ${JSON.stringify(ext)}`);
    if (cBits < 15) assert(ext.includes(`client_max_window_bits=${cBits}`), `client window in ${ext}`);
    if (sBits < 15) assert(ext.includes(`server_max_window_bits=${sBits}`), `server window in ${ext}`);
    const echo = echoLoop(server).catch(() => {});
    const text = 'the quick brown fox jumps over the lazy dog; '.repeat(3000); // 135,000 bytes
    const before = { ...counter };
    for (let i = 0; i < 4; i++) {
      await client.send(text);
      eq((await client.receiveMessage()).text, text, `compressed echo ${i}`);
    }
    const up = counter.clientToServer - before.clientToServer;
    const down = counter.serverToClient - before.serverToClient;
    assert(up < text.length * 4 / 10, `client sent ${up} bytes for ${text.length * 4}: not compressed`);
    assert(down < text.length * 4 / 10, `server sent ${down} bytes for ${text.length * 4}: not compressed`);
    // Random bytes with compression off per message.
    const p = randomPayload(50000);
    await client.send(p, { disableCompression: true });
    bytesEq((await client.receiveMessage()).data, p, 'uncompressed message on a deflate connection');
    await client.close(1000, '');
    await echo;
  }, 20000);
}

test('in-page: keep-alive PING/PONG keeps an idle connection open', async () => {
  const counter = { clientToServer: 0, serverToClient: 0 };
  const { client, server } = await connectedSockets({ keepAliveInterval: 100, keepAliveTimeout: 300 }, {}, counter);
  const before = { ...counter };
  await sleep(1200);
  eq(client.state, 'Open', 'client state after idling');
  eq(server.state, 'Open', 'server state after idling');
  // Each PING is 6 bytes (masked, empty) and each PONG 2 bytes: about 10 of each in 1.2 s.
  const pings = counter.clientToServer - before.clientToServer;
  const pongs = counter.serverToClient - before.serverToClient;
  assert(pings >= 5 * 6, `only ${pings} bytes of PINGs in 1.2 s`);
  assert(pongs >= 5 * 2, `only ${pongs} bytes of PONGs in 1.2 s`);
  await client.send('still alive');
  eq((await server.receiveMessage()).text, 'still alive', 'message after idling');
  client.abort();
  server.abort();
});

test('in-page: keep-alive aborts a silent peer (no PONG)', async () => {
  const [a, b] = connectedPair();
  // The peer reads everything and never answers.
  const drain = b.readable.pipeTo(new WritableStream()).catch(() => {});
  const ws = ManagedWebSocket.fromStream(a, { keepAliveInterval: 100, keepAliveTimeout: 200 });
  const t0 = performance.now();
  let err;
  try {
    await ws.receive();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  assert(err, 'receive() should fail');
  assert(err instanceof WebSocketError, `error type ${err && err.constructor.name}`);
  assert(/Pong/.test(err.message), `error message: ${err.message}`);
  eq(ws.state, 'Aborted', 'state');
  assert(ms >= 250 && ms < 3000, `aborted after ${ms} ms`);
  const info = await ws.closed;
  eq(info.wasClean, false, 'closed.wasClean');
  await drain;
});

test('in-page: close handshake started by the client', async () => {
  const { client, server } = await connectedSockets();
  const serverSide = (async () => {
    const r = await server.receive();
    eq(r.messageType, 'close', 'server receives the Close');
    eq(r.closeStatus, 4001, 'status at the server');
    eq(r.closeStatusDescription, 'bye now', 'reason at the server');
    eq(server.state, 'CloseReceived', 'server state');
    await server.closeOutput(4001, 'ok');
  })();
  await client.close(4001, 'bye now');
  await serverSide;
  eq(client.state, 'Closed', 'client state');
  eq(client.closeStatus, 4001, 'client closeStatus');
  eq(client.closeStatusDescription, 'ok', 'client closeStatusDescription');
  const [ci, si] = await Promise.all([client.closed, server.closed]);
  eq(ci.wasClean, true, 'client wasClean');
  eq(si.wasClean, true, 'server wasClean');
  eq(si.code, 4001, 'server closed.code');
  let sendErr;
  try { await client.send('late'); } catch (e) { sendErr = e; }
  assert(sendErr && sendErr.code === 'InvalidState', `send after close: ${sendErr && sendErr.code}`);
});

test('in-page: close handshake started by the server, answered by iteration', async () => {
  const { client, server } = await connectedSockets();
  const got = [];
  const iter = (async () => { for await (const m of client) got.push(m.text); })();
  await server.send('one');
  await server.send('two');
  await server.close(1001, 'going away');
  await iter;
  eq(got.join(','), 'one,two', 'messages before the Close');
  eq(client.closeStatus, 1001, 'client saw 1001');
  eq(server.state, 'Closed', 'server state');
  eq((await client.closed).wasClean, true, 'client wasClean');
});

test('in-page: message and close events', async () => {
  const { client, server } = await connectedSockets();
  const got = [];
  const closed = new Promise((resolve) => client.once('close', resolve));
  client.on('message', (m) => got.push(`${m.messageType}:${m.messageType === 'text' ? m.text : m.data.length}`));
  await server.send('a');
  await server.send(new Uint8Array(3));
  await server.close(1000, 'events');
  const info = await closed;
  eq(got.join(','), 'text:a,binary:3', 'message events');
  eq(info.code, 1000, 'close event code');
  eq(info.reason, 'events', 'close event reason');
  eq(info.wasClean, true, 'close event wasClean');
});

test('in-page: a protocol error fails the connection with 1002', async () => {
  const [a, b] = connectedPair();
  const ws = ManagedWebSocket.fromStream(a, { isServer: true });
  const w = b.writable.getWriter();
  // An unmasked frame from a client is a protocol error for the server.
  await w.write(new Uint8Array([0x81, 0x02, 0x68, 0x69]));
  let err;
  try { await ws.receive(); } catch (e) { err = e; }
  assert(err instanceof WebSocketError, `error: ${err}`);
  eq(err.closeCode, 1002, 'closeCode');
  const reader = b.readable.getReader();
  const { value } = await reader.read();
  eq(value[0], 0x88, 'a Close frame was sent');
  eq((value[2] << 8) | value[3], 1002, 'its status');
  w.releaseLock();
  reader.releaseLock();
});

// ----------------------------------------------------------------- tunnel

const echoPort = params.get('echo');
if (echoPort) {
  const relay = `ws://${location.host}/relay?host=127.0.0.1&port=${echoPort}`;
  test('relay: text and binary echo with `sockweave serve --echo`', async () => {
    const client = new ClientWebSocket({ keepAliveInterval: 0 });
    await client.connect(`ws://127.0.0.1:${echoPort}/`, await webSocketDuplex(relay));
    eq(client.httpStatusCode, 101, 'status');
    await client.send('hello through the tunnel');
    eq((await client.receiveMessage()).text, 'hello through the tunnel', 'text echo');
    for (const n of [0, 1000, 200000]) {
      const p = randomPayload(n);
      await client.send(p);
      bytesEq((await client.receiveMessage()).data, p, `binary echo of ${n}`);
    }
    await client.send('frag-', { endOfMessage: false });
    await client.send('mented');
    eq((await client.receiveMessage()).text, 'frag-mented', 'fragmented echo');
    await client.close(1000, 'bye');
    eq(client.closeStatus, 1000, 'server answered the Close');
    eq((await client.closed).wasClean, true, 'wasClean');
  }, 20000);
  test('relay: echo with permessage-deflate and a ping', async () => {
    const client = new ClientWebSocket({ keepAliveInterval: 0, dangerousDeflateOptions: { clientMaxWindowBits: 10 } });
    await client.connect(`ws://127.0.0.1:${echoPort}/`, await webSocketDuplex(relay));
    const headers = client.httpResponseHeaders || [];
    const ext = headers.filter(([k]) => k.toLowerCase() === 'sec-websocket-extensions').map(([, v]) => v).join(', ');
    assert(ext.includes('permessage-deflate'), `negotiated: ${JSON.stringify(ext)}`);
    const text = 'compress me please '.repeat(5000);
    await client.send(text);
    eq((await client.receiveMessage()).text, text, 'compressed echo');
    await client.ping('are you there');
    await client.send('after ping');
    eq((await client.receiveMessage()).text, 'after ping', 'echo after ping');
    await client.close(1000, '');
    eq((await client.closed).wasClean, true, 'wasClean');
  }, 20000);
  test('relay: a refused TCP connection fails the handshake', async () => {
    const client = new ClientWebSocket({ keepAliveInterval: 0, handshakeTimeout: 5000 });
    const bad = `ws://${location.host}/relay?host=127.0.0.1&port=1`;
    let err;
    try {
      await client.connect('ws://127.0.0.1:1/', await webSocketDuplex(bad));
    } catch (e) {
      err = e;
    }
    assert(err instanceof WebSocketError, `error: ${err}`);
    assert(['ConnectionClosedPrematurely', 'Io'].includes(err.code), `code ${err.code}: ${err.message}`);
  });
}

// ------------------------------------------------------------------ runner

async function run() {
  const only = params.get('only');
  const list = document.getElementById('results');
  for (const t of tests) {
    if (only && !t.name.includes(only)) continue;
    const t0 = performance.now();
    let ok = true;
    let error;
    let timer;
    try {
      await Promise.race([
        t.fn(),
        new Promise((_, j) => { timer = setTimeout(() => j(new Error(`timed out after ${t.ms} ms`)), t.ms); }),
      ]);
    } catch (e) {
      ok = false;
      error = `${e && e.name}: ${e && e.message}${e && e.code ? ` (code ${e.code})` : ''}`;
    } finally {
      clearTimeout(timer);
    }
    const r = { name: t.name, ok, ms: Math.round(performance.now() - t0), error };
    results.push(r);
    const li = document.createElement('li');
    li.className = ok ? 'pass' : 'fail';
    li.textContent = `${ok ? 'PASS' : 'FAIL'} ${t.name} (${r.ms} ms)${error ? `: ${error}` : ''}`;
    list.appendChild(li);
  }
  const failed = results.filter((r) => !r.ok).length;
  document.getElementById('status').textContent = `done: ${results.length - failed} passed, ${failed} failed`;
  window.__results.done = true;
}

run().catch((e) => {
  window.__results.fatal = String(e && e.stack || e);
  window.__results.done = true;
});
