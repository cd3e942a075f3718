'use strict';
// HTTP proxies for ClientWebSocket: which proxy a connection goes through
// (options `proxy` / `useProxy`, else the environment variables), and the
// CONNECT tunnel over node:net. The rules are the engine's (sockweave-core's
// proxy and proxy_env modules, through wasm): the CONNECT request, the check
// of the proxy's answer, and which variable applies under which no_proxy;
// this file only does the I/O and reads process.env.

const net = require('node:net');
const { wasm, engine } = require('./engine.js');
const { WebSocketError } = require('./errors.js');

/** `url` without user info, for messages. */
function redact(url) {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return String(url).replace(/\/\/[^/?#]*@/, '//***@');
  }
}

/**
 * A proxy from the `proxy` option: a URL string (`http://user:pass@host:port`)
 * or `{url, credentials: {user, password}}` (native's `Proxy`). Returns
 * `{host, port, user, password}`; throws `InvalidArgument`.
 */
function parseProxy(value) {
  let url;
  let credentials;
  if (typeof value === 'string' || value instanceof URL) {
    url = String(value);
  } else if (value && typeof value === 'object' && (typeof value.url === 'string' || value.url instanceof URL)) {
    url = String(value.url);
    credentials = value.credentials;
    if (credentials !== undefined && credentials !== null
      && (typeof credentials !== 'object' || typeof credentials.user !== 'string')) {
      throw new WebSocketError('InvalidArgument',
        'proxy.credentials must be {user, password} (strings)', { key: 'proxy' });
    }
  } else {
    throw new WebSocketError('InvalidArgument',
      "proxy must be a URL string ('http://host:port') or {url, credentials: {user, password}}", { key: 'proxy' });
  }
  let u;
  try {
    u = new URL(url);
  } catch (e) {
    throw new WebSocketError('InvalidArgument', `proxy URL ${JSON.stringify(redact(url))}: ${e.message}`, { key: 'proxy' });
  }
  engine(() => wasm.proxyCheckUrl(u.protocol.slice(0, -1), u.hostname !== ''));
  const decode = (s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (!credentials && u.username) credentials = { user: decode(u.username), password: decode(u.password) };
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 80,
    user: credentials ? credentials.user : undefined,
    password: credentials ? String(credentials.password ?? '') : undefined,
  };
}

/**
 * The proxy a connection to `target` goes through, by native's precedence:
 * none when `useProxy` is false; else the `proxy` option if set (no_proxy
 * does not apply to it); else the environment's (`https_proxy` for wss://,
 * `http_proxy` for ws://, `all_proxy`, minus `no_proxy`). `null` for none.
 */
function chooseProxy(node, target) {
  const { proxy, useProxy } = node;
  if (useProxy !== undefined && typeof useProxy !== 'boolean') {
    throw new WebSocketError('InvalidArgument', 'useProxy must be a boolean', { key: 'useProxy' });
  }
  if (useProxy === false) return null;
  if (proxy !== undefined && proxy !== null) return parseProxy(proxy);
  const env = typeof process !== 'undefined' && process.env ? process.env : {};
  const found = engine(() => wasm.proxyFromEnv(env, target.secure, target.hostname, target.port));
  if (!found) return null;
  const [variable, url] = found;
  try {
    return parseProxy(url);
  } catch (e) {
    throw new WebSocketError('Proxy',
      wasm.proxyUnusable(variable, redact(url), e.message, target.hostname), { cause: e });
  }
}

/** `host:port` for CONNECT (an IPv6 host in brackets). */
function connectAuthority(target) {
  return target.hostname.includes(':') ? `[${target.hostname}]:${target.port}` : `${target.hostname}:${target.port}`;
}

/**
 * Connects to `proxy` and opens a CONNECT tunnel to `target`; resolves with
 * the socket, on which the tunnel's bytes start. Bytes the proxy sent after
 * its answer's head are not consumed: they are read again from the socket
 * (for a TLS target, from a stream in front of it). `track(socket)` sees
 * the socket at once.
 */
function openTunnel(proxy, target, track) {
  const authority = connectAuthority(target);
  return new Promise((resolve, reject) => {
    let buf = new Uint8Array(0);
    let done = false;
    const sock = net.connect({ host: proxy.host, port: proxy.port });
    track(sock);
    const finish = (e, value) => {
      if (done) return;
      done = true;
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
      if (e) {
        sock.destroy();
        reject(e);
      } else {
        resolve(value);
      }
    };
    const check = (ended) => engine(() => wasm.proxyCheckResponse(buf, authority, proxy.user !== undefined, ended));
    const onData = (chunk) => {
      const joined = new Uint8Array(buf.length + chunk.length);
      joined.set(buf);
      joined.set(chunk, buf.length);
      buf = joined;
      let used;
      try {
        used = check(false);
      } catch (e) {
        finish(e);
        return;
      }
      if (used === undefined) return;
      sock.pause();
      const rest = buf.subarray(used);
      if (rest.length === 0) {
        finish(null, sock);
      } else if (target.secure) {
        // node:tls over a net.Socket reads its handle, not bytes put back in the stream.
        finish(null, prepend(sock, rest));
      } else {
        sock.unshift(Buffer.from(rest));
        finish(null, sock);
      }
    };
    const onEnd = () => {
      try {
        check(true);
      } catch (e) {
        finish(e);
      }
    };
    const onError = (e) => finish(new WebSocketError('Proxy',
      `cannot connect to the proxy ${proxy.host}:${proxy.port}: ${e.message}`, { cause: e }));
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.setNoDelay(true);
      sock.write(wasm.proxyConnectRequest(authority, proxy.user, proxy.password));
    });
  });
}

/** A duplex over `sock` whose readable side starts with `first`. */
function prepend(sock, first) {
  const { Duplex } = require('node:stream');
  const d = new Duplex({
    read() { sock.resume(); },
    write(chunk, encoding, cb) { sock.write(chunk, cb); },
    final(cb) { sock.end(cb); },
    destroy(err, cb) { sock.destroy(err || undefined); cb(err); },
  });
  d.push(Buffer.from(first));
  sock.on('data', (c) => { if (!d.push(c)) sock.pause(); });
  sock.once('end', () => d.push(null));
  sock.once('error', (e) => d.destroy(e));
  return d;
}

module.exports = { chooseProxy, parseProxy, openTunnel };
