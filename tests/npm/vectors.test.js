'use strict';
// The shared vectors of tests/vectors (format: tests/vectors/README.md) run
// through the wasm engine, as core/tests/vectors.rs runs them through the
// Rust engine: sessions.json in three feeding modes, and the HTTP/1.1
// handshakes of handshakes.json in both roles.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { wasm } = require('./helpers.js');

const VECTORS = path.join(__dirname, '..', 'vectors');
const load = (name) => JSON.parse(fs.readFileSync(path.join(VECTORS, name), 'utf8'));
const hex = (s) => Buffer.from(s, 'hex');
const RECEIVE_CHUNK = 7;

/** Runs `fn`; a vector marked knownBug must fail (and is reported), others must pass. */
function checkVector(t, v, fn) {
  if (v.knownBug) {
    let failed = null;
    try {
      fn();
    } catch (e) {
      failed = e;
    }
    assert.ok(failed, `marked knownBug (${v.knownBug}) but the engine now passes; remove the marker`);
    t.diagnostic(`known engine bug in ${JSON.stringify(v.name)} (${v.knownBug}): ${failed.message}`);
    return;
  }
  fn();
}

// ------------------------------------------------------------- sessions.json

class App {
  constructor() {
    this.outcome = { messages: [], closeReceived: null, error: null };
    this.current = null;
    this.done = false;
    /** What the session wrote, taken after every feed (a transport that takes every write). */
    this.wire = [];
  }

  drain(s) {
    for (let i = 0; i < 1_000_000; i++) {
      if (this.done) return;
      let r;
      try {
        r = s.receive(RECEIVE_CHUNK);
      } catch (e) {
        this.outcome.error = { kind: e.code, closeCode: e.closeCode === undefined ? null : e.closeCode };
        this.done = true;
        return;
      }
      if (r === undefined) return;
      const data = Buffer.from(r.data);
      const type = r.messageType;
      const eom = r.endOfMessage;
      const closeStatus = r.closeStatus;
      const reason = r.closeStatusDescription;
      r.free();
      if (type === 'close') {
        assert.equal(data.length, 0, 'count of a Close result');
        assert.equal(s.closeStatus, closeStatus, 'session closeStatus');
        assert.equal(s.closeStatusDescription, reason || '', 'session closeStatusDescription');
        this.outcome.closeReceived = { code: closeStatus, reason: reason || '' };
        this.done = true;
        continue;
      }
      assert.ok(data.length <= RECEIVE_CHUNK, `receive wrote ${data.length} bytes into ${RECEIVE_CHUNK}`);
      assert.equal(closeStatus, undefined, 'a data result with a close status');
      if (!this.current) this.current = { type, parts: [] };
      assert.equal(this.current.type, type, 'message type changed within a message');
      this.current.parts.push(data);
      if (eom) {
        this.outcome.messages.push({ type, dataHex: Buffer.concat(this.current.parts).toString('hex') });
        this.current = null;
      }
    }
    throw new Error('receive never ran out of results');
  }
}

/** Feeds `data`, receiving whenever the buffer is full (and after every call when `interleave`). */
function feed(app, s, data, interleave) {
  let pos = 0;
  let stalls = 0;
  while (pos < data.length && !app.done) {
    const taken = s.feed(data.subarray(pos));
    pos += taken;
    for (let c; (c = s.takeOutput());) app.wire.push(Buffer.from(c));
    if (interleave || pos < data.length) app.drain(s);
    if (taken === 0) {
      stalls += 1;
      assert.ok(stalls < 3, `stalled at input byte ${pos}: the receive buffer stays full`);
    } else {
      stalls = 0;
    }
  }
}

/** Unmasks and parses frames the session wrote: PONG payloads and a Close's code. */
function parseOutput(out, isServer) {
  const pongs = [];
  let close = null;
  let p = 0;
  while (p < out.length) {
    const b0 = out[p];
    const b1 = out[p + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 7;
    const op = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let q = p + 2;
    if (len === 126) {
      len = out.readUInt16BE(q);
      q += 2;
    } else if (len === 127) {
      len = Number(out.readBigUInt64BE(q));
      q += 8;
    }
    assert.equal(masked, !isServer, `a ${isServer ? 'server' : 'client'} wrote a frame with mask=${masked}`);
    let key = null;
    if (masked) {
      key = out.subarray(q, q + 4);
      q += 4;
    }
    assert.ok(q + len <= out.length, 'the session wrote a truncated frame');
    const payload = Buffer.from(out.subarray(q, q + len));
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    assert.ok(fin && rsv === 0, `unexpected output frame header ${b0.toString(16)}`);
    assert.equal(close, null, 'the session wrote a frame after its Close');
    if (op === 0xa) pongs.push(payload.toString('hex'));
    else if (op === 0x8) {
      assert.notEqual(payload.length, 1, 'a 1-byte Close payload');
      close = payload.length === 0 ? 1005 : payload.readUInt16BE(0);
    } else assert.fail(`the session wrote an unexpected opcode ${op}`);
    p = q + len;
  }
  return { pongs, close };
}

function runSession(v, mode) {
  const options = { ...(v.options || {}), isServer: v.role === 'server' };
  const s = new wasm.Session(options, new Uint8Array(32));
  try {
    const app = new App();
    const input = hex(v.inputHex);
    if (mode === 'whole') feed(app, s, input, false);
    else {
      for (let i = 0; i < input.length && !app.done; i++) feed(app, s, input.subarray(i, i + 1), mode === 'interleaved');
    }
    app.drain(s);
    const o = app.outcome;
    if (o.error) {
      assert.equal(s.state, 'Aborted', 'state after an error');
      assert.equal(s.failure.code, o.error.kind, 'failure');
      assert.throws(() => s.receive(RECEIVE_CHUNK), (e) => e.code === o.error.kind, 'receive after the error');
    } else if (o.closeReceived) {
      assert.equal(s.state, 'CloseReceived', 'state after a Close');
    } else {
      assert.equal(s.state, 'Open', 'state');
    }
    const out = app.wire;
    for (let c; (c = s.takeOutput());) out.push(Buffer.from(c));
    const { pongs, close } = parseOutput(Buffer.concat(out), v.role === 'server');
    return { ...o, sentCloseCode: close, pongsHex: pongs };
  } finally {
    s.free();
  }
}

test('sessions.json through the wasm engine (whole, bytewise, interleaved)', (t) => {
  const { cases } = load('sessions.json');
  assert.ok(cases.length >= 100, `only ${cases.length} session vectors`);
  let checked = 0;
  const failures = [];
  for (const v of cases) {
    const e = v.expect;
    const want = {
      messages: e.messages,
      closeReceived: e.closeReceived,
      error: e.error,
      sentCloseCode: e.sentCloseCode,
      pongsHex: e.pongsHex || [],
    };
    for (const mode of ['whole', 'bytewise', 'interleaved']) {
      try {
        checkVector(t, v, () => assert.deepStrictEqual(runSession(v, mode), want));
        checked += 1;
      } catch (err) {
        failures.push(`${v.name} [${mode}]: ${err.message}`);
      }
    }
  }
  t.diagnostic(`REPORT sessions.json: ${cases.length} vectors, ${checked} vector runs checked in 3 modes`);
  assert.deepStrictEqual(failures, []);
});

// ------------------------------------------------------------ handshakes.json

const pairs = (o) => (o || []).map(([k, v]) => [k, v]);

test('handshakes.json client[]: request bytes and response checks', (t) => {
  const { client } = load('handshakes.json');
  let checked = 0;
  for (const v of client) {
    const r = v.request;
    const options = { subProtocols: r.subprotocols, requestHeaders: pairs(r.headers) };
    if (r.extensions) {
      // The only offer the vectors make is permessage-deflate with default parameters.
      assert.equal(r.extensions, 'permessage-deflate; client_max_window_bits');
      options.dangerousDeflateOptions = {};
    }
    const make = (extra) => new wasm.ClientHandshake({ ...options, ...extra }, r.host, r.path, hex(v.nonceHex), undefined);
    checkVector(t, v, () => {
      if (v.expectedRequest === null) {
        assert.throws(() => make({}), (e) => e.code === v.requestError, `${v.name}: request refused`);
        return;
      }
      const hs = make({});
      assert.equal(Buffer.from(hs.request).toString('latin1'), v.expectedRequest, `${v.name}: request`);
      hs.free();
    });
    checked += 1;
    if (v.expectedRequest === null) continue;
    for (const resp of v.responses) {
      checkVector(t, resp, () => {
        const hs = make(resp.options || {});
        const text = Buffer.from(resp.text, 'latin1');
        const e = resp.expect;
        try {
          if (e.ok) {
            for (let cut = 0; cut < text.length; cut++) {
              assert.equal(hs.parseResponse(text.subarray(0, cut)), undefined, `${resp.name}: prefix ${cut}`);
            }
            assert.equal(hs.parseResponse(text), text.length, `${resp.name}: consumed`);
            assert.equal(hs.subProtocol, e.protocol === null ? undefined : e.protocol, `${resp.name}: protocol`);
            if (e.extensions) {
              const names = hs.extensions ? hs.extensions.split(',').map((x) => x.split(';')[0].trim()) : [];
              assert.deepStrictEqual(names, e.extensions, `${resp.name}: extensions`);
            }
            assert.equal(hs.response.status, 101);
          } else {
            let err;
            try {
              let n;
              for (let cut = 1; cut <= text.length && n === undefined; cut++) n = hs.parseResponse(text.subarray(0, cut));
            } catch (x) {
              err = x;
            }
            assert.ok(err, `${resp.name}: expected a ${e.kind} error`);
            assert.equal(err.code, e.kind, `${resp.name}: kind (${err.message})`);
            const status = err.response ? err.response.status : null;
            assert.equal(status, e.status, `${resp.name}: status`);
          }
        } finally {
          hs.free();
        }
      });
      checked += 1;
    }
  }
  t.diagnostic(`REPORT handshakes.json client: ${checked} requests and responses checked`);
  assert.ok(checked > 30);
});

test('handshakes.json server[]: request checks and 101 responses', (t) => {
  const { server } = load('handshakes.json');
  let checked = 0;
  for (const v of server) {
    checkVector(t, v, () => {
      const text = Buffer.from(v.text, 'latin1');
      const options = v.options || {};
      const e = v.expect;
      if (e.ok) {
        for (let cut = 0; cut < text.length; cut++) {
          assert.equal(wasm.parseRequest(text.subarray(0, cut), options), undefined, `${v.name}: prefix ${cut}`);
        }
        const hs = wasm.parseRequest(text, options);
        try {
          assert.equal(hs.consumed, text.length);
          assert.equal(hs.key, e.key);
          assert.equal(hs.host, e.host);
          assert.equal(hs.path, e.path);
          assert.deepStrictEqual(hs.protocols, e.protocols);
          assert.deepStrictEqual(hs.extensions, e.extensions);
          const sel = v.select === undefined ? null : v.select;
          const resp = hs.accept(sel, undefined);
          assert.equal(Buffer.from(resp).toString('latin1'), e.acceptResponse, `${v.name}: 101`);
        } finally {
          hs.free();
        }
      } else {
        let err;
        try {
          let hs;
          for (let cut = 1; cut <= text.length && hs === undefined; cut++) hs = wasm.parseRequest(text.subarray(0, cut), options);
          if (hs) hs.free();
        } catch (x) {
          err = x;
        }
        assert.ok(err, `${v.name}: expected HTTP ${e.status}`);
        assert.equal(err.code, e.kind, `${v.name}: kind (${err.message})`);
        assert.equal(err.status, e.status, `${v.name}: status`);
        assert.match(Buffer.from(err.response).toString('latin1'), new RegExp(`^HTTP/1.1 ${e.status} `));
      }
    });
    checked += 1;
  }
  t.diagnostic(`REPORT handshakes.json server: ${checked} requests checked`);
  assert.equal(checked, server.length);
});
