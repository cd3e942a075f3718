'use strict';
// sockweave for Node: the sockweave-core WebSocket engine (compiled to wasm)
// with Node transports. See README.md and index.d.ts.

const { ManagedWebSocket, Message } = require('./lib/websocket.js');
const { WebSocket } = require('./lib/standard.js');
const { WebSocketStream } = require('./lib/websocket_stream.js');
const { normalizeOptions } = require('./lib/engine.js');
const { ClientWebSocket } = require('./lib/client.js');
const { Invoker } = require('./lib/invoker.js');
const { acceptUpgrade, accept, acceptH2 } = require('./lib/server.js');
const { WebSocketError } = require('./lib/errors.js');

module.exports = {
  WebSocket,
  WebSocketStream,
  ManagedWebSocket,
  ClientWebSocket,
  Invoker,
  Message,
  WebSocketError,
  acceptUpgrade,
  accept,
  acceptH2,
  normalizeOptions,
};
module.exports.default = module.exports;
