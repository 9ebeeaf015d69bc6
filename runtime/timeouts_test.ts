import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { checkpoint, currentTime } from "./checkpoint.ts";
import { CancelledError, TimeoutError } from "./errors.ts";
import { sleep, sleepForever } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { failAfter, failAt, moveOnAfter, moveOnAt, withSignal } from "./timeouts.ts";
import { rejection } from "../tests/_async.ts";

// --- moveOnAfter / moveOnAt --------------------------------------------------------------------

testEachStrategy("moveOnAfter returns fn's result when it is fast enough", async ({ clock }) => {
  let seen: CancelScope | undefined;
  const result = await moveOnAfter(100, async (scope) => {
    seen = scope;
    await sleep(40);
    return "fast";
  });
  assert.equal(result, "fast");
  assert.equal(seen!.cancelledCaught, false);
  assert.equal(seen!.deadline, 100);
  assert.equal(clock!.now(), 40);
  assert.equal(clock!.pendingTimers, 0);
}, { virtualClock: 0 });

testEachStrategy("moveOnAfter returns undefined at the deadline", async ({ clock }) => {
  let seen: CancelScope | undefined;
  const result = await moveOnAfter(100, async (scope) => {
    seen = scope;
    await sleepForever();
    return "not reached";
  });
  assert.equal(result, undefined);
  assert.equal(seen!.cancelledCaught, true);
  assert.equal(clock!.now(), 100);
}, { virtualClock: 0 });

testEachStrategy("moveOnAt uses an absolute deadline", async ({ clock }) => {
  await sleep(10);
  assert.equal(await moveOnAt(30, () => sleepForever()), undefined);
  assert.equal(clock!.now(), 30);
  assert.equal(await moveOnAt(100, () => "in time"), "in time");
  assert.equal(await moveOnAt(20, () => checkpoint().then(() => "passed")), undefined);
  assert.equal(clock!.now(), 30, "a past deadline cancels at entry");
}, { virtualClock: 0 });

testEachStrategy("a zero timeout cancels at the first checkpoint", async ({ clock }) => {
  assert.equal(await moveOnAfter(0, () => checkpoint().then(() => "passed")), undefined);
  assert.equal(await moveOnAfter(0, () => "no checkpoint"), "no checkpoint");
  assert.ok(await rejection(failAfter(0, () => sleep(1))) instanceof TimeoutError);
  assert.equal(clock!.now(), 0);
}, { virtualClock: 0 });

testEachStrategy("an infinite timeout never fires", async ({ clock }) => {
  assert.equal(await moveOnAfter(Infinity, () => sleep(5_000).then(() => "slept")), "slept");
  assert.equal(await failAfter(Infinity, () => sleep(5_000).then(() => 1)), 1);
  assert.equal(clock!.now(), 10_000);
}, { virtualClock: 0 });

testEachStrategy("a failure inside moveOnAfter propagates", async () => {
  const failure = new Error("inner");
  assert.equal(
    await rejection(moveOnAfter(10, () => {
      throw failure;
    })),
    failure,
  );
}, { virtualClock: 0 });

testEachStrategy("nested timeouts: the inner shorter one fires first", async ({ clock }) => {
  const steps: string[] = [];
  await moveOnAfter(100, async () => {
    const inner = await moveOnAfter(10, () => sleepForever());
    steps.push(`inner gave up at ${currentTime()}`);
    assert.equal(inner, undefined);
    await sleep(20);
    steps.push(`outer still running at ${currentTime()}`);
  });
  assert.deepEqual(steps, ["inner gave up at 10", "outer still running at 30"]);
  assert.equal(clock!.now(), 30);
}, { virtualClock: 0 });

testEachStrategy(
  "nested timeouts: an outer shorter one passes through the inner",
  async ({ clock }) => {
    let innerScope: CancelScope | undefined;
    let afterInner = false;
    const result = await moveOnAfter(10, async () => {
      await moveOnAfter(100, async (scope) => {
        innerScope = scope;
        await sleepForever();
      });
      afterInner = true;
    });
    assert.equal(result, undefined);
    assert.equal(afterInner, false);
    assert.equal(innerScope!.cancelledCaught, false);
    assert.equal(clock!.now(), 10);
  },
  { virtualClock: 0 },
);

// --- failAfter / failAt ------------------------------------------------------------------------

testEachStrategy("failAfter returns fn's result when it is fast enough", async () => {
  assert.equal(await failAfter(100, () => sleep(10).then(() => 42)), 42);
  assert.equal(await failAfter(100, () => "sync"), "sync");
}, { virtualClock: 0 });

testEachStrategy("failAfter throws TimeoutError at the deadline", async ({ clock }) => {
  let cancelled = false;
  const error = await rejection(failAfter(50, async () => {
    try {
      await sleepForever();
    } catch (error) {
      cancelled = error instanceof CancelledError;
      throw error;
    }
  }));
  assert.ok(error instanceof TimeoutError);
  assert.match(error.message, /Timed out after 50 ms/);
  assert.equal(cancelled, true);
  assert.equal(clock!.now(), 50);
}, { virtualClock: 0 });

testEachStrategy(
  "on the real clock failAfter always reports the timeout as a timeout",
  async () => {
    for (let i = 0; i < 20; i++) {
      const ms = 0.3 + (i % 5) * 0.4;
      const error = await rejection(failAfter(ms, () => sleepForever()));
      assert.ok(error instanceof TimeoutError);
      assert.match(error.message, /^Timed out after/);
    }
  },
);

testEachStrategy("failAt throws TimeoutError at an absolute deadline", async ({ clock }) => {
  await sleep(5);
  const error = await rejection(failAt(25, () => sleepForever()));
  assert.ok(error instanceof TimeoutError);
  assert.equal(clock!.now(), 25);
  assert.equal(await failAt(100, () => "in time"), "in time");
}, { virtualClock: 0 });

testEachStrategy("a failure inside failAfter propagates unchanged", async () => {
  const failure = new RangeError("inner");
  const error = await rejection(failAfter(10, async () => {
    await sleep(1);
    throw failure;
  }));
  assert.equal(error, failure);
}, { virtualClock: 0 });

testEachStrategy(
  "failAfter inside a cancelled outer scope lets the cancellation through",
  async () => {
    const outer = new CancelScope();
    let seen: unknown;
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        outer.run(async () => {
          try {
            await failAfter(100, () => sleepForever());
          } catch (error) {
            seen = error;
            throw error;
          }
        })
      );
      await sleep(10);
      outer.cancel();
    });
    assert.ok(seen instanceof CancelledError, "not a TimeoutError");
    assert.equal(outer.cancelledCaught, true);
  },
  { virtualClock: 0 },
);

testEachStrategy(
  "failAfter cancelled by hand before its deadline throws TimeoutError",
  async () => {
    const error = await rejection(failAfter(100, async (scope) => {
      scope.cancel("by hand");
      await checkpoint();
    }));
    assert.ok(error instanceof TimeoutError);
    assert.match(error.message, /Cancelled before 100 ms: by hand/);
  },
  { virtualClock: 0 },
);

testEachStrategy(
  "nested failAfter: the inner one's TimeoutError reaches the outer code",
  async ({ clock }) => {
    const error = await rejection(failAfter(100, () => failAfter(10, () => sleepForever())));
    assert.ok(error instanceof TimeoutError);
    assert.match(error.message, /10 ms/);
    assert.equal(clock!.now(), 10);
  },
  { virtualClock: 0 },
);

// --- withSignal --------------------------------------------------------------------------------

testEachStrategy("withSignal returns fn's result when the signal does not abort", async () => {
  const controller = new AbortController();
  assert.equal(await withSignal(controller.signal, () => sleep(5).then(() => "ok")), "ok");
  controller.abort();
}, { virtualClock: 0 });

testEachStrategy("withSignal(undefined) runs fn as is", async () => {
  assert.equal(
    await withSignal(undefined, async () => {
      await sleep(5);
      return 7;
    }),
    7,
  );
}, { virtualClock: 0 });

testEachStrategy("withSignal throws signal.reason when the signal aborts", async ({ clock }) => {
  const controller = new AbortController();
  let cancelled = false;
  await taskGroup(async (tg) => {
    tg.spawn(async () => {
      const error = await rejection(withSignal(controller.signal, async () => {
        try {
          await sleepForever();
        } catch (error) {
          cancelled = error instanceof CancelledError;
          throw error;
        }
      }));
      assert.ok(error instanceof DOMException);
      assert.equal(error.name, "AbortError");
      assert.equal(error, controller.signal.reason);
    });
    await sleep(15);
    controller.abort();
  });
  assert.equal(cancelled, true);
  assert.equal(clock!.now(), 15);
}, { virtualClock: 0 });

testEachStrategy("withSignal throws a custom abort reason as is", async () => {
  const controller = new AbortController();
  const reason = new Error("user pressed stop");
  const pending = rejection(withSignal(controller.signal, () => sleepForever()));
  controller.abort(reason);
  assert.equal(await pending, reason);
}, { virtualClock: 0 });

testEachStrategy(
  "withSignal with an already-aborted signal throws at once without running fn",
  async () => {
    const signal = AbortSignal.abort();
    let reached = false;
    const error = await rejection(withSignal(signal, async () => {
      reached = true;
      await checkpoint();
      return "not reached";
    }));
    assert.equal(reached, false);
    assert.equal(error, signal.reason);
    assert.equal((error as DOMException).name, "AbortError");
  },
);

testEachStrategy("withSignal stops following the signal once fn returns", async () => {
  const controller = new AbortController();
  let scope: CancelScope | undefined;
  await withSignal(controller.signal, () => {
    scope = CancelScope.current();
  });
  controller.abort();
  assert.equal(scope!.cancelCalled, false);
});

testEachStrategy("a failure inside withSignal propagates", async () => {
  const failure = new Error("inner");
  const error = await rejection(withSignal(new AbortController().signal, () => {
    throw failure;
  }));
  assert.equal(error, failure);
});
