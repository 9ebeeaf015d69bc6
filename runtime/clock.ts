/**
 * Clocks: where the runtime reads the time and arms its timers.
 *
 * @module
 */

// deno-lint-ignore-file ipfs-kit/no-bare-timer
// The real clock is where the runtime's timers come from.

/** A timer armed on a {@linkcode Clock}; `cancel()` disarms it and is idempotent. */
export interface ClockTimer {
  /** Disarms the timer. Safe to call after it fired. */
  cancel(): void;
}

/**
 * A source of time and timers. Every deadline, sleep and retry delay in the
 * kit goes through the clock of the current {@linkcode run}, so swapping in a
 * {@linkcode VirtualClock} makes timing-dependent code run instantly and
 * deterministically.
 *
 * Times are in milliseconds on the clock's own monotonic axis.
 *
 * @example A clock that is ten times slower than real time
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Clock, realClock } from "@ipfs-kit/kit/runtime";
 *
 * const slow: Clock = {
 *   now: () => realClock.now() / 10,
 *   setTimer: (at, callback) => realClock.setTimer(at * 10, callback),
 * };
 * assert(slow.now() >= 0);
 * ```
 */
export interface Clock {
  /** The current time in milliseconds. Never decreases. */
  now(): number;
  /**
   * Calls `callback` once the clock reaches `deadline` (milliseconds on the
   * clock's axis). A deadline in the past fires as soon as possible, never
   * synchronously.
   */
  setTimer(deadline: number, callback: () => void): ClockTimer;
}

/** The longest delay `setTimeout` takes as given. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The real, monotonic clock: `performance.now()` and `setTimeout`.
 *
 * @example
 * ```ts
 * import { RealClock } from "@ipfs-kit/kit/runtime";
 *
 * import assert from "node:assert/strict";
 *
 * const clock = new RealClock();
 * let fired = false;
 * const timer = clock.setTimer(clock.now() + 1000, () => {
 *   fired = true;
 * });
 * timer.cancel();
 * assert.equal(fired, false);
 * ```
 */
export class RealClock implements Clock {
  /**
   * The current time: `performance.now()`.
   *
   * @returns Milliseconds since the process started.
   */
  now(): number {
    return performance.now();
  }

  /**
   * Arms a `setTimeout` for `deadline`; the callback never runs before
   * `now()` reaches it. Delays past `setTimeout`'s 32-bit limit (about 24.8
   * days) are reached in steps; `Infinity` never fires.
   *
   * @param deadline When to fire, in `performance.now()` milliseconds.
   * @param callback What to call.
   * @returns A handle that disarms it.
   */
  setTimer(deadline: number, callback: () => void): ClockTimer {
    let id: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      const delay = deadline - performance.now();
      // setTimeout turns a delay that does not fit in 32 bits into 1 ms.
      if (delay > MAX_TIMEOUT_MS) id = setTimeout(arm, MAX_TIMEOUT_MS);
      else {
        id = setTimeout(() => {
          // setTimeout may fire a fraction of a millisecond before performance.now()
          // reaches the deadline: wait for the rest, so the clock contract holds.
          if (performance.now() < deadline) return arm();
          id = undefined;
          callback();
        }, Math.max(0, delay));
      }
    };
    if (deadline !== Infinity) arm();
    return {
      cancel() {
        if (id !== undefined) {
          clearTimeout(id);
          id = undefined;
        }
      },
    };
  }
}

/**
 * The shared real clock, used wherever {@linkcode run} was not given another.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { realClock } from "@ipfs-kit/kit/runtime";
 *
 * const start = realClock.now();
 * assert(realClock.now() >= start);
 * ```
 */
export const realClock: RealClock = new RealClock();
