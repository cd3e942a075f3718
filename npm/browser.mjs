// sockweave for browsers: the same engine and JavaScript layer as in Node
// (npm/lib, bundled by build_browser.js), over the `--target web` wasm build.
// No network transports: give `ManagedWebSocket.fromStream`, `accept` and
// `ClientWebSocket#connect(url, duplex)` a WHATWG `{readable, writable}` pair,
// e.g. from `connectedPair()` (client and server in one page) or
// `webSocketDuplex(relayUrl)` (raw bytes through a relay to a TCP server).
import init, * as wasm from './dist/web/sockweave_wasm.js';
import { load } from './dist/web/sockweave_lib.mjs';

await init({ module_or_path: new URL('./dist/web/sockweave_wasm_bg.wasm', import.meta.url) });
const sockweave = load(wasm);

export const {
  ManagedWebSocket, ClientWebSocket, Message, WebSocketError, accept, normalizeOptions, connectedPair, webSocketDuplex,
} = sockweave;
export default sockweave;
