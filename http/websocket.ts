/**
 * WebSockets of the kit's HTTP server: a handler answers an upgrade with
 * `info.upgradeWebSocket({ onSocket })` and gets a
 * {@linkcode WebSocketSession} once the handshake is written. Unlike
 * `Deno.upgradeWebSocket`, a message is refused (close 1009) from its frame
 * header, before its payload is read, as soon as it would pass
 * `maxMessageBytes`, fragments included; a text message that is not UTF-8 is
 * closed with 1007; what the server sends waits in a queue bounded in
 * messages and bytes, and a client too slow to read it is closed with 1013
 * and its TCP socket closed at once. The socket counts against the server's
 * connection cap until it is gone.
 *
 * @module
 */

/**
 * Default limits of a WebSocket session.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WEBSOCKET_DEFAULTS } from "@ipfs-kit/kit/http";
 *
 * assert.equal(WEBSOCKET_DEFAULTS.maxMessageBytes, 64 * 1024);
 * ```
 */
export const WEBSOCKET_DEFAULTS: {
  /** The largest message a client may send, in bytes. */
  readonly maxMessageBytes: number;
  /** The most bytes waiting to be sent. */
  readonly maxQueuedBytes: number;
  /** The most messages waiting to be sent. */
  readonly maxQueuedMessages: number;
  /** How long a close handshake may take before the socket is closed, in ms. */
  readonly closeTimeoutMs: number;
} = Object.freeze({
  maxMessageBytes: 64 * 1024,
  maxQueuedBytes: 1024 * 1024,
  maxQueuedMessages: 1024,
  closeTimeoutMs: 1000,
});

/**
 * The close codes the kit's WebSocket servers and clients send.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WEBSOCKET_CLOSE_CODES } from "@ipfs-kit/kit/http";
 *
 * assert.equal(WEBSOCKET_CLOSE_CODES.messageTooBig, 1009);
 * assert.equal(WEBSOCKET_CLOSE_CODES.invalidData, 1007);
 * ```
 */
export const WEBSOCKET_CLOSE_CODES: {
  /** A normal end. */
  readonly normal: 1000;
  /** The server shuts down. */
  readonly goingAway: 1001;
  /** The peer broke the protocol. */
  readonly protocolError: 1002;
  /** A text message was not UTF-8. */
  readonly invalidData: 1007;
  /** The peer broke a rule: a rate limit, a message it may not send. */
  readonly policyViolation: 1008;
  /** A message exceeded `maxMessageBytes`. */
  readonly messageTooBig: 1009;
  /** An internal error. */
  readonly internalError: 1011;
  /** The peer read too slowly: the send queue overflowed. */
  readonly tryAgainLater: 1013;
} = Object.freeze({
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  invalidData: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
});

/** Options of `info.upgradeWebSocket`. */
export interface WebSocketUpgradeOptions {
  /**
   * Runs the session, in a task of the server (cancelled when the socket is
   * gone or the server's shutdown deadline passes). When it returns, the
   * session is closed (1000) if still open; when it throws, 1011.
   */
  onSocket: (socket: WebSocketSession) => unknown | Promise<unknown>;
  /** The subprotocol to answer, one the client offered. */
  protocol?: string;
  /** The largest message accepted, in bytes. Default 64 KiB. */
  maxMessageBytes?: number;
  /** The most bytes waiting to be sent; a send past it closes with 1013. Default 1 MiB. */
  maxQueuedBytes?: number;
  /** The most messages waiting to be sent; a send past it closes with 1013. Default 1024. */
  maxQueuedMessages?: number;
  /** How long to wait for the peer's close frame after sending one, in ms. Default 1000. */
  closeTimeoutMs?: number;
  /**
   * Called once the socket is gone (also when the handshake could not be
   * written): for counting sessions until their socket is closed. Return
   * the upgrade response from the handler, or it is never called.
   */
  onClosed?: () => void;
}

/** A received message: text as a string, binary as bytes. */
export type WebSocketMessage = string | Uint8Array;

/** Where a session stands. */
export type WebSocketState = "open" | "closing" | "closed";

/** One WebSocket connection, server side; see the module documentation. */
export interface WebSocketSession extends AsyncIterable<WebSocketMessage> {
  /** The peer. */
  readonly remoteAddr: Deno.NetAddr;
  /** The subprotocol agreed, or `""`. */
  readonly protocol: string;
  /** `open`, `closing` (a close frame went or came) or `closed` (the socket is gone). */
  readonly state: WebSocketState;
  /** The close code sent or received, once closing. */
  readonly closeCode: number | undefined;
  /** The close reason sent or received. */
  readonly closeReason: string;
  /** Bytes waiting to be sent. */
  readonly queuedBytes: number;
  /** Messages waiting to be sent. */
  readonly queuedMessages: number;
  /**
   * Queues a message. Never blocks: past `maxQueuedMessages` or
   * `maxQueuedBytes` the session is closed with 1013 and the socket with it.
   *
   * @param data Text or bytes.
   * @returns Whether it was queued (false once closing, or on overflow).
   */
  send(data: WebSocketMessage): boolean;
  /**
   * Starts the close handshake (after what is queued); the socket is closed
   * when the peer answers or after `closeTimeoutMs`. Idempotent.
   *
   * @param code The close code; default 1000.
   * @param reason Why, cut to fit the frame.
   */
  close(code?: number, reason?: string): void;
  /**
   * The next message; `undefined` once the peer closed or the session ended.
   * A checkpoint.
   *
   * @returns The message.
   */
  receive(): Promise<WebSocketMessage | undefined>;
  /**
   * Waits until the TCP socket is closed. A checkpoint.
   *
   * @returns A promise that settles once it is.
   */
  closed(): Promise<void>;
}
