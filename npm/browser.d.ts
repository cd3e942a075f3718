// Type declarations of `sockweave/browser` (npm/browser.mjs): the same engine
// and classes as in Node over WHATWG streams, with no Node types, so a
// browser project needs neither @types/node nor `skipLibCheck` (hand-written).

import type {
  Options, OperationOptions, StreamPair, CloseEventInfo, WebSocketError, Decide, normalizeOptions,
  WebSocketOperations,
} from './common';

export * from './common';

/** A whole message. */
export class Message {
  readonly messageType: 'text' | 'binary';
  readonly data: Uint8Array;
  /** `data` decoded as UTF-8. */
  readonly text: string;
}

/** A WebSocket in either role (see `WebSocketOperations`). Events: `message`, `close`, `error`. */
export interface ManagedWebSocket extends WebSocketOperations<Message, Uint8Array> {}
export class ManagedWebSocket {
  protected constructor(token: never);
  /** .NET's `CreateFromStream` over a WHATWG stream pair; `options.isServer` picks the role. */
  static fromStream(stream: StreamPair, options?: Options): ManagedWebSocket;
  on(event: 'message', listener: (m: Message) => void): this;
  on(event: 'close', listener: (e: CloseEventInfo) => void): this;
  on(event: 'error', listener: (e: WebSocketError) => void): this;
  once(event: 'message', listener: (m: Message) => void): this;
  once(event: 'close', listener: (e: CloseEventInfo) => void): this;
  once(event: 'error', listener: (e: WebSocketError) => void): this;
  off(event: 'message' | 'close' | 'error', listener: (...args: any[]) => void): this;
}

/** .NET's `ClientWebSocket`: set `options`, then `connect(url, duplex)`. */
export class ClientWebSocket extends ManagedWebSocket {
  constructor(options?: Options);
  options: Options;
  /**
   * Does the HTTP/1.1 handshake over `duplex` (already connected to the
   * server: `connectedPair()`, `webSocketDuplex(relayUrl)`); `url` gives the
   * Host and the path. The browser build has no network transport of its own.
   */
  connect(url: string | URL, duplex: StreamPair, options?: OperationOptions): Promise<void>;
  readonly httpStatusCode: number | undefined;
  /** The HTTP version the handshake used (always `'1.1'` here). */
  readonly httpVersion: '1.1' | '2' | undefined;
  readonly httpResponseHeaders: Array<[string, string]> | undefined;
}

/** Reads and answers the upgrade request on a stream pair (the server role). */
export function accept(stream: StreamPair, options?: Options, decide?: Decide): Promise<ManagedWebSocket>;

/** Two connected stream pairs: what one writes the other reads (client and server in one page). */
export function connectedPair(): [StreamPair, StreamPair];

/**
 * A stream pair over the page's own `WebSocket` to a relay that carries raw
 * bytes as binary messages (tests/browser/server.js), so a page can speak
 * the whole protocol to a TCP server.
 */
export function webSocketDuplex(
  url: string,
  options?: { WebSocketClass?: typeof WebSocket; protocols?: string | string[] },
): Promise<StreamPair & { socket: WebSocket }>;

declare const sockweave: {
  ManagedWebSocket: typeof ManagedWebSocket;
  ClientWebSocket: typeof ClientWebSocket;
  Message: typeof Message;
  WebSocketError: typeof WebSocketError;
  accept: typeof accept;
  normalizeOptions: typeof normalizeOptions;
  connectedPair: typeof connectedPair;
  webSocketDuplex: typeof webSocketDuplex;
};
export default sockweave;
