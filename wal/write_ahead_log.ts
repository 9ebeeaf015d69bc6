/**
 * The write-ahead log of IPFS operations: users submit operations (add,
 * pin, unpin, block put, dag put, or types of their own) that are kept on
 * disk, with their content, until a processor has applied them to a
 * content store, across outages of the backend and crashes of the process.
 *
 * ## Records
 * Every change is a record in a {@linkcode SegmentLog}:
 * - a *submit* record holds the operation's id, type, parameters (byte
 *   arrays in them, such as the content to add, are stored whole, not
 *   referenced) and its attempt limit;
 * - a *transition* record holds a new state with the attempt count, the
 *   last error, the next retry time and the result;
 * - a *checkpoint* is a run of records, begin, one snapshot per operation
 *   kept, end, written when no other record is in flight; once it is
 *   durable the segments before it are removed ({@linkcode SegmentLog.compact}).
 *
 * Opening the log replays the records into the table of operations: a
 * complete checkpoint replaces what came before it, a partial one (cut by a
 * crash or a full disk) is ignored. An operation found `processing` was
 * interrupted by a crash: it goes back to `pending` and runs again, so
 * handlers must be idempotent (adding or pinning the same content is).
 *
 * ## States
 * `pending` -> `processing` -> `completed`, or `retrying` (then `processing`
 * again when its retry time comes) or `failed` once its attempts are spent
 * or the error is not worth retrying. `cancel()` moves a waiting operation
 * to `cancelled` (and stops a running attempt); `retry()` moves a failed or
 * cancelled one back to `pending`. Completed, failed and cancelled
 * operations stay listed for `retainMs` (at most `retainCount` of them),
 * and are dropped at the next checkpoint after that.
 *
 * ## Durability
 * `submit()` resolves once the submit record is as durable as the sync
 * policy says (see {@linkcode SegmentLog}): after `fdatasync` under
 * `"always"` and `"group"`, once written under `"none"`. A failed submit
 * (a full disk: {@linkcode WalDiskFullError}) left nothing behind: the
 * operation does not exist. Terminal states are written durably; the
 * `processing` and `retrying` states are not synced on their own (losing
 * one only makes the operation run again sooner).
 *
 * ## Damage
 * The operation log follows its segment log's rule (see "Recovery" in the
 * documentation of {@linkcode SegmentLog}): a torn tail after a crash is
 * cut off; any other damage, and a record that passes its checksum but
 * cannot be decoded, makes `open()` throw {@linkcode WalDamagedError},
 * naming the segment and the offset. With `recovery: "point-in-time"` the
 * log opens with the operations recorded before the damage, sets the rest
 * aside, and never hands out one of the LSNs it gave up again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using node = await EmbeddedNode.open({ repo: `${dir}/repo` });
 * await using wal = await WriteAheadLog.open(`${dir}/wal`, { syncPolicy: "group" });
 * const op = await wal.submit("add", { content: new TextEncoder().encode("hello\n") });
 * await wal.process({ store: node, untilIdle: true });
 * const done = await wal.wait(op.id);
 * assert.equal(done.state, "completed");
 * ```
 *
 * @module
 */

import { realClock } from "../runtime/clock.ts";
import { currentClock } from "../runtime/checkpoint.ts";
import { withSignal } from "../runtime/timeouts.ts";
import type { Encoded } from "./_codec.ts";
import { Dispatcher } from "./_dispatcher.ts";
import { type Entry, snapshot, TERMINAL } from "./_entry.ts";
import { MAX_LIST_LIMIT, MAX_TYPE_LENGTH } from "./_limits.ts";
import { logTables, OperationTable } from "./_operation_table.ts";
import { RECORD_HEADROOM, SUBMIT, SubmitEncoder } from "./_records.ts";
import { DURABLE, LogObserver } from "./_record_writer.ts";
import { replay, type Replayed, UndecodableRecord } from "./_replay.ts";
import { segmentLogInternals } from "./_segment_log_internals.ts";
import type { UlidGenerator } from "./_ulid.ts";
import {
  OperationNotFoundError,
  OperationStateError,
  WalBusyError,
  WalClosedError,
  WalCorruptionError,
  WalDamagedError,
  WalDiskFullError,
} from "./errors.ts";
import { SegmentLog } from "./segment_log.ts";
import type { WalTelemetry } from "./telemetry.ts";
import {
  type CheckpointResult,
  type ListOptions,
  type Operation,
  OPERATION_STATES,
  type OperationChange,
  type OperationState,
  type ParamsOf,
  type ProcessOptions,
  type RecoveryMode,
  type SegmentLogOptions,
  type SyncPolicy,
  type WalRecoveryReport,
} from "./types.ts";

/** Options for {@linkcode WriteAheadLog.open}. */
export interface WriteAheadLogOptions {
  /** When a record counts as durable; see {@linkcode SegmentLog}. Default `"group"`. */
  syncPolicy?: SyncPolicy;
  /** Segment file size before rotation. Default 64 MiB. */
  segmentSize?: number;
  /** How long a group commit waits for more records, in ms. Default 0. */
  maxGroupDelayMs?: number;
  /** The largest operation accepted (its encoded parameters), in bytes. Default 16 MiB. */
  maxOperationBytes?: number;
  /** Attempts before an operation fails for good, unless `submit()` says otherwise. Default 10. */
  maxAttempts?: number;
  /** How long finished (completed, failed, cancelled) operations stay listed, in ms. Default one day. */
  retainMs?: number;
  /** How many finished operations stay listed at most. Default 10 000. */
  retainCount?: number;
  /**
   * What `open()` does with damage (in its segment log, or a record that
   * cannot be decoded) other than the newest segment's torn tail: refuse
   * with {@linkcode WalDamagedError} (`"strict"`, the default), or open with
   * the operations recorded before it (`"point-in-time"`). See
   * {@linkcode RecoveryMode}.
   */
  recovery?: RecoveryMode;
  /**
   * A checkpoint is due once this many bytes were appended since the last
   * one (and at least twice what the last one wrote). A running processor
   * writes due checkpoints; `checkpoint()` writes one at once. Default 32 MiB.
   */
  checkpointBytes?: number;
  /**
   * The most unfinished operations (pending, processing, retrying); a
   * submission past it throws {@linkcode WalBusyError}. Default 10 000.
   */
  maxPending?: number;
  /**
   * The most bytes of encoded parameters of unfinished operations
   * submitted since the log opened; a submission past it throws
   * {@linkcode WalBusyError}. Default 256 MiB.
   */
  maxPendingBytes?: number;
}

/** Options for {@linkcode WriteAheadLog.submit}. */
export interface SubmitOptions {
  /** Stops waiting; a record not yet written is dropped, and the operation does not exist. */
  signal?: AbortSignal;
  /** Attempts before the operation fails for good. Default: the log's `maxAttempts`. */
  maxAttempts?: number;
}

/** Options of the calls that only wait. */
export interface WaitOptions {
  /** Stops waiting; the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What {@linkcode WriteAheadLog.list} returns. */
export interface OperationPage {
  /** The operations, in the order asked. */
  operations: Operation[];
  /** Pass as `after` to get the next page; `undefined` on the last page. */
  next: string | undefined;
}

/** Options for {@linkcode WriteAheadLog.subscribe}. */
export interface SubscribeOptions {
  /** Unsubscribes when aborted. */
  signal?: AbortSignal;
}

const MIB = 1024 * 1024;

interface Config {
  maxPending: number;
  maxPendingBytes: number;
  maxOperationBytes: number;
  maxAttempts: number;
  retainMs: number;
  retainCount: number;
  checkpointBytes: number;
}

/**
 * A durable queue of IPFS operations on a {@linkcode SegmentLog}; see the
 * module documentation. Open it with {@linkcode WriteAheadLog.open}, run a
 * processor with {@linkcode WriteAheadLog.process}, close it with `close()`
 * or `await using`.
 *
 * @example Submit, list, cancel
 * ```ts
 * import assert from "node:assert/strict";
 * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using wal = await WriteAheadLog.open(dir, { syncPolicy: "always" });
 *   const a = await wal.submit("blockPut", { bytes: new Uint8Array([1, 2, 3]) });
 *   const b = await wal.submit("my-type", { anything: ["json", 1, true] });
 *   await wal.cancel(b.id);
 *   const { operations } = await wal.list({ state: "pending" });
 *   assert(operations.length === 1 && operations[0].id === a.id);
 * }
 * // Reopened: the operations are still there, with their bytes.
 * await using wal = await WriteAheadLog.open(dir);
 * assert.equal(wal.size, 2);
 * await wal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class WriteAheadLog implements AsyncDisposable {
  readonly #log: SegmentLog;
  readonly #config: Config;
  /** The operations and their state machine, which the processor holds too. */
  readonly #table: OperationTable;
  readonly #ids: UlidGenerator;
  readonly #recovery: WalRecoveryReport;
  readonly #submits = new SubmitEncoder();
  #closePromise: Promise<void> | undefined;

  static {
    logTables.of = (wal) =>
      typeof wal === "object" && wal !== null && #table in wal ? wal.#table : undefined;
  }

  private constructor(
    log: SegmentLog,
    config: Config,
    replayed: Replayed,
    observer: LogObserver,
  ) {
    this.#log = log;
    this.#config = config;
    this.#ids = replayed.ids;
    this.#recovery = { log: log.recovery, ...replayed.report };
    this.#table = new OperationTable({
      log,
      observer,
      entries: replayed.table,
      retainMs: config.retainMs,
      retainCount: config.retainCount,
      checkpointBytes: config.checkpointBytes,
      clock: currentClock(),
    });
    observer.telemetry = this.#table.telemetry;
  }

  /**
   * Opens (creating) the log in `dir` and replays it: see the module
   * documentation. Operations interrupted while `processing` go back to
   * `pending`.
   *
   * @param dir The log's directory; one open log at a time may use it.
   * @param options Sync policy, sizes, attempts, retention, checkpoints.
   * @returns The open log.
   * @throws {WalLockedError} Another process or handle has the log open.
   * @throws {WalDamagedError} The log is damaged (a record does not match its
   * checksum or cannot be decoded, a segment is missing...) and `recovery` is
   * `"strict"`.
   * @throws {WalDirectoryError} `dir` is a file, lies under one, or cannot be
   * written.
   * @throws {RangeError} An option is out of range.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * const wal = await WriteAheadLog.open(dir, { syncPolicy: "group", retainCount: 100 });
   * assert.equal(wal.recovery.operations, 0);
   * await wal.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static async open(dir: string, options: WriteAheadLogOptions = {}): Promise<WriteAheadLog> {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`Cannot open log: options must be an object: received ${options}`);
    }
    const config: Config = {
      maxPending: checkNumber("maxPending", options.maxPending, 10_000, {
        min: 1,
        max: 1e9,
        integer: true,
      }),
      maxPendingBytes: checkNumber("maxPendingBytes", options.maxPendingBytes, 256 * MIB, {
        min: 1,
        max: Number.MAX_SAFE_INTEGER,
        integer: true,
      }),
      maxOperationBytes: checkNumber("maxOperationBytes", options.maxOperationBytes, 16 * MIB, {
        min: 64,
        max: 1000 * MIB,
        integer: true,
      }),
      maxAttempts: checkNumber("maxAttempts", options.maxAttempts, 10, {
        min: 1,
        max: 1e9,
        integer: true,
      }),
      retainMs: checkNumber("retainMs", options.retainMs, 86_400_000, { min: 0 }),
      retainCount: checkNumber("retainCount", options.retainCount, 10_000, { min: 0 }),
      checkpointBytes: checkNumber("checkpointBytes", options.checkpointBytes, 32 * MIB, {
        min: 1,
      }),
    };
    const observer = new LogObserver();
    const logOptions: SegmentLogOptions = {
      syncPolicy: options.syncPolicy,
      segmentSize: options.segmentSize,
      maxGroupDelayMs: options.maxGroupDelayMs,
      maxPayloadSize: config.maxOperationBytes + RECORD_HEADROOM,
      observer,
      recovery: options.recovery,
    };
    let log = await SegmentLog.open(dir, logOptions);
    let droppedFrom = Infinity;
    for (;;) {
      try {
        return new WriteAheadLog(log, config, await replay(log), observer);
      } catch (error) {
        if (!(error instanceof UndecodableRecord)) {
          await log.close();
          throw error;
        }
        // A record that passed its checksum but cannot be applied: damage of the operation
        // log, handled as the segment log handles its own.
        const reason = `record ${error.lsn} ${error.reason}`;
        if (logOptions.recovery !== "point-in-time") {
          const where = await segmentLogInternals.locate(log, error.lsn).finally(() => log.close());
          throw new WalDamagedError({ kind: "undecodable", ...where, lsn: error.lsn, reason });
        }
        await log.close();
        // The records before a drop decoded the first time: they cannot fail again.
        if (error.lsn >= droppedFrom) throw new WalCorruptionError(reason, { cause: error });
        droppedFrom = error.lsn;
        log = await segmentLogInternals.openDroppingFrom(dir, logOptions, {
          lsn: error.lsn,
          reason,
        }) as SegmentLog;
      }
    }
  }

  /** The log's directory. */
  get dir(): string {
    return this.#log.dir;
  }

  /** The sync policy in force. */
  get syncPolicy(): SyncPolicy {
    return this.#log.syncPolicy;
  }

  /** What `open()` found: the segment log's repairs and the replay. */
  get recovery(): WalRecoveryReport {
    return structuredClone(this.#recovery);
  }

  /** How many operations the log holds (finished ones still retained included). */
  get size(): number {
    return this.#table.size;
  }

  /** Histograms, counters and gauges: see {@linkcode WalTelemetry}. */
  get telemetry(): WalTelemetry {
    return this.#table.telemetry;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#table.closed;
  }

  /**
   * How many operations are in each state.
   *
   * @returns Counts per state.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using wal = await WriteAheadLog.open(dir);
   * await wal.submit("pin", { cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" });
   * assert(wal.counts().pending === 1 && wal.counts().completed === 0);
   * await wal.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  counts(): Record<OperationState, number> {
    return this.#table.counts();
  }

  /**
   * Submits an operation and resolves once its record (parameters included)
   * is durable under the sync policy. Parameters are JSON values,
   * `Uint8Array`s and CIDs; they are copied, so the caller may reuse its
   * buffers once the call returns.
   *
   * @param type The operation type: a built-in one (`"add"`, `"pin"`,
   * `"unpin"`, `"blockPut"`, `"dagPut"`) or one of your own handlers.
   * @param params Its parameters.
   * @param options A signal, and the attempt limit.
   * @returns The operation, `pending`.
   * @throws {TypeError} The type is empty, or the parameters hold values
   * that cannot be stored (functions, class instances, cycles).
   * @throws {RangeError} The encoded parameters exceed `maxOperationBytes`.
   * @throws {WalBusyError} `maxPending` operations are unfinished, or their parameters hold `maxPendingBytes`.
   * @throws {WalDiskFullError} The disk is full; the operation was not kept.
   * @throws {WalFailedError} The log failed on an I/O error.
   * @throws {WalClosedError} The log is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using wal = await WriteAheadLog.open(dir);
   * const op = await wal.submit("add", { content: "hello", cidVersion: 1 }, {
   *   signal: AbortSignal.timeout(10_000),
   * });
   * assert(op.state === "pending" && op.params.content === "hello");
   * await wal.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async submit<T extends string>(
    type: T,
    params: ParamsOf<T>,
    options: SubmitOptions = {},
  ): Promise<Operation<ParamsOf<T>>> {
    if (typeof type !== "string" || type === "" || type.length > MAX_TYPE_LENGTH) {
      throw new TypeError(
        `Cannot submit operation: type must be a string of 1 to ${MAX_TYPE_LENGTH} characters: received ${
          typeof type === "string" ? `${type.length} characters` : typeof type
        }`,
      );
    }
    const maxAttempts = options.maxAttempts === undefined
      ? this.#config.maxAttempts
      : checkNumber("maxAttempts", options.maxAttempts, this.#config.maxAttempts, {
        min: 1,
        max: 1e9,
        integer: true,
        what: "Cannot submit operation",
      });
    const table = this.#table;
    if (table.closed) throw new WalClosedError("Cannot submit operation: the log is closed");
    // One clock read: on the real clock it also starts the append's latency.
    const clock = table.clock;
    const clockNow = clock.now();
    const createdAt = table.wallTime(clockNow);
    const started = clock === realClock ? clockNow : performance.now();
    const id = this.#ids.next(createdAt);
    const encoded = this.#submits.encode(id, type, maxAttempts, createdAt, params);
    const size = encoded.bytes.length;
    if (size > this.#config.maxOperationBytes) {
      encoded.release();
      throw new RangeError(
        `Cannot submit operation: encoded parameters exceed ${this.#config.maxOperationBytes} bytes: received ${size}`,
      );
    }
    if (table.unfinished >= this.#config.maxPending) {
      encoded.release();
      throw new WalBusyError(
        `Cannot submit operation: ${table.unfinished} operations are unfinished (maxPending ${this.#config.maxPending})`,
      );
    }
    if (table.pendingBytes + size > this.#config.maxPendingBytes) {
      encoded.release();
      throw new WalBusyError(
        `Cannot submit operation: unfinished operations hold ${table.pendingBytes} bytes (maxPendingBytes ${this.#config.maxPendingBytes})`,
      );
    }
    const signal = options.signal;
    const writer = table.writer;
    let entry: Entry;
    try {
      if (signal === undefined && writer.gate === undefined) {
        // The common case, inline: one async frame less per submit.
        writer.enter();
        try {
          await segmentLogInternals.appendOwned(this.#log, SUBMIT, encoded.bytes, DURABLE);
          entry = table.add(id, type, encoded, maxAttempts, createdAt, started);
        } finally {
          writer.leave();
        }
      } else {
        entry = await withSignal(
          signal,
          () => this.#submitRecord(id, type, encoded, maxAttempts, createdAt),
        );
      }
    } catch (error) {
      throw submitError(error, type);
    } finally {
      // The append settled: the log no longer reads the record's bytes.
      encoded.release();
    }
    return snapshot(entry) as Operation<ParamsOf<T>>;
  }

  /**
   * Calls `listener` on every change of every operation, synchronously, as
   * it happens, in order: submissions, state changes (from the processor,
   * `cancel()`, `retry()`), and removals by checkpoints. The listener runs on
   * the log's own code path, so it should be quick (queue the change, do not
   * wait on it); an error it throws is reported (`reportError`) and
   * otherwise ignored. Listeners are dropped when the log closes.
   *
   * @param listener Called with each change.
   * @param options A signal that unsubscribes.
   * @returns A function that unsubscribes (idempotent).
   * @throws {TypeError} `listener` is not a function.
   * @throws {WalClosedError} The log is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { type OperationChange, WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using wal = await WriteAheadLog.open(dir);
   * const changes: OperationChange[] = [];
   * const unsubscribe = wal.subscribe((change) => changes.push(change));
   * const { id } = await wal.submit("custom", {});
   * await wal.cancel(id);
   * unsubscribe();
   * assert(changes.map((c) => c.kind).join() === "submitted,updated");
   * assert.equal(changes[1].operation.state, "cancelled");
   * assert.equal(changes[1].previousState, "pending");
   * await wal.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  subscribe(
    listener: (change: OperationChange) => void,
    options: SubscribeOptions = {},
  ): () => void {
    if (typeof listener !== "function") {
      throw new TypeError(
        `Cannot subscribe to changes: listener must be a function: received ${typeof listener}`,
      );
    }
    if (this.#table.closed) {
      throw new WalClosedError("Cannot subscribe to changes: the log is closed");
    }
    return this.#table.listen(listener, options.signal);
  }

  /**
   * The operation with this id, if the log holds it.
   *
   * @param id The operation's id.
   * @returns A snapshot, or `undefined`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using wal = await WriteAheadLog.open(dir);
   * const { id } = await wal.submit("unpin", { cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" });
   * assert(wal.get(id)?.type === "unpin");
   * assert.equal(wal.get("nope"), undefined);
   * await wal.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  get(id: string): Operation | undefined {
    const entry = this.#table.get(id);
    return entry === undefined ? undefined : snapshot(entry);
  }

  /**
   * Waits until the operation is completed, failed or cancelled (and that
   * state is written), and returns it. A failed operation does not make
   * this throw: look at `state` and `lastError`.
   *
   * @param id The operation's id.
   * @param options A signal.
   * @returns The operation in its terminal state.
   * @throws {OperationNotFoundError} The log holds no such operation.
   * @throws {WalClosedError} The log was closed while waiting.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using wal = await WriteAheadLog.open(dir);
   * const { id } = await wal.submit("custom", {});
   * await wal.cancel(id);
   * const op = await wal.wait(id, { signal: AbortSignal.timeout(10_000) });
   * assert.equal(op.state, "cancelled");
   * await wal.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  wait(id: string, options: WaitOptions = {}): Promise<Operation> {
    const entry = this.#table.get(id);
    if (entry === undefined) {
      return Promise.reject(
        new OperationNotFoundError(`Cannot wait for operation: not found: ${id}`, id),
      );
    }
    return withSignal(options.signal, async () => {
      while (!TERMINAL.has(entry.state) || entry.settling) {
        await this.#table.waitForChange(entry, "Cannot wait for operation");
      }
      return snapshot(entry);
    });
  }

  /**
   * Lists operations, filtered by state and type, oldest first (or newest
   * first), a page at a time.
   *
   * @param options Filters, page size, cursor and order.
   * @returns A page of snapshots and the cursor of the next page.
   *
   * @example Walk every page
   * ```ts
   * import assert from "node:assert/strict";
   * import { type Operation, WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using wal = await WriteAheadLog.open(dir);
   * for (let i = 0; i < 25; i++) await wal.submit("custom", { i });
   * const all: Operation[] = [];
   * let after: string | undefined;
   * do {
   *   const page = wal.list({ type: "custom", limit: 10, after });
   *   all.push(...page.operations);
   *   after = page.next;
   * } while (after !== undefined);
   * assert.equal(all.length, 25);
   * await wal.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  list(options: ListOptions = {}): OperationPage {
    const states = toSet(options.state, "state");
    for (const state of states ?? []) {
      if (!OPERATION_STATES.includes(state as OperationState)) {
        throw new TypeError(
          `Cannot list operations: state must be one of ${OPERATION_STATES.join(", ")}: received ${
            JSON.stringify(state)
          }`,
        );
      }
    }
    const types = toSet(options.type, "type");
    const limit = checkNumber("limit", options.limit, 100, {
      min: 1,
      max: MAX_LIST_LIMIT,
      integer: true,
      what: "Cannot list operations",
    });
    const order = options.order ?? "asc";
    if (order !== "asc" && order !== "desc") {
      throw new TypeError(
        `Cannot list operations: order must be "asc" or "desc": received ${JSON.stringify(order)}`,
      );
    }
    const after = options.after;
    if (after !== undefined && typeof after !== "string") {
      throw new TypeError(
        `Cannot list operations: after must be a string: received ${typeof after}`,
      );
    }
    // The table keeps its entries sorted by id: a page costs its length, not the table's.
    const { entries, more } = this.#table.page(
      after,
      order,
      limit,
      (entry) =>
        (states === undefined || states.has(entry.state)) &&
        (types === undefined || types.has(entry.type)),
    );
    return {
      operations: entries.map(snapshot),
      next: more ? entries[entries.length - 1].id : undefined,
    };
  }

  /**
   * Cancels an operation: a waiting one (`pending`, `retrying`) becomes
   * `cancelled` at once; a running one is asked to stop (its handler's
   * signal aborts) and becomes `cancelled` unless it completes first.
   * A finished operation is left as it is.
   *
   * @param id The operation's id.
   * @param options A signal.
   * @returns The operation after the cancellation (its state says whether it took).
   * @throws {OperationNotFoundError} The log holds no such operation.
   * @throws {WalDiskFullError} The change could not be written; nothing changed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using wal = await WriteAheadLog.open(dir);
   * const { id } = await wal.submit("pin", { cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" });
   * assert.equal((await wal.cancel(id)).state, "cancelled");
   * await wal.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  cancel(id: string, options: WaitOptions = {}): Promise<Operation> {
    const table = this.#table;
    const entry = table.get(id);
    if (entry === undefined) {
      return Promise.reject(
        new OperationNotFoundError(`Cannot cancel operation: not found: ${id}`, id),
      );
    }
    return withSignal(options.signal, async () => {
      for (;;) {
        if (table.closed) throw new WalClosedError("Cannot cancel operation: the log is closed");
        if (TERMINAL.has(entry.state)) {
          while (entry.settling) await table.waitForChange(entry, "Cannot cancel operation");
          return snapshot(entry);
        }
        if (entry.state === "processing") {
          entry.cancelRequested = true;
          entry.abort?.(new Error("Operation cancelled"));
          await table.waitForChange(entry, "Cannot cancel operation");
          continue;
        }
        await table.userTransition(entry, { state: "cancelled" }, "Cannot cancel operation");
        table.telemetry.record(entry.type, "cancelled");
        return snapshot(entry);
      }
    });
  }

  /**
   * Retries an operation now: a `failed` or `cancelled` one goes back to
   * `pending` with its attempts reset; a `retrying` one stops waiting for its
   * retry time. A `pending` one is left as it is.
   *
   * @param id The operation's id.
   * @param options A signal.
   * @returns The operation, `pending`.
   * @throws {OperationNotFoundError} The log holds no such operation.
   * @throws {OperationStateError} It completed, or is running.
   * @throws {WalDiskFullError} The change could not be written; nothing changed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using wal = await WriteAheadLog.open(dir);
   * const { id } = await wal.submit("custom", {});
   * await wal.cancel(id);
   * const op = await wal.retry(id);
   * assert(op.state === "pending" && op.attempts === 0);
   * await wal.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  retry(id: string, options: WaitOptions = {}): Promise<Operation> {
    const table = this.#table;
    const entry = table.get(id);
    if (entry === undefined) {
      return Promise.reject(
        new OperationNotFoundError(`Cannot retry operation: not found: ${id}`, id),
      );
    }
    return withSignal(options.signal, async () => {
      if (table.closed) throw new WalClosedError("Cannot retry operation: the log is closed");
      while (entry.settling) await table.waitForChange(entry, "Cannot retry operation");
      switch (entry.state) {
        case "pending":
          return snapshot(entry);
        case "processing":
        case "completed":
          throw new OperationStateError(
            `Cannot retry operation: it is ${entry.state}: ${id}`,
            id,
            entry.state,
          );
        case "retrying":
          await table.userTransition(entry, { state: "pending" }, "Cannot retry operation");
          return snapshot(entry);
        default:
          await table.userTransition(
            entry,
            { state: "pending", attempts: 0 },
            "Cannot retry operation",
          );
          return snapshot(entry);
      }
    });
  }

  /**
   * Runs a processor until cancelled (or, with `untilIdle`, until nothing is
   * left to do): see {@linkcode OperationProcessor}. One processor at a time
   * runs on a log.
   *
   * @param options The store, handlers, concurrency, retries, health monitor, a signal.
   * @returns A promise that settles when the processor stops.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using node = await EmbeddedNode.open({ repo: `${dir}/repo` });
   * await using wal = await WriteAheadLog.open(`${dir}/wal`);
   * const { id } = await wal.submit("blockPut", { bytes: new Uint8Array([1]) });
   * await wal.process({ store: node, concurrency: 4, untilIdle: true });
   * assert(wal.get(id)?.state === "completed");
   * ```
   */
  process(options: ProcessOptions): Promise<void> {
    return new Dispatcher(options).run(this.#table);
  }

  /**
   * Writes a checkpoint, then compacts: drops finished operations whose
   * retention ran out, writes a snapshot of every other operation, and once
   * that is durable removes the segments before it. New records wait while
   * the checkpoint is being written. Checkpoints run one at a time.
   *
   * @param options A signal (it stops the wait for appends in flight, not the writing).
   * @returns What was written and removed.
   * @throws {WalDiskFullError} The checkpoint could not be written; nothing was removed.
   * @throws {WalClosedError} The log is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using wal = await WriteAheadLog.open(dir, { segmentSize: 4096, retainCount: 0 });
   * for (let i = 0; i < 100; i++) {
   *   const { id } = await wal.submit("custom", { i });
   *   await wal.cancel(id);
   * }
   * const result = await wal.checkpoint();
   * assert(result.dropped === 100 && result.segmentsRemoved > 0);
   * await wal.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  checkpoint(options: WaitOptions = {}): Promise<CheckpointResult> {
    return this.#table.checkpoint(options.signal);
  }

  /**
   * Closes the log: a running processor is stopped, waiting calls reject
   * with {@linkcode WalClosedError}, appends in flight finish, and the
   * segment log is closed. Idempotent.
   *
   * @returns A promise that settles when the log is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * const wal = await WriteAheadLog.open(dir);
   * await wal.close();
   * assert(wal.closed);
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  close(): Promise<void> {
    return this.#closePromise ??= this.#close();
  }

  /** Closes the log: see {@linkcode WriteAheadLog.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    await this.#table.close();
    await this.#log.close();
  }

  /**
   * Appends a submit record after any checkpoint in progress, then adds the
   * operation to the table before the append counts as finished (so a
   * checkpoint waiting for quiet has it).
   */
  async #submitRecord(
    id: string,
    type: string,
    encoded: Encoded,
    maxAttempts: number,
    createdAt: number,
  ): Promise<Entry> {
    const writer = this.#table.writer;
    while (writer.gate !== undefined) await writer.gate.wait();
    writer.enter();
    const started = performance.now();
    try {
      await segmentLogInternals.appendOwned(this.#log, SUBMIT, encoded.bytes, DURABLE);
      return this.#table.add(id, type, encoded, maxAttempts, createdAt, started);
    } finally {
      writer.leave();
    }
  }
}

function submitError(error: unknown, type: string): unknown {
  if (error instanceof WalDiskFullError) {
    return new WalDiskFullError(
      `Cannot submit operation "${type}": the disk is full; the operation was not kept`,
      { cause: error },
    );
  }
  return error;
}

function toSet(
  value: string | readonly string[] | undefined,
  name: string,
): Set<string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") return new Set([value]);
  if (Array.isArray(value)) return new Set(value);
  throw new TypeError(
    `Cannot list operations: ${name} must be a string or an array of strings: received ${typeof value}`,
  );
}

function checkNumber(
  name: string,
  value: number | undefined,
  fallback: number,
  limits: { min: number; max?: number; integer?: boolean; what?: string },
): number {
  if (value === undefined) return fallback;
  const max = limits.max ?? Infinity;
  if (
    typeof value !== "number" || Number.isNaN(value) || value < limits.min || value > max ||
    (limits.integer && !Number.isSafeInteger(value))
  ) {
    throw new RangeError(
      `${
        limits.what ?? "Cannot open log"
      }: ${name} must be a number from ${limits.min} to ${max}: received ${value}`,
    );
  }
  return value;
}
