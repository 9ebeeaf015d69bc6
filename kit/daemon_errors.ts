/**
 * The daemon's error: {@linkcode DaemonError}, thrown when it cannot start
 * (a busy port, a repository another process holds, a non-loopback address
 * without a token), each with a one-line message that says what to do.
 *
 * @module
 */

/** Why a daemon could not start. */
export type DaemonErrorReason =
  | "port_in_use"
  | "repo_in_use"
  | "insecure_bind"
  | "invalid_option";

/**
 * The daemon could not start; `reason` says why and the message, one line,
 * says what to do ("Cannot start daemon: the RPC API's port 5001 is in use
 * (pass --port 0 for a free one)").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Daemon, DaemonError } from "@ipfs-kit/kit/kit";
 *
 * const error = await Daemon.start({ repo: await Deno.makeTempDir(), hostname: "0.0.0.0" })
 *   .catch((e) => e);
 * assert(error instanceof DaemonError);
 * assert.equal(error.reason, "insecure_bind");
 * ```
 */
export class DaemonError extends Error {
  /** Why it could not start. */
  readonly reason: DaemonErrorReason;

  /**
   * Creates the error.
   *
   * @param reason Why.
   * @param message One line: what failed and what to do.
   * @param options What caused it.
   */
  constructor(reason: DaemonErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DaemonError";
    this.reason = reason;
  }
}
