// The ES module face of the package: the same objects as the CommonJS entry.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const sockweave = require('./index.js');

export const {
  WebSocket, WebSocketStream, ManagedWebSocket, ClientWebSocket, Invoker, Message, WebSocketError, acceptUpgrade, accept, acceptH2, normalizeOptions,
} = sockweave;
export default sockweave;
