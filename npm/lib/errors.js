'use strict';

/**
 * The error of every sockweave operation. `code` is stable: the engine's
 * kinds (`InvalidMessageType`, `Faulted`, `NotAWebSocket`,
 * `UnsupportedVersion`, `UnsupportedProtocol`, `HeaderError`,
 * `ConnectionClosedPrematurely`, `InvalidState`, `InvalidArgument`) and, for
 * what happens outside the engine, `Io`, `Tls`, `Timeout` and
 * `IncompatibleOptions` (connection options on a ClientWebSocket that
 * connects through an Invoker); `Proxy` when an HTTP proxy refused or
 * failed the tunnel (proxy.js).
 */
class WebSocketError extends Error {
  constructor(code, message, props) {
    super(message);
    this.code = code;
    if (props) Object.assign(this, props);
  }
}
Object.defineProperty(WebSocketError.prototype, 'name', {
  value: 'WebSocketError', writable: true, configurable: true,
});

/** Makes an error thrown by the wasm engine (`name` `WebSocketError`) an instance of the class. */
function adopt(e) {
  if (e instanceof Error && e.name === 'WebSocketError' && !(e instanceof WebSocketError)) {
    Object.setPrototypeOf(e, WebSocketError.prototype);
  }
  return e;
}

const PREMATURE =
  'the remote party closed the WebSocket connection without completing the close handshake';

function closedPrematurely() {
  return new WebSocketError('ConnectionClosedPrematurely', PREMATURE);
}

module.exports = { WebSocketError, adopt, closedPrematurely, PREMATURE };
