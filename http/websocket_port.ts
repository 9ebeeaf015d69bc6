/**
 * A WebSocket as a task sees it, on the client's side: messages wait in a
 * bounded queue for a task to `receive()` them, a message over the size
 * limit or a flood beyond the rate limit closes the socket (1009, 1008), and
 * closing waits, bounded, for the other end. The socket's event handlers
 * only queue and wake. The server's side of the same bounds is
 * `info.upgradeWebSocket` (a `WebSocketSession`).
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { currentClock } from "../runtime/checkpoint.ts";
import type { Clock } from "../runtime/clock.ts";
import { Event } from "../runtime/event.ts";
import {
  createMemoryChannel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
} from "../runtime/memory_channel.ts";
import { WEBSOCKET_CLOSE_CODES } from "./websocket.ts";

/** Limits of a {@linkcode WebSocketPort}. */
export interface WebSocketPortOptions {
  /** The largest message, in UTF-16 code units; larger closes with 1009. */
  maxMessageBytes: number;
  /** Messages waiting for the task; more closes with 1008. */
  maxQueued: number;
  /** Messages per second on average; `Infinity`: no limit. */
  ratePerSecond: number;
  /** Messages at once above the rate. */
  burst: number;
  /** How long `close()` waits for the other end. */
  closeTimeoutMs: number;
}

/**
 * A WebSocket for tasks: `receive()` the next message (a checkpoint), `send()`
 * a value as JSON, `close()` and wait for the other end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve, WebSocketPort } from "@ipfs-kit/kit/http";
 *
 * await using server = serve((_request, info) =>
 *   info.upgradeWebSocket({
 *     onSocket: async (socket) => {
 *       for await (const message of socket) socket.send(`echo ${message}`);
 *     },
 *   })
 * );
 * const port = new WebSocketPort(new WebSocket(server.url.replace("http", "ws")), {
 *   maxMessageBytes: 1024,
 *   maxQueued: 16,
 *   ratePerSecond: 100,
 *   burst: 10,
 *   closeTimeoutMs: 1000,
 * });
 * await port.waitOpen();
 * port.send({ hello: "world" });
 * assert.equal(await port.receive(), 'echo {"hello":"world"}');
 * await port.close();
 * assert.equal(port.closeCode, 1000);
 * ```
 */
export class WebSocketPort {
  readonly #socket: WebSocket;
  readonly #options: WebSocketPortOptions;
  readonly #clock: Clock;
  readonly #send: MemorySendChannel<unknown>;
  readonly #receive: MemoryReceiveChannel<unknown>;
  readonly #opened = new Event();
  readonly #closed = new Event();
  #tokens: number;
  #refilledAt: number;
  #closeCode: number | undefined;
  #closeReason = "";
  /**
   * Why this side closed the socket, as an error code (`rate_limited`,
   * `message_too_large`, `too_many_messages`, `internal_error`) and a message.
   */
  violation: { code: string; message: string } | undefined;

  /**
   * Takes over `socket` (its `on*` handlers): it may still be connecting.
   *
   * @param socket The socket.
   * @param options The limits.
   */
  constructor(socket: WebSocket, options: WebSocketPortOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#clock = currentClock();
    this.#tokens = options.burst;
    this.#refilledAt = this.#clock.now();
    [this.#send, this.#receive] = createMemoryChannel<unknown>(options.maxQueued);
    if (socket.readyState === WebSocket.OPEN) this.#opened.set();
    socket.onopen = () => this.#opened.set();
    socket.onerror = () => {}; // a close event follows
    socket.onclose = (event) => {
      this.#closeCode ??= event.code;
      this.#closeReason ||= event.reason;
      this.#opened.set();
      this.#closed.set();
      this.#send.close();
    };
    socket.onmessage = (event) => {
      try {
        this.#onMessage(event.data);
      } catch {
        this.#violate(WEBSOCKET_CLOSE_CODES.internalError, "internal_error", "Cannot read message");
      }
    };
  }

  /** Whether the socket is closed or closing. */
  get isClosed(): boolean {
    return this.#closed.isSet || this.#socket.readyState >= WebSocket.CLOSING;
  }

  /** The close code, once closed. */
  get closeCode(): number | undefined {
    return this.#closeCode;
  }

  /** The close reason, once closed. */
  get closeReason(): string {
    return this.#closeReason;
  }

  /** Waits until the socket is open (or closed). A checkpoint; cancellable. */
  waitOpen(): Promise<void> {
    return this.#opened.wait();
  }

  /** Waits until the socket closed. */
  waitClosed(): Promise<void> {
    return this.#closed.wait();
  }

  /**
   * The next message (a string, or something else for a binary frame). A
   * checkpoint; cancellable.
   *
   * @throws {EndOfStream} The socket closed.
   */
  receive(): Promise<unknown> {
    return this.#receive.receive();
  }

  /** Sends a message as JSON; nothing once the socket is closing. */
  send(value: unknown): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    try {
      this.#socket.send(JSON.stringify(value));
    } catch {
      // Closed under us: the close event follows.
    }
  }

  /**
   * Closes the socket with `code` and waits, at most `closeTimeoutMs` and
   * shielded from cancellation, until it is closed. Idempotent.
   */
  async close(code: number = WEBSOCKET_CLOSE_CODES.normal, reason: string = ""): Promise<void> {
    this.#closeCode ??= code;
    this.#closeReason ||= reason;
    this.#send.close();
    this.#receive.close();
    if (this.#closed.isSet) return;
    await new CancelScope({ shield: true, timeout: this.#options.closeTimeoutMs }).run(async () => {
      if (this.#socket.readyState === WebSocket.CONNECTING) await this.#opened.wait();
      if (this.#socket.readyState === WebSocket.OPEN) {
        try {
          this.#socket.close(code, reason.slice(0, 120));
        } catch {
          this.#socket.close();
        }
      }
      await this.#closed.wait();
    });
  }

  #onMessage(data: unknown): void {
    if (this.#send.closed) return;
    const size = typeof data === "string"
      ? data.length
      : data instanceof ArrayBuffer
      ? data.byteLength
      : data instanceof Blob
      ? data.size
      : 0;
    if (size > this.#options.maxMessageBytes) {
      this.#violate(
        WEBSOCKET_CLOSE_CODES.messageTooBig,
        "message_too_large",
        `a message of ${size} bytes, limit ${this.#options.maxMessageBytes}`,
      );
      return;
    }
    const now = this.#clock.now();
    const { ratePerSecond, burst } = this.#options;
    this.#tokens = Math.min(
      burst,
      this.#tokens + ((now - this.#refilledAt) / 1000) * ratePerSecond,
    );
    this.#refilledAt = now;
    if (this.#tokens < 1) {
      this.#violate(
        WEBSOCKET_CLOSE_CODES.policyViolation,
        "rate_limited",
        `more than ${ratePerSecond} messages a second`,
      );
      return;
    }
    this.#tokens -= 1;
    try {
      this.#send.sendNowait(data);
    } catch {
      this.#violate(
        WEBSOCKET_CLOSE_CODES.policyViolation,
        "too_many_messages",
        `more than ${this.#options.maxQueued} messages waiting`,
      );
    }
  }

  /** Ends the socket for a breach: tells the other end why, then closes. */
  #violate(code: number, errorCode: string, message: string): void {
    if (this.violation !== undefined) return;
    this.violation = { code: errorCode, message };
    this.send({ type: "error", code: errorCode, message: `Closing: ${message}` });
    this.#closeCode ??= code;
    this.#closeReason ||= errorCode;
    this.#send.close();
    try {
      this.#socket.close(code, errorCode);
    } catch {
      this.#socket.close();
    }
  }
}
