import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { checkpoint } from "./checkpoint.ts";
import { CancelledError, WouldBlock } from "./errors.ts";
import { Lock } from "./lock.ts";
import type { Permit } from "./permit.ts";
import { runtimeStats } from "./run.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";
import { settle } from "../tests/_async.ts";

const VIRTUAL = { virtualClock: 0 };

testEachStrategy("Lock: the permit releases the lock, once", async () => {
  const lock = new Lock();
  assert.equal(lock.locked, false);
  const permit = await lock.acquire();
  assert.deepEqual(lock.statistics(), { locked: true, tasksWaiting: 0 });
  permit.release();
  assert.equal(lock.locked, false);
  assert.throws(() => permit.release(), {
    name: "Error",
    message: "Cannot release: permit was already released",
  });
  {
    using _permit = await lock.acquire();
    assert.equal(lock.locked, true);
  }
  assert.equal(lock.locked, false);
  {
    using explicit = await lock.acquire();
    explicit.release(); // the disposal at the end of the block is then a no-op
  }
  assert.equal(lock.locked, false);
});

testEachStrategy("Lock: waiters get the lock in FIFO order, handed over directly", async () => {
  const lock = new Lock();
  const order: number[] = [];
  const held = await lock.acquire();
  await taskGroup(async (tg) => {
    for (let i = 0; i < 5; i++) {
      tg.spawn(async () => {
        using _permit = await lock.acquire();
        order.push(i);
        await checkpoint();
      });
      await settle();
    }
    assert.equal(lock.statistics().tasksWaiting, 5);
    held.release();
    // Handed to the first waiter, so nobody can barge in.
    assert.equal(lock.locked, true);
    assert.equal(lock.statistics().tasksWaiting, 4);
    assert.throws(() => lock.acquireNowait(), WouldBlock);
  });
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.deepEqual(lock.statistics(), { locked: false, tasksWaiting: 0 });
}, VIRTUAL);

testEachStrategy("Lock: a waiter cancelled in the queue never takes the lock", async () => {
  const lock = new Lock();
  const held = await lock.acquire();
  const scopes = [new CancelScope(), new CancelScope(), new CancelScope()];
  const got: number[] = [];
  await taskGroup(async (tg) => {
    for (const [i, scope] of scopes.entries()) {
      tg.spawn(() =>
        scope.run(async () => {
          using _permit = await lock.acquire();
          got.push(i);
        })
      );
      await settle();
    }
    assert.equal(lock.statistics().tasksWaiting, 3);
    scopes[0].cancel(); // the head of the queue
    scopes[1].cancel(); // and the next one
    assert.equal(lock.statistics().tasksWaiting, 1);
    await settle();
    assert.ok(scopes[0].cancelledCaught && scopes[1].cancelledCaught);
    assert.deepEqual(got, []);
    held.release();
  });
  assert.deepEqual(got, [2]);
  assert.equal(scopes[2].cancelledCaught, false);
  assert.equal(lock.locked, false);
}, VIRTUAL);

testEachStrategy("Lock: a cancelled waiter in the middle of the queue is skipped", async () => {
  const lock = new Lock();
  const held = await lock.acquire();
  const middle = new CancelScope();
  const got: string[] = [];
  await taskGroup(async (tg) => {
    tg.spawn(() => lock.withLock(() => got.push("first")));
    await settle();
    tg.spawn(() => middle.run(() => lock.withLock(() => got.push("middle"))));
    await settle();
    tg.spawn(() => lock.withLock(() => got.push("last")));
    await settle();
    middle.cancel();
    held.release();
  });
  assert.deepEqual(got, ["first", "last"]);
}, VIRTUAL);

testEachStrategy(
  "Lock: a waiter handed the lock and cancelled in the same tick keeps it",
  async () => {
    const lock = new Lock();
    const held = await lock.acquire();
    const scope = new CancelScope();
    let granted: Permit | undefined;
    let pastCheckpoint = false;
    const order: string[] = [];
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        scope.run(async () => {
          using permit = await lock.acquire();
          granted = permit;
          order.push("cancelled waiter");
          assert.equal(lock.locked, true);
          await checkpoint(); // the cancellation is delivered here
          pastCheckpoint = true;
        })
      );
      await settle();
      tg.spawn(async () => {
        using _permit = await lock.acquire();
        order.push("next waiter");
      });
      await settle();
      held.release(); // hands the lock to the first waiter...
      scope.cancel(); // ...which is cancelled before it runs
      assert.equal(lock.locked, true);
      assert.equal(lock.statistics().tasksWaiting, 1);
    });
    assert.notEqual(granted, undefined);
    assert.equal(pastCheckpoint, false);
    assert.equal(scope.cancelledCaught, true);
    assert.deepEqual(order, ["cancelled waiter", "next waiter"]);
    assert.equal(lock.locked, false);
    assert.throws(() => granted!.release(), /already released/);
  },
  VIRTUAL,
);

testEachStrategy("Lock: release by a non-owner (a stale permit) is an error", async () => {
  const lock = new Lock();
  const first = await lock.acquire();
  first.release();
  const second = await lock.acquire();
  assert.throws(() => first.release(), {
    name: "Error",
    message: "Cannot release: permit was already released",
  });
  assert.equal(lock.locked, true, "the stale permit must not unlock the new owner's lock");
  assert.throws(() => lock.acquireNowait(), WouldBlock);
  first[Symbol.dispose](); // disposing a released permit does nothing
  assert.equal(lock.locked, true);
  second.release();
  assert.equal(lock.locked, false);
});

testEachStrategy("Lock: acquireNowait", () => {
  const lock = new Lock();
  const permit = lock.acquireNowait();
  assert.equal(lock.locked, true);
  assert.throws(() => lock.acquireNowait(), {
    name: "WouldBlock",
    message: "Cannot acquire lock: it is held",
  });
  permit.release();
  lock.acquireNowait().release();
  assert.equal(lock.locked, false);
});

testEachStrategy("Lock: acquire in a cancelled scope throws and takes nothing", async () => {
  const lock = new Lock();
  await new CancelScope().run(async (scope) => {
    scope.cancel();
    await assert.rejects(lock.acquire(), CancelledError);
    assert.equal(lock.locked, false);
  });
  const held = lock.acquireNowait();
  await new CancelScope().run(async (scope) => {
    scope.cancel();
    await assert.rejects(lock.acquire(), CancelledError);
    assert.equal(lock.statistics().tasksWaiting, 0);
  });
  held.release();
  assert.equal(lock.locked, false);
});

testEachStrategy("Lock: acquire is one checkpoint, blocking or not", async () => {
  const lock = new Lock();
  let before = runtimeStats().checkpoints;
  const permit = await lock.acquire();
  assert.equal(runtimeStats().checkpoints - before, 1);
  await taskGroup(async (tg) => {
    before = runtimeStats().checkpoints;
    tg.spawn(async () => {
      using _permit = await lock.acquire();
    });
    await settle(); // the sleep is one checkpoint too
    assert.equal(runtimeStats().checkpoints - before, 2);
    permit.release();
  });
}, VIRTUAL);

testEachStrategy("Lock: withLock returns the result and always releases", async () => {
  const lock = new Lock();
  assert.equal(await lock.withLock(() => "sync"), "sync");
  assert.equal(
    await lock.withLock(async () => {
      assert.equal(lock.locked, true);
      await checkpoint();
      return "async";
    }),
    "async",
  );
  await assert.rejects(lock.withLock(() => Promise.reject(new RangeError("boom"))), RangeError);
  await assert.rejects(
    lock.withLock(() => {
      throw new TypeError("sync boom");
    }),
    TypeError,
  );
  assert.equal(lock.locked, false);
});

testEachStrategy("Lock: mutual exclusion and FIFO under random timeouts", async () => {
  const lock = new Lock();
  let seed = 12345;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const acquired: number[] = [];
  let inside = 0;
  let timedOut = 0;
  await taskGroup((tg) => {
    for (let i = 0; i < 200; i++) {
      const timeout = 1 + random(400);
      const hold = 1 + random(5);
      tg.spawn(async () => {
        await moveOnAfter(timeout, async () => {
          using _permit = await lock.acquire();
          acquired.push(i);
          inside++;
          try {
            assert.equal(inside, 1);
            await sleep(hold); // may time out while holding the lock
          } finally {
            inside--;
          }
        });
        if (!acquired.includes(i)) timedOut++;
      });
    }
  });
  assert.ok(acquired.length > 0 && timedOut > 0, `${acquired.length} / ${timedOut}`);
  assert.equal(acquired.length + timedOut, 200);
  // Everyone queued in index order: whoever got the lock got it in that order.
  assert.deepEqual(acquired, [...acquired].sort((a, b) => a - b));
  assert.deepEqual(lock.statistics(), { locked: false, tasksWaiting: 0 });
}, VIRTUAL);

testEachStrategy("Lock: a long queue with most waiters cancelled", async () => {
  const lock = new Lock();
  const held = lock.acquireNowait();
  const n = 5000;
  let got = 0;
  await taskGroup(async (tg) => {
    const scopes: CancelScope[] = [];
    for (let i = 0; i < n; i++) {
      const scope = new CancelScope();
      scopes.push(scope);
      tg.spawn(() =>
        scope.run(async () => {
          using _permit = await lock.acquire();
          got++;
        })
      );
    }
    await settle();
    assert.equal(lock.statistics().tasksWaiting, n);
    for (let i = 0; i < n; i++) if (i % 10 !== 0) scopes[i].cancel();
    assert.equal(lock.statistics().tasksWaiting, n / 10);
    held.release();
  });
  assert.equal(got, n / 10);
  assert.equal(lock.locked, false);
}, VIRTUAL);
