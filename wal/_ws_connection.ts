// One WebSocket connection of the WAL's live feed: the client's
// subscriptions and the tickers of periodic topics, over a session of the
// HTTP layer (which bounds incoming messages before they are buffered and
// the queue of outgoing ones, closing a client too slow to read with 1013
// and its socket with it). Private to the WAL; the protocol is documented
// in ws_feed.ts.

import type { WebSocketMessage, WebSocketSession } from "../http/websocket.ts";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { isCancellationError } from "../runtime/errors.ts";
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
  readonly #socket: WebSocketSession;
  readonly #config: FeedConfig;
  readonly #subscriptions = new Map<SubscriptionId, Subscription>();
  #group: TaskGroup | undefined;
  #ending = false;

  constructor(socket: WebSocketSession, config: FeedConfig) {
    this.#socket = socket;
    this.#config = config;
    this.#post(stringify({ type: "hello", version: 1, topics: servedTopics(config.live) }));
  }

  /**
   * Serves the connection until the socket closes or the connection ends
   * (an internal error, the handler closing); the HTTP layer closes the
   * socket afterwards.
   */
  async run(): Promise<void> {
    try {
      await taskGroup(async (tg) => {
        this.#group = tg;
        for await (const message of this.#socket) {
          if (this.#ending) break;
          try {
            this.#onMessage(message);
          } catch (error) {
            this.#fail(error);
          }
        }
        tg.cancelScope.cancel();
      });
    } catch (error) {
      if (isCancellationError(error)) throw error;
      this.#fail(error);
    } finally {
      this.#ending = true;
      this.#group = undefined;
      this.#subscriptions.clear();
    }
  }

  /** Ends the connection with `code` (1001 when the handler closes). */
  end(code: number, reason: string): void {
    if (this.#ending) return;
    this.#ending = true;
    for (const subscription of this.#subscriptions.values()) {
      if ("scope" in subscription) subscription.scope.cancel();
    }
    this.#socket.close(code, reason);
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

  #onMessage(data: WebSocketMessage): void {
    if (this.#ending) return;
    // The HTTP layer refused a message over maxMessageBytes (1009) before reading it.
    if (typeof data !== "string") {
      this.#postError({
        error: {
          code: "unsupported_data",
          message: "Cannot read message: binary messages are not supported: send JSON text",
        },
      });
      return;
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

  /**
   * Queues a message. Past the session's bounds the HTTP layer closes the
   * connection (1013) and its socket: the client reads too slowly.
   */
  #post(text: string): void {
    if (this.#ending) return;
    if (!this.#socket.send(text)) this.#ending = true;
  }

  // ---- ending -----------------------------------------------------------------

  #fail(failure: unknown): void {
    this.#config.onError(failure);
    this.end(FEED_CLOSE_CODES.internalError, "Internal error");
  }
}

function error(code: string, message: string, id: SubscriptionId): ProtocolError {
  return { error: { code, message, id } };
}

/** The topics a connection may subscribe to. */
export function servedTopics(live: boolean): FeedTopic[] {
  return live ? [...FEED_TOPICS] : FEED_TOPICS.filter((t) => !LIVE_TOPICS.includes(t));
}
