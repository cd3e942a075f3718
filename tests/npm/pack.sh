#!/usr/bin/env bash
# Pack test: `npm pack` npm/ (already built) into a temporary directory,
# install the tarball into a fresh project, and run a sample there with
# `require` and with `import`, against a local echo server made with the
# installed package itself (127.0.0.1 only).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

(cd "$ROOT/npm" && npm pack --silent --pack-destination "$TMP" >"$TMP/packed.txt")
TARBALL="$TMP/$(tail -n 1 "$TMP/packed.txt")"
echo "packed $(basename "$TARBALL") ($(wc -c <"$TARBALL") bytes)"
tar -tzf "$TARBALL" | sort >"$TMP/contents.txt"
cat "$TMP/contents.txt"
for f in package/package.json package/index.js package/index.mjs package/index.d.ts \
    package/dist/sockweave_wasm.js package/dist/sockweave_wasm_bg.wasm package/lib/websocket.js; do
    grep -qx "$f" "$TMP/contents.txt" || { echo "the tarball lacks $f" >&2; exit 1; }
done
if grep -q 'node_modules\|\.rs$\|build\.sh' "$TMP/contents.txt"; then
    echo "the tarball holds files it should not" >&2
    exit 1
fi

mkdir "$TMP/app"
cd "$TMP/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent "$TARBALL"

cat >sample.cjs <<'JS'
const http = require('node:http');
const { ClientWebSocket, WebSocket, acceptUpgrade, WebSocketError } = require('sockweave');
(async () => {
  const server = http.createServer();
  server.on('upgrade', async (req, socket, head) => {
    const ws = await acceptUpgrade(req, socket, head, { dangerousDeflateOptions: {} });
    for await (const m of ws) await ws.send(m.data, { messageType: m.messageType });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const ws = new ClientWebSocket({ dangerousDeflateOptions: {} });
  await ws.connect(`ws://127.0.0.1:${server.address().port}/`);
  await ws.send('hello from require');
  const m = await ws.receiveMessage();
  if (m.text !== 'hello from require') throw new Error(`got ${m.text}`);
  await ws.close();
  let bad;
  try { new ClientWebSocket({ keepAliveIntervall: 1 }); await new ClientWebSocket({ keepAliveIntervall: 1 }).connect('ws://127.0.0.1:1/'); } catch (e) { bad = e; }
  if (!(bad instanceof WebSocketError) || bad.code !== 'InvalidArgument') throw new Error(`bad option error: ${bad}`);
  // The standard class: events, states, a close with a code and reason.
  const std = new WebSocket(`ws://127.0.0.1:${server.address().port}/`, { dangerousDeflateOptions: {} });
  std.binaryType = 'arraybuffer';
  const seen = [];
  std.onopen = () => { seen.push(`open ${std.readyState} ${std.extensions}`); std.send('standard'); std.send(new Uint8Array([1, 2])); };
  std.onmessage = (e) => {
    seen.push(typeof e.data === 'string' ? e.data : `${e.data.byteLength} bytes`);
    if (seen.length === 3) std.close(4000, 'done');
  };
  const ev = await new Promise((r) => { std.onclose = r; });
  // The echo server's iteration answers our Close with its status (no reason).
  const want = 'open 1 permessage-deflate,standard,2 bytes,4000 "" true 3';
  const got = `${seen.join(',')},${ev.code} ${JSON.stringify(ev.reason)} ${ev.wasClean} ${std.readyState}`;
  if (got !== want) throw new Error(`standard WebSocket: ${got}, expected ${want}`);
  server.close();
  console.log('require: ok', ws.state, '/ standard WebSocket ok');
})().catch((e) => { console.error(e); process.exit(1); });
JS
cat >sample.mjs <<'JS'
import { ManagedWebSocket, WebSocket } from 'sockweave';
import sockweave from 'sockweave';
if (WebSocket.OPEN !== 1 || typeof WebSocket.fromStream !== 'undefined') throw new Error('WebSocket is not the standard class');
const a = new TransformStream();
const b = new TransformStream();
const client = ManagedWebSocket.fromStream({ readable: a.readable, writable: b.writable });
const server = sockweave.ManagedWebSocket.fromStream({ readable: b.readable, writable: a.writable }, { isServer: true });
await client.send(new Uint8Array([1, 2, 3]));
const m = await server.receiveMessage();
if (m.messageType !== 'binary' || m.data.length !== 3) throw new Error('bad message');
const closing = client.close(1000, 'done');
for await (const _ of server) { /* the Close ends the iteration */ }
await closing;
console.log('import: ok', client.state, server.closeStatusDescription);
JS
cat >types.ts <<'TS'
import * as http from 'node:http';
import sockweave, { ClientWebSocket, ManagedWebSocket, WebSocket, WebSocketError, Options, ReceiveResult, Message, acceptUpgrade } from 'sockweave';
const o: Options = { keepAliveInterval: 1000, keepAliveTimeout: 'infinite', dangerousDeflateOptions: { clientMaxWindowBits: 10 } };
const c = new ClientWebSocket({ ...o, tls: { rejectUnauthorized: true } });
// The standard class: both constructor forms, states, events.
const s1 = new WebSocket('wss://example.test/chat', ['chat', 'superchat']);
const s2 = new WebSocket(new URL('ws://example.test/'), {
  protocols: 'chat', headers: { Authorization: 'Bearer x' }, dangerousDeflateOptions: { clientMaxWindowBits: 9 },
  keepAliveInterval: 20000, keepAliveTimeout: 5000, httpVersion: '2', httpVersionPolicy: 'requestVersionOrLower',
  tls: { rejectUnauthorized: false },
});
s1.binaryType = 'arraybuffer';
s2.binaryType = 'nodebuffer';
s1.onmessage = (e) => { const d: string | ArrayBuffer | Blob | Buffer = e.data; const origin: string = e.origin; void d; void origin; };
s1.onclose = (e) => { const code: number = e.code; const why: string = e.reason; const clean: boolean = e.wasClean; void code; void why; void clean; };
s1.onerror = (e) => { const err: unknown = e.error; void err; };
s1.onopen = () => { s1.send('x'); s1.send(new Uint8Array(2)); s1.send(new ArrayBuffer(1)); s1.send(new Blob(['y'])); };
s2.addEventListener('close', (e) => void e.code);
s2.addEventListener('message', (e) => void e.data);
const states: number[] = [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED, s1.readyState, s1.OPEN];
const strs: string[] = [s1.url, s1.protocol, s1.extensions, s1.binaryType];
const amount: number = s1.bufferedAmount;
s2.close(1000, 'bye');
void states; void strs; void amount;
async function f(ws: ManagedWebSocket): Promise<ReceiveResult> {
  await ws.send('x', { endOfMessage: true, disableCompression: true });
  for await (const m of ws) { const t: string = m.text; const d: Buffer = m.data; void t; void d; }
  ws.on('close', (e) => { const code: number = e.code; void code; });
  ws.on('error', (e: WebSocketError) => { const code: string = e.code; void code; });
  ws.on('message', (m: Message) => void m.messageType);
  return ws.receive(new Uint8Array(10));
}
const server = http.createServer();
server.on('upgrade', (req, socket, head) => {
  void acceptUpgrade(req, socket, head, { subProtocols: ['chat'] }, (r) => (r.path === '/' ? undefined : { status: 404 }));
});
const n = sockweave.normalizeOptions({});
const size: number = n.receiveBufferSize;
void c; void f; void size;
// WebSocketStream: options, the opened and closed dictionaries, the server direction.
async function wss(ws: ManagedWebSocket): Promise<void> {
  const st = new sockweave.WebSocketStream('ws://example.test/', { protocols: ['chat'], signal: AbortSignal.timeout(1000), headers: [['X-A', 'b']], keepAliveInterval: 1000 });
  const { readable, writable, protocol, extensions } = await st.opened;
  const w = writable.getWriter();
  await w.write('t'); await w.write(new Uint8Array(1)); await w.write(new ArrayBuffer(1));
  for await (const m of readable) { const x: string | Uint8Array = m; void x; }
  st.close({ closeCode: 4000, reason: 'bye' });
  const { closeCode, reason } = await st.closed;
  const from = sockweave.WebSocketStream.from(ws);
  const o = await from.opened;
  await o.readable.pipeTo(o.writable);
  void protocol; void extensions; void closeCode; void reason; void st.url;
}
void wss;
TS
cat >tsconfig.json <<JSON
{ "compilerOptions": { "strict": true, "noEmit": true, "module": "nodenext", "moduleResolution": "nodenext",
  "target": "es2022", "types": ["node"], "typeRoots": ["$HERE/node_modules/@types"], "skipLibCheck": false },
  "files": ["types.ts"] }
JSON
if [ -x "$HERE/node_modules/.bin/tsc" ]; then
    timeout 120 "$HERE/node_modules/.bin/tsc" -p tsconfig.json
    echo "index.d.ts: tsc --strict ok"
else
    echo "TypeScript is not installed in tests/npm/node_modules (run.sh installs it)" >&2
    exit 1
fi
# The browser entry's types, in a project with the DOM library and no Node types at all.
mkdir browser
cat >browser/page.ts <<'TS'
import sockweave, { ClientWebSocket, ManagedWebSocket, Message, WebSocketError, accept, connectedPair, webSocketDuplex } from 'sockweave/browser';
import type { Options, ReceiveResult } from 'sockweave/browser';
async function page(): Promise<void> {
  const options: Options = { dangerousDeflateOptions: { clientMaxWindowBits: 9 }, keepAliveInterval: 0 };
  const [a, b] = connectedPair();
  const serving: Promise<ManagedWebSocket> = accept(b, { dangerousDeflateOptions: {} }, (r) => (r.path === '/chat' ? undefined : { status: 404 }));
  const client = new ClientWebSocket(options);
  await client.connect('ws://in-page.test/chat', a);
  const server = await serving;
  await client.send('part 1, ', { endOfMessage: false });
  await client.send(new Uint8Array([1, 2]));
  const r: ReceiveResult = await server.receive(new Uint8Array(16));
  const m = await server.receiveMessage();
  if (m instanceof Message) { const d: Uint8Array = m.data; const t: string = m.text; void d; void t; }
  for await (const x of server) { const d: Uint8Array = x.data; void d; }
  client.on('error', (e: WebSocketError) => void e.code);
  client.on('close', (e) => void e.wasClean);
  await client.close(4000, 'done');
  const tunnel = await webSocketDuplex('ws://127.0.0.1:8080/relay', { protocols: ['bytes'] });
  const socket: WebSocket = tunnel.socket;
  const n = sockweave.normalizeOptions({});
  void r; void socket; void n.receiveBufferSize; void client.httpStatusCode; void client.state;
}
void page;
TS
cat >browser/tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "noEmit": true, "module": "esnext", "moduleResolution": "bundler",
  "target": "es2022", "lib": ["es2022", "dom", "dom.iterable"], "types": [], "skipLibCheck": false },
  "files": ["page.ts"] }
JSON
mkdir -p browser/node_modules && ln -s "$TMP/app/node_modules/sockweave" browser/node_modules/sockweave
timeout 120 "$HERE/node_modules/.bin/tsc" -p browser/tsconfig.json
echo "browser.d.ts: tsc --strict ok (DOM library, no Node types)"
timeout 60 node sample.cjs
timeout 60 node sample.mjs
echo "pack: ok"
