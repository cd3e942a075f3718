// Autobahn|Testsuite's fuzzing server driven from the page (the browser twin of
// tests/npm/autobahn_client.js): every connection is a sockweave ClientWebSocket
// over webSocketDuplex() through the relay of tests/browser/server.js to wstest
// on 127.0.0.1:PORT. Query: port=PORT&agent=NAME. Result: window.__autobahn.
import { ClientWebSocket, webSocketDuplex } from '/npm/browser.mjs';

const params = new URLSearchParams(location.search);
const port = params.get('port');
const agent = params.get('agent') || 'sockweave-browser-client';
const base = `ws://127.0.0.1:${port}`;
const relay = `ws://${location.host}/relay?host=127.0.0.1&port=${port}`;
const OPTIONS = { dangerousDeflateOptions: {}, keepAliveInterval: 0 };
const status = document.getElementById('status');
window.__autobahn = { done: false, cases: 0, ran: 0 };

async function open(path) {
  const ws = new ClientWebSocket(OPTIONS);
  await ws.connect(`${base}${path}`, await webSocketDuplex(relay));
  return ws;
}

async function echo(ws) {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const r = await ws.receive(buf);
    if (r.messageType === 'close') {
      const c = r.closeStatus;
      const valid = c !== undefined && ((c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999));
      await ws.closeOutput(valid ? c : undefined, '');
      return;
    }
    await ws.send(buf.slice(0, r.count), { messageType: r.messageType, endOfMessage: r.endOfMessage });
  }
}

function within(ms, p) {
  let t;
  return Promise.race([p, new Promise((_, j) => { t = setTimeout(() => j(new Error('timed out')), ms); })])
    .finally(() => clearTimeout(t));
}

async function main() {
  const counter = await open('/getCaseCount');
  const count = Number((await counter.receiveMessage()).text);
  await counter.close().catch(() => {});
  window.__autobahn.cases = count;
  console.log(`autobahn: ${count} cases`);
  for (let i = 1; i <= count; i++) {
    status.textContent = `case ${i} of ${count}`;
    let ws;
    try {
      await within(120000, (async () => {
        ws = await open(`/runCase?case=${i}&agent=${encodeURIComponent(agent)}`);
        try {
          await echo(ws);
        } finally {
          await ws.closed;
        }
      })());
    } catch (e) {
      // Many cases end with an error on purpose (the fuzzer sends bad frames).
      if (ws) ws.abort();
    }
    window.__autobahn.ran = i;
  }
  const rep = await open(`/updateReports?agent=${encodeURIComponent(agent)}`);
  for await (const _ of rep) { /* until the server's Close, answered by the iteration */ }
  await rep.closed;
  console.log(`autobahn: report updated for agent ${agent}`);
}

main().then(() => {
  status.textContent = 'done';
  window.__autobahn.done = true;
}, (e) => {
  status.textContent = `error: ${e && e.message}`;
  window.__autobahn.error = String(e && e.stack || e);
  window.__autobahn.done = true;
});
