/**
 * Checkpoints: where a task lets others run and notices cancellation.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { currentRuntime, currentScope, internals } from "./cancel_scope.ts";

/**
 * Yields to other tasks (how, the run's strategy decides) and throws
 * {@linkcode CancelledError} if the current scope is cancelled. Put one in
 * long loops that never block otherwise.
 *
 * @returns A promise that settles when the task may go on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpoint } from "@ipfs-kit/kit/runtime";
 *
 * let sum = 0;
 * for (let i = 0; i < 1000; i++) {
 *   sum += i;
 *   if (i % 100 === 0) await checkpoint();
 * }
 * assert.equal(sum, 499500);
 * ```
 */
export function checkpoint(): Promise<void> {
  const scope = currentScope();
  const runtime = internals.runtime(scope);
  runtime.checkpoints++;
  if (scope.cancelled) return Promise.reject(internals.error(scope));
  return runtime.strategy.yield();
}

/**
 * Throws {@linkcode CancelledError} if the current scope is cancelled, without
 * yielding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelledError, CancelScope, checkpointIfCancelled } from "@ipfs-kit/kit/runtime";
 *
 * checkpointIfCancelled(); // not cancelled: returns at once
 * const scope = new CancelScope();
 * await scope.run(() => {
 *   scope.cancel();
 *   assert.throws(() => checkpointIfCancelled(), CancelledError);
 * });
 * ```
 */
export function checkpointIfCancelled(): void {
  const scope = currentScope();
  if (scope.cancelled) throw internals.error(scope);
}

/**
 * The earliest deadline that applies to the running code: the minimum over the
 * enclosing scopes up to a shield, on the runtime clock; `-Infinity` when
 * cancelled already, `Infinity` when there is none.
 *
 * @returns Milliseconds on the runtime clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentEffectiveDeadline, currentTime, moveOnAfter } from "@ipfs-kit/kit/runtime";
 *
 * await moveOnAfter(1000, () => {
 *   assert(currentEffectiveDeadline() <= currentTime() + 1000);
 * });
 * ```
 */
export function currentEffectiveDeadline(): number {
  let deadline = Infinity;
  for (
    let scope: ReturnType<typeof currentScope> | undefined = currentScope();
    scope;
    scope = internals.parent(scope)
  ) {
    if (scope.cancelCalled) return -Infinity;
    if (scope.deadline < deadline) deadline = scope.deadline;
    if (scope.shield) break;
  }
  return deadline;
}

/**
 * The time on the current run's clock, in milliseconds.
 *
 * @returns The time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentTime } from "@ipfs-kit/kit/runtime";
 *
 * const start = currentTime();
 * assert(currentTime() >= start);
 * ```
 */
export function currentTime(): number {
  return currentRuntime().clock.now();
}

/**
 * The clock of the current run: the real clock, or the {@linkcode VirtualClock}
 * given to `run()`. Code that sets its own timers (a batching writer, a retry
 * schedule) takes them from here, so that it follows virtual time in tests.
 *
 * @returns The clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentClock, run, sleep, VirtualClock } from "@ipfs-kit/kit/runtime";
 *
 * const clock = new VirtualClock({ autojumpThreshold: 0 });
 * await run(async () => {
 *   assert.equal(currentClock(), clock);
 *   await sleep(60_000); // instant: the clock jumps
 *   assert.equal(currentClock().now(), 60_000);
 * }, { clock });
 * ```
 */
export function currentClock(): Clock {
  return currentRuntime().clock;
}
