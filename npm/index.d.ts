// Type declarations of the npm package `sockweave` (hand-written).
/// <reference types="node" />

import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { ConnectionOptions } from 'node:tls';

/** Milliseconds, or `-1` / `"infinite"` for no limit. */
export type Millis = number | 'infinite';

/** permessage-deflate parameters (RFC 7692; .NET's `WebSocketDeflateOptions`). */
export interface DeflateOptions {
  /** LZ77 window of messages the client compresses, 8..15 (default 15). */
  clientMaxWindowBits?: number;
  /** LZ77 window of messages the server compresses, 8..15 (default 15). */
  serverMaxWindowBits?: number;
  /** Whether the client keeps its compression context between messages (default true). */
  clientContextTakeover?: boolean;
  /** Whether the server keeps its compression context between messages (default true). */
  serverContextTakeover?: boolean;
}

/** Header names and values: an object, or `[name, value]` pairs (names may repeat). */
export type HeaderInit = Record<string, string> | Array<[string, string]> | Map<string, string>;

/**
 * The options object of every sockweave WebSocket: the JSON form of the Rust
 * `sockweave_core::Options`. An unknown key or a wrong type is a
 * `WebSocketError` with code `InvalidArgument` whose `key` names the option.
 */
export interface Options {
  /** Keep-alive interval (client default 30000; off for `fromStream`). */
  keepAliveInterval?: Millis;
  /** PONG timeout; unset, 0 or infinite: unsolicited PONGs instead of PING/PONG. */
  keepAliveTimeout?: Millis;
  /** permessage-deflate; unset disables compression. */
  dangerousDeflateOptions?: DeflateOptions | null;
  /** Client: subprotocols offered. Server: subprotocols supported, in preference order. */
  subProtocols?: string[];
  /** `fromStream`: the subprotocol already negotiated. */
  subProtocol?: string | null;
  /** Client: extra request headers. */
  requestHeaders?: HeaderInit;
  /** The HTTP version to ask for (HTTP/2: RFC 8441 extended CONNECT); with `httpVersionPolicy`. */
  httpVersion?: '1.1' | '2';
  httpVersionPolicy?: 'requestVersionOrLower' | 'requestVersionOrHigher' | 'requestVersionExact';
  /** `fromStream`: act as the server. */
  isServer?: boolean;
  /** Bytes of received data buffered before reading pauses (default 65536). */
  receiveBufferSize?: number;
  /** Largest message (after inflating); larger fails with 1009 (default 64 MiB). */
  maxMessageSize?: number;
  /** Largest frame; larger fails with 1009 (default 16 MiB). */
  maxFrameSize?: number;
  maxHandshakeHeaderBytes?: number;
  maxHandshakeHeaders?: number;
  /** Time allowed for connect + handshake (default 10000). */
  handshakeTimeout?: Millis;
  /** Time allowed for the peer to answer our Close (default 10000). */
  closeTimeout?: Millis;
  /** Bytes queued for writing before `send` waits (default 262144). */
  maxPendingOutput?: number;
  /**
   * Servers: the origins allowed to open a WebSocket (`'https://app.example'`);
   * others get 403. Empty (the default): any origin. Browsers do not apply the
   * same-origin policy to WebSockets: see README "Cross-site WebSocket hijacking".
   */
  allowedOrigins?: string[];
  /** Servers with `allowedOrigins`: also accept requests without `Origin` (non-browser clients). */
  allowMissingOrigin?: boolean;
  /** Native HTTP/2 servers only (Node's `http2` server has its own settings): streams open at once per connection (128). */
  maxConcurrentStreams?: number;
  /** Native HTTP/2 servers only: largest ordinary request body (1 MiB; 413 above). */
  maxRequestBodySize?: number;
  /** Native HTTP/2 servers only: request body bytes buffered per connection (4 MiB). */
  maxBufferedRequestBytes?: number;
  /** Native HTTP/2 servers only: GOAWAY after this long without a stream; reset a stalled body (60000). */
  idleTimeout?: Millis;
}

/** `ClientWebSocket` options: the engine's options, plus Node's. */
export interface ClientOptions extends Options {
  /** Passed to `tls.connect` for wss:// (ca, rejectUnauthorized, cert, key, servername, ...). */
  tls?: ConnectionOptions;
}

/** Every option with its value (durations in ms, -1 for infinite). */
export type NormalizedOptions = Required<Omit<Options, 'keepAliveInterval' | 'keepAliveTimeout' | 'subProtocol' | 'dangerousDeflateOptions' | 'requestHeaders'>> & {
  keepAliveInterval: number | undefined;
  keepAliveTimeout: number | undefined;
  subProtocol: string | undefined;
  dangerousDeflateOptions: Required<DeflateOptions> | undefined;
  requestHeaders: Record<string, string>;
};

/** Checks an options object and returns it complete; throws a `WebSocketError` naming a bad key. */
export function normalizeOptions(options?: Options): NormalizedOptions;

export type ErrorCode =
  | 'InvalidMessageType' | 'Faulted' | 'NotAWebSocket' | 'UnsupportedVersion' | 'UnsupportedProtocol'
  | 'HeaderError' | 'ConnectionClosedPrematurely' | 'InvalidState' | 'InvalidArgument'
  | 'Io' | 'Tls' | 'Timeout';

/** The error of every operation, with a stable `code`. */
export class WebSocketError extends Error {
  readonly name: 'WebSocketError';
  readonly code: ErrorCode;
  /** The close code the connection failed with (1002, 1007, 1009, ...). */
  readonly closeCode?: number;
  /** `WebSocketStream#closed` after an unclean close: the Close's reason ('' if none came). */
  readonly reason?: string;
  /** For option errors: the option's key (`"dangerousDeflateOptions.clientMaxWindowBits"`). */
  readonly key?: string;
  /** For refused handshakes: the HTTP status. */
  readonly status?: number;
  /** For a refused client handshake: the server's response. */
  readonly response?: { status: number; reason: string; headers: Array<[string, string]> };
}

export type WebSocketState = 'None' | 'Connecting' | 'Open' | 'CloseSent' | 'CloseReceived' | 'Closed' | 'Aborted';
export type MessageType = 'text' | 'binary' | 'close';

/** One `receive()` result (.NET's `WebSocketReceiveResult`). */
export interface ReceiveResult {
  /** Bytes written to the buffer (or in `data`). */
  count: number;
  messageType: MessageType;
  endOfMessage: boolean;
  closeStatus?: number;
  closeStatusDescription?: string;
}

/** A whole message. */
export class Message {
  readonly messageType: 'text' | 'binary';
  readonly data: Buffer;
  /** `data` decoded as UTF-8. */
  readonly text: string;
}

export interface CloseResult {
  messageType: 'close';
  closeStatus?: number;
  closeStatusDescription?: string;
}

export interface SendOptions {
  /** Default: `"text"` for a string, `"binary"` for bytes. */
  messageType?: 'text' | 'binary';
  /** Default true; false sends a piece of a message. */
  endOfMessage?: boolean;
  /** Send this message uncompressed even if permessage-deflate is on. */
  disableCompression?: boolean;
  /** Aborting it while the send is pending aborts the WebSocket (.NET's cancellation). */
  signal?: AbortSignal;
}

/** Options of `receive`, `close` and `closeOutput`. */
export interface OperationOptions {
  /** Aborting it while the operation is pending aborts the WebSocket (.NET's cancellation). */
  signal?: AbortSignal;
}

export type SendData = string | Uint8Array | ArrayBufferView | ArrayBuffer;

/** A WHATWG pair of byte streams. */
export interface StreamPair {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

export interface CloseEventInfo {
  /** The peer's close status, 1006 if none was received. */
  code: number;
  reason: string;
  /** The close handshake completed. */
  wasClean: boolean;
}

/**
 * A WebSocket in either role, with .NET's semantics (.NET's implementation
 * class behind `ClientWebSocket` has this name). Events: `message`, `close`, `error`.
 *
 * `state` and `closeStatus` follow what `receive`, `send` and `close` have
 * returned (as in .NET), not what was read: a Close read behind messages not
 * yet received shows once those and the Close were received. One `receive`
 * at a time; whole-message sends may overlap, pieces of a message may not.
 * After `abort()` every call fails.
 */
export class ManagedWebSocket extends EventEmitter implements AsyncIterable<Message> {
  protected constructor(token: never);
  /** .NET's `CreateFromStream`: the handshake was done elsewhere; `options.isServer` picks the role. */
  static fromStream(stream: Duplex | StreamPair, options?: Options): ManagedWebSocket;
  readonly state: WebSocketState;
  readonly closeStatus: number | undefined;
  readonly closeStatusDescription: string | undefined;
  readonly subProtocol: string | undefined;
  /** Resolves once the connection is over and the transport released (never rejects). */
  readonly closed: Promise<CloseEventInfo>;
  /** The next piece of a message, written into `buffer`. */
  receive(buffer: Uint8Array, options?: OperationOptions): Promise<ReceiveResult>;
  /** The next piece of a message (at most 64 KiB) in `data`. */
  receive(buffer?: undefined, options?: OperationOptions): Promise<ReceiveResult & { data?: Buffer }>;
  /** The next whole message, or the peer's Close. */
  receiveMessage(options?: OperationOptions): Promise<Message | CloseResult>;
  send(data: SendData, options?: SendOptions): Promise<void>;
  ping(payload?: SendData): Promise<void>;
  /**
   * Sends our Close and waits for the peer's (default code 1000); takes nothing
   * from the receive queue (a receive still gets the messages before the peer's
   * Close, and the Close).
   */
  close(code?: number, reason?: string, options?: OperationOptions): Promise<void>;
  /** Sends our Close without waiting for the peer's. */
  closeOutput(code?: number, reason?: string, options?: OperationOptions): Promise<void>;
  abort(): void;
  /** Whole messages until the peer's Close (answered with the same status). */
  [Symbol.asyncIterator](): AsyncIterator<Message>;

  on(event: 'message', listener: (m: Message) => void): this;
  on(event: 'close', listener: (e: CloseEventInfo) => void): this;
  on(event: 'error', listener: (e: WebSocketError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'message', listener: (m: Message) => void): this;
  once(event: 'close', listener: (e: CloseEventInfo) => void): this;
  once(event: 'error', listener: (e: WebSocketError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** .NET's `ClientWebSocket`: set `options`, then `connect(url)` (ws:// or wss://). */
export class ClientWebSocket extends ManagedWebSocket {
  constructor(options?: ClientOptions);
  options: ClientOptions;
  /**
   * Connects to `url`; with `duplex` (already connected to the server: a tunnel, a
   * stream pair), the HTTP/1.1 handshake runs over it and `url` gives only the Host
   * and the path. The browser build (`sockweave/browser`) needs the duplex.
   * A ClientWebSocket connects once: after a failure its state is `Closed`.
   * `options.signal` aborts the attempt (so does `abort()`).
   */
  connect(url: string | URL, duplex?: Duplex | StreamPair, options?: OperationOptions): Promise<void>;
  connect(url: string | URL, options: OperationOptions): Promise<void>;
  readonly httpStatusCode: number | undefined;
  /** The HTTP version the handshake used. */
  readonly httpVersion: '1.1' | '2' | undefined;
  readonly httpResponseHeaders: Array<[string, string]> | undefined;
}

/** `binaryType`: the standard's `blob` (default) and `arraybuffer`, and `nodebuffer` (a Buffer, as in `ws`). */
export type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer';

/**
 * The standard `WebSocket`'s second argument in its object form (undici's
 * `WebSocketInit` plus the `ClientWebSocket` options; `protocols` and
 * `headers` are the standard names of `subProtocols` and `requestHeaders`).
 */
export interface WebSocketInit extends Omit<ClientOptions, 'subProtocols' | 'requestHeaders'> {
  protocols?: string | string[];
  headers?: HeaderInit | Headers;
}

/** The `message` event of the standard `WebSocket`. */
export interface WebSocketMessageEvent extends Event {
  /** A string for text; for binary, per `binaryType`: a Blob, an ArrayBuffer or a Buffer. */
  readonly data: string | Blob | ArrayBuffer | Buffer;
  /** The serialization of the URL's origin (`ws://host:port`). */
  readonly origin: string;
}

/** The `close` event of the standard `WebSocket`. */
export interface WebSocketCloseEvent extends Event {
  /** The server's close status; 1005 if its Close had none, 1006 if none was received. */
  readonly code: number;
  readonly reason: string;
  /** Whether the close handshake completed. */
  readonly wasClean: boolean;
}

/** The `error` event of the standard `WebSocket` (a `close` event follows). */
export interface WebSocketErrorEvent extends Event {
  readonly message: string;
  /** What failed the connection: a `WebSocketError` (its `code` and `closeCode` say why). */
  readonly error: unknown;
}

export interface WebSocketEventMap {
  open: Event;
  message: WebSocketMessageEvent;
  error: WebSocketErrorEvent;
  close: WebSocketCloseEvent;
}

export type WebSocketListenerOptions = boolean | { capture?: boolean; once?: boolean; passive?: boolean; signal?: AbortSignal };
export type WebSocketListener = ((event: Event) => void) | { handleEvent(event: Event): void };

/**
 * The standard (WHATWG) WebSocket, as in browsers, undici and `ws`, over a
 * `ClientWebSocket`: `new WebSocket(url, protocols)` or
 * `new WebSocket(url, { protocols, headers, ...ClientOptions })`; http(s)
 * URLs are mapped to ws(s). Events: `open`, `message`, `error`, `close`.
 */
export class WebSocket extends EventTarget {
  constructor(url: string | URL, protocols?: string | string[] | WebSocketInit);
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
  /** The URL, serialized (http(s) mapped to ws(s)). */
  readonly url: string;
  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  readonly readyState: number;
  /** Bytes of messages given to `send()` not yet written to the socket (once the close began, sends only add to it). */
  readonly bufferedAmount: number;
  /** The server's Sec-WebSocket-Extensions ('' if none). */
  readonly extensions: string;
  /** The subprotocol the server selected ('' if none). */
  readonly protocol: string;
  binaryType: BinaryType;
  onopen: ((this: WebSocket, event: Event) => any) | null;
  onmessage: ((this: WebSocket, event: WebSocketMessageEvent) => any) | null;
  onerror: ((this: WebSocket, event: WebSocketErrorEvent) => any) | null;
  onclose: ((this: WebSocket, event: WebSocketCloseEvent) => any) | null;
  /** Text for a string, binary otherwise. Throws InvalidStateError while CONNECTING. */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  /** `code` 1000 or 3000-4999 (else InvalidAccessError); `reason` at most 123 UTF-8 bytes (else SyntaxError). */
  close(code?: number, reason?: string): void;
  addEventListener<K extends keyof WebSocketEventMap>(
    type: K, listener: (this: WebSocket, event: WebSocketEventMap[K]) => any, options?: WebSocketListenerOptions): void;
  addEventListener(type: string, listener: WebSocketListener, options?: WebSocketListenerOptions): void;
  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K, listener: (this: WebSocket, event: WebSocketEventMap[K]) => any, options?: boolean | { capture?: boolean }): void;
  removeEventListener(type: string, listener: WebSocketListener, options?: boolean | { capture?: boolean }): void;
}

/** `new WebSocketStream(url, options)`: the standard's `protocols` and `signal`, `headers`, and the `ClientWebSocket` options. */
export interface WebSocketStreamOptions extends Omit<ClientOptions, 'subProtocols' | 'requestHeaders'> {
  protocols?: Iterable<string>;
  /** Aborts the opening handshake (`opened` and `closed` reject with its reason); ignored once open. */
  signal?: AbortSignal | null;
  headers?: HeaderInit | Headers;
}

/** What `WebSocketStream#opened` resolves with. */
export interface WebSocketOpenInfo {
  /** The messages: a string for text, a Uint8Array for binary. Not reading holds the peer back (backpressure). */
  readable: ReadableStream<string | Uint8Array>;
  /** Strings go as text; ArrayBuffers and ArrayBufferViews as binary. A write resolves when the engine took the message. */
  writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
  /** The subprotocol the server selected ('' if none). */
  protocol: string;
  /** The server's Sec-WebSocket-Extensions ('' if none; always '' from `WebSocketStream.from` of a server socket). */
  extensions: string;
}

/** What `WebSocketStream#closed` resolves with, and what `close()` takes. */
export interface WebSocketCloseInfo {
  /** The close status (1005 if the Close had none). `close()`: 1000 or 3000-4999. */
  closeCode?: number;
  reason?: string;
}

/**
 * The WHATWG WebSocketStream (as in Chromium): messages as a ReadableStream
 * and a WritableStream, with backpressure both ways. `closed` rejects with a
 * `WebSocketError` whose `closeCode` and `reason` say how an unclean close ended.
 */
export class WebSocketStream {
  constructor(url: string | URL, options?: WebSocketStreamOptions);
  /**
   * The same streams over an open `ManagedWebSocket` of either role (e.g.
   * from `acceptUpgrade`) that nothing else reads; `url` is ''.
   */
  static from(ws: ManagedWebSocket): WebSocketStream;
  /** The URL, serialized (http(s) mapped to ws(s)). */
  readonly url: string;
  readonly opened: Promise<WebSocketOpenInfo>;
  readonly closed: Promise<Required<WebSocketCloseInfo>>;
  /**
   * Starts the close handshake (`closeCode` 1000 or 3000-4999, else InvalidAccessError;
   * `reason` at most 123 UTF-8 bytes, else SyntaxError); while connecting, abandons the connection.
   */
  close(closeInfo?: WebSocketCloseInfo): void;
}

/** The checked upgrade request a server's `decide` callback sees. */
export interface UpgradeRequest {
  path: string;
  host: string;
  headers: Array<[string, string]>;
  protocols: string[];
  extensions: string[];
  header(name: string): string | undefined;
}

/** `undefined` accepts with the default subprotocol choice. */
export type Decision =
  | undefined
  | { subProtocol?: string | null; headers?: HeaderInit; status?: undefined }
  | { status: number; message?: string; headers?: HeaderInit };

export type Decide = (request: UpgradeRequest) => Decision | Promise<Decision>;

/** Accepts a `node:http` `'upgrade'` event's request as a server-role WebSocket. */
export function acceptUpgrade(
  req: IncomingMessage, socket: Duplex, head: Buffer, options?: Options, decide?: Decide,
): Promise<ManagedWebSocket>;

/**
 * Accepts a WebSocket over HTTP/2 (RFC 8441) from a `node:http2` server's `'stream'`
 * event (the server needs `settings: { enableConnectProtocol: true }`).
 */
export function acceptH2(
  stream: import('node:http2').ServerHttp2Stream, headers: import('node:http2').IncomingHttpHeaders,
  options?: Options, decide?: Decide,
): Promise<ManagedWebSocket>;

/** Reads and answers the upgrade request on a raw stream (a `net.Server` connection, ...). */
export function accept(stream: Duplex | StreamPair, options?: Options, decide?: Decide): Promise<ManagedWebSocket>;

declare const sockweave: {
  WebSocket: typeof WebSocket;
  WebSocketStream: typeof WebSocketStream;
  ManagedWebSocket: typeof ManagedWebSocket;
  ClientWebSocket: typeof ClientWebSocket;
  Message: typeof Message;
  WebSocketError: typeof WebSocketError;
  acceptUpgrade: typeof acceptUpgrade;
  accept: typeof accept;
  acceptH2: typeof acceptH2;
  normalizeOptions: typeof normalizeOptions;
};
export default sockweave;
