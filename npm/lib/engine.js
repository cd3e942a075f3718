'use strict';
// The wasm engine as the rest of npm/lib reaches it: the module itself, calls
// into it with its errors made `WebSocketError`s, and the random bytes it asks
// the host for (masking-key seeds, handshake nonces). One place loads the
// module, so the browser bundle can hand in its own (build_browser.js).

const nodeCrypto = require('node:crypto');
const wasm = require('../dist/sockweave_wasm.js');
const { adopt } = require('./errors.js');

/** Calls into the engine, turning its thrown errors into `WebSocketError`s. */
function engine(fn) {
  try {
    return fn();
  } catch (e) {
    throw adopt(e);
  }
}

/** Checks an options object (throws naming a bad key) and returns it complete. */
function normalizeOptions(options) {
  return engine(() => wasm.normalizeOptions(options));
}

function randomBytes(n) {
  const a = new Uint8Array(n);
  if (globalThis.crypto && typeof globalThis.crypto.getRandomValues === 'function') {
    globalThis.crypto.getRandomValues(a);
  } else {
    nodeCrypto.randomFillSync(a);
  }
  return a;
}

module.exports = { wasm, engine, normalizeOptions, randomBytes };
