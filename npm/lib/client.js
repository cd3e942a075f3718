'use strict';
// ClientWebSocket: .NET's ClientWebSocket for Node. connect(url) opens
// node:net / node:tls itself; the HTTP/1.1 opening handshake (request, and
// the check of the server's answer) is the engine's, in wasm.

const net = require('node:net');
const tls = require('node:tls');
const { WebSocket, CONSTRUCT, engine, normalizeOptions, randomBytes, wasm } = require('./websocket.js');
const { WebSocketError, adopt } = require('./errors.js');
const { NodeTransport } = require('./transport.js');

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

function openSocket(target, tlsOptions) {
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
        ALPNProtocols: ['http/1.1'],
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
  });
}

/**
 * .NET's `ClientWebSocket`: set `options` (the engine's options object, the
 * same JSON as the Rust `Options`, plus `tls` for `tls.connect`), then
 * `connect(url)`. Keep-alive defaults to an unsolicited PONG every 30 s.
 */
class ClientWebSocket extends WebSocket {
  constructor(options) {
    super(CONSTRUCT);
    /** The options used by `connect` (may be changed until then). */
    this.options = options ? { ...options } : {};
    this._connecting = false;
    this._response = undefined;
  }

  get state() {
    if (this._s) return this._s.state;
    return this._connecting ? 'Connecting' : 'None';
  }

  /** The HTTP status of the handshake response (also after a refused connect). */
  get httpStatusCode() {
    return this._response ? this._response.status : undefined;
  }

  /** The handshake response headers, `[name, value]` pairs (also after a refused connect). */
  get httpResponseHeaders() {
    return this._response ? this._response.headers : undefined;
  }

  /** Opens the connection (ws:// over node:net, wss:// over node:tls) and does the handshake. */
  async connect(url) {
    if (this._s || this._connecting) {
      throw new WebSocketError('InvalidState', 'connect was already called on this ClientWebSocket');
    }
    const [core, node] = splitOptions(this.options);
    const normalized = normalizeOptions(core);
    if (normalized.httpVersion === '2' && normalized.httpVersionPolicy !== 'requestVersionOrLower') {
      throw new WebSocketError('UnsupportedProtocol',
        'HTTP/2 WebSockets (RFC 8441) are not available in the npm package yet, and the version policy '
        + 'forbids falling back to HTTP/1.1; use httpVersionPolicy requestVersionOrLower or HTTP/1.1');
    }
    const target = parseTarget(url);
    const hs = engine(() => new wasm.ClientHandshake(core, target.authority, target.path, randomBytes(16), undefined));
    this._connecting = true;
    let socket;
    let timer;
    try {
      const work = (async () => {
        socket = await openSocket(target, node.tls);
        return this._upgrade(socket, hs);
      })();
      const limit = normalized.handshakeTimeout;
      const timeout = limit < 0 ? null : new Promise((_, reject) => {
        timer = setTimeout(() => reject(new WebSocketError('Timeout',
          `connecting to ${url} did not complete within ${limit} ms (handshakeTimeout)`)), limit);
      });
      const [transport, leftover] = await (timeout ? Promise.race([work, timeout]) : work);
      this._response = hs.response;
      const session = engine(() => hs.intoSession(randomBytes(32)));
      this._attach(session, transport, normalized, leftover);
    } catch (e) {
      if (socket) socket.destroy();
      this._response = hs.response;
      throw adopt(e);
    } finally {
      clearTimeout(timer);
      this._connecting = false;
      hs.free();
    }
  }

  _upgrade(socket, hs) {
    return new Promise((resolve, reject) => {
      const t = new NodeTransport(socket);
      let buf = Buffer.alloc(0);
      t.onData = (chunk) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
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
      if (p) p.catch(t.onError);
    });
  }
}

module.exports = { ClientWebSocket, splitOptions, parseTarget };
