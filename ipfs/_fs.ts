/**
 * Small file-system helpers of the embedded node's stores and `get`.
 *
 * @module
 */

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
