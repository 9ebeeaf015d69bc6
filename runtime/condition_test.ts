import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { checkpoint } from "./checkpoint.ts";
import { Condition } from "./condition.ts";
import { CancelledError, WouldBlock } from "./errors.ts";
import { Lock } from "./lock.ts";
import type { Permit } from "./permit.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { settle } from "../tests/_async.ts";

const VIRTUAL = { virtualClock: 0 };

testEachStrategy("Condition: wait requires the permit that holds the lock", async () => {
  const condition = new Condition();
  const permit = await condition.acquire();
  const other = new Lock();
  const otherPermit = await other.acquire();
  const message = "Cannot wait on condition: the permit does not hold the condition's lock";
  await assert.rejects(condition.wait(otherPermit), { name: "Error", message });
  const fake: Permit = { release() {}, [Symbol.dispose]() {} };
  await assert.rejects(condition.wait(fake), { message });
  assert.equal(condition.locked, true, "a refused wait keeps the lock");
  permit.release();
  await assert.rejects(condition.wait(permit), { message }, "a released permit holds nothing");
  const next = condition.acquireNowait();
  await assert.rejects(condition.wait(permit), { message }, "nor after someone else took it");
  assert.deepEqual(condition.statistics(), {
    tasksWaiting: 0,
    lockStatistics: { locked: true, tasksWaiting: 0 },
  });
  next.release();
  otherPermit.release();
  assert.throws(() => new Condition({} as Lock), TypeError);
});

testEachStrategy("Condition: notify wakes waiters in FIFO order, holding the lock", async () => {
  const condition = new Condition();
  const woken: number[] = [];
  await taskGroup(async (tg) => {
    for (let i = 0; i < 3; i++) {
      tg.spawn(async () => {
        using permit = await condition.acquire();
        await condition.wait(permit);
        assert.equal(condition.locked, true);
        assert.throws(() => condition.acquireNowait(), WouldBlock);
        woken.push(i);
        await checkpoint();
      });
      await settle();
    }
    assert.equal(condition.statistics().tasksWaiting, 3);
    assert.equal(condition.locked, false, "waiting released the lock");
    {
      using _permit = await condition.acquire();
      condition.notify();
      assert.deepEqual(condition.statistics(), {
        tasksWaiting: 2,
        lockStatistics: { locked: true, tasksWaiting: 1 },
      });
      await settle();
      assert.deepEqual(woken, [], "a notified task first needs the lock");
    }
    await settle();
    assert.deepEqual(woken, [0]);
    {
      using _permit = await condition.acquire();
      condition.notify(5); // more than are waiting
    }
    await settle();
    assert.deepEqual(woken, [0, 1, 2]);
  });
  assert.deepEqual(condition.statistics(), {
    tasksWaiting: 0,
    lockStatistics: { locked: false, tasksWaiting: 0 },
  });
}, VIRTUAL);

testEachStrategy("Condition: notifyAll wakes all; they hold the lock one at a time", async () => {
  const condition = new Condition();
  let inside = 0;
  let peak = 0;
  let woken = 0;
  await taskGroup(async (tg) => {
    for (let i = 0; i < 5; i++) {
      tg.spawn(async () => {
        using permit = await condition.acquire();
        await condition.wait(permit);
        peak = Math.max(peak, ++inside);
        await sleep(1);
        inside--;
        woken++;
      });
    }
    await settle();
    assert.equal(condition.statistics().tasksWaiting, 5);
    await condition.lock.withLock(() => condition.notifyAll());
  });
  assert.equal(woken, 5);
  assert.equal(peak, 1);
}, VIRTUAL);

testEachStrategy("Condition: notify requires the lock and a count >= 0", () => {
  const condition = new Condition();
  assert.throws(() => condition.notify(), {
    name: "Error",
    message: "Cannot notify condition: its lock is not held",
  });
  assert.throws(() => condition.notifyAll(), /its lock is not held/);
  using _permit = condition.acquireNowait();
  assert.throws(() => condition.notify(-1), RangeError);
  assert.throws(() => condition.notify(1.5), TypeError);
  condition.notify(0);
  condition.notifyAll();
});

testEachStrategy("Condition: a cancelled wait re-acquires the lock before throwing", async () => {
  const condition = new Condition();
  const scope = new CancelScope();
  const log: string[] = [];
  await taskGroup(async (tg) => {
    tg.spawn(() =>
      scope.run(async () => {
        using permit = await condition.acquire();
        try {
          await condition.wait(permit);
          log.push("returned");
        } catch (error) {
          assert.ok(error instanceof CancelledError);
          // The lock is held again, by this task's own permit.
          assert.equal(condition.locked, true);
          assert.throws(() => condition.acquireNowait(), WouldBlock);
          log.push("caught");
          throw error;
        }
      })
    );
    await settle();
    const held = await condition.acquire();
    scope.cancel();
    assert.equal(condition.statistics().tasksWaiting, 0);
    await settle();
    assert.equal(log.length, 0, "the error waits for the lock");
    assert.equal(condition.statistics().lockStatistics.tasksWaiting, 1);
    log.push("released");
    held.release();
    assert.equal(condition.locked, true, "handed to the cancelled waiter");
  });
  assert.deepEqual(log, ["released", "caught"]);
  assert.equal(scope.cancelledCaught, true);
  assert.equal(condition.locked, false, "its permit was disposed as the error propagated");
}, VIRTUAL);

testEachStrategy(
  "Condition: a waiter cancelled after notify passes the notification on",
  async () => {
    const condition = new Condition();
    const first = new CancelScope();
    const log: string[] = [];
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        first.run(async () => {
          using permit = await condition.acquire();
          try {
            await condition.wait(permit);
            log.push("first returned");
          } catch (error) {
            assert.equal(condition.locked, true);
            log.push("first caught");
            throw error;
          }
        })
      );
      await settle();
      tg.spawn(async () => {
        using permit = await condition.acquire();
        await condition.wait(permit);
        assert.equal(condition.locked, true);
        log.push("second returned");
      });
      await settle();
      {
        using _permit = await condition.acquire();
        condition.notify(); // the first waiter
        assert.equal(condition.statistics().tasksWaiting, 1);
        first.cancel(); // before it got the lock: the second one is notified instead
        assert.deepEqual(condition.statistics(), {
          tasksWaiting: 0,
          lockStatistics: { locked: true, tasksWaiting: 1 },
        });
      }
    });
    // The second, notified first now, gets the lock first; the first re-queued behind it.
    assert.deepEqual(log, ["second returned", "first caught"]);
    assert.equal(first.cancelledCaught, true);
    assert.equal(condition.locked, false);
  },
  VIRTUAL,
);

testEachStrategy(
  "Condition: a waiter given the lock and cancelled in the same tick returns",
  async () => {
    const condition = new Condition();
    const scope = new CancelScope();
    const bystander = new CancelScope();
    const log: string[] = [];
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        scope.run(async () => {
          using permit = await condition.acquire();
          await condition.wait(permit);
          assert.equal(condition.locked, true);
          log.push("returned");
          await checkpoint(); // the cancellation is delivered here
          log.push("unreachable");
        })
      );
      await settle();
      tg.spawn(() =>
        bystander.run(async () => {
          using permit = await condition.acquire();
          await condition.wait(permit);
          log.push("bystander woken");
        })
      );
      await settle();
      const held = await condition.acquire();
      condition.notify();
      held.release(); // the lock goes to the notified waiter...
      scope.cancel(); // ...which is cancelled before it runs
      await settle();
      assert.deepEqual(log, ["returned"]);
      assert.equal(condition.statistics().tasksWaiting, 1, "nothing was passed on");
      bystander.cancel();
    });
    assert.deepEqual(log, ["returned"]);
    assert.equal(scope.cancelledCaught, true);
    assert.equal(condition.locked, false);
  },
  VIRTUAL,
);

testEachStrategy(
  "Condition: wait in a cancelled scope throws at once, keeping the lock",
  async () => {
    const condition = new Condition();
    const permit = await condition.acquire();
    let other = false;
    await taskGroup(async (tg) => {
      tg.spawn(async () => {
        using _permit = await condition.acquire();
        other = true;
      });
      await settle();
      await new CancelScope().run(async (scope) => {
        scope.cancel();
        await assert.rejects(condition.wait(permit), CancelledError);
      });
      await settle();
      assert.equal(other, false, "the lock was never released");
      assert.deepEqual(condition.statistics(), {
        tasksWaiting: 0,
        lockStatistics: { locked: true, tasksWaiting: 1 },
      });
      permit.release();
    });
    assert.equal(other, true);
  },
  VIRTUAL,
);

testEachStrategy("Condition: works with a lock of its own, and lock permits", async () => {
  const lock = new Lock();
  const condition = new Condition(lock);
  assert.equal(condition.lock, lock);
  let value = 0;
  await taskGroup(async (tg) => {
    tg.spawn(async () => {
      using permit = await lock.acquire();
      while (value < 3) await condition.wait(permit);
      assert.equal(lock.locked, true);
    });
    for (let i = 0; i < 3; i++) {
      await settle();
      await lock.withLock(() => {
        value++;
        condition.notify();
      });
    }
  });
  assert.equal(value, 3);
  assert.equal(lock.locked, false);
}, VIRTUAL);
