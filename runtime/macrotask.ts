/**
 * Macrotask yields: let timers and I/O run before going on. The fair
 * strategy yields this way once per slice; a batching writer (the WAL's group
 * commit) uses it to let the appends of the current event-loop turn join.
 *
 * @module
 */

/**
 * The settled promise a strategy returns for a plain microtask hop. Channels
 * compare against it: when `yield()` returns it, the caller's own `await` is
 * the hop, so they can hand back `Promise.resolve(value)` directly.
 */
export const MICROTASK_HOP: Promise<void> = Promise.resolve();

let pending = 0;
let waiting: Promise<void> | undefined;
let release: (() => void) | undefined;
let requestedAt = 0;
let delaySink: ((ms: number) => void) | undefined;

/** How many tasks are waiting for a macrotask turn right now (for the virtual clock's autojump). */
export function pendingMacrotaskYields(): number {
  return pending;
}

function onImmediate(): void {
  const done = release!;
  const sink = delaySink;
  waiting = undefined;
  release = undefined;
  delaySink = undefined;
  pending = 0;
  if (sink !== undefined) sink(performance.now() - requestedAt);
  done();
}

/**
 * Resolves after one macrotask turn (timers and I/O run first). Every task
 * yielding in the same turn shares one `setImmediate`.
 *
 * Not a checkpoint: it neither notices cancellation nor counts as a yield of
 * the run's strategy. Pair it with `checkpoint()` where that matters.
 *
 * @param onDelay Receives how long the turn took, in ms (the first caller's
 * sink wins for a shared turn).
 * @returns A promise that settles after the turn.
 *
 * @example Let a timer that is due run first
 * ```ts
 * import assert from "node:assert/strict";
 * import { macrotaskYield } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const order: string[] = [];
 * const timer = setTimeout(() => order.push("timer"), 0);
 * await new Promise((resolve) => setTimeout(resolve, 2)); // the timer is due now
 * order.push("before");
 * await macrotaskYield();
 * order.push("after");
 * clearTimeout(timer);
 * assert.equal(order.at(-1), "after");
 * ```
 */
export function macrotaskYield(onDelay?: (ms: number) => void): Promise<void> {
  pending++;
  if (waiting === undefined) {
    const { promise, resolve } = Promise.withResolvers<void>();
    waiting = promise;
    release = resolve;
    requestedAt = performance.now();
    delaySink = onDelay;
    setImmediate(onImmediate);
  }
  return waiting;
}
