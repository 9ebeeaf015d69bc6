/**
 * Cancellable sleeps on the runtime clock.
 *
 * @module
 */

import { currentRuntime } from "./cancel_scope.ts";
import { park } from "./park.ts";
import { checkpoint } from "./checkpoint.ts";

/**
 * Sleeps `ms` milliseconds on the run's clock. Cancellable; `sleep(0)` is a
 * checkpoint.
 *
 * @param ms How long, in milliseconds.
 * @returns A promise that settles after the sleep.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentTime, sleep } from "@ipfs-kit/kit/runtime";
 *
 * const start = currentTime();
 * await sleep(5);
 * assert(currentTime() - start >= 5);
 * ```
 */
export function sleep(ms: number): Promise<void> {
  if (typeof ms !== "number" || Number.isNaN(ms)) {
    return Promise.reject(new TypeError(`Cannot sleep: duration must be a number: received ${ms}`));
  }
  if (ms <= 0) return checkpoint();
  return sleepUntil(currentRuntime().clock.now() + ms);
}

/**
 * Sleeps until the run's clock reaches `deadline`. Cancellable.
 *
 * @param deadline Milliseconds on the runtime clock (see `currentTime()`).
 * @returns A promise that settles at the deadline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentTime, sleepUntil } from "@ipfs-kit/kit/runtime";
 *
 * const deadline = currentTime() + 5;
 * await sleepUntil(deadline);
 * assert(currentTime() >= deadline);
 * ```
 */
export function sleepUntil(deadline: number): Promise<void> {
  if (typeof deadline !== "number" || Number.isNaN(deadline)) {
    return Promise.reject(
      new TypeError(`Cannot sleep: deadline must be a number: received ${deadline}`),
    );
  }
  const clock = currentRuntime().clock;
  if (deadline <= clock.now()) return checkpoint();
  if (deadline === Infinity) return sleepForever();
  try {
    const waiter = park<void>();
    const timer = clock.setTimer(deadline, () => waiter.wake());
    waiter.onCancel = () => timer.cancel();
    return waiter.promise;
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Sleeps until cancelled.
 *
 * @returns A promise that only ever rejects, with `CancelledError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelledError, CancelScope, sleepForever } from "@ipfs-kit/kit/runtime";
 *
 * const scope = new CancelScope({ timeout: 1 });
 * let error: unknown;
 * await scope.run(async () => {
 *   try {
 *     await sleepForever();
 *   } catch (cancelled) {
 *     error = cancelled;
 *     throw cancelled;
 *   }
 * });
 * assert(error instanceof CancelledError);
 * ```
 */
export function sleepForever(): Promise<never> {
  try {
    return park<never>().promise;
  } catch (error) {
    return Promise.reject(error);
  }
}
