// The directory a log opens in: created when missing (and its entry made
// durable in the parent), and every way it can be unusable (a file, a path
// under a file, no permission, a read-only file system) turned into a
// `WalDirectoryError` (a `DirectoryError` of the runtime, as every store's)
// instead of the raw operating system error. Private to the WAL.

import { errorMessage } from "./_error_text.ts";
import { TEMP_SUFFIX } from "./_frame.ts";
import { LSN_LIMIT_FILE } from "./_lsn_limit.ts";
import { IoFailure, syncDir } from "./_segment_files.ts";
import { WalDirectoryError } from "./errors.ts";

/**
 * Makes sure `dir` is a directory the log can use, creating it (with its
 * parents) when it is missing, and syncing its parent so that the new entry
 * survives a crash of the machine (the records written in it will).
 *
 * @throws {WalDirectoryError} It is a file, lies under a file, or cannot be
 * created or reached.
 */
export async function prepareDirectory(dir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw await directoryError(dir, error, "read");
    try {
      await Deno.mkdir(dir, { recursive: true });
      const slash = dir.lastIndexOf("/");
      await syncDir(slash > 0 ? dir.slice(0, slash) : slash === 0 ? "/" : ".");
    } catch (error) {
      throw await directoryError(dir, error, "write");
    }
    return;
  }
  if (!info.isDirectory) {
    throw new WalDirectoryError(
      `Cannot open WAL: ${dir} is a file, not a directory`,
      dir,
      "not-a-directory",
    );
  }
}

/**
 * Creates and removes a scratch file in `dir` (the LSN limit's temp file,
 * which the log owns): a directory that cannot be written, though the log's
 * files in it can, is reported at open rather than at the log's first
 * rotation. The caller holds the log's lock.
 *
 * @throws {WalDirectoryError} `dir` cannot be written.
 */
export async function checkWritable(dir: string): Promise<void> {
  const path = `${dir}/${LSN_LIMIT_FILE}${TEMP_SUFFIX}`;
  try {
    (await Deno.open(path, { write: true, create: true, truncate: true })).close();
    await Deno.remove(path);
  } catch (error) {
    throw await directoryError(dir, error, "write");
  }
}

/**
 * The typed error for an operating system error met while opening the log
 * in `dir` (`doing` a write or a read), or the error itself when it says
 * nothing about the directory. A permission or read-only error is
 * `"not-writable"` (the runtime's word for both; the message says which); a
 * component of the path that is a file, `"not-a-directory"`.
 */
export async function directoryError(
  dir: string,
  error: unknown,
  doing: "write" | "read",
): Promise<unknown> {
  const cause = error instanceof IoFailure ? error.cause : error;
  if (cause instanceof Deno.errors.NotADirectory) {
    const file = await fileAbove(dir);
    if (file !== undefined) {
      return new WalDirectoryError(
        `Cannot open WAL: ${dir} is under ${file}, which is a file, not a directory`,
        dir,
        "not-a-directory",
        { cause },
      );
    }
  }
  if (isPermissionError(cause)) {
    const what = doing === "write" ? "is not writable" : "cannot be read";
    return new WalDirectoryError(
      `Cannot open WAL: ${dir} ${what}: ${errorMessage(cause)}`,
      dir,
      "not-writable",
      { cause },
    );
  }
  return error;
}

/**
 * Whether an error says the file system refused: permissions (the
 * operating system's, or Deno's), or a read-only file system.
 */
export function isPermissionError(error: unknown): boolean {
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return true;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EACCES" || code === "EPERM" || code === "EROFS";
}

/** The nearest existing ancestor of `dir` that is not a directory, if any. */
async function fileAbove(dir: string): Promise<string | undefined> {
  const parts = dir.split("/");
  for (let i = 1; i < parts.length; i++) {
    const path = parts.slice(0, i).join("/");
    if (path === "") continue;
    try {
      if (!(await Deno.stat(path)).isDirectory) return path;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
