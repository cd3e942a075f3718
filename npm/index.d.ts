// Type declarations of the npm package `sockweave` (hand-written).
/// <reference types="node" />

import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { ConnectionOptions, DetailedPeerCertificate } from 'node:tls';
import type {
  DeflateOptions, HeaderInit, Options, NormalizedOptions, ErrorCode, WebSocketError, WebSocketState,
  MessageType, ReceiveResult, CloseResult, SendOptions, OperationOptions, SendData, StreamPair,
  CloseEventInfo, Decide, WebSocketOperations,
} from './common';
import type { normalizeOptions } from './common';

export * from './common';

/** `ClientWebSocket` options: the engine's options, plus Node's. */
export interface ClientOptions extends Options {
  /** Passed to `tls.connect` for wss:// (ca, rejectUnauthorized, cert, key, servername, ...). */
  tls?: ConnectionOptions;
  /**
   * An HTTP proxy to tunnel through with `CONNECT` (.NET's
   * `ClientWebSocketOptions.Proxy`): a URL `'http://host:port'` (credentials
   * in it, `'http://user:pass@host:port'`, are sent as
   * `Proxy-Authorization: Basic`), or `{url, credentials: {user, password}}`.
   * Only `http://` proxies. Set, it is used for every URL (`NO_PROXY` does
   * not apply to it). Failures have code `'Proxy'`.
   */
  proxy?: string | URL | ProxyOptions;
  /**
   * Whether to use a proxy at all (.NET's `UseProxy`; default true). When no
   * `proxy` is set, the environment decides (`https_proxy` for wss://,
   * `http_proxy` for ws://, `all_proxy`, minus `no_proxy`; README "Proxies").
   * `false` connects directly, ignoring `proxy` and the environment.
   */
  useProxy?: boolean;
  /**
   * Decides on the server certificate of wss:// connections (.NET's
   * `RemoteCertificateValidationCallback`); without it Node's verdict stands.
   * A connection setting: with an invoker, set it on the `Invoker` instead.
   */
  remoteCertificateValidation?: RemoteCertificateValidation;
  /**
   * Cookies: read before each handshake (`Cookie`), given every `Set-Cookie`
   * of the handshake responses (101, 401, refusals). The rules (public
   * suffixes, Secure, Domain/Path) are the jar's: use `new CookieJar()` from
   * `tough-cookie` (README, "Cookies and credentials").
   */
  cookieJar?: CookieJarLike;
  /**
   * Sent with HTTP Basic only after the server answers 401 with a Basic
   * challenge, to the origin of the URL given to `connect`, on one new
   * connection; over ws:// only with `allowBasicOverCleartext`.
   */
  credentials?: BasicCredentials;
  /** Allows `credentials` over ws://, where anyone on the path reads the password (default false). */
  allowBasicOverCleartext?: boolean;
}

/** A user name (without `:`) and password for HTTP Basic. */
export interface BasicCredentials {
  user: string;
  password: string;
}

/**
 * The part of tough-cookie's `CookieJar` a `ClientWebSocket` uses (any
 * object with these methods will do). URLs are the http(s) form of the
 * ws(s) URL; a rejected `setCookie` is a refused cookie and is ignored.
 */
export interface CookieJarLike {
  getCookieString(url: string): Promise<string> | string;
  setCookie(cookie: string, url: string, options?: { ignoreError?: boolean }): Promise<unknown> | unknown;
}

/** What a `remoteCertificateValidation` callback is shown. */
export interface CertificateContext {
  /** The host name the client connected to (`tls.servername` if set). */
  hostname: string;
  port: number;
  /** The server's certificate and its chain (`socket.getPeerCertificate(true)`). */
  certificate: DetailedPeerCertificate;
  /** Node's verdict: the chain is trusted (`tls.ca` or Node's roots) and names the host. */
  authorized: boolean;
  /** Why Node refused it (`socket.authorizationError`, e.g. `'UNABLE_TO_VERIFY_LEAF_SIGNATURE'`); undefined if it did not. */
  error: string | undefined;
}

/**
 * A server-certificate check: return (or resolve with) `true` to accept the
 * connection, even if Node refused the certificate; anything else (or a
 * throw) refuses it with a `WebSocketError` of code `Tls`. The TLS handshake's
 * own signatures are checked whatever it says.
 */
export type RemoteCertificateValidation = (ctx: CertificateContext) => boolean | Promise<boolean>;

/** An HTTP proxy with its credentials (native's `Proxy`). */
export interface ProxyOptions {
  /** The proxy's URL, `http://host:port`. */
  url: string | URL;
  /** Sent as `Proxy-Authorization: Basic ...`; overrides credentials in `url`. */
  credentials?: { user: string; password: string };
}

/** The connection settings of an `Invoker` (.NET's `SocketsHttpHandler` properties). */
export interface InvokerOptions {
  /** Passed to `tls.connect` for every wss:// connection the invoker's sockets open. */
  tls?: ConnectionOptions;
  /** As `ClientOptions.remoteCertificateValidation`, for the invoker's connections (HTTP/1.1 and HTTP/2). */
  remoteCertificateValidation?: RemoteCertificateValidation;
  /**
   * The HTTP proxy of every connection the invoker's sockets open (native's
   * `InvokerOptions::proxy`), as `ClientOptions.proxy`. A pooled HTTP/2
   * connection (wss:// with ALPN h2, or h2c) goes through one CONNECT tunnel
   * that carries all its WebSockets; an HTTP/1.1 WebSocket takes a tunnel of
   * its own. Unset, the environment decides (unless `useProxy` is false).
   */
  proxy?: string | URL | ProxyOptions;
  /**
   * Whether to use a proxy at all (default true); `false` connects directly,
   * ignoring `proxy` and the environment (`https_proxy`, `http_proxy`,
   * `all_proxy`, `no_proxy`, read at each connect).
   */
  useProxy?: boolean;
  /**
   * Cookies shared by every WebSocket that connects through the invoker: read
   * before each handshake, given every `Set-Cookie` of the handshake
   * responses (as `ClientOptions.cookieJar`).
   */
  cookieJar?: CookieJarLike;
  /**
   * Sent with HTTP Basic only after a server of one of `credentialOrigins`
   * answers 401 with a Basic challenge, on one new connection; over ws:// only
   * with `allowBasicOverCleartext`. To any other origin they are never sent
   * (its 401 stands).
   */
  credentials?: BasicCredentials;
  /**
   * The origins `credentials` are for, as URLs (`'https://api.example'`,
   * `'wss://chat.example:8443'`): `ws` and `http` name the same origin, as do
   * `wss` and `https`; default ports count, the host's case and the path do
   * not (native's `credential_origins`; the engine's rule). With
   * `credentials` set and this list empty, a Basic challenge fails the
   * connect with `InvalidArgument` naming the origin to add here.
   */
  credentialOrigins?: ReadonlyArray<string | URL>;
  /** Allows `credentials` over ws://, where anyone on the path reads the password (default false). */
  allowBasicOverCleartext?: boolean;
}

/**
 * .NET's `HttpMessageInvoker` for WebSockets: connection settings shared by
 * many `ClientWebSocket`s (`connect(url, { invoker })`), and a pool of HTTP/2
 * connections, one per origin, each carrying many WebSockets as RFC 8441
 * extended CONNECT streams. When a connection has as many streams as the
 * server's SETTINGS_MAX_CONCURRENT_STREAMS allows, the next WebSocket opens
 * another connection to the origin (it does not wait). A connection the
 * server closes or sends GOAWAY on leaves the pool; an idle one does not keep
 * Node running. HTTP/1.1 WebSockets take a connection each.
 */
export class Invoker {
  constructor(options?: InvokerOptions);
  /** The connection settings (frozen). */
  readonly options: Readonly<InvokerOptions>;
  /** HTTP/2 connections pooled so far. */
  readonly connectionsOpened: number;
  /** Pooled HTTP/2 connections open now. */
  readonly connectionCount: number;
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /**
   * Closes every pooled connection (WebSockets still open on one go on until
   * they end); later connects through it fail with `InvalidState`.
   */
  close(): void;
}

/** Options of `ClientWebSocket#connect`. */
export interface ConnectOptions extends OperationOptions {
  /**
   * Connect through this invoker: its pooled HTTP/2 connection and its
   * connection settings. The ClientWebSocket's own connection settings
   * (`tls`, `remoteCertificateValidation`, `proxy`, `useProxy`, `cookieJar`,
   * `credentials`, `allowBasicOverCleartext`) must be at their defaults, else connect fails
   * with `IncompatibleOptions` before any I/O.
   */
  invoker?: Invoker;
}

/** A whole message. */
export class Message {
  readonly messageType: 'text' | 'binary';
  readonly data: Buffer;
  /** `data` decoded as UTF-8. */
  readonly text: string;
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
export interface ManagedWebSocket extends WebSocketOperations<Message, Buffer> {}
export class ManagedWebSocket extends EventEmitter {
  protected constructor(token: never);
  /** .NET's `CreateFromStream`: the handshake was done elsewhere; `options.isServer` picks the role. */
  static fromStream(stream: Duplex | StreamPair, options?: Options): ManagedWebSocket;
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
  /** `options.invoker` connects through an `Invoker` (native's `connect_with`). */
  connect(url: string | URL, options: ConnectOptions): Promise<void>;
  /** Connects through `invoker` (native's `connect_with(url, invoker)`). */
  connect(url: string | URL, invoker: Invoker): Promise<void>;
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
  Invoker: typeof Invoker;
  Message: typeof Message;
  WebSocketError: typeof WebSocketError;
  acceptUpgrade: typeof acceptUpgrade;
  accept: typeof accept;
  acceptH2: typeof acceptH2;
  normalizeOptions: typeof normalizeOptions;
};
export default sockweave;
