import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { equals } from "npm:multiformats@14.0.5/bytes";
import { CancelScope, ClosedResourceError, sleep } from "../runtime/mod.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import type { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { InvalidCidError, InvalidInputError, NotFoundError } from "../ipfs/errors.ts";
import { CorruptEntryError } from "./errors.ts";
import { TieredCache, type TieredCacheOptions } from "./tiered_cache.ts";
import { readAll, seededBytes } from "../tests/_bytes.ts";
import { entryPath, tempFiles } from "../tests/_disk_cache.ts";
import { flipBit } from "../tests/_files.ts";
import { withNode } from "../tests/_node.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

interface Setup {
  node: EmbeddedNode;
  /** The disk tier's directory. */
  diskDir: string;
  /** Opens a tiered cache over the node with a disk tier in `diskDir`. */
  open(options?: Partial<TieredCacheOptions>): Promise<TieredCache>;
}

/** Runs `fn` with an embedded node in a fresh repository and a fresh disk-tier directory. */
function withSetup(fn: (setup: Setup) => Promise<void>): Promise<void> {
  return withNode((node, _repo, diskDir) =>
    fn({
      node,
      diskDir,
      open: (options = {}) =>
        TieredCache.open(node, {
          disk: { directory: diskDir, maxBytes: 64 * MiB },
          prefetch: false,
          ...options,
        }),
    })
  );
}

testEachStrategy(
  "tiered cache: a memory hit is served without the backend, as a copy",
  async () => {
    await withSetup(async ({ node, open }) => {
      const data = seededBytes(10 * KiB, 1);
      const { cid } = await node.add(data);
      const block = seededBytes(100, 2);
      const blockCid = await node.block.put(block);
      await using cache = await open();
      assert.ok(equals(await readAll(cache.cat(cid)), data));
      const second = await readAll(cache.cat(cid));
      assert.ok(equals(second, data));
      let stats = cache.statistics();
      assert.equal(stats.reads, 2);
      assert.equal(stats.fromBackend, 1);
      assert.equal(stats.fromMemory, 1);
      assert.equal(stats.backend.reads, 1);
      assert.equal(stats.hitRatio, 0.5);
      // What a reader gets is its own: changing it leaves the cached bytes alone.
      second.fill(0);
      const gotBlock = await cache.getBlock(blockCid);
      gotBlock.fill(0);
      assert.ok(equals(await readAll(cache.cat(cid)), data));
      assert.ok(equals(await cache.getBlock(blockCid), block));
      stats = cache.statistics();
      assert.equal(stats.fromMemory, 3);
      assert.equal(stats.backend.reads, 2);
      assert.equal(stats.memory.entries, 2);
      assert.equal(stats.memory.bytes, data.length + block.length);
    });
  },
);

testEachStrategy("tiered cache: a disk hit is promoted into memory", async () => {
  await withSetup(async ({ node, open }) => {
    const data = seededBytes(20 * KiB, 3);
    const { cid } = await node.add(data, { cidVersion: 1 });
    const block = seededBytes(300, 4);
    const blockCid = await node.block.put(block);
    {
      await using cache = await open();
      assert.ok(equals(await readAll(cache.cat(cid)), data));
      assert.ok(equals(await cache.getBlock(blockCid), block));
    }
    await using cache = await open();
    assert.equal(cache.tierOf(cid), "disk");
    assert.equal(cache.tierOf(blockCid, { block: true }), "disk");
    assert.ok(equals(await readAll(cache.cat(cid)), data));
    assert.ok(equals(await cache.getBlock(blockCid), block));
    let stats = cache.statistics();
    assert.equal(stats.fromDisk, 2);
    assert.equal(stats.memory.promotions, 2);
    assert.equal(stats.backend.reads, 0);
    assert.equal(cache.tierOf(cid), "memory");
    assert.equal(cache.tierOf(blockCid, { block: true }), "memory");
    assert.ok(equals(await readAll(cache.cat(cid)), data));
    assert.ok(equals(await cache.getBlock(blockCid), block));
    stats = cache.statistics();
    assert.equal(stats.fromMemory, 2);
    assert.equal(stats.hitRatio, 1);
  });
});

testEachStrategy("tiered cache: a backend miss is written through to both tiers", async () => {
  await withSetup(async ({ node, open }) => {
    const data = seededBytes(5 * KiB, 5);
    const { cid } = await node.add(data);
    {
      await using cache = await open();
      assert.equal(cache.tierOf(cid), undefined);
      assert.ok(equals(await readAll(cache.cat(cid)), data));
      const stats = cache.statistics();
      assert.equal(stats.fromBackend, 1);
      assert.equal(stats.disk?.writes, 1);
      assert.equal(stats.disk?.entries, 1);
      assert.equal(cache.tierOf(cid), "memory");
      // Writes go to the backend, then to the tiers.
      const put = seededBytes(700, 6);
      const putCid = await cache.putBlock(put);
      assert.ok(equals(await node.block.get(putCid), put));
      assert.equal(cache.tierOf(putCid, { block: true }), "memory");
      const added = await cache.add("written through");
      const streamed = await cache.add(
        ReadableStream.from([seededBytes(1000, 7), seededBytes(24, 8)]),
      );
      for (const { cid } of [added, streamed]) assert.equal(cache.tierOf(cid), "memory");
      assert.ok(equals(await cache.getBlock(putCid), put));
      assert.equal(await new Response(cache.cat(added.cid)).text(), "written through");
      assert.equal((await readAll(cache.cat(streamed.cid))).length, 1024);
      assert.equal(cache.statistics().backend.reads, 1);
      assert.equal(cache.statistics().backend.writes, 3);
    }
    await using cache = await open();
    assert.equal(cache.tierOf(cid), "disk");
    assert.equal(cache.statistics().disk?.entries, 4);
  });
});

testEachStrategy("tiered cache: a large file is streamed, never held in memory", async () => {
  await withSetup(async ({ node, diskDir, open }) => {
    const threshold = 64 * KiB;
    const data = seededBytes(MiB + 12_345, 9);
    const { cid } = await node.add(data);
    await using cache = await open({ streamThreshold: threshold });
    const reader = cache.cat(cid).getReader();
    const parts: Uint8Array[] = [];
    let peak = 0;
    for (;;) {
      const { done, value } = await reader.read();
      peak = Math.max(peak, cache.statistics().memory.bytes);
      if (done) break;
      assert.ok(value.length <= 256 * KiB, `a chunk of ${value.length} bytes`);
      parts.push(value);
    }
    assert.ok(equals(Buffer.concat(parts), data));
    assert.ok(peak <= threshold, `the memory tier held ${peak} bytes`);
    let stats = cache.statistics();
    assert.equal(stats.memory.entries, 0);
    assert.equal(stats.streamed, 1);
    assert.equal(stats.streamedBytes, data.length);
    assert.equal(stats.fromBackend, 1);
    assert.equal(cache.tierOf(cid), "disk");
    assert.deepEqual(await tempFiles(diskDir), []);
    // Later reads stream from disk, ranges too.
    assert.ok(equals(await readAll(cache.cat(cid)), data));
    const slice = await readAll(cache.cat(cid, { offset: 300_000, length: 400_000 }));
    assert.ok(equals(slice, data.subarray(300_000, 700_000)));
    stats = cache.statistics();
    assert.equal(stats.fromDisk, 2);
    assert.equal(stats.streamed, 3);
    assert.equal(stats.memory.entries, 0);
    const backendReads = stats.backend.reads;
    // A range of a large file that is not cached comes from the backend and is not cached.
    const other = seededBytes(300 * KiB, 10);
    const { cid: otherCid } = await node.add(other);
    const range = await readAll(cache.cat(otherCid, { offset: 100, length: 200_000 }));
    assert.ok(equals(range, other.subarray(100, 200_100)));
    assert.equal(cache.tierOf(otherCid), undefined);
    assert.equal(cache.statistics().backend.reads, backendReads + 2);
    // A large add is written through to disk only.
    const added = await cache.add(seededBytes(200 * KiB, 11));
    assert.equal(cache.tierOf(added.cid), "disk");
    assert.equal(cache.statistics().memory.entries, 0);
  });
});

testEachStrategy("tiered cache: a corrupt disk entry falls back to the backend", async () => {
  await withSetup(async ({ node, diskDir, open }) => {
    const data = seededBytes(30 * KiB, 12);
    const { cid } = await node.add(data, { cidVersion: 1 });
    const block = seededBytes(2 * KiB, 13);
    const blockCid = await node.block.put(block);
    {
      await using cache = await open();
      await readAll(cache.cat(cid));
      await cache.getBlock(blockCid);
    }
    await flipBit(entryPath(diskDir, `o:${cid}`), -1);
    await flipBit(entryPath(diskDir, `b:${blockCid}`), -1);
    await using cache = await open();
    assert.ok(equals(await readAll(cache.cat(cid)), data));
    assert.ok(equals(await cache.getBlock(blockCid), block));
    const stats = cache.statistics();
    assert.equal(stats.disk?.corrupt, 2);
    assert.equal(stats.fromBackend, 2);
    assert.equal(stats.fromDisk, 0);
    // The backend's bytes replaced the corrupt entries.
    assert.ok(
      equals(
        await Deno.readFile(entryPath(diskDir, `b:${blockCid}`)).then((file) =>
          file.subarray(file.length - block.length)
        ),
        block,
      ),
    );
  });
});

testEachStrategy(
  "tiered cache: a corrupt large entry errors its stream, then is re-read",
  async () => {
    await withSetup(async ({ node, diskDir, open }) => {
      const data = seededBytes(300 * KiB, 14);
      const { cid } = await node.add(data, { cidVersion: 1 });
      {
        await using cache = await open({ streamThreshold: 64 * KiB });
        await readAll(cache.cat(cid));
      }
      await flipBit(entryPath(diskDir, `o:${cid}`), -1);
      await using cache = await open({ streamThreshold: 64 * KiB });
      await assert.rejects(readAll(cache.cat(cid)), CorruptEntryError);
      assert.equal(cache.tierOf(cid), undefined);
      assert.ok(equals(await readAll(cache.cat(cid)), data));
      assert.equal(cache.statistics().disk?.corrupt, 1);
      assert.equal(cache.tierOf(cid), "disk");
    });
  },
);

testEachStrategy("tiered cache: cancelling a stream mid-way leaks nothing", async () => {
  await withSetup(async ({ node, diskDir, open }) => {
    const data = seededBytes(MiB, 15);
    const { cid } = await node.add(data);
    await using cache = await open({ streamThreshold: 64 * KiB });
    // Cancelled by the reader.
    const reader = cache.cat(cid).getReader();
    assert.ok((await reader.read()).value!.length > 0);
    await reader.cancel("enough");
    assert.equal(cache.tierOf(cid), undefined);
    assert.deepEqual(await tempFiles(diskDir), []);
    // Aborted by a signal.
    const controller = new AbortController();
    const aborted = cache.cat(cid, { signal: controller.signal }).getReader();
    assert.ok((await aborted.read()).value!.length > 0);
    controller.abort(new Error("stop"));
    await assert.rejects(aborted.read(), /stop/);
    assert.equal(cache.tierOf(cid), undefined);
    assert.deepEqual(await tempFiles(diskDir), []);
    // Cancelled by the cancel scope the stream was opened in.
    const scope = new CancelScope();
    await scope.run(async () => {
      const scoped = cache.cat(cid).getReader();
      assert.ok((await scoped.read()).value!.length > 0);
      scope.cancel();
      await scoped.read();
    });
    assert.ok(scope.cancelledCaught);
    assert.deepEqual(await tempFiles(diskDir), []);
    // A read to the end still caches the file.
    assert.ok(equals(await readAll(cache.cat(cid)), data));
    assert.equal(cache.tierOf(cid), "disk");
  });
});

testEachStrategy("tiered cache: concurrent misses share one load", async () => {
  await withSetup(async ({ node, open }) => {
    const block = seededBytes(50 * KiB, 16);
    const cid = await node.block.put(block);
    await using cache = await open();
    const results = await Promise.all(Array.from({ length: 5 }, () => cache.getBlock(cid)));
    for (const result of results) assert.ok(equals(result, block));
    const stats = cache.statistics();
    assert.equal(stats.backend.reads, 1);
    assert.equal(stats.fromBackend, 1);
    assert.equal(stats.joined, 4);
  });
});

testEachStrategy("tiered cache: paths below a CID are cached by their canonical form", async () => {
  await withSetup(async ({ node, open }) => {
    const entries = await node.addAll([
      { path: "site/a.txt", content: "alpha" },
      { path: "site/b.txt", content: "beta" },
    ]);
    const root = entries.at(-1)!.cid;
    await using cache = await open();
    assert.equal(await new Response(cache.cat(`${root}/a.txt`)).text(), "alpha");
    assert.equal(await new Response(cache.cat(`/ipfs/${root.toV1()}/a.txt`)).text(), "alpha");
    assert.equal(await new Response(cache.cat(`${root}/b.txt`)).text(), "beta");
    const stats = cache.statistics();
    assert.equal(stats.fromMemory, 1);
    assert.equal(stats.fromBackend, 2);
  });
});

testEachStrategy("tiered cache: errors surface as the backend's", async () => {
  await withSetup(async ({ node, open }) => {
    await using cache = await open();
    const dir = (await node.addAll([{ path: "d/x", content: "x" }])).at(-1)!.cid;
    await assert.rejects(readAll(cache.cat(dir)), InvalidInputError);
    const missing = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    await assert.rejects(cache.getBlock(missing), NotFoundError);
    await assert.rejects(cache.getBlock("not-a-cid"), InvalidCidError);
    assert.throws(() => cache.cat(dir, { offset: -1 }), InvalidInputError);
    await assert.rejects(readAll(cache.cat("nope")), InvalidCidError);
    assert.equal(cache.statistics().memory.entries, 0);
  });
});

testEachStrategy("tiered cache: evict removes a file and its block from both tiers", async () => {
  await withSetup(async ({ node, open }) => {
    const { cid } = await node.add("evict me", { cidVersion: 1 });
    await using cache = await open();
    await readAll(cache.cat(cid));
    await cache.getBlock(cid);
    assert.equal(cache.statistics().disk?.entries, 2);
    assert.ok(await cache.evict(cid));
    assert.equal(cache.tierOf(cid), undefined);
    assert.equal(cache.tierOf(cid, { block: true }), undefined);
    assert.equal(cache.statistics().disk?.entries, 0);
    assert.equal(await cache.evict(cid), false);
    // Garbage collection reports raw CIDs: evicting them drops the dag-pb file's entries too.
    const { cid: unpinned } = await cache.add("collected", { pin: false });
    assert.equal(unpinned.version, 0);
    assert.equal(cache.tierOf(unpinned), "memory");
    const removed = await node.repo.gc();
    assert.equal(removed.length, 1);
    assert.ok(await cache.evict(removed[0]));
    assert.equal(cache.tierOf(unpinned), undefined);
    assert.equal(cache.statistics().disk?.entries, 0);
  });
});

testEachStrategy("tiered cache: close ends open streams and later calls throw", async () => {
  await withSetup(async ({ node, diskDir, open }) => {
    const data = seededBytes(MiB, 17);
    const { cid } = await node.add(data);
    const cache = await open({ streamThreshold: 64 * KiB });
    const reader = cache.cat(cid).getReader();
    assert.ok((await reader.read()).value!.length > 0);
    const idle = cache.cat(cid); // never read
    await cache.close();
    await assert.rejects(reader.read(), ClosedResourceError);
    await assert.rejects(idle.getReader().read(), ClosedResourceError);
    assert.deepEqual(await tempFiles(diskDir), []);
    assert.throws(() => cache.cat(cid), ClosedResourceError);
    await assert.rejects(cache.getBlock(cid), ClosedResourceError);
    await assert.rejects(cache.add("x"), ClosedResourceError);
    assert.ok(cache.closed && !node.closed);
    await cache.close();
    // The directory can be opened again: the lock was released.
    await using again = await open();
    assert.equal(again.tierOf(cid), undefined);
  });
});

testEachStrategy("tiered cache: a memory-only cache works without a disk tier", async () => {
  await withSetup(async ({ node, open }) => {
    const data = seededBytes(200 * KiB, 18);
    const { cid } = await node.add(data);
    await using cache = await open({ disk: undefined, streamThreshold: 64 * KiB });
    assert.ok(equals(await readAll(cache.cat(cid)), data));
    assert.ok(equals(await readAll(cache.cat(cid)), data));
    const stats = cache.statistics();
    assert.equal(stats.disk, undefined);
    assert.equal(stats.fromBackend, 2);
    assert.equal(stats.memory.entries, 0);
    const { cid: small } = await cache.add("small");
    assert.equal(cache.tierOf(small), "memory");
  });
});

testEachStrategy("tiered cache: an add from a stream that never ends is cancellable", async () => {
  await withSetup(async ({ open }) => {
    await using cache = await open();
    let sourceCancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(1000).fill(7)); // then nothing, ever
      },
      cancel() {
        sourceCancelled = true;
      },
    });
    const controller = new AbortController();
    const adding = cache.add(endless, { signal: controller.signal });
    await sleep(50);
    const reason = new Error("enough");
    controller.abort(reason);
    await assert.rejects(adding, (error) => error === reason);
    assert.ok(sourceCancelled, "the source stream was cancelled");
  });
});

testEachStrategy("tiered cache: an add from a stream is written through", async () => {
  await withSetup(async ({ open }) => {
    await using cache = await open();
    const bytes = crypto.getRandomValues(new Uint8Array(5000));
    const { cid } = await cache.add(new Blob([bytes]).stream());
    assert.equal(cache.tierOf(cid), "memory");
    assert.ok(equals(await readAll(cache.cat(cid)), bytes));
  });
});
