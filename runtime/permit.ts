/**
 * Permits, the handles every acquire of a synchronization primitive returns,
 * and the internals the primitives share: the permit implementation, the FIFO
 * wait queue and the checkpoint of a non-blocking acquire.
 *
 * Only {@linkcode Permit} is public (`export type { Permit }` in `mod.ts`).
 *
 * @module
 */

import { currentScope, internals } from "./cancel_scope.ts";
import type { Runtime } from "./_runtime.ts";

/**
 * The right to a held resource: a lock, a semaphore slot, a capacity-limiter
 * token. Every acquire returns one; release it exactly once, best with
 * `using`, which releases it when the block ends, however it ends.
 *
 * Releasing a permit twice throws an `Error`: a stale permit can never release
 * a resource that someone else holds now. `[Symbol.dispose]` releases only a
 * permit not yet released, so an explicit `release()` inside a `using` block
 * is fine.
 *
 * @example Hold a lock for the rest of the block
 * ```ts
 * import assert from "node:assert/strict";
 * import { Lock } from "@ipfs-kit/kit/runtime";
 *
 * const lock = new Lock();
 * {
 *   using _permit = await lock.acquire();
 *   assert(lock.locked);
 * }
 * assert(!lock.locked);
 * ```
 */
export interface Permit extends Disposable {
  /** Gives the resource back. Throws an `Error` when called a second time. */
  release(): void;
}

/**
 * The permit implementation the primitives share: `release()` runs the
 * primitive's release once, and only marks the permit released when that did
 * not throw. Internal: not exported from `mod.ts`.
 */
export class BasePermit implements Permit {
  #released = false;
  #onRelease: (permit: BasePermit) => void;

  /**
   * Creates a permit.
   *
   * @param onRelease Validates and performs the release; may throw.
   */
  constructor(onRelease: (permit: BasePermit) => void) {
    this.#onRelease = onRelease;
  }

  /** Whether the permit was released. */
  get released(): boolean {
    return this.#released;
  }

  /** Gives the resource back. Throws an `Error` when called a second time. */
  release(): void {
    if (this.#released) throw new Error("Cannot release: permit was already released");
    this.#onRelease(this);
    this.#released = true;
  }

  /** Releases the permit unless it was released already. */
  [Symbol.dispose](): void {
    if (!this.#released) this.release();
  }
}

/** What a {@linkcode WaitQueue} links: every entry is its own list node. */
export interface QueueNode {
  /** The previous entry, toward the head. */
  prev: QueueNode | undefined;
  /** The next entry, toward the tail. */
  next: QueueNode | undefined;
  /** The queue the entry is in, `undefined` when in none. */
  queue: WaitQueue<QueueNode> | undefined;
}

/**
 * An intrusive doubly linked FIFO: push, shift and removal of any entry (a
 * cancelled waiter) are O(1). An entry is in at most one queue at a time.
 * Internal: not exported from `mod.ts`.
 */
export class WaitQueue<E extends QueueNode> {
  #head: E | undefined;
  #tail: E | undefined;
  #size = 0;

  /** How many entries are queued. */
  get size(): number {
    return this.#size;
  }

  /** The first entry, or `undefined` when empty. */
  peek(): E | undefined {
    return this.#head;
  }

  /**
   * Appends `entry` at the tail.
   *
   * @param entry An entry that is in no queue.
   */
  push(entry: E): void {
    entry.queue = this as unknown as WaitQueue<QueueNode>;
    entry.prev = this.#tail;
    entry.next = undefined;
    if (this.#tail === undefined) this.#head = entry;
    else this.#tail.next = entry;
    this.#tail = entry;
    this.#size++;
  }

  /**
   * Removes and returns the first entry.
   *
   * @returns The entry, or `undefined` when empty.
   */
  shift(): E | undefined {
    const entry = this.#head;
    if (entry !== undefined) this.remove(entry);
    return entry;
  }

  /**
   * Removes `entry` if it is in this queue.
   *
   * @param entry The entry.
   * @returns Whether it was here.
   */
  remove(entry: E): boolean {
    if (entry.queue !== (this as unknown as WaitQueue<QueueNode>)) return false;
    const { prev, next } = entry;
    if (prev === undefined) this.#head = next as E | undefined;
    else prev.next = next;
    if (next === undefined) this.#tail = prev as E | undefined;
    else next.prev = prev;
    entry.prev = entry.next = undefined;
    entry.queue = undefined;
    this.#size--;
    return true;
  }
}

/**
 * Removes `entry` from whichever queue it is in (a waiter that moves between
 * queues, as a condition waiter does on notify).
 *
 * @param entry The entry.
 */
export function unlink(entry: QueueNode): void {
  entry.queue?.remove(entry);
}

/**
 * The first half of an acquire that will not block: counts the checkpoint and
 * throws `CancelledError` if the current scope is cancelled. Call it before
 * taking the resource.
 *
 * @returns The current runtime, for {@linkcode yieldWith}.
 */
export function checkpointStart(): Runtime {
  const scope = currentScope();
  const runtime = internals.runtime(scope);
  runtime.checkpoints++;
  if (scope.cancelled) throw internals.error(scope);
  return runtime;
}

/**
 * The second half: yields once to the strategy and then settles with `value`,
 * whatever happens meanwhile (the resource is held already, so this yield is
 * cancel-shielded, as Trio's `cancel_shielded_checkpoint`).
 *
 * @param runtime What {@linkcode checkpointStart} returned.
 * @param value What the acquire returns.
 * @returns A promise of `value`.
 */
export function yieldWith<T>(runtime: Runtime, value: T): Promise<T> {
  return runtime.strategy.yield().then(() => value);
}
