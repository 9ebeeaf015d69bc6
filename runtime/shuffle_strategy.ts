/**
 * The shuffle strategy: ready tasks run in a seeded pseudo-random order, as
 * Trio's run queue does, to flush out code that depends on an order nobody
 * promised.
 *
 * @module
 */

// deno-lint-ignore-file ipfs-kit/no-floating-promise
// A strategy or task group is what owns these promises: it implements the primitive.

import { macrotaskYield } from "./macrotask.ts";
import type { SchedulingStrategy, StrategyContext, StrategyFactory } from "./strategy.ts";

/** Options for {@linkcode makeShuffleStrategy}. */
export interface ShuffleStrategyOptions {
  /**
   * The seed of the order. Default: the run's seed (`run`'s `seed` option,
   * else `$IPFS_KIT_SEED`, else a random one).
   */
  seed?: number;
  /**
   * The longest stretch, in milliseconds, that tasks may run on microtask
   * hops before a batch waits one macrotask turn, so that timers and I/O run
   * (and take their place in the order). Default 1.
   */
  sliceMs?: number;
}

/**
 * Makes a shuffle strategy. Every task that reaches a checkpoint or starts in
 * the same turn joins one batch; the batch then runs in an order drawn from a
 * seeded generator. With a {@linkcode VirtualClock} this is deterministic
 * simulation: the same seed and inputs give the same interleaving, so a
 * failure found under one seed is replayed by running with it again
 * (`IPFS_KIT_SEED=<seed>`; `testEachStrategy` prints it when a test fails).
 *
 * Like the fair strategy it waits a macrotask turn once the tasks have run for
 * `sliceMs`, so it never starves timers and I/O, and it fires due deadlines at
 * every batch.
 *
 * @param options The seed and the time slice.
 * @returns A strategy factory.
 * @throws {RangeError} The seed is not a 32-bit unsigned integer, or the slice is not positive.
 *
 * @example Two runs with one seed interleave alike
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpoint, run, taskGroup } from "@ipfs-kit/kit/runtime";
 * import { makeShuffleStrategy } from "@ipfs-kit/kit/runtime";
 *
 * async function interleaving(seed: number): Promise<string> {
 *   const order: number[] = [];
 *   await run(() =>
 *     taskGroup((tg) => {
 *       for (let task = 0; task < 4; task++) {
 *         tg.spawn(async () => {
 *           for (let step = 0; step < 3; step++) {
 *             order.push(task);
 *             await checkpoint();
 *           }
 *         });
 *       }
 *     }), { strategy: makeShuffleStrategy({ seed }) });
 *   return order.join("");
 * }
 * assert.equal(await interleaving(42), await interleaving(42));
 * ```
 */
export function makeShuffleStrategy(options: ShuffleStrategyOptions = {}): StrategyFactory {
  const sliceMs = options.sliceMs ?? 1;
  if (!(sliceMs > 0)) {
    throw new RangeError(
      `Cannot create shuffle strategy: sliceMs must be > 0: received ${sliceMs}`,
    );
  }
  if (options.seed !== undefined) checkSeed(options.seed, "create shuffle strategy");
  return (context) => shuffle(context, options.seed ?? context.seed, sliceMs);
}

/**
 * The shuffle strategy with the run's seed and a 1 ms slice: what
 * `run(main, { strategy: "shuffle", seed })` uses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpoint, run, runtimeStats } from "@ipfs-kit/kit/runtime";
 *
 * const stats = await run(async () => {
 *   await checkpoint();
 *   return runtimeStats();
 * }, { strategy: "shuffle", seed: 7 });
 * assert.equal(stats.strategy, "shuffle");
 * assert.equal(stats.seed, 7);
 * ```
 */
export const shuffleStrategy: StrategyFactory = makeShuffleStrategy();

/**
 * Checks a seed: a 32-bit unsigned integer.
 *
 * @throws {RangeError} It is not one.
 */
export function checkSeed(seed: number, what: string): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw new RangeError(
      `Cannot ${what}: seed must be an integer from 0 to 4294967295: received ${seed}`,
    );
  }
  return seed;
}

function shuffle(context: StrategyContext, seed: number, sliceMs: number): SchedulingStrategy {
  const random = mulberry32(seed);
  let batch: Array<() => void> = [];
  let pending = false;
  let sliceStart = performance.now();
  const record = (ms: number) => {
    sliceStart = performance.now();
    context.recordDelay(ms);
  };
  const flush = () => {
    pending = false;
    const ready = batch;
    batch = [];
    context.fireDueDeadlines();
    // Fisher-Yates with the seeded generator.
    for (let i = ready.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const swap = ready[i];
      ready[i] = ready[j];
      ready[j] = swap;
    }
    for (const resume of ready) resume();
  };
  const enqueue = (resume: () => void) => {
    batch.push(resume);
    if (pending) return;
    pending = true;
    if (performance.now() - sliceStart >= sliceMs) macrotaskYield(record).then(flush);
    else queueMicrotask(flush);
  };
  return {
    name: "shuffle",
    yield: () => new Promise<void>((resolve) => enqueue(resolve)),
    schedule: enqueue,
  };
}

/** A small, fast 32-bit generator (Tommy Ettinger's Mulberry32): numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
