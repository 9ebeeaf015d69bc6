/**
 * Parking: how a blocking primitive suspends a task until something wakes it
 * or its cancel scope is cancelled. Every lock, event, channel and sleep of the
 * runtime is built on it, and so can a primitive of your own (see
 * `@ipfs-kit/kit/runtime/lowlevel`).
 *
 * Checkpoint rule: {@linkcode park} is a checkpoint. It throws
 * {@linkcode CancelledError} at once when the current scope is already
 * cancelled; otherwise the {@linkcode Waiter} it returns rejects with it as soon
 * as the scope is cancelled, unless it was woken first.
 *
 * @module
 */

import { type CancelScope, currentScope, internals } from "./cancel_scope.ts";
import type { CancelledError } from "./errors.ts";

/**
 * A blocked task: the promise settles when something wakes it, or rejects
 * with {@linkcode CancelledError} when its scope is cancelled first. Whatever
 * settles it first wins; the loser is ignored, so a cancelled waiter never
 * consumes a wake-up and a woken one never loses what it was given.
 *
 * Made by {@linkcode park}, never directly.
 *
 * @example A one-slot mailbox
 * ```ts
 * import assert from "node:assert/strict";
 * import { taskGroup } from "@ipfs-kit/kit/runtime";
 * import { park, type Waiter } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * let reader: Waiter<string> | undefined;
 * let got = "";
 * await taskGroup((tg) => {
 *   tg.spawn(async () => {
 *     reader = park<string>(() => (reader = undefined));
 *     got = await reader.promise;
 *   });
 *   tg.spawn(() => {
 *     assert.equal(reader?.wake("hello"), true);
 *     assert.equal(reader?.wake("again"), false); // settled already
 *   });
 * });
 * assert.equal(got, "hello");
 * ```
 */
export class Waiter<T> {
  /** Settles with the value the task is woken with, or rejects. */
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;
  #scope: CancelScope;
  #onCancel: (() => void) | undefined;
  #settled = false;

  /** @internal Use {@linkcode park}. */
  constructor(scope: CancelScope, onCancel?: () => void) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#scope = scope;
    this.#onCancel = onCancel;
    internals.addWaiter(scope, this);
  }

  /**
   * Whether it was woken, failed or cancelled already.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { park } from "@ipfs-kit/kit/runtime/lowlevel";
   *
   * const waiter = park<number>();
   * assert.equal(waiter.settled, false);
   * waiter.wake(1);
   * assert.equal(waiter.settled, true);
   * assert.equal(await waiter.promise, 1);
   * ```
   */
  get settled(): boolean {
    return this.#settled;
  }

  /**
   * Sets what runs if the waiter is cancelled (dequeue it, disarm a timer).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CancelScope } from "@ipfs-kit/kit/runtime";
   * import { park } from "@ipfs-kit/kit/runtime/lowlevel";
   *
   * let cleaned = false;
   * const scope = new CancelScope();
   * await scope.run(async () => {
   *   const waiter = park<void>();
   *   waiter.onCancel = () => (cleaned = true);
   *   scope.cancel();
   *   await waiter.promise;
   * });
   * assert(cleaned && scope.cancelledCaught);
   * ```
   */
  set onCancel(fn: (() => void) | undefined) {
    this.#onCancel = fn;
  }

  /**
   * Wakes the task with `value`.
   *
   * @param value What the waiting task receives.
   * @returns False if it was already settled (woken, failed or cancelled).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { park } from "@ipfs-kit/kit/runtime/lowlevel";
   *
   * const waiter = park<string>();
   * assert.equal(waiter.wake("a"), true);
   * assert.equal(waiter.wake("b"), false);
   * assert.equal(await waiter.promise, "a");
   * ```
   */
  wake(value: T): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    internals.removeWaiter(this.#scope, this);
    this.#resolve(value);
    return true;
  }

  /**
   * Wakes the task with an error.
   *
   * @param error What the waiting task's promise rejects with.
   * @returns False if it was already settled.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { park } from "@ipfs-kit/kit/runtime/lowlevel";
   *
   * const waiter = park<string>();
   * assert.equal(waiter.fail(new RangeError("closed")), true);
   * await assert.rejects(waiter.promise, RangeError);
   * ```
   */
  fail(error: unknown): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    internals.removeWaiter(this.#scope, this);
    this.#reject(error);
    return true;
  }

  /**
   * Called by the scope on cancellation: runs the `onCancel` cleanup and
   * rejects with `error`. Does nothing once settled.
   *
   * @param error The scope's cancellation.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CancelledError } from "@ipfs-kit/kit/runtime";
   * import { park } from "@ipfs-kit/kit/runtime/lowlevel";
   *
   * const waiter = park<void>();
   * waiter.cancel(new CancelledError("stop"));
   * await assert.rejects(waiter.promise, CancelledError);
   * ```
   */
  cancel(error: CancelledError): void {
    if (this.#settled) return;
    this.#settled = true;
    internals.removeWaiter(this.#scope, this);
    try {
      this.#onCancel?.();
    } catch (cleanupError) {
      // A failing cleanup must not stop the delivery to the other waiters.
      reportError(cleanupError);
    }
    this.#reject(error);
  }
}

/**
 * Blocks the current task: returns a {@linkcode Waiter} whose promise the
 * caller awaits. Throws {@linkcode CancelledError} at once when the current
 * scope is already cancelled (a blocking call is a checkpoint).
 *
 * @param onCancel What runs if the scope is cancelled before a wake-up
 * (remove the waiter from the primitive's queue).
 * @returns The waiter; hand it to whoever wakes the task.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelScope } from "@ipfs-kit/kit/runtime";
 * import { park } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const queue = new Set<unknown>();
 * const scope = new CancelScope({ timeout: 5 });
 * await scope.run(async () => {
 *   const waiter = park<void>(() => queue.delete(waiter));
 *   queue.add(waiter);
 *   await waiter.promise; // nobody wakes it: the deadline cancels it
 * });
 * assert.equal(queue.size, 0);
 * assert(scope.cancelledCaught);
 * ```
 */
export function park<T>(onCancel?: () => void): Waiter<T> {
  const scope = currentScope();
  const runtime = internals.runtime(scope);
  runtime.checkpoints++;
  if (scope.cancelled) throw internals.error(scope);
  return new Waiter<T>(scope, onCancel);
}
