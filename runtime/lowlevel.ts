/**
 * The runtime's low-level API, as Trio's `trio.lowlevel`: the pieces the
 * kit's own primitives and stores are built from, for writing new ones. Most
 * code needs only `@ipfs-kit/kit/runtime`.
 *
 * - {@linkcode park} / {@linkcode Waiter}: block a task until something wakes
 *   it or its scope is cancelled; every lock, event and channel is built on
 *   it. A parked task is at a checkpoint.
 * - {@linkcode macrotaskYield}: let timers and I/O run (not a checkpoint).
 * - {@linkcode MinHeap}: a min-heap with lazy deletion, for timer and retry
 *   schedules.
 * - {@linkcode lockFile} / {@linkcode LOCK_WAIT_MS}: an exclusive lock file,
 *   how a directory is kept to one owner.
 * - {@linkcode syncPath}: `fsync` a file or a directory.
 * - {@linkcode ensureDirectory}, {@linkcode lockDirectory},
 *   {@linkcode checkWritable}, {@linkcode toDirectoryError}: a store's own
 *   directory, with typed errors ({@linkcode DirectoryError},
 *   {@linkcode LockedError}) instead of raw OS errors.
 *
 * The current run's clock is {@linkcode currentClock} in the main entry.
 *
 * @example A primitive of your own: a latch that opens once
 * ```ts
 * import assert from "node:assert/strict";
 * import { taskGroup } from "@ipfs-kit/kit/runtime";
 * import { park, type Waiter } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * class Latch {
 *   #open = false;
 *   #waiters = new Set<Waiter<void>>();
 *   async wait(): Promise<void> {
 *     if (this.#open) return;
 *     const waiter = park<void>(() => this.#waiters.delete(waiter));
 *     this.#waiters.add(waiter);
 *     await waiter.promise;
 *   }
 *   open(): void {
 *     this.#open = true;
 *     for (const waiter of this.#waiters) waiter.wake();
 *     this.#waiters.clear();
 *   }
 * }
 *
 * const latch = new Latch();
 * let passed = 0;
 * await taskGroup((tg) => {
 *   for (let i = 0; i < 3; i++) tg.spawn(async () => {
 *     await latch.wait();
 *     passed++;
 *   });
 *   tg.spawn(() => latch.open());
 * });
 * assert.equal(passed, 3);
 * ```
 *
 * @module
 */

export { park, Waiter } from "./park.ts";
export { macrotaskYield } from "./macrotask.ts";
export { MinHeap } from "./min_heap.ts";
export { LOCK_WAIT_MS, lockFile } from "./lock_file.ts";
export { syncPath } from "./sync_path.ts";
export {
  checkWritable,
  DirectoryError,
  type DirectoryErrorClass,
  type DirectoryErrorOptions,
  type DirectoryProblem,
  ensureDirectory,
  lockDirectory,
  LockedError,
  toDirectoryError,
} from "./directory.ts";
