// The client side of Autobahn|Testsuite's fuzzing server, written once for
// both hosts that run it: Node (tests/npm/autobahn_client.js loads it with
// import()) and Chromium (tests/browser/autobahn.mjs imports it; the harness
// server serves this file). Each host says only how a ClientWebSocket reaches
// the server, so both run the same cases the same way.
//
// Every case is echoed piece by piece, as the native `sockweave autobahn`
// does: a received piece is sent back with its type and end-of-message flag.

/** Deflate on (every window the server offers), keep-alive off: the fuzzer counts every frame. */
export const OPTIONS = { dangerousDeflateOptions: {}, keepAliveInterval: 0 };

/** How long one case may take before it is given up (the fuzzer's slowest cases take seconds). */
const CASE_LIMIT_MS = 120000;

/** Echoes until the server's Close, answered with its status when that status may be sent back. */
async function echo(ws) {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const r = await ws.receive(buf);
    if (r.messageType === 'close') {
      const c = r.closeStatus;
      const valid = c !== undefined && ((c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999));
      await ws.closeOutput(valid ? c : undefined, '');
      return;
    }
    await ws.send(buf.slice(0, r.count), { messageType: r.messageType, endOfMessage: r.endOfMessage });
  }
}

function within(ms, p) {
  let t;
  return Promise.race([p, new Promise((_, j) => { t = setTimeout(() => j(new Error('timed out')), ms); })])
    .finally(() => clearTimeout(t));
}

/**
 * Runs every case of the fuzzing server at `base` (`ws://host:port`), then
 * asks it to write its report for `agent`.
 *
 * - `ClientWebSocket`: the class under test;
 * - `connect(ws, url)`: connects `ws` to `url` (the browser passes its byte tunnel);
 * - `log(line)`: progress lines;
 * - `onCount(count)`, `onCase(i, count)`, `onCaseDone(i)`: progress for the page;
 * - `onCaseError(i, error)`: a case that ended with an error (many do on purpose:
 *   the fuzzer sends bad frames), after which its WebSocket is aborted.
 */
export async function runAutobahn({
  ClientWebSocket, connect, base, agent, log = () => {}, onCount = () => {}, onCase = () => {},
  onCaseDone = () => {}, onCaseError = () => {},
}) {
  const open = async (path) => {
    const ws = new ClientWebSocket(OPTIONS);
    await connect(ws, `${base}${path}`);
    return ws;
  };
  const counter = await open('/getCaseCount');
  const count = Number((await counter.receiveMessage()).text);
  await counter.close().catch(() => {});
  onCount(count);
  log(`autobahn: ${count} cases`);
  for (let i = 1; i <= count; i++) {
    onCase(i, count);
    const ws = new ClientWebSocket(OPTIONS);
    try {
      await within(CASE_LIMIT_MS, (async () => {
        await connect(ws, `${base}/runCase?case=${i}&agent=${encodeURIComponent(agent)}`);
        try {
          await echo(ws);
        } finally {
          await ws.closed;
        }
      })());
    } catch (e) {
      onCaseError(i, e);
      ws.abort();
    }
    onCaseDone(i);
  }
  const rep = await open(`/updateReports?agent=${encodeURIComponent(agent)}`);
  for await (const _ of rep) { /* until the server's Close, answered by the iteration */ }
  await rep.closed;
  log(`autobahn: report updated for agent ${agent}`);
}
