// Parsing and validation of the WebSocket feed's client messages. Private
// to the WAL; the protocol is documented in ws_feed.ts.

import { isUlid } from "./_ulid.ts";
import { FEED_TOPICS, type FeedTopic } from "./ws_feed.ts";

/** A subscription's id as the client chose it. */
export type SubscriptionId = string | number;

/** A valid client message. */
export type ClientMessage =
  | {
    op: "subscribe";
    id: SubscriptionId;
    topic: "operations";
    params: boolean;
  }
  | {
    op: "subscribe";
    id: SubscriptionId;
    topic: "operation";
    operationId: string;
    params: boolean;
  }
  | { op: "subscribe"; id: SubscriptionId; topic: "state-changes" }
  | { op: "subscribe"; id: SubscriptionId; topic: "health" | "metrics"; intervalMs: number }
  | { op: "unsubscribe"; id: SubscriptionId }
  | { op: "ping"; id: SubscriptionId | undefined };

/** A message the feed refuses: the error sent back. */
export interface ProtocolError {
  error: { code: string; message: string; id?: SubscriptionId };
}

/** Bounds of a periodic subscription's `intervalMs`. */
export const MIN_INTERVAL_MS = 100;
/** The longest `intervalMs`: an hour. */
export const MAX_INTERVAL_MS = 3_600_000;
/** Default `intervalMs` of the `health` topic. */
export const DEFAULT_HEALTH_INTERVAL_MS = 1000;
/** Default `intervalMs` of the `metrics` topic. */
export const DEFAULT_METRICS_INTERVAL_MS = 5000;
const MAX_ID_LENGTH = 64;

const COMMON_KEYS = ["op", "id", "topic"];
const KEYS: Record<string, readonly string[]> = {
  "operations": [...COMMON_KEYS, "params"],
  "operation": [...COMMON_KEYS, "operationId", "params"],
  "state-changes": COMMON_KEYS,
  "health": [...COMMON_KEYS, "intervalMs"],
  "metrics": [...COMMON_KEYS, "intervalMs"],
};

/** Parses one text message; a protocol error for anything that is not a valid client message. */
export function parseClientMessage(text: string): ClientMessage | ProtocolError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail("bad_json", `Cannot read message: not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return fail("bad_message", "Cannot read message: it must be a JSON object");
  }
  const message = value as Record<string, unknown>;
  const rawId = message.id;
  const id = isId(rawId) ? rawId : undefined;
  const op = message.op;
  if (typeof op !== "string") {
    return fail("bad_message", 'Cannot read message: "op" must be a string', id);
  }
  switch (op) {
    case "ping": {
      const extra = unknownKey(message, ["op", "id"]);
      if (extra !== undefined) return extraKey("ping", extra, id);
      if (rawId !== undefined && id === undefined) return badId("ping", id);
      return { op, id };
    }
    case "unsubscribe": {
      const extra = unknownKey(message, ["op", "id"]);
      if (extra !== undefined) return extraKey("unsubscribe", extra, id);
      if (id === undefined) return badId("unsubscribe", id);
      return { op, id };
    }
    case "subscribe":
      return parseSubscribe(message, id);
    default:
      return fail(
        "unknown_op",
        `Cannot read message: unknown op: ${
          JSON.stringify(op.slice(0, 64))
        }; expected subscribe, unsubscribe or ping`,
        id,
      );
  }
}

function parseSubscribe(
  message: Record<string, unknown>,
  id: SubscriptionId | undefined,
): ClientMessage | ProtocolError {
  if (id === undefined) return badId("subscribe", id);
  const topic = message.topic;
  if (typeof topic !== "string" || !FEED_TOPICS.includes(topic as FeedTopic)) {
    return fail(
      "unknown_topic",
      `Cannot subscribe: unknown topic: ${
        typeof topic === "string" ? JSON.stringify(topic.slice(0, 64)) : typeof topic
      }; expected one of ${FEED_TOPICS.join(", ")}`,
      id,
    );
  }
  const extra = unknownKey(message, KEYS[topic]);
  if (extra !== undefined) return extraKey(`subscribe to ${topic}`, extra, id);
  switch (topic as FeedTopic) {
    case "operations":
    case "operation": {
      const params = message.params ?? false;
      if (typeof params !== "boolean") {
        return fail("bad_message", 'Cannot subscribe: "params" must be a boolean', id);
      }
      if (topic === "operations") return { op: "subscribe", id, topic, params };
      const operationId = message.operationId;
      if (!isUlid(operationId)) {
        return fail(
          "invalid_id",
          'Cannot subscribe to operation: "operationId" must be an operation id (26 characters of Crockford base32)',
          id,
        );
      }
      return { op: "subscribe", id, topic: "operation", operationId, params };
    }
    case "state-changes":
      return { op: "subscribe", id, topic: "state-changes" };
    case "health":
    case "metrics": {
      const fallback = topic === "health"
        ? DEFAULT_HEALTH_INTERVAL_MS
        : DEFAULT_METRICS_INTERVAL_MS;
      const intervalMs = message.intervalMs ?? fallback;
      if (
        typeof intervalMs !== "number" || !Number.isSafeInteger(intervalMs) ||
        intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS
      ) {
        return fail(
          "bad_message",
          `Cannot subscribe to ${topic}: "intervalMs" must be an integer from ${MIN_INTERVAL_MS} to ${MAX_INTERVAL_MS}: received ${
            JSON.stringify(intervalMs)?.slice(0, 32)
          }`,
          id,
        );
      }
      return { op: "subscribe", id, topic: topic as "health" | "metrics", intervalMs };
    }
  }
}

function isId(value: unknown): value is SubscriptionId {
  if (typeof value === "string") return value.length >= 1 && value.length <= MAX_ID_LENGTH;
  return typeof value === "number" && Number.isSafeInteger(value);
}

function unknownKey(
  message: Record<string, unknown>,
  allowed: readonly string[],
): string | undefined {
  for (const key of Object.keys(message)) if (!allowed.includes(key)) return key;
  return undefined;
}

function extraKey(what: string, key: string, id: SubscriptionId | undefined): ProtocolError {
  return fail(
    "bad_message",
    `Cannot ${what}: unknown field: ${JSON.stringify(key.slice(0, 64))}`,
    id,
  );
}

function badId(what: string, id: SubscriptionId | undefined): ProtocolError {
  return fail(
    "bad_message",
    `Cannot ${what}: "id" must be a string of 1 to ${MAX_ID_LENGTH} characters or an integer`,
    id,
  );
}

function fail(code: string, message: string, id?: SubscriptionId): ProtocolError {
  return { error: id === undefined ? { code, message } : { code, message, id } };
}

/** Whether a parse result is an error. */
export function isProtocolError(value: ClientMessage | ProtocolError): value is ProtocolError {
  return "error" in value;
}
