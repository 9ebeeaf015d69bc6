/**
 * The structured-concurrency layer every ipfs-kit module stands on: the
 * AnyIO/Trio analogue for Deno.
 *
 * - {@linkcode taskGroup} / {@linkcode TaskGroup}: children that are always
 *   joined; the first failure cancels the rest; failures come out together.
 * - {@linkcode CancelScope}, {@linkcode moveOnAfter}, {@linkcode failAfter},
 *   {@linkcode withSignal}: level-triggered cancellation with deadlines and
 *   shields, bridged to `AbortSignal`.
 * - {@linkcode checkpoint}, {@linkcode sleep}: cancellable yields and sleeps.
 * - {@linkcode run}: the entry point; picks a scheduling strategy
 *   (`"eager"`, `"fair"` or `"shuffle"`) and a clock ({@linkcode realClock} or a
 *   {@linkcode VirtualClock} with autojump).
 *
 * ## How a task finds its scope
 * The current cancel scope travels implicitly with the async context, in an
 * `AsyncLocalStorage` (V8's continuation-preserved data under Deno), rather
 * than being passed by hand. Measured on a 2-core machine (`bench/
 * runtime_bench.ts`, group `context`): reading the store costs about 7 ns and
 * entering it about 200 ns, paid once per scope and once per batch of spawned
 * tasks, not per task or per checkpoint. Explicit passing would save those
 * nanoseconds but would make every async function in the kit and in user
 * code take a scope argument, and any function that forgot it would silently
 * escape cancellation. Implicit context gives Trio's semantics: code at any
 * depth of calls sees the scopes around it, at its checkpoints.
 *
 * ## What a checkpoint is
 * Cancellation is delivered only at a checkpoint, as in Trio. A checkpoint is
 * a call into the runtime that can block or yield: {@linkcode checkpoint},
 * {@linkcode sleep}, acquiring a {@linkcode Lock} or {@linkcode Semaphore},
 * waiting on an {@linkcode Event}, sending or receiving on a channel, joining a
 * task group, and every kit API that takes a signal (they all run inside the
 * caller's scope). At a checkpoint in a cancelled scope the task throws
 * {@linkcode CancelledError}; a task blocked in one wakes at once.
 *
 * An `await` of a promise the runtime did not make is not a checkpoint: a
 * bare `setTimeout` promise, a `fetch` given no signal, a third-party call
 * that ignores cancellation. Until it settles, the scope around it can do
 * nothing. Two fixes: hand the scope's {@linkcode CancelScope.signal} (or
 * `tg.signal`) to anything that takes an `AbortSignal`, or wrap the call in
 * {@linkcode withSignal}, which runs it in a scope that follows the signal.
 * A loop that never awaits anything is not interrupted either: put a
 * `checkpoint()` in it. Under the eager strategy (the default) a loop of
 * checkpoints still lets no timer or I/O run; its deadlines fire all the same,
 * as the strategy looks at them every few dozen hops.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelScope } from "@ipfs-kit/kit/runtime";
 *
 * // Not a checkpoint: a timer promise that would ignore the scope.
 * const slow = (ms: number, signal?: AbortSignal) =>
 *   new Promise<void>((resolve, reject) => {
 *     const id = setTimeout(resolve, ms);
 *     signal?.addEventListener("abort", () => {
 *       clearTimeout(id);
 *       reject(signal.reason);
 *     }, { once: true });
 *   });
 * const scope = new CancelScope({ timeout: 5 });
 * const outcome = await scope.run(async (s) => {
 *   await slow(60_000, s.signal); // the fix: pass the scope's signal
 *   return "slept a minute";
 * });
 * assert.equal(outcome, undefined);
 * assert(scope.cancelledCaught);
 * ```
 *
 * Code outside any {@linkcode run} runs in a default root scope on the eager
 * strategy and the real clock, so the kit's APIs work without a `run()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelScope, run, sleep, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const done: string[] = [];
 * const scope = new CancelScope({ timeout: 50 });
 * await run(() =>
 *   scope.run(() =>
 *     taskGroup((tg) => {
 *       tg.spawn(() => sleep(10).then(() => done.push("short")));
 *       tg.spawn(() => sleep(1_000).then(() => done.push("long"))); // cancelled at 50 ms
 *     })
 *   ), { strategy: "fair" });
 * assert.deepEqual(done, ["short"]);
 * assert(scope.cancelledCaught);
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./clock.ts";
export * from "./virtual_clock.ts";
export type * from "./strategy.ts";
export { EAGER_DEADLINE_CHECK_EVERY, eagerStrategy } from "./eager_strategy.ts";
export { fairStrategy, type FairStrategyOptions, makeFairStrategy } from "./fair_strategy.ts";
export {
  makeShuffleStrategy,
  shuffleStrategy,
  type ShuffleStrategyOptions,
} from "./shuffle_strategy.ts";
export { strategies } from "./strategies.ts";
export type * from "./instrumentation.ts";
export { runtimeMetrics, runtimeMetricsText, type StrategyMetrics } from "./runtime_metrics.ts";
export { CancelScope, type CancelScopeOptions, DeadlineExceeded } from "./cancel_scope.ts";
export * from "./checkpoint.ts";
export * from "./sleep.ts";
export * from "./timeouts.ts";
export * from "./task_group.ts";
export { run, type RunOptions, runtimeStats } from "./run.ts";
export type { Permit } from "./permit.ts";
export { Lock, type LockStatistics } from "./lock.ts";
export * from "./event.ts";
export * from "./semaphore.ts";
export * from "./condition.ts";
export * from "./capacity_limiter.ts";
export * from "./retry.ts";
export * from "./map_concurrent.ts";
export * from "./worker_pool.ts";
export * from "./memory_channel.ts";
export * from "./channel_streams.ts";
