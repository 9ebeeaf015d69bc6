/**
 * The fair strategy: microtask hops within a time slice, then a macrotask turn
 * so that timers and I/O run.
 *
 * @module
 */

// deno-lint-ignore-file ipfs-kit/no-floating-promise
// A strategy or task group is what owns these promises: it implements the primitive.

import { macrotaskYield, MICROTASK_HOP as RESOLVED } from "./macrotask.ts";
import type { StrategyFactory } from "./strategy.ts";

/** Options for {@linkcode fairStrategy}. */
export interface FairStrategyOptions {
  /**
   * The longest stretch, in milliseconds, that tasks may run on microtask hops
   * before the strategy yields a macrotask turn so that timers and I/O run.
   * Default 1.
   */
  sliceMs?: number;
  /** How many hops between two reads of the time. Default 16. */
  checkEvery?: number;
}

/**
 * Makes a fair strategy: checkpoints are microtask hops until the tasks have
 * run for `sliceMs`; then the next checkpoint waits one macrotask turn (a
 * shared `setImmediate`), so timers and I/O are never starved. The wait is
 * recorded as scheduling delay.
 *
 * @param options The time slice.
 * @returns A strategy factory.
 *
 * @example A 5 ms slice
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpoint, makeFairStrategy, run, runtimeStats } from "@ipfs-kit/kit/runtime";
 *
 * const name = await run(async () => {
 *   await checkpoint();
 *   return runtimeStats().strategy;
 * }, { strategy: makeFairStrategy({ sliceMs: 5 }) });
 * assert.equal(name, "fair");
 * assert.throws(() => makeFairStrategy({ sliceMs: -1 }), RangeError);
 * ```
 */
export function makeFairStrategy(options: FairStrategyOptions = {}): StrategyFactory {
  const sliceMs = options.sliceMs ?? 1;
  const checkEvery = options.checkEvery ?? 16;
  if (!(sliceMs > 0)) {
    throw new RangeError(`Cannot create fair strategy: sliceMs must be > 0: received ${sliceMs}`);
  }
  if (!(checkEvery >= 1)) {
    throw new RangeError(
      `Cannot create fair strategy: checkEvery must be >= 1: received ${checkEvery}`,
    );
  }
  return (context) => {
    let hops = 0;
    let sliceStart = performance.now();
    const record = (ms: number) => {
      sliceStart = performance.now();
      context.recordDelay(ms);
    };
    const due = (): boolean => {
      if (++hops < checkEvery) return false;
      hops = 0;
      context.fireDueDeadlines();
      return performance.now() - sliceStart >= sliceMs;
    };
    return {
      name: "fair",
      yield: () => (due() ? macrotaskYield(record) : RESOLVED),
      schedule: (start) => {
        if (due()) macrotaskYield(record).then(start);
        else queueMicrotask(start);
      },
    };
  };
}

/**
 * The fair strategy with its defaults (a 1 ms slice).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpoint, fairStrategy, run, runtimeStats } from "@ipfs-kit/kit/runtime";
 *
 * const name = await run(async () => {
 *   await checkpoint();
 *   return runtimeStats().strategy;
 * }, { strategy: fairStrategy });
 * assert.equal(name, "fair");
 * ```
 */
export const fairStrategy: StrategyFactory = makeFairStrategy();
