// Crash trials: a child process (testdata/disk_cache_crash_child.ts) writes
// random entries of 0 to 1 MiB from concurrent writers, as bytes and as
// streams, printing each set before it starts and once acknowledged; the
// parent kills it with SIGKILL at a random moment, reopens the cache and
// checks that every entry reads back intact or is absent, that no entry is
// corrupt (a kill never exposes a partial one), that every acknowledged set
// is there (the budget is far above what the child writes, so nothing is
// evicted) and that no temporary file is left. The trials of one test share
// the directory, so each child also opens the cache its predecessor left.

import assert from "node:assert/strict";
import { equals } from "npm:multiformats@14.0.5/bytes";
import { testEachStrategy } from "../runtime/testing.ts";
import { runAndKill, runTrials, type TrialPlan } from "../tests/_crash.ts";
import { DiskCache } from "./disk_cache.ts";
import { crashPayload, MAX_BYTES } from "./testdata/disk_cache_crash_child.ts";

const CHILD = new URL("./testdata/disk_cache_crash_child.ts", import.meta.url).pathname;
/**
 * Trials per strategy: fewer on a slow machine, but never fewer than 12 that
 * killed the child after it acknowledged a write (see `runTrials`).
 */
const PLAN: TrialPlan = { trials: 45, minWorking: 12, budgetMs: 14_000, limitMs: 180_000 };
const WRITERS = 4;

/** What one child printed before it was killed. */
interface TrialOutput {
  ready: boolean;
  begun: Array<{ key: number; version: number; size: number }>;
  acknowledged: Array<{ key: number; version: number }>;
}

/** Runs one child and kills it: early (maybe while it opens the cache) or while writing. */
async function runTrial(
  dir: string,
  strategy: string,
  firstVersion: number,
): Promise<TrialOutput> {
  const lines = await runAndKill({
    script: CHILD,
    dir,
    args: [
      strategy,
      String(WRITERS),
      String(firstVersion),
      String(Math.floor(Math.random() * 2 ** 31)),
    ],
    earlyKillMs: 250,
    lateKillMs: 80,
  });
  const output: TrialOutput = { ready: false, begun: [], acknowledged: [] };
  for (const line of lines) {
    const [kind, a, b, c] = line.split(" ");
    if (kind === "ready") output.ready = true;
    else if (kind === "b") output.begun.push({ key: +a, version: +b, size: +c });
    else if (kind === "a") output.acknowledged.push({ key: +a, version: +b });
    else assert.fail(`unexpected line from child: ${line}`);
  }
  return output;
}

testEachStrategy(
  "crash trials: SIGKILL at random moments while writing, then every entry is intact or absent",
  async ({ strategy }) => {
    const dir = await Deno.makeTempDir({ prefix: "disk-cache-crash-" });
    const started = performance.now();
    /** Per key: every version begun, with its size. */
    const begun = new Map<number, Map<number, number>>();
    /**
     * Per key: the version it must hold at least (the last acknowledged one,
     * or a later one found on disk after a kill, which is then stored for good).
     */
    const floor = new Map<number, number>();
    let acknowledgedTotal = 0;
    let unacknowledgedFound = 0;
    let checked = 0;
    let summary;
    try {
      summary = await runTrials(`disk cache crash trials [${strategy}]`, PLAN, async (trial) => {
        const output = await runTrial(dir, strategy, trial * 1_000_000);
        acknowledgedTotal += output.acknowledged.length;
        for (const { key, version, size } of output.begun) {
          if (!begun.has(key)) begun.set(key, new Map());
          begun.get(key)!.set(version, size);
        }
        for (const { key, version } of output.acknowledged) {
          assert.ok(begun.get(key)?.has(version), `version ${version} acknowledged, never begun`);
          floor.set(key, Math.max(floor.get(key) ?? -1, version));
        }

        await using cache = await DiskCache.open(dir, { maxBytes: MAX_BYTES });
        assert.deepEqual([...Deno.readDirSync(`${dir}/tmp`)], [], "temporary files left");
        let present = 0;
        for (const [key, versions] of begun) {
          const value = await cache.get(`key-${key}`);
          const least = floor.get(key);
          if (value === undefined) {
            assert.equal(least, undefined, `key-${key}: acknowledged version ${least} lost`);
            continue;
          }
          present++;
          // Which version is it? One whose payload it is, byte for byte (the latest such:
          // tiny payloads, empty ones at least, are the same for several versions).
          let found: number | undefined;
          for (const [version, size] of versions) {
            if (found !== undefined && version < found) continue;
            if (size === value.length && equals(value, crashPayload(version, size))) {
              found = version;
            }
          }
          assert.ok(found !== undefined, `key-${key}: ${value.length} bytes of no version begun`);
          assert.ok(
            least === undefined || found >= least,
            `key-${key}: holds version ${found}, older than acknowledged version ${least}`,
          );
          if (found !== least) unacknowledgedFound++;
          floor.set(key, found);
          checked++;
        }
        const stats = cache.statistics();
        assert.equal(stats.corrupt, 0, "a killed write exposed a corrupt entry");
        assert.equal(stats.evictions, 0);
        assert.equal(stats.entries, present, "entries that no set of the child wrote");
        return { working: output.acknowledged.length > 0 };
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    console.log(
      `disk cache crash trials [${strategy}]: ${summary.trials} trials, ${summary.working} killed while writing, ${acknowledgedTotal} sets acknowledged, ${checked} entries checked, ${unacknowledgedFound} found newer than acknowledged, ${
        Math.round(performance.now() - started)
      } ms`,
    );
  },
);
