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

/** What a strategy may report to the runtime's instrumentation. */
export interface StrategyContext {
  /** Records how long a task waited to run once it was ready, in milliseconds. */
  recordDelay(ms: number): void;
}

/** Creates a strategy for one {@linkcode run}. */
export type StrategyFactory = (context: StrategyContext) => SchedulingStrategy;

/** The names of the built-in strategies. */
export type StrategyName = "eager" | "fair";

/**
 * The eager strategy: every checkpoint is one microtask hop and tasks start on
 * the next microtask. Highest throughput; a task that loops on checkpoints
 * starves timers and I/O until it blocks for real.
 *
 * @param _context Unused: the eager strategy never waits for a macrotask.
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
export function eagerStrategy(_context: StrategyContext): SchedulingStrategy {
  return {
    name: "eager",
    yield: () => RESOLVED,
    schedule: queueMicrotask,
  };
}

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
