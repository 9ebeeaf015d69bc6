/**
 * What a scheduling strategy is: how a task yields at a checkpoint and how a
 * new task is started. The analogue of AnyIO's asyncio and trio backends. The
 * built-in ones are in `eager_strategy.ts`, `fair_strategy.ts` and
 * `shuffle_strategy.ts`, by name in `strategies.ts`.
 *
 * @module
 */

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
  /**
   * The run's seed, for a strategy that makes random choices: `run`'s `seed`
   * option, else `$IPFS_KIT_SEED`, else a random one. The same seed and the
   * same inputs give the same choices.
   */
  readonly seed: number;
}

/** Creates a strategy for one {@linkcode run}. */
export type StrategyFactory = (context: StrategyContext) => SchedulingStrategy;

/** The names of the built-in strategies. */
export type StrategyName = "eager" | "fair" | "shuffle";
