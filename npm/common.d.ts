// Type declarations shared by the Node entry (index.d.ts) and the browser
// entry (browser.d.ts) of the npm package `sockweave`: the engine's options,
// results and errors, with no Node or DOM-only types (hand-written).

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
  | 'Io' | 'Tls' | 'Timeout' | 'IncompatibleOptions' | 'Proxy';

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
  /** For `IncompatibleOptions`: the ClientWebSocket options that belong to the invoker. */
  readonly keys?: string[];
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

/**
 * What a WebSocket in either role does, with .NET's semantics (.NET's
 * implementation class behind `ClientWebSocket` is called `ManagedWebSocket`):
 * `M` is the entry's message class and `Bytes` its byte type (`Buffer` in
 * Node, `Uint8Array` in browsers).
 *
 * `state` and `closeStatus` follow what `receive`, `send` and `close` have
 * returned (as in .NET), not what was read: a Close read behind messages not
 * yet received shows once those and the Close were received. One `receive`
 * at a time; whole-message sends may overlap, pieces of a message may not.
 * After `abort()` every call fails.
 */
export interface WebSocketOperations<M, Bytes> extends AsyncIterable<M> {
  readonly state: WebSocketState;
  readonly closeStatus: number | undefined;
  readonly closeStatusDescription: string | undefined;
  readonly subProtocol: string | undefined;
  /** Resolves once the connection is over and the transport released (never rejects). */
  readonly closed: Promise<CloseEventInfo>;
  /** The next piece of a message, written into `buffer`. */
  receive(buffer: Uint8Array, options?: OperationOptions): Promise<ReceiveResult>;
  /** The next piece of a message (at most 64 KiB) in `data`. */
  receive(buffer?: undefined, options?: OperationOptions): Promise<ReceiveResult & { data?: Bytes }>;
  /** The next whole message, or the peer's Close. */
  receiveMessage(options?: OperationOptions): Promise<M | CloseResult>;
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
  [Symbol.asyncIterator](): AsyncIterator<M>;
}
