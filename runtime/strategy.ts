/**
 * Scheduling strategies: how a task yields at a checkpoint and how a new task
 * is started. The analogue of AnyIO's asyncio and trio backends.
 *
 * @module
 */

import { macrotaskYield, MICROTASK_HOP as RESOLVED } from "./macrotask.ts";

/**
 * How tasks take turns. A strategy is created per {@linkcode run} by a
 * {@linkcode StrategyFactory}, so it may keep state.
 *
 * @example A strategy that counts its yields
 * ```ts
 * import assert from "node:assert/strict";
 * import { run, checkpoint, strategies, type StrategyFactory } from "@ipfs-kit/kit/runtime";
 *
 * let yields = 0;
 * const counting: StrategyFactory = (context) => {
 *   const inner = strategies.eager(context);
 *   return {
 *     name: "counting",
 *     yield: () => (yields++, inner.yield()),
 *     schedule: (start) => inner.schedule(start),
 *   };
 * };
 * await run(() => checkpoint(), { strategy: counting });
 * assert.equal(yields, 1);
 * ```
 */
export interface SchedulingStrategy {
  /** A short name, used in test names and benchmark entries. */
  readonly name: string;
  /** Called at every checkpoint: the task goes on once the promise settles. */
  yield(): Promise<void>;
  /** Runs a new task's first step soon, never synchronously. */
  schedule(start: () => void): void;
}

/** What a strategy gets from the run it schedules for. */
export interface StrategyContext {
  /** Records how long a task waited to run once it was ready, in milliseconds. */
  recordDelay(ms: number): void;
  /**
   * Cancels every scope whose deadline the run's clock has reached. Deadlines
   * fire by clock timers, which run only when the event loop gets to timers:
   * a strategy that keeps tasks on microtask hops calls this every so many
   * hops, so that a deadline still interrupts a loop that only checkpoints.
   */
  fireDueDeadlines(): void;
}

/** Creates a strategy for one {@linkcode run}. */
export type StrategyFactory = (context: StrategyContext) => SchedulingStrategy;

/** The names of the built-in strategies. */
export type StrategyName = "eager" | "fair";

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

/**
 * The built-in strategies by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { strategies } from "@ipfs-kit/kit/runtime";
 *
 * assert(Object.keys(strategies).includes("fair"));
 * ```
 */
export const strategies: Readonly<Record<StrategyName, StrategyFactory>> = Object.freeze({
  eager: eagerStrategy,
  fair: fairStrategy,
});
