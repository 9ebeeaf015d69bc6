// Crash trials: a child process (testdata/crash_child.ts) appends from
// concurrent writers and prints every acknowledged record; the parent kills
// it with SIGKILL at a random moment, reopens the log (recovery, strict: any
// damage fails the trial, a torn tail is cut) and checks that every
// acknowledged record is there with its payload, that the log is consistent
// and its side files within their bounds. The trials of one test share a log
// directory, so each child also recovers from the previous kill, and
// children compact as they go.

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { runAndKill, runTrials, type TrialPlan } from "../tests/_crash.ts";
import { sideFiles } from "../tests/_wal.ts";
import { MAX_TORN_SIDE_FILES } from "./_side_files.ts";
import { SegmentLog } from "./segment_log.ts";
import type { SyncPolicy } from "./types.ts";
import { crashId, crashPayload, crashType } from "./testdata/crash_payload.ts";

const CHILD = new URL("./testdata/crash_child.ts", import.meta.url).pathname;

interface Plan extends TrialPlan {
  policy: SyncPolicy;
  /** Concurrent writers in the child. */
  writers: number;
}

const PLANS: Plan[] = [
  { policy: "always", trials: 50, minWorking: 12, budgetMs: 15_000, limitMs: 180_000, writers: 4 },
  { policy: "group", trials: 50, minWorking: 12, budgetMs: 15_000, limitMs: 180_000, writers: 32 },
  { policy: "none", trials: 25, minWorking: 8, budgetMs: 8_000, limitMs: 120_000, writers: 8 },
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
      const label = `crash trials under "${plan.policy}" [${strategy}]`;
      const dir = await Deno.makeTempDir({ prefix: `wal-crash-${plan.policy}-` });
      /** Acknowledged records not yet compacted away: LSN to id. */
      const acknowledged = new Map<number, number>();
      let maxCompact = 0;
      let verified = 0;
      let tornTails = 0;
      try {
        const summary = await runTrials(label, plan, async (trial) => {
          const output = await runTrial(dir, plan, strategy, trial * 1_000_000);
          for (const [id, lsn] of output.acknowledged) {
            const previous = acknowledged.get(lsn);
            assert.ok(previous === undefined, `LSN ${lsn} acknowledged for ${previous} and ${id}`);
            acknowledged.set(lsn, id);
          }
          for (const upTo of output.compactRequests) maxCompact = Math.max(maxCompact, upTo);

          await using log = await SegmentLog.open(dir, { syncPolicy: plan.policy });
          assert.equal(log.recovery.damage, undefined);
          if (log.recovery.tornTail !== undefined) tornTails++;
          const sides = await sideFiles(dir);
          assert.ok(sides.every((name) => name.includes(".torn-")), `side files: ${sides}`);
          assert.ok(sides.length <= MAX_TORN_SIDE_FILES, `${sides.length} side files`);
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
            // Under "none" too: an acknowledged record was written, and a killed process
            // loses no written data (only a crash of the machine would).
            assert.equal(present.get(lsn), id, `acknowledged record ${id} (LSN ${lsn}) lost`);
            verified++;
          }
          return { working: output.acknowledged.length > 0 };
        });
        console.log(
          `${label}: ${summary.trials} trials, ${summary.working} killed while appending, ${verified} acknowledgements checked, ${tornTails} torn tails cut, ${summary.ms} ms`,
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}
