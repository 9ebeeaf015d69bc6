/**
 * The runtime's error family. Callers catch these by class.
 *
 * @module
 */

/**
 * Thrown at a checkpoint inside a cancel scope that has been cancelled.
 *
 * The scope that was cancelled catches it when it exits, so user code
 * normally never sees it. Code that catches every error should re-throw it:
 * cancellation is not a failure.
 *
 * @example Re-throwing cancellation from a broad catch
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelledError, moveOnAfter, sleep } from "@ipfs-kit/kit/runtime";
 *
 * let reached = false;
 * await moveOnAfter(1, async () => {
 *   try {
 *     await sleep(1_000);
 *   } catch (error) {
 *     if (error instanceof CancelledError) throw error; // the scope catches it
 *     console.error(error);
 *   }
 *   reached = true;
 * });
 * assert.equal(reached, false);
 * ```
 */
export class CancelledError extends Error {
  /**
   * Creates a cancellation error.
   *
   * @param reason Why the scope was cancelled; kept as `cause`.
   */
  constructor(reason?: unknown) {
    super(
      reason === undefined ? "Cancelled" : `Cancelled: ${describe(reason)}`,
      { cause: reason },
    );
    this.name = "CancelledError";
  }
}

/**
 * Thrown by {@linkcode failAfter} and {@linkcode failAt} when the deadline passes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { failAfter, sleepForever, TimeoutError } from "@ipfs-kit/kit/runtime";
 *
 * try {
 *   await failAfter(1, () => sleepForever());
 * } catch (error) {
 *   assert(error instanceof TimeoutError);
 * }
 * ```
 */
export class TimeoutError extends Error {
  /**
   * Creates a timeout error.
   *
   * @param message What timed out.
   */
  constructor(message = "Deadline exceeded") {
    super(message);
    this.name = "TimeoutError";
  }
}

/**
 * Every failure of a task group, from its children and its body, together.
 *
 * Cancellation is never one of the `errors`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { taskGroup, TaskGroupError } from "@ipfs-kit/kit/runtime";
 *
 * try {
 *   await taskGroup((tg) => {
 *     tg.spawn(() => Promise.reject(new RangeError("bad")));
 *   });
 * } catch (error) {
 *   assert(error instanceof TaskGroupError);
 *   assert((error as TaskGroupError).errors[0] instanceof RangeError);
 * }
 * ```
 */
export class TaskGroupError extends AggregateError {
  /**
   * Creates a group error.
   *
   * @param errors The failures, in the order they happened.
   * @param message A summary.
   */
  constructor(errors: unknown[], message?: string) {
    super(
      errors,
      message ??
        `Task group failed: ${errors.length} error${errors.length === 1 ? "" : "s"}: ${
          errors.map(describe).join("; ")
        }`,
    );
    this.name = "TaskGroupError";
  }
}

/**
 * Thrown by a receive on a channel whose every sender has been closed and
 * whose buffer is empty: the normal end of a stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMemoryChannel, EndOfStream } from "@ipfs-kit/kit/runtime";
 *
 * const [send, receive] = createMemoryChannel<number>(1);
 * send.close();
 * try {
 *   await receive.receive();
 * } catch (error) {
 *   assert(error instanceof EndOfStream);
 * }
 * receive.close();
 * ```
 */
export class EndOfStream extends Error {
  /**
   * Creates an end-of-stream error.
   *
   * @param message Details.
   */
  constructor(message = "End of stream: every sender is closed") {
    super(message);
    this.name = "EndOfStream";
  }
}

/**
 * Thrown when using a resource (a channel end, a pool) that this side has
 * already closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClosedResourceError, createMemoryChannel } from "@ipfs-kit/kit/runtime";
 *
 * const [send, receive] = createMemoryChannel<number>(1);
 * send.close();
 * try {
 *   await send.send(1);
 * } catch (error) {
 *   assert(error instanceof ClosedResourceError);
 * }
 * receive.close();
 * ```
 */
export class ClosedResourceError extends Error {
  /**
   * Creates a closed-resource error.
   *
   * @param message Details.
   */
  constructor(message = "Resource is closed") {
    super(message);
    this.name = "ClosedResourceError";
  }
}

/**
 * Thrown when the other side of a resource is gone: sending on a channel
 * whose every receiver has been closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BrokenResourceError, createMemoryChannel } from "@ipfs-kit/kit/runtime";
 *
 * const [send, receive] = createMemoryChannel<number>(1);
 * receive.close();
 * try {
 *   await send.send(1);
 * } catch (error) {
 *   assert(error instanceof BrokenResourceError);
 * }
 * send.close();
 * ```
 */
export class BrokenResourceError extends Error {
  /**
   * Creates a broken-resource error.
   *
   * @param message Details.
   */
  constructor(message = "Resource is broken: the other side is closed") {
    super(message);
    this.name = "BrokenResourceError";
  }
}

/**
 * Thrown by the non-waiting variants (`sendNowait`, `receiveNowait`,
 * `acquireNowait`) when the operation would have to wait.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMemoryChannel, WouldBlock } from "@ipfs-kit/kit/runtime";
 *
 * const [send, receive] = createMemoryChannel<number>(0);
 * try {
 *   receive.receiveNowait();
 * } catch (error) {
 *   assert(error instanceof WouldBlock);
 * }
 * send.close();
 * receive.close();
 * ```
 */
export class WouldBlock extends Error {
  /**
   * Creates a would-block error.
   *
   * @param message Details.
   */
  constructor(message = "Operation would block") {
    super(message);
    this.name = "WouldBlock";
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Whether `error` is what cancellation throws: a {@linkcode CancelledError}, an
 * `AbortError` from a Web API or library whose signal a cancellation aborted, or
 * the `SuppressedError` of an `await using` block where both the body and the
 * disposer (a task group's join) were cancelled.
 *
 * Use it in a broad `catch` that must let cancellation through.
 *
 * @param error What was caught.
 * @returns Whether it is a cancellation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelledError, isCancellationError } from "@ipfs-kit/kit/runtime";
 *
 * assert(isCancellationError(new CancelledError()));
 * assert(isCancellationError(new DOMException("stopped", "AbortError")));
 * assert(!isCancellationError(new Error("disk full")));
 * ```
 */
export function isCancellationError(error: unknown): boolean {
  if (error instanceof CancelledError) return true;
  if (error instanceof SuppressedError) {
    return isCancellationError(error.error) && isCancellationError(error.suppressed);
  }
  return error instanceof Error && error.name === "AbortError";
}
