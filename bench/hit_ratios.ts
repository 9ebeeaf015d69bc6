/**
 * Hit ratios of the ARC memory cache against LRU (lru-cache 11), printed as
 * Markdown tables for `bench/README.md`:
 *
 * 1. the OLTP trace of the ARC paper (`../shared/traces/OLTP.lis.gz`, where
 *    present) beside the paper's Table IV;
 * 2. a Zipf workload (100,000 keys, exponent 0.99, a cache of 10,000
 *    entries) polluted by periodic scans of keys never seen again.
 *
 * Every request is a `get`; a miss is followed by a `set` (read-through).
 * Deterministic: the workloads come from a seeded PRNG.
 *
 * Run: `deno run --allow-read bench/hit_ratios.ts`.
 *
 * @module
 */

import { LRUCache } from "npm:lru-cache@11.5.3";
import { ArcCache } from "../cache/arc_cache.ts";
import { mulberry32, readTrace, zipf } from "../tests/cache_workloads.ts";

interface Cache {
  get(key: number): unknown;
  set(key: number, value: true): unknown;
}

/** Runs the requests read-through; returns the hit ratio in percent over `counted` ones. */
function hitRatio(cache: Cache, requests: Int32Array, counted?: Uint8Array): number {
  let hits = 0;
  let total = 0;
  for (let i = 0; i < requests.length; i++) {
    const key = requests[i];
    const hit = cache.get(key) !== undefined;
    if (!hit) cache.set(key, true);
    if (counted === undefined || counted[i] === 1) {
      total++;
      if (hit) hits++;
    }
  }
  return (100 * hits) / total;
}

const arc = (max: number): Cache => new ArcCache<number, true>({ max });
const lru = (max: number): Cache => new LRUCache<number, true>({ max });
const pct = (x: number): string => x.toFixed(2);

async function oltp(): Promise<void> {
  const url = new URL("../../shared/traces/OLTP.lis.gz", import.meta.url);
  let pages: Int32Array;
  try {
    pages = (await readTrace(url)).pages;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    console.log(`OLTP trace not found at ${url.pathname}: skipped.\n`);
    return;
  }
  const paper: Record<number, [string, string]> = {
    1_000: ["32.83", "38.93"],
    2_000: ["42.47", "46.08"],
    5_000: ["53.65", "55.25"],
    15_000: ["64.63", "65.40"],
  };
  console.log(`OLTP trace (${pages.length.toLocaleString("en-US")} page requests)\n`);
  console.log("| cache (pages) | LRU % | ARC % | paper LRU % | paper ARC % |");
  console.log("|---:|---:|---:|---:|---:|");
  for (const size of [1_000, 2_000, 5_000, 15_000]) {
    const [paperLru, paperArc] = paper[size];
    console.log(
      `| ${size.toLocaleString("en-US")} | ${pct(hitRatio(lru(size), pages))} | ${
        pct(hitRatio(arc(size), pages))
      } | ${paperLru} | ${paperArc} |`,
    );
  }
  console.log();
}

/**
 * Zipf requests with, after every `every` of them, a scan of `scan` keys
 * never requested before or after. `counted` marks the Zipf requests.
 */
function pollutedZipf(
  total: number,
  every: number,
  scan: number,
): { requests: Int32Array; counted: Uint8Array } {
  const keys = 100_000;
  const random = mulberry32(0xa2c);
  const draw = zipf(keys, 0.99, random);
  const requests: number[] = [];
  const counted: number[] = [];
  let fresh = keys;
  for (let i = 1; i <= total; i++) {
    requests.push(draw());
    counted.push(1);
    if (scan > 0 && i % every === 0) {
      for (let j = 0; j < scan; j++) {
        requests.push(fresh++);
        counted.push(0);
      }
    }
  }
  return { requests: Int32Array.from(requests), counted: Uint8Array.from(counted) };
}

function zipfScans(): void {
  const capacity = 10_000;
  console.log(
    "Zipf 0.99 over 100,000 keys, cache of 10,000 entries, 1,000,000 Zipf requests; " +
      "after every 50,000 of them a scan of one-time keys\n",
  );
  console.log("| scan length | LRU % all | ARC % all | LRU % Zipf only | ARC % Zipf only |");
  console.log("|---:|---:|---:|---:|---:|");
  for (const scan of [0, 5_000, 10_000, 20_000, 50_000]) {
    const { requests, counted } = pollutedZipf(1_000_000, 50_000, scan);
    const row = [lru, arc].flatMap((make) => [
      hitRatio(make(capacity), requests),
      hitRatio(make(capacity), requests, counted),
    ]);
    console.log(
      `| ${scan === 0 ? "none" : scan.toLocaleString("en-US")} | ${pct(row[0])} | ${
        pct(row[2])
      } | ${pct(row[1])} | ${pct(row[3])} |`,
    );
  }
}

await oltp();
zipfScans();
