// What a signaling session needs of its WebSocket, and the server side's
// socket: a session of the kit's HTTP layer (`http/`), whose messages are
// bounded before they are buffered, with a rate limit on top. The client
// side (and `StreamingManager.accept` for a server of one's own) uses a
// Web `WebSocket` through `_ws_port.ts`.

import type { WebSocketSession } from "../http/websocket.ts";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { currentClock } from "../runtime/checkpoint.ts";
import { checkpoint } from "../runtime/checkpoint.ts";
import type { Clock } from "../runtime/clock.ts";
import { EndOfStream } from "../runtime/errors.ts";

/** A signaling socket, for the session's tasks. */
export interface SignalingSocket {
  /** Why this side closed the socket (`rate_limited`, `message_too_large`, ...), if it did. */
  readonly violation: { code: string; message: string } | undefined;
  /** Whether the socket is closing or closed. */
  readonly isClosed: boolean;
  /** The close code, once closing. */
  readonly closeCode: number | undefined;
  /** Waits until the socket is open (or closed). A checkpoint. */
  waitOpen(): Promise<void>;
  /**
   * The next message: a string, or something else for a binary one. A checkpoint.
   *
   * @throws {EndOfStream} The socket closed.
   */
  receive(): Promise<unknown>;
  /** Sends a message as JSON; nothing once closing. */
  send(value: unknown): void;
  /** Closes the socket and waits (bounded, shielded) until it is gone. Idempotent. */
  close(code?: number, reason?: string): Promise<void>;
}

/** The rate limit of a {@linkcode SessionSocket}. */
export interface RateLimit {
  /** Messages per second on average. */
  ratePerSecond: number;
  /** Messages at once above the rate. */
  burst: number;
  /** How long closing may wait for the socket to be gone, in ms. */
  closeTimeoutMs: number;
}

/** A session of the HTTP layer as a signaling socket, with a rate limit. */
export class SessionSocket implements SignalingSocket {
  readonly #session: WebSocketSession;
  readonly #limit: RateLimit;
  readonly #clock: Clock;
  #tokens: number;
  #refilledAt: number;
  violation: { code: string; message: string } | undefined;

  constructor(session: WebSocketSession, limit: RateLimit) {
    this.#session = session;
    this.#limit = limit;
    this.#clock = currentClock();
    this.#tokens = limit.burst;
    this.#refilledAt = this.#clock.now();
  }

  get isClosed(): boolean {
    return this.#session.state !== "open";
  }

  get closeCode(): number | undefined {
    return this.#session.closeCode;
  }

  waitOpen(): Promise<void> {
    return checkpoint(); // a session is open from the start
  }

  async receive(): Promise<unknown> {
    const message = await this.#session.receive();
    if (message === undefined) throw new EndOfStream("The signaling socket closed");
    const now = this.#clock.now();
    const { ratePerSecond, burst } = this.#limit;
    this.#tokens = Math.min(
      burst,
      this.#tokens + ((now - this.#refilledAt) / 1000) * ratePerSecond,
    );
    this.#refilledAt = now;
    if (this.#tokens < 1) {
      this.violation = {
        code: "rate_limited",
        message: `more than ${ratePerSecond} messages a second`,
      };
      this.send({
        type: "error",
        code: "rate_limited",
        message: `Closing: ${this.violation.message}`,
      });
      this.#session.close(1008, "rate_limited");
      throw new EndOfStream("The signaling socket was closed: rate limited");
    }
    this.#tokens -= 1;
    return message;
  }

  send(value: unknown): void {
    if (this.#session.state === "open") this.#session.send(JSON.stringify(value));
  }

  async close(code = 1000, reason = ""): Promise<void> {
    this.#session.close(code, reason);
    await new CancelScope({ shield: true, timeout: this.#limit.closeTimeoutMs + 1000 }).run(() =>
      this.#session.closed()
    );
  }
}
