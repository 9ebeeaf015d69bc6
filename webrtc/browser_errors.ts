/**
 * The errors the browser receiver throws where the Deno receiver throws the
 * IPFS floor's: same names and fields, no runtime behind them (the IPFS
 * floor's errors module reaches the kit's runtime, which needs
 * `AsyncLocalStorage`, which browsers lack). Catch them by class from
 * `@ipfs-kit/kit/webrtc/browser`, or by `name`.
 *
 * @module
 */

/**
 * The path names nothing below the CID (or the server has no such block).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotFoundError } from "@ipfs-kit/kit/webrtc/browser";
 *
 * const error = new NotFoundError("no entry \"a.txt\"", "bafy...");
 * assert.equal(error.name, "NotFoundError");
 * assert.equal(error.cid, "bafy...");
 * ```
 */
export class NotFoundError extends Error {
  /** The CID (or path) that was not found. */
  readonly cid: string;

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param cid The CID or path that was not found.
   */
  constructor(message: string, cid: string) {
    super(message);
    this.name = "NotFoundError";
    this.cid = cid;
  }
}

/**
 * An argument does not fit (a bad path, a negative offset), or the content
 * does not (a directory where a file was asked for).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidInputError } from "@ipfs-kit/kit/webrtc/browser";
 *
 * assert.equal(new InvalidInputError("it is a directory").name, "InvalidInputError");
 * ```
 */
export class InvalidInputError extends TypeError {
  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param options The underlying error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidInputError";
  }
}

/**
 * A string that is not a CID.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidCidError } from "@ipfs-kit/kit/webrtc/browser";
 *
 * const error = new InvalidCidError("not a valid CID", "xyz");
 * assert.equal(error.input, "xyz");
 * ```
 */
export class InvalidCidError extends TypeError {
  /** What was given. */
  readonly input: unknown;

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param input What was given.
   * @param options The underlying parse error as `cause`.
   */
  constructor(message: string, input: unknown, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidCidError";
    this.input = input;
  }
}
