// The child of the disk cache's crash test (../disk_cache_crash_test.ts): opens
// the cache and writes random entries from concurrent writers until it is
// killed. Before each `set` it prints `b <key> <version> <size>`, after the
// set resolved `a <key> <version>` (acknowledged). Two writers never write the
// same key at once, so a key's versions are written one after another.
//
// Run: deno run --allow-read=DIR --allow-write=DIR disk_cache_crash_child.ts
//        DIR STRATEGY WRITERS FIRST_VERSION SEED

import { run } from "../../runtime/run.ts";
import type { StrategyName } from "../../runtime/strategy.ts";
import { taskGroup } from "../../runtime/task_group.ts";
import { DiskCache } from "../disk_cache.ts";
import { mulberry32 } from "../../tests/cache_workloads.ts";

/** Keys the child writes: `key-0` .. `key-63`. */
export const KEYS = 64;
/** The budget: far above 64 entries of at most 1 MiB, so nothing is evicted. */
export const MAX_BYTES = 1 << 30;

/** The payload of version `version`: `size` bytes from a PRNG seeded with the version. */
export function crashPayload(version: number, size: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  let state = (Math.imul(version, 0x9e3779b1) ^ 0x5bd1e995) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state >>> 0;
  }
  return new Uint8Array(words.buffer, 0, size);
}

/** Sizes from 0 to 1 MiB: 40% up to 1 KiB, 40% up to 128 KiB, 20% up to 1 MiB. */
function drawSize(random: () => number): number {
  const r = random();
  const limit = r < 0.4 ? 1024 : r < 0.8 ? 128 * 1024 : 1024 * 1024;
  return Math.floor(random() * (limit + 1));
}

/** A stream of `bytes` in random chunk sizes. */
function chunks(bytes: Uint8Array, random: () => number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const size = 1 + Math.floor(random() * 100_000);
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

if (import.meta.main) {
  const [dir, strategy, writers, firstVersion, seed] = Deno.args;
  const random = mulberry32(Number(seed));
  let version = Number(firstVersion);
  const busy = new Set<number>();
  const encoder = new TextEncoder();
  const say = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
  await run(async () => {
    await using cache = await DiskCache.open(dir, { maxBytes: MAX_BYTES });
    say("ready");
    await taskGroup((tg) => {
      for (let w = 0; w < Number(writers); w++) {
        tg.spawn(async () => {
          for (let n = 0;; n++) {
            let key: number;
            do key = Math.floor(random() * KEYS); while (busy.has(key));
            busy.add(key);
            const v = version++;
            const size = drawSize(random);
            const payload = crashPayload(v, size);
            say(`b ${key} ${v} ${size}`);
            await cache.set(`key-${key}`, random() < 0.5 ? payload : chunks(payload, random));
            say(`a ${key} ${v}`);
            busy.delete(key);
            // Now and then the recency snapshot too, so that kills land in its writing.
            if (n % 16 === 15) await cache.flush();
          }
        });
      }
    });
  }, { strategy: strategy as StrategyName });
}
