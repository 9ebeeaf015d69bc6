/**
 * Test fixtures: temporary directories, what a directory holds, and damage
 * done to a file on purpose.
 *
 * @module
 */

/** Runs `fn` with a new temporary directory, removed (with what it holds) afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const removedAtExit: string[] = [];

/**
 * A new temporary directory, removed when the process exits: for a
 * benchmark's setup, which outlives the function that made it.
 */
export async function tempDirRemovedAtExit(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-bench-" });
  if (removedAtExit.length === 0) {
    globalThis.addEventListener("unload", () => {
      for (const dir of removedAtExit) Deno.removeSync(dir, { recursive: true });
    });
  }
  removedAtExit.push(dir);
  return dir;
}

/** The names in a directory (files and directories, not below), sorted. */
export async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** Every file below a directory, at any depth, as sorted paths relative to it (`a/b`). */
export async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) {
      for (const path of await filesUnder(`${dir}/${entry.name}`)) {
        found.push(`${entry.name}/${path}`);
      }
    } else found.push(entry.name);
  }
  return found.sort();
}

/** Flips one bit of the byte at `offset` of a file (negative: from the end). */
export async function flipBit(path: string, offset: number): Promise<void> {
  const data = await Deno.readFile(path);
  data[offset < 0 ? data.length + offset : offset] ^= 0x10;
  await Deno.writeFile(path, data);
}
