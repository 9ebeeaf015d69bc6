import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { checkpoint } from "./checkpoint.ts";
import { Event } from "./event.ts";
import { createMemoryChannel } from "./memory_channel.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { waitAllTasksBlocked } from "./wait_all_tasks_blocked.ts";

testEachStrategy(
  "waitAllTasksBlocked returns once a chain of tasks has gone as far as it can",
  async () => {
    const steps: string[] = [];
    const go = new Event();
    await taskGroup(async (tg) => {
      const [send, receive] = createMemoryChannel<number>(0);
      tg.spawn(async () => {
        for (let i = 0; i < 5; i++) {
          await checkpoint();
          steps.push(`produced ${i}`);
          await send.send(i);
        }
        send.close();
      });
      tg.spawn(async () => {
        for await (const value of receive) {
          steps.push(`consumed ${value}`);
          if (value === 2) await go.wait();
        }
      });
      await waitAllTasksBlocked();
      // The consumer waits on the event after 2; the producer is blocked sending 3.
      assert.deepEqual(steps.filter((s) => s.startsWith("consumed")), [
        "consumed 0",
        "consumed 1",
        "consumed 2",
      ]);
      assert.equal(steps.at(-1), "produced 3");
      go.set();
    });
    assert.equal(steps.filter((s) => s.startsWith("consumed")).length, 5);
  },
);

testEachStrategy(
  "waitAllTasksBlocked returns before the virtual clock jumps",
  async ({ clock }) => {
    let woke = false;
    await taskGroup(async (tg) => {
      tg.spawn(async () => {
        await sleep(1_000);
        woke = true;
      });
      await waitAllTasksBlocked();
      assert.equal(clock!.now(), 0);
      assert.equal(woke, false);
    });
    assert.equal(woke, true);
    assert.equal(clock!.now(), 1_000);
  },
  { virtualClock: 0 },
);

testEachStrategy(
  "waitAllTasksBlocked does not return while a task loops on checkpoints",
  async () => {
    let returned = false;
    const scope = new CancelScope({ timeout: 30 });
    await scope.run(() =>
      taskGroup((tg) => {
        tg.spawn(async () => {
          for (;;) await checkpoint();
        });
        tg.spawn(async () => {
          await waitAllTasksBlocked();
          returned = true;
        });
      })
    );
    assert.equal(returned, false);
    assert.equal(scope.cancelledCaught, true);
  },
);

testEachStrategy(
  "waitAllTasksBlocked with a cushion waits that long after the last activity",
  async () => {
    const started = performance.now();
    await taskGroup(async (tg) => {
      tg.spawn(() => sleep(5));
      await waitAllTasksBlocked({ cushionMs: 20 });
    });
    assert.ok(performance.now() - started >= 20);
    await assert.rejects(waitAllTasksBlocked({ cushionMs: -1 }), RangeError);
  },
);

testEachStrategy("waitAllTasksBlocked is a checkpoint", async () => {
  const scope = new CancelScope();
  await scope.run(async () => {
    scope.cancel();
    await waitAllTasksBlocked();
  });
  assert.equal(scope.cancelledCaught, true);
});
