// ARC conformance on the OLTP trace of Megiddo and Modha, "ARC: A Self-Tuning,
// Low Overhead Replacement Cache", FAST 2003 (Table IV). The trace lives in
// `../shared/traces` beside the project on developer machines and in CI; the
// test skips where it is absent, unless IPFS_KIT_REQUIRE_SERVICES=1.

import assert from "node:assert/strict";
import { checkpoint, testEachStrategy } from "../runtime/mod.ts";
import { ArcCache } from "./arc_cache.ts";
import { lruHits, readTrace, type Trace } from "../tests/cache_workloads.ts";

const TRACES = new URL("../../shared/traces/", import.meta.url);
const OLTP = new URL("OLTP.lis.gz", TRACES);

/** Table IV of the paper: cache size in pages, LRU % (to two places), ARC %. */
const PAPER: ReadonlyArray<readonly [size: number, lru: string, arc: number]> = [
  [1_000, "32.83", 38.93],
  [2_000, "42.47", 46.08],
  [5_000, "53.65", 55.25],
  [15_000, "64.63", 65.40],
];

function present(): boolean {
  try {
    return Deno.statSync(OLTP).isFile;
  } catch {
    return false;
  }
}

const available = present();
const required = Deno.env.get("IPFS_KIT_REQUIRE_SERVICES") === "1";

let loading: Promise<Trace> | undefined;
/** The trace, read once per test process. */
function trace(): Promise<Trace> {
  return loading ??= readTrace(OLTP);
}

if (!available && required) {
  testEachStrategy("OLTP trace is present", () => {
    throw new Error(
      `Cannot run ARC conformance: OLTP trace not found: expected ${OLTP.pathname} ` +
        "(IPFS_KIT_REQUIRE_SERVICES=1)",
    );
  });
} else {
  const ignore = !available;

  testEachStrategy("OLTP trace parses to the README's counts", async () => {
    const { pages, requests } = await trace();
    assert.equal(requests, 914_145);
    assert.equal(new Set(pages).size, 186_880);
  }, { ignore });

  for (const [size, lruPercent, arcPercent] of PAPER) {
    testEachStrategy(
      `ARC on OLTP at ${size} pages is within 0.1 points of the paper (${arcPercent}%)`,
      async () => {
        const { pages } = await trace();
        const cache = new ArcCache<number, true>({ max: size });
        for (let i = 0; i < pages.length; i++) {
          const page = pages[i];
          if (cache.get(page) === undefined) cache.set(page, true);
          if ((i & 0xffff) === 0) await checkpoint();
        }
        const stats = cache.statistics();
        assert.equal(stats.hits + stats.misses, pages.length);
        const percent = (100 * stats.hits) / pages.length;
        assert.ok(
          Math.abs(percent - arcPercent) <= 0.1,
          `ARC hit ratio ${percent.toFixed(3)}% at ${size} pages, paper ${arcPercent}%`,
        );
        assert.equal(stats.entries, size);
        assert.ok(stats.t1 + stats.b1 <= size && stats.b1 + stats.b2 <= size);
        assert.ok(stats.p >= 0 && stats.p <= size);
      },
      { ignore },
    );

    testEachStrategy(`LRU on OLTP at ${size} pages equals the paper (${lruPercent}%)`, async () => {
      const { pages } = await trace();
      await checkpoint();
      const percent = (100 * lruHits(pages, size)) / pages.length;
      assert.equal(percent.toFixed(2), lruPercent);
    }, { ignore });
  }

  testEachStrategy("ARC through fetch on OLTP at 1000 pages matches get/set", async () => {
    const { pages } = await trace();
    const direct = new ArcCache<number, true>({ max: 1_000 });
    const fetched = new ArcCache<number, true>({ max: 1_000 });
    const load = () => true as const;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const page = pages[i];
      if (direct.get(page) === undefined) direct.set(page, true);
      await fetched.fetch(page, load);
    }
    const a = direct.statistics();
    const b = fetched.statistics();
    assert.deepEqual(
      [b.hits, b.t1, b.t2, b.b1, b.b2, b.p, b.loads],
      [a.hits, a.t1, a.t2, a.b1, a.b2, a.p, a.misses],
    );
    assert.deepEqual([...fetched.keys()], [...direct.keys()]);
  }, { ignore });
}
