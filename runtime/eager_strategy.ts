/**
 * The eager strategy, the default: microtask hops.
 *
 * @module
 */

import { MICROTASK_HOP as RESOLVED } from "./macrotask.ts";
import type { SchedulingStrategy, StrategyContext } from "./strategy.ts";

/**
 * The eager strategy, the default: every checkpoint is one microtask hop and
 * tasks start on the next microtask. Highest throughput. A task that loops on
 * checkpoints starves timers and I/O until it blocks for real, with one
 * exception: every {@linkcode EAGER_DEADLINE_CHECK_EVERY} hops it looks at the
 * clock and fires the deadlines that have passed, so `moveOnAfter` and
 * `failAfter` interrupt such a loop on time (within a few hops of the
 * deadline). Use the fair strategy when other timers and I/O must not wait.
 *
 * @param context The run's context: the deadlines to fire.
 * @returns The strategy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpoint, eagerStrategy, run, runtimeStats } from "@ipfs-kit/kit/runtime";
 *
 * const name = await run(async () => {
 *   await checkpoint();
 *   return runtimeStats().strategy;
 * }, { strategy: eagerStrategy });
 * assert.equal(name, "eager");
 * ```
 */
export function eagerStrategy(context: StrategyContext): SchedulingStrategy {
  let hops = 0;
  return {
    name: "eager",
    yield: () => {
      if (++hops >= EAGER_DEADLINE_CHECK_EVERY) {
        hops = 0;
        context.fireDueDeadlines();
      }
      return RESOLVED;
    },
    schedule: (start) => {
      if (++hops >= EAGER_DEADLINE_CHECK_EVERY) {
        hops = 0;
        context.fireDueDeadlines();
      }
      queueMicrotask(start);
    },
  };
}

/**
 * How many checkpoints and task starts the eager strategy lets pass between
 * two looks at the deadlines (a clock read when any deadline is armed).
 * Measured in `bench/runtime_bench.ts`, group `checkpoint`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpoint, EAGER_DEADLINE_CHECK_EVERY, moveOnAfter } from "@ipfs-kit/kit/runtime";
 *
 * let hops = 0;
 * await moveOnAfter(5, async () => {
 *   for (;;) {
 *     await checkpoint(); // never lets a timer run under the eager strategy
 *     hops++;
 *   }
 * });
 * assert(hops >= EAGER_DEADLINE_CHECK_EVERY); // interrupted all the same
 * ```
 */
export const EAGER_DEADLINE_CHECK_EVERY = 64;
