/**
 * Small file-system helpers shared by the embedded node's stores, `get`
 * and the disk cache.
 *
 * @module
 */

/**
 * Flushes a file or a directory to disk (`fsync`): for a directory, the
 * entries created, renamed or removed in it.
 */
export async function syncPath(path: string): Promise<void> {
  using handle = await Deno.open(path, { read: true });
  await handle.sync();
}

/** Whether a path exists (without following a final symbolic link). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
