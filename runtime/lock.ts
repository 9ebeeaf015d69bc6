/**
 * A FIFO-fair mutual-exclusion lock, after Trio's `Lock`.
 *
 * @module
 */

import { park, type Waiter } from "./park.ts";
import { WouldBlock } from "./errors.ts";
import {
  BasePermit,
  checkpointStart,
  type Permit,
  type QueueNode,
  unlink,
  WaitQueue,
  yieldWith,
} from "./permit.ts";

/** What {@linkcode Lock.statistics} returns. */
export interface LockStatistics {
  /** Whether the lock is held. */
  locked: boolean;
  /** How many tasks are waiting to acquire it. */
  tasksWaiting: number;
}

/** A task waiting for a lock; `permit` is set for a condition waiter re-acquiring. */
export interface LockEntry extends QueueNode {
  waiter: Waiter<Permit>;
  permit: BasePermit | undefined;
}

/** What `Condition` needs from a lock. Internal: not exported from `mod.ts`. */
export interface LockInternals {
  /** Whether `permit` is the one holding `lock`. */
  owns(lock: Lock, permit: Permit): boolean;
  /** Releases `lock`, held by `permit`, without marking the permit released. */
  suspend(lock: Lock, permit: Permit): void;
  /** Queues a condition waiter for the lock (takes it at once if free). */
  repark(lock: Lock, entry: LockEntry): void;
  /** Acquires `lock` again for `permit` (a checkpoint; may block). */
  reacquire(lock: Lock, permit: Permit): Promise<Permit>;
}

/** Lock internals for `Condition`. Internal: not exported from `mod.ts`. */
export let lockInternals: LockInternals;

/**
 * A mutual-exclusion lock. Waiters get it in the order they asked (FIFO): a
 * release hands the lock straight to the first waiter, so nobody barges in.
 *
 * Acquiring returns a {@linkcode Permit}; releasing the permit releases the
 * lock. As there is no task identity, the permit is the proof of ownership:
 * only its holder can release the lock, and a stale permit (released once
 * already) throws instead of releasing a lock someone else holds now.
 *
 * `acquire()` is a checkpoint: it throws `CancelledError` if the scope is
 * cancelled, and when the lock is free it still yields once. A waiter
 * cancelled while queued never takes the lock; one that was handed the lock
 * and cancelled in the same tick keeps it (and must release it, which `using`
 * does).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Lock, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const lock = new Lock();
 * let balance = 0;
 * await taskGroup((tg) => {
 *   for (let i = 0; i < 3; i++) {
 *     tg.spawn(async () => {
 *       using _permit = await lock.acquire();
 *       balance += 10;
 *     });
 *   }
 * });
 * assert.equal(balance, 30);
 * ```
 */
export class Lock {
  #owner: BasePermit | undefined;
  #queue = new WaitQueue<LockEntry>();
  #onRelease = (permit: BasePermit): void => this.#release(permit);

  /** Whether the lock is held. */
  get locked(): boolean {
    return this.#owner !== undefined;
  }

  /**
   * Acquires the lock, waiting in FIFO order if it is held. A checkpoint.
   *
   * @returns The permit; release it (or let `using` do so) to unlock.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Lock } from "@ipfs-kit/kit/runtime";
   *
   * const lock = new Lock();
   * const permit = await lock.acquire();
   * try {
   *   assert(lock.locked);
   * } finally {
   *   permit.release();
   * }
   * ```
   */
  acquire(): Promise<Permit> {
    return this.#acquire(undefined);
  }

  /**
   * Acquires the lock without waiting.
   *
   * @returns The permit.
   * @throws {WouldBlock} When the lock is held.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Lock, WouldBlock } from "@ipfs-kit/kit/runtime";
   *
   * const lock = new Lock();
   * using _permit = lock.acquireNowait();
   * try {
   *   lock.acquireNowait();
   * } catch (error) {
   *   assert(error instanceof WouldBlock);
   * }
   * ```
   */
  acquireNowait(): Permit {
    if (this.#owner !== undefined) throw new WouldBlock("Cannot acquire lock: it is held");
    return this.#owner = new BasePermit(this.#onRelease);
  }

  /**
   * Runs `fn` holding the lock and releases it afterwards, however `fn` ends.
   *
   * @param fn The critical section.
   * @returns What `fn` returned.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Lock } from "@ipfs-kit/kit/runtime";
   *
   * const lock = new Lock();
   * const value = await lock.withLock(() => 42);
   * assert(value === 42 && !lock.locked);
   * ```
   */
  async withLock<T>(fn: () => T | Promise<T>): Promise<T> {
    using _permit = await this.acquire();
    return await fn();
  }

  /**
   * A snapshot of the lock's state.
   *
   * @returns Whether it is held and how many tasks wait.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Lock } from "@ipfs-kit/kit/runtime";
   *
   * const lock = new Lock();
   * assert.equal(lock.statistics().tasksWaiting, 0);
   * ```
   */
  statistics(): LockStatistics {
    return { locked: this.#owner !== undefined, tasksWaiting: this.#queue.size };
  }

  /** Acquires for a new permit, or for `permit` (a condition waiter re-acquiring). */
  #acquire(permit: BasePermit | undefined): Promise<Permit> {
    try {
      if (this.#owner === undefined) {
        const runtime = checkpointStart();
        const granted = this.#owner = permit ?? new BasePermit(this.#onRelease);
        return yieldWith<Permit>(runtime, granted);
      }
      const waiter = park<Permit>();
      const entry: LockEntry = {
        waiter,
        permit,
        prev: undefined,
        next: undefined,
        queue: undefined,
      };
      waiter.onCancel = () => unlink(entry);
      this.#queue.push(entry);
      return waiter.promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #release(permit: BasePermit): void {
    if (this.#owner !== permit) {
      throw new Error("Cannot release lock: the permit does not hold it");
    }
    this.#handOff();
  }

  /** Gives the lock to the first live waiter, or frees it. */
  #handOff(): void {
    for (let entry = this.#queue.shift(); entry !== undefined; entry = this.#queue.shift()) {
      if (entry.waiter.settled) continue;
      const permit = entry.permit ?? new BasePermit(this.#onRelease);
      this.#owner = permit;
      entry.waiter.wake(permit);
      return;
    }
    this.#owner = undefined;
  }

  static {
    lockInternals = {
      owns: (lock, permit) => lock.#owner !== undefined && lock.#owner === permit,
      suspend(lock, permit) {
        if (lock.#owner !== permit) {
          throw new Error("Cannot release lock: the permit does not hold it");
        }
        lock.#handOff();
      },
      repark(lock, entry) {
        if (entry.waiter.settled) return;
        if (lock.#owner === undefined) {
          lock.#owner = entry.permit ?? new BasePermit(lock.#onRelease);
          entry.waiter.wake(lock.#owner);
        } else lock.#queue.push(entry);
      },
      reacquire: (lock, permit) => lock.#acquire(permit as BasePermit),
    };
  }
}
