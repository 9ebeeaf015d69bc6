/**
 * Test fixtures for the embedded node: one on a temporary repository, what
 * its repository holds on disk, and CIDs computed without it.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as Digest from "npm:multiformats@14.0.5/hashes/digest";
import { EmbeddedNode, type EmbeddedNodeOptions } from "../ipfs/embedded_node.ts";
import { withTempDir } from "./_files.ts";

/**
 * Runs `fn` with an embedded node on a new temporary repository, and a
 * second temporary directory (`scratch`) for the test's own files; closes
 * the node and removes both afterwards. The node does not sync to disk
 * (`sync: false`) unless `options` say so.
 */
export function withNode<T>(
  fn: (node: EmbeddedNode, repo: string, scratch: string) => Promise<T>,
  options: Omit<EmbeddedNodeOptions, "repo"> = {},
): Promise<T> {
  return withTempDir((repo) =>
    withTempDir(async (scratch) => {
      await using node = await EmbeddedNode.open({ repo, sync: false, ...options });
      return await fn(node, repo, scratch);
    })
  );
}

/**
 * The temporary files in an embedded repository: the `.put-*.tmp` files in
 * its block shards and everything in its `tmp` folder. Empty once every
 * operation has ended, whether it succeeded, failed or was cancelled.
 */
export async function temporaries(repo: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${repo}/tmp`)) found.push(`tmp/${entry.name}`);
  for await (const shard of Deno.readDir(`${repo}/blocks`)) {
    if (!shard.isDirectory) continue;
    for await (const entry of Deno.readDir(`${repo}/blocks/${shard.name}`)) {
      if (entry.name.endsWith(".tmp")) found.push(`blocks/${shard.name}/${entry.name}`);
    }
  }
  return found;
}

/** The CIDv1 of `bytes` under codec `code`, computed without the node: node:crypto's SHA-256. */
export function sha256Cid(code: number, bytes: Uint8Array): CID {
  const digest = new Uint8Array(createHash("sha256").update(bytes).digest());
  return CID.createV1(code, Digest.create(0x12, digest));
}

/**
 * This boot's ID (`/proc/sys/kernel/random/boot_id`, Linux only): the
 * blockstore tells a reboot from a restart by it.
 */
export const BOOT_ID: string | undefined = (() => {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
  } catch {
    return undefined;
  }
})();
