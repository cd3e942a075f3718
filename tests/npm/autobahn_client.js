'use strict';
// Autobahn|Testsuite fuzzing-server driver for the npm client:
//   node tests/npm/autobahn_client.js ws://127.0.0.1:PORT AGENT
// Runs every case (the loop of autobahn_cases.mjs, shared with the browser
// page tests/browser/autobahn.mjs), then asks the server to write its report.

const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { ClientWebSocket } = require(path.join(__dirname, '..', '..', 'npm'));

async function main() {
  const base = (process.argv[2] || '').replace(/\/$/, '');
  const agent = process.argv[3] || 'sockweave-npm-client';
  if (!base) throw new Error('usage: autobahn_client.js ws://127.0.0.1:PORT [AGENT]');
  const { runAutobahn } = await import(pathToFileURL(path.join(__dirname, 'autobahn_cases.mjs')).href);
  await runAutobahn({
    ClientWebSocket,
    connect: (ws, url) => ws.connect(url),
    base,
    agent,
    log: (line) => console.error(line),
    onCaseError: (i, e) => console.error(`case ${i}: ${e.message}`),
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
