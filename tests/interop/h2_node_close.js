// Why Node's http2 client with `ws` attached to an RFC 8441 stream "loses the
// server's last Close frame" (see h2_node_close.md for the findings).
//
//   node h2_node_close.js client URL [--runs N] [--mode client-close|server-close]
//        [--close-timeout MS] [--ca FILE] [--verbose] [--server-pid PID]
//     Opens a new HTTP/2 connection per run, extended CONNECT :protocol=websocket,
//     attaches ws exactly as h2_peers.js does (new WebSocket(null) + setSocket),
//     echoes three messages and closes:
//       client-close  ws.close(1000); a run passes if ws reports code 1000, wasClean
//       server-close  sends 4 KiB to a server started with --max-message-size 1000;
//                     passes on code 1009, wasClean
//     Without --close-timeout ws is built as h2_peers.js builds it (no closeTimeout
//     option): ws then arms setTimeout(stream.destroy, undefined) = 1 ms on close().
//     Failing runs print the order of stream/session/ws events.
//     --server-pid: stop early when that process starts spinning (CPU time jumps).
//
//   node h2_node_close.js server PORT BEHAVIOUR    a tiny RFC 8441 server, no ws, no sockweave
//     Echoes text frames; on the client's Close it answers Close 1000 and then:
//       wait       ends the stream (DATA+END_STREAM) and waits for the client's END_STREAM
//                  (what sockweave serve does)
//       delay=MS   the same, with the Close answered MS milliseconds late
//       rst        DATA(Close)+END_STREAM, then RST_STREAM(CANCEL) at once
//       goaway     DATA(Close)+END_STREAM, then GOAWAY and the TCP connection destroyed
'use strict';
const http2 = require('node:http2');
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require(path.join(__dirname, '../peers/node/node_modules/ws'));

function args(list) {
  const o = { _: [] };
  for (let i = 0; i < list.length; i++) {
    if (list[i].startsWith('--')) {
      const k = list[i].slice(2);
      if (k === 'verbose') o.verbose = true;
      else o[k] = list[++i];
    } else o._.push(list[i]);
  }
  return o;
}

function once(url, o) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const ev = [];
    const log = (s) => ev.push(`${(Number(process.hrtime.bigint() - t0) / 1000).toFixed(0)}us ${s}`);
    const session = http2.connect(url, o.ca ? { ca: fs.readFileSync(o.ca) } : {});
    session.on('error', (e) => log(`session error ${e.code || e.message}`));
    session.on('goaway', (code, last) => log(`session goaway code=${code} lastStreamID=${last}`));
    session.on('close', () => log('session close'));
    let finished = false;
    const timer = setTimeout(() => { log('TIMEOUT (8 s)'); done(false, 'timeout'); }, 8000);
    function done(ok, why) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      session.close();
      setTimeout(() => resolve({ ok, why, ev }), 5);
    }
    const stream = session.request(
      { ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/', 'sec-websocket-version': '13' },
      { endStream: false });
    stream.on('error', (e) => log(`stream error ${e.code}`));
    stream.on('response', (h) => {
      log(`response ${h[':status']}`);
      if (h[':status'] !== 200) return done(false, `status ${h[':status']}`);
      stream.setNoDelay = () => {};
      // As h2_peers.js and the README do; ws takes closeTimeout from these options only.
      const ctor = o['close-timeout'] ? { closeTimeout: Number(o['close-timeout']) } : {};
      const ws = new WebSocket(null, undefined, ctor);
      ws._isServer = false; // a client masks its frames
      // Our listeners go first, so the log shows what ws is about to see.
      stream.on('data', (d) => log(`stream data ${d.length}B ${d.subarray(0, 4).toString('hex')}`));
      stream.on('end', () => log('stream end (END_STREAM read)'));
      stream.on('finish', () => log('stream finish (our END_STREAM sent)'));
      stream.on('aborted', () => log('stream aborted'));
      stream.on('close', () => log(`stream close rstCode=${stream.rstCode}`));
      const destroy = stream.destroy;
      stream.destroy = function (e) {
        const from = new Error().stack.split('\n').slice(2, 4).map((l) => l.trim()).join(' < ');
        log(`stream.destroy(${e ? e.code || e.message : ''}) called from ${from}`);
        return destroy.apply(this, arguments);
      };
      ws.setSocket(stream, Buffer.alloc(0), { maxPayload: 64 << 20 });
      let got = 0;
      ws.on('message', (m) => {
        log(`ws message ${m.length}B`);
        if (o.mode === 'client-close' && ++got === 3) { log('ws.close(1000)'); ws.close(1000); }
      });
      ws.on('error', (e) => log(`ws error ${e.message}`));
      ws.addEventListener('close', (e) => {
        log(`ws close code=${e.code} wasClean=${e.wasClean}`);
        const want = o.mode === 'client-close' ? 1000 : 1009;
        done(e.code === want && e.wasClean, `code=${e.code} wasClean=${e.wasClean}`);
      });
      if (o.mode === 'client-close') for (const s of ['one', 'two', 'three']) ws.send(s);
      else ws.send(Buffer.alloc(4096, 1));
    });
  });
}

function cpuTicks(pid) {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(st[11]) + Number(st[12]);
}

async function client(url, o) {
  o.mode = o.mode || 'client-close';
  const runs = Number(o.runs || 100);
  let fail = 0, done = 0, spinning = false;
  let last = o['server-pid'] ? cpuTicks(o['server-pid']) : 0;
  for (let i = 0; i < runs; i++) {
    const r = await once(url, o);
    done++;
    if (!r.ok) fail++;
    if (!r.ok || o.verbose) console.log(`${r.ok ? 'ok' : 'FAIL'} run ${i}: ${r.why}\n  ${r.ev.join('\n  ')}`);
    if (o['server-pid']) {
      await new Promise((res) => setTimeout(res, 30));
      const now = cpuTicks(o['server-pid']);
      if (now - last > 50) { console.log(`server pid ${o['server-pid']} is spinning (CPU ${now - last} ticks during run ${i}); stopping`); spinning = true; break; }
      last = now;
    }
  }
  console.log(`SUMMARY mode=${o.mode} closeTimeout=${o['close-timeout'] || 'unset'} url=${url} runs=${done} failures=${fail}${spinning ? ' server-spinning' : ''}`);
  process.exit(0); // a session to a stuck server would keep the process alive
}

// ---- the tiny server: RFC 8441 with hand-made WebSocket frames ----
function server(port, behaviour) {
  const srv = http2.createServer({ settings: { enableConnectProtocol: true } });
  srv.on('session', (s) => s.on('error', () => {}));
  srv.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 404 }, { endStream: true });
      return;
    }
    stream.respond({ ':status': 200 });
    let buf = Buffer.alloc(0);
    let closed = false;
    stream.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf.length < 2) return;
        const op = buf[0] & 0x0f;
        let len = buf[1] & 0x7f, at = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); at = 10; }
        if (buf.length < at + 4 + len) return;
        const mask = buf.subarray(at, at + 4);
        const payload = Buffer.from(buf.subarray(at + 4, at + 4 + len)).map((b, i) => b ^ mask[i & 3]);
        buf = buf.subarray(at + 4 + len);
        if (op === 1 || op === 2) {
          const hdr = len < 126 ? Buffer.from([0x80 | op, len]) : Buffer.from([0x80 | op, 126, len >> 8, len & 255]);
          stream.write(Buffer.concat([hdr, payload]));
        } else if (op === 8 && !closed) {
          closed = true;
          const close = Buffer.from([0x88, 0x02, 0x03, 0xe8]);
          const answer = () => {
            stream.end(close); // DATA(Close) and END_STREAM
            if (behaviour === 'rst') stream.close(http2.constants.NGHTTP2_CANCEL);
            if (behaviour === 'goaway') {
              const session = stream.session;
              setImmediate(() => { session.goaway(); session.destroy(); }); // GOAWAY, then the TCP connection closed
            }
          };
          const m = /^delay=(\d+)$/.exec(behaviour);
          if (m) setTimeout(answer, Number(m[1]));
          else answer();
        }
      }
    });
  });
  srv.listen(port, '127.0.0.1', () => console.log(`ready ${behaviour} on ${srv.address().port}`));
}

const o = args(process.argv.slice(2));
const [mode, a, b] = o._;
if (mode === 'client') client(a, o);
else if (mode === 'server') server(Number(a), b || 'wait');
else {
  console.error('usage: h2_node_close.js client URL [options] | server PORT BEHAVIOUR');
  process.exit(2);
}
