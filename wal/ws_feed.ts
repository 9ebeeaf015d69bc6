/**
 * The live WebSocket feed of the write-ahead log's HTTP API
 * ({@linkcode createWalHandler}, route `GET <basePath>/feed`): the protocol,
 * its message types, and the event source the feed is driven by.
 *
 * ## Protocol
 * Every message is one JSON object in a text frame; binary frames are
 * refused. On connecting, the server sends
 * `{ "type": "hello", "version": 1, "topics": [...] }` with the topics it
 * serves. The client sends:
 *
 * | message | effect |
 * |---|---|
 * | `{ "op": "subscribe", "id": 1, "topic": "operations", "params"?: false }` | every change of every operation |
 * | `{ "op": "subscribe", "id": 2, "topic": "operation", "operationId": "01J...", "params"?: false }` | the changes of one operation |
 * | `{ "op": "subscribe", "id": 3, "topic": "state-changes" }` | compact state transitions of every operation |
 * | `{ "op": "subscribe", "id": 4, "topic": "health", "intervalMs"?: 1000 }` | the log's health now and on every change |
 * | `{ "op": "subscribe", "id": 5, "topic": "metrics", "intervalMs"?: 5000 }` | a telemetry snapshot now and every `intervalMs` |
 * | `{ "op": "unsubscribe", "id": 4 }` | ends subscription 4 |
 * | `{ "op": "ping", "id"?: 6 }` | answered with `{ "type": "pong", "id": 6 }` |
 *
 * `id` is the subscription's id, chosen by the client: a string of 1 to 64
 * characters or an integer, unique on the connection. `intervalMs` is an
 * integer from 100 to 3 600 000. `params: true` puts each operation's
 * parameters in its events (byte arrays as DAG-JSON
 * `{"/": {"bytes": "<base64>"}}`, as in the HTTP API). Unknown fields are
 * refused.
 *
 * The server answers a subscription with
 * `{ "type": "subscribed", "id", "topic" }` (for the `operation` topic with
 * the operation as it is now in `operation`), an unsubscription with
 * `{ "type": "unsubscribed", "id" }`, and sends events as
 * `{ "type": "event", "id", "topic", "data" }`:
 * - `operations`, `operation`: `data` is {@linkcode OperationEventData}: the
 *   operation after the change, and its state before (`null` when it was
 *   just submitted);
 * - `state-changes`: `data` is {@linkcode StateChangeData};
 * - `health`: `data` is a {@linkcode WalHealth}, sent on subscribing and
 *   whenever it changes (checked on every health event of the log and every
 *   `intervalMs`);
 * - `metrics`: `data` is a {@linkcode WalTelemetrySnapshot} in JSON (the
 *   `+Inf` bucket bounds as the string `"+Inf"`).
 *
 * A message the server cannot accept gets `{ "type": "error", "code",
 * "message", "id"? }` and the connection stays open. Codes: `bad_json`,
 * `bad_message` (not an object, a missing or mistyped field, an unknown
 * field, `intervalMs` out of range), `unknown_op`, `unknown_topic`,
 * `invalid_id` (`operationId` is not an operation id), `not_found` (no such
 * operation), `duplicate_id`, `unknown_subscription`,
 * `too_many_subscriptions`, `unavailable` (the log reports no live changes:
 * see {@linkcode WalEventSource}), `unsupported_data` (a binary frame),
 * `internal_error`.
 *
 * The server closes the connection with code 1009 when a message is larger
 * than `maxMessageBytes`, 1013 when the client reads too slowly (its queue
 * of `maxQueuedMessages` overflowed while the socket held more than
 * `maxBufferedBytes` unsent: the server never buffers without bound), 1001
 * when it shuts down, 1011 on an internal error.
 *
 * ## Live changes
 * The `operations`, `operation` and `state-changes` topics need a
 * {@linkcode WalEventSource}: the `events` option of
 * {@linkcode createWalHandler}, or the log itself once it has a `watch()`
 * method of that shape. Without one they answer `unavailable`.
 *
 * @example Follow one operation
 * ```ts ignore
 * const feed = new WebSocket("ws://127.0.0.1:8080/api/v0/wal/feed");
 * feed.onopen = () =>
 *   feed.send(JSON.stringify({ op: "subscribe", id: 1, topic: "operation", operationId: id }));
 * feed.onmessage = (event) => {
 *   const message = JSON.parse(event.data);
 *   if (message.type === "event") console.log(message.data.operation.state);
 * };
 * ```
 *
 * @module
 */

import type { Operation, OperationState } from "./operation_log.ts";
import type { HealthState } from "./processor.ts";
import type { OperationJson, WalHealth } from "./http_api.ts";
import type { WalTelemetrySnapshot } from "./telemetry.ts";

/**
 * A change a {@linkcode WalEventSource} reports: an operation changed (it
 * was submitted, changed state or another field, or was removed by a
 * checkpoint), or the backend's health as the processor sees it changed.
 */
export type WalEvent =
  | {
    /** An operation changed. */
    readonly kind: "operation";
    /** Submitted, updated (in memory, as `get()` returns it), or removed by a checkpoint. */
    readonly change: OperationChangeKind;
    /** The operation after the change (when removed: as it was last). */
    readonly operation: Operation;
    /** Its state before the change; `undefined` when it was just submitted. */
    readonly previous: OperationState | undefined;
  }
  | {
    /** The backend's health changed. */
    readonly kind: "health";
    /** The new state; `undefined` when no processor runs. */
    readonly state: HealthState | undefined;
    /** The state before. */
    readonly previous: HealthState | undefined;
  };

/**
 * What the feed needs to be live: a way to be told of every change as it
 * happens. `watch(listener)` calls `listener` synchronously after each
 * change, in the order of the changes, until the returned `Disposable` is
 * disposed. Listeners must be quick and must not throw (the feed's only
 * queue a message).
 *
 * @example An event source of your own
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WalEvent, WalEventSource } from "@ipfs-kit/kit/wal";
 *
 * class Broadcaster implements WalEventSource {
 *   readonly #listeners = new Set<(event: WalEvent) => void>();
 *   watch(listener: (event: WalEvent) => void): Disposable {
 *     this.#listeners.add(listener);
 *     return { [Symbol.dispose]: () => this.#listeners.delete(listener) };
 *   }
 *   emit(event: WalEvent): void {
 *     for (const listener of this.#listeners) listener(event);
 *   }
 * }
 * const source = new Broadcaster();
 * let seen = 0;
 * using _ = source.watch(() => seen++);
 * source.emit({ kind: "health", state: "online", previous: undefined });
 * assert.equal(seen, 1);
 * ```
 */
export interface WalEventSource {
  /**
   * Calls `listener` after every change until the result is disposed.
   *
   * @param listener Called synchronously with each change.
   * @returns Disposing it stops the calls.
   */
  watch(listener: (event: WalEvent) => void): Disposable;
}

/** How an operation changed: see {@linkcode WalEvent}. */
export type OperationChangeKind = "submitted" | "updated" | "removed";

/** The feed's topics; see the module documentation. */
export type FeedTopic = "operations" | "operation" | "state-changes" | "health" | "metrics";

/** Every topic of the feed. */
export const FEED_TOPICS: readonly FeedTopic[] = Object.freeze([
  "operations",
  "operation",
  "state-changes",
  "health",
  "metrics",
]);

/** The topics that need a {@linkcode WalEventSource}. */
export const LIVE_TOPICS: readonly FeedTopic[] = Object.freeze([
  "operations",
  "operation",
  "state-changes",
]);

/** The id a client gives a subscription. */
export type FeedSubscriptionId = string | number;

/** What a client sends; see the module documentation. */
export type FeedRequest =
  | {
    /** Subscribe. */
    op: "subscribe";
    /** The subscription's id. */
    id: FeedSubscriptionId;
    /** Every operation. */
    topic: "operations";
    /** Include parameters in events. Default `false`. */
    params?: boolean;
  }
  | {
    /** Subscribe. */
    op: "subscribe";
    /** The subscription's id. */
    id: FeedSubscriptionId;
    /** One operation. */
    topic: "operation";
    /** Its id. */
    operationId: string;
    /** Include parameters in events. Default `false`. */
    params?: boolean;
  }
  | {
    /** Subscribe. */
    op: "subscribe";
    /** The subscription's id. */
    id: FeedSubscriptionId;
    /** State transitions of every operation. */
    topic: "state-changes";
  }
  | {
    /** Subscribe. */
    op: "subscribe";
    /** The subscription's id. */
    id: FeedSubscriptionId;
    /** Health or telemetry. */
    topic: "health" | "metrics";
    /** How often to check (health) or send (metrics), 100 to 3 600 000 ms. */
    intervalMs?: number;
  }
  | {
    /** Unsubscribe. */
    op: "unsubscribe";
    /** The subscription's id. */
    id: FeedSubscriptionId;
  }
  | {
    /** Ping. */
    op: "ping";
    /** Echoed in the pong. */
    id?: FeedSubscriptionId;
  };

/** The `data` of an event of the `operations` and `operation` topics. */
export interface OperationEventData {
  /** How it changed: submitted, updated, or removed (a checkpoint dropped it when its retention ran out). */
  change: OperationChangeKind;
  /** The operation after the change (with `params` only if the subscription asked). */
  operation: OperationJson;
  /** Its state before; `null` when it was just submitted. */
  previous: OperationState | null;
}

/** The `data` of an event of the `state-changes` topic. */
export interface StateChangeData {
  /** The operation's id. */
  id: string;
  /** Its type. */
  type: string;
  /** The state before; `null` when it was just submitted. */
  from: OperationState | null;
  /** The state after. */
  to: OperationState;
  /** Its attempts so far. */
  attempts: number;
  /** When it changed, in ms since the epoch. */
  at: number;
}

/** What the server sends; see the module documentation. */
export type FeedMessage =
  | {
    /** Sent first. */
    type: "hello";
    /** The protocol version, 1. */
    version: 1;
    /** The topics this server serves. */
    topics: FeedTopic[];
  }
  | {
    /** A subscription was made. */
    type: "subscribed";
    /** Its id. */
    id: FeedSubscriptionId;
    /** Its topic. */
    topic: FeedTopic;
    /** For the `operation` topic: the operation now. */
    operation?: OperationJson;
  }
  | {
    /** A subscription ended. */
    type: "unsubscribed";
    /** Its id. */
    id: FeedSubscriptionId;
  }
  | {
    /** The answer to a ping. */
    type: "pong";
    /** The ping's id. */
    id?: FeedSubscriptionId;
  }
  | {
    /** An event. */
    type: "event";
    /** The subscription's id. */
    id: FeedSubscriptionId;
    /** An operation topic. */
    topic: "operations" | "operation";
    /** The change. */
    data: OperationEventData;
  }
  | {
    /** An event. */
    type: "event";
    /** The subscription's id. */
    id: FeedSubscriptionId;
    /** State transitions. */
    topic: "state-changes";
    /** The transition. */
    data: StateChangeData;
  }
  | {
    /** An event. */
    type: "event";
    /** The subscription's id. */
    id: FeedSubscriptionId;
    /** Health. */
    topic: "health";
    /** The health now. */
    data: WalHealth;
  }
  | {
    /** An event. */
    type: "event";
    /** The subscription's id. */
    id: FeedSubscriptionId;
    /** Telemetry. */
    topic: "metrics";
    /** A snapshot, with `"+Inf"` for infinite bucket bounds. */
    data: WalTelemetrySnapshot;
  }
  | {
    /** A message was refused. */
    type: "error";
    /** The id of the message refused, when it had a valid one. */
    id?: FeedSubscriptionId;
    /** A stable code; see the module documentation. */
    code: string;
    /** What was wrong. */
    message: string;
  };

/** The close codes the server uses. */
export const FEED_CLOSE_CODES: {
  /** The server shuts down. */
  readonly goingAway: 1001;
  /** A message exceeded `maxMessageBytes`. */
  readonly messageTooBig: 1009;
  /** An internal error. */
  readonly internalError: 1011;
  /** The client read too slowly: its queue overflowed. */
  readonly tryAgainLater: 1013;
} = Object.freeze({
  goingAway: 1001,
  messageTooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
});

/** The shape of `WriteAheadLog.subscribe`, the log's own change listener. */
interface Subscribable {
  subscribe(
    listener: (change: {
      readonly kind: OperationChangeKind;
      readonly operation: Operation;
      readonly previousState: OperationState | undefined;
    }) => void,
  ): () => void;
}

/**
 * The log's own event source, if it has one: the log itself when it has a
 * `watch()` method as {@linkcode WalEventSource} describes, or an adapter
 * of its `subscribe(listener)` change listener. Operation changes only: the
 * log reports no health changes, so the feed's `health` topic samples.
 *
 * @param wal The log, or anything else.
 * @returns An event source, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { walEventSource, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * assert.equal(walEventSource({}), undefined);
 * const dir = await Deno.makeTempDir();
 * await using wal = await WriteAheadLog.open(dir);
 * const states: string[] = [];
 * {
 *   using _ = walEventSource(wal)!.watch((event) => {
 *     if (event.kind === "operation") states.push(event.operation.state);
 *   });
 *   const { id } = await wal.submit("custom", {});
 *   await wal.cancel(id);
 * }
 * assert.equal(states.join(), "pending,cancelled");
 * await wal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function walEventSource(wal: unknown): WalEventSource | undefined {
  if (wal === null || typeof wal !== "object") return undefined;
  if (typeof (wal as Partial<WalEventSource>).watch === "function") return wal as WalEventSource;
  if (typeof (wal as Partial<Subscribable>).subscribe !== "function") return undefined;
  const log = wal as Subscribable;
  return {
    watch(listener: (event: WalEvent) => void): Disposable {
      const unsubscribe = log.subscribe((change) =>
        listener({
          kind: "operation",
          change: change.kind,
          operation: change.operation,
          previous: change.previousState,
        })
      );
      return { [Symbol.dispose]: unsubscribe };
    },
  };
}
