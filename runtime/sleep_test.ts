import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { currentTime } from "./checkpoint.ts";
import { CancelledError } from "./errors.ts";
import { sleep, sleepForever, sleepUntil } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";

testEachStrategy("sleep waits exactly that long on the virtual clock", async ({ clock }) => {
  await sleep(250);
  assert.equal(clock!.now(), 250);
  await sleep(0.5);
  assert.equal(clock!.now(), 250.5);
}, { virtualClock: 0 });

testEachStrategy("concurrent sleeps wake in deadline order", async ({ clock }) => {
  const woke: number[] = [];
  await taskGroup((tg) => {
    for (const ms of [30, 10, 20, 10]) {
      tg.spawn(async () => {
        await sleep(ms);
        woke.push(ms);
      });
    }
  });
  assert.deepEqual(woke, [10, 10, 20, 30]);
  assert.equal(clock!.now(), 30);
}, { virtualClock: 0 });

testEachStrategy("sleep(0) and negative sleeps are checkpoints", async ({ clock }) => {
  const trace: string[] = [];
  await taskGroup(async (tg) => {
    tg.spawn(() => {
      trace.push("other task ran");
    });
    await sleep(0);
    trace.push("after sleep(0)");
  });
  assert.deepEqual(trace, ["other task ran", "after sleep(0)"]);
  const scope = new CancelScope();
  await scope.run(async () => {
    scope.cancel();
    await assert.rejects(sleep(0), CancelledError);
    await assert.rejects(sleep(-5), CancelledError);
  });
  assert.equal(clock!.now(), 0);
}, { virtualClock: 0 });

testEachStrategy("sleep is cancellable and disarms its timer", async ({ clock }) => {
  const scope = new CancelScope();
  await taskGroup(async (tg) => {
    tg.spawn(() => scope.run(() => sleep(1_000)));
    await sleep(10);
    assert.equal(clock!.pendingTimers, 1);
    scope.cancel();
    assert.equal(clock!.pendingTimers, 0);
  });
  assert.equal(scope.cancelledCaught, true);
  assert.equal(clock!.now(), 10);
}, { virtualClock: 0 });

testEachStrategy(
  "sleepUntil wakes at the deadline; a past deadline is a checkpoint",
  async ({ clock }) => {
    await sleepUntil(40);
    assert.equal(clock!.now(), 40);
    await sleepUntil(10);
    assert.equal(clock!.now(), 40);
    const scope = new CancelScope();
    await scope.run(async () => {
      scope.cancel();
      await assert.rejects(sleepUntil(10), CancelledError);
      await assert.rejects(sleepUntil(100), CancelledError);
    });
  },
  { virtualClock: 0 },
);

testEachStrategy("sleepForever rejects only with CancelledError", async ({ clock }) => {
  const result = await moveOnAfter(60_000, async () => {
    await sleepForever();
    return "not reached";
  });
  assert.equal(result, undefined);
  assert.equal(clock!.now(), 60_000);
  const scope = new CancelScope();
  await scope.run(async () => {
    scope.cancel();
    await assert.rejects(sleepForever(), CancelledError);
  });
}, { virtualClock: 0 });

testEachStrategy(
  "sleep(Infinity) sleeps until cancelled, without moving the clock to Infinity",
  async ({ clock }) => {
    const result = await moveOnAfter(10, async () => {
      await sleep(Infinity);
      return "not reached";
    });
    assert.equal(result, undefined);
    assert.equal(clock!.now(), 10);
    await moveOnAfter(10, () => sleepUntil(Infinity));
    assert.equal(clock!.now(), 20);
    assert.equal(clock!.pendingTimers, 0);
    await taskGroup(async (tg) => {
      tg.spawn(() => sleep(Infinity));
      await sleep(5);
      assert.equal(clock!.pendingTimers, 0, "no timer is armed for Infinity");
      tg.cancelScope.cancel();
    });
    assert.equal(clock!.now(), 25);
  },
  { virtualClock: 0 },
);

testEachStrategy(
  "a real-clock sleep longer than setTimeout's 32-bit limit does not fire early",
  async () => {
    for (const ms of [2 ** 31 + 10, 2 ** 40, Infinity]) {
      const scope = new CancelScope({ timeout: 20 });
      await scope.run(() => sleep(ms));
      assert.equal(scope.cancelledCaught, true, `sleep(${ms}) was cut short by the 20 ms timeout`);
    }
  },
);

testEachStrategy("a real-clock scope timeout beyond 32 bits does not fire early", async () => {
  const scope = new CancelScope({ timeout: 2 ** 31 + 10 });
  const result = await scope.run(async () => {
    await sleep(20);
    return "slept";
  });
  assert.equal(result, "slept");
  assert.equal(scope.cancelCalled, false);
});

testEachStrategy("a real-clock sleep never wakes before its deadline", async () => {
  for (let i = 0; i < 40; i++) {
    const ms = 0.2 + (i % 8) * 0.35; // fractional delays, where setTimeout rounds
    const deadline = currentTime() + ms;
    await sleep(ms);
    const now = currentTime();
    assert.ok(now >= deadline, `woke ${(deadline - now).toFixed(3)} ms before the deadline`);
  }
});

testEachStrategy("bad durations and deadlines reject with TypeError", async () => {
  await assert.rejects(sleep(NaN), TypeError);
  await assert.rejects(sleep("5" as unknown as number), TypeError);
  await assert.rejects(sleep(undefined as unknown as number), TypeError);
  await assert.rejects(sleepUntil(NaN), TypeError);
  await assert.rejects(sleepUntil(null as unknown as number), TypeError);
  assert.equal(currentTime(), 0);
}, { virtualClock: 0 });
