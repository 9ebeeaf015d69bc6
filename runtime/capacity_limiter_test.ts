import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { CapacityLimiter } from "./capacity_limiter.ts";
import { checkpoint } from "./checkpoint.ts";
import { CancelledError, WouldBlock } from "./errors.ts";
import type { Permit } from "./permit.ts";
import { runtimeStats } from "./run.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";
import { settle } from "../tests/_async.ts";

const VIRTUAL = { virtualClock: 0 };

testEachStrategy("CapacityLimiter: total tokens are validated", () => {
  assert.equal(new CapacityLimiter(1).totalTokens, 1);
  assert.equal(new CapacityLimiter(Infinity).availableTokens, Infinity);
  assert.throws(() => new CapacityLimiter(0), {
    name: "RangeError",
    message: "Cannot set capacity limiter total: totalTokens must be >= 1: received 0",
  });
  assert.throws(() => new CapacityLimiter(-Infinity), TypeError);
  assert.throws(() => new CapacityLimiter(-3), RangeError);
  assert.throws(() => new CapacityLimiter(2.5), TypeError);
  assert.throws(() => new CapacityLimiter(NaN), TypeError);
  const limiter = new CapacityLimiter(2);
  assert.throws(() => (limiter.totalTokens = 0), RangeError);
  assert.throws(() => (limiter.totalTokens = 1.5), TypeError);
  assert.equal(limiter.totalTokens, 2);
});

testEachStrategy("CapacityLimiter: acquire and release tokens", async () => {
  const limiter = new CapacityLimiter(2);
  const before = runtimeStats().checkpoints;
  const a = await limiter.acquire();
  assert.equal(runtimeStats().checkpoints - before, 1);
  const b = limiter.acquireNowait();
  assert.equal(limiter.borrowedTokens, 2);
  assert.equal(limiter.availableTokens, 0);
  assert.throws(() => limiter.acquireNowait(), {
    name: "WouldBlock",
    message: "Cannot borrow from capacity limiter: no token is free",
  });
  assert.deepEqual(limiter.statistics(), {
    borrowedTokens: 2,
    totalTokens: 2,
    borrowers: [a, b], // a plain acquire lends to its permit
    tasksWaiting: 0,
  });
  a.release();
  assert.throws(() => a.release(), /permit was already released/);
  assert.equal(limiter.borrowedTokens, 1);
  {
    using _b = b;
  }
  assert.equal(limiter.borrowedTokens, 0);
  assert.equal(limiter.availableTokens, 2);
});

testEachStrategy("CapacityLimiter: waiters get tokens in FIFO order", async () => {
  const limiter = new CapacityLimiter(1);
  const order: number[] = [];
  const held = limiter.acquireNowait();
  await taskGroup(async (tg) => {
    for (let i = 0; i < 5; i++) {
      tg.spawn(async () => {
        using _token = await limiter.acquire();
        order.push(i);
        await checkpoint();
      });
      await settle();
    }
    assert.equal(limiter.statistics().tasksWaiting, 5);
    held.release();
    assert.equal(limiter.borrowedTokens, 1, "handed straight to the first waiter");
    assert.throws(() => limiter.acquireNowait(), WouldBlock);
  });
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.equal(limiter.borrowedTokens, 0);
}, VIRTUAL);

testEachStrategy("CapacityLimiter: raising totalTokens wakes waiters", async () => {
  const limiter = new CapacityLimiter(1);
  const held = limiter.acquireNowait();
  const woken: number[] = [];
  const release: Permit[] = [];
  await taskGroup(async (tg) => {
    for (let i = 0; i < 4; i++) {
      tg.spawn(async () => {
        release.push(await limiter.acquire());
        woken.push(i);
      });
      await settle();
    }
    limiter.totalTokens = 3; // two more tokens: the first two waiters
    assert.equal(limiter.borrowedTokens, 3);
    assert.equal(limiter.statistics().tasksWaiting, 2);
    await settle();
    assert.deepEqual(woken, [0, 1]);
    limiter.totalTokens = Infinity; // everyone
    assert.equal(limiter.statistics().tasksWaiting, 0);
    await settle();
    assert.deepEqual(woken, [0, 1, 2, 3]);
  });
  assert.equal(limiter.borrowedTokens, 5);
  held.release();
  for (const permit of release) permit.release();
  assert.equal(limiter.borrowedTokens, 0);
}, VIRTUAL);

testEachStrategy(
  "CapacityLimiter: lowering totalTokens below the borrowed keeps borrowers",
  async () => {
    const limiter = new CapacityLimiter(3);
    const permits = [limiter.acquireNowait(), limiter.acquireNowait(), limiter.acquireNowait()];
    let waiterGot = false;
    await taskGroup(async (tg) => {
      limiter.totalTokens = 1;
      assert.equal(limiter.borrowedTokens, 3, "nobody loses a token");
      assert.equal(limiter.availableTokens, 0);
      tg.spawn(async () => {
        using _token = await limiter.acquire();
        waiterGot = true;
      });
      await settle();
      permits[0].release();
      permits[1].release();
      await settle();
      assert.equal(waiterGot, false, "2 borrowed >= total 1: the waiter still waits");
      assert.equal(limiter.borrowedTokens, 1);
      assert.equal(limiter.statistics().tasksWaiting, 1);
      permits[2].release();
      assert.equal(limiter.borrowedTokens, 1, "the waiter got the token");
    });
    assert.equal(waiterGot, true);
    assert.equal(limiter.borrowedTokens, 0);
  },
  VIRTUAL,
);

testEachStrategy("CapacityLimiter: borrowing on behalf of an owner", async () => {
  const limiter = new CapacityLimiter(2);
  const job = { id: "job" };
  const worker = () => {};
  const permit = await limiter.acquireOnBehalfOf(job);
  limiter.acquireOnBehalfOfNowait(worker);
  assert.deepEqual(limiter.statistics().borrowers, [job, worker]);
  limiter.releaseOnBehalfOf(job);
  assert.throws(() => permit.release(), /permit was already released/);
  permit[Symbol.dispose](); // a no-op now
  assert.deepEqual(limiter.statistics().borrowers, [worker]);
  assert.throws(() => limiter.releaseOnBehalfOf(job), {
    name: "Error",
    message: "Cannot release capacity limiter token: the borrower holds none",
  });
  assert.throws(() => limiter.releaseOnBehalfOf({}), /the borrower holds none/);
  limiter.releaseOnBehalfOf(worker);
  assert.equal(limiter.borrowedTokens, 0);
  // Released through the permit, the borrower is gone too.
  const again = await limiter.acquireOnBehalfOf(job);
  again.release();
  assert.throws(() => limiter.releaseOnBehalfOf(job), /holds none/);
  // Not an object.
  await assert.rejects(limiter.acquireOnBehalfOf(null as unknown as object), TypeError);
  await assert.rejects(limiter.acquireOnBehalfOf("job" as unknown as object), TypeError);
  assert.throws(() => limiter.acquireOnBehalfOfNowait(42 as unknown as object), TypeError);
});

testEachStrategy("CapacityLimiter: one borrower cannot borrow twice", async () => {
  const limiter = new CapacityLimiter(5);
  const job = {};
  using _token = await limiter.acquireOnBehalfOf(job);
  const held = { name: "Error", message: /the borrower already holds a token/ };
  await assert.rejects(limiter.acquireOnBehalfOf(job), held);
  assert.throws(() => limiter.acquireOnBehalfOfNowait(job), held);
  assert.equal(limiter.borrowedTokens, 1);

  // Nor queue twice while waiting.
  const full = new CapacityLimiter(1);
  const blocker = full.acquireNowait();
  const waiting = {};
  await taskGroup(async (tg) => {
    tg.spawn(async () => {
      using _token = await full.acquireOnBehalfOf(waiting);
    });
    await settle();
    const queued = { message: /the borrower already waits for a token/ };
    await assert.rejects(full.acquireOnBehalfOf(waiting), queued);
    assert.throws(() => full.acquireOnBehalfOfNowait(waiting), queued);
    assert.equal(full.statistics().tasksWaiting, 1);
    blocker.release();
  });
  assert.equal(full.borrowedTokens, 0);
}, VIRTUAL);

testEachStrategy("CapacityLimiter: a cancelled waiter never takes a token", async () => {
  const limiter = new CapacityLimiter(1);
  const held = limiter.acquireNowait();
  const scope = new CancelScope();
  const cancelledBorrower = {};
  const got: string[] = [];
  await taskGroup(async (tg) => {
    tg.spawn(() =>
      scope.run(async () => {
        await limiter.acquireOnBehalfOf(cancelledBorrower);
        got.push("cancelled");
      })
    );
    await settle();
    tg.spawn(async () => {
      using _token = await limiter.acquire();
      got.push("next");
    });
    await settle();
    scope.cancel();
    assert.equal(limiter.statistics().tasksWaiting, 1);
    held.release();
  });
  assert.deepEqual(got, ["next"]);
  assert.equal(limiter.borrowedTokens, 0);
  // The cancelled borrower is not left pending: it can borrow again.
  limiter.acquireOnBehalfOfNowait(cancelledBorrower);
  limiter.releaseOnBehalfOf(cancelledBorrower);
}, VIRTUAL);

testEachStrategy(
  "CapacityLimiter: a waiter handed a token and cancelled in the same tick keeps it",
  async () => {
    const limiter = new CapacityLimiter(1);
    const held = limiter.acquireNowait();
    const scope = new CancelScope();
    const job = {};
    let granted: Permit | undefined;
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        scope.run(async () => {
          granted = await limiter.acquireOnBehalfOf(job);
          await checkpoint();
          throw new Error("unreachable: the checkpoint throws");
        })
      );
      await settle();
      held.release();
      scope.cancel();
    });
    assert.equal(scope.cancelledCaught, true);
    assert.notEqual(granted, undefined);
    assert.deepEqual(limiter.statistics().borrowers, [job]);
    limiter.releaseOnBehalfOf(job);
    assert.equal(limiter.borrowedTokens, 0);
  },
  VIRTUAL,
);

testEachStrategy(
  "CapacityLimiter: acquire in a cancelled scope throws and takes nothing",
  async () => {
    const limiter = new CapacityLimiter(1);
    await new CancelScope().run(async (scope) => {
      scope.cancel();
      await assert.rejects(limiter.acquire(), CancelledError);
      await assert.rejects(limiter.acquireOnBehalfOf({}), CancelledError);
    });
    assert.equal(limiter.borrowedTokens, 0);
  },
);

testEachStrategy("CapacityLimiter: bounds concurrency while the total changes", async () => {
  const limiter = new CapacityLimiter(2);
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  let running = 0;
  let peak = 0;
  let lowerings = 0;
  let checked = 0;
  let done = 0;
  await taskGroup(async (tg) => {
    for (let i = 0; i < 150; i++) {
      const timeout = 1 + random(150);
      const hold = 1 + random(6);
      const borrower = { i };
      tg.spawn(() =>
        moveOnAfter(timeout, async () => {
          const epoch = lowerings;
          using _token = await limiter.acquireOnBehalfOf(borrower);
          peak = Math.max(peak, ++running);
          // A token is lent only while fewer than the total are borrowed, so
          // unless the total was lowered meanwhile, the total still bounds them.
          if (lowerings === epoch) {
            checked++;
            assert.ok(limiter.borrowedTokens <= limiter.totalTokens);
          }
          try {
            await sleep(hold);
            done++;
          } finally {
            running--;
          }
        })
      );
    }
    for (const total of [4, 1, 3, 2]) {
      await sleep(20);
      if (total < limiter.totalTokens) lowerings++;
      limiter.totalTokens = total;
    }
  });
  assert.ok(peak <= 4 && peak >= 3, `${peak}`);
  assert.ok(checked > 0);
  assert.ok(done > 0 && done < 150, `${done}`);
  assert.deepEqual(limiter.statistics(), {
    borrowedTokens: 0,
    totalTokens: 2,
    borrowers: [],
    tasksWaiting: 0,
  });
}, VIRTUAL);
