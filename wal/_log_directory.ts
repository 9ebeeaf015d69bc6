// The directory a log opens in, through the runtime's directory helpers
// with the WAL's own error class: created when missing (its entry made
// durable in the parent), checked for writes at open, and every way it can
// be unusable (a file, a path under a file, no permission, a read-only file
// system) a `WalDirectoryError` (a `DirectoryError` of the runtime, as every
// store's). Private to the WAL.

import { checkWritable as check, ensureDirectory, toDirectoryError } from "../runtime/directory.ts";
import { TEMP_SUFFIX } from "./_frame.ts";
import { LSN_LIMIT_FILE } from "./_lsn_limit.ts";
import { IoFailure } from "./_segment_files.ts";
import { WalDirectoryError } from "./errors.ts";

const WHAT = "open WAL";
const OPTIONS = { errorClass: WalDirectoryError };

/**
 * Makes sure `dir` is a directory the log can use, creating it when missing.
 *
 * @throws {WalDirectoryError} It is a file, lies under a file, or cannot be created or reached.
 */
export function prepareDirectory(dir: string): Promise<void> {
  return ensureDirectory(dir, WHAT, OPTIONS);
}

/**
 * Creates and removes a scratch file in `dir` (the LSN limit's temp file,
 * which the log owns) and lists it. The caller holds the log's lock.
 *
 * @throws {WalDirectoryError} `dir` cannot be written or read.
 */
export function checkWritable(dir: string): Promise<void> {
  return check(dir, WHAT, { ...OPTIONS, scratch: `${LSN_LIMIT_FILE}${TEMP_SUFFIX}` });
}

/**
 * The typed error for an operating system error met while opening the log
 * in `dir`, or the error itself when it says nothing about the directory.
 */
export function directoryError(
  dir: string,
  error: unknown,
  doing: "write" | "read",
): Promise<unknown> {
  const cause = error instanceof IoFailure ? error.cause : error;
  return toDirectoryError(cause, dir, WHAT, doing, OPTIONS).then((typed) =>
    typed === cause ? error : typed
  );
}
