/**
 * Directories a store owns (a WAL, a disk cache, a repository): creating one
 * with typed errors instead of raw OS errors, and the error its second
 * opener gets.
 *
 * @module
 */

import { lockFile } from "./lock_file.ts";
import { syncPath } from "./sync_path.ts";
import { DirectoryError, type DirectoryProblem, LockedError } from "./directory_errors.ts";

export { DirectoryError, type DirectoryProblem, LockedError } from "./directory_errors.ts";

/** How a store names its directory errors: `DirectoryError` or a kind of it. */
export type DirectoryErrorClass = new (
  message: string,
  path: string,
  problem: DirectoryProblem,
  options?: ErrorOptions,
) => DirectoryError;

/** Options of {@linkcode ensureDirectory}, {@linkcode checkWritable} and {@linkcode toDirectoryError}. */
export interface DirectoryErrorOptions {
  /** The class of the errors thrown (the WAL's `WalDirectoryError`, say). Default `DirectoryError`. */
  errorClass?: DirectoryErrorClass;
}

/**
 * Creates `path` (and its parents) if missing, and syncs its parent, so that
 * the new directory's entry survives a crash of the machine as the files
 * written in it will.
 *
 * @param path The directory.
 * @param what What the caller was doing, for the message: "Cannot <what>: ...".
 * @param options The class of the errors thrown.
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
export async function ensureDirectory(
  path: string,
  what: string,
  options: DirectoryErrorOptions = {},
): Promise<void> {
  const ErrorClass = options.errorClass ?? DirectoryError;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw await toDirectoryError(error, path, what, "read", options);
    }
    try {
      await Deno.mkdir(path, { recursive: true });
      const slash = path.lastIndexOf("/");
      await syncPath(slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".");
    } catch (error) {
      throw await toDirectoryError(error, path, what, "write", options);
    }
    return;
  }
  if (!info.isDirectory) {
    throw new ErrorClass(
      `Cannot ${what}: ${path} is a file, not a directory`,
      path,
      "not-a-directory",
    );
  }
}

/**
 * Creates and removes a scratch file in `path` and lists it: a directory
 * that cannot be written or read (though some files in it can) is reported
 * when the store opens, not at its first write. Call it holding the store's
 * lock.
 *
 * @param path The directory.
 * @param what What the caller was doing, for the message.
 * @param options The scratch file's name (a name the store owns; default
 * `.write-check`) and the class of the errors thrown.
 * @returns A promise that settles once the check passed.
 * @throws {DirectoryError} `path` cannot be written or read (`"not-writable"`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkWritable } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const dir = await Deno.makeTempDir();
 * await checkWritable(dir, "open cache");
 * assert.deepEqual([...Deno.readDirSync(dir)], []); // the scratch file is gone
 * await Deno.remove(dir);
 * ```
 */
export async function checkWritable(
  path: string,
  what: string,
  options: DirectoryErrorOptions & { scratch?: string } = {},
): Promise<void> {
  const scratch = `${path}/${options.scratch ?? ".write-check"}`;
  try {
    (await Deno.open(scratch, { write: true, create: true, truncate: true })).close();
    await Deno.remove(scratch);
  } catch (error) {
    throw await toDirectoryError(error, path, what, "write", options);
  }
  try {
    for await (const _ of Deno.readDir(path)) break;
  } catch (error) {
    throw await toDirectoryError(error, path, what, "read", options);
  }
}

/**
 * The typed error for an operating system error met on a store's directory
 * while `doing` a write or a read, or the error itself when it says nothing
 * about the directory. A permission or read-only error is `"not-writable"`
 * (the message says which); a component of the path that is a file,
 * `"not-a-directory"`.
 *
 * @param error What the operating system threw.
 * @param path The directory.
 * @param what What the caller was doing, for the message.
 * @param doing Whether it was writing or reading.
 * @param options The class of the errors made.
 * @returns The typed error, or `error` as it was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DirectoryError, toDirectoryError } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const denied = new Deno.errors.PermissionDenied("Permission denied (os error 13)");
 * const error = await toDirectoryError(denied, "/var/cache/kit", "open cache", "write");
 * assert(error instanceof DirectoryError && error.problem === "not-writable");
 * assert.equal(await toDirectoryError(new RangeError("x"), "/d", "open cache", "read") instanceof RangeError, true);
 * ```
 */
export async function toDirectoryError(
  error: unknown,
  path: string,
  what: string,
  doing: "write" | "read",
  options: DirectoryErrorOptions = {},
): Promise<unknown> {
  if (error instanceof DirectoryError) return error;
  const ErrorClass = options.errorClass ?? DirectoryError;
  if (error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.AlreadyExists) {
    const file = await fileAbove(path);
    return new ErrorClass(
      file === undefined
        ? `Cannot ${what}: ${path} lies under a file, not a directory`
        : `Cannot ${what}: ${path} is under ${file}, which is a file, not a directory`,
      path,
      "not-a-directory",
      { cause: error },
    );
  }
  if (isNotWritable(error)) {
    const problem = doing === "write" ? "is not writable" : "cannot be read";
    const detail = error instanceof Error ? `: ${error.message}` : "";
    return new ErrorClass(`Cannot ${what}: ${path} ${problem}${detail}`, path, "not-writable", {
      cause: error,
    });
  }
  return error;
}

/** The nearest ancestor of `path` that exists and is not a directory, if any. */
async function fileAbove(path: string): Promise<string | undefined> {
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) {
    const ancestor = parts.slice(0, i).join("/");
    if (ancestor === "") continue;
    try {
      if (!(await Deno.stat(ancestor)).isDirectory) return ancestor;
    } catch {
      return undefined;
    }
  }
  return undefined;
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
    throw await toDirectoryError(error, path, what, "write");
  }
  if (lock === undefined) {
    throw new LockedError(
      `Cannot ${what}: ${path} is in use by another process or another open handle`,
      path,
    );
  }
  return lock;
}

/**
 * Whether an OS error says the file system refused: permissions (the
 * operating system's, or Deno's), or a read-only file system.
 */
export function isNotWritable(error: unknown): boolean {
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return true;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EACCES" || code === "EPERM" || code === "EROFS";
}
