'use strict';
// WebSocket URLs as the WHATWG standards parse them, for the standard
// WebSocket class and WebSocketStream.

/** The spec's "get a URL record": ws/wss (http/https mapped), no fragment; else a SyntaxError. */
function urlRecord(url) {
  const text = String(url);
  let u;
  try {
    u = new URL(text);
  } catch (e) {
    throw new DOMException(`invalid WebSocket URL ${JSON.stringify(text)}: ${e.message}`, 'SyntaxError');
  }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new DOMException(`the URL's scheme must be ws, wss, http or https, not ${JSON.stringify(u.protocol.slice(0, -1))}`,
      'SyntaxError');
  }
  if (u.hash || u.href.endsWith('#')) {
    throw new DOMException(`a WebSocket URL must not have a fragment: ${JSON.stringify(text)}`, 'SyntaxError');
  }
  return u;
}

module.exports = { urlRecord };
