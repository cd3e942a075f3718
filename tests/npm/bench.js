'use strict';
// Benchmark of the npm package against Node `ws` 8.23, in the same run and
// the same process (client and server of one library over loopback TCP):
// echo messages per second at 16 B, 1 KiB and 64 KiB (16 messages in
// flight), and echo throughput at 1 MiB, each with and without
// permessage-deflate (5 interleaved repetitions per case: medians, and the
// spread of the per-repetition ratio); and the size of the wasm file, raw
// and gzipped. `ws` runs with `bufferutil` (its native masking), as its
// README recommends for speed.
// Prints lines starting with "REPORT ".
//
//   node tests/npm/bench.js [SECONDS_PER_CASE]      (default 1)
// The machine has 2 cores and may be busy: compare the ratios, not the absolute numbers.

const fs = require('node:fs');
const zlib = require('node:zlib');
const http = require('node:http');
const path = require('node:path');
const { sockweave, loadWs, ROOT } = require('./helpers.js');

const WS = loadWs();
const SECONDS = Number(process.argv[2] || 1);
const WINDOW = 16;
/** Interleaved repetitions per case (each SECONDS / REPS long). */
const REPS = 5;

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Compressible text of `n` bytes (words from a small vocabulary, like JSON chat). */
function payload(n) {
  const words = ['{"user":', '"alice"', '"bob"', ',"text":', '"hello"', '"world"', ',"ts":', '1732', '}', ' '];
  let s = '';
  let x = 12345;
  while (s.length < n) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += words[x % words.length];
  }
  return Buffer.from(s.slice(0, n));
}

async function listen(server) {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server.address().port;
}

/** Runs a pipelined echo for SECONDS: returns messages per second and bytes per second (one way). */
async function sockweavePair(deflate) {
  const server = http.createServer();
  server.on('upgrade', async (req, sock, head) => {
    const ws = await sockweave.acceptUpgrade(req, sock, head, { dangerousDeflateOptions: deflate ? {} : undefined });
    try {
      for await (const m of ws) await ws.send(m.data, { messageType: 'binary' });
    } catch (_) { /* closed by the benchmark */ }
  });
  const port = await listen(server);
  const c = new sockweave.ClientWebSocket({ dangerousDeflateOptions: deflate ? {} : undefined, keepAliveInterval: 0 });
  await c.connect(`ws://127.0.0.1:${port}/`);
  return {
    async run(data, seconds) {
      // Event-driven like the ws loop below: the sender refills the window
      // when the receiver takes a message (no polling between them).
      let received = 0;
      let sent = 0;
      let senderDone = false;
      let wakeSender = null;
      let wakeReceiver = null;
      const wake = (w) => { if (w) w(); };
      const t0 = performance.now();
      const end = t0 + seconds * 1000;
      const sender = (async () => {
        for (;;) {
          while (sent - received < WINDOW && performance.now() < end) {
            sent += 1;
            await c.send(data);
            const w = wakeReceiver; wakeReceiver = null; wake(w);
          }
          if (performance.now() >= end) break;
          await new Promise((r) => { wakeSender = r; });
        }
        senderDone = true;
        const w = wakeReceiver; wakeReceiver = null; wake(w);
      })();
      while (!(senderDone && received === sent)) {
        if (received === sent) {
          // Nothing in flight: wait for the sender to send or finish.
          await new Promise((r) => { wakeReceiver = r; });
          continue;
        }
        const m = await c.receiveMessage();
        if (m.data.length !== data.length) throw new Error('bad echo');
        received += 1;
        const w = wakeSender; wakeSender = null; wake(w);
      }
      await sender;
      return received / ((performance.now() - t0) / 1000);
    },
    async close() {
      await c.close();
      server.close();
    },
  };
}

async function wsPair(deflate) {
  const wss = new WS.WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate ? { threshold: 0 } : false });
  await new Promise((r) => wss.on('listening', r));
  wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d, { binary })));
  const c = new WS(`ws://127.0.0.1:${wss.address().port}/`, { perMessageDeflate: deflate ? { threshold: 0 } : false });
  await new Promise((r, j) => { c.on('open', r); c.on('error', j); });
  return {
    run(data, seconds) {
      return new Promise((resolve) => {
        let received = 0;
        let sent = 0;
        const t0 = performance.now();
        const end = t0 + seconds * 1000;
        const pump = () => {
          while (sent - received < WINDOW && performance.now() < end) {
            sent += 1;
            c.send(data, { binary: true });
          }
        };
        const onMessage = (d) => {
          if (d.length !== data.length) throw new Error('bad echo');
          received += 1;
          if (performance.now() < end) pump();
          else if (received === sent) {
            c.off('message', onMessage);
            resolve(received / ((performance.now() - t0) / 1000));
          }
        };
        c.on('message', onMessage);
        pump();
      });
    },
    async close() {
      c.close();
      await new Promise((r) => c.on('close', r));
      wss.close();
    },
  };
}

const fmt = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));

async function main() {
  const wasmFile = path.join(ROOT, 'npm', 'dist', 'sockweave_wasm_bg.wasm');
  const wasm = fs.readFileSync(wasmFile);
  const gz = zlib.gzipSync(wasm, { level: 9 });
  console.log(`REPORT wasm size: ${wasm.length} bytes raw, ${gz.length} bytes gzipped (npm/dist/sockweave_wasm_bg.wasm)`);
  const sizes = [[16, '16 B'], [1024, '1 KiB'], [65536, '64 KiB'], [1 << 20, '1 MiB']];
  for (const deflate of [false, true]) {
    const pairs = { sockweave: await sockweavePair(deflate), ws: await wsPair(deflate) };
    for (const [n, label] of sizes) {
      const data = payload(n);
      const runs = { sockweave: [], ws: [] };
      for (const p of Object.values(pairs)) await p.run(data, Math.min(0.2, SECONDS / 5)); // warm-up
      // Interleaved repetitions; the medians are compared, the spread of the ratio reported.
      for (let rep = 0; rep < REPS; rep += 1) {
        for (const [name, p] of Object.entries(pairs)) runs[name].push(await p.run(data, SECONDS / REPS));
      }
      const rate = { sockweave: median(runs.sockweave), ws: median(runs.ws) };
      const ratios = runs.sockweave.map((r, k) => r / runs.ws[k]);
      const ratio = `${(rate.sockweave / rate.ws).toFixed(2)}, per repetition ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)} over ${REPS}`;
      const what = deflate ? 'deflate' : 'plain';
      if (n >= 1 << 20) {
        const mb = (r) => ((r * n) / (1 << 20)).toFixed(1);
        console.log(`REPORT echo throughput ${label} ${what}: sockweave ${mb(rate.sockweave)} MiB/s, ws ${mb(rate.ws)} MiB/s (ratio ${ratio})`);
      } else {
        console.log(`REPORT echo ${label} ${what}: sockweave ${fmt(rate.sockweave)} msg/s, ws ${fmt(rate.ws)} msg/s (ratio ${ratio})`);
      }
    }
    for (const p of Object.values(pairs)) await p.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
