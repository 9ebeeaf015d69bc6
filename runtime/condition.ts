/**
 * A condition variable, after Trio's `Condition`.
 *
 * @module
 */

import { CancelScope } from "./cancel_scope.ts";
import { park } from "./park.ts";
import { Lock, type LockEntry, lockInternals, type LockStatistics } from "./lock.ts";
import { type BasePermit, type Permit, type QueueNode, unlink, WaitQueue } from "./permit.ts";

/** What {@linkcode Condition.statistics} returns. */
export interface ConditionStatistics {
  /** How many tasks wait to be notified. */
  tasksWaiting: number;
  /** The statistics of the underlying lock (notified tasks wait there). */
  lockStatistics: LockStatistics;
}

/**
 * A condition variable: tasks holding its lock wait for a change that
 * another task announces with {@linkcode Condition.notify} or
 * {@linkcode Condition.notifyAll}.
 *
 * Without task identity, the lock's {@linkcode Permit} proves ownership:
 * `wait(permit)` takes the permit that `acquire()` returned, releases the
 * lock, sleeps until notified, and returns once the lock is held again by
 * that same permit (so `using` still releases it). A wait with a permit that
 * does not hold the lock is an error. `notify` only checks that the lock is
 * held, by someone.
 *
 * A notified task joins the end of the lock's queue at once (Trio's
 * "repark"), so it cannot be overtaken by tasks that call `acquire()` later.
 * `wait` is a checkpoint; when it is cancelled, it re-acquires the lock in a
 * shielded scope before the `CancelledError` propagates, as Trio does: code
 * after a wait, normal or not, always runs holding the lock. A task cancelled
 * after it was notified but before it got the lock passes the notification on
 * to the next waiting task, so no notification is lost; one that got the lock
 * in the same tick as its cancellation returns normally (the cancellation
 * reaches it at its next checkpoint). As always with conditions, re-check the
 * state in a loop after `wait` returns.
 *
 * @example A queue a consumer waits on
 * ```ts
 * import assert from "node:assert/strict";
 * import { Condition, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const changed = new Condition();
 * const items: number[] = [];
 * let got: number | undefined;
 * await taskGroup((tg) => {
 *   tg.spawn(async () => {
 *     using permit = await changed.acquire();
 *     while (items.length === 0) await changed.wait(permit);
 *     got = items.shift();
 *   });
 *   tg.spawn(async () => {
 *     using _permit = await changed.acquire();
 *     items.push(7);
 *     changed.notify();
 *   });
 * });
 * assert.equal(got, 7);
 * ```
 */
export class Condition {
  #lock: Lock;
  #queue = new WaitQueue<LockEntry>();

  /**
   * Creates a condition.
   *
   * @param lock The lock to use; a new one by default.
   */
  constructor(lock: Lock = new Lock()) {
    if (!(lock instanceof Lock)) {
      throw new TypeError(`Cannot create condition: lock must be a Lock: received ${lock}`);
    }
    this.#lock = lock;
  }

  /** The underlying lock. */
  get lock(): Lock {
    return this.#lock;
  }

  /** Whether the underlying lock is held. */
  get locked(): boolean {
    return this.#lock.locked;
  }

  /**
   * Acquires the underlying lock (FIFO, a checkpoint).
   *
   * @returns The lock's permit, to pass to {@linkcode Condition.wait}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Condition } from "@ipfs-kit/kit/runtime";
   *
   * const condition = new Condition();
   * using _permit = await condition.acquire();
   * assert(condition.locked);
   * ```
   */
  acquire(): Promise<Permit> {
    return this.#lock.acquire();
  }

  /**
   * Acquires the underlying lock without waiting.
   *
   * @returns The lock's permit.
   * @throws {WouldBlock} When the lock is held.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Condition } from "@ipfs-kit/kit/runtime";
   *
   * const condition = new Condition();
   * using _permit = condition.acquireNowait();
   * assert(condition.locked);
   * ```
   */
  acquireNowait(): Permit {
    return this.#lock.acquireNowait();
  }

  /**
   * Releases the lock, waits until notified, and re-acquires the lock for
   * `permit` before returning or throwing. A checkpoint; when the scope is
   * cancelled already, throws at once and keeps the lock.
   *
   * @param permit The permit that holds the lock (from `acquire()`, or from
   *   the lock given to the constructor).
   * @returns A promise that settles once notified, with the lock held again.
   * @throws {Error} When `permit` does not hold the lock.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Condition, taskGroup } from "@ipfs-kit/kit/runtime";
   *
   * const condition = new Condition();
   * let ready = false;
   * let woke = 0;
   * await taskGroup((tg) => {
   *   tg.spawn(async () => {
   *     using permit = await condition.acquire();
   *     while (!ready) await condition.wait(permit);
   *     woke++;
   *   });
   *   tg.spawn(() =>
   *     condition.lock.withLock(() => {
   *       ready = true;
   *       condition.notifyAll();
   *     })
   *   );
   * });
   * assert.equal(woke, 1);
   * ```
   */
  async wait(permit: Permit): Promise<void> {
    const lock = this.#lock;
    if (!lockInternals.owns(lock, permit)) {
      throw new Error("Cannot wait on condition: the permit does not hold the condition's lock");
    }
    const waiter = park<Permit>(); // throws if cancelled: the lock is still held
    const entry: LockEntry = {
      waiter,
      permit: permit as BasePermit,
      prev: undefined,
      next: undefined,
      queue: undefined,
    };
    const queue = this.#queue;
    waiter.onCancel = () => {
      // Notified already (queued for the lock): pass the notification on.
      const notified = entry.queue !== (queue as unknown as WaitQueue<QueueNode>);
      unlink(entry);
      if (notified) this.#notifyOne();
    };
    queue.push(entry);
    lockInternals.suspend(lock, permit);
    try {
      await waiter.promise;
    } catch (error) {
      // Cancelled, while waiting for a notification or for the lock after one:
      // take the lock back before the error propagates.
      await new CancelScope({ shield: true, name: "condition wait" }).run(() =>
        lockInternals.reacquire(lock, permit)
      );
      throw error;
    }
  }

  /**
   * Wakes up to `n` waiting tasks, longest waiting first; each returns from
   * `wait` once it holds the lock again. Call it holding the lock.
   *
   * @param n How many, an integer >= 0. Default 1.
   * @throws {Error} When the lock is not held.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Condition } from "@ipfs-kit/kit/runtime";
   *
   * const condition = new Condition();
   * assert.throws(() => condition.notify()); // the lock must be held
   * using _permit = await condition.acquire();
   * condition.notify(); // nobody waits: nothing happens
   * assert.equal(condition.statistics().tasksWaiting, 0);
   * ```
   */
  notify(n = 1): void {
    if (!Number.isInteger(n)) {
      throw new TypeError(`Cannot notify condition: n must be an integer: received ${n}`);
    }
    if (n < 0) throw new RangeError(`Cannot notify condition: n must be >= 0: received ${n}`);
    if (!this.#lock.locked) throw new Error("Cannot notify condition: its lock is not held");
    let notified = 0;
    while (notified < n && this.#notifyOne()) notified++;
  }

  /** Moves the longest waiting task to the lock's queue; false when none waits. */
  #notifyOne(): boolean {
    const entry = this.#queue.shift();
    if (entry === undefined) return false;
    lockInternals.repark(this.#lock, entry);
    return true;
  }

  /**
   * Wakes every waiting task. Call it holding the lock.
   *
   * @throws {Error} When the lock is not held.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Condition } from "@ipfs-kit/kit/runtime";
   *
   * const condition = new Condition();
   * assert.throws(() => condition.notifyAll()); // the lock must be held
   * using _permit = await condition.acquire();
   * condition.notifyAll();
   * ```
   */
  notifyAll(): void {
    this.notify(this.#queue.size);
  }

  /**
   * A snapshot of the condition's state.
   *
   * @returns The tasks waiting for a notification, and the lock's statistics.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Condition } from "@ipfs-kit/kit/runtime";
   *
   * const stats = new Condition().statistics();
   * assert(stats.tasksWaiting === 0 && !stats.lockStatistics.locked);
   * ```
   */
  statistics(): ConditionStatistics {
    return { tasksWaiting: this.#queue.size, lockStatistics: this.#lock.statistics() };
  }
}
