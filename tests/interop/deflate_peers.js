// Node `ws` peers for the permessage-deflate interop test.
//   node deflate_peers.js server PORT JSON   echo server (JSON: ws perMessageDeflate options);
//                                           on path /ext it first sends its negotiated extensions;
//                                           prints what it negotiated, a line per connection
//   node deflate_peers.js client URL JSON    sends test messages, checks echoes; prints the
//                                           Sec-WebSocket-Extensions it got, then what it negotiated
// "What it negotiated" is the parameters ws runs with, as the line
// `negotiated server_max_window_bits=S client_max_window_bits=C server_no_context_takeover=B client_no_context_takeover=B`.
'use strict';
const crypto = require('crypto');
const { WebSocket, WebSocketServer } = require('ws');

const [mode, target, json] = process.argv.slice(2);
const pmd = Object.assign({ threshold: 0 }, JSON.parse(json || '{}'));

// ws keeps the accepted parameters on its PerMessageDeflate (`params`): an
// absent window is 15, an absent flag false.
function negotiated(ws) {
  const pmd = ws._extensions['permessage-deflate'];
  if (!pmd) return 'negotiated none';
  const p = pmd.params;
  return `negotiated server_max_window_bits=${p.server_max_window_bits || 15}` +
    ` client_max_window_bits=${p.client_max_window_bits || 15}` +
    ` server_no_context_takeover=${Boolean(p.server_no_context_takeover)}` +
    ` client_no_context_takeover=${Boolean(p.client_no_context_takeover)}`;
}

function messages() {
  const jsonLike = (i) => Array.from({ length: 30 }, (_, k) =>
    `{"user":"ada","room":"general","text":"hello there, how are you today?","n":${i + k}}`).join('');
  const out = [['text', 'héllo wörld ✓'], ['text', ''], ['text', jsonLike(0)],
    ['bin', crypto.randomBytes(70000)], ['bin', Buffer.alloc(1000000)], ['text', 'repeat '.repeat(50000)]];
  for (let i = 0; i < 50; i++) out.push(['text', jsonLike(i)]);
  return out;
}

if (mode === 'server') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(target), perMessageDeflate: pmd, maxPayload: 0 });
  // The Sec-WebSocket-Extensions header this server answered with, per request.
  const answered = new WeakMap();
  wss.on('headers', (headers, req) => {
    const h = headers.find((l) => l.toLowerCase().startsWith('sec-websocket-extensions:'));
    answered.set(req, h ? h.slice(h.indexOf(':') + 1).trim() : 'none');
  });
  wss.on('connection', (ws, req) => {
    console.log(negotiated(ws));
    if (req.url === '/ext') ws.send(answered.get(req) || 'none');
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  wss.on('listening', () => console.log('ready'));
} else {
  const ws = new WebSocket(target, { perMessageDeflate: pmd, maxPayload: 0 });
  const list = messages();
  let i = 0;
  let header = 'none';
  ws.on('upgrade', (res) => { header = res.headers['sec-websocket-extensions'] || 'none'; });
  ws.on('open', () => {
    console.log(header);
    console.log(negotiated(ws));
    if (!String(ws.extensions).includes('permessage-deflate')) { console.error('not negotiated'); process.exit(1); }
    ws.send(list[0][1], { binary: list[0][0] === 'bin' });
  });
  ws.on('message', (data, isBinary) => {
    const [kind, m] = list[i];
    const expect = Buffer.from(m);
    if (isBinary !== (kind === 'bin') || !Buffer.from(data).equals(expect)) {
      console.error(`message ${i} (${kind}, ${expect.length}) came back different`); process.exit(1);
    }
    i += 1;
    if (i < list.length) ws.send(list[i][1], { binary: list[i][0] === 'bin' });
    else ws.close(1000, 'done');
  });
  ws.on('close', (code) => {
    if (code !== 1000 || i !== list.length) { console.error(`closed ${code} after ${i}`); process.exit(1); }
    console.log(`ok ${i} messages`);
    process.exit(0);
  });
  ws.on('error', (e) => { console.error(String(e)); process.exit(1); });
}
