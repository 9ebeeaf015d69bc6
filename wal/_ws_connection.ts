// One WebSocket connection of the WAL's live feed: the client's
// subscriptions, a bounded queue of outgoing messages and the task that
// writes them, and the tickers of periodic topics. Private to the WAL; the
// protocol is documented in ws_feed.ts.

import { CancelScope } from "../runtime/cancel_scope.ts";
import { isCancellationError } from "../runtime/errors.ts";
import { WouldBlock } from "../runtime/errors.ts";
import { Event } from "../runtime/event.ts";
import {
  createMemoryChannel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
} from "../runtime/memory_channel.ts";
import { sleep } from "../runtime/sleep.ts";
import { type TaskGroup, taskGroup } from "../runtime/task_group.ts";
import { errorMessage } from "./_error_text.ts";
import { operationJson, stringify } from "./_http_json.ts";
import {
  type ClientMessage,
  isProtocolError,
  parseClientMessage,
  type ProtocolError,
  type SubscriptionId,
} from "./_ws_protocol.ts";
import type { WalEvent, WalHealth } from "./types.ts";
import type { WriteAheadLog } from "./write_ahead_log.ts";
import { FEED_CLOSE_CODES, FEED_TOPICS, type FeedTopic, LIVE_TOPICS } from "./ws_feed.ts";

/** How often a writer looks at a socket whose send buffer is over the limit, in ms. */
const BACKPRESSURE_POLL_MS = 5;

/** What every connection of a handler shares. */
export interface FeedConfig {
  readonly wal: WriteAheadLog;
  /** Whether an event source feeds the live topics. */
  readonly live: boolean;
  readonly maxQueuedMessages: number;
  readonly maxBufferedBytes: number;
  readonly maxMessageBytes: number;
  readonly maxSubscriptions: number;
  readonly closeTimeoutMs: number;
  readonly health: () => WalHealth;
  readonly onError: (error: unknown) => void;
}

type Subscription =
  | { readonly topic: "operations"; readonly id: SubscriptionId; readonly params: boolean }
  | {
    readonly topic: "operation";
    readonly id: SubscriptionId;
    readonly operationId: string;
    readonly params: boolean;
  }
  | { readonly topic: "state-changes"; readonly id: SubscriptionId }
  | {
    readonly topic: "health" | "metrics";
    readonly id: SubscriptionId;
    readonly intervalMs: number;
    readonly scope: CancelScope;
    last: string | undefined;
  };

/** The JSON of one event, made once however many subscriptions send it. */
export class EventMemo {
  readonly event: WalEvent & { kind: "operation" };
  #plain: string | undefined;
  #withParams: string | undefined;
  #change: string | null | undefined;

  constructor(event: WalEvent & { kind: "operation" }) {
    this.event = event;
  }

  /** `{ operation, previous }`, with or without parameters. */
  operation(params: boolean): string {
    if (params) return this.#withParams ??= this.#make(true);
    return this.#plain ??= this.#make(false);
  }

  /** The state change, or `null` when the state did not change. */
  stateChange(): string | null {
    if (this.#change !== undefined) return this.#change;
    const { change, operation, previous } = this.event;
    if (change === "removed" || previous === operation.state) return this.#change = null;
    return this.#change = stringify({
      id: operation.id,
      type: operation.type,
      from: previous ?? null,
      to: operation.state,
      attempts: operation.attempts,
      at: operation.updatedAt,
    });
  }

  #make(params: boolean): string {
    const { change, operation, previous } = this.event;
    return stringify({
      change,
      operation: operationJson(operation, params),
      previous: previous ?? null,
    });
  }
}

/** One client of the feed. */
export class FeedConnection {
  readonly #socket: WebSocket;
  readonly #config: FeedConfig;
  readonly #send: MemorySendChannel<string>;
  readonly #receive: MemoryReceiveChannel<string>;
  readonly #subscriptions = new Map<SubscriptionId, Subscription>();
  readonly #scope = new CancelScope({ name: "wal feed connection" });
  /** Set once the socket is open or closed. */
  readonly #ready = new Event();
  /** Set once the socket is closed. */
  readonly #closed = new Event();
  #group: TaskGroup | undefined;
  #ending = false;
  #closeCode: number = FEED_CLOSE_CODES.goingAway;
  #closeReason = "The server is shutting down";

  constructor(socket: WebSocket, config: FeedConfig) {
    this.#socket = socket;
    this.#config = config;
    [this.#send, this.#receive] = createMemoryChannel<string>(config.maxQueuedMessages);
    socket.onopen = () => this.#ready.set();
    socket.onclose = () => {
      this.#ready.set();
      this.#closed.set();
      this.#end();
    };
    socket.onerror = () => {}; // a close event follows
    socket.onmessage = (event) => {
      try {
        this.#onMessage(event.data);
      } catch (error) {
        this.#fail(error);
      }
    };
    this.#post(stringify({ type: "hello", version: 1, topics: servedTopics(config.live) }));
  }

  /** Subscriptions open now. */
  get subscriptions(): number {
    return this.#subscriptions.size;
  }

  /**
   * Serves the connection until the socket closes, the connection ends
   * (overflow, oversized message) or the task is cancelled; then closes the
   * socket and waits (at most `closeTimeoutMs`) for it to be closed.
   */
  async run(): Promise<void> {
    try {
      await this.#scope.run(() =>
        taskGroup(async (tg) => {
          this.#group = tg;
          tg.spawn(() => this.#write());
          await this.#closed.wait();
          tg.cancelScope.cancel();
        })
      );
    } catch (error) {
      if (!isCancellationError(error)) this.#fail(error);
      else throw error;
    } finally {
      this.#ending = true;
      this.#group = undefined;
      this.#subscriptions.clear();
      this.#send.close();
      this.#receive.close();
      await this.#closeSocket();
    }
  }

  /** Sends what an event means to this client's subscriptions. Synchronous; never throws. */
  deliver(memo: EventMemo): void {
    if (this.#ending || this.#subscriptions.size === 0) return;
    const operation = memo.event.operation;
    for (const subscription of this.#subscriptions.values()) {
      switch (subscription.topic) {
        case "operations":
          this.#postEvent(subscription, memo.operation(subscription.params));
          break;
        case "operation":
          if (subscription.operationId === operation.id) {
            this.#postEvent(subscription, memo.operation(subscription.params));
          }
          break;
        case "state-changes": {
          const change = memo.stateChange();
          if (change !== null) this.#postEvent(subscription, change);
          break;
        }
      }
      if (this.#ending) return;
    }
  }

  /** The log's health changed: health subscriptions send it now. */
  healthChanged(): void {
    if (this.#ending) return;
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.topic === "health") this.#tick(subscription);
    }
  }

  // ---- incoming ---------------------------------------------------------------

  #onMessage(data: unknown): void {
    if (this.#ending) return;
    const max = this.#config.maxMessageBytes;
    if (typeof data !== "string") {
      const size = data instanceof ArrayBuffer
        ? data.byteLength
        : data instanceof Blob
        ? data.size
        : 0;
      if (size > max) return this.#tooBig();
      this.#postError({
        error: {
          code: "unsupported_data",
          message: "Cannot read message: binary messages are not supported: send JSON text",
        },
      });
      return;
    }
    if (data.length > max || (data.length * 3 > max && utf8Length(data) > max)) {
      return this.#tooBig();
    }
    const message = parseClientMessage(data);
    if (isProtocolError(message)) return this.#postError(message);
    this.#dispatch(message);
  }

  #dispatch(message: ClientMessage): void {
    switch (message.op) {
      case "ping":
        this.#post(stringify(
          message.id === undefined ? { type: "pong" } : {
            type: "pong",
            id: message.id,
          },
        ));
        return;
      case "unsubscribe": {
        const subscription = this.#subscriptions.get(message.id);
        if (subscription === undefined) {
          return this.#postError(error(
            "unknown_subscription",
            `Cannot unsubscribe: no subscription has the id ${JSON.stringify(message.id)}`,
            message.id,
          ));
        }
        this.#subscriptions.delete(message.id);
        if ("scope" in subscription) subscription.scope.cancel();
        this.#post(stringify({ type: "unsubscribed", id: message.id }));
        return;
      }
      case "subscribe":
        return this.#subscribe(message);
    }
  }

  #subscribe(message: ClientMessage & { op: "subscribe" }): void {
    const { id, topic } = message;
    if (this.#subscriptions.has(id)) {
      return this.#postError(error(
        "duplicate_id",
        `Cannot subscribe: a subscription has the id ${JSON.stringify(id)} already`,
        id,
      ));
    }
    if (this.#subscriptions.size >= this.#config.maxSubscriptions) {
      return this.#postError(error(
        "too_many_subscriptions",
        `Cannot subscribe: a connection may hold ${this.#config.maxSubscriptions} subscriptions`,
        id,
      ));
    }
    if (!this.#config.live && LIVE_TOPICS.includes(topic)) {
      return this.#postError(error(
        "unavailable",
        `Cannot subscribe to ${topic}: the log reports no live changes (it has no event source)`,
        id,
      ));
    }
    switch (message.topic) {
      case "operations":
      case "state-changes":
        this.#subscriptions.set(
          id,
          message.topic === "operations"
            ? { topic: "operations", id, params: message.params }
            : { topic: "state-changes", id },
        );
        this.#post(stringify({ type: "subscribed", id, topic }));
        return;
      case "operation": {
        const operation = this.#config.wal.get(message.operationId);
        if (operation === undefined) {
          return this.#postError(error(
            "not_found",
            `Cannot subscribe to operation: not found: ${message.operationId}`,
            id,
          ));
        }
        this.#subscriptions.set(id, {
          topic: "operation",
          id,
          operationId: message.operationId,
          params: message.params,
        });
        this.#post(stringify({
          type: "subscribed",
          id,
          topic,
          operation: operationJson(operation, message.params),
        }));
        return;
      }
      case "health":
      case "metrics": {
        const group = this.#group;
        if (group === undefined) return;
        const subscription = {
          topic: message.topic,
          id,
          intervalMs: message.intervalMs,
          scope: new CancelScope({ name: `wal feed ${message.topic}` }),
          last: undefined,
        };
        this.#subscriptions.set(id, subscription);
        this.#post(stringify({ type: "subscribed", id, topic }));
        group.spawn(() =>
          subscription.scope.run(async () => {
            for (;;) {
              this.#tick(subscription);
              await sleep(subscription.intervalMs);
            }
          })
        );
        return;
      }
    }
  }

  /** Sends a periodic topic's data: metrics always, health when it changed. */
  #tick(subscription: Subscription & { topic: "health" | "metrics" }): void {
    if (this.#ending || this.#subscriptions.get(subscription.id) !== subscription) return;
    let data: string;
    try {
      data = subscription.topic === "health"
        ? stringify(this.#config.health())
        : stringify(this.#config.wal.telemetry.snapshot());
    } catch (failure) {
      this.#config.onError(failure);
      this.#postError(error(
        "internal_error",
        `Cannot read ${subscription.topic}: ${errorMessage(failure)}`,
        subscription.id,
      ));
      return;
    }
    if (subscription.topic === "health") {
      if (data === subscription.last) return;
      subscription.last = data;
    }
    this.#postEvent(subscription, data);
  }

  // ---- outgoing ---------------------------------------------------------------

  #postEvent(subscription: Subscription, data: string): void {
    this.#post(
      `{"type":"event","id":${
        JSON.stringify(subscription.id)
      },"topic":"${subscription.topic}","data":${data}}`,
    );
  }

  #postError(refused: ProtocolError): void {
    this.#post(stringify({ type: "error", ...refused.error }));
  }

  /** Queues a message; a full queue ends the connection (the client reads too slowly). */
  #post(text: string): void {
    if (this.#ending) return;
    try {
      this.#send.sendNowait(text);
    } catch (failure) {
      if (failure instanceof WouldBlock) {
        this.#end(
          FEED_CLOSE_CODES.tryAgainLater,
          `Too slow: more than ${this.#config.maxQueuedMessages} messages waited to be sent`,
        );
      } else if (!this.#ending) this.#fail(failure);
    }
  }

  /** Writes queued messages, holding back while the socket's send buffer is over the limit. */
  async #write(): Promise<void> {
    await this.#ready.wait();
    const socket = this.#socket;
    for await (const text of this.#receive) {
      while (socket.bufferedAmount > this.#config.maxBufferedBytes) {
        if (socket.readyState !== WebSocket.OPEN) return;
        await sleep(BACKPRESSURE_POLL_MS);
      }
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send(text);
    }
  }

  // ---- ending -----------------------------------------------------------------

  #tooBig(): void {
    this.#end(
      FEED_CLOSE_CODES.messageTooBig,
      `Message too big: the limit is ${this.#config.maxMessageBytes} bytes`,
    );
  }

  #fail(failure: unknown): void {
    this.#config.onError(failure);
    this.#end(FEED_CLOSE_CODES.internalError, "Internal error");
  }

  /** Ends the connection: `run()` stops its tasks and closes the socket with `code`. */
  #end(code?: number, reason?: string): void {
    if (this.#ending) return;
    this.#ending = true;
    if (code !== undefined) {
      this.#closeCode = code;
      this.#closeReason = reason ?? "";
    }
    this.#scope.cancel();
  }

  async #closeSocket(): Promise<void> {
    const socket = this.#socket;
    if (socket.readyState === WebSocket.CLOSED) return;
    await new CancelScope({ shield: true, timeout: this.#config.closeTimeoutMs }).run(async () => {
      await this.#ready.wait();
      if (socket.readyState === WebSocket.OPEN) {
        try {
          socket.close(this.#closeCode, truncateReason(this.#closeReason));
        } catch (failure) {
          this.#config.onError(failure);
          return;
        }
      }
      await this.#closed.wait();
    });
  }
}

function error(code: string, message: string, id: SubscriptionId): ProtocolError {
  return { error: { code, message, id } };
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** A close reason fits in 123 bytes of UTF-8. */
function truncateReason(reason: string): string {
  return utf8Length(reason) <= 123 ? reason : reason.slice(0, 40);
}

/** The topics a connection may subscribe to. */
export function servedTopics(live: boolean): FeedTopic[] {
  return live ? [...FEED_TOPICS] : FEED_TOPICS.filter((t) => !LIVE_TOPICS.includes(t));
}
