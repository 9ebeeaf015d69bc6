/**
 * Test helper: what an embedded repository holds on disk.
 *
 * @module
 */

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
