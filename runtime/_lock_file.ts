// Copyright 2026 the ipfs-kit authors. MIT license.
// An exclusive advisory lock on a file, shared by the WAL, the disk cache and
// the embedded node's repository.

import { sleep } from "./sleep.ts";

/**
 * How long {@linkcode lockFile} keeps trying before it reports the file as
 * locked, in milliseconds of the runtime clock.
 *
 * A `flock` belongs to the open file description, and a child process forked
 * by any thread of this process shares it until its `exec` closes the
 * close-on-exec descriptors. A lock released just before such a fork therefore
 * stays held for the child's fork-to-exec window, a few milliseconds at most
 * even on a loaded machine. Retrying across that window is what keeps a
 * close-then-reopen in one process from failing at random.
 */
export const LOCK_WAIT_MS = 250;

/**
 * Opens `path` (created if missing) and takes an exclusive lock on it,
 * retrying with doubling pauses for up to {@linkcode LOCK_WAIT_MS}.
 *
 * @returns The open, locked file, or `undefined` when it stays locked. Closing
 * the file releases the lock.
 */
export async function lockFile(path: string): Promise<Deno.FsFile | undefined> {
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    let waited = 0;
    for (let pause = 1;; pause *= 2) {
      if (await file.tryLock(true)) return file;
      if (waited >= LOCK_WAIT_MS) break;
      const ms = Math.min(pause, LOCK_WAIT_MS - waited);
      await sleep(ms);
      waited += ms;
    }
  } catch (error) {
    file.close();
    throw error;
  }
  file.close();
  return undefined;
}
