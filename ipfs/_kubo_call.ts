/**
 * How every call of the Kubo backend runs: inside a cancel scope with the
 * call's deadline and the backend's "closed" signal, whose `AbortSignal` is
 * what the HTTP request gets; idempotent reads retried with backoff on the
 * runtime clock; failures mapped to the kit's typed errors.
 *
 * Streams (`cat`, `pubsub subscribe`) hold one HTTP request across many
 * reads: each read runs in such a scope, and a cancelled read aborts the
 * request for good.
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { currentTime } from "../runtime/checkpoint.ts";
import { ClosedResourceError, TimeoutError } from "../runtime/errors.ts";
import { retry } from "../runtime/retry.ts";
import { withSignal } from "../runtime/timeouts.ts";
import { InvalidInputError } from "./errors.ts";
import { isRetriable, toTypedError } from "./_kubo_errors.ts";

/** What a call is, for its errors and its retry policy. */
export interface CallSpec {
  /** The operation, for "Cannot <what>: ...". */
  what: string;
  /** The RPC command. */
  command: string;
  /** The CID or path it is about. */
  subject?: string;
  /** Whether it is a read that may be retried. */
  idempotent?: boolean;
}

/** How idempotent reads are retried. */
export interface RetrySettings {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The delay before the first retry, before jitter. */
  baseDelayMs: number;
  /** The cap on the delay. */
  maxDelayMs: number;
}

/** The backend's settings every call uses. */
export interface CallSettings {
  /** The API URL, for errors. */
  address: string;
  /** The retry policy, or `false` for none. */
  retry: RetrySettings | false;
  /** Aborts when the backend is closed. */
  closed: AbortSignal;
}

/**
 * The call itself: `signal` goes to the client; `timeoutMs` is the time left
 * (whole ms, at least 1), to pass on as the daemon's own `timeout`, or
 * `undefined` without a deadline.
 */
export type CallFn<T> = (signal: AbortSignal, timeoutMs: number | undefined) => Promise<T>;

/**
 * Checks a `timeoutMs` option.
 *
 * @returns The timeout, or `undefined` for none (`Infinity` too).
 * @throws {InvalidInputError} Not a number >= 0.
 */
export function checkTimeout(value: unknown, what: string): number | undefined {
  if (value === undefined || value === Infinity) return undefined;
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new InvalidInputError(
      `Cannot ${what}: timeoutMs must be a number >= 0: received ${String(value)}`,
    );
  }
  return value;
}

/** The absolute deadline on the runtime clock for a timeout from now. */
export function deadlineFor(timeoutMs: number | undefined): number {
  return timeoutMs === undefined ? Infinity : currentTime() + timeoutMs;
}

/**
 * Runs `fn` under `signal` (the caller's) and `deadline`, retrying it if the
 * spec says it is idempotent. Retries never outlast the deadline: a retry
 * whose delay would reach it is not made, and a deadline that passes while
 * retrying throws the last failure (an `UnreachableError`, say) rather than
 * a bare timeout.
 *
 * @throws {TimeoutError} The deadline passed (before any retriable failure).
 * @throws {ClosedResourceError} The backend was closed meanwhile.
 */
export function runCall<T>(
  spec: CallSpec,
  settings: CallSettings,
  signal: AbortSignal | undefined,
  deadline: number,
  timeoutMs: number | undefined,
  fn: CallFn<T>,
): Promise<T> {
  return withSignal(signal, () => runUntil(spec, settings, deadline, timeoutMs, fn));
}

async function runUntil<T>(
  spec: CallSpec,
  settings: CallSettings,
  deadline: number,
  timeoutMs: number | undefined,
  fn: CallFn<T>,
): Promise<T> {
  if (settings.closed.aborted) {
    throw new ClosedResourceError(`Cannot ${spec.what}: the backend is closed`);
  }
  const scope = new CancelScope({ deadline, signal: settings.closed });
  const context = {
    what: spec.what,
    command: spec.command,
    subject: spec.subject,
    address: settings.address,
  };
  // The last failure a retry answered: what the caller learns if the
  // deadline passes while retrying (the daemon's state, not just "too late").
  let retried: unknown;
  const result = await scope.run(async () => {
    const attempt = async (): Promise<T> => {
      const left = deadline === Infinity
        ? undefined
        : Math.max(1, Math.ceil(deadline - currentTime()));
      try {
        return await fn(scope.signal, left);
      } catch (error) {
        throw toTypedError(error, context);
      }
    };
    const policy = settings.retry;
    if (!spec.idempotent || policy === false) return await attempt();
    return await retry(attempt, {
      attempts: policy.attempts,
      baseDelayMs: policy.baseDelayMs,
      maxDelayMs: policy.maxDelayMs,
      isRetriable: (error) => isRetriable(error),
      // A retry that could not finish before the deadline: give up with the
      // failure itself (an UnreachableError), not a timeout.
      onRetry: (error, _attempt, delayMs) => {
        if (currentTime() + delayMs >= deadline) throw error;
        retried = error;
      },
    });
  });
  if (scope.cancelledCaught) {
    if (settings.closed.aborted) {
      throw new ClosedResourceError(`Cannot ${spec.what}: the backend is closed`);
    }
    if (retried !== undefined) throw retried;
    throw new TimeoutError(`Cannot ${spec.what}: timed out after ${timeoutMs} ms`);
  }
  return result as T;
}

/**
 * One read of a stream whose HTTP request outlives the read: runs `fn` as a
 * call, and aborts `request` (the request's controller) if the read is
 * cancelled, times out or the backend closes.
 */
export function streamStep<T>(
  spec: CallSpec,
  settings: CallSettings,
  signal: AbortSignal | undefined,
  deadline: number,
  timeoutMs: number | undefined,
  request: AbortController,
  fn: (timeoutMs: number | undefined) => Promise<T>,
): Promise<T> {
  return runCall(spec, settings, signal, deadline, timeoutMs, async (scopeSignal, left) => {
    const onAbort = () => request.abort(scopeSignal.reason);
    if (scopeSignal.aborted) onAbort();
    else scopeSignal.addEventListener("abort", onAbort, { once: true });
    try {
      return await fn(left);
    } finally {
      scopeSignal.removeEventListener("abort", onAbort);
    }
  });
}
