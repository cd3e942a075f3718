'use strict';
// ClientWebSocket: .NET's ClientWebSocket for Node. connect(url) opens
// node:net / node:tls (or a node:http2 session) itself; the opening handshake
// over HTTP/1.1 or HTTP/2 (request, and the check of the server's answer) is
// the engine's, in wasm.

const net = require('node:net');
const tls = require('node:tls');
const http2 = require('node:http2');
const { ManagedWebSocket, CONSTRUCT } = require('./websocket.js');
const { wasm, engine, normalizeOptions, randomBytes } = require('./engine.js');
const { WebSocketError, adopt } = require('./errors.js');
const { NodeTransport, transportFor, isWebPair, isNodeDuplex } = require('./transport.js');
const { h2Pairs } = require('./h2.js');
const { concatBytes, emptyBytes } = require('./bytes.js');

/** Keys of `ClientWebSocket#options` that are for Node, not for the engine. */
const NODE_KEYS = ['tls'];

function splitOptions(options) {
  if (options === undefined || options === null) return [{}, {}];
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new WebSocketError('InvalidArgument', 'options must be an object');
  }
  const core = {};
  const node = {};
  for (const [k, v] of Object.entries(options)) {
    if (NODE_KEYS.includes(k)) node[k] = v;
    else core[k] = v;
  }
  // Headers as a Map or a WHATWG Headers object become [name, value] pairs.
  const h = core.requestHeaders;
  if (h && typeof h === 'object' && !Array.isArray(h) && typeof h.entries === 'function'
    && Object.getPrototypeOf(h) !== Object.prototype) {
    core.requestHeaders = Array.from(h.entries());
  }
  return [core, node];
}

function parseTarget(url) {
  let u;
  try {
    u = url instanceof URL ? url : new URL(String(url));
  } catch (e) {
    throw new WebSocketError('InvalidArgument', `invalid URL ${JSON.stringify(String(url))}: ${e.message}`);
  }
  let secure;
  switch (u.protocol) {
    case 'ws:': case 'http:': secure = false; break;
    case 'wss:': case 'https:': secure = true; break;
    default:
      throw new WebSocketError('InvalidArgument',
        `URL scheme ${JSON.stringify(u.protocol.slice(0, -1))} is not a WebSocket scheme; use ws:// or wss://`);
  }
  if (u.hash || String(url).includes('#')) {
    throw new WebSocketError('InvalidArgument', 'a WebSocket URL must not have a fragment (#...) (RFC 6455 section 3)');
  }
  if (!u.hostname) throw new WebSocketError('InvalidArgument', `URL ${JSON.stringify(String(url))} has no host`);
  const defaultPort = secure ? 443 : 80;
  const port = u.port ? Number(u.port) : defaultPort;
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  return {
    secure,
    hostname,
    port,
    authority: port === defaultPort ? u.hostname : `${u.hostname}:${port}`,
    path: (u.pathname || '/') + u.search,
  };
}

/** Opens a TCP or TLS connection; `track(socket)` sees the socket at once (to destroy it on a timeout or abort). */
function openSocket(target, tlsOptions, alpn, track) {
  return new Promise((resolve, reject) => {
    let sock;
    const fail = (e) => {
      const code = target.secure && e && /certificate|self.signed|SSL|TLS|altnames|ERR_TLS/i.test(`${e.code} ${e.message}`)
        ? 'Tls' : 'Io';
      reject(new WebSocketError(code,
        `cannot connect to ${target.hostname}:${target.port}: ${e && e.message ? e.message : e}`, { cause: e }));
    };
    if (target.secure) {
      const o = {
        host: target.hostname,
        port: target.port,
        ALPNProtocols: alpn || ['http/1.1'],
        ...(tlsOptions || {}),
      };
      if (o.servername === undefined && !net.isIP(target.hostname)) o.servername = target.hostname;
      sock = tls.connect(o, () => {
        sock.off('error', fail);
        resolve(sock);
      });
    } else {
      sock = net.connect({ host: target.hostname, port: target.port }, () => {
        sock.off('error', fail);
        resolve(sock);
      });
    }
    sock.once('error', fail);
    track(sock);
  });
}

/**
 * .NET's `ClientWebSocket`: set `options` (the engine's options object, the
 * same JSON as the Rust `Options`, plus `tls` for `tls.connect`), then
 * `connect(url)`. Keep-alive defaults to an unsolicited PONG every 30 s.
 */
class ClientWebSocket extends ManagedWebSocket {
  constructor(options) {
    super(CONSTRUCT);
    /** The options used by `connect` (may be changed until then). */
    this.options = options ? { ...options } : {};
    this._connecting = false;
    this._used = false;
    this._response = undefined;
  }

  /** `None` before `connect`, `Connecting` during it, `Closed` after a failed one (single use, as .NET). */
  get state() {
    if (this._session) return this._session.state;
    if (this._connecting) return 'Connecting';
    return this._used ? 'Closed' : 'None';
  }

  /** Aborts: during `connect`, the connection attempt (connect rejects); after it, the WebSocket. */
  abort() {
    if (this._cancelConnect) {
      this._cancelConnect(new WebSocketError('InvalidState', 'the connection attempt was aborted (abort() during connect)'));
      return;
    }
    super.abort();
  }

  /** The HTTP status of the handshake response (also after a refused connect). */
  get httpStatusCode() {
    return this._response ? this._response.status : undefined;
  }

  /** The HTTP version the handshake used: `'1.1'` or `'2'` (after connect). */
  get httpVersion() {
    return this._httpVersion;
  }

  /** The handshake response headers, `[name, value]` pairs (also after a refused connect). */
  get httpResponseHeaders() {
    return this._response ? this._response.headers : undefined;
  }

  /**
   * Opens the connection (ws:// over node:net, wss:// over node:tls) and does
   * the handshake. With `duplex` (a Node `Duplex` or a WHATWG
   * `{readable, writable}` pair already connected to the server, e.g. a TLS
   * stream or a tunnel), the HTTP/1.1 handshake runs over it instead and the
   * URL only gives the Host and the path. `options.signal` (an
   * `AbortSignal`, as the second or third argument) aborts the attempt.
   * A ClientWebSocket connects once: after a failed connect its state is
   * `Closed` and another connect throws.
   */
  async connect(url, duplex, options) {
    if (options === undefined && duplex && !isWebPair(duplex) && !isNodeDuplex(duplex) && typeof duplex === 'object') {
      options = duplex;
      duplex = undefined;
    }
    const signal = options && options.signal;
    if (this._used) {
      throw new WebSocketError('InvalidState', 'connect was already called on this ClientWebSocket; it connects once');
    }
    this._used = true;
    const [core, node] = splitOptions(this.options);
    const normalized = normalizeOptions(core);
    const target = parseTarget(url);
    // The version-policy table lives in the engine (core's Plan::choose).
    const plan = engine(() => wasm.choosePlan(normalized.httpVersion, normalized.httpVersionPolicy, target.secure));
    const hs = engine(() => new wasm.ClientHandshake(core, target.authority, target.path, randomBytes(16), undefined));
    this._connecting = true;
    /** Every socket opened for this attempt, destroyed if it fails. */
    const sockets = [];
    const track = (sock) => sockets.push(sock);
    let socket;
    let given;
    let timer;
    let onAbort;
    try {
      const work = (async () => {
        if (duplex) {
          if (plan.h2 && !plan.fallback) {
            throw new WebSocketError('UnsupportedProtocol',
              'connect(url, duplex) speaks HTTP/1.1 only, and the version policy forbids HTTP/1.1');
          }
          given = transportFor(duplex);
          return this._upgrade(given, hs);
        }
        if (typeof net.connect !== 'function') {
          throw new WebSocketError('InvalidArgument',
            'this build has no network transport: call connect(url, {readable, writable}) with a connected duplex');
        }
        if (!plan.h2) {
          socket = await openSocket(target, node.tls, undefined, track);
          return this._upgrade(socket, hs);
        }
        if (!target.secure) return this._h2(target, core, null);
        socket = await openSocket(target, node.tls, plan.fallback ? ['h2', 'http/1.1'] : ['h2'], track);
        if (socket.alpnProtocol === 'h2') {
          try {
            return await this._h2(target, core, socket);
          } catch (e) {
            if (!(plan.fallback && e.noConnectProtocol)) throw e;
            // An HTTP/2 server without extended CONNECT: HTTP/1.1 on a new connection.
            socket = await openSocket(target, node.tls, ['http/1.1'], track);
            return this._upgrade(socket, hs);
          }
        }
        if (plan.fallback) return this._upgrade(socket, hs);
        throw new WebSocketError('UnsupportedProtocol',
          `the server did not agree to HTTP/2 (ALPN chose ${socket.alpnProtocol || 'nothing'}), and the version `
          + 'policy forbids HTTP/1.1');
      })();
      // The attempt goes on in the background after a timeout or an abort until its sockets are destroyed.
      work.catch(() => {});
      const limit = normalized.handshakeTimeout;
      const racers = [work];
      if (limit >= 0) {
        racers.push(new Promise((_, reject) => {
          timer = setTimeout(() => reject(new WebSocketError('Timeout',
            `connecting to ${url} did not complete within ${limit} ms (handshakeTimeout)`)), limit);
        }));
      }
      racers.push(new Promise((_, reject) => {
        this._cancelConnect = reject;
        if (signal) {
          if (signal.aborted) reject(signal.reason);
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        }
      }));
      const [transport, leftover, h2hs] = await Promise.race(racers);
      const done = h2hs || hs;
      this._response = done.response;
      this._httpVersion = h2hs ? '2' : '1.1';
      const session = engine(() => done.intoSession(randomBytes(32)));
      if (h2hs) h2hs.free();
      this._attach(session, transport, normalized, leftover);
    } catch (e) {
      for (const sock of sockets) sock.destroy();
      if (given) given.destroy();
      if (this._h2session) this._h2session.destroy();
      if (this._response === undefined) this._response = hs.response;
      throw adopt(e);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
      this._cancelConnect = null;
      this._connecting = false;
      hs.free();
    }
  }

  /**
   * RFC 8441: an extended CONNECT on a new HTTP/2 connection (over `socket`,
   * TLS with ALPN h2, or h2c with prior knowledge when `socket` is null).
   * Resolves with [transport, leftover, handshake].
   */
  async _h2(target, core, socket) {
    const authority = `${target.secure ? 'https' : 'http'}://${target.authority}`;
    const session = socket
      ? http2.connect(authority, { createConnection: () => socket })
      : http2.connect(authority, { host: target.hostname, port: target.port });
    this._h2session = session;
    session.on('error', () => {});
    await new Promise((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', (e) => reject(new WebSocketError('Io',
        `cannot open an HTTP/2 connection to ${target.hostname}:${target.port}: ${e.message}`, { cause: e })));
      session.once('close', () => reject(new WebSocketError('ConnectionClosedPrematurely',
        'the server closed the HTTP/2 connection before its SETTINGS')));
    });
    if (!session.remoteSettings.enableConnectProtocol) {
      session.destroy();
      throw new WebSocketError('UnsupportedProtocol',
        'the HTTP/2 server does not allow extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL), '
        + 'so it cannot carry a WebSocket (RFC 8441)', { noConnectProtocol: true });
    }
    const hs = engine(() => new wasm.H2ClientHandshake(core, target.secure ? 'https' : 'http',
      target.authority, target.path, undefined));
    try {
      const stream = session.request(hs.headers, { endStream: false });
      const headers = await new Promise((resolve, reject) => {
        stream.once('response', resolve);
        stream.once('error', (e) => reject(new WebSocketError('Io', `the extended CONNECT failed: ${e.message}`, { cause: e })));
        stream.once('close', () => reject(new WebSocketError('ConnectionClosedPrematurely',
          'the server closed the HTTP/2 stream before answering the extended CONNECT')));
      });
      try {
        engine(() => hs.checkResponse(Number(headers[':status']), h2Pairs(headers)));
      } catch (e) {
        this._response = hs.response;
        stream.close();
        throw e;
      }
      // The connection carries this one stream: it goes when the stream does.
      stream.once('close', () => session.close());
      this._h2session = null;
      return [new NodeTransport(stream), emptyBytes(), hs];
    } catch (e) {
      hs.free();
      throw e;
    }
  }

  /** The HTTP/1.1 Upgrade over `socket` (a Node socket or a transport). Resolves with [transport, leftover]. */
  _upgrade(socket, hs) {
    return new Promise((resolve, reject) => {
      const t = typeof socket.onData === 'undefined' ? new NodeTransport(socket) : socket;
      let buf = emptyBytes();
      t.onData = (chunk) => {
        buf = buf.length ? concatBytes([buf, chunk]) : chunk;
        let n;
        try {
          n = hs.parseResponse(buf);
        } catch (e) {
          t.detach();
          reject(adopt(e));
          return;
        }
        if (n === undefined) return;
        t.pause();
        t.onData = () => {};
        resolve([t, buf.subarray(n)]);
      };
      t.onEnd = () => reject(new WebSocketError('ConnectionClosedPrematurely',
        'the server closed the connection before answering the WebSocket handshake'));
      t.onError = (e) => reject(new WebSocketError('Io', `transport error during the handshake: ${e.message}`, { cause: e }));
      const p = t.write(hs.request);
      if (p) p.catch((e) => t.onError(e));
      t.resume();
    });
  }
}

module.exports = { ClientWebSocket, splitOptions };
