import assert from "node:assert/strict";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { CID } from "npm:multiformats@14.0.5/cid";
import { currentTime, Event, sleep, testEachStrategy, withSignal } from "../runtime/mod.ts";
import type { CatOptions, CidLike, ContentStore, SignalOptions } from "../ipfs/content_store.ts";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { Prefetcher, type PrefetcherOptions } from "./prefetch.ts";
import { TieredCache } from "./tiered_cache.ts";
import { mulberry32 } from "../tests/cache_workloads.ts";

const KiB = 1024;

function bytes(length: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (random() * 256) | 0;
  return out;
}

/** What the slow store counts. */
interface SlowStore {
  store: ContentStore;
  /** Reads that reached the backend. */
  calls: number;
  /** Reads cancelled while waiting. */
  cancelled: number;
  /** Blocks whose reads wait for `gate` (CID strings). */
  held: Set<string>;
  gate: Event;
}

/**
 * The embedded node behind `latency` ms of the runtime's clock per read
 * (`block.get` and `cat`), as a remote backend would be. A test-only
 * wrapper: every other call goes to the node as is.
 */
function slow(node: EmbeddedNode, latency: number): SlowStore {
  const slowStore: SlowStore = {
    store: undefined as unknown as ContentStore,
    calls: 0,
    cancelled: 0,
    held: new Set(),
    gate: new Event(),
  };
  const wait = async (cid: CidLike, signal: AbortSignal | undefined) => {
    slowStore.calls++;
    try {
      await withSignal(signal, async () => {
        if (slowStore.held.has(String(CID.asCID(cid) ?? cid))) await slowStore.gate.wait();
        await sleep(latency);
      });
    } catch (error) {
      slowStore.cancelled++;
      throw error;
    }
  };
  const block = {
    ...node.block,
    get: async (cid: CidLike, options?: SignalOptions) => {
      await wait(cid, options?.signal);
      return await node.block.get(cid, options);
    },
  };
  const cat = (path: CidLike, options: CatOptions = {}) =>
    ReadableStream.from((async function* () {
      await wait(path, options.signal);
      yield* node.cat(path, options);
    })());
  slowStore.store = new Proxy(node, {
    get(target, property) {
      if (property === "block") return block;
      if (property === "cat") return cat;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as unknown as ContentStore;
  return slowStore;
}

/** Runs `fn` with an embedded node in a fresh repository. */
async function withNode(fn: (node: EmbeddedNode) => Promise<void>): Promise<void> {
  const repo = await Deno.makeTempDir({ prefix: "prefetch-repo-" });
  try {
    await using node = await EmbeddedNode.open({ repo, sync: false });
    await fn(node);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
}

/** Adds `count` files of 8 chunks of 16 KiB (raw leaves); returns each file's root and leaves. */
async function addFiles(node: EmbeddedNode, count: number, seed: number): Promise<CID[][]> {
  const files: CID[][] = [];
  for (let i = 0; i < count; i++) {
    const { cid } = await node.add(bytes(128 * KiB, seed + i), {
      cidVersion: 1,
      chunkSize: 16 * KiB,
    });
    const links = dagPb.decode(await node.block.get(cid)).Links.map((link) => link.Hash);
    assert.equal(links.length, 8);
    files.push([cid, ...links]);
  }
  return files;
}

interface Outcome {
  /** Mean read latency, in ms of the runtime's clock. */
  mean: number;
  hitRatio: number;
}

/** Reads `keys` in order through `read`, `think` ms apart; measures each read. */
async function replay(
  cache: TieredCache,
  reads: Array<() => Promise<unknown>>,
  think: number,
): Promise<Outcome> {
  let total = 0;
  for (const read of reads) {
    const start = currentTime();
    await read();
    total += currentTime() - start;
    await sleep(think);
  }
  return { mean: total / reads.length, hitRatio: cache.statistics().hitRatio };
}

/** `passes` sequential reads of every block of every file. */
function sequentialBlocks(cache: TieredCache, files: CID[][], passes: number) {
  const reads: Array<() => Promise<unknown>> = [];
  for (let pass = 0; pass < passes; pass++) {
    for (const file of files) for (const cid of file) reads.push(() => cache.getBlock(cid));
  }
  return reads;
}

const MEMORY = { maxBytes: 160 * KiB };

testEachStrategy(
  "prefetch: repeated sequential block reads hit more and wait less",
  async () => {
    await withNode(async (node) => {
      const files = await addFiles(node, 4, 100);
      const backend = slow(node, 10);
      let off: Outcome;
      {
        await using cache = await TieredCache.open(backend.store, {
          memory: MEMORY,
          prefetch: false,
        });
        off = await replay(cache, sequentialBlocks(cache, files, 3), 4);
      }
      await using cache = await TieredCache.open(backend.store, { memory: MEMORY });
      const on = await replay(cache, sequentialBlocks(cache, files, 3), 4);
      const prefetch = cache.statistics().prefetch!;
      assert.ok(
        on.hitRatio > off.hitRatio + 0.3,
        `hit ratio ${on.hitRatio.toFixed(2)} with prefetch, ${off.hitRatio.toFixed(2)} without`,
      );
      assert.ok(
        on.mean < off.mean / 2,
        `mean latency ${on.mean.toFixed(2)} ms with prefetch, ${off.mean.toFixed(2)} without`,
      );
      assert.ok(prefetch.used > 0 && prefetch.usedBytes > 0);
      assert.ok(prefetch.accuracy > 0.5, `accuracy ${prefetch.accuracy}`);
      assert.equal(prefetch.throttled, false);
      assert.ok(prefetch.learnedNodes >= 4);
    });
  },
  { virtualClock: 3 },
);

testEachStrategy(
  "prefetch: a repeated sequence of files is learnt and read ahead",
  async () => {
    await withNode(async (node) => {
      const cids: CID[] = [];
      for (let i = 0; i < 12; i++) cids.push((await node.add(bytes(8 * KiB, 200 + i))).cid);
      const backend = slow(node, 10);
      const reads = (cache: TieredCache) => {
        const list: Array<() => Promise<unknown>> = [];
        for (let pass = 0; pass < 4; pass++) {
          for (const cid of cids) list.push(() => new Response(cache.cat(cid)).arrayBuffer());
        }
        return list;
      };
      const memory = { maxBytes: 40 * KiB };
      let off: Outcome;
      {
        await using cache = await TieredCache.open(backend.store, { memory, prefetch: false });
        off = await replay(cache, reads(cache), 6);
      }
      await using cache = await TieredCache.open(backend.store, { memory });
      const on = await replay(cache, reads(cache), 6);
      const prefetch = cache.statistics().prefetch!;
      assert.ok(
        on.hitRatio > off.hitRatio + 0.3,
        `hit ratio ${on.hitRatio.toFixed(2)} with prefetch, ${off.hitRatio.toFixed(2)} without`,
      );
      assert.ok(
        on.mean < off.mean / 2,
        `mean latency ${on.mean.toFixed(2)} ms with prefetch, ${off.mean.toFixed(2)} without`,
      );
      assert.ok(prefetch.learnedKeys >= 11);
      assert.equal(prefetch.throttled, false);
    });
  },
  { virtualClock: 3 },
);

testEachStrategy(
  "prefetch: a random workload throttles it, and a sequential one restores it",
  async () => {
    await withNode(async (node) => {
      const files = await addFiles(node, 8, 300);
      const backend = slow(node, 2);
      const options: PrefetcherOptions = { window: 16, minSamples: 8 };
      await using cache = await TieredCache.open(backend.store, {
        memory: MEMORY,
        prefetch: options,
      });
      // Let the DAG structure be known, as it is once files have been read.
      for (const file of files) await cache.getBlock(file[0]);
      const leaves = files.flatMap((file) => file.slice(1));
      const random = mulberry32(7);
      const reads = Array.from({ length: 200 }, () => {
        const cid = leaves[Math.floor(random() * leaves.length)];
        return () => cache.getBlock(cid);
      });
      await replay(cache, reads, 1);
      let prefetch = cache.statistics().prefetch!;
      assert.equal(prefetch.throttled, true);
      assert.ok(prefetch.throttles >= 1);
      assert.equal(prefetch.concurrency, 1);
      assert.ok(prefetch.windowAccuracy < 0.5, `window accuracy ${prefetch.windowAccuracy}`);
      assert.ok(prefetch.accuracy < 0.3, `accuracy ${prefetch.accuracy}`);
      assert.ok(prefetch.suppressed > prefetch.issued / 2, JSON.stringify(prefetch));
      assert.ok(prefetch.wastedBytes > 0);
      // Sequential reads make its predictions right again.
      await replay(cache, sequentialBlocks(cache, files.slice(0, 4), 4), 4);
      prefetch = cache.statistics().prefetch!;
      assert.equal(prefetch.throttled, false, JSON.stringify(prefetch));
      assert.equal(prefetch.concurrency, 4);
      assert.ok(prefetch.windowAccuracy >= 0.5);
    });
  },
  { virtualClock: 3 },
);

testEachStrategy("prefetch: close cancels the loads in flight", async () => {
  await withNode(async (node) => {
    const [file] = await addFiles(node, 1, 400);
    const backend = slow(node, 1);
    for (const cid of file.slice(2)) backend.held.add(cid.toString());
    const cache = await TieredCache.open(backend.store, { prefetch: { chunks: 4 } });
    await cache.getBlock(file[0]);
    await cache.getBlock(file[1]); // predicts leaves 2 to 5, which the backend holds back
    for (let i = 0; i < 100 && cache.statistics().prefetch!.inFlight < 4; i++) await sleep(1);
    let prefetch = cache.statistics().prefetch!;
    assert.equal(prefetch.inFlight, 4);
    assert.equal(prefetch.issued, 4);
    await cache.close();
    prefetch = cache.statistics().prefetch!;
    assert.equal(prefetch.inFlight, 0);
    assert.equal(prefetch.cancelled, 4);
    assert.equal(prefetch.completed, 0);
    assert.equal(backend.cancelled, 4);
    assert.ok(cache.prefetcher!.closed);
    // A closed prefetcher learns and issues nothing.
    cache.prefetcher!.record("b:anything");
    assert.equal(cache.statistics().prefetch!.issued, 4);
    for (const cid of file.slice(2, 6)) assert.equal(cache.tierOf(cid, { block: true }), undefined);
  });
}, { virtualClock: 0 });

testEachStrategy("prefetch: loads are bounded by the capacity limiter and the queue", async () => {
  const gate = new Event();
  const cache = new Set<string>();
  let running = 0;
  let peak = 0;
  const prefetcher = new Prefetcher({
    has: (key) => cache.has(key),
    load: async (key) => {
      peak = Math.max(peak, ++running);
      try {
        await gate.wait();
        cache.add(key);
        return 100;
      } finally {
        running--;
      }
    },
  }, { concurrency: 2, queueSize: 3, chunks: 8, markov: false });
  try {
    const links = Array.from({ length: 10 }, (_, i) => `c${i}`);
    prefetcher.observeLinks("file", links, "file");
    prefetcher.record("c0"); // predicts c1 to c8
    for (let i = 0; i < 10; i++) await sleep(0);
    let stats = prefetcher.statistics();
    // The queue took 3 predictions (the dispatcher had not run yet) and dropped 5.
    assert.equal(stats.predicted, 8);
    assert.equal(stats.dropped, 5);
    assert.equal(stats.inFlight, 2);
    assert.equal(stats.issued, 2);
    gate.set();
    await prefetcher.idle();
    stats = prefetcher.statistics();
    assert.equal(peak, 2);
    assert.equal(stats.completed, 8 - stats.dropped);
    assert.equal(stats.issuedBytes, 100 * stats.completed);
    assert.equal(cache.size, stats.completed);
    // Read in order: every prefetched chunk is used.
    for (const key of links.slice(1, 1 + stats.completed)) prefetcher.record(key);
    assert.equal(prefetcher.statistics().used, stats.completed);
  } finally {
    await prefetcher.close();
  }
});

testEachStrategy("prefetch: entries evicted or left unread count as wasted", async () => {
  const cache = new Set<string>();
  await using prefetcher = new Prefetcher({
    has: (key) => cache.has(key),
    load: (key) => {
      cache.add(key);
      return Promise.resolve(10);
    },
  }, { chunks: 2, markov: false, horizon: 3 });
  prefetcher.observeLinks("file", ["a", "b", "c", "d", "e"], "file");
  prefetcher.record("a"); // predicts b, c
  await prefetcher.idle();
  prefetcher.evicted("b");
  let stats = prefetcher.statistics();
  assert.equal(stats.wasted, 1);
  assert.equal(stats.wastedBytes, 10);
  assert.equal(stats.outstanding, 1);
  // c is never read: after `horizon` more reads it expires.
  for (const key of ["x", "y", "z", "w"]) prefetcher.record(key);
  stats = prefetcher.statistics();
  assert.equal(stats.wasted, 2);
  assert.equal(stats.outstanding, 0);
  assert.equal(stats.accuracy, 0);
});

testEachStrategy(
  "prefetch: the Markov chain predicts the next keys of a learnt sequence",
  async () => {
    const loaded: string[] = [];
    await using prefetcher = new Prefetcher({
      has: (key) => loaded.includes(key),
      load: (key) => {
        loaded.push(key);
        return Promise.resolve(1);
      },
    }, { markovDepth: 3 });
    for (const key of ["a", "b", "c", "d", "e"]) prefetcher.record(key);
    await prefetcher.idle();
    assert.deepEqual(loaded, []); // nothing learnt was ever followed yet
    prefetcher.record("a"); // predicts b, then c, then d
    await prefetcher.idle();
    assert.deepEqual(loaded.sort(), ["b", "c", "d"]);
    for (const key of ["b", "c", "d"]) prefetcher.record(key);
    const stats = prefetcher.statistics();
    assert.equal(stats.used, 3);
    assert.equal(stats.accuracy, 1);
  },
);
