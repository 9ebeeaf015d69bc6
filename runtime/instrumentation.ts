/**
 * Counters and hooks that show what the runtime is doing. Telemetry exports
 * them.
 *
 * @module
 */

/** A snapshot of a runtime's counters. */
export interface RuntimeStats {
  /** The strategy's name. */
  strategy: string;
  /** The run's seed (what the shuffle strategy orders tasks by). */
  seed: number;
  /** Tasks spawned or started in task groups. */
  tasksSpawned: number;
  /** Tasks that have finished, whatever the outcome. */
  tasksFinished: number;
  /** Tasks spawned and not yet finished. */
  tasksLive: number;
  /** Cancel scopes whose `cancel()` was called (by hand or by a deadline). */
  scopesCancelled: number;
  /** Calls to `checkpoint()` and the checkpoints inside blocking operations. */
  checkpoints: number;
  /** How many scheduling delays were recorded. */
  delaySamples: number;
  /** The sum of recorded scheduling delays, in milliseconds. */
  delayTotalMs: number;
  /** The longest recorded scheduling delay, in milliseconds. */
  delayMaxMs: number;
  /** Cancel scopes whose deadline passed before they exited (timeouts that hit). */
  deadlinesExpired: number;
}

/**
 * Callbacks for instrumentation, passed to {@linkcode run}. A hook that throws
 * is reported with `reportError` and otherwise ignored.
 *
 * Scheduling delay is the time a ready task waited to run: every macrotask
 * yield of the fair strategy, and one task start in 64.
 *
 * @example Logging cancellations
 * ```ts
 * import assert from "node:assert/strict";
 * import { moveOnAfter, run, sleepForever } from "@ipfs-kit/kit/runtime";
 *
 * const reasons: unknown[] = [];
 * await run(() => moveOnAfter(1, () => sleepForever()), {
 *   hooks: { onScopeCancel: (reason) => reasons.push(reason) },
 * });
 * assert.equal(reasons.length, 1);
 * ```
 */
export interface RuntimeHooks {
  /** A task was spawned. */
  onTaskSpawn?(name: string | undefined): void;
  /** A task finished; `error` is set when it failed (cancellation is no failure). */
  onTaskFinish?(error?: unknown): void;
  /** A cancel scope was cancelled. */
  onScopeCancel?(reason: unknown): void;
  /** A scheduling delay was measured, in milliseconds. */
  onSchedulingDelay?(ms: number): void;
}
