'use strict';
// sockweave for Node: the sockweave-core WebSocket engine (compiled to wasm)
// with Node transports. See README.md and index.d.ts.

const { WebSocket, Message } = require('./lib/websocket.js');
const { normalizeOptions } = require('./lib/engine.js');
const { ClientWebSocket } = require('./lib/client.js');
const { acceptUpgrade, accept, acceptH2 } = require('./lib/server.js');
const { WebSocketError } = require('./lib/errors.js');

module.exports = {
  WebSocket,
  ClientWebSocket,
  Message,
  WebSocketError,
  acceptUpgrade,
  accept,
  acceptH2,
  normalizeOptions,
};
module.exports.default = module.exports;
