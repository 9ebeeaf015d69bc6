/**
 * The types the parts of the write-ahead log share: operations and their
 * states, the parameters of the built-in operation types, what a processor
 * and its handlers see, the backend's health, the segment log's options,
 * appends and recovery reports, the events of live changes, and the JSON
 * forms and options of the HTTP API. A type that one file alone uses lives
 * beside it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OPERATION_STATES, type OperationState } from "@ipfs-kit/kit/wal";
 *
 * // The states in the order of an operation's life; the last three are final.
 * const final: OperationState[] = ["completed", "failed", "cancelled"];
 * assert.deepEqual(OPERATION_STATES.slice(-3), final);
 * ```
 *
 * @module
 */

import type { ContentStore } from "../ipfs/content_store.ts";
import type { BackoffOptions } from "../runtime/retry.ts";

// ---- operations ---------------------------------------------------------------------

/** Where an operation is in its life: see "States" in the module documentation of `write_ahead_log.ts`. */
export type OperationState =
  | "pending"
  | "processing"
  | "retrying"
  | "completed"
  | "failed"
  | "cancelled";

/**
 * Every state, in the order of an operation's life.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OPERATION_STATES } from "@ipfs-kit/kit/wal";
 *
 * assert.equal(OPERATION_STATES[0], "pending");
 * assert(OPERATION_STATES.includes("completed"));
 * ```
 */
export const OPERATION_STATES: readonly OperationState[] = Object.freeze([
  "pending",
  "processing",
  "retrying",
  "completed",
  "failed",
  "cancelled",
]);

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

/** How an operation changed: see {@linkcode OperationChange} and {@linkcode WalEvent}. */
export type OperationChangeKind = "submitted" | "updated" | "removed";

/** What {@linkcode WriteAheadLog.subscribe} reports: one change of one operation. */
export interface OperationChange {
  /**
   * `"submitted"`: a new operation, once its record is durable;
   * `"updated"`: its state or another field changed (in memory, as `get()`
   * returns it from then on; a terminal state's record may still be on its
   * way to the disk, see {@linkcode WriteAheadLog.wait}); `"removed"`: a
   * checkpoint dropped it (its retention ran out).
   */
  readonly kind: OperationChangeKind;
  /** The operation after the change (for `"removed"`: as it was last). */
  readonly operation: Operation;
  /** Its state before the change; `undefined` for `"submitted"`. */
  readonly previousState: OperationState | undefined;
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

// ---- the built-in operation types ---------------------------------------------------

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

// ---- processing -----------------------------------------------------------------------

/** What the processor needs of a content store: the built-in handlers' calls and `health`. */
export type OperationStore =
  & Pick<ContentStore, "add" | "block" | "pin" | "dag">
  & Partial<Pick<ContentStore, "health">>;

/** What a handler receives. */
export interface HandlerContext<P = unknown> {
  /** The operation's id. */
  id: string;
  /** Its type. */
  type: string;
  /** Its parameters, as submitted (byte arrays are views of the stored copy: do not modify them). */
  params: P;
  /** This attempt's number, from 1. */
  attempt: number;
  /** The content store. */
  store: OperationStore;
  /** Aborts when the attempt is to stop: cancelled, timed out, or the processor stops. */
  signal: AbortSignal;
}

/**
 * Applies one operation; what it returns (JSON values, `Uint8Array`s, CIDs,
 * up to 1 MiB encoded) becomes the operation's `result`. It must be
 * idempotent: after a crash it may run again for an operation it applied.
 */
export type OperationHandler<P = unknown> = (
  context: HandlerContext<P>,
) => unknown | Promise<unknown>;

/** Options for {@linkcode OperationProcessor} and {@linkcode WriteAheadLog.process}. */
export interface ProcessOptions {
  /** The content store the handlers apply operations to. */
  store: OperationStore;
  /**
   * Handlers by operation type, on top of the built-in ones (`add`, `pin`,
   * `unpin`, `blockPut`, `dagPut`; a handler here replaces a built-in one of
   * the same name). Operations of a type without a handler stay pending.
   */
  handlers?: Record<string, OperationHandler<never>>;
  /** Include the built-in handlers. Default `true`. */
  builtinHandlers?: boolean;
  /** How many operations run at once. Default 4. */
  concurrency?: number;
  /** Backoff between attempts (and while the backend is unreachable). Default base 500 ms, cap 60 s, full jitter. */
  backoff?: BackoffOptions;
  /** Whether an error is worth another attempt. Default {@linkcode isRetriableError}. */
  isRetriable?: (error: unknown) => boolean;
  /** Whether an error means the backend could not be reached. Default {@linkcode isUnavailableError}. */
  isUnavailable?: (error: unknown) => boolean;
  /** Stop an attempt after this many ms (it then counts as a retriable failure). Default: no limit. */
  attemptTimeoutMs?: number;
  /**
   * The health monitor: its options (the probe defaults to `store.health()`,
   * or a `block.has` call for a store without it), or `false` for none.
   */
  health?: Partial<HealthMonitorOptions> | false;
  /** Write checkpoints as they fall due (see `checkpointBytes`). Default `true`. */
  autoCheckpoint?: boolean;
  /** Return once no operation of a handled type is left to run (none pending, retrying or processing). */
  untilIdle?: boolean;
  /** Stops the processor; `run()` then rejects with the signal's reason. */
  signal?: AbortSignal;
}

// ---- the backend's health -----------------------------------------------------------

/** The backend's health: `degraded` after a failed check, `offline` after `offlineAfter` in a row. */
export type HealthState = "online" | "degraded" | "offline";

/** What a probe may return: `false` or `{ ok: false }` is a failed check, so is a throw. */
export type ProbeResult = boolean | void | { ok: boolean; reason?: string };

/** Options for {@linkcode HealthMonitor}. */
export interface HealthMonitorOptions {
  /** Checks the backend once. It gets a signal that aborts at `timeoutMs`. */
  probe: (signal: AbortSignal) => ProbeResult | Promise<ProbeResult>;
  /** Time between checks, in ms of the runtime clock. Default 5000. */
  intervalMs?: number;
  /** Consecutive failed checks before the backend counts as offline. Default 3. */
  offlineAfter?: number;
  /** How long a probe may take, in ms. Default `intervalMs`. */
  timeoutMs?: number;
  /** Called on every change of state. */
  onChange?: (state: HealthState, previous: HealthState) => void;
  /** Called after every check (probe or reported), with whether it passed and changed the state. */
  onCheck?: (ok: boolean, changed: boolean) => void;
}

// ---- the segment log ----------------------------------------------------------------

/** When an append counts as done: see "Durability" in the documentation of {@linkcode SegmentLog}. */
export type SyncPolicy = "always" | "group" | "none";

/** Options for {@linkcode SegmentLog.open}. */
export interface SegmentLogOptions {
  /** When an append counts as done. Default `"group"`. */
  syncPolicy?: SyncPolicy;
  /** Rotate to a new segment when the next group would pass this many bytes. Default 64 MiB. */
  segmentSize?: number;
  /** The largest payload accepted, in bytes. Default 16 MiB. */
  maxPayloadSize?: number;
  /** The most bytes a group takes (it always takes at least one record). Default 1 MiB. */
  maxGroupBytes?: number;
  /**
   * How long a group leader waits for more records before writing, in
   * milliseconds on the runtime clock; it stops waiting once `maxGroupBytes`
   * are queued. Default 0: no waiting beyond the records queued while the
   * previous group was written.
   */
  maxGroupDelayMs?: number;
  /**
   * Hears of every commit group and every `fdatasync`, with its duration:
   * for telemetry (the write-ahead log feeds its histograms from it).
   */
  observer?: SegmentLogObserver;
  /**
   * What `open()` does with damage other than the newest segment's torn
   * tail: refuse (`"strict"`, the default) or open up to it
   * (`"point-in-time"`). See {@linkcode RecoveryMode}.
   */
  recovery?: RecoveryMode;
}

/**
 * Receives what the log's commits did, as they happen: see
 * {@linkcode SegmentLogOptions.observer}. The calls are synchronous and on
 * the commit path, so keep them cheap; an error they throw is reported
 * (`reportError`) and otherwise ignored.
 */
export interface SegmentLogObserver {
  /**
   * A group was written (and synced, when the policy and its records asked
   * for it): how many records and bytes (framing included) it held.
   */
  group?(records: number, bytes: number): void;
  /**
   * An `fdatasync` (or `fsync`) of a segment file finished, with its
   * duration in seconds: one call per sync that `stats.syncs` counts (group
   * commits, rotation, close).
   */
  sync?(seconds: number): void;
}

/** Options for {@linkcode SegmentLog.append}. */
export interface AppendOptions {
  /**
   * Stops waiting when aborted. A record still queued is dropped and never
   * written, and the append rejects with the signal's reason; a record
   * already taken into a group being written is not dropped: the append
   * waits for the group and returns its result.
   */
  signal?: AbortSignal;
  /**
   * Whether to wait for `fdatasync` under the `"always"` and `"group"`
   * policies. Default `true`. With `false` the append resolves once its
   * record is written to the operating system.
   */
  durable?: boolean;
}

/** What {@linkcode SegmentLog.append} resolves with. */
export interface AppendResult {
  /** The record's log sequence number. */
  lsn: number;
}

/**
 * What kind of damage recovery found (see {@linkcode RecoveryDamage}):
 * - `"corrupt"`: a record's checksum (or type) is wrong;
 * - `"torn"`: a record runs past the end of a segment that is not the
 *   newest (in the newest one, that is a torn tail: {@linkcode TornTail});
 * - `"header"`: a segment header is invalid, or names another log;
 * - `"gap"`: a segment does not start where the one before it ends (one is
 *   missing);
 * - `"undecodable"`: a record of the write-ahead log passed its checksum but
 *   cannot be decoded (only {@linkcode WriteAheadLog.open} reports it).
 */
export type DamageKind = "corrupt" | "torn" | "header" | "gap" | "undecodable";

/** Where recovery found damage. */
export interface RecoveryDamage {
  /** What is wrong. */
  kind: DamageKind;
  /** The segment file. */
  path: string;
  /** The byte offset in it where the log stops being readable. */
  offset: number;
  /** The first LSN that could not be read: the log kept the records below it. */
  lsn: number;
  /** Details. */
  reason: string;
  /**
   * Whether this open finished a point-in-time recovery that a crash had
   * interrupted (the recovery had already recorded that these LSNs are
   * given up), rather than one asked for now.
   */
  resumed: boolean;
}

/**
 * The torn tail of the newest segment: the last write before a crash, cut
 * short. It is recognised by its shape (a record that runs past the end of
 * the file, or whose checksum fails with a 512-byte sector of it never
 * written, followed by nothing but zeros) and never held a record that was
 * acknowledged as durable. Cut off, not damage.
 */
export interface TornTail {
  /** The segment file. */
  path: string;
  /** The byte offset where it starts: the end of the last intact record. */
  offset: number;
  /** How many bytes were cut off (zeros after it included). */
  bytes: number;
  /** What was wrong with the record there. */
  reason: string;
  /** The file its non-zero bytes were copied to, if any. */
  sideFile: string | undefined;
}

/** What {@linkcode SegmentLog.open} found and repaired. */
export interface RecoveryReport {
  /** Intact records found. */
  records: number;
  /** Intact segments kept. */
  segments: number;
  /** The newest segment's torn tail, cut off; `undefined` when there was none. */
  tornTail: TornTail | undefined;
  /**
   * Damage the log opened past: only under `recovery: "point-in-time"` (or
   * when finishing such a recovery that a crash interrupted). Otherwise
   * damage makes `open()` throw {@linkcode WalDamagedError}.
   */
  damage: RecoveryDamage | undefined;
  /**
   * LSNs given up by a point-in-time recovery in this open: from `from`
   * (the first record not kept) up to `to` (excluded), the LSN the log goes
   * on from. `to` is past every LSN the log may ever have handed out, so
   * none is handed out twice.
   */
  droppedLsns: { from: number; to: number } | undefined;
  /** Files that received the bytes cut off or set aside. */
  sideFiles: string[];
  /** How many bytes were cut off or set aside. */
  discardedBytes: number;
  /**
   * Zeros after the last record of the last segment, cut off: space the log
   * reserves ahead of its records, left behind when it was not closed (a
   * crash). Not damage.
   */
  reservedBytes: number;
  /** Leftover temporary files of an interrupted rotation that were removed. */
  removedTempFiles: number;
  /** Side files of older torn tails removed to keep them within their bounds. */
  removedSideFiles: number;
}

/**
 * What {@linkcode SegmentLog.open} does with damage that is not the torn
 * tail of the newest segment:
 * - `"strict"` (the default): refuse to open, with {@linkcode WalDamagedError};
 * - `"point-in-time"`: open with the records before the first damage, set
 *   the rest aside (renamed, never deleted) and go on from an LSN past every
 *   one the log may have handed out (as RocksDB's point-in-time recovery).
 */
export type RecoveryMode = "strict" | "point-in-time";

// ---- live changes -------------------------------------------------------------------

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

// ---- the HTTP API ---------------------------------------------------------------------

/** An operation as the API sends it. Times are ms since the epoch; `null` stands for unset. */
export interface OperationJson {
  /** Its id. */
  id: string;
  /** Its type. */
  type: string;
  /** Its state. */
  state: OperationState;
  /** Handler attempts so far. */
  attempts: number;
  /** The most attempts. */
  maxAttempts: number;
  /** When it is retried next (state `retrying`). */
  nextRetryAt: number | null;
  /** The last attempt's error. */
  lastError: string | null;
  /** What the handler returned (state `completed`), in JSON (DAG-JSON for bytes and CIDs). */
  result: unknown;
  /** When it was submitted. */
  createdAt: number;
  /** When its state last changed. */
  updatedAt: number;
  /** When it finished. */
  completedAt: number | null;
  /** Its parameters in JSON (DAG-JSON for bytes and CIDs), when asked for. */
  params?: unknown;
}

/** The log's health, as `GET /health` and the feed's `health` topic report it. */
export interface WalHealth {
  /** `unavailable` once the log is closed; `degraded` while the backend is degraded or offline; else `ok`. */
  status: "ok" | "degraded" | "unavailable";
  /** Whether the log is closed. */
  closed: boolean;
  /** The backend's health as the running processor sees it; `null` when none runs. */
  backend: HealthState | null;
}

/** Options for {@linkcode createWalHandler}. */
export interface WalHandlerOptions {
  /** Where the routes are: a path starting with `/`. Default `"/api/v0/wal"`. */
  basePath?: string;
  /**
   * The bearer token every request must carry (16 to 1024 visible ASCII
   * characters). Without one, only loopback peers and `Host` names are
   * served.
   */
  token?: string;
  /** The largest request body read, in bytes. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Browser origins (`"https://dashboard.example"`) allowed besides the server's own; they get CORS headers. */
  allowedOrigins?: readonly string[];
  /**
   * What feeds the feed's live topics; default the log itself once it has a
   * `watch()` method. `null`: none (the live topics answer `unavailable`).
   */
  events?: WalEventSource | null;
  /** How long a submission, retry or cancellation may wait, in ms. Default 30 000. */
  requestTimeoutMs?: number;
  /** Feed (WebSocket) connections at once, each counted until its TCP socket is closed; more get 503. Default 64. */
  maxConnections?: number;
  /** Messages waiting to be sent to one feed client; one more closes it (1013) and its socket. Default 256. */
  maxQueuedMessages?: number;
  /** Bytes waiting to be sent to one feed client; more close it (1013) and its socket. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** The largest message a feed client may send; a larger one closes the connection (1009) before it is read. Default 16 KiB. */
  maxMessageBytes?: number;
  /** Subscriptions one feed connection may hold. Default 64. */
  maxSubscriptions?: number;
  /** How long closing a feed socket waits for the client's answer, in ms. Default 1000. */
  closeTimeoutMs?: number;
  /** Told of unexpected errors (500s, failed feed connections). Default `console.error`. */
  onError?: (error: unknown) => void;
}
