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

import { MinHeap } from "../runtime/min_heap.ts";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { currentClock } from "../runtime/checkpoint.ts";
import { park, type Waiter } from "../runtime/park.ts";
import { type Clock, realClock } from "../runtime/clock.ts";
import { Event } from "../runtime/event.ts";
import { withSignal } from "../runtime/timeouts.ts";
import { decodeValue, type Encoded, encodeFields, encodeValue } from "./_codec.ts";
import {
  describeError,
  type Entry,
  type Outcome,
  segmentLogAccess,
  truncate,
  type WalInternals,
  walInternals,
} from "./_internals.ts";
import { UlidGenerator } from "./_ulid.ts";
import {
  OperationNotFoundError,
  OperationStateError,
  WalClosedError,
  WalCorruptionError,
  WalDiskFullError,
  WalError,
  WalFailedError,
} from "./errors.ts";
import type { HealthState, ProcessOptions } from "./processor.ts";
import { OperationProcessor } from "./processor.ts";
import {
  type AppendOptions,
  type AppendResult,
  type RecoveryReport,
  SegmentLog,
  type SegmentLogObserver,
  type SyncPolicy,
} from "./segment_log.ts";
import { WalTelemetry } from "./telemetry.ts";

/** Where an operation is in its life; see the module documentation. */
export type OperationState =
  | "pending"
  | "processing"
  | "retrying"
  | "completed"
  | "failed"
  | "cancelled";

/** Every state, in the order of an operation's life. */
export const OPERATION_STATES: readonly OperationState[] = Object.freeze([
  "pending",
  "processing",
  "retrying",
  "completed",
  "failed",
  "cancelled",
]);

const TERMINAL: ReadonlySet<OperationState> = new Set(["completed", "failed", "cancelled"]);

/**
 * An operation, as {@linkcode WriteAheadLog.get}, `list`, `submit` and
 * `wait` return it: a frozen snapshot. Times are milliseconds since the
 * epoch (advanced by the runtime clock of the `run()` the log was opened
 * in, so a virtual clock moves them too).
 */
export interface Operation<P = unknown> {
  /** A unique id that sorts by submission time (ULID). */
  readonly id: string;
  /** The operation type: the name of the handler that applies it. */
  readonly type: string;
  /** The parameters given to `submit()`. Byte arrays in them are views of the stored copy: do not modify them. */
  readonly params: P;
  /** Where it is in its life. */
  readonly state: OperationState;
  /** Handler attempts started so far. */
  readonly attempts: number;
  /** The most attempts before it fails for good. */
  readonly maxAttempts: number;
  /** When it is retried next (state `retrying`). */
  readonly nextRetryAt: number | undefined;
  /** The last attempt's error, as `"Name: message"`. */
  readonly lastError: string | undefined;
  /** What the handler returned (state `completed`). */
  readonly result: unknown;
  /** When it was submitted. */
  readonly createdAt: number;
  /** When its state last changed. */
  readonly updatedAt: number;
  /** When it reached its terminal state (completed, failed, cancelled). */
  readonly completedAt: number | undefined;
}

/** Parameters of the built-in `"add"` operation: one file, as {@linkcode ContentStore.add}. */
export interface AddOperationParams {
  /** The file's content. Stored in the log. */
  content: Uint8Array | string;
  /** CID version; default 0, as Kubo. */
  cidVersion?: 0 | 1;
  /** Raw leaves; default `cidVersion === 1`. */
  rawLeaves?: boolean;
  /** Chunk size in bytes; default 262144. */
  chunkSize?: number;
  /** Pin the root; default `true`. */
  pin?: boolean;
}

/** Parameters of the built-in `"pin"` operation, as {@linkcode PinApi.add}. */
export interface PinOperationParams {
  /** The CID (or path) to pin. */
  cid: string;
  /** Pin the whole DAG; default `true`. */
  recursive?: boolean;
}

/** Parameters of the built-in `"unpin"` operation, as {@linkcode PinApi.rm}. */
export interface UnpinOperationParams {
  /** The CID (or path) to unpin. Unpinning what is not pinned succeeds (it is idempotent). */
  cid: string;
  /** Remove a recursive pin too; default `true`. */
  recursive?: boolean;
}

/** Parameters of the built-in `"blockPut"` operation, as {@linkcode BlockApi.put}. */
export interface BlockPutOperationParams {
  /** The block. Stored in the log. */
  bytes: Uint8Array;
  /** Its codec; default `"raw"`. */
  codec?: "raw" | "dag-pb" | "dag-cbor" | "dag-json";
  /** The CID version; default 1. */
  cidVersion?: 0 | 1;
  /** Pin the block; default `false`. */
  pin?: boolean;
}

/** Parameters of the built-in `"dagPut"` operation, as {@linkcode DagApi.put}. */
export interface DagPutOperationParams {
  /**
   * The node: JSON values, `Uint8Array`s and CIDs (links), or the encoded
   * node as a `Uint8Array` with `inputCodec`.
   */
  value: unknown;
  /** The codec to store it with; default `"dag-cbor"`. */
  storeCodec?: "dag-cbor" | "dag-json" | "dag-pb" | "raw";
  /** The codec `value` is encoded in, when it is bytes. */
  inputCodec?: "dag-cbor" | "dag-json" | "dag-pb" | "raw";
  /** Pin the node; default `false`. */
  pin?: boolean;
}

/** The built-in operation types and their parameters. */
export interface BuiltinOperations {
  /** Add one file. */
  add: AddOperationParams;
  /** Pin a CID. */
  pin: PinOperationParams;
  /** Unpin a CID. */
  unpin: UnpinOperationParams;
  /** Store a raw block. */
  blockPut: BlockPutOperationParams;
  /** Store an IPLD node. */
  dagPut: DagPutOperationParams;
}

/** The parameters `submit()` expects for `type`: typed for the built-in types. */
export type ParamsOf<T extends string> = T extends keyof BuiltinOperations ? BuiltinOperations[T]
  : unknown;

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
   * A checkpoint is due once this many bytes were appended since the last
   * one (and at least twice what the last one wrote). A running processor
   * writes due checkpoints; `checkpoint()` writes one at once. Default 32 MiB.
   */
  checkpointBytes?: number;
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

/** Options for {@linkcode WriteAheadLog.list}. */
export interface ListOptions {
  /** Only operations in this state (or these states). */
  state?: OperationState | readonly OperationState[];
  /** Only operations of this type (or these types). */
  type?: string | readonly string[];
  /** The most operations to return, 1 to 10 000. Default 100. */
  limit?: number;
  /** The cursor: `next` of the previous page. Only ids after it (before it with `order: "desc"`). */
  after?: string;
  /** By submission time, oldest first (`"asc"`, the default) or newest first. */
  order?: "asc" | "desc";
}

/** What {@linkcode WriteAheadLog.list} returns. */
export interface OperationPage {
  /** The operations, in the order asked. */
  operations: Operation[];
  /** Pass as `after` to get the next page; `undefined` on the last page. */
  next: string | undefined;
}

/** What {@linkcode WriteAheadLog.checkpoint} returns. */
export interface CheckpointResult {
  /** The LSN of the checkpoint's first record: compaction removed segments before it. */
  lsn: number;
  /** Operations written into the checkpoint. */
  operations: number;
  /** Finished operations dropped because their retention ran out. */
  dropped: number;
  /** Segment files removed. */
  segmentsRemoved: number;
}

/** What {@linkcode WriteAheadLog.subscribe} reports: one change of one operation. */
export interface OperationChange {
  /**
   * `"submitted"`: a new operation, once its record is durable;
   * `"updated"`: its state or another field changed (in memory, as `get()`
   * returns it from then on; a terminal state's record may still be on its
   * way to the disk, see {@linkcode WriteAheadLog.wait}); `"removed"`: a
   * checkpoint dropped it (its retention ran out).
   */
  readonly kind: "submitted" | "updated" | "removed";
  /** The operation after the change (for `"removed"`: as it was last). */
  readonly operation: Operation;
  /** Its state before the change; `undefined` for `"submitted"`. */
  readonly previousState: OperationState | undefined;
}

/** Options for {@linkcode WriteAheadLog.subscribe}. */
export interface SubscribeOptions {
  /** Unsubscribes when aborted. */
  signal?: AbortSignal;
}

/** What {@linkcode WriteAheadLog.open} found. */
export interface WalRecoveryReport {
  /** What the segment log found and repaired. */
  log: RecoveryReport;
  /** Records replayed. */
  records: number;
  /** Operations in the table after replay. */
  operations: number;
  /** Operations found `processing` (interrupted by a crash) and put back to `pending`. */
  requeued: number;
  /** The LSN of the complete checkpoint replay started from, if any. */
  checkpointLsn: number | undefined;
  /** Checkpoints found incomplete (cut by a crash or a full disk) and ignored. */
  incompleteCheckpoints: number;
}

/** Feeds the log's group and sync reports to the telemetry, once there is one. */
class TelemetryObserver implements SegmentLogObserver {
  telemetry: WalTelemetry | undefined;

  group(records: number): void {
    this.telemetry?.recordGroup(records);
  }

  sync(seconds: number): void {
    this.telemetry?.recordSync(seconds);
  }
}

const DURABLE: AppendOptions = Object.freeze({ durable: true });
const BUFFERED: AppendOptions = Object.freeze({ durable: false });

// Record types in the segment log.
const SUBMIT = 1;
const TRANSITION = 2;
const CHECKPOINT_BEGIN = 3;
const SNAPSHOT = 4;
const CHECKPOINT_END = 5;

const MIB = 1024 * 1024;
/** Room in a record for what is not parameters: state, result, error. */
const RECORD_HEADROOM = 2 * MIB;
const MAX_RESULT_BYTES = MIB;
const MAX_TYPE_LENGTH = 256;
const MAX_LIST_LIMIT = 10_000;

interface Config {
  maxOperationBytes: number;
  maxAttempts: number;
  retainMs: number;
  retainCount: number;
  checkpointBytes: number;
}

interface Replayed {
  table: Map<string, Entry>;
  ids: UlidGenerator;
  report: Omit<WalRecoveryReport, "log">;
}

/** A transition's new values. */
interface Change {
  state: OperationState;
  attempts?: number;
  error?: string | undefined;
  nextRetryAt?: number;
  result?: unknown;
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
  readonly #table: Map<string, Entry>;
  readonly #ids: UlidGenerator;
  readonly #recovery: WalRecoveryReport;
  readonly #telemetry: WalTelemetry;
  readonly #clock: Clock;
  readonly #clockBase: number;
  readonly #wallBase: number;
  readonly #counts: Record<OperationState, number>;
  /** Non-terminal operations per type. */
  readonly #active = new Map<string, number>();
  /** Ready operations per type, FIFO; entries leave lazily. */
  readonly #ready = new Map<string, Deque>();
  /** Scheduled retries, earliest first. */
  /** Scheduled retries; an item whose entry moved on is stale and skipped. */
  readonly #retries = new MinHeap<RetryItem>(
    before,
    (item) => item.entry.state === "retrying" && item.entry.nextRetryAt === item.at,
  );
  #retrySeq = 0;
  /** Retrying operations that found the backend unreachable. */
  readonly #awaitingBackend = new Set<Entry>();
  #changed: Event | undefined;
  #checkpointWanted: Event | undefined;
  /** Appends in flight through `#append`. */
  #inflight = 0;
  /** Set when `#inflight` drops to zero. */
  #quiet: Event | undefined;
  /** Present while a checkpoint waits for quiet: new appends wait for it. */
  #gate: Event | undefined;
  #checkpointChain: Promise<unknown> = Promise.resolve();
  #bytesSinceCheckpoint = 0;
  #lastCheckpointBytes = 0;
  /** The fields of a submit record before its params: values set per submit. */
  readonly #submitFields: (string | number)[] = ["id", "", "type", "", "maxAttempts", 0, "at", 0];
  /** Listeners of {@linkcode WriteAheadLog.subscribe}. */
  #listeners: Set<(change: OperationChange) => void> | undefined;
  #processor: { scope: CancelScope; health: () => HealthState | undefined } | undefined;
  #closing = false;
  #closePromise: Promise<void> | undefined;

  private constructor(
    log: SegmentLog,
    config: Config,
    replayed: Replayed,
    observer: TelemetryObserver,
  ) {
    this.#log = log;
    this.#config = config;
    this.#table = replayed.table;
    this.#ids = replayed.ids;
    this.#recovery = { log: log.recovery, ...replayed.report };
    this.#clock = currentClock();
    this.#clockBase = this.#clock.now();
    this.#wallBase = Date.now();
    this.#counts = Object.fromEntries(OPERATION_STATES.map((s) => [s, 0])) as Record<
      OperationState,
      number
    >;
    for (const entry of this.#table.values()) {
      this.#count(entry, 1);
      this.#place(entry);
    }
    this.#telemetry = new WalTelemetry(() => ({
      log: {
        ...this.#log.stats,
        segments: this.#log.segmentCount,
        firstLsn: this.#log.firstLsn,
        nextLsn: this.#log.nextLsn,
      },
      queue: { ...this.#counts },
      health: this.#processor?.health(),
    }));
    observer.telemetry = this.#telemetry;
    walInternals.set(this, this.#internals());
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
   * @throws {WalCorruptionError} A record cannot be decoded.
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
    const observer = new TelemetryObserver();
    const log = await SegmentLog.open(dir, {
      syncPolicy: options.syncPolicy,
      segmentSize: options.segmentSize,
      maxGroupDelayMs: options.maxGroupDelayMs,
      maxPayloadSize: config.maxOperationBytes + RECORD_HEADROOM,
      observer,
    });
    try {
      return new WriteAheadLog(log, config, await replay(log), observer);
    } catch (error) {
      await log.close();
      throw error;
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
    return this.#telemetry;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing;
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
    return { ...this.#counts };
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
    if (this.#closing) throw new WalClosedError("Cannot submit operation: the log is closed");
    // One clock read: on the real clock it also starts the append's latency.
    const clockNow = this.#clock.now();
    const createdAt = this.#wallBase + (clockNow - this.#clockBase);
    const started = this.#clock === realClock ? clockNow : performance.now();
    const id = this.#ids.next(createdAt);
    // The record is {id, type, maxAttempts, at, params}; the fields array is reused.
    const fields = this.#submitFields;
    fields[1] = id;
    fields[3] = type;
    fields[5] = maxAttempts;
    fields[7] = createdAt;
    const encoded = encodeFields(
      fields,
      "params",
      params,
      "Cannot submit operation",
      "params",
    );
    const size = encoded.bytes.length;
    if (size > this.#config.maxOperationBytes) {
      encoded.release();
      throw new RangeError(
        `Cannot submit operation: encoded parameters exceed ${this.#config.maxOperationBytes} bytes: received ${size}`,
      );
    }
    const signal = options.signal;
    let entry: Entry;
    try {
      if (signal === undefined && this.#gate === undefined) {
        // The common case, inline: one async frame less per submit.
        this.#inflight++;
        try {
          await this.#log.append(SUBMIT, encoded.bytes, DURABLE);
          entry = this.#submitted(id, type, encoded, maxAttempts, createdAt, started);
        } finally {
          this.#leave();
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
    if (this.#closing) throw new WalClosedError("Cannot subscribe to changes: the log is closed");
    const signal = options.signal;
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
        await this.#waitForChange(entry, "Cannot wait for operation");
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
    const matches: Entry[] = [];
    for (const entry of this.#table.values()) {
      if (states !== undefined && !states.has(entry.state)) continue;
      if (types !== undefined && !types.has(entry.type)) continue;
      if (after !== undefined && (order === "asc" ? entry.id <= after : entry.id >= after)) {
        continue;
      }
      matches.push(entry);
    }
    matches.sort(
      order === "asc" ? (a, b) => compareIds(a.id, b.id) : (a, b) => compareIds(b.id, a.id),
    );
    const page = matches.slice(0, limit);
    return {
      operations: page.map(snapshot),
      next: matches.length > limit ? page[page.length - 1].id : undefined,
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
    const entry = this.#table.get(id);
    if (entry === undefined) {
      return Promise.reject(
        new OperationNotFoundError(`Cannot cancel operation: not found: ${id}`, id),
      );
    }
    return withSignal(options.signal, async () => {
      for (;;) {
        if (this.#closing) throw new WalClosedError("Cannot cancel operation: the log is closed");
        if (TERMINAL.has(entry.state)) {
          while (entry.settling) await this.#waitForChange(entry, "Cannot cancel operation");
          return snapshot(entry);
        }
        if (entry.state === "processing") {
          entry.cancelRequested = true;
          entry.abort?.(new Error("Operation cancelled"));
          await this.#waitForChange(entry, "Cannot cancel operation");
          continue;
        }
        await this.#userTransition(entry, { state: "cancelled" }, "Cannot cancel operation");
        this.#telemetry.record(entry.type, "cancelled");
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
    const entry = this.#table.get(id);
    if (entry === undefined) {
      return Promise.reject(
        new OperationNotFoundError(`Cannot retry operation: not found: ${id}`, id),
      );
    }
    return withSignal(options.signal, async () => {
      if (this.#closing) throw new WalClosedError("Cannot retry operation: the log is closed");
      while (entry.settling) await this.#waitForChange(entry, "Cannot retry operation");
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
          await this.#userTransition(entry, { state: "pending" }, "Cannot retry operation");
          return snapshot(entry);
        default:
          await this.#userTransition(
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
    return new OperationProcessor(this, options).run();
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
    if (this.#closing) {
      return Promise.reject(new WalClosedError("Cannot write checkpoint: the log is closed"));
    }
    const run = this.#checkpointChain.then(() =>
      withSignal(options.signal, () => this.#checkpointNow())
    );
    this.#checkpointChain = run.catch(() => {});
    return run;
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
    this.#closing = true;
    this.#listeners = undefined;
    this.#processor?.scope.cancel(new WalClosedError("Cannot process operations: the log closed"));
    const closed = new WalClosedError("Cannot wait for operation: the log is closed");
    for (const entry of this.#table.values()) {
      if (entry.waiters === undefined) continue;
      for (const waiter of [...entry.waiters]) waiter.fail(closed);
      entry.waiters = undefined;
    }
    await this.#checkpointChain;
    await this.#log.close();
    walInternals.delete(this);
  }

  // ---- appends, transitions -------------------------------------------------

  /** Wall-clock ms, advanced by the runtime clock the log was opened under. */
  #now(): number {
    return this.#wallBase + (this.#clock.now() - this.#clockBase);
  }

  /** Appends a record, after any checkpoint in progress. */
  async #append(type: number, bytes: Uint8Array, durable: boolean): Promise<number> {
    while (this.#gate !== undefined) await this.#gate.wait();
    this.#inflight++;
    const started = performance.now();
    try {
      const { lsn } = await this.#log.append(type, bytes, durable ? DURABLE : BUFFERED);
      this.#appended(durable, started, bytes.length);
      return lsn;
    } finally {
      this.#leave();
    }
  }

  /**
   * Appends a submit record, then adds the operation to the table before the
   * append counts as finished (so a checkpoint waiting for quiet has it).
   */
  async #submitRecord(
    id: string,
    type: string,
    encoded: Encoded,
    maxAttempts: number,
    createdAt: number,
  ): Promise<Entry> {
    while (this.#gate !== undefined) await this.#gate.wait();
    this.#inflight++;
    const started = performance.now();
    try {
      await this.#log.append(SUBMIT, encoded.bytes, DURABLE);
      return this.#submitted(id, type, encoded, maxAttempts, createdAt, started);
    } finally {
      this.#leave();
    }
  }

  /** A submit record is durable: the operation exists. */
  #submitted(
    id: string,
    type: string,
    encoded: Encoded,
    maxAttempts: number,
    createdAt: number,
    started: number,
  ): Entry {
    this.#appended(true, started, encoded.bytes.length);
    const entry = newEntry(id, type, encoded.value, maxAttempts, createdAt);
    this.#table.set(id, entry);
    this.#count(entry, 1);
    this.#place(entry);
    this.#telemetry.record(type, "submitted");
    this.#notify();
    if (this.#listeners !== undefined) this.#emit("submitted", entry, undefined);
    return entry;
  }

  /** Accounts for an acknowledged append. */
  #appended(durable: boolean, started: number, length: number): void {
    // The log notes when it acknowledged the group: one clock read per group.
    const ended = segmentLogAccess.ackedAt(this.#log);
    this.#telemetry.recordAppend(durable, Math.max(0, ended - started) / 1000);
    this.#bytesSinceCheckpoint += length;
    if (this.#checkpointWanted !== undefined && this.#isCheckpointDue()) {
      const wanted = this.#checkpointWanted;
      this.#checkpointWanted = undefined;
      wanted.set();
    }
  }

  /** An append is no longer in flight. */
  #leave(): void {
    if (--this.#inflight === 0 && this.#quiet !== undefined) {
      const quiet = this.#quiet;
      this.#quiet = undefined;
      quiet.set();
    }
  }

  #isCheckpointDue(): boolean {
    return this.#bytesSinceCheckpoint >=
      Math.max(this.#config.checkpointBytes, 2 * this.#lastCheckpointBytes);
  }

  /**
   * Changes an entry's state in memory at once, then appends the transition
   * record. Rejects with the append's error; the change stays in memory.
   */
  async #transition(entry: Entry, change: Change, durable: boolean): Promise<void> {
    const now = this.#now();
    const terminal = TERMINAL.has(change.state);
    const attempts = change.attempts ?? entry.attempts;
    const error = "error" in change ? change.error : entry.lastError;
    const nextRetryAt = change.state === "retrying" ? change.nextRetryAt : undefined;
    const result = change.state === "completed" ? change.result : undefined;
    let encoded: Encoded;
    try {
      encoded = encodeValue(
        {
          id: entry.id,
          v: entry.version + 1,
          state: change.state,
          attempts,
          at: now,
          error,
          next: nextRetryAt,
          result,
          done: terminal ? now : undefined,
        },
        "Cannot record operation result",
        "result",
      );
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
    this.#place(entry);
    this.#notify();
    if (this.#listeners !== undefined) this.#emit("updated", entry, previousState);
    if (terminal) entry.settling = true;
    try {
      await this.#append(TRANSITION, encoded.bytes, durable || terminal);
    } catch (appendError) {
      entry.unsynced = true;
      this.#telemetry.recordPersistError();
      throw appendError;
    } finally {
      encoded.release();
      if (terminal) entry.settling = false;
      wakeAll(entry);
    }
  }

  /** A transition asked for by a user: undone in memory when it cannot be written. */
  async #userTransition(entry: Entry, change: Change, what: string): Promise<void> {
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
        this.#place(entry);
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
  async #waitForChange(entry: Entry, what: string): Promise<void> {
    if (this.#closing) throw new WalClosedError(`${what}: the log is closed`);
    const waiters = entry.waiters ??= new Set();
    const waiter: Waiter<void> = park<void>(() => waiters.delete(waiter));
    waiters.add(waiter);
    await waiter.promise;
  }

  /** Counts an entry in (+1) or out (-1) of its state and type. */
  #count(entry: Entry, delta: 1 | -1): void {
    this.#counts[entry.state] += delta;
    if (!TERMINAL.has(entry.state)) {
      const active = (this.#active.get(entry.type) ?? 0) + delta;
      if (active === 0) this.#active.delete(entry.type);
      else this.#active.set(entry.type, active);
    }
  }

  /** Puts a runnable entry in its ready queue or the retry heap. */
  #place(entry: Entry): void {
    if (
      entry.state === "pending" || (entry.state === "retrying" && entry.nextRetryAt === undefined)
    ) {
      this.#enqueue(entry);
    } else if (entry.state === "retrying") {
      this.#retries.push({ at: entry.nextRetryAt!, seq: this.#retrySeq++, entry });
    }
  }

  #enqueue(entry: Entry): void {
    if (entry.queued) return;
    entry.queued = true;
    let deque = this.#ready.get(entry.type);
    if (deque === undefined) this.#ready.set(entry.type, deque = new Deque());
    deque.push(entry);
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

  // ---- checkpoints ----------------------------------------------------------

  async #checkpointNow(): Promise<CheckpointResult> {
    if (this.#closing) throw new WalClosedError("Cannot write checkpoint: the log is closed");
    const started = performance.now();
    const gate = new Event();
    this.#gate = gate;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#gate = undefined;
      gate.set();
    };
    try {
      while (this.#inflight > 0) {
        const quiet = this.#quiet ??= new Event();
        await quiet.wait();
      }
      const failure = this.#log.failure;
      if (failure !== undefined) throw failure;
      const dropped = this.#prune();
      const entries = [...this.#table.values()];
      const lsn = this.#log.nextLsn;
      const records: Uint8Array[] = [
        encodeValue({ cp: lsn, count: entries.length, at: this.#now() }, "checkpoint", "", false)
          .bytes,
      ];
      const versions: number[] = [];
      for (const entry of entries) {
        records.push(encodeValue(snapshotRecord(lsn, entry), "checkpoint", "", false).bytes);
        versions.push(entry.version);
      }
      records.push(encodeValue({ cp: lsn, count: entries.length }, "checkpoint", "", false).bytes);
      // Shielded: a record of the checkpoint must not be dropped once the first is queued.
      const results = await new CancelScope({ shield: true }).run(() => {
        const appends: Promise<AppendResult>[] = records.map((bytes, i) =>
          this.#log.append(
            i === 0 ? CHECKPOINT_BEGIN : i === records.length - 1 ? CHECKPOINT_END : SNAPSHOT,
            bytes,
            { durable: i === records.length - 1 },
          )
        );
        release();
        return Promise.allSettled(appends);
      });
      const rejected = results!.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (rejected !== undefined) {
        this.#telemetry.recordCheckpoint(false, 0, 0, 0);
        const cause = rejected.reason;
        if (cause instanceof WalDiskFullError) {
          throw new WalDiskFullError("Cannot write checkpoint: the disk is full", { cause });
        }
        throw cause;
      }
      const lsns = results!.map((r) => (r as PromiseFulfilledResult<AppendResult>).value.lsn);
      if (lsns.some((value, i) => value !== lsn + i)) {
        this.#telemetry.recordCheckpoint(false, 0, 0, 0);
        throw new WalError(
          `Cannot write checkpoint: its records are not contiguous: expected LSNs from ${lsn}, received ${
            lsns[0]
          } to ${lsns.at(-1)}`,
        );
      }
      let bytes = 0;
      for (const record of records) bytes += record.length;
      for (let i = 0; i < entries.length; i++) {
        if (entries[i].version === versions[i]) entries[i].unsynced = false;
      }
      this.#lastCheckpointBytes = bytes;
      this.#bytesSinceCheckpoint = 0;
      const segmentsRemoved = await this.#log.compact(lsn);
      this.#telemetry.recordCheckpoint(
        true,
        entries.length,
        segmentsRemoved,
        (performance.now() - started) / 1000,
      );
      return { lsn, operations: entries.length, dropped, segmentsRemoved };
    } finally {
      release();
    }
  }

  /** Drops finished entries whose retention ran out; returns how many. */
  #prune(): number {
    const finished: Entry[] = [];
    for (const entry of this.#table.values()) {
      if (TERMINAL.has(entry.state) && !entry.settling) finished.push(entry);
    }
    finished.sort((a, b) => a.updatedAt - b.updatedAt);
    const oldest = this.#now() - this.#config.retainMs;
    let dropped = 0;
    for (const entry of finished) {
      if (finished.length - dropped <= this.#config.retainCount && entry.updatedAt >= oldest) break;
      this.#table.delete(entry.id);
      this.#count(entry, -1);
      dropped++;
      this.#emit("removed", entry, entry.state);
    }
    return dropped;
  }

  // ---- the processor's handle -----------------------------------------------

  #internals(): WalInternals {
    return {
      now: () => this.#now(),
      telemetry: this.#telemetry,
      attach: (scope, health) => {
        if (this.#closing) throw new WalClosedError("Cannot process operations: the log is closed");
        if (this.#processor !== undefined) {
          throw new WalError("Cannot process operations: another processor runs on this log");
        }
        this.#processor = { scope, health };
      },
      detach: () => {
        this.#processor = undefined;
      },
      takeReady: (types) => this.#takeReady(types),
      nextDue: () => this.#retries.peek()?.at,
      changed: () => this.#changed ??= new Event(),
      busy: (types) => {
        for (const type of types) if (this.#active.has(type)) return true;
        return false;
      },
      begin: (entry) => this.#begin(entry),
      settle: (entry, outcome) => this.#settle(entry, outcome),
      release: (entry) => {
        if (entry.state !== "processing") return;
        this.#count(entry, -1);
        entry.state = "pending";
        this.#count(entry, 1);
        this.#enqueue(entry);
        this.#notify();
        this.#emit("updated", entry, "processing");
        wakeAll(entry);
      },
      resume: () => {
        const now = this.#now();
        for (const entry of this.#awaitingBackend) {
          if (entry.state === "retrying" && entry.nextRetryAt! > now) {
            // In memory only: after a crash the recorded (later) time holds, which is harmless.
            entry.nextRetryAt = now;
            this.#enqueue(entry);
            this.#emit("updated", entry, "retrying");
          }
        }
        this.#awaitingBackend.clear();
        this.#notify();
      },
      checkpointDue: () => this.#isCheckpointDue(),
      checkpointWanted: () => this.#checkpointWanted ??= new Event(),
    };
  }

  #takeReady(types: ReadonlySet<string>): Entry | undefined {
    const now = this.#now();
    for (
      let item = this.#retries.peek();
      item !== undefined && item.at <= now;
      item = this.#retries.peek()
    ) {
      this.#retries.pop();
      this.#enqueue(item.entry);
    }
    for (const [type, deque] of this.#ready) {
      if (!types.has(type)) continue;
      for (let entry = deque.shift(); entry !== undefined; entry = deque.shift()) {
        entry.queued = false;
        if (entry.state === "pending" || entry.state === "retrying") {
          // Round robin between types: the next call starts with another one.
          this.#ready.delete(type);
          if (deque.length > 0) this.#ready.set(type, deque);
          return entry;
        }
      }
      this.#ready.delete(type);
    }
    return undefined;
  }

  async #begin(entry: Entry): Promise<number | undefined> {
    if (entry.state !== "pending" && entry.state !== "retrying") return undefined;
    const attempt = entry.attempts + 1;
    try {
      await this.#transition(entry, { state: "processing", attempts: attempt }, false);
    } catch (error) {
      if (!(error instanceof WalDiskFullError)) throw error;
      // Not written: a crash now makes the operation pending again, which is what it was.
    }
    this.#telemetry.record(entry.type, "started");
    return attempt;
  }

  async #settle(entry: Entry, outcome: Outcome): Promise<void> {
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
      this.#telemetry.record(type, "completed", (entry.updatedAt - entry.createdAt) / 1000);
    } else if (state === "failed") this.#telemetry.record(type, "failed");
    else if (state === "retrying") this.#telemetry.record(type, "retried");
    else if (state === "cancelled") this.#telemetry.record(type, "cancelled");
    try {
      await written;
    } catch (error) {
      if (!(error instanceof WalDiskFullError)) throw error;
    }
  }
}

// ---- replay ---------------------------------------------------------------------

interface Collecting {
  lsn: number;
  count: number;
  table: Map<string, Entry>;
}

/** Folds the log's records into the table of operations. */
async function replay(log: SegmentLog): Promise<Replayed> {
  let table = new Map<string, Entry>();
  const ids = new UlidGenerator();
  let records = 0;
  let checkpointLsn: number | undefined;
  let incompleteCheckpoints = 0;
  let collecting: Collecting | undefined;
  for await (const record of log.replay()) {
    records++;
    let value: Record<string, unknown>;
    try {
      value = decodeValue(record.payload) as Record<string, unknown>;
      if (value === null || typeof value !== "object") throw new Error("not an object");
    } catch (error) {
      throw new WalCorruptionError(
        `Cannot open log: record ${record.lsn} (type ${record.type}) cannot be decoded: ${
          describeError(error)
        }`,
        { cause: error },
      );
    }
    if (collecting !== undefined && record.type !== SNAPSHOT && record.type !== CHECKPOINT_END) {
      collecting = undefined;
      incompleteCheckpoints++;
    }
    switch (record.type) {
      case SUBMIT: {
        const id = String(value.id);
        if (!table.has(id)) {
          table.set(
            id,
            newEntry(
              id,
              String(value.type),
              value.params,
              Number(value.maxAttempts),
              Number(value.at),
            ),
          );
        }
        ids.observe(id);
        break;
      }
      case TRANSITION: {
        const entry = table.get(String(value.id));
        if (entry !== undefined && Number(value.v) > entry.version) applyRecord(entry, value);
        break;
      }
      case CHECKPOINT_BEGIN:
        if (collecting !== undefined) incompleteCheckpoints++;
        collecting = { lsn: record.lsn, count: Number(value.count), table: new Map() };
        if (value.cp !== record.lsn) {
          collecting = undefined;
          incompleteCheckpoints++;
        }
        break;
      case SNAPSHOT:
        if (
          collecting === undefined || value.cp !== collecting.lsn ||
          record.lsn !== collecting.lsn + 1 + collecting.table.size
        ) {
          if (collecting !== undefined) incompleteCheckpoints++;
          collecting = undefined;
          break;
        }
        {
          const id = String(value.id);
          const entry = newEntry(
            id,
            String(value.type),
            value.params,
            Number(value.maxAttempts),
            Number(value.createdAt),
          );
          applyRecord(entry, value);
          collecting.table.set(id, entry);
          ids.observe(id);
        }
        break;
      case CHECKPOINT_END:
        if (
          collecting !== undefined && value.cp === collecting.lsn &&
          value.count === collecting.count && collecting.table.size === collecting.count &&
          record.lsn === collecting.lsn + collecting.count + 1
        ) {
          table = collecting.table;
          checkpointLsn = collecting.lsn;
        } else if (collecting !== undefined) incompleteCheckpoints++;
        collecting = undefined;
        break;
      default:
        throw new WalCorruptionError(
          `Cannot open log: record ${record.lsn} has an unknown type: ${record.type}`,
        );
    }
  }
  if (collecting !== undefined) incompleteCheckpoints++;
  let requeued = 0;
  for (const entry of table.values()) {
    if (entry.state === "processing") {
      entry.state = "pending";
      requeued++;
    }
  }
  return {
    table,
    ids,
    report: { records, operations: table.size, requeued, checkpointLsn, incompleteCheckpoints },
  };
}

function applyRecord(entry: Entry, value: Record<string, unknown>): void {
  const state = String(value.state) as OperationState;
  if (!OPERATION_STATES.includes(state)) {
    throw new WalCorruptionError(`Cannot open log: unknown operation state: ${state}`);
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

// ---- helpers ----------------------------------------------------------------------

function newEntry(
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

function snapshotRecord(cp: number, entry: Entry): Record<string, unknown> {
  return {
    cp,
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
  };
}

function snapshot(entry: Entry): Operation {
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

function wakeAll(entry: Entry): void {
  const waiters = entry.waiters;
  if (waiters === undefined) return;
  entry.waiters = undefined;
  for (const waiter of waiters) waiter.wake();
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

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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

/** A FIFO of entries. */
class Deque {
  #items: Entry[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(entry: Entry): void {
    this.#items.push(entry);
  }

  shift(): Entry | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const entry = this.#items[this.#head];
    this.#items[this.#head++] = undefined as unknown as Entry;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }
}

interface RetryItem {
  at: number;
  seq: number;
  entry: Entry;
}

function before(a: RetryItem, b: RetryItem): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
