'use strict';
// The invoker (.NET's HttpMessageInvoker): connection settings shared by many
// ClientWebSockets, and a pool of node:http2 sessions, one (or more, see
// _acquire) per origin, that carry HTTP/2 WebSockets as RFC 8441 extended
// CONNECT streams. It opens no connection itself: ClientWebSocket#connect
// opens them with the invoker's settings and hands HTTP/2 ones to the pool.
// Also here, below client.js: the certificate check both use.

const http2 = require('node:http2');
const { WebSocketError } = require('./errors.js');
const { parseProxy } = require('./proxy.js');
const { checkJar, checkCredentials } = require('./credentials.js');

/**
 * The keys of `ClientWebSocket#options` that are connection settings, with
 * their defaults: they belong to the invoker when there is one (native's
 * `non_default`), so a ClientWebSocket that sets any cannot use one.
 */
const CONNECTION_DEFAULTS = {
  tls: undefined,
  remoteCertificateValidation: undefined,
  proxy: undefined,
  useProxy: true,
  cookieJar: undefined,
  credentials: undefined,
  allowBasicOverCleartext: false,
};
const CONNECTION_KEYS = Object.keys(CONNECTION_DEFAULTS);
/**
 * The connection settings an Invoker takes: a ClientWebSocket's, and
 * `credentialOrigins` (the origins its credentials are bound to, native's
 * `credential_origins`).
 */
const INVOKER_KEYS = [...CONNECTION_KEYS, 'credentialOrigins'];

/**
 * Checks an Invoker's `credentialOrigins`: an array of ws, wss, http or
 * https URLs (strings or URL objects), given back as the URL parser writes
 * them (lowercase host, IDNA, IPv6) for the engine's origin rule (the core's
 * `origin_allowed`: ws and http are one origin, default ports, path ignored).
 */
function checkCredentialOrigins(value) {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw new WebSocketError('InvalidArgument',
      "Invoker: credentialOrigins must be an array of URLs ('https://api.example')", { key: 'credentialOrigins' });
  }
  return value.map((o) => {
    let u;
    try {
      if (typeof o !== 'string' && !(o instanceof URL)) throw new TypeError('not a string');
      u = new URL(String(o));
    } catch (e) {
      throw new WebSocketError('InvalidArgument',
        `Invoker: credentialOrigins: invalid URL ${JSON.stringify(String(o))}: ${e.message}`, { key: 'credentialOrigins' });
    }
    if (!['ws:', 'wss:', 'http:', 'https:'].includes(u.protocol) || !u.hostname) {
      throw new WebSocketError('InvalidArgument',
        `Invoker: credentialOrigins: ${JSON.stringify(String(o))} is not a ws://, wss://, http:// or https:// URL with a host`,
        { key: 'credentialOrigins' });
    }
    u.username = '';
    u.password = '';
    return u.href;
  });
}

function checkConnectionOptions(options, where) {
  if (options.tls !== undefined && (options.tls === null || typeof options.tls !== 'object')) {
    throw new WebSocketError('InvalidArgument', `${where}: tls must be an object of tls.connect options`, { key: 'tls' });
  }
  const check = options.remoteCertificateValidation;
  if (check !== undefined && typeof check !== 'function') {
    throw new WebSocketError('InvalidArgument',
      `${where}: remoteCertificateValidation must be a function (ctx) => boolean`, { key: 'remoteCertificateValidation' });
  }
}

/**
 * The connection settings of a ClientWebSocket's own `options` that are set,
 * by key; connecting with an invoker while any is set is an error.
 */
function connectionOptionsSet(options) {
  return CONNECTION_KEYS.filter((k) => options[k] !== undefined && options[k] !== CONNECTION_DEFAULTS[k]);
}

/** The error of connecting through an invoker with connection settings of one's own (as native's connect_with). */
function incompatibleOptions(keys) {
  return new WebSocketError('IncompatibleOptions',
    `the ClientWebSocket options ${keys.join(', ')} cannot be used with an invoker: set them on the `
    + 'Invoker\'s options instead, or connect without an invoker', { keys });
}

/**
 * TLS options for `tls.connect` under a certificate callback: Node checks
 * but does not refuse, `verifyCertificate` decides. Without a callback they
 * are unchanged (Node's verdict stands).
 */
function tlsOptionsFor(tlsOptions, callback) {
  return callback ? { ...(tlsOptions || {}), rejectUnauthorized: false } : tlsOptions;
}

/**
 * Runs the `remoteCertificateValidation` callback on a connected TLS socket
 * (Node's verdict in `socket.authorized` / `authorizationError`, the host
 * name and the peer certificate chain). Resolves if it returns true, rejects
 * with a `Tls` WebSocketError otherwise (or if it throws).
 */
async function verifyCertificate(socket, callback, hostname, port) {
  const error = socket.authorizationError;
  const ctx = {
    hostname,
    port,
    certificate: socket.getPeerCertificate(true),
    authorized: socket.authorized === true,
    error: error === null || error === undefined ? undefined : String(error.code || error.message || error),
  };
  let verdict;
  try {
    verdict = await callback(ctx);
  } catch (e) {
    throw new WebSocketError('Tls',
      `the remoteCertificateValidation callback threw for ${hostname}:${port}: ${e && e.message ? e.message : e}`, { cause: e });
  }
  if (verdict !== true) {
    throw new WebSocketError('Tls',
      `the remoteCertificateValidation callback refused the server certificate of ${hostname}:${port}`
      + (ctx.authorized ? ' (Node accepted it)' : ` (Node rejected it: ${ctx.error})`));
  }
}

/** Resolves with `session` once its SETTINGS came; rejects if extended CONNECT is not allowed (`noConnectProtocol`). */
function sessionReady(session, target) {
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    const fail = (e) => reject(e);
    session.once('remoteSettings', () => {
      session.off('close', closed);
      if (session.remoteSettings.enableConnectProtocol) {
        resolve(session);
        return;
      }
      session.destroy();
      fail(new WebSocketError('UnsupportedProtocol',
        'the HTTP/2 server does not allow extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL), '
        + 'so it cannot carry a WebSocket (RFC 8441)', { noConnectProtocol: true }));
    });
    session.once('error', (e) => fail(e instanceof WebSocketError ? e : new WebSocketError('Io',
      `cannot open an HTTP/2 connection to ${target.hostname}:${target.port}: ${e.message}`, { cause: e })));
    const closed = () => fail(new WebSocketError('ConnectionClosedPrematurely',
      'the server closed the HTTP/2 connection before its SETTINGS'));
    session.once('close', closed);
  });
}

/** An HTTP/2 session of the pool and the streams it carries (opened or promised). */
class PoolEntry {
  constructor(origin) {
    this.origin = origin;
    this.session = null;
    /** Resolves (or rejects) when the connection is ready; pending while `session` is null and not `dead`. */
    this.ready = null;
    this.streams = 0;
    this.dead = false;
  }

  /** SETTINGS_MAX_CONCURRENT_STREAMS of the server (unlimited until it says). */
  get limit() {
    const n = this.session && this.session.remoteSettings ? this.session.remoteSettings.maxConcurrentStreams : undefined;
    return typeof n === 'number' ? n : Infinity;
  }

  usable() {
    const s = this.session;
    return !this.dead && s !== null && !s.closed && !s.destroyed;
  }
}

/**
 * One stream's claim on a pooled session: `attach(stream)` once the request
 * is made (the claim ends when the stream closes), or `release()` if it never
 * was.
 */
class Lease {
  constructor(invoker, entry) {
    this._invoker = invoker;
    this._entry = entry;
    this.session = entry.session;
    this._released = false;
  }

  attach(stream) {
    stream.once('close', () => this.release());
  }

  release() {
    if (this._released) return;
    this._released = true;
    this._invoker._release(this._entry);
  }
}

/**
 * .NET's `HttpMessageInvoker` for ClientWebSocket: holds the connection
 * settings (`tls`, `remoteCertificateValidation`, `proxy`, `useProxy`,
 * `cookieJar`, `credentials` with `credentialOrigins`,
 * `allowBasicOverCleartext`) and one HTTP/2 connection per origin shared by
 * every HTTP/2 WebSocket that connects through it (through the proxy, one
 * CONNECT tunnel carries that connection).
 * When the server's SETTINGS_MAX_CONCURRENT_STREAMS is reached, another
 * connection to the origin is opened (a WebSocket holds its stream for
 * long, so waiting for one to end could wait forever). HTTP/1.1 WebSockets
 * take one connection each. `close()` closes the pooled connections.
 */
class Invoker {
  constructor(options) {
    const o = options === undefined || options === null ? {} : options;
    if (typeof o !== 'object' || Array.isArray(o)) {
      throw new WebSocketError('InvalidArgument', 'Invoker options must be an object');
    }
    for (const k of Object.keys(o)) {
      if (!INVOKER_KEYS.includes(k)) {
        throw new WebSocketError('InvalidArgument',
          `unknown Invoker option ${JSON.stringify(k)} (known: ${INVOKER_KEYS.join(', ')})`, { key: k });
      }
    }
    checkConnectionOptions(o, 'Invoker');
    if (o.useProxy !== undefined && typeof o.useProxy !== 'boolean') {
      throw new WebSocketError('InvalidArgument', 'Invoker: useProxy must be a boolean', { key: 'useProxy' });
    }
    if (o.proxy !== undefined && o.proxy !== null) parseProxy(o.proxy);
    checkJar(o.cookieJar);
    checkCredentials(o.credentials, o.allowBasicOverCleartext);
    /** The connection settings (read by ClientWebSocket#connect). */
    this.options = Object.freeze({ ...o, credentialOrigins: Object.freeze(checkCredentialOrigins(o.credentialOrigins)) });
    /** origin -> PoolEntry[] */
    this._pool = new Map();
    this._closed = false;
    this._opened = 0;
  }

  /** HTTP/2 connections this invoker has pooled so far (a test and diagnostics counter). */
  get connectionsOpened() {
    return this._opened;
  }

  /** Pooled HTTP/2 connections now open. */
  get connectionCount() {
    let n = 0;
    for (const list of this._pool.values()) n += list.filter((e) => e.usable()).length;
    return n;
  }

  /** Whether `close()` was called. */
  get closed() {
    return this._closed;
  }

  /**
   * Closes every pooled HTTP/2 connection (WebSockets still open on one go on
   * until they end, then it goes) and refuses further connects.
   */
  close() {
    this._closed = true;
    for (const list of this._pool.values()) {
      for (const e of list) {
        e.dead = true;
        if (e.session && !e.session.closed) e.session.close();
      }
    }
    this._pool.clear();
  }

  _checkOpen() {
    if (this._closed) {
      throw new WebSocketError('InvalidState', 'the Invoker was closed (close()); create a new one');
    }
  }

  /**
   * A stream's place on an HTTP/2 session to `origin`: a pooled one with room
   * for another stream, else a new connection from `open()`, which resolves
   * with `{ session }` (an `http2.connect` session, SETTINGS not yet come) or
   * `{ socket }` (TLS where ALPN did not choose h2). Resolves with
   * `{ lease }` or `{ socket }`. Connects made while a connection is being
   * opened wait for it rather than opening their own.
   */
  async _acquire(origin, target, open) {
    for (;;) {
      this._checkOpen();
      const list = this._pool.get(origin) || [];
      const pending = list.find((e) => !e.session && !e.dead);
      if (pending) {
        // Its error is ours too (an unreachable server, no extended CONNECT).
        await pending.ready;
        continue;
      }
      const free = list.find((e) => e.usable() && e.streams < e.limit);
      if (free) return { lease: this._claim(free) };
      const entry = new PoolEntry(origin);
      list.push(entry);
      this._pool.set(origin, list);
      let opened;
      entry.ready = (async () => {
        opened = await open();
        if (opened.session) await sessionReady(opened.session, target);
      })();
      try {
        await entry.ready;
      } catch (e) {
        this._drop(entry);
        throw e;
      }
      if (!opened.session) {
        this._drop(entry);
        return { socket: opened.socket };
      }
      this._adopt(entry, opened.session);
      if (this._closed) {
        opened.session.close();
        this._checkOpen();
      }
      return { lease: this._claim(entry) };
    }
  }

  _adopt(entry, session) {
    entry.session = session;
    this._opened += 1;
    const drop = () => this._drop(entry);
    session.on('close', drop);
    session.on('error', drop);
    session.on('goaway', drop);
    session.unref();
  }

  _claim(entry) {
    entry.streams += 1;
    if (entry.streams === 1) entry.session.ref();
    return new Lease(this, entry);
  }

  _release(entry) {
    entry.streams -= 1;
    if (entry.streams === 0 && entry.session && !entry.session.destroyed) {
      // An idle pooled connection does not keep Node running.
      entry.session.unref();
    }
  }

  /** Leaves the pool; streams still open on the session go on. */
  _drop(entry) {
    entry.dead = true;
    const list = this._pool.get(entry.origin);
    if (!list) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this._pool.delete(entry.origin);
  }
}

/** Opens an HTTP/2 session: over `socket` (TLS, ALPN h2), or h2c with prior knowledge when it is null. */
function connectSession(target, socket) {
  const authority = `${target.secure ? 'https' : 'http'}://${target.authority}`;
  return socket
    ? http2.connect(authority, { createConnection: () => socket })
    : http2.connect(authority, { host: target.hostname, port: target.port });
}

module.exports = {
  Invoker,
  CONNECTION_KEYS,
  checkConnectionOptions,
  connectionOptionsSet,
  incompatibleOptions,
  tlsOptionsFor,
  verifyCertificate,
  sessionReady,
  connectSession,
};
