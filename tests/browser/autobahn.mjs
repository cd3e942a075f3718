// Autobahn|Testsuite's fuzzing server driven from the page, with the case loop
// Node runs too (tests/npm/autobahn_cases.mjs): every connection is a sockweave
// ClientWebSocket over webSocketDuplex() through the relay of
// tests/browser/server.js to wstest on 127.0.0.1:PORT. Query: port=PORT&agent=NAME.
// Result: window.__autobahn.
import { ClientWebSocket, webSocketDuplex } from '/npm/browser.mjs';
import { runAutobahn } from '/tests/npm/autobahn_cases.mjs';

const params = new URLSearchParams(location.search);
const port = params.get('port');
const relay = `ws://${location.host}/relay?host=127.0.0.1&port=${port}`;
const status = document.getElementById('status');
window.__autobahn = { done: false, cases: 0, ran: 0 };

runAutobahn({
  ClientWebSocket,
  connect: async (ws, url) => ws.connect(url, await webSocketDuplex(relay)),
  base: `ws://127.0.0.1:${port}`,
  agent: params.get('agent') || 'sockweave-browser-client',
  log: (line) => console.log(line),
  onCount: (count) => {
    window.__autobahn.cases = count;
  },
  onCase: (i, count) => {
    status.textContent = `case ${i} of ${count}`;
  },
  onCaseDone: (i) => {
    window.__autobahn.ran = i;
  },
}).then(() => {
  status.textContent = 'done';
  window.__autobahn.done = true;
}, (e) => {
  status.textContent = `error: ${e && e.message}`;
  window.__autobahn.error = String(e && e.stack || e);
  window.__autobahn.done = true;
});
