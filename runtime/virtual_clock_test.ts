import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { currentTime } from "./checkpoint.ts";
import { run } from "./run.ts";
import { sleep, sleepForever } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { failAfter, moveOnAfter } from "./timeouts.ts";
import { VirtualClock } from "./virtual_clock.ts";

/** Resolves after a real timer: lets pending immediates and real timers run. */
function realDelay(ms: number): Promise<void> {
  // deno-lint-ignore ipfs-kit/no-bare-timer -- real time, which the virtual clock must not move
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Counts `setImmediate` handles that are armed and have neither fired nor been
 * cleared (the op sanitizer does not see immediates).
 */
function trackImmediates(): { readonly outstanding: number; readonly armed: number } & Disposable {
  const originalSet = globalThis.setImmediate;
  const originalClear = globalThis.clearImmediate;
  const live = new Set<unknown>();
  let armed = 0;
  globalThis.setImmediate = ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    const handle = originalSet((...inner: unknown[]) => {
      live.delete(handle);
      callback(...inner);
    }, ...args);
    live.add(handle);
    armed++;
    return handle;
  }) as typeof setImmediate;
  globalThis.clearImmediate = ((handle: Parameters<typeof clearImmediate>[0]) => {
    live.delete(handle);
    originalClear(handle);
  }) as typeof clearImmediate;
  return {
    get outstanding() {
      return live.size;
    },
    get armed() {
      return armed;
    },
    [Symbol.dispose]() {
      globalThis.setImmediate = originalSet;
      globalThis.clearImmediate = originalClear;
    },
  };
}

// --- the clock on its own ----------------------------------------------------------------------

testEachStrategy("advance fires the timers that fall due, in order, synchronously", () => {
  const clock = new VirtualClock();
  const fired: string[] = [];
  clock.setTimer(30, () => fired.push(`c@${clock.now()}`));
  clock.setTimer(10, () => fired.push(`a@${clock.now()}`));
  clock.setTimer(20, () => fired.push(`b@${clock.now()}`));
  assert.equal(clock.pendingTimers, 3);
  clock.advance(15);
  assert.deepEqual(fired, ["a@10"]);
  assert.equal(clock.now(), 15);
  assert.equal(clock.pendingTimers, 2);
  clock.advance(0);
  assert.deepEqual(fired, ["a@10"]);
  clock.advance(100);
  assert.deepEqual(fired, ["a@10", "b@20", "c@30"]);
  assert.equal(clock.now(), 115);
  assert.equal(clock.pendingTimers, 0);
});

testEachStrategy("the clock starts at the given time", () => {
  const clock = new VirtualClock({ start: 1_000 });
  assert.equal(clock.now(), 1_000);
  assert.equal(clock.autojumpThreshold, undefined);
  assert.equal(new VirtualClock().now(), 0);
});

testEachStrategy("timers with equal deadlines fire in the order they were armed", () => {
  const clock = new VirtualClock();
  const fired: number[] = [];
  // A deterministic shuffle of deadlines, with many ties, to exercise the heap.
  let seed = 7;
  const expected: Array<[number, number]> = [];
  for (let i = 0; i < 200; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const deadline = seed % 13;
    expected.push([deadline, i]);
    clock.setTimer(deadline, () => fired.push(i));
  }
  clock.advance(20);
  expected.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  assert.deepEqual(fired, expected.map(([, i]) => i));
});

testEachStrategy("jumpToNextTimer jumps to the next deadline and fires what is due then", () => {
  const clock = new VirtualClock();
  assert.equal(clock.jumpToNextTimer(), false);
  assert.equal(clock.now(), 0);
  const fired: string[] = [];
  clock.setTimer(50, () => fired.push("x"));
  clock.setTimer(50, () => fired.push("y"));
  clock.setTimer(80, () => fired.push("z"));
  assert.equal(clock.jumpToNextTimer(), true);
  assert.equal(clock.now(), 50);
  assert.deepEqual(fired, ["x", "y"]);
  assert.equal(clock.jumpToNextTimer(), true);
  assert.equal(clock.now(), 80);
  assert.equal(clock.jumpToNextTimer(), false);
  assert.deepEqual(fired, ["x", "y", "z"]);
});

testEachStrategy("a timer armed from a timer callback fires in the same advance if due", () => {
  const clock = new VirtualClock();
  const fired: string[] = [];
  clock.setTimer(10, () => {
    fired.push(`first@${clock.now()}`);
    clock.setTimer(clock.now() + 5, () => fired.push(`second@${clock.now()}`));
  });
  clock.advance(30);
  assert.deepEqual(fired, ["first@10", "second@15"]);
  assert.equal(clock.now(), 30);
});

testEachStrategy("cancelled timers never fire; cancel is idempotent and safe after firing", () => {
  const clock = new VirtualClock();
  const fired: string[] = [];
  const a = clock.setTimer(10, () => fired.push("a"));
  const b = clock.setTimer(20, () => fired.push("b"));
  const c = clock.setTimer(5, () => fired.push("c"));
  a.cancel();
  a.cancel();
  assert.equal(clock.pendingTimers, 2);
  clock.advance(10);
  assert.deepEqual(fired, ["c"]);
  c.cancel(); // already fired
  assert.equal(clock.pendingTimers, 1);
  b.cancel();
  assert.equal(clock.pendingTimers, 0);
  assert.equal(clock.jumpToNextTimer(), false);
  assert.deepEqual(fired, ["c"]);
});

testEachStrategy("many armed-and-cancelled timers keep the order of the live ones", () => {
  const clock = new VirtualClock();
  const fired: number[] = [];
  const keep: number[] = [];
  for (let i = 0; i < 2_000; i++) {
    const deadline = 1_000_000 - i;
    const timer = clock.setTimer(deadline, () => fired.push(deadline));
    if (i % 100 === 0) keep.push(deadline);
    else timer.cancel();
  }
  assert.equal(clock.pendingTimers, keep.length);
  clock.advance(2_000_000);
  assert.deepEqual(fired, keep.sort((x, y) => x - y));
});

testEachStrategy(
  "a timer in the past fires soon, never synchronously, without autojump",
  async () => {
    const clock = new VirtualClock({ start: 100 });
    let fired = false;
    clock.setTimer(50, () => fired = true);
    assert.equal(fired, false);
    await realDelay(5);
    assert.equal(fired, true);
    assert.equal(clock.now(), 100, "time never goes back");
    assert.equal(clock.pendingTimers, 0);
  },
);

testEachStrategy("without autojump a future timer waits for advance", async () => {
  const clock = new VirtualClock();
  let fired = false;
  const timer = clock.setTimer(1, () => fired = true);
  await realDelay(5);
  assert.equal(fired, false);
  timer.cancel();
});

testEachStrategy("bad arguments throw RangeError", () => {
  const clock = new VirtualClock();
  assert.throws(() => clock.advance(-1), RangeError);
  assert.throws(() => clock.advance(NaN), RangeError);
  assert.throws(() => clock.autojumpThreshold = -1, RangeError);
  assert.throws(() => clock.autojumpThreshold = NaN, RangeError);
  assert.equal(clock.now(), 0);
});

// --- driving a run -----------------------------------------------------------------------------

testEachStrategy("autojump 0: an hour of sleeps takes no real time", async ({ clock }) => {
  const realStart = performance.now();
  const woke: Array<[string, number]> = [];
  await taskGroup((tg) => {
    tg.spawn(async () => {
      await sleep(3_600_000);
      woke.push(["hour", currentTime()]);
    });
    tg.spawn(async () => {
      for (let i = 0; i < 3; i++) await sleep(60_000);
      woke.push(["three minutes", currentTime()]);
    });
  });
  assert.deepEqual(woke, [["three minutes", 180_000], ["hour", 3_600_000]]);
  assert.equal(clock!.now(), 3_600_000);
  assert.ok(performance.now() - realStart < 1_000, "generous bound: virtual time is free");
}, { virtualClock: 0 });

testEachStrategy("pendingTimers counts sleeping tasks and deadlines", async ({ clock }) => {
  await taskGroup(async (tg) => {
    for (let i = 1; i <= 3; i++) tg.spawn(() => sleep(i * 100));
    tg.spawn(() => moveOnAfter(1_000, () => sleepForever()));
    await sleep(1);
    // 3 sleeps + the moveOnAfter deadline + its sleepForever (no timer)
    assert.equal(clock!.pendingTimers, 4);
    tg.cancelScope.cancel();
  });
  assert.equal(clock!.pendingTimers, 0);
}, { virtualClock: 0 });

testEachStrategy(
  "autojump above 0 waits that long in real time before jumping",
  async ({ clock }) => {
    // The task does real I/O shorter than the threshold inside a virtual timeout:
    // the clock must not jump past the timeout meanwhile.
    const result = await failAfter(1_000, async () => {
      await realDelay(5);
      return "real work done";
    });
    assert.equal(result, "real work done");
    assert.equal(clock!.now(), 0);
    // With every task blocked, the clock jumps once the threshold has passed.
    await sleep(5_000);
    assert.equal(clock!.now(), 5_000);
  },
  { virtualClock: 100 },
);

testEachStrategy(
  "autojump above 0 counts the threshold from the last timer activity",
  async ({ clock }) => {
    await taskGroup(async (tg) => {
      tg.spawn(() => sleep(10_000)); // arms the idle countdown at real time 0
      await realDelay(120);
      // Armed at real ~120 ms, done at ~240 ms: past the 200 ms threshold counted from the first
      // timer, but never idle for 200 ms.
      const result = await failAfter(1_000, async () => {
        await realDelay(120);
        await sleep(0);
        return "real work done";
      });
      assert.equal(result, "real work done");
      assert.equal(currentTime(), 0);
    });
    assert.equal(clock!.now(), 10_000);
  },
  { virtualClock: 200 },
);

testEachStrategy("without autojump time moves only with advance", async ({ strategy }) => {
  const clock = new VirtualClock();
  await run(async () => {
    const done: string[] = [];
    await taskGroup(async (tg) => {
      tg.spawn(async () => {
        await sleep(100);
        done.push(`woke at ${currentTime()}`);
      });
      await realDelay(5);
      assert.deepEqual(done, []);
      clock.advance(50);
      await realDelay(5);
      assert.deepEqual(done, []);
      clock.advance(50);
    });
    assert.deepEqual(done, ["woke at 100"]);
  }, { strategy, clock });
  assert.equal(clock.now(), 100);
});

testEachStrategy(
  "turning autojump on while tasks sleep makes the clock jump",
  async ({ strategy }) => {
    const clock = new VirtualClock();
    await run(async () => {
      await taskGroup(async (tg) => {
        tg.spawn(() => sleep(500));
        await realDelay(5);
        assert.equal(clock.now(), 0);
        clock.autojumpThreshold = 0;
      });
    }, { strategy, clock });
    assert.equal(clock.now(), 500);
    clock.autojumpThreshold = undefined;
  },
);

testEachStrategy(
  "a cancelled deadline and sleep leave nothing armed after the run",
  async ({ strategy }) => {
    using immediates = trackImmediates();
    const clock = new VirtualClock({ autojumpThreshold: 0 });
    await run(async () => {
      await moveOnAfter(10, () => sleep(1_000));
      await failAfter(1_000, () => sleep(10));
      const scope = new CancelScope({ timeout: 50 });
      await taskGroup(async (tg) => {
        tg.spawn(() => scope.run(() => sleepForever()));
        await sleep(1);
        scope.cancel();
      });
    }, { strategy, clock });
    assert.equal(clock.now(), 21);
    assert.equal(clock.pendingTimers, 0);
    assert.ok(immediates.armed > 0, "the clock's pump uses setImmediate");
    assert.equal(immediates.outstanding, 0, "no autojump pump is left armed");
  },
);

testEachStrategy(
  "a threshold clock leaves no real timer armed when its timers are cancelled",
  () => {
    const clock = new VirtualClock({ autojumpThreshold: 50 });
    const timer = clock.setTimer(10, () => {});
    timer.cancel();
    assert.equal(clock.pendingTimers, 0);
    // The op sanitizer fails this test if the 50 ms pump is still armed.
  },
);

testEachStrategy("an autojump-0 clock used outside run fires its timers by itself", async () => {
  using immediates = trackImmediates();
  const clock = new VirtualClock({ autojumpThreshold: 0 });
  const fired = Promise.withResolvers<number>();
  clock.setTimer(1_000, () => fired.resolve(clock.now()));
  assert.equal(await fired.promise, 1_000);
  assert.ok(immediates.armed > 0);
  assert.equal(immediates.outstanding, 0);
});
