'use strict';
// The npm server the attack suite drives: an echo server on a raw `net`
// listener (`accept`) and one on `node:http` (`acceptUpgrade`), both
// accepting only the origin https://app.example, with a 2 s handshake timeout.
//   node --expose-gc tests/hostile/npm_server.js RAW_PORT HTTP_PORT
// SIGUSR2 writes its live memory to $HOSTILE_MEM_FILE (see below).

const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { accept, acceptUpgrade } = require(path.join(__dirname, '..', '..', 'npm'));

const fs = require('node:fs');
const wasm = require(path.join(__dirname, '..', '..', 'npm', 'dist', 'sockweave_wasm.js'));

// SIGUSR2: a full garbage collection, then the live memory into
// $HOSTILE_MEM_FILE: V8's used heap, external memory and the wasm linear
// memory (which grows and never shrinks). RSS alone would count the garbage
// V8 keeps pages for.
process.on('SIGUSR2', () => {
  if (global.gc) global.gc();
  const m = process.memoryUsage();
  const live = { heapUsed: m.heapUsed, external: m.external, wasm: wasm.memoryBytes(), rss: m.rss };
  fs.writeFileSync(process.env.HOSTILE_MEM_FILE, JSON.stringify(live));
});

const [rawPort, httpPort] = process.argv.slice(2).map(Number);
const OPTIONS = { allowedOrigins: ['https://app.example'], handshakeTimeout: 2000 };

async function echo(ws) {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const r = await ws.receive(buf);
    if (r.messageType === 'close') {
      await ws.closeOutput(undefined, '');
      return;
    }
    await ws.send(buf.slice(0, r.count), { messageType: r.messageType, endOfMessage: r.endOfMessage });
  }
}

// Refusals and protocol errors are the point of the suite: the engine has
// already answered them (status code or Close frame).
const ignore = () => {};

net.createServer((socket) => {
  socket.on('error', ignore);
  accept(socket, OPTIONS).then(echo).catch(ignore);
}).listen(rawPort, '127.0.0.1');

const server = http.createServer((req, res) => res.end('sockweave npm hostile server\n'));
server.on('upgrade', (req, socket, head) => {
  socket.on('error', ignore);
  acceptUpgrade(req, socket, head, OPTIONS).then(echo).catch(ignore);
});
server.listen(httpPort, '127.0.0.1', () => console.error(`npm hostile server on ${rawPort} and ${httpPort}`));
