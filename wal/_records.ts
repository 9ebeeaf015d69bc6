// The records the write-ahead log writes to its segment log, how each is
// encoded, and how a state read back applies to an entry. Private to the
// WAL; the module documentation of write_ahead_log.ts describes what each
// record is for.
//
// Every payload is a value of the codec (_codec.ts):
// - SUBMIT: {id, type, maxAttempts, at, params};
// - TRANSITION: {id, v, state, attempts, at, error, next, result, done};
// - CHECKPOINT_BEGIN: {cp, count, at}, where cp is the record's own LSN;
// - SNAPSHOT: {cp, id, type, params, maxAttempts, createdAt, v, state,
//   attempts, at, error, next, result, done}, one per operation kept;
// - CHECKPOINT_END: {cp, count}.
// `v` is the entry's version: a state record applies on replay only if its
// version is newer than the entry's.

import { type Encoded, encodeFields, encodeValue } from "./_codec.ts";
import type { Entry } from "./_entry.ts";
import { WalCorruptionError } from "./errors.ts";
import { OPERATION_STATES, type OperationState } from "./types.ts";

/** An operation was submitted: the first record of its life. */
export const SUBMIT = 1;
/** A new state of an operation. */
export const TRANSITION = 2;
/** The first record of a checkpoint. */
export const CHECKPOINT_BEGIN = 3;
/** One operation in a checkpoint. */
export const SNAPSHOT = 4;
/** The last record of a checkpoint. */
export const CHECKPOINT_END = 5;

const MIB = 1024 * 1024;
/** Room in a record for what is not parameters: state, result, error. */
export const RECORD_HEADROOM = 2 * MIB;
/** The largest result a transition record holds, encoded. */
export const MAX_RESULT_BYTES = MIB;

/** The fields of a transition record. */
export interface TransitionRecord {
  id: string;
  v: number;
  state: OperationState;
  attempts: number;
  at: number;
  error: string | undefined;
  next: number | undefined;
  result: unknown;
  done: number | undefined;
}

/**
 * Encodes submit records. The fields before the parameters are set per
 * submit in one reused array: the submit path is the hot one.
 */
export class SubmitEncoder {
  readonly #fields: (string | number)[] = ["id", "", "type", "", "maxAttempts", 0, "at", 0];

  /**
   * The record `{id, type, maxAttempts, at, params}`; its `value` is the
   * copy of `params` the log keeps.
   *
   * @throws {TypeError} The parameters cannot be stored.
   */
  encode(
    id: string,
    type: string,
    maxAttempts: number,
    createdAt: number,
    params: unknown,
  ): Encoded {
    const fields = this.#fields;
    fields[1] = id;
    fields[3] = type;
    fields[5] = maxAttempts;
    fields[7] = createdAt;
    return encodeFields(fields, "params", params, "Cannot submit operation", "params");
  }
}

/**
 * Encodes a transition record; its `value.result` is the copy of the result
 * the log keeps.
 *
 * @throws {TypeError} The result cannot be stored.
 */
export function encodeTransition(record: TransitionRecord): Encoded {
  return encodeValue(record, "Cannot record operation result", "result");
}

/** The first record of the checkpoint at `lsn`. */
export function encodeCheckpointBegin(lsn: number, count: number, at: number): Uint8Array {
  return encodeValue({ cp: lsn, count, at }, "checkpoint", "", false).bytes;
}

/** The snapshot record of `entry` in the checkpoint at `lsn`. */
export function encodeSnapshot(lsn: number, entry: Entry): Uint8Array {
  return encodeValue(
    {
      cp: lsn,
      id: entry.id,
      type: entry.type,
      params: entry.params,
      maxAttempts: entry.maxAttempts,
      createdAt: entry.createdAt,
      v: entry.version,
      state: entry.state,
      attempts: entry.attempts,
      at: entry.updatedAt,
      error: entry.lastError,
      next: entry.nextRetryAt,
      result: entry.result,
      done: entry.completedAt,
    },
    "checkpoint",
    "",
    false,
  ).bytes;
}

/** The last record of the checkpoint at `lsn`. */
export function encodeCheckpointEnd(lsn: number, count: number): Uint8Array {
  return encodeValue({ cp: lsn, count }, "checkpoint", "", false).bytes;
}

/**
 * Sets an entry's state from a transition or snapshot record read back.
 *
 * @throws {WalCorruptionError} The state is not one of an operation's.
 */
export function applyRecord(entry: Entry, value: Record<string, unknown>): void {
  const state = String(value.state) as OperationState;
  if (!OPERATION_STATES.includes(state)) {
    throw new WalCorruptionError(`unknown operation state: ${state}`);
  }
  entry.state = state;
  entry.version = Number(value.v);
  entry.attempts = Number(value.attempts);
  entry.lastError = typeof value.error === "string" ? value.error : undefined;
  entry.nextRetryAt = typeof value.next === "number" ? value.next : undefined;
  entry.result = "result" in value ? value.result : undefined;
  entry.updatedAt = Number(value.at);
  entry.completedAt = typeof value.done === "number" ? value.done : undefined;
}
