// What the operation processor needs of a WriteAheadLog beyond its public
// API: the ready queue, the state machine of a running operation, the
// checkpoint trigger. Private to the WAL.

import type { CancelScope } from "../runtime/cancel_scope.ts";
import type { Waiter } from "../runtime/park.ts";
import type { Event } from "../runtime/event.ts";
import type { OperationState } from "./operation_log.ts";
import type { HealthState } from "./processor.ts";
import type { SegmentLog } from "./segment_log.ts";
import type { WalTelemetry } from "./telemetry.ts";

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

/** How an attempt ended, as the processor reports it. */
export type Outcome =
  | { state: "completed"; result: unknown }
  | { state: "failed"; error: string }
  | {
    state: "retrying";
    error: string;
    nextRetryAt: number;
    attempts: number;
    /** The backend was unreachable: retry as soon as it is back. */
    unavailable: boolean;
  }
  | { state: "cancelled"; error: string | undefined };

/** The processor's handle on a log. */
export interface WalInternals {
  /** Wall-clock milliseconds, advanced by the runtime clock the log was opened under. */
  now(): number;
  readonly telemetry: WalTelemetry;
  /** Registers the one processor; throws when another is attached. */
  attach(scope: CancelScope, health: () => HealthState | undefined): void;
  detach(): void;
  /** The next operation to run among `types`, moving due retries to the queue first. */
  takeReady(types: ReadonlySet<string>): Entry | undefined;
  /** When the earliest scheduled retry is due, if any. */
  nextDue(): number | undefined;
  /** Set on the next change that may make work available; a new event after each. */
  changed(): Event;
  /** Whether operations of these types are still to run or running. */
  busy(types: ReadonlySet<string>): boolean;
  /** Marks the entry processing (attempt + 1); `undefined` when it cannot run now. */
  begin(entry: Entry): Promise<number | undefined>;
  /** Records how the attempt ended. */
  settle(entry: Entry, outcome: Outcome): Promise<void>;
  /** Puts a processing entry back to pending, in memory only (the processor stops). */
  release(entry: Entry): void;
  /** Makes the operations that found the backend unreachable due now: it is back. */
  resume(): void;
  /** Whether enough was appended since the last checkpoint to write another. */
  checkpointDue(): boolean;
  /** Set once a checkpoint is due; a new event after each. */
  checkpointWanted(): Event;
}

/** The internals of every open log. */
export const walInternals: WeakMap<object, WalInternals> = new WeakMap();

/** What the write-ahead log uses of a SegmentLog beyond its public API; set by segment_log.ts. */
export const segmentLogAccess: {
  /** When the log last acknowledged a group (`performance.now()`): the end of its appends. */
  ackedAt: (log: SegmentLog) => number;
} = { ackedAt: () => 0 };

const MAX_ERROR_LENGTH = 4096;

/** `"Name: message"` of an error, as operations keep it, at most 4 KiB. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return truncate(`${error.name}: ${error.message}`);
  return truncate(String(error));
}

/** Cuts a text to the length operations keep. */
export function truncate(text: string): string {
  return text.length > MAX_ERROR_LENGTH ? text.slice(0, MAX_ERROR_LENGTH - 1) + "\u2026" : text;
}
