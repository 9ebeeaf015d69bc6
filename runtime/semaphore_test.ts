import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { checkpoint } from "./checkpoint.ts";
import { CancelledError, WouldBlock } from "./errors.ts";
import type { Permit } from "./permit.ts";
import { runtimeStats } from "./run.ts";
import { Semaphore } from "./semaphore.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";
import { settle } from "../tests/_async.ts";

const VIRTUAL = { virtualClock: 0 };

testEachStrategy("Semaphore: constructor bounds", () => {
  assert.equal(new Semaphore(0).value, 0);
  assert.equal(new Semaphore(3).maxValue, Infinity);
  assert.equal(new Semaphore(2, { maxValue: 2 }).maxValue, 2);
  assert.equal(new Semaphore(0, { maxValue: 5 }).value, 0);
  assert.throws(() => new Semaphore(-1), {
    name: "RangeError",
    message: "Cannot create semaphore: initialValue must be >= 0: received -1",
  });
  assert.throws(() => new Semaphore(1.5), TypeError);
  assert.throws(() => new Semaphore(NaN), TypeError);
  assert.throws(() => new Semaphore(Infinity), TypeError);
  assert.throws(() => new Semaphore(3, { maxValue: 2 }), RangeError);
  assert.throws(() => new Semaphore(0, { maxValue: 0 }), RangeError);
  assert.throws(() => new Semaphore(0, { maxValue: 2.5 }), TypeError);
});

testEachStrategy("Semaphore: permits take and give back slots", async () => {
  const semaphore = new Semaphore(2, { maxValue: 2 });
  const before = runtimeStats().checkpoints;
  const a = await semaphore.acquire();
  assert.equal(runtimeStats().checkpoints - before, 1);
  assert.equal(semaphore.value, 1);
  const b = semaphore.acquireNowait();
  assert.equal(semaphore.value, 0);
  assert.throws(() => semaphore.acquireNowait(), {
    name: "WouldBlock",
    message: "Cannot acquire semaphore: no slot is free",
  });
  a.release();
  assert.equal(semaphore.value, 1);
  assert.throws(() => a.release(), /permit was already released/);
  assert.equal(semaphore.value, 1, "a second release must not add a slot");
  {
    using _b = b;
  }
  assert.equal(semaphore.value, 2);
});

testEachStrategy("Semaphore: release() is bounded by maxValue", async () => {
  const semaphore = new Semaphore(1, { maxValue: 2 });
  semaphore.release();
  assert.equal(semaphore.value, 2);
  assert.throws(() => semaphore.release(), {
    name: "RangeError",
    message:
      "Cannot release semaphore: value would exceed maxValue 2: received a release at value 2",
  });
  assert.equal(semaphore.value, 2);
  const unbounded = new Semaphore(0);
  for (let i = 0; i < 100; i++) unbounded.release();
  assert.equal(unbounded.value, 100);
  // A slot released past maxValue through a permit throws too; the permit stays unreleased.
  const bounded = new Semaphore(1, { maxValue: 1 });
  const permit = await bounded.acquire();
  bounded.release();
  assert.throws(() => permit.release(), RangeError);
  assert.equal(bounded.value, 1);
});

testEachStrategy("Semaphore: waiters get slots in FIFO order, handed over directly", async () => {
  const semaphore = new Semaphore(0, { maxValue: 1 });
  const order: number[] = [];
  await taskGroup(async (tg) => {
    for (let i = 0; i < 5; i++) {
      tg.spawn(async () => {
        using _permit = await semaphore.acquire();
        order.push(i);
        await checkpoint();
      });
      await settle();
    }
    assert.equal(semaphore.statistics().tasksWaiting, 5);
    semaphore.release(); // goes to the first waiter, not to the value
    assert.equal(semaphore.value, 0);
    assert.equal(semaphore.statistics().tasksWaiting, 4);
    assert.throws(() => semaphore.acquireNowait(), WouldBlock);
  });
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.equal(semaphore.value, 1);
}, VIRTUAL);

testEachStrategy("Semaphore: a cancelled waiter never consumes a slot", async () => {
  const semaphore = new Semaphore(0);
  const scope = new CancelScope();
  const got: string[] = [];
  let kept: Permit | undefined;
  await taskGroup(async (tg) => {
    tg.spawn(() =>
      scope.run(async () => {
        await semaphore.acquire();
        got.push("cancelled");
      })
    );
    await settle();
    tg.spawn(async () => {
      kept = await semaphore.acquire();
      got.push("next");
    });
    await settle();
    scope.cancel();
    assert.equal(semaphore.statistics().tasksWaiting, 1);
    semaphore.release();
  });
  assert.deepEqual(got, ["next"]);
  assert.equal(semaphore.value, 0);
  kept!.release();
  assert.equal(semaphore.value, 1);
}, VIRTUAL);

testEachStrategy(
  "Semaphore: a waiter handed a slot and cancelled in the same tick keeps it",
  async () => {
    const semaphore = new Semaphore(0);
    const scope = new CancelScope();
    let granted: Permit | undefined;
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        scope.run(async () => {
          granted = await semaphore.acquire();
          await checkpoint();
          throw new Error("unreachable: the checkpoint throws");
        })
      );
      await settle();
      semaphore.release();
      scope.cancel();
    });
    assert.equal(scope.cancelledCaught, true);
    assert.notEqual(granted, undefined);
    assert.equal(semaphore.value, 0, "the slot is still held by the cancelled task's permit");
    granted!.release();
    assert.equal(semaphore.value, 1);
  },
  VIRTUAL,
);

testEachStrategy("Semaphore: acquire in a cancelled scope throws and takes nothing", async () => {
  const semaphore = new Semaphore(1);
  await new CancelScope().run(async (scope) => {
    scope.cancel();
    await assert.rejects(semaphore.acquire(), CancelledError);
    assert.equal(semaphore.value, 1);
  });
});

testEachStrategy("Semaphore: bounds concurrency under random timeouts", async () => {
  const semaphore = new Semaphore(3, { maxValue: 3 });
  let seed = 42;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  let running = 0;
  let peak = 0;
  let done = 0;
  await taskGroup((tg) => {
    for (let i = 0; i < 200; i++) {
      const timeout = 1 + random(200);
      const hold = 1 + random(5);
      tg.spawn(() =>
        moveOnAfter(timeout, async () => {
          using _permit = await semaphore.acquire();
          peak = Math.max(peak, ++running);
          try {
            await sleep(hold);
            done++;
          } finally {
            running--;
          }
        })
      );
    }
  });
  assert.equal(peak, 3);
  assert.ok(done > 0 && done < 200, `${done}`);
  assert.equal(semaphore.value, 3);
  assert.equal(semaphore.statistics().tasksWaiting, 0);
}, VIRTUAL);
