import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import {
  checkpoint,
  checkpointIfCancelled,
  currentEffectiveDeadline,
  currentTime,
} from "./checkpoint.ts";
import { CancelledError } from "./errors.ts";
import { runtimeStats } from "./run.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";

testEachStrategy("checkpoint resolves when nothing is cancelled", async () => {
  assert.equal(await checkpoint(), undefined);
});

testEachStrategy("checkpoint lets other tasks run: two looping tasks interleave", async () => {
  const trace: string[] = [];
  await taskGroup((tg) => {
    for (const name of ["a", "b"]) {
      tg.spawn(async () => {
        for (let i = 0; i < 3; i++) {
          trace.push(`${name}${i}`);
          await checkpoint();
        }
      });
    }
  });
  // Each round has both tasks before the next begins; within a round the order is the
  // strategy's (the shuffle strategy draws it).
  const rounds = [0, 1, 2].map((i) => trace.slice(2 * i, 2 * i + 2).sort());
  assert.deepEqual(rounds, [["a0", "b0"], ["a1", "b1"], ["a2", "b2"]]);
});

testEachStrategy("checkpoint rejects with CancelledError in a cancelled scope", async () => {
  const scope = new CancelScope();
  let error: unknown;
  await scope.run(async () => {
    scope.cancel("stop");
    try {
      await checkpoint();
    } catch (e) {
      error = e;
    }
  });
  assert.ok(error instanceof CancelledError);
  assert.equal(error.cause, "stop");
});

testEachStrategy(
  "checkpoint returns a rejected promise; it never throws synchronously",
  async () => {
    const scope = new CancelScope();
    await scope.run(async () => {
      scope.cancel();
      let promise: Promise<void> | undefined;
      assert.doesNotThrow(() => {
        promise = checkpoint();
      });
      await assert.rejects(promise!, CancelledError);
    });
  },
);

testEachStrategy("checkpointIfCancelled throws synchronously and does not yield", async () => {
  const trace: string[] = [];
  const scope = new CancelScope();
  await taskGroup(async (tg) => {
    tg.spawn(() => {
      trace.push("other task");
    });
    checkpointIfCancelled();
    trace.push("no yield");
    await scope.run(() => {
      scope.cancel();
      assert.throws(() => checkpointIfCancelled(), CancelledError);
    });
  });
  assert.deepEqual(trace, ["no yield", "other task"]);
});

testEachStrategy("checkpoints are counted in runtimeStats", async () => {
  const before = runtimeStats().checkpoints;
  await checkpoint();
  await checkpoint();
  await sleep(1);
  assert.equal(runtimeStats().checkpoints - before, 3);
}, { virtualClock: 0 });

testEachStrategy("currentTime reads the run's clock", async ({ clock }) => {
  assert.equal(currentTime(), 0);
  await sleep(123);
  assert.equal(currentTime(), 123);
  assert.equal(currentTime(), clock!.now());
}, { virtualClock: 0 });

testEachStrategy("currentTime on the real clock is performance.now()", () => {
  const before = performance.now();
  const now = currentTime();
  assert.ok(now >= before && now <= performance.now());
});

testEachStrategy("currentEffectiveDeadline is Infinity with no deadline", () => {
  assert.equal(currentEffectiveDeadline(), Infinity);
});
