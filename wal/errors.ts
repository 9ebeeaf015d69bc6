/**
 * The write-ahead log's error family. Every error the log throws on its own
 * account is a {@linkcode WalError}; invalid arguments are `TypeError` and
 * `RangeError`, and cancellation is the runtime's `CancelledError` (or the
 * `signal`'s reason). The errors about the log's directory are also those
 * every store shares (`@ipfs-kit/kit/runtime/lowlevel`): a
 * {@linkcode WalLockedError} is a `LockedError`, as the disk cache's and the
 * repository's are, and a {@linkcode WalDirectoryError} a `DirectoryError`.
 *
 * @module
 */

import { DirectoryError, type DirectoryProblem, LockedError } from "../runtime/directory.ts";
import type { DamageKind } from "./types.ts";

/**
 * The base class of the log's errors: catch it to handle them all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentLog, WalError } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * const log = await SegmentLog.open(dir);
 * await log.close();
 * try {
 *   await log.append(1, new Uint8Array(1));
 * } catch (error) {
 *   assert(error instanceof WalError);
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class WalError extends Error {
  /**
   * Creates a log error.
   *
   * @param message What went wrong.
   * @param options The underlying error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WalError";
  }

  /**
   * `error instanceof WalError` holds for every error of the log's family:
   * also for {@linkcode WalLockedError} and {@linkcode WalDirectoryError},
   * whose classes extend the runtime's `LockedError` and `DirectoryError`.
   *
   * @param value Anything.
   * @returns Whether it is one of the log's errors.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === WalError &&
      (value instanceof WalLockedError || value instanceof WalDirectoryError);
  }
}

/**
 * Thrown by operations on a log that was closed, and by appends made after
 * `close()` was called.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentLog, WalClosedError } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * const log = await SegmentLog.open(dir);
 * await log.close();
 * await log.append(1, new Uint8Array(1))
 *   .catch((error) => assert(error instanceof WalClosedError));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class WalClosedError extends WalError {
  /**
   * Creates a closed-log error.
   *
   * @param message Details.
   */
  constructor(message = "Cannot use log: it is closed") {
    super(message);
    this.name = "WalClosedError";
  }
}

/**
 * The log failed: an `fdatasync` (or another write whose outcome cannot be
 * undone) returned an error. Failure is final and never retried, because
 * after a failed `fdatasync` the kernel may have dropped the dirty pages and
 * a retry can report success for data that is gone. Every pending append
 * and every later one rejects with this error; its `cause` is the I/O error.
 * Reopen the log to recover what reached the disk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WalFailedError } from "@ipfs-kit/kit/wal";
 *
 * const error = new WalFailedError("Cannot append record: log failed", {
 *   cause: new Error("EIO"),
 * });
 * assert(error.cause instanceof Error);
 * ```
 */
export class WalFailedError extends WalError {
  /**
   * Creates a failed-log error.
   *
   * @param message What failed.
   * @param options The I/O error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WalFailedError";
  }
}

/**
 * An append failed because the disk is full (`ENOSPC` or `EDQUOT`). Nothing
 * of the failed appends was kept: the log cut its segment back to the last
 * complete group, and it stays usable, so appends succeed again once space
 * is freed (by {@linkcode SegmentLog.compact} for one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WalDiskFullError, WalError } from "@ipfs-kit/kit/wal";
 *
 * const error = new WalDiskFullError("Cannot append record: disk is full");
 * assert(error instanceof WalError);
 * ```
 */
export class WalDiskFullError extends WalError {
  /**
   * Creates a disk-full error.
   *
   * @param message What failed.
   * @param options The I/O error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WalDiskFullError";
  }
}

/**
 * The log's files are damaged in a way recovery cannot repair on its own, or
 * a record read by `replay()` no longer matches its checksum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WalCorruptionError } from "@ipfs-kit/kit/wal";
 *
 * const error = new WalCorruptionError("Cannot replay log: checksum mismatch");
 * assert.equal(error.name, "WalCorruptionError");
 * ```
 */
export class WalCorruptionError extends WalError {
  /**
   * Creates a corruption error.
   *
   * @param message What is damaged, and where.
   * @param options The underlying error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WalCorruptionError";
  }
}

/**
 * `open()` found damage that it does not repair on its own: anywhere but in
 * the torn tail of the newest segment (the last write before a crash, which
 * is cut off as such). Nothing was changed on disk. The error names the
 * segment file and the offset where the log stops being readable; the
 * records from {@linkcode WalDamagedError.lsn} on cannot be read.
 *
 * To open the log anyway, pass `recovery: "point-in-time"`: the log opens
 * with the records before the damage, sets the damaged part aside (nothing
 * is deleted) and never hands out a dropped LSN again. See "Recovery" in
 * the documentation of {@linkcode SegmentLog}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentLog, WalCorruptionError, WalDamagedError } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using log = await SegmentLog.open(dir, { segmentSize: 256 });
 *   for (let i = 0; i < 20; i++) await log.append(1, new Uint8Array(40).fill(i));
 * }
 * // One bit flips in the first segment, which is not the newest.
 * const first = `${dir}/00000000000000000001.wal`;
 * const bytes = await Deno.readFile(first);
 * bytes[100] ^= 1;
 * await Deno.writeFile(first, bytes);
 *
 * const error = await SegmentLog.open(dir).catch((error) => error);
 * assert(error instanceof WalDamagedError && error instanceof WalCorruptionError);
 * assert.equal(error.segment, "00000000000000000001.wal");
 * assert.equal(error.kind, "corrupt");
 *
 * await using log = await SegmentLog.open(dir, { recovery: "point-in-time" });
 * assert.equal(log.recovery.damage?.lsn, error.lsn);
 * assert(log.nextLsn > 20); // dropped LSNs are never handed out again
 * await log.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class WalDamagedError extends WalCorruptionError {
  /** The damaged segment's file name, such as `00000000000000000042.wal`. */
  readonly segment: string;
  /** Its path. */
  readonly path: string;
  /** The byte offset in it where the log stops being readable. */
  readonly offset: number;
  /** What is wrong there: see {@linkcode RecoveryDamage.kind}. */
  readonly kind: DamageKind;
  /** The first LSN that cannot be read. */
  readonly lsn: number;
  /** Details, such as `record checksum mismatch`. */
  readonly reason: string;

  /**
   * Creates the error; the message names the segment, the offset and the
   * reason.
   *
   * @param damage Where the damage is and what it is.
   */
  constructor(
    damage: { kind: DamageKind; path: string; offset: number; lsn: number; reason: string },
  ) {
    const segment = damage.path.slice(damage.path.lastIndexOf("/") + 1);
    super(
      `Cannot open WAL: segment ${segment} is damaged at offset ${damage.offset}: ${damage.reason}; ` +
        `records from LSN ${damage.lsn} on cannot be read. Open it with recovery: "point-in-time" ` +
        `to keep the records before the damage and set the rest aside`,
    );
    this.name = "WalDamagedError";
    this.segment = segment;
    this.path = damage.path;
    this.offset = damage.offset;
    this.kind = damage.kind;
    this.lsn = damage.lsn;
    this.reason = damage.reason;
  }
}

/**
 * The log's directory cannot be used: `problem` is `"not-a-directory"` (the
 * path is a file, or lies under one) or `"not-writable"` (it cannot be
 * created, written or read: permissions, or a read-only file system; the
 * message says which). Thrown by `open()` instead of the raw operating
 * system error, which is the `cause` (when there is one). A `DirectoryError`
 * of `@ipfs-kit/kit/runtime/lowlevel`, as the disk cache's, and a
 * {@linkcode WalError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentLog, WalDirectoryError, WalError } from "@ipfs-kit/kit/wal";
 * import { DirectoryError } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/file`, "not a directory");
 * const error = await SegmentLog.open(`${dir}/file/wal`).catch((error) => error);
 * assert(error instanceof WalDirectoryError && error instanceof DirectoryError);
 * assert(error instanceof WalError);
 * assert.equal(error.problem, "not-a-directory");
 * assert.equal(error.path, `${dir}/file/wal`);
 * assert.match(error.message, /is under .*file, which is a file/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class WalDirectoryError extends DirectoryError {
  /**
   * Creates the error.
   *
   * @param message What is wrong, naming the path.
   * @param path The log's directory.
   * @param problem What is wrong, as a code.
   * @param options The operating system's error as `cause`.
   */
  constructor(message: string, path: string, problem: DirectoryProblem, options?: ErrorOptions) {
    super(message, path, problem, options);
    this.name = "WalDirectoryError";
  }
}

/**
 * Another process (or another open handle in this one) holds the log's
 * directory lock. A `LockedError` of `@ipfs-kit/kit/runtime/lowlevel` (the
 * error every store's second opener gets, the disk cache's included), and a
 * {@linkcode WalError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentLog, WalError, WalLockedError } from "@ipfs-kit/kit/wal";
 * import { LockedError } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const dir = await Deno.makeTempDir();
 * const log = await SegmentLog.open(dir);
 * const error = await SegmentLog.open(dir).catch((error) => error);
 * assert(error instanceof WalLockedError && error.path === dir);
 * assert(error instanceof LockedError && error instanceof WalError);
 * await log.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class WalLockedError extends LockedError {
  /**
   * Creates a locked-log error.
   *
   * @param message Which directory.
   * @param path The directory.
   */
  constructor(message: string, path: string) {
    super(message, path);
    this.name = "WalLockedError";
  }
}

/**
 * The write-ahead log holds no operation with the given id (it never did,
 * or it finished and its retention ran out).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OperationNotFoundError, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using wal = await WriteAheadLog.open(dir);
 * await wal.wait("01J0000000000000000000000")
 *   .catch((error) => assert(error instanceof OperationNotFoundError));
 * await wal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class OperationNotFoundError extends WalError {
  /** The id that was not found. */
  readonly id: string;

  /**
   * Creates the error.
   *
   * @param message What could not be done, and the id.
   * @param id The id that was not found.
   */
  constructor(message: string, id: string) {
    super(message);
    this.name = "OperationNotFoundError";
    this.id = id;
  }
}

/**
 * An operation is in a state that does not allow what was asked, such as
 * retrying a completed operation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OperationStateError } from "@ipfs-kit/kit/wal";
 *
 * const error = new OperationStateError("Cannot retry operation: it is completed: 01J...", "01J...", "completed");
 * assert.equal(error.state, "completed");
 * ```
 */
export class OperationStateError extends WalError {
  /** The operation's id. */
  readonly id: string;
  /** The state it is in. */
  readonly state: string;

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param id The operation's id.
   * @param state Its state.
   */
  constructor(message: string, id: string, state: string) {
    super(message);
    this.name = "OperationStateError";
    this.id = id;
    this.state = state;
  }
}

/**
 * A submission was refused because the log holds as many unfinished
 * operations (or bytes of their parameters) as `maxPending`
 * (`maxPendingBytes`) allow: try again once some have finished. The HTTP API
 * answers it with 503 `busy` and `Retry-After`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WalBusyError, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using wal = await WriteAheadLog.open(dir, { maxPending: 1 });
 * await wal.submit("custom", {});
 * await wal.submit("custom", {}).catch((error) => assert(error instanceof WalBusyError));
 * await wal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class WalBusyError extends WalError {
  /** How long to wait before trying again, in ms: a hint. */
  readonly retryAfterMs: number;

  /**
   * Creates a busy-log error.
   *
   * @param message What limit was reached.
   * @param retryAfterMs When to try again, in ms.
   */
  constructor(message: string, retryAfterMs = 1000) {
    super(message);
    this.name = "WalBusyError";
    this.retryAfterMs = retryAfterMs;
  }
}
