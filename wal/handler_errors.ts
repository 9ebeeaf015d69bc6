/**
 * How a processor sorts a handler's error, by default: whether it means the
 * backend could not be reached ({@linkcode isUnavailableError}: the attempt
 * does not count, and the operation waits for the backend), and whether
 * another attempt may succeed ({@linkcode isRetriableError}). See "Errors" in
 * the documentation of {@linkcode OperationProcessor}.
 *
 * @module
 */

const UNAVAILABLE_NAMES: ReadonlySet<string> = new Set([
  "UnavailableError",
  "BackendUnavailableError",
  "UnreachableError",
  "ConnectionRefused",
  "ConnectionReset",
  "ConnectionAborted",
  "NotConnected",
  "BrokenPipe",
  "ClosedResourceError",
]);

const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ENOTCONN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
]);

/**
 * The default `isUnavailable`: whether an error (or an error in its `cause`
 * chain) says the backend could not be reached: a refused, reset or broken
 * connection (`Deno.errors.ConnectionRefused` and kin, `ECONNREFUSED` and
 * kin, `TypeError: fetch failed`), a closed store (`ClosedResourceError`),
 * or an error named `UnavailableError`, `BackendUnavailableError` or
 * `UnreachableError`.
 *
 * @param error What a handler threw.
 * @returns Whether the backend was unreachable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isUnavailableError } from "@ipfs-kit/kit/wal";
 *
 * assert(isUnavailableError(new Deno.errors.ConnectionRefused("refused")));
 * assert(!isUnavailableError(new TypeError("bad input")));
 * ```
 */
export function isUnavailableError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === "object" && depth < 8; depth++) {
    const { name, code, message } = e as { name?: unknown; code?: unknown; message?: unknown };
    if (typeof name === "string" && UNAVAILABLE_NAMES.has(name)) return true;
    if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
    if (
      name === "TypeError" && typeof message === "string" &&
      /^fetch failed|error sending request/i.test(message)
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

const PERMANENT_NAMES: ReadonlySet<string> = new Set(["PinnedError", "NotSupportedError"]);

/**
 * The default `isRetriable`: every error except invalid input (`TypeError`
 * and its subclasses such as `InvalidInputError` and `InvalidCidError`,
 * `RangeError`, `SyntaxError`) and errors that will not go away
 * (`PinnedError`, `NotSupportedError`).
 *
 * @param error What a handler threw.
 * @returns Whether another attempt may succeed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRetriableError } from "@ipfs-kit/kit/wal";
 *
 * assert(isRetriableError(new Error("flaky")));
 * assert(!isRetriableError(new RangeError("block too big")));
 * ```
 */
export function isRetriableError(error: unknown): boolean {
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) {
    return false;
  }
  const name = (error as { name?: unknown } | null)?.name;
  return !(typeof name === "string" && PERMANENT_NAMES.has(name));
}
