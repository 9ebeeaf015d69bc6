/**
 * Benchmarks of the tiered cache (`cache/tiered_cache.ts`) over the embedded
 * node: the latency of a read served by each tier.
 *
 * Group `tiered-read-<size>`: `cat` of one file of 4 KiB or 256 KiB, read
 * to its end, through a `TieredCache` (memory tier 64 MiB, disk tier 256
 * MiB, prefetch off) over an `EmbeddedNode` in a temporary repository:
 * - `memory hit`: the file is in the memory tier;
 * - `disk hit`: a second cache on the same node whose memory tier is too
 *   small for the file, so every read is a disk-tier hit (the entry is read
 *   and checked against its SHA-256);
 * - `backend miss`: the file is evicted from both tiers before each read
 *   (not timed), so each read goes to the node and writes the file through
 *   to the disk tier (temporary file, `fdatasync`, rename, directory sync);
 * - `node cat` (the baseline): the node's own `cat`, no cache.
 *
 * Run: `deno bench --allow-all bench/tiered_cache_bench.ts`.
 *
 * With `--report` (`deno run --allow-all bench/tiered_cache_bench.ts --report`)
 * it prints, as Markdown, p50 and p99 of each case over 400 reads (after 50
 * unmeasured ones), and the effect of prefetch on a workload of repeated
 * sequential reads and on a random one, against a backend with 10 ms of
 * injected latency, in virtual time (the runtime's `VirtualClock`).
 *
 * @module
 */

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { TieredCache } from "../cache/tiered_cache.ts";
import { mulberry32 } from "../tests/_workloads.ts";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { currentTime, run, sleep, VirtualClock } from "../runtime/mod.ts";
import { seededBytes } from "../tests/_bytes.ts";
import { tempDirRemovedAtExit } from "../tests/_files.ts";
import { slow } from "../tests/_slow_store.ts";
import { quantile } from "../tests/_stats.ts";

const STRATEGIES = ["eager", "fair", "shuffle"] as const;

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [4 * KiB, 256 * KiB];

/** Reads a stream to its end; returns its length. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let length = 0;
  for await (const chunk of stream) length += chunk.length;
  return length;
}

interface Fixture {
  node: EmbeddedNode;
  /** Memory tier of 64 MiB, disk tier of 256 MiB. */
  cache: TieredCache;
  /** Same disk tier size, a memory tier of 1 KiB: every read of a file is a disk hit. */
  diskOnly: TieredCache;
  /** A file per size. */
  files: Map<number, CID>;
}

async function fixture(): Promise<Fixture> {
  const node = await EmbeddedNode.open({ repo: await tempDirRemovedAtExit(), sync: false });
  const cache = await TieredCache.open(node, {
    memory: { maxBytes: 64 * MiB },
    disk: { directory: await tempDirRemovedAtExit(), maxBytes: 256 * MiB },
    prefetch: false,
  });
  const diskOnly = await TieredCache.open(node, {
    memory: { maxBytes: KiB },
    disk: { directory: await tempDirRemovedAtExit(), maxBytes: 256 * MiB },
    prefetch: false,
  });
  const files = new Map<number, CID>();
  for (const size of SIZES) {
    const { cid } = await node.add(seededBytes(size, size));
    files.set(size, cid);
    await drain(cache.cat(cid));
    await drain(diskOnly.cat(cid));
  }
  return { node, cache, diskOnly, files };
}

type Case = "memory hit" | "disk hit" | "backend miss" | "node cat";
const CASES: Case[] = ["memory hit", "disk hit", "backend miss", "node cat"];

/** One read of `size` bytes in case `which`; `prepare` runs untimed before it. */
function reader(f: Fixture, which: Case, size: number): {
  prepare: () => Promise<unknown>;
  read: () => Promise<number>;
} {
  const cid = f.files.get(size)!;
  switch (which) {
    case "memory hit":
      return { prepare: () => Promise.resolve(), read: () => drain(f.cache.cat(cid)) };
    case "disk hit":
      return { prepare: () => Promise.resolve(), read: () => drain(f.diskOnly.cat(cid)) };
    case "backend miss":
      return { prepare: () => f.cache.evict(cid), read: () => drain(f.cache.cat(cid)) };
    case "node cat":
      return { prepare: () => Promise.resolve(), read: () => drain(f.node.cat(cid)) };
  }
}

if (!Deno.args.includes("--report")) {
  const f = await fixture();
  for (const size of SIZES) {
    for (const which of CASES) {
      const { prepare, read } = reader(f, which, size);
      // The cache's own reads also under the fair and shuffle strategies (eager, the
      // default, is the unmarked entry).
      const strategies = which === "node cat" ? ["eager"] as const : STRATEGIES;
      for (const strategy of strategies) {
        Deno.bench({
          name: strategy === "eager" ? which : `${which} [${strategy}]`,
          group: `tiered-read-${size / KiB}KiB`,
          baseline: which === "node cat",
          n: 200,
          warmup: 20,
          async fn(b) {
            await prepare();
            b.start();
            const length = await run(read, { strategy });
            b.end();
            if (length !== size) throw new Error(`read ${length} bytes of ${size}`);
          },
        });
      }
    }
  }
}

// ---------------------------------------------------------------------- report

const ms = (value: number) => value < 0.1 ? value.toFixed(3) : value.toFixed(2);

async function latencyTable(): Promise<void> {
  const f = await fixture();
  const warmup = 50;
  const samples = 400;
  console.log(
    `Latency of one \`cat\` read to its end, in ms: p50 / p99 over ${samples} reads after ` +
      `${warmup} unmeasured ones. Embedded node, memory tier 64 MiB, disk tier 256 MiB, ` +
      "prefetch off.\n",
  );
  console.log(`| case | ${SIZES.map((size) => `${size / KiB} KiB p50 / p99`).join(" | ")} |`);
  console.log(`|---|${SIZES.map(() => "---:").join("|")}|`);
  for (const which of CASES) {
    const cells: string[] = [];
    for (const size of SIZES) {
      const { prepare, read } = reader(f, which, size);
      const times: number[] = [];
      for (let i = 0; i < warmup + samples; i++) {
        await prepare();
        const start = performance.now();
        const length = await read();
        const elapsed = performance.now() - start;
        if (length !== size) throw new Error(`read ${length} bytes of ${size}`);
        if (i >= warmup) times.push(elapsed);
      }
      times.sort((a, b) => a - b);
      cells.push(`${ms(quantile(times, 0.5))} / ${ms(quantile(times, 0.99))}`);
    }
    console.log(`| ${which} | ${cells.join(" | ")} |`);
  }
  const stats = f.cache.statistics();
  const diskOnly = f.diskOnly.statistics();
  console.log(
    `\nCheck: the main cache served ${stats.fromMemory} reads from memory and ${stats.fromBackend} ` +
      `from the backend; the disk-only cache served ${diskOnly.fromDisk} from disk and ` +
      `${diskOnly.fromMemory} from memory.\n`,
  );
  await f.cache.close();
  await f.diskOnly.close();
  await f.node.close();
}

async function prefetchTable(): Promise<void> {
  const node = await EmbeddedNode.open({
    repo: await tempDirRemovedAtExit(),
    sync: false,
  });
  const files: CID[][] = [];
  for (let i = 0; i < 8; i++) {
    const { cid } = await node.add(seededBytes(128 * KiB, 1000 + i), {
      cidVersion: 1,
      chunkSize: 16 * KiB,
    });
    const links = dagPb.decode(await node.block.get(cid)).Links.map((link) => link.Hash);
    files.push([cid, ...links]);
  }
  const sequential = (passes: number) => {
    const order: CID[] = [];
    for (let pass = 0; pass < passes; pass++) for (const file of files) order.push(...file);
    return order;
  };
  const random = () => {
    const leaves = files.flatMap((file) => file.slice(1));
    const draw = mulberry32(7);
    return Array.from({ length: 400 }, () => leaves[Math.floor(draw() * leaves.length)]);
  };
  console.log(
    "Prefetch, in virtual time: `getBlock` of every block of 8 files of 8 chunks of 16 KiB " +
      "(raw leaves), 4 ms of work after each read, a backend with 10 ms of latency per read, " +
      "a memory tier of 160 KiB (a tenth of the data), no disk tier. Sequential: 3 passes over " +
      "the files in order (216 reads). Random: 400 reads of random chunks.\n",
  );
  console.log(
    "| workload | prefetch | hit ratio | mean latency (ms) | issued | used | wasted | accuracy | throttled |",
  );
  console.log("|---|---|---:|---:|---:|---:|---:|---:|---|");
  for (const [name, order] of [["sequential", sequential(3)], ["random", random()]] as const) {
    for (const on of [false, true]) {
      const clock = new VirtualClock({ autojumpThreshold: 3 });
      const row = await run(async () => {
        await using cache = await TieredCache.open(slow(node, 10).store, {
          memory: { maxBytes: 160 * KiB },
          prefetch: on ? {} : false,
        });
        let total = 0;
        for (const cid of order) {
          const start = currentTime();
          await cache.getBlock(cid);
          total += currentTime() - start;
          await sleep(4);
        }
        const stats = cache.statistics();
        const p = stats.prefetch;
        return `| ${name} | ${on ? "on" : "off"} | ${stats.hitRatio.toFixed(2)} | ${
          (total / order.length).toFixed(2)
        } | ${p?.issued ?? "-"} | ${p?.used ?? "-"} | ${p?.wasted ?? "-"} | ${
          p === undefined ? "-" : p.accuracy.toFixed(2)
        } | ${p === undefined ? "-" : p.throttled ? `yes (${p.throttles}x)` : "no"} |`;
      }, { clock });
      console.log(row);
    }
  }
  console.log();
  await node.close();
}

if (Deno.args.includes("--report")) {
  await latencyTable();
  await prefetchTable();
}
