'use strict';
// Header lists between node:http2's shape (an object, lowercase names,
// pseudo-headers, repeated names as arrays) and the engine's (`[name, value]`
// pairs): the client reads a CONNECT response with them, the server a CONNECT
// request and its refusals.

/** A header object of node:http2 as [name, value] pairs, pseudo-headers left out. */
function h2Pairs(headers) {
  const out = [];
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(':')) continue;
    if (Array.isArray(v)) for (const x of v) out.push([k, String(x)]);
    else out.push([k, String(v)]);
  }
  return out;
}

/**
 * Caller-given headers (pairs, a Map or `Headers`, or a plain object) as the
 * object with lowercase names that `stream.respond()` takes.
 */
function lowerHeaders(h) {
  const out = {};
  if (!h) return out;
  const entries = Array.isArray(h) ? h : typeof h.entries === 'function' && !(Object.getPrototypeOf(h) === Object.prototype)
    ? Array.from(h.entries()) : Object.entries(h);
  for (const [k, v] of entries) out[String(k).toLowerCase()] = String(v);
  return out;
}

module.exports = { h2Pairs, lowerHeaders };
