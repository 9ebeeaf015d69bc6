/**
 * The errors of a store's own directory. No other import: the IPFS floor's
 * errors (which browsers load too) build on them.
 *
 * @module
 */

/** Why a directory cannot be used. */
export type DirectoryProblem = "not-a-directory" | "not-writable";

/**
 * A directory a store needs cannot be used: the path is a file or lies under
 * one, or it cannot be written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DirectoryError, ensureDirectory } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const file = await Deno.makeTempFile();
 * await assert.rejects(ensureDirectory(`${file}/sub`, "open cache"), (error) => {
 *   assert(error instanceof DirectoryError);
 *   assert.equal(error.problem, "not-a-directory");
 *   return true;
 * });
 * await Deno.remove(file);
 * ```
 */
export class DirectoryError extends Error {
  /** The directory's path, as given. */
  readonly path: string;
  /** What is wrong with it. */
  readonly problem: DirectoryProblem;

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param path The directory.
   * @param problem What is wrong with it.
   * @param options The OS error, as `cause`.
   */
  constructor(message: string, path: string, problem: DirectoryProblem, options?: ErrorOptions) {
    super(message, options);
    this.name = "DirectoryError";
    this.path = path;
    this.problem = problem;
  }
}

/**
 * Another owner holds the directory: a second process, or a second handle in
 * this one, has the WAL, the disk cache or the repository open. The WAL's
 * and the repository's own errors (`WalLockedError`, `RepoLockedError`) are
 * kinds of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LockedError, lockDirectory } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const dir = await Deno.makeTempDir();
 * using _held = await lockDirectory(dir, "open cache");
 * await assert.rejects(lockDirectory(dir, "open cache"), LockedError);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class LockedError extends Error {
  /** The directory's path. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param path The directory.
   */
  constructor(message: string, path: string) {
    super(message);
    this.name = "LockedError";
    this.path = path;
  }
}
