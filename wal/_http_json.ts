// JSON forms of the write-ahead log's values for the HTTP API and the
// WebSocket feed. Private to the WAL.
//
// Operation parameters and results hold JSON values, byte arrays and CIDs.
// On the wire they follow DAG-JSON: a byte array is {"/": {"bytes": "<base64>"}}
// (standard alphabet, no padding), a CID is {"/": "<cid string>"}. Inputs in
// that form become Uint8Array and CID again; any other object with a "/" key
// is refused, as DAG-JSON reserves it.

import { CID } from "npm:multiformats@14.0.5/cid";
import type { Operation, OperationJson } from "./types.ts";

/** The deepest nesting accepted in a request's parameters (the log's codec allows 128). */
export const MAX_JSON_DEPTH = 128;

/** A value that does not have the form an input must have. */
export class JsonInputError extends TypeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "JsonInputError";
  }
}

/** Converts byte arrays and CIDs in `value` to their DAG-JSON forms. */
export function toJsonValue(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object") {
    return value === undefined ? null : value;
  }
  if (value instanceof Uint8Array) return { "/": { bytes: toBase64(value) } };
  const cid = CID.asCID(value);
  if (cid !== null) return { "/": cid.toString() };
  if (depth > MAX_JSON_DEPTH) return null;
  if (Array.isArray(value)) return value.map((item) => toJsonValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    setKey(out, key, toJsonValue(item, depth + 1));
  }
  return out;
}

/**
 * Converts parsed JSON to a parameter value: DAG-JSON byte arrays and CIDs
 * become `Uint8Array` and `CID`.
 *
 * @throws {JsonInputError} A `"/"` object of another form, bad base64, a bad CID, too deep.
 */
export function fromJsonValue(value: unknown, path: string, depth = 0): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth > MAX_JSON_DEPTH) {
    throw new JsonInputError(`${path} is nested more than ${MAX_JSON_DEPTH} levels deep`);
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => fromJsonValue(item, `${path}[${i}]`, depth + 1));
  }
  const record = value as Record<string, unknown>;
  if (Object.hasOwn(record, "/")) return fromLink(record, path);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) {
    setKey(out, key, fromJsonValue(item, `${path}.${key}`, depth + 1));
  }
  return out;
}

function fromLink(record: Record<string, unknown>, path: string): unknown {
  const keys = Object.keys(record);
  const inner = record["/"];
  if (keys.length === 1 && typeof inner === "string") {
    try {
      return CID.parse(inner);
    } catch (error) {
      throw new JsonInputError(
        `${path} must be a valid CID in {"/": "<cid>"}: ${(error as Error).message}`,
      );
    }
  }
  if (
    keys.length === 1 && inner !== null && typeof inner === "object" && !Array.isArray(inner) &&
    Object.keys(inner).length === 1 && typeof (inner as { bytes?: unknown }).bytes === "string"
  ) {
    const text = (inner as { bytes: string }).bytes;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      throw new JsonInputError(`${path} must hold standard base64 in {"/": {"bytes": "..."}}`);
    }
    try {
      return Uint8Array.fromBase64(text);
    } catch {
      throw new JsonInputError(`${path} must hold standard base64 in {"/": {"bytes": "..."}}`);
    }
  }
  throw new JsonInputError(
    `${path} uses the reserved key "/": expected {"/": "<cid>"} or {"/": {"bytes": "<base64>"}}`,
  );
}

/** The API form of an operation; `params` only when asked for. */
export function operationJson(operation: Operation, withParams: boolean): OperationJson {
  const json: OperationJson = {
    id: operation.id,
    type: operation.type,
    state: operation.state,
    attempts: operation.attempts,
    maxAttempts: operation.maxAttempts,
    nextRetryAt: operation.nextRetryAt ?? null,
    lastError: operation.lastError ?? null,
    result: toJsonValue(operation.result),
    createdAt: operation.createdAt,
    updatedAt: operation.updatedAt,
    completedAt: operation.completedAt ?? null,
  };
  if (withParams) json.params = toJsonValue(operation.params);
  return json;
}

/** Serialises `value`, writing non-finite numbers as `"+Inf"`, `"-Inf"` and `"NaN"`. */
export function stringify(value: unknown): string {
  return JSON.stringify(value, infinityReplacer);
}

function infinityReplacer(_key: string, value: unknown): unknown {
  if (typeof value !== "number" || Number.isFinite(value)) return value;
  return value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN";
}

function toBase64(bytes: Uint8Array): string {
  return bytes.toBase64({ omitPadding: true });
}

/** Sets an own property, also for the key `__proto__`. */
function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else target[key] = value;
}
