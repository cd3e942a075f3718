'use strict';
// Shared helpers of the npm tests: the package under test (npm/, built by
// npm/build.sh), the wasm module, Node `ws` from tests/peers, and stream pairs.

const path = require('node:path');
const net = require('node:net');
const { Duplex } = require('node:stream');

const ROOT = path.join(__dirname, '..', '..');
const sockweave = require(path.join(ROOT, 'npm'));
const wasm = require(path.join(ROOT, 'npm', 'dist', 'sockweave_wasm.js'));

function loadWs() {
  return require(path.join(ROOT, 'tests', 'peers', 'node', 'node_modules', 'ws'));
}

/** Two WHATWG {readable, writable} pairs connected to each other. */
function webPair() {
  const a = new TransformStream();
  const b = new TransformStream();
  return [
    { readable: a.readable, writable: b.writable },
    { readable: b.readable, writable: a.writable },
  ];
}

/** Two Node Duplex streams connected to each other (like net sockets, without the kernel). */
function duplexPair() {
  let left;
  let right;
  const make = (peer) => new Duplex({
    read() {},
    write(chunk, _enc, cb) {
      peer().push(Buffer.from(chunk));
      cb();
    },
    final(cb) {
      peer().push(null);
      cb();
    },
  });
  left = make(() => right);
  right = make(() => left);
  return [left, right];
}

/** A connected pair of loopback TCP sockets. */
async function tcpPair() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise((r) => server.once('connection', r));
  const client = net.connect(server.address().port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const s = await accepted;
  server.close();
  return [client, s];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves with `promise`, or rejects after `ms`. */
function within(ms, promise, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, j) => {
      t = setTimeout(() => j(new Error(`${what || 'operation'} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Echoes every message back until the Close (answered by the iteration). */
async function echo(ws) {
  for await (const m of ws) await ws.send(m.data, { messageType: m.messageType });
}

module.exports = { ROOT, sockweave, wasm, loadWs, webPair, duplexPair, tcpPair, sleep, within, echo };
