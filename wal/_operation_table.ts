// The operations of an open write-ahead log and their state machine: the
// table, the counts per state and type, the ready queue, each change (in
// memory at once, then as a record), the subscribers, and checkpoints.
//
// The log's two sides both hold it: `WriteAheadLog`, the public face, for
// what its callers ask (submit, list, cancel, retry, checkpoint, close), and
// the processor (_dispatcher.ts) for what it runs (take, begin, settle,
// release). A processor made with `new OperationProcessor(wal)` finds the
// table of `wal` through `logTables`. Private to the WAL.

import type { CancelScope } from "../runtime/cancel_scope.ts";
import type { Clock } from "../runtime/clock.ts";
import { Event } from "../runtime/event.ts";
import { park, type Waiter } from "../runtime/park.ts";
import { withSignal } from "../runtime/timeouts.ts";
import { writeCheckpoint } from "./_checkpoint.ts";
import type { Encoded } from "./_codec.ts";
import { type Entry, newEntry, snapshot, TERMINAL, wakeAll } from "./_entry.ts";
import { describeError, truncate } from "./_error_text.ts";
import { ReadyQueue } from "./_ready_queue.ts";
import { encodeTransition, MAX_RESULT_BYTES, TRANSITION } from "./_records.ts";
import { type LogObserver, RecordWriter } from "./_record_writer.ts";
import { WalClosedError, WalDiskFullError, WalError, WalFailedError } from "./errors.ts";
import type { SegmentLog } from "./segment_log.ts";
import { WalTelemetry } from "./telemetry.ts";
import {
  type CheckpointResult,
  type HealthState,
  OPERATION_STATES,
  type OperationChange,
  type OperationState,
} from "./types.ts";

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

/** A transition's new values. */
export interface Change {
  state: OperationState;
  attempts?: number;
  error?: string | undefined;
  nextRetryAt?: number;
  result?: unknown;
}

/** What an {@linkcode OperationTable} starts from. */
export interface OperationTableOptions {
  log: SegmentLog;
  /** The log's observer of its segment log; it times the appends. */
  observer: LogObserver;
  /** The operations replay found. */
  entries: Map<string, Entry>;
  /** How long finished operations stay, in ms. */
  retainMs: number;
  /** How many finished operations stay at most. */
  retainCount: number;
  /** Bytes appended after which a checkpoint is due. */
  checkpointBytes: number;
  /** The runtime clock the log was opened under. */
  clock: Clock;
}

/**
 * Finds the table of an open log: `WriteAheadLog` sets `of` in a static
 * block, where its private field is in reach. `undefined` for anything that
 * is not a `WriteAheadLog`.
 */
export const logTables: { of: (wal: unknown) => OperationTable | undefined } = {
  of: () => undefined,
};

/** The operations of an open log and their state machine; see the file's header. */
export class OperationTable {
  readonly log: SegmentLog;
  readonly writer: RecordWriter;
  readonly telemetry: WalTelemetry;
  /** The runtime clock the log was opened under. */
  readonly clock: Clock;
  readonly #clockBase: number;
  readonly #wallBase: number;
  readonly #retainMs: number;
  readonly #retainCount: number;
  readonly #entries: Map<string, Entry>;
  readonly #counts: Record<OperationState, number>;
  /** Non-terminal operations per type. */
  readonly #active = new Map<string, number>();
  /** Every entry, sorted by id: the index of `page()` (a listing costs its page, not the table). */
  #order: Entry[] = [];
  /** The encoded size of each operation submitted since the log opened (for `pendingBytes`). */
  readonly #sizes = new Map<string, number>();
  #pendingBytes = 0;
  readonly #queue = new ReadyQueue();
  /** Retrying operations that found the backend unreachable. */
  readonly #awaitingBackend = new Set<Entry>();
  #changed: Event | undefined;
  /** Listeners of `WriteAheadLog.subscribe`. */
  #listeners: Set<(change: OperationChange) => void> | undefined;
  #processor: { scope: CancelScope; health: () => HealthState | undefined } | undefined;
  #checkpointChain: Promise<unknown> = Promise.resolve();
  #closing = false;

  constructor(options: OperationTableOptions) {
    this.log = options.log;
    this.clock = options.clock;
    this.#clockBase = this.clock.now();
    this.#wallBase = Date.now();
    this.#retainMs = options.retainMs;
    this.#retainCount = options.retainCount;
    this.#entries = options.entries;
    this.#counts = Object.fromEntries(OPERATION_STATES.map((s) => [s, 0])) as Record<
      OperationState,
      number
    >;
    for (const entry of this.#entries.values()) {
      this.#count(entry, 1);
      this.#queue.place(entry);
      this.#order.push(entry);
    }
    this.#order.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.telemetry = new WalTelemetry(() => ({
      log: {
        ...this.log.stats,
        segments: this.log.segmentCount,
        firstLsn: this.log.firstLsn,
        nextLsn: this.log.nextLsn,
      },
      queue: { ...this.#counts },
      health: this.#processor?.health(),
    }));
    this.writer = new RecordWriter({
      log: this.log,
      observer: options.observer,
      telemetry: this.telemetry,
      checkpointBytes: options.checkpointBytes,
    });
  }

  // ---- what the log's callers ask --------------------------------------------------

  /** Whether the log is closing (or closed). */
  get closed(): boolean {
    return this.#closing;
  }

  /** How many operations the table holds. */
  get size(): number {
    return this.#entries.size;
  }

  /** Wall-clock ms, advanced by the runtime clock the log was opened under. */
  now(): number {
    return this.#wallBase + (this.clock.now() - this.#clockBase);
  }

  /** The wall-clock ms of a reading of {@linkcode OperationTable.clock}. */
  wallTime(clockNow: number): number {
    return this.#wallBase + (clockNow - this.#clockBase);
  }

  /** The entry with this id. */
  get(id: string): Entry | undefined {
    return this.#entries.get(id);
  }

  /** Every entry, in the order of submission. */
  entries(): IterableIterator<Entry> {
    return this.#entries.values();
  }

  /** Operations not finished (pending, processing, retrying). */
  get unfinished(): number {
    return this.#counts.pending + this.#counts.processing + this.#counts.retrying;
  }

  /** Encoded bytes of the unfinished operations submitted since the log opened. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * A page of entries in id order from the index: those after `after` (in
   * `order`), that `matches`, at most `limit`; `more` when another follows.
   */
  page(
    after: string | undefined,
    order: "asc" | "desc",
    limit: number,
    matches: (entry: Entry) => boolean,
  ): { entries: Entry[]; more: boolean } {
    const list = this.#order;
    const entries: Entry[] = [];
    if (order === "asc") {
      for (let i = after === undefined ? 0 : this.#firstAbove(after); i < list.length; i++) {
        if (!matches(list[i])) continue;
        if (entries.length === limit) return { entries, more: true };
        entries.push(list[i]);
      }
    } else {
      const start = after === undefined ? list.length - 1 : this.#firstAtOrAbove(after) - 1;
      for (let i = start; i >= 0; i--) {
        if (!matches(list[i])) continue;
        if (entries.length === limit) return { entries, more: true };
        entries.push(list[i]);
      }
    }
    return { entries, more: false };
  }

  /** The index of the first entry whose id is above `id`. */
  #firstAbove(id: string): number {
    let low = 0;
    let high = this.#order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#order[mid].id <= id) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The index of the first entry whose id is `id` or above. */
  #firstAtOrAbove(id: string): number {
    let low = 0;
    let high = this.#order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#order[mid].id < id) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Puts a new entry in the index: at the end, as ids increase, else in its place. */
  #index(entry: Entry): void {
    const list = this.#order;
    if (list.length === 0 || list[list.length - 1].id < entry.id) list.push(entry);
    else list.splice(this.#firstAbove(entry.id), 0, entry);
  }

  /** How many operations are in each state. */
  counts(): Record<OperationState, number> {
    return { ...this.#counts };
  }

  /**
   * A submit record is durable (its append started at `started`): the
   * operation exists.
   */
  add(
    id: string,
    type: string,
    encoded: Encoded,
    maxAttempts: number,
    createdAt: number,
    started: number,
  ): Entry {
    this.writer.appended(true, started, encoded.bytes.length);
    const entry = newEntry(id, type, encoded.value, maxAttempts, createdAt);
    this.#entries.set(id, entry);
    this.#index(entry);
    this.#sizes.set(id, encoded.bytes.length);
    this.#count(entry, 1);
    this.#queue.place(entry);
    this.telemetry.record(type, "submitted");
    this.#notify();
    if (this.#listeners !== undefined) this.#emit("submitted", entry, undefined);
    return entry;
  }

  /** Calls `listener` on every change until the returned function is called or `signal` aborts. */
  listen(listener: (change: OperationChange) => void, signal?: AbortSignal): () => void {
    // A wrapper: the same function may subscribe twice, and unsubscribe once each.
    const subscription = (change: OperationChange) => listener(change);
    const unsubscribe = () => {
      signal?.removeEventListener("abort", unsubscribe);
      const listeners = this.#listeners;
      if (listeners?.delete(subscription) && listeners.size === 0) this.#listeners = undefined;
    };
    if (signal?.aborted) return unsubscribe;
    signal?.addEventListener("abort", unsubscribe, { once: true });
    // No set while nobody listens: a change costs one check then.
    (this.#listeners ??= new Set()).add(subscription);
    return unsubscribe;
  }

  /** A transition asked for by a user: undone in memory when it cannot be written. */
  async userTransition(entry: Entry, change: Change, what: string): Promise<void> {
    const before = { ...entry };
    const version = entry.version + 1;
    try {
      await this.#transition(entry, change, true);
    } catch (error) {
      if (entry.version === version && !(error instanceof WalFailedError)) {
        const previousState = entry.state;
        this.#count(entry, -1);
        entry.state = before.state;
        entry.attempts = before.attempts;
        entry.lastError = before.lastError;
        entry.nextRetryAt = before.nextRetryAt;
        entry.result = before.result;
        entry.updatedAt = before.updatedAt;
        entry.completedAt = before.completedAt;
        // The version stays bumped: a checkpoint may have written the change meanwhile, and
        // the next change must still win over it on replay. The next checkpoint rewrites it.
        entry.unsynced = true;
        this.#count(entry, 1);
        this.#queue.place(entry);
        this.#notify();
        this.#emit("updated", entry, previousState);
        wakeAll(entry);
      }
      if (error instanceof WalDiskFullError) {
        throw new WalDiskFullError(`${what}: the disk is full`, { cause: error });
      }
      throw error;
    }
  }

  /** Waits until the entry changes state (or the log closes). */
  async waitForChange(entry: Entry, what: string): Promise<void> {
    if (this.#closing) throw new WalClosedError(`${what}: the log is closed`);
    const waiters = entry.waiters ??= new Set();
    const waiter: Waiter<void> = park<void>(() => waiters.delete(waiter));
    waiters.add(waiter);
    await waiter.promise;
  }

  /**
   * Writes a checkpoint after those in progress (see _checkpoint.ts);
   * `signal` stops the wait for appends in flight, not the writing.
   */
  checkpoint(signal?: AbortSignal): Promise<CheckpointResult> {
    if (this.#closing) {
      return Promise.reject(new WalClosedError("Cannot write checkpoint: the log is closed"));
    }
    const run = this.#checkpointChain.then(() => withSignal(signal, () => writeCheckpoint(this)));
    this.#checkpointChain = run.catch(() => {});
    return run;
  }

  /**
   * Drops finished entries whose retention ran out; returns how many. For
   * checkpoints.
   */
  prune(): number {
    const finished: Entry[] = [];
    for (const entry of this.#entries.values()) {
      if (TERMINAL.has(entry.state) && !entry.settling) finished.push(entry);
    }
    finished.sort((a, b) => a.updatedAt - b.updatedAt);
    const oldest = this.now() - this.#retainMs;
    let dropped = 0;
    for (const entry of finished) {
      if (finished.length - dropped <= this.#retainCount && entry.updatedAt >= oldest) break;
      this.#entries.delete(entry.id);
      this.#count(entry, -1);
      this.#sizes.delete(entry.id);
      dropped++;
      this.#emit("removed", entry, entry.state);
    }
    if (dropped > 0) this.#order = this.#order.filter((entry) => this.#entries.has(entry.id));
    return dropped;
  }

  /**
   * Closes the table: later calls fail, listeners are dropped, a running
   * processor is stopped, waiting calls reject; settles once the checkpoints
   * in progress are done.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#listeners = undefined;
    this.#processor?.scope.cancel(new WalClosedError("Cannot process operations: the log closed"));
    const closed = new WalClosedError("Cannot wait for operation: the log is closed");
    for (const entry of this.#entries.values()) {
      if (entry.waiters === undefined) continue;
      for (const waiter of [...entry.waiters]) waiter.fail(closed);
      entry.waiters = undefined;
    }
    await this.#checkpointChain;
  }

  // ---- what the processor runs -----------------------------------------------------

  /** Registers the one processor; throws when another is attached. */
  attach(scope: CancelScope, health: () => HealthState | undefined): void {
    if (this.#closing) throw new WalClosedError("Cannot process operations: the log is closed");
    if (this.#processor !== undefined) {
      throw new WalError("Cannot process operations: another processor runs on this log");
    }
    this.#processor = { scope, health };
  }

  /** The processor stopped. */
  detach(): void {
    this.#processor = undefined;
  }

  /** The next operation to run among `types`, moving due retries to the queue first. */
  takeReady(types: ReadonlySet<string>): Entry | undefined {
    return this.#queue.take(types, this.now());
  }

  /** When the earliest scheduled retry is due, if any. */
  nextDue(): number | undefined {
    return this.#queue.nextDue();
  }

  /** Set on the next change that may make work available; a new event after each. */
  changed(): Event {
    return this.#changed ??= new Event();
  }

  /** Whether operations of these types are still to run or running. */
  busy(types: ReadonlySet<string>): boolean {
    for (const type of types) if (this.#active.has(type)) return true;
    return false;
  }

  /** Marks the entry processing (attempt + 1); `undefined` when it cannot run now. */
  async begin(entry: Entry): Promise<number | undefined> {
    if (entry.state !== "pending" && entry.state !== "retrying") return undefined;
    const attempt = entry.attempts + 1;
    try {
      await this.#transition(entry, { state: "processing", attempts: attempt }, false);
    } catch (error) {
      if (!(error instanceof WalDiskFullError)) throw error;
      // Not written: a crash now makes the operation pending again, which is what it was.
    }
    this.telemetry.record(entry.type, "started");
    return attempt;
  }

  /** Records how the attempt ended. */
  async settle(entry: Entry, outcome: Outcome): Promise<void> {
    if (entry.state !== "processing") return;
    const type = entry.type;
    let change: Change;
    switch (outcome.state) {
      case "completed":
        change = { state: "completed", result: outcome.result };
        break;
      case "failed":
        change = { state: "failed", error: truncate(outcome.error) };
        break;
      case "retrying":
        change = {
          state: "retrying",
          error: truncate(outcome.error),
          nextRetryAt: outcome.nextRetryAt,
          attempts: outcome.attempts,
        };
        break;
      case "cancelled":
        change = {
          state: "cancelled",
          error: outcome.error === undefined ? undefined : truncate(outcome.error),
        };
        break;
    }
    // The change applies in memory before the call returns: count what it became.
    const written = this.#transition(entry, change, false);
    const state = entry.state as OperationState;
    if (state === "retrying" && outcome.state === "retrying" && outcome.unavailable) {
      this.#awaitingBackend.add(entry);
    }
    if (state === "completed") {
      this.telemetry.record(type, "completed", (entry.updatedAt - entry.createdAt) / 1000);
    } else if (state === "failed") this.telemetry.record(type, "failed");
    else if (state === "retrying") this.telemetry.record(type, "retried");
    else if (state === "cancelled") this.telemetry.record(type, "cancelled");
    try {
      await written;
    } catch (error) {
      if (!(error instanceof WalDiskFullError)) throw error;
    }
  }

  /** Puts a processing entry back to pending, in memory only (the processor stops). */
  release(entry: Entry): void {
    if (entry.state !== "processing") return;
    this.#count(entry, -1);
    entry.state = "pending";
    this.#count(entry, 1);
    this.#queue.enqueue(entry);
    this.#notify();
    this.#emit("updated", entry, "processing");
    wakeAll(entry);
  }

  /** Makes the operations that found the backend unreachable due now: it is back. */
  resume(): void {
    const now = this.now();
    for (const entry of this.#awaitingBackend) {
      if (entry.state === "retrying" && entry.nextRetryAt! > now) {
        // In memory only: after a crash the recorded (later) time holds, which is harmless.
        entry.nextRetryAt = now;
        this.#queue.enqueue(entry);
        this.#emit("updated", entry, "retrying");
      }
    }
    this.#awaitingBackend.clear();
    this.#notify();
  }

  /** Whether enough was appended since the last checkpoint to write another. */
  checkpointDue(): boolean {
    return this.writer.checkpointDue();
  }

  /** Set once a checkpoint is due; a new event after each. */
  checkpointWanted(): Event {
    return this.writer.checkpointWanted();
  }

  // ---- changes ---------------------------------------------------------------------

  /**
   * Changes an entry's state in memory at once, then appends the transition
   * record. Rejects with the append's error; the change stays in memory.
   */
  async #transition(entry: Entry, change: Change, durable: boolean): Promise<void> {
    const now = this.now();
    const terminal = TERMINAL.has(change.state);
    const attempts = change.attempts ?? entry.attempts;
    const error = "error" in change ? change.error : entry.lastError;
    const nextRetryAt = change.state === "retrying" ? change.nextRetryAt : undefined;
    const result = change.state === "completed" ? change.result : undefined;
    let encoded: Encoded;
    try {
      encoded = encodeTransition({
        id: entry.id,
        v: entry.version + 1,
        state: change.state,
        attempts,
        at: now,
        error,
        next: nextRetryAt,
        result,
        done: terminal ? now : undefined,
      });
    } catch (encodeError) {
      if (change.state !== "completed") throw encodeError;
      // A result that cannot be stored: the operation fails instead, for good.
      return this.#transition(entry, {
        state: "failed",
        error: describeError(encodeError),
      }, durable);
    }
    if (change.state === "completed" && encoded.bytes.length > MAX_RESULT_BYTES) {
      encoded.release();
      return this.#transition(entry, {
        state: "failed",
        error: `RangeError: Cannot record operation result: it exceeds ${MAX_RESULT_BYTES} bytes`,
      }, durable);
    }
    const previousState = entry.state;
    this.#count(entry, -1);
    this.#awaitingBackend.delete(entry);
    entry.state = change.state;
    entry.attempts = attempts;
    entry.lastError = error;
    entry.nextRetryAt = nextRetryAt;
    entry.result = change.state === "completed"
      ? (encoded.value as { result: unknown }).result
      : undefined;
    entry.updatedAt = now;
    entry.completedAt = terminal ? now : undefined;
    entry.version++;
    if (change.state !== "processing") entry.cancelRequested = false;
    this.#count(entry, 1);
    this.#queue.place(entry);
    this.#notify();
    if (this.#listeners !== undefined) this.#emit("updated", entry, previousState);
    if (terminal) entry.settling = true;
    try {
      await this.writer.append(TRANSITION, encoded.bytes, durable || terminal);
    } catch (appendError) {
      entry.unsynced = true;
      this.telemetry.recordPersistError();
      throw appendError;
    } finally {
      encoded.release();
      if (terminal) entry.settling = false;
      wakeAll(entry);
    }
  }

  /** Counts an entry in (+1) or out (-1) of its state and type. */
  #count(entry: Entry, delta: 1 | -1): void {
    this.#counts[entry.state] += delta;
    if (!TERMINAL.has(entry.state)) {
      this.#pendingBytes += delta * (this.#sizes.get(entry.id) ?? 0);
      const active = (this.#active.get(entry.type) ?? 0) + delta;
      if (active === 0) this.#active.delete(entry.type);
      else this.#active.set(entry.type, active);
    }
  }

  /** Tells the subscribers about a change of `entry`. */
  #emit(
    kind: OperationChange["kind"],
    entry: Entry,
    previousState: OperationState | undefined,
  ): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    const change: OperationChange = Object.freeze({
      kind,
      operation: snapshot(entry),
      previousState,
    });
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        reportError(error);
      }
    }
  }

  #notify(): void {
    const changed = this.#changed;
    if (changed !== undefined) {
      this.#changed = undefined;
      changed.set();
    }
  }
}
