// Node's http2 module speaking RFC 8441, with `ws` doing the WebSocket framing
// on the HTTP/2 stream (ws attaches to any duplex with setSocket).
//
//   node h2_peers.js server PORT [CERT KEY]   http2 server with enableConnectProtocol;
//                                             echoes WebSockets; h2c or TLS (ALPN h2)
'use strict';
const http2 = require('node:http2');
const fs = require('node:fs');
const WebSocket = require('ws');

// ws expects a net.Socket; an Http2Stream lacks only setNoDelay.
function attach(stream) {
  stream.setNoDelay = () => {};
  // new WebSocket(null) is a server-side socket.
  // closeTimeout: ws applies its 30 s default only in WebSocketServer and the URL
  // constructor; without it, close() destroys the stream after 1 ms and can drop the
  // peer's Close still in flight (tests/interop/h2_node_close.md).
  const ws = new WebSocket(null, undefined, { maxPayload: 64 * 1024 * 1024, closeTimeout: 30000 });
  ws.setSocket(stream, Buffer.alloc(0), { maxPayload: 64 * 1024 * 1024 });
  return ws;
}

function server(port, cert, key) {
  const settings = { enableConnectProtocol: true };
  const srv = cert
    ? http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), settings })
    : http2.createServer({ settings });
  srv.on('stream', (stream, headers) => {
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(`node ${headers[':method']} ${headers[':path']}`);
      return;
    }
    const offered = (headers['sec-websocket-protocol'] || '').split(',').map((s) => s.trim());
    const reply = { ':status': 200 };
    if (offered.includes('chat')) reply['sec-websocket-protocol'] = 'chat';
    stream.respond(reply);
    const ws = attach(stream);
    if (headers[':path'] === '/info') ws.send(`h2|${reply['sec-websocket-protocol'] || ''}`);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
  });
  srv.listen(port, '127.0.0.1', () => console.log('ready'));
}

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'server') server(Number(a), b, c);
else throw new Error(`unknown mode ${mode}`);
