// Crash trials: a child process (testdata/crash_child.ts) appends from
// concurrent writers and prints every acknowledged record; the parent kills
// it with SIGKILL at a random moment, reopens the log (recovery) and checks
// that every acknowledged record is there with its payload, and that the log
// is consistent. The trials of one test share a log directory, so each child
// also recovers from the previous kill, and children compact as they go.

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { runAndKill } from "../tests/_crash.ts";
import { SegmentLog } from "./segment_log.ts";
import type { SyncPolicy } from "./types.ts";
import { crashId, crashPayload, crashType } from "./testdata/crash_payload.ts";

const CHILD = new URL("./testdata/crash_child.ts", import.meta.url).pathname;

interface Plan {
  policy: SyncPolicy;
  /** Trials per strategy. */
  trials: number;
  /** Concurrent writers in the child. */
  writers: number;
  /** Wall-clock budget per strategy: trials left when it runs out are skipped, with a warning. */
  budgetMs: number;
}

const PLANS: Plan[] = [
  { policy: "always", trials: 50, writers: 4, budgetMs: 15_000 },
  { policy: "group", trials: 50, writers: 32, budgetMs: 15_000 },
  { policy: "none", trials: 25, writers: 8, budgetMs: 8_000 },
];

/** What one child printed before it was killed. */
interface TrialOutput {
  acknowledged: Array<[id: number, lsn: number]>;
  compactRequests: number[];
  ready: boolean;
}

/** Runs one child and kills it: early (maybe before the log is open) or while appending. */
async function runTrial(
  dir: string,
  plan: Plan,
  strategy: string,
  firstId: number,
): Promise<TrialOutput> {
  const lines = await runAndKill({
    script: CHILD,
    dir,
    args: [
      plan.policy,
      strategy,
      String(plan.writers),
      String(firstId),
    ],
    earlyKillMs: 250,
    lateKillMs: 30,
  });
  const output: TrialOutput = { acknowledged: [], compactRequests: [], ready: false };
  for (const line of lines) {
    const [kind, a, b] = line.split(" ");
    if (kind === "ready") output.ready = true;
    else if (kind === "a") output.acknowledged.push([Number(a), Number(b)]);
    else if (kind === "c") output.compactRequests.push(Number(a));
    else assert.fail(`unexpected line from child: ${line}`);
  }
  return output;
}

for (const plan of PLANS) {
  testEachStrategy(
    `crash trials under "${plan.policy}": SIGKILL at random moments`,
    async ({ strategy }) => {
      const dir = await Deno.makeTempDir({ prefix: `wal-crash-${plan.policy}-` });
      const started = performance.now();
      /** Acknowledged records not yet compacted away: LSN to id. */
      const acknowledged = new Map<number, number>();
      let maxCompact = 0;
      let trials = 0;
      let killedWhileAppending = 0;
      let verified = 0;
      try {
        for (; trials < plan.trials; trials++) {
          if (performance.now() - started > plan.budgetMs) {
            console.warn(
              `crash trials under "${plan.policy}" [${strategy}]: time budget spent after ${trials} of ${plan.trials} trials`,
            );
            break;
          }
          const output = await runTrial(dir, plan, strategy, trials * 1_000_000);
          if (output.acknowledged.length > 0) killedWhileAppending++;
          for (const [id, lsn] of output.acknowledged) {
            const previous = acknowledged.get(lsn);
            assert.ok(previous === undefined, `LSN ${lsn} acknowledged for ${previous} and ${id}`);
            acknowledged.set(lsn, id);
          }
          for (const upTo of output.compactRequests) maxCompact = Math.max(maxCompact, upTo);

          await using log = await SegmentLog.open(dir, { syncPolicy: plan.policy });
          const present = new Map<number, number>();
          let expectedLsn = log.firstLsn;
          for await (const record of log.replay()) {
            assert.equal(record.lsn, expectedLsn++, "LSNs are not contiguous");
            const id = crashId(record.payload);
            assert.equal(record.type, crashType(id));
            assert.deepEqual(record.payload, crashPayload(id), `payload of record ${id} damaged`);
            present.set(record.lsn, id);
          }
          assert.equal(expectedLsn, log.nextLsn);
          assert.equal(new Set(present.values()).size, present.size, "a record appears twice");
          for (const [lsn, id] of acknowledged) {
            if (lsn < log.firstLsn) {
              assert.ok(lsn < maxCompact, `acknowledged record ${id} (LSN ${lsn}) lost`);
              acknowledged.delete(lsn);
              continue;
            }
            // Under "none" too: an acknowledged record was written, and a killed process loses
            // no written data (only a crash of the machine would).
            assert.equal(present.get(lsn), id, `acknowledged record ${id} (LSN ${lsn}) lost`);
            verified++;
          }
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
      assert.ok(trials >= 10, `only ${trials} trials ran`);
      assert.ok(killedWhileAppending > 0, "no trial killed the child while it was appending");
      console.log(
        `crash trials under "${plan.policy}" [${strategy}]: ${trials} trials, ${killedWhileAppending} killed while appending, ${verified} acknowledgements checked, ${
          Math.round(performance.now() - started)
        } ms`,
      );
    },
  );
}
