/**
 * Timeouts as cancel scopes: `moveOnAfter`/`moveOnAt` give up quietly,
 * `failAfter`/`failAt` throw {@linkcode TimeoutError}; `withSignal` binds an
 * `AbortSignal`.
 *
 * @module
 */

import { CancelScope } from "./cancel_scope.ts";
import { currentTime } from "./checkpoint.ts";
import { TimeoutError } from "./errors.ts";

/**
 * Runs `fn` with a deadline `ms` from now; when it passes, `fn` is cancelled
 * and `undefined` is returned. Check `scope.cancelledCaught` to tell.
 *
 * @param ms The timeout in milliseconds.
 * @param fn The code; it receives its scope.
 * @returns `fn`'s result, or `undefined` on timeout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { moveOnAfter, sleepForever } from "@ipfs-kit/kit/runtime";
 *
 * const result = await moveOnAfter(1, () => sleepForever());
 * assert.equal(result, undefined);
 * ```
 */
export function moveOnAfter<T>(
  ms: number,
  fn: (scope: CancelScope) => T | Promise<T>,
): Promise<T | undefined> {
  return new CancelScope({ timeout: ms }).run(fn);
}

/**
 * Like {@linkcode moveOnAfter} with an absolute deadline on the runtime clock.
 *
 * @param deadline Milliseconds on the runtime clock.
 * @param fn The code; it receives its scope.
 * @returns `fn`'s result, or `undefined` on timeout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentTime, moveOnAt, sleepForever } from "@ipfs-kit/kit/runtime";
 *
 * assert.equal(await moveOnAt(currentTime() + 1, () => sleepForever()), undefined);
 * assert.equal(await moveOnAt(currentTime() + 1_000, () => "fast"), "fast");
 * ```
 */
export function moveOnAt<T>(
  deadline: number,
  fn: (scope: CancelScope) => T | Promise<T>,
): Promise<T | undefined> {
  return new CancelScope({ deadline }).run(fn);
}

/**
 * Runs `fn` with a deadline `ms` from now; when it passes, `fn` is cancelled
 * and {@linkcode TimeoutError} is thrown.
 *
 * @param ms The timeout in milliseconds.
 * @param fn The code; it receives its scope.
 * @returns `fn`'s result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { failAfter } from "@ipfs-kit/kit/runtime";
 *
 * const value = await failAfter(1000, () => 42);
 * assert.equal(value, 42);
 * ```
 */
export function failAfter<T>(ms: number, fn: (scope: CancelScope) => T | Promise<T>): Promise<T> {
  return failWithin(new CancelScope({ timeout: ms }), fn, `${ms} ms`);
}

/**
 * Like {@linkcode failAfter} with an absolute deadline on the runtime clock.
 *
 * @param deadline Milliseconds on the runtime clock.
 * @param fn The code; it receives its scope.
 * @returns `fn`'s result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentTime, failAt, sleepForever, TimeoutError } from "@ipfs-kit/kit/runtime";
 *
 * assert.equal(await failAt(currentTime() + 1000, () => "fast enough"), "fast enough");
 * await assert.rejects(failAt(currentTime() + 1, () => sleepForever()), TimeoutError);
 * ```
 */
export function failAt<T>(
  deadline: number,
  fn: (scope: CancelScope) => T | Promise<T>,
): Promise<T> {
  return failWithin(new CancelScope({ deadline }), fn, `deadline ${deadline}`);
}

async function failWithin<T>(
  scope: CancelScope,
  fn: (scope: CancelScope) => T | Promise<T>,
  what: string,
): Promise<T> {
  const result = await scope.run(fn);
  if (scope.cancelledCaught) {
    if (currentTime() >= scope.deadline) throw new TimeoutError(`Timed out after ${what}`);
    // Cancelled by hand, not by the deadline: the caller gets no result.
    throw new TimeoutError(`Cancelled before ${what}: ${String(scope.reason)}`);
  }
  return result as T;
}

/**
 * Runs `fn` in a scope that is cancelled when `signal` aborts; then throws
 * `signal.reason` (usually a `DOMException` named `AbortError`), as Web APIs
 * do. An already-aborted signal throws at once without running `fn`. This is how every kit API honours its `signal` option.
 *
 * @param signal The signal to follow; `undefined` runs `fn` as is.
 * @param fn The code.
 * @returns `fn`'s result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleepForever, withSignal } from "@ipfs-kit/kit/runtime";
 *
 * const controller = new AbortController();
 * const pending = withSignal(controller.signal, () => sleepForever());
 * controller.abort();
 * await pending.catch((error) => assert(error.name === "AbortError"));
 * ```
 */
export async function withSignal<T>(
  signal: AbortSignal | undefined,
  fn: () => T | Promise<T>,
): Promise<T> {
  if (signal === undefined) return await fn();
  if (signal.aborted) throw signal.reason;
  const scope = new CancelScope({ signal });
  const result = await scope.run(fn);
  if (scope.cancelledCaught) throw signal.reason;
  return result as T;
}
