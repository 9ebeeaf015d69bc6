/**
 * The write-ahead log's error family. Every error the log throws on its own
 * account is a {@linkcode WalError}; invalid arguments are `TypeError` and
 * `RangeError`, and cancellation is the runtime's `CancelledError` (or the
 * `signal`'s reason).
 *
 * @module
 */

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
 * Another process (or another open handle in this one) holds the log's
 * directory lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentLog, WalLockedError } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * const log = await SegmentLog.open(dir);
 * await SegmentLog.open(dir).catch((error) => assert(error instanceof WalLockedError));
 * await log.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class WalLockedError extends WalError {
  /**
   * Creates a locked-log error.
   *
   * @param message Which directory.
   */
  constructor(message: string) {
    super(message);
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
