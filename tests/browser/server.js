'use strict';
// The browser tests' server, on 127.0.0.1 only:
//   GET /npm/...           files of the npm package (browser.mjs, dist/web/*, examples/*)
//   GET /tests/browser/... the harness page and its scripts
//   GET /tests/npm/autobahn_cases.mjs
//                          the Autobahn case loop the page shares with Node
//   WebSocket /relay?host=H&port=P
//                          the byte relay: a TCP connection to H:P; each binary
//                          message from the page is written to it, everything it
//                          sends comes back as binary messages. The page closing
//                          the WebSocket half-closes TCP (FIN); TCP ending closes
//                          the WebSocket with 1000; a TCP error closes it with 1011.
//                          Targets are limited to loopback unless RELAY_ANY_HOST=1.
//
//   node tests/browser/server.js [PORT]   prints "listening on http://127.0.0.1:PORT/"
// `ws` comes from tests/peers/node/node_modules (NODE_PATH, as tests/interop/lib.sh).
const http = require('node:http');
const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const { WebSocketServer } = require('ws');

const ROOT = path.resolve(__dirname, '..', '..');
const SERVED = ['npm/', 'tests/browser/', 'tests/npm/autobahn_cases.mjs'];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
};
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function serveFile(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const rel = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  const file = path.resolve(ROOT, rel);
  const ok = SERVED.some((p) => rel.startsWith(p)) && file.startsWith(ROOT + path.sep) && !rel.includes('node_modules');
  if (!ok || req.method !== 'GET') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  fs.readFile(file, (err, data) => {
    if (err) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
      'cache-control': 'no-store',
    }).end(data);
  });
}

function relay(ws, req) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const host = url.searchParams.get('host') || '127.0.0.1';
  const port = Number(url.searchParams.get('port'));
  if (!(port > 0 && port < 65536) || (!LOOPBACK.has(host) && process.env.RELAY_ANY_HOST !== '1')) {
    ws.close(1008, 'bad relay target');
    return;
  }
  const tcp = net.connect({ host: host.replace(/^\[|\]$/g, ''), port });
  tcp.setNoDelay(true);
  const pending = [];
  let connected = false;
  tcp.on('connect', () => {
    connected = true;
    for (const c of pending) tcp.write(c);
    pending.length = 0;
  });
  ws.on('message', (data, isBinary) => {
    const chunk = isBinary ? data : Buffer.from(data);
    if (connected) {
      if (!tcp.write(chunk)) ws.pause();
    } else {
      pending.push(chunk);
    }
  });
  tcp.on('drain', () => ws.resume());
  tcp.on('data', (chunk) => {
    ws.send(chunk, { binary: true });
    if (ws.bufferedAmount > (1 << 20)) {
      tcp.pause();
      const wait = () => (ws.bufferedAmount > (1 << 18) && ws.readyState === 1 ? setTimeout(wait, 5) : tcp.resume());
      setTimeout(wait, 5);
    }
  });
  tcp.on('end', () => {
    if (ws.readyState === 1) ws.close(1000, 'tcp end');
  });
  tcp.on('error', (e) => {
    if (ws.readyState === 1) ws.close(1011, String(e.code || e.message).slice(0, 100));
  });
  tcp.on('close', () => {
    if (ws.readyState === 1) ws.close(1000, 'tcp closed');
  });
  ws.on('close', (code) => {
    if (code === 1000 || code === 1005) tcp.end();
    else tcp.destroy();
    setTimeout(() => tcp.destroy(), 5000).unref();
  });
  ws.on('error', () => tcp.destroy());
}

const server = http.createServer(serveFile);
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 << 20 });
server.on('upgrade', (req, socket, head) => {
  if (!req.url.startsWith('/relay')) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => relay(ws, req));
});
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/`);
});
