/**
 * Durability helper shared by the embedded node's stores.
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
