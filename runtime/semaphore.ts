/**
 * A FIFO-fair counting semaphore, after Trio's `Semaphore`.
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

/** Options for {@linkcode Semaphore}. */
export interface SemaphoreOptions {
  /** The highest value; a release past it throws `RangeError`. Default: no bound. */
  maxValue?: number;
}

/** What {@linkcode Semaphore.statistics} returns. */
export interface SemaphoreStatistics {
  /** How many tasks are waiting to acquire. */
  tasksWaiting: number;
}

interface SemaphoreEntry extends QueueNode {
  waiter: Waiter<Permit>;
}

/**
 * A counter of free slots. `acquire()` takes one, waiting while there are
 * none; releasing its {@linkcode Permit} gives it back. Waiters are served
 * in FIFO order: a release hands the slot straight to the first waiter.
 *
 * A semaphore has no owner, so besides permits it has
 * {@linkcode Semaphore.release}: any task may add a slot (a producer
 * signalling a consumer), up to `maxValue`. Releasing a permit is bounded the
 * same way: when it would pass `maxValue` (after extra `release()` calls), it
 * throws `RangeError` and the permit stays unreleased.
 *
 * `acquire()` is a checkpoint. A waiter cancelled while queued never takes a
 * slot; one handed a slot and cancelled in the same tick keeps it.
 *
 * @example At most two downloads at a time
 * ```ts
 * import assert from "node:assert/strict";
 * import { Semaphore, sleep, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const slots = new Semaphore(2);
 * let running = 0;
 * let peak = 0;
 * await taskGroup((tg) => {
 *   for (let i = 0; i < 5; i++) {
 *     tg.spawn(async () => {
 *       using _permit = await slots.acquire();
 *       peak = Math.max(peak, ++running);
 *       await sleep(1);
 *       running--;
 *     });
 *   }
 * });
 * assert(peak === 2 && slots.value === 2);
 * ```
 */
export class Semaphore {
  #value: number;
  #maxValue: number;
  #queue = new WaitQueue<SemaphoreEntry>();
  #onRelease = (): void => this.#release();

  /**
   * Creates a semaphore.
   *
   * @param initialValue The number of free slots, an integer >= 0.
   * @param options The highest value (an integer >= max(1, initialValue)).
   */
  constructor(initialValue: number, options: SemaphoreOptions = {}) {
    if (!Number.isInteger(initialValue)) {
      throw new TypeError(
        `Cannot create semaphore: initialValue must be an integer: received ${initialValue}`,
      );
    }
    if (initialValue < 0) {
      throw new RangeError(
        `Cannot create semaphore: initialValue must be >= 0: received ${initialValue}`,
      );
    }
    const maxValue = options.maxValue ?? Infinity;
    if (maxValue !== Infinity && !Number.isInteger(maxValue)) {
      throw new TypeError(
        `Cannot create semaphore: maxValue must be an integer: received ${maxValue}`,
      );
    }
    if (maxValue < 1 || maxValue < initialValue) {
      throw new RangeError(
        `Cannot create semaphore: maxValue must be >= 1 and >= initialValue ${initialValue}: received ${maxValue}`,
      );
    }
    this.#value = initialValue;
    this.#maxValue = maxValue;
  }

  /** The number of free slots. */
  get value(): number {
    return this.#value;
  }

  /** The highest value, `Infinity` when unbounded. */
  get maxValue(): number {
    return this.#maxValue;
  }

  /**
   * Takes a slot, waiting in FIFO order while there is none. A checkpoint.
   *
   * @returns The permit; release it to give the slot back.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Semaphore } from "@ipfs-kit/kit/runtime";
   *
   * const semaphore = new Semaphore(1);
   * {
   *   using _permit = await semaphore.acquire();
   *   assert.equal(semaphore.value, 0);
   * }
   * assert.equal(semaphore.value, 1);
   * ```
   */
  acquire(): Promise<Permit> {
    try {
      if (this.#value > 0) {
        const runtime = checkpointStart();
        this.#value--;
        return yieldWith<Permit>(runtime, new BasePermit(this.#onRelease));
      }
      const waiter = park<Permit>();
      const entry: SemaphoreEntry = { waiter, prev: undefined, next: undefined, queue: undefined };
      waiter.onCancel = () => unlink(entry);
      this.#queue.push(entry);
      return waiter.promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Takes a slot without waiting.
   *
   * @returns The permit.
   * @throws {WouldBlock} When no slot is free.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Semaphore, WouldBlock } from "@ipfs-kit/kit/runtime";
   *
   * const semaphore = new Semaphore(0);
   * try {
   *   semaphore.acquireNowait();
   * } catch (error) {
   *   assert(error instanceof WouldBlock);
   * }
   * ```
   */
  acquireNowait(): Permit {
    if (this.#value === 0) throw new WouldBlock("Cannot acquire semaphore: no slot is free");
    this.#value--;
    return new BasePermit(this.#onRelease);
  }

  /**
   * Adds a slot without a permit: the first waiter gets it, or the value
   * grows.
   *
   * @throws {RangeError} When the value would exceed `maxValue`.
   *
   * @example A producer signals a consumer
   * ```ts
   * import assert from "node:assert/strict";
   * import { Semaphore, taskGroup } from "@ipfs-kit/kit/runtime";
   *
   * const items = new Semaphore(0, { maxValue: 10 });
   * await taskGroup((tg) => {
   *   // The consumer keeps its permit: the item is used up.
   *   tg.spawn(() => items.acquire());
   *   tg.spawn(() => items.release());
   * });
   * assert.equal(items.value, 0);
   * ```
   */
  release(): void {
    this.#release();
  }

  /**
   * A snapshot of the semaphore's state.
   *
   * @returns How many tasks wait.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Semaphore } from "@ipfs-kit/kit/runtime";
   *
   * assert.equal(new Semaphore(1).statistics().tasksWaiting, 0);
   * ```
   */
  statistics(): SemaphoreStatistics {
    return { tasksWaiting: this.#queue.size };
  }

  #release(): void {
    for (let entry = this.#queue.shift(); entry !== undefined; entry = this.#queue.shift()) {
      if (entry.waiter.wake(new BasePermit(this.#onRelease))) return;
    }
    if (this.#value >= this.#maxValue) {
      throw new RangeError(
        `Cannot release semaphore: value would exceed maxValue ${this.#maxValue}: received a release at value ${this.#value}`,
      );
    }
    this.#value++;
  }
}
