/**
 * The errors of the HTTP layer: {@linkcode HttpError}, which a handler
 * throws (or the layer throws into a handler, as when a body is too large)
 * to answer with a status and a JSON error body, and
 * {@linkcode InsecureBindError}, which refuses to start a server that would
 * serve beyond this machine without a token.
 *
 * @module
 */

/** Options of {@linkcode HttpError}. */
export interface HttpErrorOptions {
  /** Extra fields of the error object in the body. */
  details?: Record<string, unknown>;
  /** Extra response headers (`allow`, `retry-after`, `www-authenticate`, ...). */
  headers?: Record<string, string>;
  /** What caused it. */
  cause?: unknown;
}

/**
 * An error answered with its status and `{ "error": { "code", "message",
 * ...details } }` ({@linkcode errorResponse}). The layer answers one thrown
 * by a handler as such; any other error thrown by a handler is a 500.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorResponse, HttpError } from "@ipfs-kit/kit/http";
 *
 * const error = new HttpError(503, "busy", "Cannot submit: too many pending", {
 *   headers: { "retry-after": "1" },
 * });
 * const response = errorResponse(error);
 * assert.equal(response.status, 503);
 * assert.equal(response.headers.get("retry-after"), "1");
 * assert.equal((await response.json()).error.code, "busy");
 * ```
 */
export class HttpError extends Error {
  /** The HTTP status, 400 to 599. */
  readonly status: number;
  /** A stable, machine-readable code. */
  readonly code: string;
  /** Extra fields of the error object. */
  readonly details: Record<string, unknown> | undefined;
  /** Extra response headers. */
  readonly headers: Record<string, string> | undefined;

  /**
   * Creates the error.
   *
   * @param status The HTTP status.
   * @param code A stable, machine-readable code such as `"not_found"`.
   * @param message What went wrong, for people.
   * @param options Details, headers and a cause.
   */
  constructor(status: number, code: string, message: string, options: HttpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers;
  }
}

/**
 * Thrown when a server would listen beyond this machine without a token
 * (and without being declared public): "Cannot start server: binding
 * 0.0.0.0 needs a token".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InsecureBindError, serve } from "@ipfs-kit/kit/http";
 *
 * assert.throws(
 *   () => serve(() => new Response("hi"), { hostname: "0.0.0.0" }),
 *   InsecureBindError,
 * );
 * ```
 */
export class InsecureBindError extends TypeError {
  /** The address that was refused. */
  readonly hostname: string;

  /**
   * Creates the error.
   *
   * @param hostname The address that was refused.
   */
  constructor(hostname: string) {
    super(
      `Cannot start server: binding ${hostname} needs a token (or public: true for a read-only server meant to face the world)`,
    );
    this.name = "InsecureBindError";
    this.hostname = hostname;
  }
}

const JSON_TYPE = "application/json; charset=utf-8";

/**
 * The headers every JSON answer of the layer carries: the content type,
 * `cache-control: no-store` and `x-content-type-options: nosniff`.
 *
 * @param contentType The content type; default JSON in UTF-8.
 * @returns Fresh headers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { baseHeaders } from "@ipfs-kit/kit/http";
 *
 * assert.equal(baseHeaders().get("x-content-type-options"), "nosniff");
 * ```
 */
export function baseHeaders(contentType: string = JSON_TYPE): Headers {
  return new Headers({
    "content-type": contentType,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
}

/**
 * The response for an error: its status, its headers and
 * `{ "error": { "code", "message", ...details } }`.
 *
 * @param error The error.
 * @param headers Headers to start from (default {@linkcode baseHeaders}).
 * @returns The response.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorResponse, HttpError } from "@ipfs-kit/kit/http";
 *
 * const response = errorResponse(new HttpError(404, "not_found", "No such route: /x"));
 * assert.deepEqual(await response.json(), { error: { code: "not_found", message: "No such route: /x" } });
 * ```
 */
export function errorResponse(error: HttpError, headers?: Headers): Response {
  const all = headers ?? baseHeaders();
  if (!all.has("content-type")) all.set("content-type", JSON_TYPE);
  for (const [name, value] of Object.entries(error.headers ?? {})) all.set(name, value);
  const body = { error: { code: error.code, message: error.message, ...error.details } };
  return new Response(JSON.stringify(body) + "\n", { status: error.status, headers: all });
}
