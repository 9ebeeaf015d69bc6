// Crash trials of the operation log: a child process
// (testdata/op_crash_child.ts) submits operations from concurrent writers,
// cancels some, processes them and writes checkpoints (with compaction),
// printing every acknowledged submit and cancel; the parent kills it with
// SIGKILL at a random moment, reopens the log (replay, strict: any damage
// fails the trial, a torn tail is cut) and checks that every acknowledged
// operation is there with its payload, that acknowledged cancellations and
// earlier completions held, and that the table is consistent. Trials share a
// log directory in runs of a few, so each child also recovers from the
// previous kill.

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { runAndKill, runTrials, type TrialPlan } from "../tests/_crash.ts";
import { type Operation, OPERATION_STATES, type SyncPolicy } from "./types.ts";
import { WriteAheadLog } from "./write_ahead_log.ts";
import {
  crashOpCancelled,
  crashOpParams,
  crashOpResult,
  crashOpType,
} from "./testdata/op_crash_ops.ts";

const CHILD = new URL("./testdata/op_crash_child.ts", import.meta.url).pathname;
/** Operations one child submits at most. */
const OPS_PER_CHILD = 300;
/** Trials that share a directory before a fresh one is used. */
const TRIALS_PER_DIR = 6;

interface Plan extends TrialPlan {
  policy: SyncPolicy;
  /** Concurrent submitters in the child. */
  writers: number;
}

const PLANS: Plan[] = [
  { policy: "always", trials: 24, minWorking: 8, budgetMs: 8_000, limitMs: 120_000, writers: 4 },
  { policy: "group", trials: 24, minWorking: 8, budgetMs: 8_000, limitMs: 120_000, writers: 16 },
  { policy: "none", trials: 14, minWorking: 6, budgetMs: 5_000, limitMs: 90_000, writers: 8 },
];

/** What one child printed before it was killed. */
interface TrialOutput {
  submitted: Array<[seq: number, id: string]>;
  cancelled: Array<[seq: number, state: string]>;
  checkpoints: number;
}

/** Runs one child and kills it: early (maybe before the log is open) or while it works. */
async function runTrial(
  dir: string,
  plan: Plan,
  strategy: string,
  firstSeq: number,
): Promise<TrialOutput> {
  const lines = await runAndKill({
    script: CHILD,
    dir,
    args: [
      plan.policy,
      strategy,
      String(plan.writers),
      String(firstSeq),
      String(OPS_PER_CHILD),
    ],
    earlyKillMs: 300,
    lateKillMs: 60,
  });
  const output: TrialOutput = { submitted: [], cancelled: [], checkpoints: 0 };
  for (const line of lines) {
    const [kind, a, b] = line.split(" ");
    if (kind === "ready") continue;
    if (kind === "a") output.submitted.push([Number(a), b]);
    else if (kind === "x") output.cancelled.push([Number(a), b]);
    else if (kind === "c") output.checkpoints++;
    else assert.fail(`unexpected line from child: ${line}`);
  }
  return output;
}

/** Checks one operation read back against what its sequence number says it must be. */
function checkOperation(op: Operation, maxSeq: number): number {
  const seq = (op.params as { seq: number }).seq;
  assert.ok(Number.isInteger(seq) && seq >= 0 && seq < maxSeq, `unknown operation ${op.id}`);
  assert.equal(op.type, crashOpType(seq), `type of operation ${seq}`);
  assert.deepEqual(op.params, crashOpParams(seq), `payload of operation ${seq} damaged`);
  assert.notEqual(op.state, "processing", `operation ${seq} still processing after replay`);
  assert.notEqual(op.state, "failed", `operation ${seq} failed`);
  if (op.type === "hold") assert.ok(op.state === "pending" || op.state === "cancelled", op.state);
  if (op.state === "completed") {
    assert.deepEqual(op.result, crashOpResult(seq), `result of operation ${seq}`);
    assert.ok(op.attempts >= 1 && op.completedAt !== undefined);
  }
  if (op.state === "retrying") {
    assert.equal(op.lastError, "Error: first attempt");
    assert.ok(op.nextRetryAt !== undefined);
  }
  if (op.state === "cancelled") assert.ok(crashOpCancelled(seq), `operation ${seq} cancelled`);
  return seq;
}

for (const plan of PLANS) {
  testEachStrategy(
    `operation crash trials under "${plan.policy}": SIGKILL at random moments`,
    async ({ strategy }) => {
      const label = `operation crash trials under "${plan.policy}" [${strategy}]`;
      let dir = "";
      /** Acknowledged submits in the current directory: id by sequence number. */
      let acknowledged = new Map<number, string>();
      /** Acknowledged cancels: the state `cancel()` returned. */
      let cancels = new Map<number, string>();
      /** Operations seen completed by an earlier reopen: their result. */
      let completed = new Map<string, unknown>();
      let checkpointsSeen = 0;
      let reopenedFromCheckpoint = 0;
      let requeued = 0;
      let incompleteCheckpoints = 0;
      let tornTails = 0;
      let verified = 0;
      try {
        const summary = await runTrials(label, plan, async (trial) => {
          if (trial % TRIALS_PER_DIR === 0) {
            if (dir !== "") await Deno.remove(dir, { recursive: true });
            dir = await Deno.makeTempDir({ prefix: `wal-op-crash-${plan.policy}-` });
            acknowledged = new Map();
            cancels = new Map();
            completed = new Map();
          }
          const firstSeq = trial * 1000;
          const output = await runTrial(dir, plan, strategy, firstSeq);
          checkpointsSeen += output.checkpoints;
          for (const [seq, id] of output.submitted) acknowledged.set(seq, id);
          for (const [seq, state] of output.cancelled) cancels.set(seq, state);

          await using wal = await WriteAheadLog.open(dir, { syncPolicy: plan.policy });
          assert.equal(wal.recovery.log.damage, undefined);
          if (wal.recovery.log.tornTail !== undefined) tornTails++;
          if (wal.recovery.checkpointLsn !== undefined) reopenedFromCheckpoint++;
          requeued += wal.recovery.requeued;
          incompleteCheckpoints += wal.recovery.incompleteCheckpoints;
          const operations = wal.list({ limit: 10_000 }).operations;
          assert.equal(operations.length, wal.size);
          const seqs = new Set<number>();
          for (const op of operations) {
            const seq = checkOperation(op, firstSeq + OPS_PER_CHILD);
            assert.ok(!seqs.has(seq), `operation ${seq} appears twice`);
            seqs.add(seq);
          }
          const counts = wal.counts();
          assert.equal(counts.processing, 0);
          assert.equal(
            OPERATION_STATES.reduce((sum, state) => sum + counts[state], 0),
            wal.size,
          );
          // Under "none" too: an acknowledged record was written, and a killed
          // process loses no written data (only a crash of the machine would).
          for (const [seq, id] of acknowledged) {
            const op = wal.get(id);
            assert.ok(op !== undefined, `acknowledged operation ${seq} (${id}) lost`);
            assert.equal((op.params as { seq: number }).seq, seq);
            verified++;
          }
          for (const [seq, state] of cancels) {
            const op = wal.get(acknowledged.get(seq)!)!;
            assert.equal(op.state, state, `acknowledged cancel of operation ${seq}`);
          }
          for (const [id, result] of completed) {
            const op = wal.get(id);
            assert.equal(op?.state, "completed", `completed operation ${id} regressed`);
            assert.deepEqual(op.result, result);
          }
          for (const op of operations) {
            if (op.state === "completed") completed.set(op.id, op.result);
          }
          return { working: output.submitted.length > 0 };
        });
        console.log(
          `${label}: ${summary.trials} trials, ${summary.working} killed while working, ${verified} acknowledgements checked, ${checkpointsSeen} checkpoints written, ${reopenedFromCheckpoint} reopened from a checkpoint, ${requeued} interrupted operations requeued, ${incompleteCheckpoints} incomplete checkpoints ignored, ${tornTails} torn tails cut, ${summary.ms} ms`,
        );
      } finally {
        if (dir !== "") await Deno.remove(dir, { recursive: true });
      }
    },
  );
}
