'use strict';
// Byte helpers that work with and without Node's Buffer (the browser bundle
// runs this same code): in Node they return Buffers, elsewhere Uint8Arrays.

const HAS_BUFFER = typeof Buffer === 'function' && typeof Buffer.from === 'function';

/** A view of `u8` as a Buffer in Node, `u8` itself elsewhere. */
function asBuffer(u8) {
  return HAS_BUFFER ? Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength) : u8;
}

/** The concatenation of byte arrays (a Buffer in Node). */
function concatBytes(parts) {
  if (HAS_BUFFER) return Buffer.concat(parts);
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** An empty byte array (a Buffer in Node). */
function emptyBytes() {
  return HAS_BUFFER ? Buffer.alloc(0) : new Uint8Array(0);
}

module.exports = { asBuffer, concatBytes, emptyBytes };
