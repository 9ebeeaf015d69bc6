import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { currentTime } from "./checkpoint.ts";
import { CancelledError } from "./errors.ts";
import { Event } from "./event.ts";
import { runtimeStats } from "./run.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";
import { settle } from "../tests/_async.ts";

const VIRTUAL = { virtualClock: 0 };

testEachStrategy("Event: set before wait: wait returns at once, as a checkpoint", async () => {
  const event = new Event();
  assert.equal(event.isSet, false);
  event.set();
  assert.equal(event.isSet, true);
  const before = runtimeStats().checkpoints;
  await event.wait();
  assert.equal(runtimeStats().checkpoints - before, 1);
  event.set(); // idempotent
  assert.equal(event.isSet, true);
  await event.wait();
});

testEachStrategy("Event: set after wait wakes every waiter", async () => {
  const event = new Event();
  const woken: number[] = [];
  await taskGroup(async (tg) => {
    for (let i = 0; i < 4; i++) {
      tg.spawn(async () => {
        await event.wait();
        woken.push(i);
      });
    }
    await settle();
    assert.deepEqual(woken, []);
    assert.deepEqual(event.statistics(), { tasksWaiting: 4 });
    event.set();
    assert.deepEqual(event.statistics(), { tasksWaiting: 0 });
  });
  assert.deepEqual(woken.sort(), [0, 1, 2, 3]);
}, VIRTUAL);

testEachStrategy("Event: wait is cancellable and leaves the queue", async () => {
  const event = new Event();
  const start = currentTime();
  await taskGroup(async (tg) => {
    tg.spawn(async () => {
      const result = await moveOnAfter(10, () => event.wait());
      assert.equal(result, undefined);
    });
    await settle();
    assert.equal(event.statistics().tasksWaiting, 1);
  });
  assert.equal(currentTime() - start, 10);
  assert.equal(event.statistics().tasksWaiting, 0);
  assert.equal(event.isSet, false);

  const scope = new CancelScope();
  let returned = false;
  await taskGroup(async (tg) => {
    tg.spawn(() =>
      scope.run(async () => {
        await event.wait();
        returned = true;
      })
    );
    await settle();
    scope.cancel();
    assert.equal(event.statistics().tasksWaiting, 0);
  });
  assert.equal(returned, false);
  assert.equal(scope.cancelledCaught, true);
  event.set();
  await event.wait();
}, VIRTUAL);

testEachStrategy("Event: wait in a cancelled scope throws, set or not", async () => {
  const event = new Event();
  await new CancelScope().run(async (scope) => {
    scope.cancel();
    await assert.rejects(event.wait(), CancelledError);
    assert.equal(event.statistics().tasksWaiting, 0);
    event.set();
    await assert.rejects(event.wait(), CancelledError);
  });
});

testEachStrategy("Event: a waiter woken and cancelled in the same tick returns", async () => {
  const event = new Event();
  const scope = new CancelScope();
  const log: string[] = [];
  await taskGroup(async (tg) => {
    tg.spawn(() =>
      scope.run(async () => {
        await event.wait();
        log.push("woken");
        await sleep(1); // the cancellation is delivered here
        log.push("unreachable");
      })
    );
    await settle();
    event.set();
    scope.cancel();
  });
  assert.deepEqual(log, ["woken"]);
  assert.equal(scope.cancelledCaught, true);
}, VIRTUAL);
