/**
 * Flushing a path to disk, for the stores that must survive a crash (the
 * embedded node's blockstore and pins, the disk cache).
 *
 * @module
 */

/**
 * Flushes a file or a directory to disk (`fsync`): for a directory, the
 * entries created, renamed or removed in it. A file renamed into place is
 * only durable once its directory is synced.
 *
 * @param path The file or directory.
 * @returns A promise that settles once the kernel reports the data on disk.
 *
 * @example Write a file durably
 * ```ts
 * import assert from "node:assert/strict";
 * import { syncPath } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/.state.tmp`, "v2");
 * await syncPath(`${dir}/.state.tmp`);
 * await Deno.rename(`${dir}/.state.tmp`, `${dir}/state`);
 * await syncPath(dir); // the rename itself
 * assert.equal(await Deno.readTextFile(`${dir}/state`), "v2");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function syncPath(path: string): Promise<void> {
  using handle = await Deno.open(path, { read: true });
  await handle.sync();
}
