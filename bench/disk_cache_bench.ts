/**
 * Benchmarks and measurements of the disk cache (`cache/disk_cache.ts`).
 *
 * Group `disk-get-set`: a read-through workload on a real directory: keys
 * drawn with Zipf exponent 0.99 from 10,000 keys of 4 KiB, a `get` per
 * request and a `set` on each miss, on a budget of 1,000 entries. Each
 * iteration runs the next 100 requests of a fixed sequence. Entries: the
 * disk cache with ARC and with LRU, and, as the floor of what a file per
 * entry costs, plain `Deno.readFile`/`Deno.writeFile` with no temporary
 * file, no fsync, no checksum and no budget.
 *
 * Run: `deno bench --allow-all bench/disk_cache_bench.ts`.
 *
 * With `--report` (`deno run --allow-all bench/disk_cache_bench.ts --report`)
 * it prints, as Markdown, the hit ratios of the two policies on Zipf
 * workloads (with the policy code the cache uses, then a run of the real
 * cache on a smaller trace that must agree with it) and the time `open`
 * takes for a cache of 10,000 entries.
 *
 * @module
 */

import { createIndex, type DiskCachePolicy } from "../cache/_disk_index.ts";
import { DiskCache } from "../cache/disk_cache.ts";
import { mulberry32, pollutedZipf, zipf } from "../tests/_workloads.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { run } from "../runtime/run.ts";
import { tempDirRemovedAtExit } from "../tests/_files.ts";

const KiB = 1024;
/** Header bytes of an entry besides the key. */
const HEADER = 56;

// ---------------------------------------------------------------- disk-get-set

const KEYS = 10_000;
const VALUE_SIZE = 4 * KiB;
const REQUESTS = 1 << 16;
const PER_ITERATION = 100;

function trace(): string[] {
  const draw = zipf(KEYS, 0.99, mulberry32(0xd15c));
  return Array.from({ length: REQUESTS }, () => `key-${draw()}`);
}

const requests = trace();
const value = new Uint8Array(VALUE_SIZE).fill(7);

interface Store {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<unknown>;
}

async function cacheStore(policy: DiskCachePolicy): Promise<Store> {
  const dir = await tempDirRemovedAtExit();
  // 1,000 entries of 4 KiB with their headers (keys of up to 8 bytes).
  const maxBytes = 1_000 * (VALUE_SIZE + HEADER + 8);
  return await DiskCache.open(dir, { maxBytes, maxEntries: 1_000, policy });
}

async function plainFiles(): Promise<Store> {
  const dir = await tempDirRemovedAtExit();
  return {
    async get(key) {
      try {
        return await Deno.readFile(`${dir}/${key}`);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      }
    },
    set: (key, bytes) => Deno.writeFile(`${dir}/${key}`, bytes),
  };
}

function entry(store: Store): () => Promise<void> {
  let position = 0;
  return async () => {
    for (let n = 0; n < PER_ITERATION; n++) {
      const key = requests[position];
      position = (position + 1) % REQUESTS;
      const got = await store.get(key);
      if (got === undefined) await store.set(key, value);
      else if (got.length !== VALUE_SIZE) throw new Error(`${key}: ${got.length} bytes`);
    }
  };
}

if (!Deno.args.includes("--report")) {
  Deno.bench({
    name: "ipfs-kit disk arc",
    group: "disk-get-set",
    baseline: true,
    n: 60,
    warmup: 20,
    fn: entry(await cacheStore("arc")),
  });
  for (const strategy of ["fair", "shuffle"] as const) {
    const read = entry(await cacheStore("arc"));
    Deno.bench({
      name: `ipfs-kit disk arc [${strategy}]`,
      group: "disk-get-set",
      n: 60,
      warmup: 20,
      // An async function: deno bench awaits only what an AsyncFunction returns.
      fn: async () => await run(read, { strategy }),
    });
  }
  Deno.bench({
    name: "ipfs-kit disk lru",
    group: "disk-get-set",
    n: 60,
    warmup: 20,
    fn: entry(await cacheStore("lru")),
  });
  Deno.bench({
    name: "plain files (no fsync, no checksum)",
    group: "disk-get-set",
    n: 60,
    warmup: 20,
    fn: entry(await plainFiles()),
  });
}

// ---------------------------------------------------------------------- report

/** Entry sizes like IPFS blocks: 60% full 256 KiB chunks, 40% small nodes of 64 B to 16 KiB. */
function blockSizes(keys: number, seed: number, scale = 1): Int32Array {
  const random = mulberry32(seed);
  const sizes = new Int32Array(keys);
  for (let i = 0; i < keys; i++) {
    const size = random() < 0.6 ? 256 * KiB : 64 + Math.floor(random() * (16 * KiB - 64));
    sizes[i] = Math.max(1, Math.round(size / scale));
  }
  return sizes;
}

interface Ratios {
  /** Hits per request, percent. */
  requests: number;
  /** Bytes served by hits per byte requested, percent. */
  bytes: number;
  /** Raw hit count over the counted requests. */
  hits: number;
}

/** Replays a read-through workload on a policy (the index the cache uses, without files). */
function simulate(
  policy: DiskCachePolicy,
  maxBytes: number,
  maxEntries: number,
  requests: Int32Array,
  counted: Uint8Array,
  sizeOf: (key: number) => number,
): Ratios {
  const index = createIndex(policy, maxBytes, maxEntries, () => {});
  let hits = 0;
  let total = 0;
  let hitBytes = 0;
  let totalBytes = 0;
  for (let i = 0; i < requests.length; i++) {
    const key = requests[i];
    const name = String(key);
    const size = sizeOf(key);
    const hit = index.get(name) !== undefined;
    if (!hit && size <= maxBytes) index.set(name, size);
    if (counted[i] === 1) {
      total++;
      totalBytes += size;
      if (hit) {
        hits++;
        hitBytes += size;
      }
    }
  }
  return { requests: (100 * hits) / total, bytes: (100 * hitBytes) / totalBytes, hits };
}

const pct = (x: number): string => x.toFixed(2);

function policyTable(): void {
  const keys = 100_000;
  const sizes = blockSizes(keys, 7);
  let unique = 0;
  for (const size of sizes) unique += size;
  const mean = unique / keys;
  // Files hold a header and a key (a CID, about 60 bytes) besides the block.
  const sizeOf = (key: number) => (key < keys ? sizes[key] : 256 * KiB) + HEADER + 60;
  console.log(
    `Zipf 0.99 over 100,000 blocks (60% of 256 KiB, 40% of 64 B to 16 KiB; mean ${
      (mean / KiB).toFixed(1)
    } KiB; ${(unique / 2 ** 30).toFixed(2)} GiB in all), 1,000,000 requests, read-through. ` +
      "Request hit ratio / byte hit ratio, in percent. ARC with the default `maxEntries` " +
      "(one per 16 KiB of budget) and with `maxEntries` = budget / mean block size.\n",
  );
  console.log(
    "| budget | scans | LRU | ARC (default maxEntries) | ARC (maxEntries = budget / mean) |",
  );
  console.log("|---:|---|---:|---:|---:|");
  for (const share of [0.01, 0.05, 0.1, 0.25]) {
    const maxBytes = Math.round(unique * share);
    for (const scan of [0, 20_000]) {
      const { requests, counted } = pollutedZipf(keys, 1_000_000, 50_000, scan);
      const lru = simulate("lru", maxBytes, Number.MAX_SAFE_INTEGER, requests, counted, sizeOf);
      const arcDefault = simulate(
        "arc",
        maxBytes,
        Math.max(64, Math.ceil(maxBytes / (16 * KiB))),
        requests,
        counted,
        sizeOf,
      );
      const arcTuned = simulate(
        "arc",
        maxBytes,
        Math.ceil(maxBytes / mean),
        requests,
        counted,
        sizeOf,
      );
      const cell = (r: Ratios) => `${pct(r.requests)} / ${pct(r.bytes)}`;
      console.log(
        `| ${share * 100}% (${(maxBytes / 2 ** 20).toFixed(0)} MiB) | ${
          scan === 0 ? "none" : "20,000 one-time blocks every 50,000 requests"
        } | ${cell(lru)} | ${cell(arcDefault)} | ${cell(arcTuned)} |`,
      );
    }
  }
  console.log();
}

/** The same comparison on the real cache, on a smaller trace; it must match the simulation. */
async function realCacheTable(): Promise<void> {
  const keys = 5_000;
  const scale = 64; // sizes / 64: 4 KiB blocks and small nodes of 1 to 256 bytes
  const sizes = blockSizes(keys, 11, scale);
  let unique = 0;
  for (const size of sizes) unique += size;
  const keyOf = (key: number) => `bafk-${key}`;
  const keyBytes = (key: number) => keyOf(key).length;
  const sizeOf = (key: number) => (key < keys ? sizes[key] : 4 * KiB) + HEADER + keyBytes(key);
  const total = 20_000;
  const { requests, counted } = pollutedZipf(keys, total, 5_000, 1_000);
  console.log(
    `The real cache: Zipf 0.99 over 5,000 entries (sizes of the table above / 64), ${
      total.toLocaleString("en-US")
    } requests plus a scan of 1,000 one-time entries every 5,000, budget 10% of the ${
      (unique / 2 ** 20).toFixed(1)
    } MiB. Hits over the Zipf requests; the simulation of the same trace beside it.\n`,
  );
  console.log("| policy | cache hits | simulated hits | cache % | cache time |");
  console.log("|---|---:|---:|---:|---:|");
  const maxBytes = Math.round(unique * 0.1);
  const maxEntries = Math.max(64, Math.ceil(maxBytes / (16 * KiB)));
  for (const policy of ["lru", "arc"] as const) {
    const dir = await Deno.makeTempDir({ prefix: `disk-report-${policy}-` });
    try {
      const started = performance.now();
      let hits = 0;
      {
        await using cache = await DiskCache.open(dir, { maxBytes, maxEntries, policy });
        const payloads = new Map<number, Uint8Array>();
        const payload = (size: number) => {
          let bytes = payloads.get(size);
          if (bytes === undefined) payloads.set(size, bytes = new Uint8Array(size).fill(1));
          return bytes;
        };
        for (let i = 0; i < requests.length; i++) {
          const key = requests[i];
          const got = await cache.get(keyOf(key));
          if (got === undefined) {
            await cache.set(keyOf(key), payload(sizeOf(key) - HEADER - keyBytes(key)));
          } else if (counted[i] === 1) hits++;
        }
      }
      const seconds = (performance.now() - started) / 1000;
      const simulated = simulate(
        policy,
        maxBytes,
        maxEntries,
        requests,
        counted,
        sizeOf,
      );
      console.log(
        `| ${policy.toUpperCase()} | ${hits} | ${simulated.hits} | ${pct((100 * hits) / total)} | ${
          seconds.toFixed(1)
        } s |`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  console.log();
}

/** How long `open` takes for a cache of `entries` entries. */
async function openTime(entries: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "disk-report-open-" });
  try {
    const maxBytes = 1 << 30;
    const started = performance.now();
    {
      await using cache = await DiskCache.open(dir, { maxBytes });
      const bytes = new Uint8Array(1000).fill(3);
      let next = 0;
      await taskGroup((tg) => {
        for (let w = 0; w < 16; w++) {
          tg.spawn(async () => {
            while (next < entries) await cache.set(`bafy-entry-${next++}`, bytes);
          });
        }
      });
    }
    const filled = (performance.now() - started) / 1000;
    const time = async (): Promise<number> => {
      const start = performance.now();
      const cache = await DiskCache.open(dir, { maxBytes });
      const ms = performance.now() - start;
      if (cache.size !== entries) throw new Error(`reopened with ${cache.size} entries`);
      await cache.close();
      return ms;
    };
    const median = async (runs: number, before?: () => Promise<void>) => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        await before?.();
        times.push(await time());
      }
      times.sort((a, b) => a - b);
      return `${times[runs >> 1].toFixed(0)} ms (min ${times[0].toFixed(0)}, max ${
        times[runs - 1].toFixed(0)
      })`;
    };
    const withSnapshot = await median(7);
    const withoutSnapshot = await median(7, () => Deno.remove(`${dir}/index`));
    console.log(
      `| ${entries.toLocaleString("en-US")} | ${withSnapshot} | ${withoutSnapshot} | ${
        filled.toFixed(1)
      } s |`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (Deno.args.includes("--report")) {
  policyTable();
  await realCacheTable();
  console.log(
    "Open time (median of 7 opens, warm page cache), entries of 1,000 bytes; and the time the " +
      "16 concurrent writers took to fill the cache.\n",
  );
  console.log("| entries | open (with snapshot) | open (snapshot deleted) | fill |");
  console.log("|---:|---:|---:|---:|");
  for (const entries of [10_000]) await openTime(entries);
}
