/**
 * The live WebSocket feed of the write-ahead log's HTTP API
 * ({@linkcode createWalHandler}, route `GET <basePath>/feed`): the protocol
 * and its message types. What drives its live topics is described under
 * "Live changes".
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
 * than `maxMessageBytes` (refused from its frame header, before it is read),
 * 1007 when a text message is not UTF-8, 1013 when the client reads too
 * slowly (more than `maxQueuedMessages` messages or `maxBufferedBytes` bytes
 * wait to be sent: the server never buffers without bound, and closes the
 * socket too, without waiting for an answer), 1001 when it shuts down, 1011
 * on an internal error. A connection counts against `maxConnections` until
 * its socket is closed.
 *
 * ## Live changes
 * The `operations`, `operation` and `state-changes` topics need a
 * {@linkcode WalEventSource}: the `events` option of
 * {@linkcode createWalHandler}, or by default the log's own
 * ({@linkcode walEventSource}). Without one they answer `unavailable`.
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

import type { OperationChangeKind, OperationJson, OperationState, WalHealth } from "./types.ts";
import type { WalTelemetrySnapshot } from "./telemetry.ts";

/** The feed's topics; see the module documentation. */
export type FeedTopic = "operations" | "operation" | "state-changes" | "health" | "metrics";

/**
 * Every topic of the feed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FEED_TOPICS } from "@ipfs-kit/kit/wal";
 *
 * assert(FEED_TOPICS.includes("health"));
 * ```
 */
export const FEED_TOPICS: readonly FeedTopic[] = Object.freeze([
  "operations",
  "operation",
  "state-changes",
  "health",
  "metrics",
]);

/**
 * The topics that need a {@linkcode WalEventSource}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FEED_TOPICS, LIVE_TOPICS } from "@ipfs-kit/kit/wal";
 *
 * assert(LIVE_TOPICS.every((topic) => FEED_TOPICS.includes(topic)));
 * assert(!LIVE_TOPICS.includes("metrics"));
 * ```
 */
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

/**
 * The close codes the server uses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FEED_CLOSE_CODES } from "@ipfs-kit/kit/wal";
 *
 * assert.equal(FEED_CLOSE_CODES.messageTooBig, 1009);
 * ```
 */
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
