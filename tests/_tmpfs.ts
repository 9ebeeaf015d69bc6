/**
 * Test helpers: a real, tiny file system to fill up, or to make read-only.
 *
 * @module
 */

/**
 * Mounts a 1 MiB tmpfs on `dir` (read-only with `readOnly`: a directory no
 * one can write, root included); false where the machine does not allow it.
 */
export async function mountTmpfs(
  dir: string,
  options: { readOnly?: boolean } = {},
): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", options.readOnly ? "ro,size=1m" : "size=1m", "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Makes the file system mounted on `dir` (by {@linkcode mountTmpfs})
 * read-only: every write under it fails with `EROFS`. False where the
 * machine does not allow it.
 */
export async function remountReadOnly(dir: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("mount", {
      args: ["-o", "remount,ro", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** Unmounts what {@linkcode mountTmpfs} mounted. */
export async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "null" }).output();
}
