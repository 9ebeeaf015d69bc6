import assert from "node:assert/strict";
import { LOCK_WAIT_MS, lockFile } from "./lock_file.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { withTempDir } from "../tests/_files.ts";

testEachStrategy("lockFile takes a free lock and excludes a second handle", async () => {
  await withTempDir(async (dir) => {
    const first = await lockFile(`${dir}/LOCK`);
    assert.ok(first !== undefined);
    try {
      const started = performance.now();
      assert.equal(await lockFile(`${dir}/LOCK`), undefined);
      assert.ok(performance.now() - started >= LOCK_WAIT_MS - 5, "gave up before the wait");
    } finally {
      first.close();
    }
    const again = await lockFile(`${dir}/LOCK`);
    assert.ok(again !== undefined, "closing the holder releases the lock");
    again.close();
  });
});

testEachStrategy("lockFile waits out a holder that lets go within the wait", async () => {
  await withTempDir(async (dir) => {
    // The shape of a forked child holding a released lock until its exec.
    const holder = await Deno.open(`${dir}/LOCK`, { read: true, write: true, create: true });
    assert.ok(await holder.tryLock(true));
    await taskGroup(async (group) => {
      group.spawn(async () => {
        await sleep(30);
        holder.close();
      });
      const file = await lockFile(`${dir}/LOCK`);
      assert.ok(file !== undefined, "the lock freed after 30 ms was not taken");
      file.close();
    });
  });
});
