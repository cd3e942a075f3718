// Node `ws` peers for the interop test.
//   node echo_peers.js server PORT [CERT KEY]   echo server; subprotocol chat preferred;
//                                               on /info it first sends "<protocol>|<X-Test>"
//   node echo_peers.js client URL [CA]          the client suite against an echo server
'use strict';
const fs = require('fs');
const https = require('https');
const crypto = require('crypto');
const { WebSocket, WebSocketServer } = require('ws');

const [mode, target, a, b] = process.argv.slice(2);

if (mode === 'server') {
  const opts = {
    perMessageDeflate: false,
    maxPayload: 0,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
  };
  let wss;
  if (a) {
    const server = https.createServer({ cert: fs.readFileSync(a), key: fs.readFileSync(b) });
    wss = new WebSocketServer({ server, ...opts });
    server.listen(Number(target), '127.0.0.1', () => console.log('ready'));
  } else {
    wss = new WebSocketServer({ host: '127.0.0.1', port: Number(target), ...opts });
    wss.on('listening', () => console.log('ready'));
  }
  wss.on('connection', (ws, req) => {
    if (req.url === '/info') ws.send(`${ws.protocol}|${req.headers['x-test'] || ''}`);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
} else {
  const ws = new WebSocket(target, { ca: a ? fs.readFileSync(a) : undefined, perMessageDeflate: false, maxPayload: 0 });
  const cases = [Buffer.alloc(0), Buffer.from('x'), crypto.randomBytes(125), crypto.randomBytes(126),
    crypto.randomBytes(65535), crypto.randomBytes(65536), crypto.randomBytes(1 << 20), 'héllo ✓', 't'.repeat(100000)];
  let i = 0;
  let fragmented = false;
  const next = () => {
    if (i < cases.length) { ws.send(cases[i], { binary: typeof cases[i] !== 'string' }); return; }
    if (!fragmented) {
      fragmented = true;
      ws.send('frag', { fin: false }); ws.send('men', { fin: false }); ws.send('ted', { fin: true });
      return;
    }
    ws.ping(Buffer.from('are you there'));
  };
  ws.on('open', next);
  ws.on('message', (data, isBinary) => {
    if (i < cases.length) {
      const expect = Buffer.from(cases[i]);
      if (!Buffer.from(data).equals(expect) || isBinary !== (typeof cases[i] !== 'string')) {
        console.error(`echo ${i} differs`); process.exit(1);
      }
      i += 1;
    } else if (String(data) !== 'fragmented') {
      console.error('fragmented echo differs'); process.exit(1);
    }
    next();
  });
  ws.on('pong', (data) => {
    if (String(data) !== 'are you there') { console.error('bad pong'); process.exit(1); }
    ws.close(1000, 'done');
  });
  ws.on('close', (code) => {
    if (code !== 1000 || i !== cases.length) { console.error(`closed ${code} after ${i}`); process.exit(1); }
    console.log(`ok ${i + 1} messages, ping, fragmented, close 1000`);
    process.exit(0);
  });
  ws.on('error', (e) => { console.error(String(e)); process.exit(1); });
}
