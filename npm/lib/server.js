'use strict';
// The server side of the opening handshake, over HTTP/1.1 (a `node:http`
// upgrade or a raw byte stream) and HTTP/2 (a `node:http2` extended CONNECT):
// the request is checked and answered by the engine (in wasm), then the
// stream runs a server-role WebSocket.

const { ManagedWebSocket, CONSTRUCT } = require('./websocket.js');
const { wasm, engine, normalizeOptions, randomBytes } = require('./engine.js');
const { WebSocketError, adopt } = require('./errors.js');
const { transportFor, NodeTransport } = require('./transport.js');
const { h2Pairs, lowerHeaders } = require('./h2.js');
const { concatBytes, emptyBytes } = require('./bytes.js');

/** What `decide` sees: the checked request. */
function requestInfo(hs) {
  // A snapshot: the engine's request is freed once the answer is made, and
  // `decide` may keep the object (or call header()) later.
  const headers = hs.headers;
  return {
    path: hs.path,
    host: hs.host,
    headers,
    protocols: hs.protocols,
    extensions: hs.extensions,
    /** The first header with this name (case-insensitive), as the engine looks it up. */
    header: (name) => {
      const n = String(name).toLowerCase();
      const found = headers.find(([k]) => k.toLowerCase() === n);
      return found ? found[1] : undefined;
    },
  };
}

/**
 * Answers a checked request: `decide(request)` may return `undefined` (accept,
 * selecting the first of `options.subProtocols` the client offered),
 * `{subProtocol, headers}` to accept, or `{status, message, headers}` to refuse.
 * Returns [bytes to write, accepted].
 */
async function answer(hs, decide) {
  let d;
  if (decide) d = await decide(requestInfo(hs));
  if (d && d.status !== undefined) {
    return [engine(() => hs.reject(d.status, d.message || `refused with HTTP ${d.status}`, d.headers)), false, d];
  }
  return [engine(() => hs.accept(d ? d.subProtocol : undefined, d ? d.headers : undefined)), true, d];
}

function writeAll(transport, bytes) {
  const p = transport.write(bytes);
  return p || Promise.resolve();
}

async function finishAccept(hs, transport, normalized, leftover, decide) {
  const [bytes, ok, d] = await answer(hs, decide);
  await writeAll(transport, bytes);
  if (!ok) {
    transport.end();
    throw new WebSocketError('NotAWebSocket', `the request was rejected with HTTP ${d.status}: ${d.message || ''}`.trim(),
      { status: d.status });
  }
  const session = engine(() => hs.intoSession(randomBytes(32)));
  const ws = new ManagedWebSocket(CONSTRUCT);
  ws._attach(session, transport, normalized, leftover);
  return ws;
}

async function refuse(transport, e) {
  e = adopt(e);
  if (e.response) {
    try {
      await writeAll(transport, e.response);
    } catch (_) { /* the client is gone */ }
    delete e.response;
  }
  transport.end();
  throw e;
}

/**
 * Accepts a WebSocket upgrade from a `node:http` server's `'upgrade'` event:
 * `server.on('upgrade', (req, socket, head) => acceptUpgrade(req, socket, head, options))`.
 * The request is rebuilt from `req` and checked by the engine; an invalid one
 * gets its HTTP error response (400, 405, 426, 431) and the promise rejects.
 * `decide(request)` may choose the subprotocol, add headers or refuse.
 */
async function acceptUpgrade(req, socket, head, options, decide) {
  const opts = { ...(options || {}), isServer: true };
  const normalized = normalizeOptions(opts);
  const transport = transportFor(socket);
  transport.pause();
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  const bytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  let hs;
  try {
    hs = engine(() => wasm.parseRequest(bytes, opts));
    if (hs === undefined) throw new WebSocketError('HeaderError', 'the upgrade request head is incomplete');
  } catch (e) {
    return refuse(transport, e);
  }
  try {
    return await finishAccept(hs, transport, normalized, head, decide);
  } finally {
    hs.free();
  }
}

/**
 * Accepts a WebSocket on a raw byte stream (a `net.Server` connection, a TLS
 * socket or a WHATWG pair): reads and checks the request, answers it.
 * Bounded by `options.handshakeTimeout`.
 */
async function accept(stream, options, decide) {
  const opts = { ...(options || {}), isServer: true };
  const normalized = normalizeOptions(opts);
  const transport = transportFor(stream);
  let timer;
  const read = new Promise((resolve, reject) => {
    let buf = emptyBytes();
    transport.onData = (chunk) => {
      buf = buf.length ? concatBytes([buf, chunk]) : chunk;
      let hs;
      try {
        hs = engine(() => wasm.parseRequest(buf, opts));
      } catch (e) {
        transport.pause();
        transport.onData = () => {};
        reject(e);
        return;
      }
      if (hs === undefined) return;
      transport.pause();
      transport.onData = () => {};
      resolve([hs, buf.subarray(hs.consumed)]);
    };
    transport.onEnd = () => reject(new WebSocketError('ConnectionClosedPrematurely',
      'the client closed the connection before finishing its handshake request'));
    transport.onError = (e) => reject(new WebSocketError('Io', `transport error during the handshake: ${e.message}`));
    if (normalized.handshakeTimeout >= 0) {
      timer = setTimeout(() => reject(new WebSocketError('Timeout',
        `the client did not send its handshake within ${normalized.handshakeTimeout} ms (handshakeTimeout)`)),
      normalized.handshakeTimeout);
    }
    transport.resume();
  });
  let hs;
  let leftover;
  try {
    [hs, leftover] = await read;
  } catch (e) {
    clearTimeout(timer);
    if (e && e.code === 'Timeout') {
      transport.destroy();
      throw e;
    }
    return refuse(transport, e);
  }
  clearTimeout(timer);
  try {
    return await finishAccept(hs, transport, normalized, leftover, decide);
  } finally {
    hs.free();
  }
}

/**
 * Accepts a WebSocket over HTTP/2 (RFC 8441) from a `node:http2` server's
 * `'stream'` event; the server must be created with
 * `settings: { enableConnectProtocol: true }`:
 * `server.on('stream', (stream, headers) => acceptH2(stream, headers, options))`.
 * The extended CONNECT is checked by the engine; an invalid one is answered
 * with its status (400, 405, 426, 501) and the promise rejects.
 */
async function acceptH2(stream, headers, options, decide) {
  const opts = { ...(options || {}), isServer: true };
  const normalized = normalizeOptions(opts);
  const refuseH2 = (status, message, extra) => {
    if (!stream.headersSent && !stream.destroyed) {
      stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', ...lowerHeaders(extra) });
      stream.end(`${message}\n`);
    }
  };
  let hs;
  try {
    hs = engine(() => wasm.parseH2Request(headers[':method'], headers[':protocol'], headers[':scheme'],
      headers[':path'], headers[':authority'], h2Pairs(headers), opts));
  } catch (e) {
    e = adopt(e);
    refuseH2(e.status || 400, e.message);
    throw e;
  }
  try {
    let d;
    if (decide) d = await decide(requestInfo(hs));
    if (d && d.status !== undefined) {
      refuseH2(d.status, d.message || `refused with HTTP ${d.status}`, d.headers);
      throw new WebSocketError('NotAWebSocket', `the request was rejected with HTTP ${d.status}: ${d.message || ''}`.trim(),
        { status: d.status });
    }
    const response = engine(() => hs.acceptH2(d ? d.subProtocol : undefined, d ? d.headers : undefined));
    stream.respond(response);
    const session = engine(() => hs.intoSession(randomBytes(32)));
    const ws = new ManagedWebSocket(CONSTRUCT);
    ws._attach(session, new NodeTransport(stream), normalized, null);
    return ws;
  } finally {
    hs.free();
  }
}

module.exports = { acceptUpgrade, accept, acceptH2 };
