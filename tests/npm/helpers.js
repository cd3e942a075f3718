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

/** A test CA and certificates signed by it (openssl): server (localhost, 127.0.0.1), other (example.test). */
function makeCerts() {
  const fs = require('node:fs');
  const os = require('node:os');
  const { execFileSync } = require('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockweave-npm-tls-'));
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=sockweave npm test CA');
  for (const [name, san] of [['server', 'DNS:localhost,IP:127.0.0.1'], ['other', 'DNS:example.test']]) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    fs.writeFileSync(path.join(dir, `${name}.cnf`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.cnf`);
  }
  const read = (f) => fs.readFileSync(path.join(dir, f));
  return {
    dir,
    ca: read('ca.pem'),
    cert: read('server.pem'),
    key: read('server.key'),
    otherCert: read('other.pem'),
    otherKey: read('other.key'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** A free loopback port (for peers started in another process). */
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts a peer process; `ready` resolves once its stdout shows `until`. */
function spawnPeer(cmd, args, until, env) {
  const { spawn } = require('node:child_process');
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(env || {}) } });
  let out = '';
  let err = '';
  p.stdout.on('data', (c) => { out += c; });
  p.stderr.on('data', (c) => { err += c; });
  const exited = new Promise((r) => p.on('exit', (code) => r(code)));
  const ready = until ? new Promise((resolve, reject) => {
    p.stdout.on('data', () => { if (out.includes(until)) resolve(); });
    p.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${err}`)));
  }) : null;
  return { p, ready, exited, output: () => out, errors: () => err };
}

module.exports = { makeCerts, freePort, spawnPeer, ROOT, sockweave, wasm, loadWs, webPair, duplexPair, tcpPair, sleep, within, echo };
