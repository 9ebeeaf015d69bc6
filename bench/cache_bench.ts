/**
 * Benchmarks of the ARC memory cache against lru-cache.
 *
 * Group `zipf-get-set`: 100,000 keys drawn with Zipf exponent 0.99, 90% `get`
 * and 10% `set`, on caches of 10,000 entries warmed with the same workload.
 * Each iteration runs the next 10,000 operations of a fixed sequence.
 *
 * Run: `deno bench --allow-all bench/cache_bench.ts`.
 *
 * @module
 */

import { LRUCache } from "npm:lru-cache@11.5.3";
import { ArcCache } from "../cache/arc_cache.ts";
import { mulberry32, zipf } from "../tests/cache_workloads.ts";

const KEYS = 100_000;
const CAPACITY = 10_000;
const EXPONENT = 0.99;
const SET_SHARE = 0.1;
const OPERATIONS = 1 << 20;
const PER_ITERATION = 10_000;

const random = mulberry32(0x5eed);
const draw = zipf(KEYS, EXPONENT, random);
const names = Array.from({ length: KEYS }, (_, i) => `key-${i}`);
const keys: string[] = new Array(OPERATIONS);
const sets = new Uint8Array(OPERATIONS);
for (let i = 0; i < OPERATIONS; i++) {
  keys[i] = names[draw()];
  sets[i] = random() < SET_SHARE ? 1 : 0;
}
const VALUE = { payload: true };

interface Cache {
  get(key: string): unknown;
  set(key: string, value: typeof VALUE): unknown;
}

/** Runs operations `from .. from + count` (wrapping); returns the hits, so the work is used. */
function drive(cache: Cache, from: number, count: number): number {
  let hits = 0;
  for (let n = 0, i = from; n < count; n++, i = (i + 1) & (OPERATIONS - 1)) {
    const key = keys[i];
    if (sets[i] === 1) cache.set(key, VALUE);
    else if (cache.get(key) !== undefined) hits++;
  }
  return hits;
}

function entry(cache: Cache): (b: Deno.BenchContext) => void {
  drive(cache, 0, OPERATIONS); // warm up
  let position = 0;
  let sink = 0;
  return () => {
    sink += drive(cache, position, PER_ITERATION);
    position = (position + PER_ITERATION) & (OPERATIONS - 1);
    if (sink < 0) throw new Error("unreachable");
  };
}

Deno.bench({
  name: "ipfs-kit arc",
  group: "zipf-get-set",
  fn: entry(new ArcCache<string, typeof VALUE>({ max: CAPACITY })),
});

Deno.bench({
  name: "lru-cache",
  group: "zipf-get-set",
  baseline: true,
  fn: entry(new LRUCache<string, typeof VALUE>({ max: CAPACITY })),
});
