/**
 * Test fixtures for the disk cache's directory: where an entry's file is,
 * and what temporary files are left.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { filesUnder } from "./_files.ts";

/** The file name the design gives a key: the SHA-256 of its UTF-8 bytes, in hex. */
export function entryName(key: string): string {
  return createHash("sha256").update(new TextEncoder().encode(key)).digest("hex");
}

/** The path of a key's entry: its name, in the shard of the name's first two digits. */
export function entryPath(dir: string, key: string): string {
  const name = entryName(key);
  return `${dir}/entries/${name.slice(0, 2)}/${name}`;
}

/** The temporary files in a disk cache's directory (below `tmp/`), sorted. */
export function tempFiles(dir: string): Promise<string[]> {
  return filesUnder(`${dir}/tmp`);
}
