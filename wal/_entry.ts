// An operation as the write-ahead log keeps it: a mutable entry of the log's
// table, and the frozen snapshot of it that the log hands out. Private to
// the WAL.

import type { Waiter } from "../runtime/park.ts";
import type { Operation, OperationState } from "./types.ts";

/** An operation as the log keeps it: mutable, owned by the log. */
export interface Entry {
  readonly id: string;
  readonly type: string;
  readonly params: unknown;
  readonly maxAttempts: number;
  readonly createdAt: number;
  state: OperationState;
  attempts: number;
  nextRetryAt: number | undefined;
  lastError: string | undefined;
  result: unknown;
  updatedAt: number;
  completedAt: number | undefined;
  /** Counts state changes; a record applies on replay only if its version is newer. */
  version: number;
  /** In a ready queue (lazily removed). */
  queued: boolean;
  /** A terminal state is being written; `wait()` returns once it is. */
  settling: boolean;
  /** A state change failed to be written; the next checkpoint writes the entry. */
  unsynced: boolean;
  /** `cancel()` asked a running attempt to stop. */
  cancelRequested: boolean;
  /** Cancels the running attempt; set by the processor while it runs. */
  abort: ((reason: unknown) => void) | undefined;
  /** Tasks in `wait()` or `cancel()`: woken on every change of state. */
  waiters: Set<Waiter<void>> | undefined;
}

/** The states an operation does not leave on its own: completed, failed, cancelled. */
export const TERMINAL: ReadonlySet<OperationState> = new Set(["completed", "failed", "cancelled"]);

/** A new entry, `pending`, with no attempts. */
export function newEntry(
  id: string,
  type: string,
  params: unknown,
  maxAttempts: number,
  createdAt: number,
): Entry {
  return {
    id,
    type,
    params,
    maxAttempts,
    createdAt,
    state: "pending",
    attempts: 0,
    nextRetryAt: undefined,
    lastError: undefined,
    result: undefined,
    updatedAt: createdAt,
    completedAt: undefined,
    version: 0,
    queued: false,
    settling: false,
    unsynced: false,
    cancelRequested: false,
    abort: undefined,
    waiters: undefined,
  };
}

/** The entry as an {@linkcode Operation}: a frozen snapshot. */
export function snapshot(entry: Entry): Operation {
  return Object.freeze({
    id: entry.id,
    type: entry.type,
    params: entry.params,
    state: entry.state,
    attempts: entry.attempts,
    maxAttempts: entry.maxAttempts,
    nextRetryAt: entry.nextRetryAt,
    lastError: entry.lastError,
    result: entry.result,
    createdAt: entry.createdAt,
    updatedAt: entry.updatedAt,
    completedAt: entry.completedAt,
  });
}

/** Wakes the tasks waiting for the entry to change. */
export function wakeAll(entry: Entry): void {
  const waiters = entry.waiters;
  if (waiters === undefined) return;
  entry.waiters = undefined;
  for (const waiter of waiters) waiter.wake();
}
