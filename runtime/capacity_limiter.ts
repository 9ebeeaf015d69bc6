/**
 * A capacity limiter, after Trio's and AnyIO's `CapacityLimiter`.
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

/** What {@linkcode CapacityLimiter.statistics} returns. */
export interface CapacityLimiterStatistics {
  /** How many tokens are borrowed. */
  borrowedTokens: number;
  /** The total number of tokens (`Infinity` when unlimited). */
  totalTokens: number;
  /** Who holds the borrowed tokens; for a plain `acquire()`, its permit. */
  borrowers: readonly object[];
  /** How many tasks wait for a token. */
  tasksWaiting: number;
}

interface LimiterEntry extends QueueNode {
  waiter: Waiter<Permit>;
  borrower: object | undefined;
}

/**
 * A pool of tokens that limits how many things run at once, like a
 * {@linkcode Semaphore} with an adjustable total and borrowers: each token is
 * lent to a borrower, which may hold at most one token of a limiter. A worker
 * pool borrows on behalf of its jobs with
 * {@linkcode CapacityLimiter.acquireOnBehalfOf}; plain
 * {@linkcode CapacityLimiter.acquire} lends to a fresh borrower, the permit.
 *
 * Waiters are served in FIFO order: a returned token goes straight to the
 * first waiter. Raising `totalTokens` wakes as many waiters as it allows;
 * lowering it below the tokens borrowed takes none back: borrowers keep theirs
 * until they release them, and nobody new gets one until the count falls
 * below the total. Acquiring is a checkpoint; a waiter cancelled while queued
 * never takes a token, and one handed a token and cancelled in the same tick
 * keeps it.
 *
 * @example At most two jobs at a time
 * ```ts
 * import assert from "node:assert/strict";
 * import { CapacityLimiter, sleep, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const limiter = new CapacityLimiter(2);
 * let running = 0;
 * let peak = 0;
 * await taskGroup((tg) => {
 *   for (let i = 0; i < 5; i++) {
 *     tg.spawn(async () => {
 *       using _token = await limiter.acquire();
 *       peak = Math.max(peak, ++running);
 *       await sleep(1);
 *       running--;
 *     });
 *   }
 * });
 * assert(peak === 2 && limiter.borrowedTokens === 0);
 * ```
 */
export class CapacityLimiter {
  #total: number;
  #borrowers = new Map<object, BasePermit>();
  #pending = new Set<object>();
  #queue = new WaitQueue<LimiterEntry>();
  #onAnonymousRelease = (permit: BasePermit): void => this.#returnToken(permit);

  /**
   * Creates a limiter.
   *
   * @param totalTokens How many tokens: an integer >= 1, or `Infinity`.
   */
  constructor(totalTokens: number) {
    this.#total = checkTotal(totalTokens);
  }

  /**
   * The total number of tokens: an integer >= 1, or `Infinity`. Raising it
   * wakes waiters at once; lowering it takes no token back.
   */
  get totalTokens(): number {
    return this.#total;
  }

  set totalTokens(value: number) {
    this.#total = checkTotal(value);
    this.#lend();
  }

  /** How many tokens are borrowed. */
  get borrowedTokens(): number {
    return this.#borrowers.size;
  }

  /** How many tokens can be borrowed now (0 while more are borrowed than the total). */
  get availableTokens(): number {
    return Math.max(0, this.#total - this.#borrowers.size);
  }

  /**
   * Borrows a token for a fresh borrower (the returned permit), waiting in
   * FIFO order while none is free. A checkpoint.
   *
   * @returns The permit; release it to return the token.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CapacityLimiter } from "@ipfs-kit/kit/runtime";
   *
   * const limiter = new CapacityLimiter(1);
   * {
   *   using _token = await limiter.acquire();
   *   assert.equal(limiter.availableTokens, 0);
   * }
   * assert.equal(limiter.availableTokens, 1);
   * ```
   */
  acquire(): Promise<Permit> {
    return this.#acquire(undefined);
  }

  /**
   * Borrows a token for a fresh borrower without waiting.
   *
   * @returns The permit.
   * @throws {WouldBlock} When no token is free.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CapacityLimiter } from "@ipfs-kit/kit/runtime";
   *
   * const limiter = new CapacityLimiter(1);
   * using _token = limiter.acquireNowait();
   * assert.equal(limiter.borrowedTokens, 1);
   * ```
   */
  acquireNowait(): Permit {
    this.#checkFree();
    return this.#lendTo(undefined);
  }

  /**
   * Borrows a token on behalf of `borrower` (a job, a connection), waiting in
   * FIFO order while none is free. A checkpoint. Releasing the permit or
   * calling {@linkcode CapacityLimiter.releaseOnBehalfOf} returns it.
   *
   * @param borrower Any object; it may hold one token of this limiter at a time.
   * @returns The permit.
   * @throws {Error} When `borrower` already holds or waits for a token here.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CapacityLimiter } from "@ipfs-kit/kit/runtime";
   *
   * const limiter = new CapacityLimiter(4);
   * const job = { id: 1 };
   * await limiter.acquireOnBehalfOf(job);
   * assert(limiter.statistics().borrowers.includes(job));
   * limiter.releaseOnBehalfOf(job);
   * ```
   */
  acquireOnBehalfOf(borrower: object): Promise<Permit> {
    try {
      this.#checkBorrower(borrower);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#acquire(borrower);
  }

  /**
   * Borrows a token on behalf of `borrower` without waiting.
   *
   * @param borrower Any object; it may hold one token of this limiter at a time.
   * @returns The permit.
   * @throws {WouldBlock} When no token is free.
   * @throws {Error} When `borrower` already holds or waits for a token here.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CapacityLimiter } from "@ipfs-kit/kit/runtime";
   *
   * const limiter = new CapacityLimiter(1);
   * const job = {};
   * using _token = limiter.acquireOnBehalfOfNowait(job);
   * assert.equal(limiter.statistics().borrowers[0], job);
   * ```
   */
  acquireOnBehalfOfNowait(borrower: object): Permit {
    this.#checkBorrower(borrower);
    this.#checkFree();
    return this.#lendTo(borrower);
  }

  /**
   * Returns the token `borrower` holds (its permit counts as released).
   *
   * @param borrower The borrower given to `acquireOnBehalfOf`.
   * @throws {Error} When `borrower` holds no token of this limiter.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CapacityLimiter } from "@ipfs-kit/kit/runtime";
   *
   * const limiter = new CapacityLimiter(1);
   * const job = {};
   * limiter.acquireOnBehalfOfNowait(job);
   * limiter.releaseOnBehalfOf(job);
   * assert.equal(limiter.borrowedTokens, 0);
   * ```
   */
  releaseOnBehalfOf(borrower: object): void {
    const permit = this.#borrowers.get(borrower);
    if (permit === undefined) {
      throw new Error("Cannot release capacity limiter token: the borrower holds none");
    }
    permit.release();
  }

  /**
   * A snapshot of the limiter's state.
   *
   * @returns Tokens borrowed and in total, the borrowers, the tasks waiting.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CapacityLimiter } from "@ipfs-kit/kit/runtime";
   *
   * const stats = new CapacityLimiter(3).statistics();
   * assert(stats.totalTokens === 3 && stats.borrowers.length === 0);
   * ```
   */
  statistics(): CapacityLimiterStatistics {
    return {
      borrowedTokens: this.#borrowers.size,
      totalTokens: this.#total,
      borrowers: [...this.#borrowers.keys()],
      tasksWaiting: this.#queue.size,
    };
  }

  #acquire(borrower: object | undefined): Promise<Permit> {
    try {
      if (this.#borrowers.size < this.#total && this.#queue.size === 0) {
        const runtime = checkpointStart();
        return yieldWith(runtime, this.#lendTo(borrower));
      }
      const waiter = park<Permit>();
      const entry: LimiterEntry = {
        waiter,
        borrower,
        prev: undefined,
        next: undefined,
        queue: undefined,
      };
      waiter.onCancel = () => {
        unlink(entry);
        if (borrower !== undefined) this.#pending.delete(borrower);
      };
      this.#queue.push(entry);
      if (borrower !== undefined) this.#pending.add(borrower);
      return waiter.promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #checkBorrower(borrower: object): void {
    if (borrower === null || (typeof borrower !== "object" && typeof borrower !== "function")) {
      throw new TypeError(
        `Cannot borrow from capacity limiter: borrower must be an object: received ${borrower}`,
      );
    }
    if (this.#borrowers.has(borrower)) {
      throw new Error("Cannot borrow from capacity limiter: the borrower already holds a token");
    }
    if (this.#pending.has(borrower)) {
      throw new Error(
        "Cannot borrow from capacity limiter: the borrower already waits for a token",
      );
    }
  }

  #checkFree(): void {
    if (this.#borrowers.size >= this.#total || this.#queue.size > 0) {
      throw new WouldBlock("Cannot borrow from capacity limiter: no token is free");
    }
  }

  /** Lends a token to `borrower`, or to the new permit itself. */
  #lendTo(borrower: object | undefined): BasePermit {
    let permit: BasePermit;
    if (borrower === undefined) {
      permit = new BasePermit(this.#onAnonymousRelease);
      this.#borrowers.set(permit, permit);
    } else {
      permit = new BasePermit(() => this.#returnToken(borrower));
      this.#borrowers.set(borrower, permit);
    }
    return permit;
  }

  #returnToken(borrower: object): void {
    this.#borrowers.delete(borrower);
    this.#lend();
  }

  /** Hands free tokens to the first waiters. */
  #lend(): void {
    while (this.#borrowers.size < this.#total) {
      const entry = this.#queue.shift();
      if (entry === undefined) return;
      if (entry.waiter.settled) continue;
      if (entry.borrower !== undefined) this.#pending.delete(entry.borrower);
      entry.waiter.wake(this.#lendTo(entry.borrower));
    }
  }
}

function checkTotal(value: number): number {
  if (value !== Infinity && !Number.isInteger(value)) {
    throw new TypeError(
      `Cannot set capacity limiter total: totalTokens must be an integer or Infinity: received ${value}`,
    );
  }
  if (value < 1) {
    throw new RangeError(
      `Cannot set capacity limiter total: totalTokens must be >= 1: received ${value}`,
    );
  }
  return value;
}
