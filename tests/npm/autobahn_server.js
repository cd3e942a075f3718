'use strict';
// The npm server for Autobahn|Testsuite's fuzzing client: node:http +
// acceptUpgrade, permessage-deflate on, echoing every message piece by piece.
//   node tests/npm/autobahn_server.js PORT

const http = require('node:http');
const path = require('node:path');
const { acceptUpgrade } = require(path.join(__dirname, '..', '..', 'npm'));

const port = Number(process.argv[2]);
const OPTIONS = { dangerousDeflateOptions: {} };

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

const server = http.createServer((req, res) => res.end('sockweave npm echo server\n'));
server.on('upgrade', (req, socket, head) => {
  acceptUpgrade(req, socket, head, OPTIONS)
    .then(echo)
    .catch(() => { /* bad frames on purpose: the engine already answered */ });
});
server.listen(port, '127.0.0.1', () => console.error(`npm echo server on 127.0.0.1:${port}`));
