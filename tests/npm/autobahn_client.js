'use strict';
// Autobahn|Testsuite fuzzing-server driver for the npm client:
//   node tests/npm/autobahn_client.js ws://127.0.0.1:PORT AGENT
// Runs every case (echoing each message piece by piece, as the native
// `sockweave autobahn` does), then asks the server to write its report.

const path = require('node:path');
const { ClientWebSocket } = require(path.join(__dirname, '..', '..', 'npm'));

const OPTIONS = { dangerousDeflateOptions: {}, keepAliveInterval: 0 };

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
  const base = (process.argv[2] || '').replace(/\/$/, '');
  const agent = process.argv[3] || 'sockweave-npm-client';
  if (!base) throw new Error('usage: autobahn_client.js ws://127.0.0.1:PORT [AGENT]');
  const counter = new ClientWebSocket(OPTIONS);
  await counter.connect(`${base}/getCaseCount`);
  const count = Number((await counter.receiveMessage()).text);
  await counter.close().catch(() => {});
  console.error(`autobahn: ${count} cases`);
  for (let i = 1; i <= count; i++) {
    const ws = new ClientWebSocket(OPTIONS);
    try {
      await within(120000, (async () => {
        await ws.connect(`${base}/runCase?case=${i}&agent=${encodeURIComponent(agent)}`);
        try {
          await echo(ws);
        } finally {
          await ws.closed;
        }
      })());
    } catch (e) {
      // Many cases end with an error on purpose (the fuzzer sends bad frames).
      console.error(`case ${i}: ${e.message}`);
      ws.abort();
    }
  }
  const rep = new ClientWebSocket(OPTIONS);
  await rep.connect(`${base}/updateReports?agent=${encodeURIComponent(agent)}`);
  for await (const _ of rep) { /* until the server's Close, answered by the iteration */ }
  await rep.closed;
  console.error(`autobahn: report updated for agent ${agent}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
