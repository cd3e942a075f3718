'use strict';
// The shared lifecycle vectors (tests/vectors/lifecycle.json, format in
// tests/vectors/README.md) through the npm package: a WebSocket over a
// scripted transport, on a virtual clock, so every deadline of the engine is
// checked exactly and no test waits. The twin of core/tests/lifecycle.rs and
// native/tests/lifecycle.rs (whose runner, tests/vectors/lifecycle_runner.rs,
// this file follows step for step).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT } = require('./helpers.js');

const lib = (f) => require(path.join(ROOT, 'npm', 'lib', f));
const { clock } = lib('clock.js');
const { ManagedWebSocket, CONSTRUCT } = lib('websocket.js');
const { normalizeOptions, wasm } = lib('engine.js');

const VECTORS = path.join(__dirname, '..', 'vectors');
const hex = (s) => Buffer.from(s, 'hex');

// ------------------------------------------------------------ virtual clock

let vnow = 0;
let timers = [];
let nextTimer = 1;
clock.now = () => vnow;
clock.setTimer = (fn, ms) => {
  const id = nextTimer++;
  timers.push({ id, at: vnow + ms, fn });
  return id;
};
clock.clearTimer = (id) => {
  timers = timers.filter((t) => t.id !== id);
};

/** Lets every callback and promise run that can without more input or time. */
async function settle() {
  for (let i = 0; i < 8; i++) await new Promise((r) => setImmediate(r));
}

async function advance(ms) {
  const until = vnow + ms;
  for (;;) {
    const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
    if (!due) break;
    timers = timers.filter((t) => t !== due);
    vnow = Math.max(vnow, due.at);
    due.fn();
    await settle();
  }
  vnow = until;
  await settle();
}

// ------------------------------------------------------- scripted transport

/** A transport the test plays the peer of (the interface of npm/lib/transport.js). */
class Scripted {
  constructor() {
    this.onData = () => {};
    this.onEnd = () => {};
    this.onError = () => {};
    this.paused = true;
    /** What the peer sent while the transport was paused. */
    this.pending = [];
    this.notReading = false;
    this.held = null;
    this.release_ = null;
    this.delivered = [];
    this.shut = false;
    this.released = false;
  }

  pause() { this.paused = true; }

  resume() {
    this.paused = false;
    while (!this.paused && this.pending.length) {
      const ev = this.pending.shift();
      if (ev === 'end') this.onEnd();
      else this.onData(ev);
    }
  }

  peer(ev) {
    if (this.paused || this.pending.length) this.pending.push(ev);
    else if (ev === 'end') this.onEnd();
    else this.onData(ev);
  }

  write(chunk) {
    if (!this.notReading) {
      this.delivered.push(Buffer.from(chunk));
      return null;
    }
    // A peer that does not read: the transport takes this write and holds it.
    this.held = Buffer.from(chunk);
    return new Promise((resolve) => { this.release_ = resolve; });
  }

  reading(on) {
    this.notReading = !on;
    if (on && this.held) {
      this.delivered.push(this.held);
      this.held = null;
      this.release_();
    }
  }

  end() { this.shut = true; }

  release() {
    this.end();
    this.released = true;
  }

  destroy() { this.released = true; }

  detach() {}

  fate() {
    if (this.released) return this.shut ? 'closed' : 'dropped';
    return this.shut ? 'writeShut' : 'open';
  }
}

// ------------------------------------------------------------------- runner

/** Settles `p` if it can without more input or time; `undefined` if it still waits. */
async function outcome(p) {
  let result;
  p.then((v) => { result = { ok: v }; }, (e) => { result = { error: e }; });
  await settle();
  return result;
}

function errorKind(r) {
  return r && typeof r === 'object' && typeof r.error === 'string' ? r.error : undefined;
}

function checkDone(got, want, what) {
  assert.ok(got, `${what} still waits`);
  if (want === undefined) {
    assert.ok(!got.error, `${what} failed with ${got.error && got.error.code}`);
    return;
  }
  if (want === 'ok') assert.ok(!got.error, `${what}: ${got.error && got.error.message}, expected ok`);
  else assert.equal(got.error && got.error.code, errorKind(want), `${what}: result`);
}

function parseFrames(bytes, client) {
  const frames = [];
  let p = 0;
  while (p < bytes.length) {
    const b0 = bytes[p];
    const b1 = bytes[p + 1];
    let len = b1 & 0x7f;
    let q = p + 2;
    if (len === 126) { len = bytes.readUInt16BE(q); q += 2; } else if (len === 127) { len = Number(bytes.readBigUInt64BE(q)); q += 8; }
    const masked = (b1 & 0x80) !== 0;
    assert.equal(masked, client, `a ${client ? 'client' : 'server'} wrote a frame with mask ${masked}`);
    let key = null;
    if (masked) { key = bytes.subarray(q, q + 4); q += 4; }
    const payload = Buffer.from(bytes.subarray(q, q + len));
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i % 4];
    frames.push({ op: b0 & 0x0f, payload });
    p = q + len;
  }
  return frames;
}

const OPS = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

function checkWrote(bytes, want, client) {
  const frames = parseFrames(bytes, client);
  const got = frames.map((f) => (f.op === 8
    ? `close ${f.payload.length >= 2 ? f.payload.readUInt16BE(0) : ''} ${JSON.stringify(f.payload.subarray(2).toString())}`
    : `${OPS[f.op]} ${f.payload.toString('hex')}`));
  const ok = frames.length === want.length && frames.every((f, i) => {
    const w = want[i];
    if (OPS[f.op] !== w.op) return false;
    if (f.op === 8) {
      const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;
      return code === w.code && (w.reason === undefined || f.payload.subarray(2).toString() === w.reason);
    }
    return f.payload.toString('hex') === (w.dataHex || '');
  });
  assert.ok(ok, `wrote [${got.join(', ')}], expected ${JSON.stringify(want)}`);
}

async function runCase(c) {
  const client = c.role === 'client';
  const options = { ...(c.options || {}), isServer: !client };
  vnow = 0;
  timers = [];
  const t = new Scripted();
  const session = new wasm.Session(options, new Uint8Array(32));
  const ws = new ManagedWebSocket(CONSTRUCT);
  ws.on('error', () => {});
  ws._attach(session, t, normalizeOptions(options), null);
  await settle();
  let closing = null;
  for (const [i, step] of c.steps.entries()) {
    const e = step.expect || {};
    const where = `step ${i + 1} ${JSON.stringify({ ...step, expect: undefined }).slice(0, 80)}`;
    try {
      if (step.peer !== undefined) {
        t.peer(hex(step.peer));
        await settle();
      } else if (step.peerEnd) {
        t.peer('end');
        await settle();
      } else if (step.peerReset) {
        t.onError(Object.assign(new Error('connection reset by peer'), { code: 'ECONNRESET' }));
        await settle();
      } else if (step.peerReading !== undefined) {
        t.reading(step.peerReading);
        await settle();
      } else if (step.wait !== undefined) {
        await advance(step.wait);
      } else if (step.receive) {
        const buf = Buffer.alloc(step.receive.size || 1024);
        const got = await outcome(ws.receive(buf));
        assert.ok(got, 'the receive still waits');
        const want = e.result;
        if (errorKind(want)) {
          assert.equal(got.error && got.error.code, want.error, `received ${got.ok ? got.ok.messageType : ''}`);
        } else {
          assert.ok(!got.error, `receive failed: ${got.error && got.error.message}`);
          const r = got.ok;
          if (want.type === 'close') {
            assert.equal(r.messageType, 'close');
            assert.equal(r.closeStatus, want.code);
            assert.equal(r.closeStatusDescription || '', want.reason || '');
          } else {
            assert.equal(r.messageType, want.type);
            assert.equal(buf.subarray(0, r.count).toString('hex'), want.dataHex, 'data');
            assert.equal(r.endOfMessage, want.end === undefined ? true : want.end);
          }
        }
      } else if (step.send) {
        const s = step.send;
        const got = await outcome(ws.send(hex(s.dataHex), { messageType: s.type, endOfMessage: s.end === undefined ? true : s.end }));
        checkDone(got, e.result, 'send');
      } else if (step.closeOutput) {
        const got = await outcome(ws.closeOutput(step.closeOutput.code, step.closeOutput.reason));
        checkDone(got, e.result, 'closeOutput');
      } else if (step.close) {
        closing = ws.close(step.close.code, step.close.reason);
        closing.catch(() => {});
        await settle();
      } else if (step.closeDone) {
        const got = await outcome(closing);
        checkDone(got, e.result, 'close()');
      } else if (step.abort) {
        ws.abort();
        await settle();
      } else {
        throw new Error(`unknown step ${JSON.stringify(step)}`);
      }
      if (e.state !== undefined) assert.equal(ws.state, e.state, 'state');
      if (e.closeStatus !== undefined) assert.equal(ws.closeStatus === undefined ? null : ws.closeStatus, e.closeStatus, 'closeStatus');
      if (e.wrote !== undefined) {
        checkWrote(Buffer.concat(t.delivered), e.wrote, client);
        t.delivered = [];
      }
      if (e.transport !== undefined) assert.equal(t.fate(), e.transport, 'transport');
    } catch (err) {
      err.message = `${where}: ${err.message}`;
      throw err;
    }
  }
}

test('lifecycle.json through the npm package (scripted transport, virtual clock)', async (t) => {
  const { cases } = JSON.parse(fs.readFileSync(path.join(VECTORS, 'lifecycle.json'), 'utf8'));
  const only = process.env.LIFECYCLE_ONLY;
  const failures = [];
  let n = 0;
  for (const c of cases) {
    if (only && !c.name.includes(only)) continue;
    n += 1;
    try {
      await runCase(c);
      if (c.knownBug) failures.push(`${c.name}: marked knownBug (${c.knownBug}) but passes`);
    } catch (err) {
      if (c.knownBug) t.diagnostic(`known bug in ${JSON.stringify(c.name)} (${c.knownBug}): ${err.message}`);
      else failures.push(`${c.name}: ${err.message}`);
    }
  }
  t.diagnostic(`REPORT lifecycle.json: ${n} cases through the npm package`);
  assert.ok(n > 0);
  assert.deepStrictEqual(failures, []);
});
