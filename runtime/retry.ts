/**
 * Retries with exponential backoff and jitter, sleeping on the runtime clock.
 *
 * @module
 */

import { currentScope } from "./cancel_scope.ts";
import { checkpointIfCancelled } from "./checkpoint.ts";
import { CancelledError } from "./errors.ts";
import { sleep } from "./sleep.ts";
import { withSignal } from "./timeouts.ts";

/**
 * How the delay is randomised, after "Exponential Backoff And Jitter" (AWS
 * Architecture Blog, 2015). With `cap` the capped exponential delay:
 * - `"full"`: uniform in `[0, cap)`. Spreads retries best; the default.
 * - `"equal"`: `cap / 2` plus uniform in `[0, cap / 2)`.
 * - `"none"`: exactly `cap`.
 */
export type Jitter = "full" | "equal" | "none";

/** Options for {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** The delay before the first retry, before jitter, in milliseconds. Default 100. */
  baseDelayMs?: number;
  /** The cap on the delay before jitter, in milliseconds. Default 30 000. */
  maxDelayMs?: number;
  /** The growth factor per attempt (>= 1). Default 2. */
  factor?: number;
  /** How the delay is randomised. Default `"full"`. */
  jitter?: Jitter;
  /** The source of randomness, returning numbers in `[0, 1)`. Default `Math.random`. */
  random?: () => number;
}

/** Options for {@linkcode retry}. */
export interface RetryOptions extends BackoffOptions {
  /** How many attempts in all, the first one included (>= 1, `Infinity` allowed). Default 5. */
  attempts?: number;
  /**
   * Whether a failure is worth another attempt. Default: every error except
   * cancellation. Not called after the last attempt.
   */
  isRetriable?: (error: unknown, attempt: number) => boolean;
  /** Called before each sleep with the failure, its attempt number and the delay. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Stops retrying (and the sleep, and `fn` if it honours the scope) when aborted. */
  signal?: AbortSignal;
}

const JITTERS: readonly string[] = ["full", "equal", "none"];

/**
 * The delay to wait after failed attempt number `attempt` (1 for the first
 * attempt): `min(maxDelayMs, baseDelayMs * factor ** (attempt - 1))`, then
 * randomised by `jitter`. Pure: the same inputs (and `random`) give the same
 * delay.
 *
 * @param attempt The number of the attempt that just failed, from 1.
 * @param options Base delay, cap, factor, jitter and randomness.
 * @returns The delay in milliseconds.
 *
 * @example Without jitter the delays double up to the cap
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "@ipfs-kit/kit/runtime";
 *
 * const options = { baseDelayMs: 100, maxDelayMs: 500, jitter: "none" as const };
 * const delays = [1, 2, 3, 4].map((attempt) => backoffDelay(attempt, options));
 * assert.equal(delays.join(), "100,200,400,500");
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(
      `Cannot compute backoff delay: attempt must be an integer >= 1: received ${attempt}`,
    );
  }
  const { baseDelayMs, maxDelayMs, factor, jitter, random } = checkBackoff(options);
  // 0 * Infinity is NaN: a zero base stays zero however far the factor grows.
  const cap = baseDelayMs === 0 ? 0 : Math.min(maxDelayMs, baseDelayMs * factor ** (attempt - 1));
  if (jitter === "none") return cap;
  const r = random();
  if (!(r >= 0 && r < 1)) {
    throw new RangeError(
      `Cannot compute backoff delay: random() must return a number in [0, 1): received ${r}`,
    );
  }
  return jitter === "full" ? cap * r : cap / 2 + (cap / 2) * r;
}

/**
 * Calls `fn` until it succeeds, at most `attempts` times, sleeping
 * {@linkcode backoffDelay} between attempts on the runtime clock (so a
 * {@linkcode VirtualClock} makes the delays instant). Returns the first
 * success; after the last attempt, or a failure `isRetriable` rejects, throws
 * that failure itself, unwrapped, so callers catch by class as usual.
 *
 * Cancellation is never retried: a {@linkcode CancelledError}, or any failure
 * while the current scope is cancelled, is re-thrown at once, and a sleep
 * between attempts is cut short. When `signal` aborts, `retry` rejects with
 * `signal.reason`.
 *
 * @param fn The operation; it receives the attempt number, from 1.
 * @param options Attempts, backoff, the retry filter, a hook and a signal.
 * @returns What `fn` returned on its first success.
 *
 * @example Retry a flaky call
 * ```ts
 * import assert from "node:assert/strict";
 * import { retry } from "@ipfs-kit/kit/runtime";
 *
 * const value = await retry((attempt) => {
 *   if (attempt < 3) throw new Error("flaky");
 *   return attempt;
 * }, { baseDelayMs: 1 });
 * assert.equal(value, 3);
 * ```
 *
 * @example Give up early on errors that will not go away
 * ```ts
 * import assert from "node:assert/strict";
 * import { retry } from "@ipfs-kit/kit/runtime";
 *
 * let calls = 0;
 * const error = await retry(() => {
 *   calls++;
 *   throw new TypeError("bad input");
 * }, { isRetriable: (error) => !(error instanceof TypeError) }).catch((e) => e);
 * assert(error instanceof TypeError && calls === 1);
 * ```
 */
export function retry<T>(
  fn: (attempt: number) => T | Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  if (typeof fn !== "function") {
    return Promise.reject(
      new TypeError(`Cannot retry: expected a function: received ${typeof fn}`),
    );
  }
  const attempts = options.attempts ?? 5;
  if (!(attempts >= 1) || (attempts !== Infinity && !Number.isInteger(attempts))) {
    return Promise.reject(
      new RangeError(`Cannot retry: attempts must be an integer >= 1: received ${attempts}`),
    );
  }
  let backoff: Required<BackoffOptions>;
  try {
    backoff = checkBackoff(options);
  } catch (error) {
    return Promise.reject(error);
  }
  const { isRetriable, onRetry, signal } = options;
  const loop = async (): Promise<T> => {
    for (let attempt = 1;; attempt++) {
      checkpointIfCancelled();
      try {
        return await fn(attempt);
      } catch (error) {
        if (error instanceof CancelledError || currentScope().cancelled) throw error;
        if (attempt >= attempts) throw error;
        if (isRetriable !== undefined && !isRetriable(error, attempt)) throw error;
        const delayMs = backoffDelay(attempt, backoff);
        onRetry?.(error, attempt, delayMs);
        await sleep(delayMs);
      }
    }
  };
  return signal === undefined ? loop() : withSignal(signal, loop);
}

function checkBackoff(options: BackoffOptions): Required<BackoffOptions> {
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? "full";
  const random = options.random ?? Math.random;
  if (!(baseDelayMs >= 0 && baseDelayMs < Infinity)) {
    throw new RangeError(
      `Cannot use backoff: baseDelayMs must be a finite number >= 0: received ${baseDelayMs}`,
    );
  }
  if (!(maxDelayMs >= 0)) {
    throw new RangeError(`Cannot use backoff: maxDelayMs must be >= 0: received ${maxDelayMs}`);
  }
  if (!(factor >= 1 && factor < Infinity)) {
    throw new RangeError(
      `Cannot use backoff: factor must be a finite number >= 1: received ${factor}`,
    );
  }
  if (!JITTERS.includes(jitter)) {
    throw new RangeError(
      `Cannot use backoff: jitter must be one of ${JITTERS.join(", ")}: received ${
        JSON.stringify(jitter)
      }`,
    );
  }
  if (typeof random !== "function") {
    throw new TypeError(`Cannot use backoff: random must be a function: received ${typeof random}`);
  }
  return { baseDelayMs, maxDelayMs, factor, jitter, random };
}
