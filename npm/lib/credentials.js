'use strict';
// Cookies and HTTP Basic credentials of a ClientWebSocket's handshake, as
// I/O only. The rules are not here: cookies follow the user's jar (any object
// with tough-cookie's CookieJar interface, which holds the public suffix
// list the wasm module leaves out for its size), and whether a 401 is
// answered with the credentials, and with what header, is the engine's
// decision (sockweave-core's auth rules, the ones native follows).

const { wasm, engine } = require('./engine.js');
const { WebSocketError } = require('./errors.js');

/** Checks the `cookieJar` option: `undefined`, or an object with `getCookieString` and `setCookie`. */
function checkJar(jar) {
  if (jar === undefined || jar === null) return undefined;
  if (typeof jar !== 'object' || typeof jar.getCookieString !== 'function' || typeof jar.setCookie !== 'function') {
    throw new WebSocketError('InvalidArgument',
      'cookieJar must be an object with getCookieString(url) and setCookie(cookie, url), '
      + "e.g. new CookieJar() from the 'tough-cookie' package");
  }
  return jar;
}

/** Checks the `credentials` option: `undefined`, or `{user, password}` (strings; no `:` in `user`, RFC 7617). */
function checkCredentials(c, allowCleartext) {
  if (allowCleartext !== undefined && typeof allowCleartext !== 'boolean') {
    throw new WebSocketError('InvalidArgument', 'allowBasicOverCleartext must be a boolean');
  }
  if (c === undefined || c === null) return undefined;
  if (typeof c !== 'object' || typeof c.user !== 'string' || typeof c.password !== 'string') {
    throw new WebSocketError('InvalidArgument', 'credentials must be {user, password} with string values');
  }
  if (c.user.includes(':')) {
    throw new WebSocketError('InvalidArgument', 'credentials.user must not contain ":" (HTTP Basic, RFC 7617)');
  }
  return c;
}

/** The http(s) form of a ws(s) URL, without user info or fragment: a jar applies the http rules (Secure: https only). */
function cookieUrl(url) {
  const u = new URL(String(url));
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  u.username = '';
  u.password = '';
  u.hash = '';
  return u.href;
}

/** The URL for messages: without user info. */
function displayUrl(url) {
  try {
    const u = new URL(String(url));
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * The extra request headers of one attempt: the jar's `Cookie` for this URL
 * and, on the retry after a Basic challenge, `Authorization`. They replace
 * same-named `requestHeaders` (the engine's extraHeaders rule).
 */
async function handshakeHeaders(jar, url, authorization) {
  const extra = [];
  if (jar) {
    const cookies = await jar.getCookieString(cookieUrl(url));
    if (cookies) extra.push(['Cookie', String(cookies)]);
  }
  if (authorization) extra.push(['Authorization', authorization]);
  return extra.length ? extra : undefined;
}

/**
 * Gives every `Set-Cookie` of a handshake response (accepted or refused) to
 * the jar. The jar decides what to keep: a cookie it refuses (a public
 * suffix domain, a Secure cookie over ws://, ...) is dropped, as native does.
 */
async function storeCookies(jar, url, response) {
  if (!jar || !response || !Array.isArray(response.headers)) return;
  const at = cookieUrl(url);
  for (const [k, v] of response.headers) {
    if (String(k).toLowerCase() !== 'set-cookie') continue;
    try {
      await jar.setCookie(v, at, { ignoreError: true });
    } catch {
      // Refused by the jar's rules.
    }
  }
}

/**
 * After a refused handshake `e` (a `WebSocketError` with `response`): the
 * `Authorization` value to connect again with, once, or `undefined` when the
 * refusal stands. Throws `InsecureCredentials` (with the 401 as `response`)
 * when the password would go over cleartext without `allowBasicOverCleartext`.
 * `origins` (an Invoker's normalised `credentialOrigins`) binds the
 * credentials to those origins instead of the URL's own: the engine decides
 * whether the URL is one of them, and throws `InvalidArgument` (with the 401
 * as `response`) when the list is empty.
 */
function basicRetry(e, credentials, sent, secure, allowCleartext, url, origins) {
  if (credentials === undefined || credentials === null || !e || !e.response) return undefined;
  const r = e.response;
  try {
    return engine(() => wasm.basicRetry(r.status, r.headers, sent, credentials.user, credentials.password, secure,
      allowCleartext === true, displayUrl(url), origins === undefined ? undefined : Array.from(origins))) || undefined;
  } catch (refused) {
    if (refused && (refused.code === 'InsecureCredentials' || refused.code === 'InvalidArgument')) refused.response = r;
    throw refused;
  }
}

module.exports = { checkJar, checkCredentials, cookieUrl, handshakeHeaders, storeCookies, basicRetry };
