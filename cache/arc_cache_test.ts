import assert from "node:assert/strict";
import {
  CancelledError,
  currentTime,
  moveOnAfter,
  sleep,
  taskGroup,
  testEachStrategy,
} from "../runtime/mod.ts";
import { ArcCache, type ArcStatistics, type DisposeReason } from "./arc_cache.ts";
import { mulberry32 } from "../tests/cache_workloads.ts";

/** The paper's pseudo-code, literally, with Maps as LRU lists (first = LRU). */
class ReferenceArc {
  t1 = new Map<number, true>();
  t2 = new Map<number, true>();
  b1 = new Map<number, true>();
  b2 = new Map<number, true>();
  p = 0;
  constructor(readonly c: number) {}

  /** One request; returns whether it hit. */
  request(x: number): boolean {
    const { t1, t2, b1, b2, c } = this;
    if (t1.delete(x) || t2.delete(x)) {
      t2.set(x, true);
      return true;
    }
    if (b1.has(x)) {
      this.p = Math.min(this.p + (b1.size >= b2.size ? 1 : b2.size / b1.size), c);
      this.#replace(false);
      b1.delete(x);
      t2.set(x, true);
      return false;
    }
    if (b2.has(x)) {
      this.p = Math.max(this.p - (b2.size >= b1.size ? 1 : b1.size / b2.size), 0);
      this.#replace(true);
      b2.delete(x);
      t2.set(x, true);
      return false;
    }
    if (t1.size + b1.size === c) {
      if (t1.size < c) {
        b1.delete(first(b1));
        this.#replace(false);
      } else t1.delete(first(t1));
    } else {
      const total = t1.size + t2.size + b1.size + b2.size;
      if (total >= c) {
        if (total === 2 * c) b2.delete(first(b2));
        this.#replace(false);
      }
    }
    t1.set(x, true);
    return false;
  }

  #replace(inB2: boolean): void {
    const { t1, t2, b1, b2, p } = this;
    if (t1.size > 0 && (t1.size > p || (inB2 && t1.size === p))) {
      const k = first(t1);
      t1.delete(k);
      b1.set(k, true);
    } else {
      const k = first(t2);
      t2.delete(k);
      b2.set(k, true);
    }
  }
}

function first(map: Map<number, true>): number {
  return map.keys().next().value!;
}

/** The bounds ARC keeps, and the cache's own bookkeeping, checked against iteration. */
function checkInvariants<K extends string | number, V extends NonNullable<unknown>>(
  cache: ArcCache<K, V>,
  sizeOf?: (value: V) => number,
): ArcStatistics {
  const s = cache.statistics();
  const c = s.max;
  assert.ok(s.t1 + s.t2 <= c, `|T1|+|T2| = ${s.t1 + s.t2} > c = ${c}`);
  assert.ok(s.t1 + s.b1 <= c, `|T1|+|B1| = ${s.t1 + s.b1} > c = ${c}`);
  assert.ok(s.t1 + s.t2 + s.b1 + s.b2 <= 2 * c, `directory ${s.t1 + s.t2 + s.b1 + s.b2} > 2c`);
  assert.ok(s.p >= 0 && s.p <= c, `p = ${s.p} outside [0, ${c}]`);
  assert.ok(s.bytes <= s.maxSize, `bytes ${s.bytes} > maxSize ${s.maxSize}`);
  assert.equal(s.entries, s.t1 + s.t2);
  assert.equal(cache.size, s.entries);
  assert.equal(cache.calculatedSize, s.bytes);
  const entries = [...cache.entries()];
  assert.equal(entries.length, s.entries);
  assert.equal(new Set(entries.map(([key]) => key)).size, entries.length);
  let bytes = 0;
  for (const [key, value] of entries) {
    assert.ok(cache.has(key));
    assert.equal(cache.peek(key), value);
    if (sizeOf) bytes += sizeOf(value);
  }
  if (sizeOf) assert.equal(bytes, s.bytes);
  return s;
}

/** T1 and T2 keys as the cache lists them (each most recent first). */
function lists<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(
  cache: ArcCache<K, V>,
): [K[], K[]] {
  const keys = [...cache.keys()];
  const t1 = cache.statistics().t1;
  return [keys.slice(0, t1), keys.slice(t1)];
}

testEachStrategy("constructor validates its options", () => {
  for (const max of [0, -1, 1.5, NaN, Infinity, undefined]) {
    assert.throws(() => new ArcCache({ max: max as number }), RangeError);
  }
  assert.throws(() => new ArcCache({ max: 1, maxSize: 0 }), RangeError);
  assert.throws(() => new ArcCache({ max: 1, maxEntrySize: -1 }), RangeError);
  assert.throws(
    () => new ArcCache<string, string>({ max: 1, sizeCalculation: (v) => v.length }),
    /sizeCalculation requires maxSize or maxEntrySize/,
  );
  assert.throws(
    () => new ArcCache({ max: 1, dispose: 42 as unknown as () => void }),
    TypeError,
  );
  const cache = new ArcCache<string, string>({ max: 3, maxSize: 100 });
  assert.equal(cache.max, 3);
  assert.equal(cache.maxSize, 100);
  assert.equal(new ArcCache({ max: 3 }).maxSize, Infinity);
});

testEachStrategy("get, set, has, peek, delete", () => {
  const cache = new ArcCache<string, number>({ max: 3 });
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.set("a", 1), cache);
  assert.equal(cache.has("a"), true);
  assert.equal(cache.peek("a"), 1);
  assert.equal(cache.get("a"), 1);
  cache.set("a", 2);
  assert.equal(cache.get("a"), 2);
  assert.equal(cache.size, 1);
  assert.equal(cache.delete("a"), true);
  assert.equal(cache.delete("a"), false);
  assert.equal(cache.has("a"), false);
  assert.equal(cache.get("a"), undefined);
  cache.set("b", 1);
  cache.set("b", undefined as unknown as number); // as lru-cache: undefined deletes
  assert.equal(cache.has("b"), false);
  assert.equal(cache.size, 0);
});

testEachStrategy("peek and has neither count nor move", () => {
  const cache = new ArcCache<string, number>({ max: 2 });
  cache.set("a", 1).set("b", 2);
  assert.equal(cache.peek("a"), 1);
  assert.equal(cache.has("a"), true);
  assert.equal(cache.peek("zz"), undefined);
  const s = cache.statistics();
  assert.deepEqual([s.hits, s.misses, s.t1, s.t2], [0, 0, 2, 0]);
  cache.set("c", 3); // "a" is still T1's least recent entry: it goes
  assert.equal(cache.has("a"), false);
  assert.equal(cache.has("b"), true);
});

testEachStrategy("a hand-worked ARC run with c = 2: cases I to IV and p", () => {
  const disposed: string[] = [];
  const cache = new ArcCache<string, string>({
    max: 2,
    dispose: (value, key, reason) => disposed.push(`${key}=${value}:${reason}`),
  });
  const state = () => {
    const s = cache.statistics();
    return { lists: lists(cache), b1: s.b1, b2: s.b2, p: s.p };
  };
  cache.set("a", "A").set("b", "B");
  assert.deepEqual(state(), { lists: [["b", "a"], []], b1: 0, b2: 0, p: 0 });
  assert.equal(cache.get("a"), "A"); // case I: a moves to T2
  assert.deepEqual(state(), { lists: [["b"], ["a"]], b1: 0, b2: 0, p: 0 });
  cache.set("c", "C"); // case IV: REPLACE moves b (T1 > p) to B1
  assert.deepEqual(state(), { lists: [["c"], ["a"]], b1: 1, b2: 0, p: 0 });
  assert.equal(cache.get("b"), undefined); // a ghost: a miss in B1
  cache.set("b", "B2"); // case II: p = 1; |T1| = p, so REPLACE takes a from T2 to B2
  assert.deepEqual(state(), { lists: [["c"], ["b"]], b1: 0, b2: 1, p: 1 });
  assert.equal(cache.get("a"), undefined);
  cache.set("a", "A2"); // case III: p = 0; REPLACE takes c from T1 to B1
  assert.deepEqual(state(), { lists: [[], ["a", "b"]], b1: 1, b2: 0, p: 0 });
  assert.deepEqual(disposed, ["b=B:evict", "a=A:evict", "c=C:evict"]);
  const s = cache.statistics();
  assert.deepEqual(
    [s.hits, s.hitsT1, s.hitsT2, s.misses, s.missesB1, s.missesB2, s.missesCold, s.evictions],
    [1, 1, 0, 2, 1, 1, 0, 3],
  );
});

testEachStrategy("matches a literal transcription of the paper on random requests", () => {
  for (const [seed, c, keys] of [[1, 4, 12], [2, 16, 40], [3, 50, 400], [4, 1, 3]]) {
    const random = mulberry32(seed);
    const cache = new ArcCache<number, number>({ max: c });
    const reference = new ReferenceArc(c);
    let hits = 0;
    for (let i = 0; i < 5_000; i++) {
      // Skewed keys so that both T2 and the ghost lists see traffic.
      const x = Math.floor(keys * random() ** 2);
      const hit = cache.get(x) !== undefined;
      if (!hit) cache.set(x, i);
      assert.equal(hit, reference.request(x), `request ${i} for ${x}`);
      if (hit) hits++;
      const [t1, t2] = lists(cache);
      assert.deepEqual(t1, [...reference.t1.keys()].reverse());
      assert.deepEqual(t2, [...reference.t2.keys()].reverse());
      const s = checkInvariants(cache);
      assert.deepEqual([s.b1, s.b2, s.p], [reference.b1.size, reference.b2.size, reference.p]);
    }
    assert.equal(cache.statistics().hits, hits);
    assert.ok(hits > 0);
  }
});

testEachStrategy("resists a scan: entries seen twice survive a long one-time scan", () => {
  const cache = new ArcCache<string, number>({ max: 100 });
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 50; i++) {
      if (cache.get(`hot${i}`) === undefined) cache.set(`hot${i}`, i);
    }
  }
  for (let i = 0; i < 10_000; i++) cache.set(`scan${i}`, i);
  for (let i = 0; i < 50; i++) assert.equal(cache.get(`hot${i}`), i);
  checkInvariants(cache);
});

testEachStrategy("random workloads keep ARC's bounds after every operation", () => {
  type Value = { id: number; size: number };
  const configs = [
    { max: 1 },
    { max: 7 },
    { max: 32 },
    { max: 8, maxSize: 40 },
    { max: 64, maxSize: 100 },
    { max: 16, maxSize: 200, maxEntrySize: 30 },
  ];
  let id = 0;
  for (const [n, config] of configs.entries()) {
    const random = mulberry32(100 + n);
    const sized = config.maxSize !== undefined;
    const live = new Map<number, Value>(); // key -> last value set and not removed
    const disposed = new Set<Value>();
    const cache = new ArcCache<number, Value>({
      ...config,
      ...(sized ? { sizeCalculation: (value: Value) => value.size } : {}),
      dispose: (value, key, reason) => {
        assert.ok(!disposed.has(value), "a value is disposed once");
        disposed.add(value);
        assert.equal(cache.has(key) && cache.peek(key) === value, false);
        if (reason !== "set") assert.equal(live.get(key), value);
        if (reason === "delete" || reason === "clear" || reason === "evict") live.delete(key);
      },
    });
    const keySpace = config.max * 4;
    for (let i = 0; i < 20_000; i++) {
      const key = Math.floor(keySpace * random() ** 1.5);
      const roll = random();
      if (roll < 0.45) {
        const value = cache.get(key);
        if (value !== undefined) assert.equal(value, live.get(key));
      } else if (roll < 0.9) {
        const value = { id: id++, size: Math.floor(random() * 35) };
        cache.set(key, value);
        const rejected = value.size > (config.maxEntrySize ?? config.maxSize ?? Infinity);
        if (rejected) {
          assert.equal(cache.has(key), false);
          live.delete(key);
        } else {
          assert.equal(cache.peek(key), value, "a value just set is cached");
          live.set(key, value);
        }
      } else if (roll < 0.97) {
        const cached = live.has(key);
        assert.equal(cache.delete(key), cached);
      } else if (roll < 0.999) {
        assert.equal(cache.has(key), live.has(key));
      } else {
        cache.clear();
        assert.equal(cache.size, 0);
      }
      const s = checkInvariants(cache, sized ? (value) => value.size : undefined);
      // Whatever is cached is the latest value for its key; nothing else is.
      assert.equal(s.entries, live.size);
      for (const [key, value] of cache) assert.equal(live.get(key), value);
    }
    assert.ok(cache.statistics().evictions > 0);
  }
});

testEachStrategy("re-adding evicted keys at the entry limit keeps working", () => {
  for (const config of [{ max: 8 }, { max: 8, maxSize: 8 * 3, sizeCalculation: () => 3 }]) {
    const cache = new ArcCache<number, number>(config);
    const random = mulberry32(7);
    for (let i = 0; i < 100_000; i++) {
      // A cycle just longer than the directory, then random re-adds of evicted keys.
      const key = i < 50_000 ? i % 17 : Math.floor(random() * 24);
      cache.set(key, i);
      assert.equal(cache.get(key), i);
      const s = cache.statistics();
      assert.ok(s.entries <= 8 && s.t1 + s.b1 <= 8 && s.t1 + s.t2 + s.b1 + s.b2 <= 16);
      assert.ok(s.p >= 0 && s.p <= 8 && s.bytes <= cache.maxSize);
    }
    const s = checkInvariants(cache);
    assert.equal(s.entries, 8);
    assert.ok(s.b1 + s.b2 > 0);
  }
});

testEachStrategy(
  "byte budget: REPLACE runs until the sizes fit; oversized entries are not cached",
  () => {
    const disposed: string[] = [];
    const cache = new ArcCache<string, string>({
      max: 10,
      maxSize: 10,
      sizeCalculation: (value) => value.length,
      dispose: (value, key, reason) => disposed.push(`${key}=${value}:${reason}`),
    });
    cache.set("a", "aaaa").set("b", "bbbb");
    assert.equal(cache.calculatedSize, 8);
    cache.set("c", "cccc"); // 12 > 10: T1's least recent entry goes to B1
    assert.deepEqual(lists(cache), [["c", "b"], []]);
    assert.equal(cache.statistics().b1, 1);
    assert.equal(cache.calculatedSize, 8);
    cache.get("b"); // b moves to T2
    cache.set("d", "ddddddd"); // 15 > 10: c (T1 above its target share) then b go
    assert.deepEqual(lists(cache), [["d"], []]);
    assert.deepEqual(disposed, ["a=aaaa:evict", "c=cccc:evict", "b=bbbb:evict"]);
    cache.set("e", "x".repeat(11)); // larger than maxSize: not cached
    assert.equal(cache.has("e"), false);
    cache.set("d", "y".repeat(11)); // replaces d's value by one too large: d goes
    assert.equal(cache.has("d"), false);
    assert.equal(disposed.at(-1), "d=ddddddd:set");
    assert.equal(cache.statistics().rejected, 2);
    cache.set("f", "ff", { size: 9 }); // an explicit size wins over sizeCalculation
    assert.equal(cache.calculatedSize, 9);
    assert.throws(() => cache.set("g", "g", { size: -1 }), /size must be a non-negative integer/);
    assert.throws(() => cache.set("g", "g", { size: 1.5 }), TypeError);
    const unsized = new ArcCache<string, string>({ max: 2, maxSize: 10 });
    assert.throws(() => unsized.set("a", "a"), /a size is required/);
    const small = new ArcCache<string, string>({ max: 4, maxSize: 100, maxEntrySize: 3 });
    small.set("a", "aaa", { size: 3 }).set("b", "bbbb", { size: 4 });
    assert.deepEqual([small.has("a"), small.has("b")], [true, false]);
  },
);

testEachStrategy("a set that grows an entry shrinks the others, never the entry itself", () => {
  const cache = new ArcCache<string, string>({
    max: 10,
    maxSize: 10,
    sizeCalculation: (value) => value.length,
  });
  cache.set("a", "aaa").set("b", "bbb").set("c", "ccc");
  cache.set("a", "a".repeat(9)); // a moves to T2 and now needs 9 bytes: b and c go
  assert.deepEqual(lists(cache), [[], ["a"]]);
  assert.equal(cache.calculatedSize, 9);
  checkInvariants(cache, (value) => value.length);
});

testEachStrategy("dispose reasons: evict, set, delete, clear", () => {
  const calls: [string, string, DisposeReason][] = [];
  const cache = new ArcCache<string, string>({
    max: 2,
    dispose: (value, key, reason) => calls.push([value, key, reason]),
  });
  cache.set("a", "1").set("a", "1"); // the same value: nothing disposed
  assert.deepEqual(calls, []);
  cache.set("a", "2");
  assert.deepEqual(calls.pop(), ["1", "a", "set"]);
  cache.set("b", "3").set("c", "4");
  assert.deepEqual(calls.pop(), ["3", "b", "evict"]);
  cache.delete("c");
  assert.deepEqual(calls.pop(), ["4", "c", "delete"]);
  cache.set("d", "5");
  cache.clear();
  assert.deepEqual(calls.sort(), [["2", "a", "clear"], ["5", "d", "clear"]]);
  const s = cache.statistics();
  assert.deepEqual([s.entries, s.b1, s.b2, s.p, s.bytes], [0, 0, 0, 0, 0]);
});

testEachStrategy("dispose runs once the operation is done and may use the cache", () => {
  const seen: boolean[] = [];
  const cache: ArcCache<string, string> = new ArcCache<string, string>({
    max: 2,
    dispose: (_value, key, reason) => {
      seen.push(cache.has(key));
      checkInvariants(cache);
      if (reason === "evict" && key === "a") cache.set("a-again", "x"); // re-entrant use
    },
  });
  cache.set("a", "1").set("b", "2").set("c", "3");
  assert.deepEqual(seen.slice(0, 1), [false]);
  checkInvariants(cache);
  assert.equal(cache.size, 2);
});

testEachStrategy("a throwing dispose is re-thrown after every disposal ran", () => {
  const calls: string[] = [];
  const cache = new ArcCache<string, string>({
    max: 10,
    maxSize: 10,
    sizeCalculation: (value) => value.length,
    dispose: (_value, key) => {
      calls.push(key);
      throw new Error(`dispose ${key}`);
    },
  });
  cache.set("a", "aaaa").set("b", "bbbb");
  assert.throws(() => cache.set("c", "c".repeat(10)), /dispose a/);
  assert.deepEqual(calls, ["a", "b"]);
  assert.equal(cache.get("c"), "c".repeat(10));
  checkInvariants(cache, (value) => value.length);
});

testEachStrategy("ghost keys: no value, counted as misses per list, delete forgets them", () => {
  const cache = new ArcCache<string, number>({ max: 2 });
  cache.set("a", 1).set("b", 2);
  cache.get("b"); // T2
  cache.set("c", 3); // a goes to B1
  cache.get("c"); // T2; T1 is empty
  cache.set("d", 4); // T1 is empty, so REPLACE takes b from T2 to B2
  const s = cache.statistics();
  assert.deepEqual([s.t1, s.t2, s.b1, s.b2], [1, 1, 1, 1]);
  for (const key of ["a", "b"]) {
    assert.equal(cache.has(key), false);
    assert.equal(cache.peek(key), undefined);
    assert.equal(cache.get(key), undefined);
  }
  cache.get("zz");
  const after = cache.statistics();
  assert.deepEqual([after.missesB1, after.missesB2, after.missesCold], [1, 1, 1]);
  assert.equal(after.misses, 3);
  assert.equal(cache.delete("a"), false);
  assert.equal(cache.statistics().b1, 0);
  assert.deepEqual([...cache.keys()].sort(), ["c", "d"]);
});

testEachStrategy("iteration: T1 then T2, most recent first; removals skipped", () => {
  const cache = new ArcCache<string, number>({ max: 5 });
  cache.set("a", 1).set("b", 2).set("c", 3).set("d", 4);
  cache.get("a");
  cache.get("c");
  assert.deepEqual([...cache.keys()], ["d", "b", "c", "a"]);
  assert.deepEqual([...cache.values()], [4, 2, 3, 1]);
  assert.deepEqual([...cache], [["d", 4], ["b", 2], ["c", 3], ["a", 1]]);
  const seen: string[] = [];
  cache.forEach((value, key, self) => {
    assert.equal(self, cache);
    assert.equal(self.peek(key), value);
    seen.push(key);
  });
  assert.deepEqual(seen, ["d", "b", "c", "a"]);
  const visited: string[] = [];
  for (const [key] of cache) {
    visited.push(key);
    if (key === "d") {
      cache.delete("c"); // not visited
      cache.set("e", 5); // added during the iteration: not visited
    }
  }
  assert.deepEqual(visited, ["d", "b", "a"]);
  assert.equal(checkInvariants(cache).max, 5);
});

testEachStrategy("fetch: concurrent misses for a key run one loader", async () => {
  const cache = new ArcCache<string, string>({ max: 10 });
  let loads = 0;
  const loader = async (key: string, { signal }: { signal: AbortSignal }) => {
    loads++;
    await sleep(10);
    assert.equal(signal.aborted, false);
    return key.toUpperCase();
  };
  const results: string[] = [];
  await taskGroup((tg) => {
    for (let i = 0; i < 5; i++) tg.spawn(async () => results.push(await cache.fetch("x", loader)));
    tg.spawn(async () => results.push(await cache.fetch("y", loader)));
  });
  assert.deepEqual(results.sort(), ["X", "X", "X", "X", "X", "Y"]);
  assert.equal(loads, 2);
  assert.equal(cache.statistics().loads, 2);
  assert.equal(cache.peek("x"), "X");
  assert.equal(await cache.fetch("x", loader), "X"); // a hit: no load
  assert.equal(loads, 2);
}, { virtualClock: 0 });

testEachStrategy("fetch: a caller that aborts rejects alone; the load goes on", async () => {
  const cache = new ArcCache<string, string>({ max: 10 });
  let loaderSignal: AbortSignal | undefined;
  let loads = 0;
  const loader = async (_key: string, { signal }: { signal: AbortSignal }) => {
    loads++;
    loaderSignal = signal;
    await sleep(100);
    return "value";
  };
  const controller = new AbortController();
  const reason = new Error("caller went away");
  const outcomes: string[] = [];
  await taskGroup((tg) => {
    tg.spawn(async () => {
      await cache.fetch("k", loader, { signal: controller.signal }).then(
        () => outcomes.push("first resolved"),
        (error) => {
          assert.equal(error, reason);
          outcomes.push(`first rejected at ${currentTime()}`);
        },
      );
    });
    tg.spawn(async () => outcomes.push(`second got ${await cache.fetch("k", loader)}`));
    tg.spawn(async () => {
      await sleep(10);
      controller.abort(reason);
    });
  });
  assert.deepEqual(outcomes, ["first rejected at 10", "second got value"]);
  assert.equal(loads, 1);
  assert.equal(loaderSignal!.aborted, false);
  assert.equal(cache.peek("k"), "value");
}, { virtualClock: 0 });

testEachStrategy(
  "fetch: when every caller has gone the loader is aborted and awaited",
  async () => {
    const cache = new ArcCache<string, string>({ max: 10 });
    const events: string[] = [];
    let loaderSignal: AbortSignal | undefined;
    const slow = async (_key: string, { signal }: { signal: AbortSignal }) => {
      loaderSignal = signal;
      try {
        await sleep(1_000);
        return "late";
      } finally {
        events.push(`loader settled at ${currentTime()}`);
      }
    };
    const a = new AbortController();
    const b = new AbortController();
    await taskGroup((tg) => {
      for (const [name, controller] of [["a", a], ["b", b]] as const) {
        tg.spawn(async () => {
          const error = await cache.fetch("k", slow, { signal: controller.signal }).catch((e) => e);
          assert.equal(error, controller.signal.reason);
          events.push(`${name} rejected at ${currentTime()}`);
        });
      }
      tg.spawn(async () => {
        await sleep(5);
        a.abort(new Error("a"));
        await sleep(5);
        b.abort(new Error("b"));
      });
    });
    assert.deepEqual(events, ["a rejected at 5", "loader settled at 10", "b rejected at 10"]);
    assert.equal(loaderSignal!.aborted, true);
    assert.equal(cache.has("k"), false);
    // A later fetch starts a fresh load.
    assert.equal(await cache.fetch("k", () => "fresh"), "fresh");
    assert.equal(cache.statistics().loads, 2);
  },
  { virtualClock: 0 },
);

testEachStrategy("fetch: a caller's cancel scope stops its wait only", async () => {
  const cache = new ArcCache<string, number>({ max: 10 });
  const loader = async () => (await sleep(50), 7);
  let second: number | undefined;
  await taskGroup((tg) => {
    tg.spawn(async () => {
      const result = await moveOnAfter(10, async (scope) => {
        await cache.fetch("k", loader);
        assert.fail(`should have been cancelled: ${scope.cancelled}`);
      });
      assert.equal(result, undefined);
      assert.equal(currentTime(), 10);
    });
    tg.spawn(async () => second = await cache.fetch("k", loader));
  });
  assert.equal(second, 7);
  assert.equal(currentTime(), 50);
  assert.equal(cache.peek("k"), 7);
}, { virtualClock: 0 });

testEachStrategy("fetch: an already aborted signal or cancelled scope loads nothing", async () => {
  const cache = new ArcCache<string, number>({ max: 10 });
  let loads = 0;
  const loader = () => ++loads;
  const reason = new Error("already");
  await assert.rejects(
    cache.fetch("k", loader, { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  await moveOnAfter(0, async (scope) => {
    scope.cancel();
    await assert.rejects(cache.fetch("k", loader), CancelledError);
  });
  assert.equal(loads, 0);
  assert.equal(cache.statistics().loads, 0);
}, { virtualClock: 0 });

testEachStrategy("fetch: a loader's error reaches every caller and is not cached", async () => {
  const cache = new ArcCache<string, number>({ max: 10 });
  const boom = new Error("boom");
  let loads = 0;
  const failing = async () => {
    loads++;
    await sleep(5);
    throw boom;
  };
  const errors: unknown[] = [];
  await taskGroup((tg) => {
    for (let i = 0; i < 3; i++) {
      tg.spawn(async () => errors.push(await cache.fetch("k", failing).catch((e) => e)));
    }
  });
  assert.deepEqual(errors, [boom, boom, boom]);
  assert.equal(loads, 1);
  assert.equal(cache.has("k"), false);
  await assert.rejects(
    cache.fetch("k", () => {
      throw boom; // a synchronous throw too
    }),
    (error) => error === boom,
  );
  await assert.rejects(
    cache.fetch("k", () => undefined as unknown as number),
    /the loader returned undefined/,
  );
  assert.equal(await cache.fetch("k", () => 3), 3);
  assert.equal(cache.peek("k"), 3);
}, { virtualClock: 0 });

testEachStrategy("fetch: a set during the load wins over the loaded value", async () => {
  const cache = new ArcCache<string, string>({ max: 10 });
  const pending = cache.fetch("k", async () => (await sleep(10), "loaded"));
  cache.set("k", "explicit");
  assert.equal(await pending, "loaded");
  assert.equal(cache.peek("k"), "explicit");
}, { virtualClock: 0 });
