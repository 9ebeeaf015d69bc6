// The child of the permission tests in ../disk_cache_test.ts: opens a disk
// cache in a directory (and closes it), printing one JSON line on stdout
// with the error it threw (name, problem, message), or `{"opened":true}`.
//
// deno run --allow-read --allow-write disk_cache_open_child.ts <dir>

import { DiskCache } from "../disk_cache.ts";

const [dir] = Deno.args;
try {
  const cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
  await cache.set("k", new Uint8Array(1));
  await cache.close();
  console.log(JSON.stringify({ opened: true }));
} catch (error) {
  const { name, message } = error as Error;
  const problem = (error as { problem?: string }).problem;
  console.log(JSON.stringify({ name, problem, message }));
}
