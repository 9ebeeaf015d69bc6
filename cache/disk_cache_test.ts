import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { equals } from "npm:multiformats@14.0.5/bytes";
import { CancelScope, ClosedResourceError, taskGroup } from "../runtime/mod.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { DiskCache, type DiskCacheOptions } from "./disk_cache.ts";
import { DirectoryError, LockedError } from "../runtime/directory.ts";
import { mountTmpfs, unmount } from "../tests/_tmpfs.ts";
import { runWithoutFileCapabilities } from "../tests/_unprivileged.ts";
import { CorruptEntryError } from "./errors.ts";
import { mulberry32 } from "../tests/_workloads.ts";
import { chunked, readAll, seededBytes } from "../tests/_bytes.ts";
import { entryName, entryPath, tempFiles } from "../tests/_disk_cache.ts";
import { filesUnder, flipBit, withTempDir } from "../tests/_files.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
/** Magic 4, version 4, payload length 8, key length 4, reserved 4, SHA-256 32. */
const HEADER = 56;

async function entryFiles(dir: string): Promise<string[]> {
  return (await filesUnder(dir)).filter((path) => path.startsWith("entries/"));
}

/** Opens a cache in `dir`, runs `fn`, closes it. */
async function withCache(
  dir: string,
  options: DiskCacheOptions,
  fn: (cache: DiskCache) => Promise<void>,
): Promise<void> {
  await using cache = await DiskCache.open(dir, options);
  await fn(cache);
}

testEachStrategy("set, get, has, delete and statistics", async () => {
  await withTempDir(async (dir) => {
    await using cache = await DiskCache.open(dir, { maxBytes: MiB });
    const value = seededBytes(1000, 1);
    assert.equal(await cache.get("a"), undefined);
    assert.equal(cache.has("a"), false);
    assert.equal(await cache.set("a", value), true);
    assert.equal(cache.has("a"), true);
    assert.deepEqual(await cache.get("a"), value);
    assert.equal(await cache.set("b", new Uint8Array(0)), true);
    assert.deepEqual(await cache.get("b"), new Uint8Array(0));
    let stats = cache.statistics();
    assert.equal(stats.entries, 2);
    assert.equal(stats.bytes, HEADER + 1 + 1000 + HEADER + 1);
    assert.equal(stats.hits, 2);
    assert.equal(stats.misses, 1);
    assert.equal(stats.writes, 2);
    assert.equal(stats.corrupt, 0);
    assert.equal(stats.policy, "arc");
    assert.equal(await cache.delete("a"), true);
    assert.equal(await cache.delete("a"), false);
    assert.equal(cache.has("a"), false);
    assert.equal(await cache.get("a"), undefined);
    stats = cache.statistics();
    assert.equal(stats.entries, 1);
    assert.equal(stats.bytes, HEADER + 1);
    assert.equal(stats.misses, 2);
    assert.deepEqual(await entryFiles(dir), [entryPath(dir, "b").slice(dir.length + 1)]);
    // Replacing an entry keeps one file, with the new value.
    await cache.set("b", seededBytes(10, 2));
    assert.deepEqual(await cache.get("b"), seededBytes(10, 2));
    assert.equal(cache.statistics().bytes, HEADER + 1 + 10);
    assert.equal((await entryFiles(dir)).length, 1);
  });
});

testEachStrategy("entries are self-describing files named by the SHA-256 of the key", async () => {
  await withTempDir(async (dir) => {
    await using cache = await DiskCache.open(dir, { maxBytes: MiB });
    const key = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    const value = seededBytes(300, 3);
    await cache.set(key, value);
    const file = await Deno.readFile(entryPath(dir, key));
    const view = new DataView(file.buffer);
    const keyBytes = new TextEncoder().encode(key);
    assert.equal(new TextDecoder().decode(file.subarray(0, 4)), "IKDC");
    assert.equal(view.getUint32(4, true), 1);
    assert.equal(view.getBigUint64(8, true), 300n);
    assert.equal(view.getUint32(16, true), keyBytes.length);
    assert.deepEqual(
      file.subarray(24, 56),
      new Uint8Array(createHash("sha256").update(value).digest()),
    );
    assert.deepEqual(file.subarray(HEADER, HEADER + keyBytes.length), keyBytes);
    assert.deepEqual(file.subarray(HEADER + keyBytes.length), value);
    assert.deepEqual(await tempFiles(dir), []);
    const shards = [...Deno.readDirSync(`${dir}/entries`)].map((entry) => entry.name);
    assert.deepEqual(shards, [entryName(key).slice(0, 2)]);
  });
});

testEachStrategy("no key can name a file outside the cache directory", async () => {
  await withTempDir(async (sandbox) => {
    const dir = `${sandbox}/cache`;
    const keys = [
      "../../../../../../tmp/escaped",
      "/etc/passwd",
      "a/../../b",
      "..",
      ".",
      "\0",
      "C:\\Windows\\x",
      "entries/00/../../lock",
      "\u{1F642}/\u00e9",
      "x".repeat(4096),
    ];
    {
      await using cache = await DiskCache.open(dir, { maxBytes: MiB });
      for (const [i, key] of keys.entries()) await cache.set(key, seededBytes(i + 1, i));
      for (const [i, key] of keys.entries()) {
        assert.deepEqual(await cache.get(key), seededBytes(i + 1, i));
      }
      assert.equal(cache.size, keys.length);
    }
    assert.deepEqual([...Deno.readDirSync(sandbox)].map((entry) => entry.name), ["cache"]);
    const all = await filesUnder(dir);
    for (const path of all) {
      assert.match(path, /^(lock|index|entries\/[0-9a-f]{2}\/[0-9a-f]{64})$/);
    }
    assert.equal(all.filter((path) => path.startsWith("entries/")).length, keys.length);
  });
});

testEachStrategy("bad keys and values are refused", async () => {
  await withTempDir(async (dir) => {
    await using cache = await DiskCache.open(dir, { maxBytes: MiB });
    await assert.rejects(cache.get(""), TypeError);
    await assert.rejects(cache.get(42 as unknown as string), TypeError);
    // A lone surrogate: UTF-8 cannot encode it, so two such keys could share a file.
    await assert.rejects(cache.set("a\ud800", new Uint8Array(1)), TypeError);
    await assert.rejects(cache.get("x".repeat(4097)), RangeError);
    await assert.rejects(cache.set("k", "text" as unknown as Uint8Array), TypeError);
    assert.throws(() => cache.has(""), TypeError);
    await assert.rejects(
      cache.set("k", ReadableStream.from(["not bytes"]) as unknown as ReadableStream<Uint8Array>),
      TypeError,
    );
    assert.equal(cache.size, 0);
    assert.deepEqual(await tempFiles(dir), []);
  });
  await assert.rejects(DiskCache.open("/nonexistent-unused", { maxBytes: 0 }), RangeError);
  await assert.rejects(
    DiskCache.open("/nonexistent-unused", { maxBytes: 1, maxEntries: 1.5 }),
    RangeError,
  );
  await assert.rejects(
    DiskCache.open("/nonexistent-unused", {
      maxBytes: 1,
      policy: "fifo" as unknown as "lru",
    }),
    TypeError,
  );
});

testEachStrategy("the index survives a restart", async () => {
  await withTempDir(async (dir) => {
    const values = Array.from({ length: 20 }, (_, i) => seededBytes(i * 97, i));
    let before: { entries: number; bytes: number };
    {
      await using cache = await DiskCache.open(dir, { maxBytes: MiB });
      for (const [i, value] of values.entries()) await cache.set(`key-${i}`, value);
      await cache.delete("key-3");
      before = cache.statistics();
    }
    await using cache = await DiskCache.open(dir, { maxBytes: MiB });
    const after = cache.statistics();
    assert.equal(after.entries, before.entries);
    assert.equal(after.bytes, before.bytes);
    assert.equal(after.entries, 19);
    for (const [i, value] of values.entries()) {
      assert.deepEqual(await cache.get(`key-${i}`), i === 3 ? undefined : value);
    }
    assert.equal(cache.statistics().corrupt, 0);
  });
});

for (const policy of ["arc", "lru"] as const) {
  testEachStrategy(`the ${policy} replacement order survives a restart`, async () => {
    await withTempDir(async (dir) => {
      // Room for 8 entries of 1 KiB (with their headers), not 9.
      const options: DiskCacheOptions = { maxBytes: 8 * (KiB + HEADER + 8), policy };
      const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`);
      // Used again after they were written, in a shuffled order: these must survive.
      const kept = ["key-5", "key-1", "key-6", "key-2"];
      {
        await using cache = await DiskCache.open(dir, options);
        for (const key of keys) await cache.set(key, seededBytes(KiB, 1));
        for (const key of kept) assert.ok(await cache.get(key));
        assert.equal(cache.statistics().evictions, 0);
      }
      await using cache = await DiskCache.open(dir, options);
      assert.equal(cache.size, 8);
      for (let i = 0; i < 4; i++) await cache.set(`new-${i}`, seededBytes(KiB, 2));
      assert.equal(cache.statistics().evictions, 4);
      const survivors = keys.filter((key) => cache.has(key));
      assert.deepEqual(survivors.sort(), [...kept].sort());
      assert.equal((await entryFiles(dir)).length, 8);
    });
  });
}

testEachStrategy("a damaged or missing recency snapshot is ignored", async () => {
  await withTempDir(async (dir) => {
    {
      await using cache = await DiskCache.open(dir, { maxBytes: MiB });
      for (let i = 0; i < 5; i++) await cache.set(`k${i}`, seededBytes(100, i));
    }
    await flipBit(`${dir}/index`, 20);
    {
      await using cache = await DiskCache.open(dir, { maxBytes: MiB });
      assert.equal(cache.size, 5);
    }
    await Deno.writeFile(`${dir}/index`, new Uint8Array(3));
    {
      await using cache = await DiskCache.open(dir, { maxBytes: MiB });
      assert.equal(cache.size, 5);
    }
    await Deno.remove(`${dir}/index`);
    await using cache = await DiskCache.open(dir, { maxBytes: MiB });
    for (let i = 0; i < 5; i++) assert.deepEqual(await cache.get(`k${i}`), seededBytes(100, i));
  });
});

testEachStrategy("the byte budget holds: evicted entries' files are removed", async () => {
  await withTempDir(async (dir) => {
    const maxBytes = 10 * KiB;
    await using cache = await DiskCache.open(dir, { maxBytes });
    for (let i = 0; i < 30; i++) {
      assert.equal(await cache.set(`key-${i}`, seededBytes(KiB, i)), true);
      const stats = cache.statistics();
      assert.ok(stats.bytes <= maxBytes, `${stats.bytes} bytes over the budget`);
    }
    const stats = cache.statistics();
    assert.equal(stats.entries, 9);
    assert.equal(stats.evictions, 21);
    const paths = await entryFiles(dir);
    assert.equal(paths.length, stats.entries);
    let total = 0;
    for (const path of paths) total += (await Deno.stat(`${dir}/${path}`)).size;
    assert.equal(total, stats.bytes);
    // The most recent entries stayed.
    assert.deepEqual(await cache.get("key-29"), seededBytes(KiB, 29));
  });
});

testEachStrategy("maxEntries bounds the entry count", async () => {
  await withTempDir(async (dir) => {
    await using cache = await DiskCache.open(dir, { maxBytes: MiB, maxEntries: 5 });
    for (let i = 0; i < 12; i++) await cache.set(`key-${i}`, seededBytes(10, i));
    assert.equal(cache.size, 5);
    assert.equal(cache.statistics().evictions, 7);
    assert.equal((await entryFiles(dir)).length, 5);
  });
});

testEachStrategy("reopening with a smaller budget evicts down to it", async () => {
  await withTempDir(async (dir) => {
    {
      await using cache = await DiskCache.open(dir, { maxBytes: MiB });
      for (let i = 0; i < 10; i++) await cache.set(`key-${i}`, seededBytes(KiB, i));
    }
    await using cache = await DiskCache.open(dir, { maxBytes: 4 * KiB });
    const stats = cache.statistics();
    assert.equal(stats.entries, 3);
    assert.ok(stats.bytes <= 4 * KiB);
    assert.equal(stats.evictions, 7);
    assert.equal((await entryFiles(dir)).length, 3);
  });
});

testEachStrategy(
  "an entry over maxEntrySize is not stored and removes the previous one",
  async () => {
    await withTempDir(async (dir) => {
      await using cache = await DiskCache.open(dir, { maxBytes: MiB, maxEntrySize: 10 * KiB });
      await cache.set("k", seededBytes(100, 1));
      assert.equal(await cache.set("k", seededBytes(10 * KiB, 2)), false);
      assert.equal(cache.has("k"), false);
      await cache.set("s", seededBytes(100, 1));
      let cancelled: unknown;
      let pulls = 0;
      const source = new ReadableStream<Uint8Array>({
        pull(controller) {
          pulls++;
          controller.enqueue(seededBytes(KiB, pulls));
        },
        cancel(reason) {
          cancelled = reason;
        },
      });
      assert.equal(await cache.set("s", source), false);
      assert.ok(cancelled instanceof RangeError);
      assert.ok(pulls <= 12, `${pulls} chunks pulled for a 10 KiB limit`);
      assert.equal(cache.has("s"), false);
      const stats = cache.statistics();
      assert.equal(stats.rejected, 2);
      assert.equal(stats.entries, 0);
      assert.deepEqual(await entryFiles(dir), []);
      assert.deepEqual(await tempFiles(dir), []);
    });
  },
);

/** Damages a stored entry; the read after must be a corrupt miss that removes it. */
const damages: Record<string, (path: string, dir: string) => Promise<void>> = {
  "a flipped payload bit": (path) => flipBit(path, -1),
  "a flipped bit in the digest": (path) => flipBit(path, 30),
  "a flipped bit in the magic": (path) => flipBit(path, 1),
  "a flipped bit in the length": (path) => flipBit(path, 8),
  "a flipped bit in the stored key": (path) => flipBit(path, HEADER),
  "a truncated file": (path) => Deno.truncate(path, 500),
  "an empty file": (path) => Deno.truncate(path, 0),
  "bytes appended": async (path) => {
    await Deno.writeFile(path, new Uint8Array(7), { append: true });
  },
  "another key's entry in its place": async (path, dir) => {
    await Deno.copyFile(entryPath(dir, "other"), path);
  },
};

for (const [damage, apply] of Object.entries(damages)) {
  testEachStrategy(`a corrupt entry is a counted miss and is removed: ${damage}`, async () => {
    await withTempDir(async (dir) => {
      await using cache = await DiskCache.open(dir, { maxBytes: MiB });
      await cache.set("other", seededBytes(2000, 9));
      for (const size of [2000, 100 * KiB]) {
        const key = `victim-${size}`;
        await cache.set(key, seededBytes(size, 1));
        await apply(entryPath(dir, key), dir);
        const before = cache.statistics();
        assert.equal(await cache.get(key), undefined);
        const after = cache.statistics();
        assert.equal(after.corrupt, before.corrupt + 1);
        assert.equal(after.misses, before.misses + 1);
        assert.equal(after.hits, before.hits);
        assert.equal(after.entries, before.entries - 1);
        assert.equal(cache.has(key), false);
        await assert.rejects(Deno.stat(entryPath(dir, key)), Deno.errors.NotFound);
      }
      assert.deepEqual(await cache.get("other"), seededBytes(2000, 9));
    });
  });
}

testEachStrategy(
  "getStream checks the digest at the end: corrupt entries error and go",
  async () => {
    await withTempDir(async (dir) => {
      await using cache = await DiskCache.open(dir, { maxBytes: 4 * MiB });
      const value = seededBytes(600 * KiB, 4);
      await cache.set("big", value);
      assert.deepEqual(await readAll((await cache.getStream("big"))!), value);
      await flipBit(entryPath(dir, "big"), -1);
      const stream = (await cache.getStream("big"))!;
      let received = 0;
      await assert.rejects(
        (async () => {
          for await (const chunk of stream) received += chunk.length;
        })(),
        CorruptEntryError,
      );
      assert.ok(received > 0 && received < value.length, `received ${received} bytes`);
      const stats = cache.statistics();
      assert.equal(stats.hits, 1);
      assert.equal(stats.corrupt, 1);
      assert.equal(stats.misses, 1);
      assert.equal(cache.has("big"), false);
      assert.equal(await cache.getStream("big"), undefined);
      // A damaged header is found before any chunk: no stream at all.
      await cache.set("head", value);
      await flipBit(entryPath(dir, "head"), 2);
      assert.equal(await cache.getStream("head"), undefined);
      assert.equal(cache.statistics().corrupt, 2);
      assert.deepEqual(await entryFiles(dir), []);
    });
  },
);

testEachStrategy("getStream streams, can be cancelled, and follows its signal", async () => {
  await withTempDir(async (dir) => {
    await using cache = await DiskCache.open(dir, { maxBytes: 4 * MiB });
    const value = seededBytes(MiB + 5, 5);
    await cache.set("big", value);
    const chunks: number[] = [];
    for await (const chunk of (await cache.getStream("big"))!) chunks.push(chunk.length);
    assert.ok(chunks.length > 1, "one chunk for 1 MiB");
    assert.equal(chunks.reduce((a, b) => a + b), value.length);
    assert.equal(await cache.getStream("missing"), undefined);
    // Cancelled after one chunk: the file is closed (the resource sanitizer checks it).
    const reader = (await cache.getStream("big"))!.getReader();
    assert.ok(!(await reader.read()).done);
    await reader.cancel();
    // A signal that aborts mid-stream errors it.
    const controller = new AbortController();
    const stream = (await cache.getStream("big", { signal: controller.signal }))!;
    const streamReader = stream.getReader();
    await streamReader.read();
    controller.abort(new Error("enough"));
    await assert.rejects(streamReader.read(), { message: "enough" });
    assert.equal(cache.statistics().corrupt, 0);
    // The entry is still intact.
    assert.deepEqual(await cache.get("big"), value);
  });
});

testEachStrategy("a file removed from outside is a plain miss", async () => {
  await withTempDir(async (dir) => {
    await using cache = await DiskCache.open(dir, { maxBytes: MiB });
    await cache.set("a", seededBytes(10, 1));
    await cache.set("b", seededBytes(10, 2));
    await Deno.remove(entryPath(dir, "a"));
    await Deno.remove(entryPath(dir, "b"));
    assert.equal(await cache.get("a"), undefined);
    assert.equal(await cache.getStream("b"), undefined);
    const stats = cache.statistics();
    assert.equal(stats.corrupt, 0);
    assert.equal(stats.misses, 2);
    assert.equal(stats.entries, 0);
    assert.equal(stats.bytes, 0);
  });
});

testEachStrategy("streamed sets: written as they arrive, any chunking", async () => {
  await withTempDir(async (dir) => {
    await using cache = await DiskCache.open(dir, { maxBytes: 16 * MiB });
    const value = seededBytes(2 * MiB + 3, 6);
    for (const size of [1, 1000, 64 * KiB, 300 * KiB, 4 * MiB]) {
      const data = size === 1 ? value.subarray(0, 5000) : value;
      assert.equal(await cache.set(`s-${size}`, chunked(data, size)), true);
      assert.deepEqual(await cache.get(`s-${size}`), data);
    }
    // Written as it arrives: when the source is asked for more, all but the last
    // chunks and the write buffer (256 KiB) are in the temporary file already.
    const chunk = 64 * KiB;
    let pulled = 0;
    let maxGap = 0;
    const source = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const temps = await tempFiles(dir);
        const written = temps.length === 1 ? (await Deno.stat(`${dir}/tmp/${temps[0]}`)).size : 0;
        maxGap = Math.max(maxGap, pulled - written);
        if (pulled === 8 * MiB) return controller.close();
        pulled += chunk;
        controller.enqueue(seededBytes(chunk, pulled));
      },
    }, { highWaterMark: 0 });
    assert.equal(await cache.set("lazy", source), true);
    assert.equal(pulled, 8 * MiB);
    assert.ok(maxGap <= 256 * KiB + 2 * chunk, `${maxGap} bytes read ahead of the file`);
    assert.equal((await cache.get("lazy"))?.length, 8 * MiB);
    assert.deepEqual(await tempFiles(dir), []);
  });
});

testEachStrategy("a source stream that errors fails the set and keeps the old entry", async () => {
  await withTempDir(async (dir) => {
    await using cache = await DiskCache.open(dir, { maxBytes: MiB });
    await cache.set("k", seededBytes(100, 1));
    let n = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (++n === 3) throw new Error("network down");
        controller.enqueue(seededBytes(KiB, n));
      },
    });
    await assert.rejects(cache.set("k", failing), { message: "network down" });
    assert.deepEqual(await cache.get("k"), seededBytes(100, 1));
    assert.deepEqual(await tempFiles(dir), []);
  });
});

testEachStrategy("concurrent sets of one key leave exactly one intact entry", async () => {
  await withTempDir(async (dir) => {
    const values = Array.from({ length: 12 }, (_, i) => seededBytes(1000 + i * 20_000, i));
    {
      await using cache = await DiskCache.open(dir, { maxBytes: 8 * MiB });
      await taskGroup((tg) => {
        for (const [i, value] of values.entries()) {
          tg.spawn(() => cache.set("same", i % 2 === 0 ? value : chunked(value, 7000)));
        }
      });
      const stored = (await cache.get("same"))!;
      assert.ok(values.some((value) => value.length === stored.length));
      assert.deepEqual(stored, values.find((value) => value.length === stored.length));
      const stats = cache.statistics();
      assert.equal(stats.entries, 1);
      assert.equal(stats.writes, values.length);
      assert.equal(stats.bytes, (await Deno.stat(entryPath(dir, "same"))).size);
      assert.equal((await entryFiles(dir)).length, 1);
      assert.deepEqual(await tempFiles(dir), []);
    }
    await using cache = await DiskCache.open(dir, { maxBytes: 8 * MiB });
    assert.equal(cache.size, 1);
    const stored = (await cache.get("same"))!;
    assert.ok(values.some((value) => value.length === stored.length));
  });
});

testEachStrategy(
  "reads during writes see the old or the new entry, never a partial one",
  async () => {
    await withTempDir(async (dir) => {
      await using cache = await DiskCache.open(dir, { maxBytes: 8 * MiB });
      const a = seededBytes(300 * KiB, 1);
      const b = seededBytes(200 * KiB, 2);
      await cache.set("k", a);
      let writing = true;
      let reads = 0;
      await taskGroup((tg) => {
        tg.spawn(async () => {
          for (let i = 0; i < 30; i++) {
            const value = i % 2 === 0 ? b : a;
            await cache.set("k", i % 3 === 0 ? chunked(value, 16 * KiB) : value);
          }
          writing = false;
        });
        for (let r = 0; r < 3; r++) {
          tg.spawn(async () => {
            while (writing) {
              const got = r === 0
                ? await readAll((await cache.getStream("k"))!)
                : await cache.get("k");
              reads++;
              assert.ok(got !== undefined, "the entry vanished during a replacement");
              assert.ok(
                equals(got, a) || equals(got, b),
                `a read saw a partial or mixed entry of ${got.length} bytes`,
              );
            }
          });
        }
      });
      assert.ok(reads > 0);
      assert.equal(cache.statistics().corrupt, 0);
      assert.equal(cache.size, 1);
    });
  },
);

testEachStrategy(
  "concurrent sets, gets and deletes of many keys keep the index and files in step",
  async () => {
    await withTempDir(async (dir) => {
      const maxBytes = 40 * KiB;
      await using cache = await DiskCache.open(dir, { maxBytes });
      const valueOf = (key: string) => seededBytes(KiB + Number(key.slice(1)) * 37, key.length);
      const random = mulberry32(7);
      const plan = Array.from(
        { length: 4 },
        () => Array.from({ length: 40 }, () => ({ key: `k${(random() * 30) | 0}`, op: random() })),
      );
      await taskGroup((tg) => {
        for (const ops of plan) {
          tg.spawn(async () => {
            for (const { key, op } of ops) {
              if (op < 0.5) {
                await cache.set(key, valueOf(key));
              } else if (op < 0.9) {
                const got = await cache.get(key);
                if (got !== undefined) assert.deepEqual(got, valueOf(key));
              } else await cache.delete(key);
            }
          });
        }
      });
      const stats = cache.statistics();
      assert.ok(stats.bytes <= maxBytes);
      assert.equal(stats.corrupt, 0);
      const paths = await entryFiles(dir);
      assert.equal(paths.length, stats.entries);
      let total = 0;
      for (const path of paths) total += (await Deno.stat(`${dir}/${path}`)).size;
      assert.equal(total, stats.bytes);
      assert.deepEqual(await tempFiles(dir), []);
    });
  },
);

/** A source that yields `chunks` chunks, then calls `then` and waits until cancelled. */
function stalling(chunks: number, then: () => void): {
  stream: ReadableStream<Uint8Array>;
  cancelled: () => boolean;
} {
  let pulls = 0;
  let cancelled = false;
  let release: (() => void) | undefined;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      if (pulls <= chunks) {
        controller.enqueue(seededBytes(32 * KiB, pulls));
        if (pulls === chunks) then();
        return;
      }
      return new Promise<void>((resolve) => release = resolve);
    },
    cancel() {
      cancelled = true;
      release?.();
    },
  });
  return { stream, cancelled: () => cancelled };
}

testEachStrategy(
  "a cancelled set leaves no temporary file and keeps the previous entry",
  async () => {
    await withTempDir(async (dir) => {
      await using cache = await DiskCache.open(dir, { maxBytes: 4 * MiB });
      await cache.set("k", seededBytes(100, 1));

      // By its signal, while waiting for the source.
      const controller = new AbortController();
      const reached = Promise.withResolvers<void>();
      const bySignal = stalling(3, () => reached.resolve());
      const pending = cache.set("k", bySignal.stream, { signal: controller.signal });
      await reached.promise;
      assert.equal((await tempFiles(dir)).length, 1, "no temporary file while writing");
      controller.abort(new Error("user gave up"));
      await assert.rejects(pending, { message: "user gave up" });
      assert.ok(bySignal.cancelled(), "the source was not cancelled");
      assert.deepEqual(await tempFiles(dir), []);
      assert.deepEqual(await cache.get("k"), seededBytes(100, 1));

      // By the enclosing scope, cancelled while the data arrives.
      const scope = new CancelScope();
      const byScope = stalling(2, () => scope.cancel("stop"));
      await scope.run(() => cache.set("k", byScope.stream));
      assert.ok(scope.cancelledCaught);
      assert.ok(byScope.cancelled());
      assert.deepEqual(await tempFiles(dir), []);
      assert.deepEqual(await cache.get("k"), seededBytes(100, 1));

      // An aborted signal stops every operation before it starts.
      const aborted = AbortSignal.abort(new Error("already"));
      await assert.rejects(cache.set("k", seededBytes(5, 5), { signal: aborted }), {
        message: "already",
      });
      await assert.rejects(cache.get("k", { signal: aborted }), { message: "already" });
      await assert.rejects(cache.getStream("k", { signal: aborted }), { message: "already" });
      await assert.rejects(cache.delete("k", { signal: aborted }), { message: "already" });
      await assert.rejects(cache.clear({ signal: aborted }), { message: "already" });
      await assert.rejects(cache.flush({ signal: aborted }), { message: "already" });
      await assert.rejects(
        DiskCache.open(`${dir}/other`, { maxBytes: MiB, signal: aborted }),
        { message: "already" },
      );
      assert.deepEqual(await cache.get("k"), seededBytes(100, 1));
      assert.deepEqual(await tempFiles(dir), []);
      const stats = cache.statistics();
      assert.equal(stats.writes, 1);
      assert.equal(stats.entries, 1);
    });
  },
);

testEachStrategy("a cancelled scope stops gets and sets between their steps", async () => {
  await withTempDir(async (dir) => {
    await using cache = await DiskCache.open(dir, { maxBytes: 4 * MiB });
    await cache.set("k", seededBytes(KiB, 1));
    // Cancelled before they run: nothing happens.
    for (const operation of [() => cache.set("k", seededBytes(KiB, 2)), () => cache.get("k")]) {
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(async () => {
        await operation();
        assert.fail("the operation ran in a cancelled scope");
      });
      assert.ok(scope.cancelledCaught);
    }
    assert.deepEqual(await cache.get("k"), seededBytes(KiB, 1));
    assert.equal(cache.statistics().hits, 1);
    assert.deepEqual(await tempFiles(dir), []);
  });
});

testEachStrategy("leftover temporary files are removed on open", async () => {
  await withTempDir(async (dir) => {
    {
      await using cache = await DiskCache.open(dir, { maxBytes: MiB });
      await cache.set("a", seededBytes(10, 1));
    }
    await Deno.writeFile(`${dir}/tmp/0123456789abcdef.tmp`, seededBytes(5000, 2));
    await Deno.writeFile(`${dir}/tmp/half-written`, seededBytes(10, 3));
    await using cache = await DiskCache.open(dir, { maxBytes: MiB });
    assert.deepEqual(await tempFiles(dir), []);
    assert.equal(cache.size, 1);
  });
});

testEachStrategy("a directory is open in one DiskCache at a time", async () => {
  await withTempDir(async (dir) => {
    const first = await DiskCache.open(dir, { maxBytes: MiB });
    await assert.rejects(DiskCache.open(dir, { maxBytes: MiB }), /in use/);
    await first.close();
    const second = await DiskCache.open(dir, { maxBytes: MiB });
    await second.close();
  });
});

testEachStrategy("another process cannot open a directory in use", async () => {
  await withTempDir(async (dir) => {
    const script = `import { DiskCache } from ${
      JSON.stringify(new URL("./disk_cache.ts", import.meta.url).href)
    };\nawait DiskCache.open(${JSON.stringify(dir)}, { maxBytes: 1024 });`;
    const attempt = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", script],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
    {
      await using _cache = await DiskCache.open(dir, { maxBytes: MiB });
      const { code, stderr } = await attempt();
      assert.notEqual(code, 0);
      assert.match(new TextDecoder().decode(stderr), /LockedError: .*in use by another process/);
    }
    const { code } = await attempt();
    assert.equal(code, 0);
  });
});

testEachStrategy("close: idempotent, ends open streams, refuses later operations", async () => {
  await withTempDir(async (dir) => {
    const cache = await DiskCache.open(dir, { maxBytes: 4 * MiB });
    await cache.set("k", seededBytes(MiB, 1));
    const reader = (await cache.getStream("k"))!.getReader();
    assert.ok(!(await reader.read()).done);
    await Promise.all([cache.close(), cache.close()]);
    assert.ok(cache.closed);
    await assert.rejects(reader.read(), ClosedResourceError);
    await assert.rejects(cache.get("k"), ClosedResourceError);
    await assert.rejects(cache.set("k", seededBytes(1, 1)), ClosedResourceError);
    await assert.rejects(cache.getStream("k"), ClosedResourceError);
    await assert.rejects(cache.delete("k"), ClosedResourceError);
    await assert.rejects(cache.clear(), ClosedResourceError);
    assert.throws(() => cache.has("k"), ClosedResourceError);
    assert.equal(cache.statistics().entries, 1);
    await cache.close();
    await using again = await DiskCache.open(dir, { maxBytes: 4 * MiB });
    assert.deepEqual(await again.get("k"), seededBytes(MiB, 1));
  });
});

testEachStrategy("close waits for operations in progress", async () => {
  await withTempDir(async (dir) => {
    const cache = await DiskCache.open(dir, { maxBytes: 4 * MiB });
    const writes = Array.from(
      { length: 8 },
      (_, i) => cache.set(`k${i}`, seededBytes(64 * KiB, i)),
    );
    await cache.close();
    assert.deepEqual(await Promise.all(writes), Array(8).fill(true));
    await using again = await DiskCache.open(dir, { maxBytes: 4 * MiB });
    assert.equal(again.size, 8);
    assert.deepEqual(await tempFiles(dir), []);
  });
});

testEachStrategy("clear removes every entry and its file", async () => {
  await withTempDir(async (dir) => {
    await using cache = await DiskCache.open(dir, { maxBytes: MiB });
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, seededBytes(100, i));
    await cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.statistics().bytes, 0);
    assert.deepEqual(await entryFiles(dir), []);
    assert.equal(await cache.get("k1"), undefined);
  });
});

testEachStrategy("ARC keeps frequently used entries through a scan; LRU does not", async () => {
  await withTempDir(async (dir) => {
    const survivors: Record<string, number> = {};
    for (const policy of ["arc", "lru"] as const) {
      // Room for 10 entries.
      const options = { maxBytes: 10 * (KiB + HEADER + 6), policy };
      await withCache(`${dir}/${policy}`, options, async (cache) => {
        for (let i = 0; i < 5; i++) {
          await cache.set(`hot-${i}`, seededBytes(KiB, i));
          await cache.get(`hot-${i}`);
        }
        for (let i = 0; i < 30; i++) await cache.set(`scan${i}`, seededBytes(KiB, 100 + i));
        survivors[policy] = 0;
        for (let i = 0; i < 5; i++) if (await cache.get(`hot-${i}`)) survivors[policy]++;
      });
    }
    assert.deepEqual(survivors, { arc: 5, lru: 0 });
  });
});

testEachStrategy(
  "open: a bad directory is a typed error, and a second opener a LockedError",
  async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/file`, "x");
      for (
        const [path, problem] of [[`${dir}/file`, "not-a-directory"], [
          `${dir}/file/c`,
          "not-a-directory",
        ]] as const
      ) {
        await assert.rejects(DiskCache.open(path, { maxBytes: MiB }), (error) => {
          assert.ok(error instanceof DirectoryError, String(error));
          assert.equal(error.problem, problem);
          assert.match(error.message, /^Cannot open disk cache: /);
          return true;
        });
      }
      {
        await using _cache = await DiskCache.open(`${dir}/c`, { maxBytes: MiB });
        await assert.rejects(DiskCache.open(`${dir}/c`, { maxBytes: MiB }), LockedError);
      }
      await Deno.mkdir(`${dir}/ro`);
      if (!(await mountTmpfs(`${dir}/ro`, { readOnly: true }))) return; // needs root
      try {
        await assert.rejects(DiskCache.open(`${dir}/ro`, { maxBytes: MiB }), (error) => {
          assert.ok(error instanceof DirectoryError);
          assert.equal(error.problem, "not-writable");
          return true;
        });
      } finally {
        await unmount(`${dir}/ro`);
      }
    });
  },
);

testEachStrategy(
  "open: a directory this user cannot write or list is a DirectoryError, new or existing",
  async () => {
    await withTempDir(async (dir) => {
      const child = new URL("./testdata/disk_cache_open_child.ts", import.meta.url).pathname;
      // An existing cache whose directory became read-only (0555), one that cannot be
      // listed (0333), and a new cache under a directory that cannot be written.
      for (const [name, mode] of [["readonly", 0o555], ["unlistable", 0o333]] as const) {
        await (await DiskCache.open(`${dir}/${name}`, { maxBytes: MiB })).close();
        await Deno.chmod(`${dir}/${name}`, mode);
      }
      await Deno.mkdir(`${dir}/locked`, { mode: 0o555 });
      await Deno.chmod(dir, 0o755);
      try {
        for (const path of [`${dir}/readonly`, `${dir}/unlistable`, `${dir}/locked/cache`]) {
          const output = await runWithoutFileCapabilities(child, [path]);
          if (output === undefined) {
            console.warn("cannot drop file capabilities here: permissions not tested");
            return;
          }
          assert.equal(output.code, 0, output.stderr);
          const result = JSON.parse(output.stdout);
          assert.equal(result.name, "DirectoryError", `${path}: ${output.stdout}`);
          assert.equal(result.problem, "not-writable", path);
          assert.match(
            result.message,
            /^Cannot open disk cache: \S+ (is not writable|cannot be read)/,
          );
        }
      } finally {
        for (const name of ["readonly", "unlistable", "locked"]) {
          await Deno.chmod(`${dir}/${name}`, 0o755);
        }
      }
    });
  },
);
