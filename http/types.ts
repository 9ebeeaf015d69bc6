/**
 * The shapes a handler of the kit's HTTP server sees: {@linkcode Handler}
 * and its {@linkcode RequestInfo}.
 *
 * @module
 */

import type { AccessInfo, AccessOptions } from "./access.ts";
import type { WebSocketUpgradeOptions } from "./websocket.ts";

/** What a handler learns about a request besides the request itself. */
export interface RequestInfo extends AccessInfo {
  /** The peer. */
  readonly remoteAddr: Deno.NetAddr;
  /** The address the request came in on. */
  readonly localAddr: Deno.NetAddr;
  /** Whether the server verified a token for this request. */
  readonly authenticated: boolean;
  /**
   * Whether the request was `HEAD`: the handler sees it as `GET` and the
   * server sends the answer's head only.
   */
  readonly head: boolean;
  /**
   * Accepts a WebSocket upgrade: return the response it gives from the
   * handler. `onSocket` runs once the handshake is written.
   *
   * @param options The session's function and limits.
   * @returns The response to return.
   * @throws {HttpError} 400/426 the request is not a valid WebSocket upgrade.
   */
  upgradeWebSocket(options: WebSocketUpgradeOptions): Response;
}

/** A request handler of the kit's HTTP server. Runs in the server's cancel scope. */
export type Handler = (request: Request, info: RequestInfo) => Response | Promise<Response>;

/** Options of `serve`. Every listener of the kit is bounded by them. */
export interface ServeOptions extends AccessOptions {
  /** The address to listen on. Default `"127.0.0.1"`; any other than loopback needs a `token` (or `public`). */
  hostname?: string;
  /** The port; default 0, a free one. */
  port?: number;
  /** Shuts the server down (gracefully) when aborted. */
  signal?: AbortSignal;
  /** Called once the server listens. Default: nothing. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** Gets what a handler threw (it is answered with 500). Default `console.error`. */
  onError?: (error: unknown) => void;
  /** The most open connections (WebSockets included, until their socket is gone); more are closed at once. Default 1024. */
  maxConnections?: number;
  /** How long a request's head may take to arrive, from the connection's start or the head's first byte, in ms. Default 10 000. */
  headersTimeoutMs?: number;
  /** How long a kept-alive connection may sit idle, and a body read or a response write may stall, in ms. Default 30 000. */
  idleTimeoutMs?: number;
  /** The largest request head, in bytes (431 past it). Default 16 KiB. */
  maxHeaderBytes?: number;
  /** The most header fields (431 past it). Default 100. */
  maxHeaderFields?: number;
  /** The longest request target (414 past it). Default 8 KiB. */
  maxUrlLength?: number;
  /** The largest request body (413 past it: at once by Content-Length, else as soon as the bytes read pass it). Default 16 MiB; `Infinity` for none. */
  maxBodyBytes?: number;
  /** How long a graceful shutdown lets requests in flight finish before cancelling them, in ms. Default 5000. */
  shutdownTimeoutMs?: number;
}
