import assert from "node:assert/strict";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpoint } from "../runtime/checkpoint.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { RwLock } from "./_rw_lock.ts";

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await checkpoint();
}

testEachStrategy("readers share the lock; a writer waits for them all", async () => {
  const lock = new RwLock();
  const events: string[] = [];
  const first = await lock.acquireShared();
  const second = await lock.acquireShared();
  assert.equal(lock.readers, 2);
  await taskGroup(async (tg) => {
    tg.spawn(async () => {
      using _permit = await lock.acquireExclusive();
      events.push("writer in");
      assert.equal(lock.readers, 0);
    });
    await settle();
    assert.equal(lock.waiting, 1);
    first.release();
    await settle();
    assert.deepEqual(events, []);
    second.release();
  });
  assert.deepEqual(events, ["writer in"]);
  assert.equal(lock.writer, false);
});

testEachStrategy("a waiting writer holds back later readers (FIFO)", async () => {
  const lock = new RwLock();
  const order: string[] = [];
  const reader = await lock.acquireShared();
  await taskGroup(async (tg) => {
    tg.spawn(async () => {
      using _permit = await lock.acquireExclusive();
      order.push("writer");
      await settle();
      order.push("writer out");
    });
    await settle();
    for (const name of ["r1", "r2"]) {
      tg.spawn(async () => {
        using _permit = await lock.acquireShared();
        order.push(name);
      });
    }
    await settle();
    assert.deepEqual(order, [], "later readers got in ahead of the waiting writer");
    reader.release();
  });
  // The two readers were spawned together: which starts (and queues) first is the
  // strategy's choice. Both come after the writer.
  assert.deepEqual(order.slice(0, 2), ["writer", "writer out"]);
  assert.deepEqual(order.slice(2).sort(), ["r1", "r2"]);
});

testEachStrategy("a cancelled waiter leaves the queue and lets others in", async () => {
  const lock = new RwLock();
  const reader = await lock.acquireShared();
  const scope = new CancelScope();
  let got = false;
  await taskGroup(async (tg) => {
    tg.spawn(() =>
      scope.run(async () => {
        using _permit = await lock.acquireExclusive();
        got = true;
      })
    );
    await settle();
    assert.equal(lock.waiting, 1);
    // A reader behind the writer waits too...
    tg.spawn(async () => {
      using _permit = await lock.acquireShared();
    });
    await settle();
    assert.equal(lock.waiting, 2);
    // ...until the writer gives up.
    scope.cancel();
    await settle();
    assert.equal(lock.waiting, 0);
  });
  assert.equal(got, false);
  assert.equal(scope.cancelledCaught, true);
  reader.release();
  assert.throws(() => reader.release(), /already released/);
  using _permit = await lock.acquireExclusive();
  assert.equal(lock.writer, true);
});
