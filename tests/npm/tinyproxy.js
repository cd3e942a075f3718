'use strict';
// A real HTTP proxy for the npm tests: Debian's tinyproxy on 127.0.0.1, with
// its own config and log in a directory of the caller's. The tests that use
// it fail (never skip) when tinyproxy is missing: tests/run installs it.

const assert = require('node:assert/strict');
const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawn } = require('node:child_process');
const { freePort } = require('./helpers.js');

/** Throws a clear error unless the `tinyproxy` binary is on PATH. */
function requireTinyproxy() {
  try {
    execFileSync('sh', ['-c', 'command -v tinyproxy'], { stdio: 'ignore' });
  } catch (_) {
    throw new Error('tinyproxy is not installed (apt-get install tinyproxy; tests/run installs it)');
  }
}

/**
 * Starts tinyproxy in `dir/name` (with `BasicAuth auth` when given, e.g.
 * 'ada secret'). Resolves with `{url, port, connects(hostPort), stop()}`:
 * `connects` counts the CONNECTs to `hostPort` its log shows.
 */
async function startTinyproxy(dir, name, { auth, maxClients = 40 } = {}) {
  const home = path.join(dir, name);
  fs.mkdirSync(home);
  fs.chmodSync(home, 0o777);
  const port = await freePort();
  const log = path.join(home, 'tinyproxy.log');
  const conf = path.join(home, 'tinyproxy.conf');
  fs.writeFileSync(conf, [
    `Port ${port}`, 'Listen 127.0.0.1', 'Timeout 60', 'Allow 127.0.0.1', `MaxClients ${maxClients}`, 'LogLevel Connect',
    `LogFile "${log}"`, `PidFile "${path.join(home, 'tinyproxy.pid')}"`, ...(auth ? [`BasicAuth ${auth}`] : []), '',
  ].join('\n'));
  const p = spawn('tinyproxy', ['-d', '-c', conf], { stdio: 'ignore' });
  const exited = new Promise((r) => p.once('exit', r));
  // Ready once it accepts a connection (polled; nothing is asserted about time).
  for (let i = 0; ; i++) {
    const up = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.once('error', () => r(false));
    });
    if (up) break;
    if (p.exitCode !== null || i > 200) throw new Error(`tinyproxy (${name}) did not start`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const connects = (hostPort) => {
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    return text.split('\n').filter((l) => l.includes(`CONNECT ${hostPort} `)).length;
  };
  return { url: `http://127.0.0.1:${port}`, port, connects, stop: () => { p.kill(); return exited; } };
}

/** Waits until `count()` reaches `n` (tinyproxy writes its log line as it goes), then asserts it is `n`. */
async function logged(count, n, what) {
  for (let i = 0; i < 400 && count() < n; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(count(), n, what);
}

module.exports = { requireTinyproxy, startTinyproxy, logged };
