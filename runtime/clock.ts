/**
 * Clocks: where the runtime reads the time and arms its timers.
 *
 * @module
 */

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
 * import { type Clock, realClock } from "@ipfs-kit/kit/runtime";
 *
 * const slow: Clock = {
 *   now: () => realClock.now() / 10,
 *   setTimer: (at, callback) => realClock.setTimer(at * 10, callback),
 * };
 * console.assert(slow.now() >= 0);
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

/**
 * The real, monotonic clock: `performance.now()` and `setTimeout`.
 *
 * @example
 * ```ts
 * import { RealClock } from "@ipfs-kit/kit/runtime";
 *
 * const clock = new RealClock();
 * const timer = clock.setTimer(clock.now() + 1000, () => {});
 * timer.cancel();
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
   * Arms a `setTimeout` for `deadline`.
   *
   * @param deadline When to fire, in `performance.now()` milliseconds.
   * @param callback What to call.
   * @returns A handle that disarms it.
   */
  setTimer(deadline: number, callback: () => void): ClockTimer {
    let id: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
      id = undefined;
      callback();
    }, Math.max(0, deadline - performance.now()));
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
 * import { realClock } from "@ipfs-kit/kit/runtime";
 *
 * const start = realClock.now();
 * console.assert(realClock.now() >= start);
 * ```
 */
export const realClock: RealClock = new RealClock();
