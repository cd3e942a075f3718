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
const { chooseProxy, openTunnel } = require('./proxy.js');
const {
  Invoker, checkConnectionOptions, connectionOptionsSet, incompatibleOptions, tlsOptionsFor, verifyCertificate,
  sessionReady, connectSession,
} = require('./invoker.js');
const { checkJar, checkCredentials, handshakeHeaders, storeCookies, basicRetry } = require('./credentials.js');

/** Keys of `ClientWebSocket#options` that are for Node, not for the engine. */
const NODE_KEYS = ['tls', 'proxy', 'useProxy', 'remoteCertificateValidation', 'cookieJar', 'credentials', 'allowBasicOverCleartext'];

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

/**
 * Opens a TCP or TLS connection; `track(socket)` sees the socket at once (to
 * destroy it on a timeout or abort). With `check` (a remoteCertificateValidation
 * callback) Node does not refuse the certificate, the callback decides.
 * With `proxy` (see proxy.js), through a CONNECT tunnel (`tunnel` once open).
 */
function openSocket(target, tlsOptions, alpn, track, check, proxy, tunnel) {
  if (proxy && !tunnel) {
    return openTunnel(proxy, target, track).then((t) => openSocket(target, tlsOptions, alpn, track, check, proxy, t));
  }
  return new Promise((resolve, reject) => {
    if (tunnel && !target.secure) {
      resolve(tunnel);
      return;
    }
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
        ...(tlsOptionsFor(tlsOptions, check) || {}),
      };
      if (o.servername === undefined && !net.isIP(target.hostname)) o.servername = target.hostname;
      if (tunnel) o.socket = tunnel;
      sock = tls.connect(o, () => {
        if (!check) {
          sock.off('error', fail);
          resolve(sock);
          return;
        }
        verifyCertificate(sock, check, o.servername || target.hostname, target.port).then(() => {
          sock.off('error', fail);
          resolve(sock);
        }, (e) => {
          sock.destroy();
          reject(e);
        });
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
    if (options instanceof Invoker) options = { invoker: options };
    const signal = options && options.signal;
    const invoker = options && options.invoker !== null ? options.invoker : undefined;
    if (invoker !== undefined) {
      if (!(invoker instanceof Invoker)) throw new WebSocketError('InvalidArgument', 'options.invoker must be an Invoker');
      // As native's connect_with: before any I/O, the state stays None.
      const set = connectionOptionsSet(this.options || {});
      if (set.length) throw incompatibleOptions(set);
      if (duplex) {
        throw new WebSocketError('InvalidArgument',
          'connect(url, duplex) cannot use an invoker: the duplex already is the connection');
      }
      invoker._checkOpen();
    }
    if (this._used) {
      throw new WebSocketError('InvalidState', 'connect was already called on this ClientWebSocket; it connects once');
    }
    this._used = true;
    const [core, node] = splitOptions(this.options);
    checkConnectionOptions(node, 'ClientWebSocket options');
    /** The connection settings: the invoker's, or this socket's own. */
    const conn = invoker ? invoker.options : node;
    const check = conn.remoteCertificateValidation;
    const normalized = normalizeOptions(core);
    const target = parseTarget(url);
    // The proxy (the settings', else the environment, by core's rules), for
    // every connection opened here or by the invoker's pool for this socket.
    const proxy = duplex ? null : chooseProxy(conn, target);
    const jar = checkJar(conn.cookieJar);
    const credentials = checkCredentials(conn.credentials, conn.allowBasicOverCleartext);
    // An invoker's credentials go only to its credentialOrigins (the engine's origin rule).
    const origins = invoker ? invoker.options.credentialOrigins : undefined;
    // The version-policy table lives in the engine (core's Plan::choose).
    const plan = engine(() => wasm.choosePlan(normalized.httpVersion, normalized.httpVersionPolicy, target.secure));
    let hs = engine(() => new wasm.ClientHandshake(core, target.authority, target.path, randomBytes(16), undefined));
    this._connecting = true;
    /** Every socket opened for this attempt, destroyed if it fails. */
    const sockets = [];
    const track = (sock) => sockets.push(sock);
    const untrack = (sock) => sockets.splice(sockets.indexOf(sock) >>> 0, 1);
    let socket;
    let given;
    let timer;
    let onAbort;
    try {
      /** One attempt; `hs` and `this._extraHeaders` are this attempt's. */
      const once = async () => {
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
          socket = await openSocket(target, conn.tls, undefined, track, check, proxy);
          return this._upgrade(socket, hs);
        }
        if (invoker) return this._viaInvoker(invoker, target, core, hs, plan, track, untrack, proxy);
        if (!target.secure) {
          return this._h2(target, core, proxy ? await openSocket(target, conn.tls, undefined, track, check, proxy) : null);
        }
        socket = await openSocket(target, conn.tls, plan.fallback ? ['h2', 'http/1.1'] : ['h2'], track, check, proxy);
        if (socket.alpnProtocol === 'h2') {
          try {
            return await this._h2(target, core, socket);
          } catch (e) {
            if (!(plan.fallback && e.noConnectProtocol)) throw e;
            // An HTTP/2 server without extended CONNECT: HTTP/1.1 on a new connection.
            socket = await openSocket(target, conn.tls, ['http/1.1'], track, check, proxy);
            return this._upgrade(socket, hs);
          }
        }
        if (plan.fallback) return this._upgrade(socket, hs);
        throw new WebSocketError('UnsupportedProtocol',
          `the server did not agree to HTTP/2 (ALPN chose ${socket.alpnProtocol || 'nothing'}), and the version `
          + 'policy forbids HTTP/1.1');
      };
      // Cookies from the jar on every attempt; after a 401 with a Basic
      // challenge, one more attempt on a new connection with the credentials
      // if the engine says so (core's auth rules, as native's connect).
      const work = (async () => {
        let authorization;
        for (;;) {
          const extra = await handshakeHeaders(jar, url, authorization);
          this._extraHeaders = extra;
          if (extra) {
            hs.free();
            hs = engine(() => new wasm.ClientHandshake(core, target.authority, target.path, randomBytes(16), extra));
          }
          try {
            return await once();
          } catch (e) {
            await storeCookies(jar, url, e.response);
            const retry = basicRetry(e, credentials, authorization !== undefined, target.secure,
              conn.allowBasicOverCleartext, url, origins);
            if (!retry) throw e;
            if (duplex) {
              e.message += '; the credentials were not sent: HTTP Basic needs a new connection, which '
                + 'connect(url, duplex) cannot open';
              throw e;
            }
            authorization = retry;
            for (const sock of sockets.splice(0)) sock.destroy();
            if (this._h2session) this._h2session.destroy();
            this._h2session = null;
          }
        }
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
      await storeCookies(jar, url, this._response);
    } catch (e) {
      for (const sock of sockets) sock.destroy();
      if (given) given.destroy();
      if (this._h2session) this._h2session.destroy();
      // Through an invoker: the stream goes, the pooled connection stays.
      this._abandoned = true;
      if (this._h2stream) this._h2stream.close(http2.constants.NGHTTP2_CANCEL);
      if (this._response === undefined) this._response = hs.response;
      throw adopt(e);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
      this._cancelConnect = null;
      this._connecting = false;
      this._extraHeaders = undefined;
      hs.free();
    }
  }

  /**
   * The HTTP/2 WebSocket through `invoker`: a stream on its pooled connection
   * to the origin (or on a new one it pools), or, when ALPN or the server
   * rules HTTP/2 out and the policy allows, HTTP/1.1 on a connection of its own.
   * With `proxy`, each connection goes through a CONNECT tunnel of its own:
   * a pooled one carries every stream of its session.
   */
  async _viaInvoker(invoker, target, core, hs, plan, track, untrack, proxy) {
    const conn = invoker.options;
    const check = conn.remoteCertificateValidation;
    const origin = `${target.secure ? 'https' : 'http'}://${target.authority}`;
    let got;
    try {
      got = await invoker._acquire(origin, target, async () => {
        if (!target.secure && !proxy) return { session: connectSession(target, null) };
        // The tunnel's socket too: a pooled connection is the pool's, and
        // a failed WebSocket does not take it down.
        const opened = [];
        const trackOpened = (sock) => {
          opened.push(sock);
          track(sock);
        };
        const s = await openSocket(target, conn.tls, plan.fallback ? ['h2', 'http/1.1'] : ['h2'], trackOpened, check,
          proxy);
        if (target.secure && s.alpnProtocol !== 'h2') return { socket: s };
        for (const sock of opened) untrack(sock);
        return { session: connectSession(target, s) };
      });
    } catch (e) {
      if (!(plan.fallback && e.noConnectProtocol)) throw e;
      const s = await openSocket(target, conn.tls, ['http/1.1'], track, check, proxy);
      return this._upgrade(s, hs);
    }
    if (got.socket) {
      if (plan.fallback) return this._upgrade(got.socket, hs);
      throw new WebSocketError('UnsupportedProtocol',
        `the server did not agree to HTTP/2 (ALPN chose ${got.socket.alpnProtocol || 'nothing'}), and the version `
        + 'policy forbids HTTP/1.1');
    }
    if (this._abandoned) {
      got.lease.release();
      throw new WebSocketError('InvalidState', 'the connection attempt ended before the HTTP/2 stream was opened');
    }
    return this._h2(target, core, null, got.lease);
  }

  /**
   * RFC 8441: an extended CONNECT on a new HTTP/2 connection (over `socket`,
   * TLS with ALPN h2, or h2c with prior knowledge when `socket` is null), or
   * on the pooled session of `lease` (an invoker's).
   * Resolves with [transport, leftover, handshake].
   */
  async _h2(target, core, socket, lease) {
    let session;
    if (lease) {
      session = lease.session;
    } else {
      session = connectSession(target, socket);
      this._h2session = session;
      await sessionReady(session, target);
    }
    const hs = engine(() => new wasm.H2ClientHandshake(core, target.secure ? 'https' : 'http',
      target.authority, target.path, this._extraHeaders));
    let stream;
    try {
      stream = session.request(hs.headers, { endStream: false });
      if (lease) {
        lease.attach(stream);
        this._h2stream = stream;
        if (this._abandoned) stream.close(http2.constants.NGHTTP2_CANCEL);
      }
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
      if (lease) {
        // The pooled connection stays when this stream closes.
        this._h2stream = null;
      } else {
        // The connection carries this one stream: it goes when the stream does.
        stream.once('close', () => session.close());
        this._h2session = null;
      }
      return [new NodeTransport(stream), emptyBytes(), hs];
    } catch (e) {
      if (lease && !stream) lease.release();
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
