/**
 * Directories a store owns (a WAL, a disk cache, a repository): creating one
 * with typed errors instead of raw OS errors, and the error its second
 * opener gets.
 *
 * @module
 */

import { lockFile } from "./lock_file.ts";
import { DirectoryError, LockedError } from "./directory_errors.ts";

export { DirectoryError, type DirectoryProblem, LockedError } from "./directory_errors.ts";

/**
 * Creates `path` (and its parents) if missing.
 *
 * @param path The directory.
 * @param what What the caller was doing, for the message: "Cannot <what>: ...".
 * @returns A promise that settles once the directory exists.
 * @throws {DirectoryError} The path is a file or lies under one, or cannot be created.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureDirectory } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const dir = await Deno.makeTempDir();
 * await ensureDirectory(`${dir}/a/b`, "open cache");
 * assert((await Deno.stat(`${dir}/a/b`)).isDirectory);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function ensureDirectory(path: string, what: string): Promise<void> {
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) return;
    throw new DirectoryError(
      `Cannot ${what}: ${path} is a file, not a directory`,
      path,
      "not-a-directory",
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw directoryError(error, path, what);
  }
  try {
    await Deno.mkdir(path, { recursive: true });
  } catch (error) {
    throw directoryError(error, path, what);
  }
}

/**
 * Takes the directory's lock file (`LOCK` in it), waiting up to
 * `LOCK_WAIT_MS` for a holder that is letting go.
 *
 * @param path The directory; it must exist.
 * @param what What the caller was doing, for the message.
 * @param name The lock file's name. Default `"LOCK"`.
 * @returns The open, locked file: closing it releases the lock.
 * @throws {LockedError} Another owner holds it.
 * @throws {DirectoryError} The directory cannot be written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lockDirectory } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const dir = await Deno.makeTempDir();
 * const lock = await lockDirectory(dir, "open cache");
 * lock.close();
 * (await lockDirectory(dir, "open cache")).close(); // free again
 * assert((await Deno.stat(`${dir}/LOCK`)).isFile);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function lockDirectory(
  path: string,
  what: string,
  name = "LOCK",
): Promise<Deno.FsFile> {
  let lock: Deno.FsFile | undefined;
  try {
    lock = await lockFile(`${path}/${name}`);
  } catch (error) {
    throw directoryError(error, path, what);
  }
  if (lock === undefined) {
    throw new LockedError(
      `Cannot ${what}: ${path} is in use by another process or another open handle`,
      path,
    );
  }
  return lock;
}

/** The typed error for an OS error on a directory a store needs. */
function directoryError(error: unknown, path: string, what: string): unknown {
  if (error instanceof DirectoryError) return error;
  if (isNotWritable(error)) {
    return new DirectoryError(
      `Cannot ${what}: ${path} is not writable`,
      path,
      "not-writable",
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.AlreadyExists) {
    return new DirectoryError(
      `Cannot ${what}: ${path} lies under a file, not a directory`,
      path,
      "not-a-directory",
      { cause: error },
    );
  }
  return error;
}

/** Whether an OS error says the path cannot be written: no permission, or a read-only file system. */
export function isNotWritable(error: unknown): boolean {
  return error instanceof Deno.errors.PermissionDenied ||
    (error instanceof Error && (error as { code?: unknown }).code === "EROFS");
}
