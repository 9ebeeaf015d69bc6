/**
 * An exclusive advisory lock on a file: what keeps a second process (or a
 * second handle in this one) off a WAL directory, a disk cache or the embedded
 * node's repository.
 *
 * @module
 */

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
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LOCK_WAIT_MS, lockFile } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const dir = await Deno.makeTempDir();
 * using held = (await lockFile(`${dir}/LOCK`))!;
 * const start = performance.now();
 * assert.equal(await lockFile(`${dir}/LOCK`), undefined);
 * assert(performance.now() - start >= LOCK_WAIT_MS - 1); // it kept trying
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export const LOCK_WAIT_MS = 250;

/**
 * Opens `path` (created if missing) and takes an exclusive lock on it,
 * retrying with doubling pauses for up to {@linkcode LOCK_WAIT_MS}.
 *
 * @param path The lock file.
 * @returns The open, locked file, or `undefined` when it stays locked. Closing
 * the file releases the lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lockFile } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const dir = await Deno.makeTempDir();
 * const held = await lockFile(`${dir}/LOCK`);
 * assert(held !== undefined);
 * assert.equal(await lockFile(`${dir}/LOCK`), undefined); // after LOCK_WAIT_MS
 * held.close();
 * (await lockFile(`${dir}/LOCK`))?.close(); // free again
 * await Deno.remove(dir, { recursive: true });
 * ```
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
