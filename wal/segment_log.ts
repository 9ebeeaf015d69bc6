/**
 * The durable log under the write-ahead log: append-only segment files of
 * checksummed records, with group commit, crash recovery and compaction.
 *
 * ## On disk
 * A log is a directory holding a `LOCK` file (an exclusive `flock` while
 * the log is open), an `LSNLIMIT` file (see "LSNs are never handed out
 * twice" below) and segment files named after the LSN (log sequence number)
 * of their first record, 20 decimal digits and `.wal`:
 * `00000000000000000001.wal`. Records are numbered from 1 without gaps
 * across segments, except where a point-in-time recovery gave LSNs up.
 *
 * A segment starts with a 44-byte header, little-endian:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 8 | magic `ipfskwal` |
 * | 8 | 2 | format version, 2 |
 * | 10 | 2 | reserved, 0 |
 * | 12 | 4 | salt: random per segment |
 * | 16 | 8 | log id: random per log, the same in all its segments |
 * | 24 | 8 | base LSN: the LSN of the segment's first record |
 * | 32 | 8 | previous end: the LSN the log had reached when the segment was created; the base LSN, or lower when a point-in-time recovery gave the LSNs in between up |
 * | 40 | 4 | CRC32C of bytes 0 to 39 |
 *
 * (Format 1, still read, has a 36-byte header: no previous end, the CRC at
 * 32.) Then records, back to back, each framed as
 * `[u32 payload length][u8 type][payload][u32 CRC32C]`: 9 bytes of framing.
 * The CRC covers the segment identity (header bytes 12 to 31: salt, log id,
 * base LSN), then the type and the payload: a record copied from another
 * segment or another log, or stale bytes of a previous file, never checks
 * out. Type 0 is reserved, so runs of zeros are never a record.
 *
 * While a segment is appended to, its file is longer than its records: the
 * log extends it with zeros (a hole, `ftruncate`) 4 MiB at a time, up to the
 * segment size, so that an `fdatasync` need not also record a new file
 * length (on ext4 here, 1.1 to 1.5 times as many per second as when
 * appending). `close()` and rotation cut the zeros off; after a crash,
 * recovery does (see below).
 *
 * Segments are created whole: header written to `<name>.tmp`, `fsync`,
 * rename, `fsync` of the directory. A segment is rotated (closed, its data
 * `fdatasync`ed, a new one created) when the next group would push it past
 * `segmentSize`; a single record larger than that gets a segment of its own.
 * So every segment but the last is complete and synced, whatever the policy.
 *
 * ## Durability
 * `append()` resolves once its record is as durable as the sync policy says:
 * - `"always"`: one write and one `fdatasync` per record.
 * - `"group"`: group commit. The first append to find the log idle becomes
 *   the leader. It lets the current turn of the event loop finish, so that
 *   the appends made in it join (among them those of the callers the
 *   previous group just acknowledged: 64 submitters in a loop make groups of
 *   64), waits up to `maxGroupDelayMs` for more if asked to, then takes every
 *   queued record (up to `maxGroupBytes`), writes them with one write call,
 *   runs one `fdatasync` and resolves them all; then it hands the lead to the
 *   first record that queued meanwhile. A record joins a group only before
 *   the group is written, so a durable append never rides in a group whose
 *   sync began before its bytes were written. A group of up to 256 KiB is
 *   written with one synchronous `write` (a copy into the page cache: tens
 *   of microseconds, less than an async call's round trip to a worker
 *   thread); the `fdatasync` is async.
 * - `"none"`: one write per group, no `fdatasync`: acknowledged records
 *   survive a crash of the process, not of the machine.
 *
 * Under `"always"` and `"group"` an append may pass `durable: false` to skip
 * the sync (it then behaves as under `"none"`); a group syncs when any of
 * its records is durable.
 *
 * An `fdatasync` or `fsync` error is fatal and never retried (after a failed
 * `fdatasync` the kernel may have dropped the dirty pages, and a retry could
 * report success for lost data): the log fails, and every pending and later
 * append rejects with {@linkcode WalFailedError}. A full disk is not fatal:
 * the partly written group is cut off again, its appends reject with
 * {@linkcode WalDiskFullError}, and later appends succeed once space is
 * freed.
 *
 * ## Recovery
 * `open()` checks every segment: header, continuity of LSNs from one segment
 * to the next, and every record's CRC. Then:
 * - Zeros after the last record of the newest segment (at least 9 bytes, so
 *   never a torn record: a record never starts with 5 zero bytes) are the
 *   space reserved ahead of its records, cut off and reported as
 *   `reservedBytes`.
 * - The newest segment's **torn tail**, the last write before a crash cut
 *   short, is cut off and reported as {@linkcode RecoveryReport.tornTail},
 *   not as damage; its non-zero bytes are first copied to a side file
 *   `<segment>.torn-<offset>-<time>`. A torn tail is recognised by its
 *   shape: its first bad record is unfinished (it runs past the end of the
 *   file, its type byte is zero, or its checksum fails while one 512-byte
 *   sector of it is all zeros: a sector never written, as etcd's WAL tells a
 *   torn write), and no intact record follows it, at any offset. A process
 *   killed in a write leaves the pages it had copied, a machine that loses
 *   power the sectors it had written: such a tail never held a record
 *   acknowledged as durable. At most 8 torn-tail side files of at most
 *   16 MiB in all are kept (older ones are removed, and `compact()` removes
 *   them with their segment).
 * - Any other damage (a checksum that fails in a record written whole, an
 *   intact record after a bad one, an invalid header, a segment that does
 *   not start where the one before ends, damage in a segment that is not the
 *   newest) makes `open()` throw {@linkcode WalDamagedError}, naming the
 *   segment and the offset, and changing nothing: it means that records
 *   acknowledged as durable may be unreadable. With
 *   `recovery: "point-in-time"` the log opens instead with the records
 *   before the first damage (as RocksDB's point-in-time recovery): it
 *   creates the segment it goes on in (see below), then copies the damaged
 *   segment's bytes from the damage on to `<segment>.damaged-<offset>-<time>`
 *   and cuts it there (or renames it whole to `<segment>.discarded-<time>`),
 *   and renames every later segment to `<segment>.discarded-<time>`.
 *   Nothing is deleted; {@linkcode SegmentLog.recovery} reports the damage,
 *   the side files and the LSNs given up.
 *
 * Leftover `.tmp` files of an interrupted rotation are removed.
 *
 * ## LSNs are never handed out twice
 * An LSN is handed out when an append resolves with it. Those of records a
 * point-in-time recovery gives up may have been, so the log goes on from
 * an LSN past every one it may ever have handed out, and:
 * - It keeps that bound on disk apart from the segments: `LSNLIMIT` holds an
 *   LSN that no LSN handed out reaches. Before a segment takes records the
 *   log makes sure the limit is past the most records that segment can hold
 *   (its base LSN plus one per 9 bytes of `segmentSize`), writing the file
 *   whole (temp file, fsync, rename, directory fsync) when it is not: one
 *   small write per segment. Recovery goes on from at least the limit, and
 *   from past what the segment files show (a segment's records lie below
 *   the next segment's base LSN; the newest segment's, below one per 9 bytes
 *   of its file): so a damaged, truncated or lost segment, header included,
 *   leaves no LSN to reuse.
 * - It records the jump where later opens find it: the segment it goes on
 *   in is created first, before anything is cut or renamed, with the LSN
 *   where the kept records end as its previous end. Later opens accept that
 *   gap (and only a gap so recorded); an open after a crash in the middle
 *   of the recovery finds the segment and finishes the job (reported with
 *   `resumed: true`), in any mode; and the LSNs below it stay given up when
 *   the side files are deleted.
 *
 * ## Bad directories
 * A `dir` that is a file, that lies under a file, or that cannot be created,
 * written or read (permissions, a read-only file system) makes `open()`
 * throw {@linkcode WalDirectoryError} (with the operating system's error as
 * its `cause`); a directory another process or handle has open,
 * {@linkcode WalLockedError}.
 *
 * ## Compaction
 * `compact(lsn)` removes the segments whose records all have LSNs below
 * `lsn` (oldest first, then `fsync` of the directory), never the segment
 * being appended to, and the torn-tail side files of the segments removed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using log = await SegmentLog.open(dir, { syncPolicy: "group" });
 *   const payload = new TextEncoder().encode("hello");
 *   const { lsn } = await log.append(1, payload);
 *   assert.equal(lsn, 1);
 * }
 * {
 *   await using log = await SegmentLog.open(dir);
 *   for await (const record of log.replay()) {
 *     assert.equal(new TextDecoder().decode(record.payload), "hello");
 *   }
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { park, type Waiter } from "../runtime/park.ts";
import { checkpointIfCancelled, currentClock } from "../runtime/checkpoint.ts";
import { CancelledError } from "../runtime/errors.ts";
import { withSignal } from "../runtime/timeouts.ts";
import { lockFile } from "../runtime/lock_file.ts";
import { macrotaskYield } from "../runtime/macrotask.ts";
import { errorMessage, typeName } from "./_error_text.ts";
import { faults } from "./_faults.ts";
import { encodeRecord, FrameReader, HEADER_SIZE, RECORD_OVERHEAD } from "./_frame.ts";
import { deliver, DONE, Pending, QUEUED, reject, settled, TAKEN } from "./_pending_append.ts";
import { PayloadCopier } from "./_payload_copy.ts";
import { checkWritable, directoryError, prepareDirectory } from "./_log_directory.ts";
import { mostRecordsPerSegment, writeLsnLimit } from "./_lsn_limit.ts";
import {
  createSegment,
  IoFailure,
  isNoSpace,
  join,
  type Segment,
  syncDir,
} from "./_segment_files.ts";
import { type DropFrom, segmentLogInternals } from "./_segment_log_internals.ts";
import { checkOptions, type SegmentLogConfig } from "./_segment_log_options.ts";
import { recover, type Recovered } from "./_segment_recovery.ts";
import type { SideFile } from "./_side_files.ts";
import {
  WalClosedError,
  WalCorruptionError,
  WalDiskFullError,
  WalError,
  WalFailedError,
  WalLockedError,
} from "./errors.ts";
import type {
  AppendOptions,
  AppendResult,
  RecoveryReport,
  SegmentLogOptions,
  SyncPolicy,
} from "./types.ts";

const MIB = 1024 * 1024;
/** Groups up to this size are written with one synchronous write call. */
const SYNC_WRITE_LIMIT = 256 * 1024;
/** How far ahead of its records the active segment file is extended. */
const RESERVE_BYTES = 4 * MIB;

/**
 * The payload's bytes as they are now, in a copy the log owns (see
 * _payload_copy.ts), or the error to reject with. Everything after the call
 * (the frame size, the queue's byte count, the encoding) uses the copy.
 */
function takeBytes(
  copier: PayloadCopier,
  payload: Uint8Array,
  maxPayloadSize: number,
): Uint8Array | Error {
  // Too large already: no copy of it.
  if (payload.length > maxPayloadSize) return tooLarge(payload.length, maxPayloadSize);
  let bytes: Uint8Array;
  try {
    bytes = copier.copy(payload);
  } catch (error) {
    return new TypeError(
      `Cannot append record: payload cannot be read (its buffer is detached or out of bounds): ${
        errorMessage(error)
      }`,
      { cause: error },
    );
  }
  return bytes.length > maxPayloadSize ? tooLarge(bytes.length, maxPayloadSize) : bytes;
}

function tooLarge(length: number, maxPayloadSize: number): RangeError {
  return new RangeError(
    `Cannot append record: payload exceeds ${maxPayloadSize} bytes: received ${length}`,
  );
}

/** A record read back by {@linkcode SegmentLog.replay}. */
export interface LogRecord {
  /** Its log sequence number. */
  lsn: number;
  /** Its type, 1 to 255. */
  type: number;
  /** Its payload (a copy the caller owns). */
  payload: Uint8Array;
}

/** Options for {@linkcode SegmentLog.replay}. */
export interface ReplayOptions {
  /** Skip records with lower LSNs. Default: from the first record on disk. */
  fromLsn?: number;
}

/** Counters of a {@linkcode SegmentLog} since it was opened. */
export interface SegmentLogStats {
  /** Records appended and acknowledged. */
  records: number;
  /** Groups written (one write call each). */
  groups: number;
  /** `fdatasync`/`fsync` calls on segment files, rotation included. */
  syncs: number;
  /** Segments created by rotation. */
  rotations: number;
  /** Record bytes written, framing included. */
  bytes: number;
}

/**
 * An append-only, segmented, checksummed log with group commit: the durable
 * part of the write-ahead log. See the module documentation for the format
 * and the guarantees.
 *
 * Open it with {@linkcode SegmentLog.open}; close it with `close()` or
 * `await using`.
 *
 * @example Concurrent appends share one fdatasync
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using log = await SegmentLog.open(dir, { syncPolicy: "group" });
 * const results = await Promise.all(
 *   Array.from({ length: 100 }, (_, i) => log.append(1, new Uint8Array([i]))),
 * );
 * assert.equal(results.at(-1)!.lsn, 100);
 * assert(log.stats.syncs < 100);
 * await log.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SegmentLog implements AsyncDisposable {
  readonly #dir: string;
  readonly #config: SegmentLogConfig;
  readonly #lock: Deno.FsFile;
  readonly #logId: bigint;
  readonly #segments: Segment[];
  readonly #recovery: RecoveryReport;
  /** Side files of torn tails: removed with their segments by `compact()`. */
  #tornSideFiles: SideFile[];
  /** The LSN limit on disk: no LSN handed out reaches it (see _lsn_limit.ts). */
  #lsnLimit: number;
  #file: Deno.FsFile;
  /** The active segment file's length: records, then zeros reserved ahead of them. */
  #allocated: number;
  /** The active segment file's offset; -1 when unknown. */
  #position = -1;
  #queue: Pending[] = [];
  /** The group being written, for the failure path. */
  #inflight: Pending[] = [];
  #queuedBytes = 0;
  #leading = false;
  #delayWaiter: Waiter<void> | undefined;
  #idle: PromiseWithResolvers<void> | undefined;
  #failure: WalFailedError | undefined;
  #closing = false;
  #closed = false;
  #closePromise: Promise<void> | undefined;
  /** Bytes written to the active segment since its last sync. */
  #dirty = false;
  readonly #copier = new PayloadCopier();
  #buffer = new Uint8Array(64 * 1024);
  #view = new DataView(this.#buffer.buffer);
  #compaction: Promise<unknown> = Promise.resolve();
  #stats: SegmentLogStats = { records: 0, groups: 0, syncs: 0, rotations: 0, bytes: 0 };

  private constructor(
    dir: string,
    config: SegmentLogConfig,
    lock: Deno.FsFile,
    recovered: Recovered,
  ) {
    this.#dir = dir;
    this.#config = config;
    this.#lock = lock;
    this.#logId = recovered.logId;
    this.#segments = recovered.segments;
    this.#file = recovered.file;
    this.#allocated = this.#segments[this.#segments.length - 1].size;
    this.#recovery = recovered.report;
    this.#tornSideFiles = recovered.tornSideFiles;
    this.#lsnLimit = recovered.lsnLimit ?? 0;
  }

  static {
    segmentLogInternals.openDroppingFrom = (dir, options, dropFrom) =>
      SegmentLog.#open(dir, { ...options, recovery: "point-in-time" }, dropFrom);
    segmentLogInternals.locate = (log, lsn) => (log as SegmentLog).#locate(lsn);
    segmentLogInternals.appendOwned = (log, type, bytes, options) => {
      const self = log as SegmentLog;
      if (self.#failure !== undefined) return Promise.reject(self.#failure);
      if (self.#closing) {
        return Promise.reject(new WalClosedError("Cannot append record: the log is closed"));
      }
      if (bytes.length > self.#config.maxPayloadSize) {
        return Promise.reject(tooLarge(bytes.length, self.#config.maxPayloadSize));
      }
      return self.#appendBytes(type, bytes, options);
    };
  }

  /**
   * Opens the log in `dir` (created if missing), taking its lock and
   * recovering it: see "Recovery" in the module documentation.
   *
   * @param dir The log's directory.
   * @param options Sync policy, segment size, payload and group limits.
   * @returns The open log.
   * @throws {WalLockedError} Another process or handle has the log open.
   * @throws {WalDamagedError} The log is damaged (other than a torn tail of
   * its newest segment) and `recovery` is `"strict"`, the default.
   * @throws {WalDirectoryError} `dir` is a file, lies under one, or cannot be
   * created, written or read.
   * @throws {TypeError} An option has the wrong type.
   * @throws {RangeError} An option is out of range.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SegmentLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * const log = await SegmentLog.open(dir, { syncPolicy: "always", segmentSize: 1 << 20 });
   * assert.equal(log.nextLsn, 1);
   * await log.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static open(dir: string, options: SegmentLogOptions = {}): Promise<SegmentLog> {
    return SegmentLog.#open(dir, options, undefined);
  }

  static async #open(
    dir: string,
    options: SegmentLogOptions,
    dropFrom: DropFrom | undefined,
  ): Promise<SegmentLog> {
    if (typeof dir !== "string" || dir === "") {
      throw new TypeError(`Cannot open log: dir must be a non-empty string: received ${dir}`);
    }
    const config = checkOptions(options);
    dir = dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
    await prepareDirectory(dir);
    let lock: Deno.FsFile | undefined;
    try {
      lock = await lockFile(join(dir, "LOCK"));
    } catch (error) {
      throw await directoryError(dir, error, "write");
    }
    if (lock === undefined) {
      throw new WalLockedError(
        `Cannot open WAL: ${dir} is in use by another process or another open handle`,
        dir,
      );
    }
    let recovered: Recovered;
    try {
      await checkWritable(dir);
      recovered = await recover(dir, { mode: config.recovery, dropFrom });
    } catch (error) {
      lock.close();
      throw await directoryError(dir, error, "write");
    }
    const log = new SegmentLog(dir, config, lock, recovered);
    try {
      // The active segment may take records up to its size: reserve their LSNs first.
      const active = recovered.segments[recovered.segments.length - 1];
      await log.#raiseLsnLimit(
        active.baseLsn +
          Math.max(active.count, mostRecordsPerSegment(config.segmentSize, active.start)),
      );
    } catch (error) {
      recovered.file.close();
      lock.close();
      throw await directoryError(dir, error, "write");
    }
    return log;
  }

  /** Makes the LSN limit on disk at least `limit` before LSNs below it are handed out. */
  async #raiseLsnLimit(limit: number): Promise<void> {
    if (limit <= this.#lsnLimit) return;
    await writeLsnLimit(this.#dir, this.#logId, limit);
    this.#lsnLimit = limit;
  }

  /** The log's directory. */
  get dir(): string {
    return this.#dir;
  }

  /** The sync policy in force. */
  get syncPolicy(): SyncPolicy {
    return this.#config.policy;
  }

  /** The LSN of the first record still on disk (or of the next one when there is none). */
  get firstLsn(): number {
    return this.#segments[0].baseLsn;
  }

  /** The LSN one past the last acknowledged record. */
  get nextLsn(): number {
    const active = this.#segments[this.#segments.length - 1];
    return active.baseLsn + active.count;
  }

  /** How many segment files the log has. */
  get segmentCount(): number {
    return this.#segments.length;
  }

  /** What `open()` found and repaired. */
  get recovery(): RecoveryReport {
    return structuredClone(this.#recovery);
  }

  /** Counters since `open()`. */
  get stats(): SegmentLogStats {
    return { ...this.#stats };
  }

  /** Whether the log failed on an I/O error; then every append rejects with it. */
  get failure(): WalFailedError | undefined {
    return this.#failure;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /**
   * Appends a record and resolves with its LSN once it is as durable as the
   * sync policy (and `options.durable`) asks. Records get LSNs in the order
   * of the calls. The payload's bytes are copied at the call: the caller may
   * reuse, modify, resize or transfer its buffer as soon as `append()`
   * returns, and the record holds the bytes as they were at the call.
   *
   * @param type The record type, an integer from 1 to 255.
   * @param payload The bytes, up to `maxPayloadSize`.
   * @param options A signal, and whether to wait for `fdatasync`.
   * @returns The record's LSN.
   * @throws {RangeError} `type` out of range or payload too large.
   * @throws {TypeError} `payload` is not a `Uint8Array`, or its buffer is detached.
   * @throws {WalFailedError} The log failed (fatal I/O error).
   * @throws {WalDiskFullError} The disk is full; the record was not kept.
   * @throws {WalClosedError} `close()` was called.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SegmentLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using log = await SegmentLog.open(dir);
   * const { lsn } = await log.append(7, new Uint8Array([1, 2, 3]), {
   *   signal: AbortSignal.timeout(10_000),
   * });
   * assert.equal(lsn, 1);
   * await log.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  append(type: number, payload: Uint8Array, options?: AppendOptions): Promise<AppendResult> {
    if (!Number.isInteger(type) || type < 1 || type > 255) {
      return Promise.reject(
        new RangeError(
          `Cannot append record: type must be an integer from 1 to 255: received ${type}`,
        ),
      );
    }
    if (!(payload instanceof Uint8Array)) {
      return Promise.reject(
        new TypeError(
          `Cannot append record: payload must be a Uint8Array: received ${typeName(payload)}`,
        ),
      );
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closing) {
      return Promise.reject(new WalClosedError("Cannot append record: the log is closed"));
    }
    const bytes = takeBytes(this.#copier, payload, this.#config.maxPayloadSize);
    if (!(bytes instanceof Uint8Array)) return Promise.reject(bytes);
    return this.#appendBytes(type, bytes, options);
  }

  /**
   * Appends bytes the log may read until the append settles: the copy
   * `append()` takes, or (for the write-ahead log's own records, through
   * `segmentLogInternals.appendOwned`) a buffer its owner does not change
   * before then.
   */
  #appendBytes(type: number, bytes: Uint8Array, options?: AppendOptions): Promise<AppendResult> {
    const durable = options?.durable ?? true;
    const signal = options?.signal;
    if (signal !== undefined) return withSignal(signal, () => this.#append(type, bytes, durable));
    return this.#append(type, bytes, durable);
  }

  // Not an async function: an append that waits for a group (most do) costs one `then`
  // rather than an async frame.
  #append(type: number, payload: Uint8Array, durable: boolean): Promise<AppendResult> {
    const record = new Pending(type, payload, durable);
    try {
      if (!this.#leading) {
        checkpointIfCancelled();
        this.#enqueue(record);
        this.#leading = true;
        return this.#lead(record);
      }
      // Parks before queueing: a cancelled caller throws here and never queues.
      const waiter = park<AppendResult | Pending>(() => {
        if (record.state === QUEUED) this.#dequeue(record);
      });
      record.waiter = waiter;
      this.#enqueue(record);
      return waiter.promise.then(this.#woken, (error) => {
        // Cancelled after the leader took the record: the outcome is coming, wait for it.
        if (error instanceof CancelledError && record.state !== QUEUED) return settled(record);
        throw error;
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A waiting append woke: with its result, or with its record to lead the next group. */
  readonly #woken = (value: AppendResult | Pending): AppendResult | Promise<AppendResult> =>
    value instanceof Pending ? this.#lead(value) : value;

  #enqueue(record: Pending): void {
    this.#queue.push(record);
    this.#queuedBytes += record.size;
    if (this.#delayWaiter !== undefined && this.#queuedBytes >= this.#config.maxGroupBytes) {
      this.#delayWaiter.wake();
    }
  }

  #dequeue(record: Pending): void {
    const index = this.#queue.indexOf(record);
    if (index >= 0) {
      this.#queue.splice(index, 1);
      this.#queuedBytes -= record.size;
    }
  }

  /** Writes one group as its leader (the group includes `own`), then hands the lead on. */
  async #lead(own: Pending): Promise<AppendResult> {
    own.waiter = undefined;
    try {
      // `own` is at the head of the queue, unless the log failed meanwhile.
      if (own.state === QUEUED) {
        if (this.#config.policy !== "always") {
          // Let appends made in this turn of the event loop join: among them those of the
          // callers the previous group just acknowledged. Then wait for more if asked to.
          await macrotaskYield();
          if (this.#config.maxGroupDelayMs > 0) await this.#gather();
        }
        await this.#commit();
      }
    } catch (error) {
      // Not an I/O failure (those are handled in #commit): a bug. Fail safe.
      this.#fail(new IoFailure("internal error", true, error), this.#inflight);
    } finally {
      this.#inflight = [];
      this.#handOff();
    }
    return settled(own);
  }

  /** Waits up to `maxGroupDelayMs` for more records, shielded: others depend on this leader. */
  async #gather(): Promise<void> {
    if (this.#queuedBytes >= this.#config.maxGroupBytes || this.#closing) return;
    const clock = currentClock();
    const deadline = clock.now() + this.#config.maxGroupDelayMs;
    await new CancelScope({ shield: true }).run(async () => {
      const waiter = park<void>();
      const timer = clock.setTimer(deadline, () => waiter.wake());
      this.#delayWaiter = waiter;
      try {
        await waiter.promise;
      } finally {
        timer.cancel();
        this.#delayWaiter = undefined;
      }
    });
  }

  #handOff(): void {
    const next = this.#queue[0];
    if (next !== undefined && this.#failure === undefined) {
      // Cancelled waiters leave the queue at once, so the head can always be woken.
      next.waiter!.wake(next);
      return;
    }
    this.#leading = false;
    this.#idle?.resolve();
    this.#idle = undefined;
  }

  /** Takes a group from the head of the queue and makes it durable. Never throws. */
  async #commit(): Promise<void> {
    const config = this.#config;
    const queue = this.#queue;
    let segment = this.#segments[this.#segments.length - 1];
    const rotate = segment.count > 0 && segment.size + queue[0].size > config.segmentSize;
    const room = rotate ? config.segmentSize - HEADER_SIZE : config.segmentSize - segment.size;
    const cap = Math.min(room, config.maxGroupBytes);
    const most = config.policy === "always" ? 1 : queue.length;
    let count = 0;
    let bytes = 0;
    let durable = false;
    while (count < most) {
      const record = queue[count];
      if (count > 0 && bytes + record.size > cap) break;
      record.state = TAKEN;
      bytes += record.size;
      if (record.durable) durable = true;
      count++;
    }
    const group = queue.splice(0, count);
    this.#queuedBytes -= bytes;
    this.#inflight = group;

    if (rotate) {
      try {
        await this.#rotate();
      } catch (error) {
        this.#failGroup(group, error);
        return;
      }
      segment = this.#segments[this.#segments.length - 1];
    }

    if (this.#buffer.length < bytes) {
      this.#buffer = new Uint8Array(Math.max(bytes, this.#buffer.length * 2));
      this.#view = new DataView(this.#buffer.buffer);
    }
    const buffer = this.#buffer;
    let offset = 0;
    for (const record of group) {
      offset = encodeRecord(buffer, this.#view, offset, record.type, record.payload, segment.seed);
    }
    const start = segment.size;
    // At least a record's framing of zeros after every group, so that a tail of reserved
    // space is never mistaken for a torn record.
    if (start + bytes + RECORD_OVERHEAD > this.#allocated) this.#reserve(start + bytes);
    try {
      await this.#write(buffer.subarray(0, bytes), segment.path, start);
    } catch (error) {
      await this.#writeFailed(group, error, segment, start);
      return;
    }
    this.#dirty = true;
    if (durable && config.policy !== "none") {
      try {
        await this.#sync(segment.path);
      } catch (error) {
        this.#failGroup(group, error);
        return;
      }
    }
    const first = segment.baseLsn + segment.count;
    segment.size += bytes;
    segment.count += count;
    const stats = this.#stats;
    stats.records += count;
    stats.groups++;
    stats.bytes += bytes;
    const observer = config.observer;
    if (observer?.group !== undefined) {
      try {
        observer.group(count, bytes);
      } catch (error) {
        reportError(error);
      }
    }
    for (let i = 0; i < count; i++) deliver(group[i], { lsn: first + i });
  }

  /** Writes `data` at offset `start` of the active segment. */
  async #write(data: Uint8Array, path: string, start: number): Promise<void> {
    if (faults.beforeWrite !== undefined) await faults.beforeWrite(path, data);
    const file = this.#file;
    if (this.#position !== start) {
      this.#position = -1;
      file.seekSync(start, Deno.SeekMode.Start);
      this.#position = start;
    }
    // A group of up to 256 KiB is written synchronously: a copy into the page cache takes
    // tens of microseconds, less than the hop to a worker thread and back that an async
    // write costs (hundreds on a busy machine). The fdatasync after it stays async.
    const sync = data.length <= SYNC_WRITE_LIMIT;
    while (data.length > 0) {
      const position = this.#position;
      this.#position = -1;
      const written = sync ? file.writeSync(data) : await file.write(data);
      this.#position = position + written;
      data = data.subarray(written);
    }
    if (this.#position > this.#allocated) this.#allocated = this.#position;
  }

  /**
   * Extends the active segment file with zeros (a hole, no disk space) past
   * `end`, in steps of 4 MiB up to the segment size: an `fdatasync` after
   * writes within the file's length need not also record a new length, and
   * runs faster. Best effort: if it fails, writes extend the file as they go.
   */
  #reserve(end: number): void {
    const size = Math.max(
      end + RECORD_OVERHEAD,
      Math.min(this.#config.segmentSize, this.#allocated + RESERVE_BYTES),
    );
    try {
      this.#file.truncateSync(size);
      this.#allocated = size;
    } catch {
      // Appending works without it.
    }
  }

  /**
   * `fdatasync` of the active segment, timed for the observer; an error is
   * fatal.
   */
  async #sync(path: string): Promise<void> {
    let started: number;
    try {
      if (faults.beforeSync !== undefined) await faults.beforeSync(path);
      started = performance.now();
      await this.#file.syncData();
    } catch (error) {
      throw new IoFailure(`fdatasync of ${path}`, true, error);
    }
    const ended = performance.now();
    this.#stats.syncs++;
    this.#dirty = false;
    const observer = this.#config.observer;
    if (observer?.sync !== undefined) {
      try {
        observer.sync((ended - started) / 1000);
      } catch (error) {
        reportError(error);
      }
    }
  }

  /** A write failed: cut the segment back to `start`; a full disk is not fatal. */
  async #writeFailed(
    group: Pending[],
    error: unknown,
    segment: Segment,
    start: number,
  ): Promise<void> {
    if (!isNoSpace(error)) {
      this.#failGroup(group, new IoFailure(`write to ${segment.path}`, true, error));
      return;
    }
    try {
      this.#position = -1;
      await this.#file.truncate(start);
      this.#allocated = start;
    } catch (truncateError) {
      this.#failGroup(
        group,
        new IoFailure(`truncate of ${segment.path} after a failed write`, true, truncateError),
      );
      return;
    }
    this.#failGroup(group, new IoFailure(`write to ${segment.path}`, false, error));
  }

  /** Syncs the active segment and starts a new one after it, its LSNs reserved first. */
  async #rotate(): Promise<void> {
    const old = this.#segments[this.#segments.length - 1];
    await this.#trim(old);
    if (this.#dirty) await this.#sync(old.path);
    const baseLsn = old.baseLsn + old.count;
    await this.#raiseLsnLimit(baseLsn + mostRecordsPerSegment(this.#config.segmentSize));
    const created = await createSegment(this.#dir, baseLsn, this.#logId);
    const oldFile = this.#file;
    this.#file = created.file;
    this.#allocated = HEADER_SIZE;
    this.#position = HEADER_SIZE;
    this.#segments.push(created.segment);
    this.#dirty = false;
    this.#stats.rotations++;
    try {
      oldFile.close();
    } catch {
      // Its data is synced; a failed close loses nothing.
    }
  }

  /** Cuts the zeros reserved past the active segment's records, to be synced next. */
  async #trim(segment: Segment): Promise<void> {
    if (this.#allocated <= segment.size) return;
    try {
      await this.#file.truncate(segment.size);
    } catch (error) {
      throw new IoFailure(`truncate of ${segment.path}`, true, error);
    }
    this.#allocated = segment.size;
    this.#dirty = true;
  }

  /** Rejects a group; a fatal failure fails the whole log. */
  #failGroup(group: Pending[], error: unknown): void {
    if (error instanceof IoFailure && !error.fatal) {
      const cause = error.cause;
      const failure = isNoSpace(cause)
        ? new WalDiskFullError(`Cannot append record: the disk is full: ${error.message}`, {
          cause,
        })
        : new WalError(`Cannot append record: ${error.message}`, { cause });
      for (const record of group) reject(record, failure);
      return;
    }
    this.#fail(error, group);
  }

  /** Enters the failed state: `group` and everything queued rejects, and every later append. */
  #fail(error: unknown, group: Pending[]): void {
    if (this.#failure === undefined) {
      const what = error instanceof IoFailure ? error.message : errorMessage(error);
      this.#failure = new WalFailedError(
        `Cannot append record: the log failed on an I/O error and accepts no more appends: ${what}`,
        { cause: error instanceof IoFailure ? error.cause : error },
      );
    }
    const failure = this.#failure;
    const queued = this.#queue.splice(0);
    this.#queuedBytes = 0;
    for (const record of group) if (record.state !== DONE) reject(record, failure);
    for (const record of queued) reject(record, failure);
  }

  /**
   * Reads the records back in LSN order, checking each checksum: those
   * acknowledged before the iteration starts (and possibly some appended
   * during it). Segments removed meanwhile by `compact()` are skipped.
   *
   * @param options Where to start.
   * @returns An async iterator of records.
   * @throws {WalCorruptionError} A record no longer matches its checksum.
   * @throws {WalClosedError} The log is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SegmentLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using log = await SegmentLog.open(dir);
   * for (let i = 0; i < 3; i++) await log.append(1, new Uint8Array([i]));
   * const lsns: number[] = [];
   * for await (const record of log.replay({ fromLsn: 2 })) lsns.push(record.lsn);
   * assert.equal(lsns.join(), "2,3");
   * await log.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async *replay(options: ReplayOptions = {}): AsyncGenerator<LogRecord, void, undefined> {
    const from = options.fromLsn ?? 0;
    if (!Number.isSafeInteger(from) || from < 0) {
      throw new RangeError(
        `Cannot replay log: fromLsn must be a non-negative integer: received ${from}`,
      );
    }
    if (this.#closed) throw new WalClosedError("Cannot replay log: it is closed");
    const snapshot = this.#segments.map((segment) => ({ ...segment }));
    for (const segment of snapshot) {
      if (segment.count === 0 || segment.baseLsn + segment.count <= from) continue;
      let file: Deno.FsFile;
      try {
        file = await Deno.open(segment.path, { read: true });
      } catch (error) {
        // Compacted away since the snapshot.
        if (error instanceof Deno.errors.NotFound && segment.baseLsn < this.firstLsn) continue;
        throw error;
      }
      try {
        await file.seek(segment.start, Deno.SeekMode.Start);
        const reader = new FrameReader(file, segment.seed, segment.start, segment.size);
        let lsn = segment.baseLsn;
        const end = segment.baseLsn + segment.count;
        while (lsn < end) {
          checkpointIfCancelled();
          let frame;
          try {
            frame = await reader.next();
          } catch (error) {
            throw new WalCorruptionError(
              `Cannot replay log: ${segment.path}: ${errorMessage(error)}`,
              { cause: error },
            );
          }
          if (frame === undefined) {
            const stop = reader.stop!;
            const where = stop.kind === "end" ? "end of data" : `${stop.reason}`;
            throw new WalCorruptionError(
              `Cannot replay log: ${segment.path} at offset ${reader.offset}: ${where} before LSN ${lsn}`,
            );
          }
          if (lsn >= from) yield { lsn, type: frame.type, payload: frame.payload.slice() };
          lsn++;
        }
      } finally {
        file.close();
      }
    }
  }

  /** The segment file and byte offset of the record `lsn` (for an error that names them). */
  async #locate(lsn: number): Promise<{ path: string; offset: number }> {
    const segment = this.#segments.findLast((s) => s.baseLsn <= lsn) ?? this.#segments[0];
    using file = await Deno.open(segment.path, { read: true });
    await file.seek(segment.start, Deno.SeekMode.Start);
    const reader = new FrameReader(file, segment.seed, segment.start, segment.size);
    for (let at = segment.baseLsn; at < lsn && (await reader.next()) !== undefined; at++);
    return { path: segment.path, offset: reader.offset };
  }

  /**
   * Removes every segment whose records all have LSNs below `upToLsn`,
   * oldest first, then syncs the directory. The segment being appended to is
   * never removed. Compactions run one at a time.
   *
   * @param upToLsn Records below this LSN are no longer needed.
   * @returns How many segments were removed.
   * @throws {RangeError} `upToLsn` is not a non-negative integer.
   * @throws {WalClosedError} The log is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SegmentLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * await using log = await SegmentLog.open(dir, { segmentSize: 4096 });
   * for (let i = 0; i < 100; i++) await log.append(1, new Uint8Array(100));
   * await log.compact(90);
   * assert(log.firstLsn <= 90 && log.segmentCount < 4);
   * await log.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  compact(upToLsn: number): Promise<number> {
    if (!Number.isSafeInteger(upToLsn) || upToLsn < 0) {
      return Promise.reject(
        new RangeError(
          `Cannot compact log: upToLsn must be a non-negative integer: received ${upToLsn}`,
        ),
      );
    }
    if (this.#closing) {
      return Promise.reject(new WalClosedError("Cannot compact log: it is closed"));
    }
    const run = this.#compaction.then(() => this.#compactNow(upToLsn));
    this.#compaction = run.catch(() => {});
    return run;
  }

  async #compactNow(upToLsn: number): Promise<number> {
    const segments = this.#segments;
    let count = 0;
    while (count < segments.length - 1 && segments[count + 1].baseLsn <= upToLsn) count++;
    if (count === 0) return 0;
    const removed = segments.splice(0, count);
    for (let i = 0; i < removed.length; i++) {
      try {
        await Deno.remove(removed[i].path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) {
          segments.unshift(...removed.slice(i));
          throw new WalError(
            `Cannot compact log: cannot remove ${removed[i].path}: ${errorMessage(error)}`,
            { cause: error },
          );
        }
      }
    }
    // The side files of torn tails of the segments removed go with them (best effort: one
    // that cannot be removed now is tried again at the next compaction).
    const firstLsn = segments[0].baseLsn;
    const sideFiles: SideFile[] = [];
    for (const side of this.#tornSideFiles) {
      if (side.baseLsn >= firstLsn) {
        sideFiles.push(side);
        continue;
      }
      try {
        await Deno.remove(side.path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) sideFiles.push(side);
      }
    }
    this.#tornSideFiles = sideFiles;
    try {
      await syncDir(this.#dir);
    } catch (error) {
      this.#fail(error, []);
      throw this.#failure!;
    }
    return count;
  }

  /**
   * Closes the log: waits for the appends already made, syncs what is not
   * synced yet (also under `"none"`), and releases the directory lock. Later
   * appends reject with {@linkcode WalClosedError}. Idempotent.
   *
   * @returns A promise that settles when the log is closed.
   * @throws {WalFailedError} The final sync failed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SegmentLog } from "@ipfs-kit/kit/wal";
   *
   * const dir = await Deno.makeTempDir();
   * const log = await SegmentLog.open(dir, { syncPolicy: "none" });
   * await log.append(1, new Uint8Array(8));
   * await log.close(); // durable now
   * await assert.rejects(log.append(1, new Uint8Array(8))); // closed
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  close(): Promise<void> {
    return this.#closePromise ??= this.#close();
  }

  /** Closes the log: see {@linkcode SegmentLog.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#delayWaiter?.wake();
    if (this.#leading) {
      this.#idle = Promise.withResolvers<void>();
      await this.#idle.promise;
    }
    await this.#compaction;
    let error: unknown;
    if (this.#failure === undefined) {
      try {
        const active = this.#segments[this.#segments.length - 1];
        if (this.#allocated > active.size) {
          // No sync of its own: should the cut be lost, recovery cuts the zeros again.
          try {
            this.#file.truncateSync(active.size);
          } catch {
            // Recovery cuts them.
          }
        }
        if (this.#dirty) await this.#sync(active.path);
      } catch (syncError) {
        this.#fail(syncError, []);
        error = this.#failure;
      }
    }
    this.#closed = true;
    this.#file.close();
    this.#lock.close();
    if (error !== undefined) throw error;
  }
}
