import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { checkpoint, currentTime } from "./checkpoint.ts";
import { CancelledError, TaskGroupError } from "./errors.ts";
import type { RuntimeHooks } from "./instrumentation.ts";
import { run, runtimeStats } from "./run.ts";
import { sleep, sleepForever } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";
import { VirtualClock } from "./virtual_clock.ts";
import { rejection } from "../tests/_async.ts";

/** Collects what `reportError` reports while `fn` runs. */
async function captureReportedErrors(fn: () => Promise<void>): Promise<unknown[]> {
  const reported: unknown[] = [];
  const listener = (event: ErrorEvent) => {
    event.preventDefault();
    reported.push(event.error);
  };
  globalThis.addEventListener("error", listener);
  try {
    await fn();
  } finally {
    globalThis.removeEventListener("error", listener);
  }
  return reported;
}

// --- run() -------------------------------------------------------------------------------------

testEachStrategy("run returns main's result", async ({ strategy }) => {
  assert.equal(await run(() => 42, { strategy }), 42);
  assert.equal(
    await run(async () => {
      await checkpoint();
      return "async";
    }, { strategy }),
    "async",
  );
});

testEachStrategy("run rejects with main's failure", async ({ strategy }) => {
  const failure = new Error("main failed");
  assert.equal(
    await rejection(run(async () => {
      await checkpoint();
      throw failure;
    }, { strategy })),
    failure,
  );
});

testEachStrategy(
  "run's signal cancels main and run rejects with signal.reason",
  async ({ strategy }) => {
    const controller = new AbortController();
    const clock = new VirtualClock({ autojumpThreshold: 0 });
    let mainCancelled = false;
    const pending = rejection(run(async () => {
      await taskGroup((tg) => {
        tg.spawn(async () => {
          await sleep(30);
          controller.abort();
        });
        tg.spawn(async () => {
          try {
            await sleepForever();
          } catch (error) {
            mainCancelled = error instanceof CancelledError;
            throw error;
          }
        });
      });
      return "not reached";
    }, { strategy, clock, signal: controller.signal }));
    const error = await pending;
    assert.equal(error, controller.signal.reason);
    assert.equal((error as DOMException).name, "AbortError");
    assert.equal(mainCancelled, true);
    assert.equal(clock.now(), 30);
  },
);

testEachStrategy(
  "run with an already-aborted signal rejects at main's first checkpoint",
  async ({ strategy }) => {
    const reason = new Error("stopped before start");
    const error = await rejection(run(async () => {
      await checkpoint();
      return "not reached";
    }, { strategy, signal: AbortSignal.abort(reason) }));
    assert.equal(error, reason);
  },
);

testEachStrategy(
  "run with a signal that never aborts returns main's result",
  async ({ strategy }) => {
    const controller = new AbortController();
    assert.equal(
      await run(() => sleep(1).then(() => "ok"), { strategy, signal: controller.signal }),
      "ok",
    );
    controller.abort(); // after the run: no effect, no error
  },
);

testEachStrategy(
  "a nested run has its own strategy, clock and counters",
  async ({ strategy, clock }) => {
    await sleep(10);
    const outerStats = runtimeStats();
    const innerClock = new VirtualClock({ start: 1_000, autojumpThreshold: 0 });
    const other = strategy === "eager" ? "fair" : "eager";
    const inner = await run(async () => {
      await taskGroup((tg) => tg.spawn(() => sleep(500)));
      return { time: currentTime(), stats: runtimeStats() };
    }, { strategy: other, clock: innerClock });
    assert.equal(inner.time, 1_500);
    assert.equal(inner.stats.strategy, other);
    assert.equal(inner.stats.tasksSpawned, 1);
    assert.equal(runtimeStats().strategy, strategy);
    assert.equal(runtimeStats().tasksSpawned, outerStats.tasksSpawned);
    assert.equal(currentTime(), 10);
    assert.equal(clock!.now(), 10);
  },
  { virtualClock: 0 },
);

Deno.test("code outside run uses the default runtime: eager and the real clock", async () => {
  assert.equal(runtimeStats().strategy, "eager");
  const before = performance.now();
  const result = await taskGroup(async (tg) => {
    tg.spawn(() => sleep(1));
    return await moveOnAfter(1_000, () => "in time");
  });
  assert.equal(result, "in time");
  assert.ok(currentTime() >= before);
});

// --- runtimeStats ------------------------------------------------------------------------------

testEachStrategy("runtimeStats counts spawned, finished and live tasks", async () => {
  const start = runtimeStats();
  assert.deepEqual(
    [start.tasksSpawned, start.tasksFinished, start.tasksLive, start.scopesCancelled],
    [0, 0, 0, 0],
  );
  const failure = new Error("one fails");
  const error = await rejection(taskGroup(async (tg) => {
    tg.spawn(() => sleep(10));
    tg.spawn(() => sleepForever());
    await tg.start(async (status) => {
      status.started();
      await sleep(20);
      throw failure;
    });
    const live = runtimeStats();
    assert.equal(live.tasksSpawned, 3);
    assert.equal(live.tasksLive, 3);
    await sleepForever();
  }));
  assert.ok(error instanceof TaskGroupError);
  const end = runtimeStats();
  assert.equal(end.tasksSpawned, 3);
  assert.equal(end.tasksFinished, 3);
  assert.equal(end.tasksLive, 0);
  assert.equal(end.scopesCancelled, 1, "the group's scope, cancelled by the failure");
}, { virtualClock: 0 });

testEachStrategy("runtimeStats counts cancelled scopes and checkpoints", async () => {
  const start = runtimeStats();
  await moveOnAfter(5, () => sleepForever()); // 1 checkpoint (the park), 1 scope cancelled
  const byHand = new CancelScope();
  byHand.cancel("early"); // cancelled before entry: counted once, at entry
  await byHand.run(() => checkpoint()); // 1 checkpoint
  await checkpoint(); // 1 checkpoint
  await sleep(1); // 1 checkpoint
  const end = runtimeStats();
  assert.equal(end.scopesCancelled - start.scopesCancelled, 2);
  assert.equal(end.checkpoints - start.checkpoints, 4);
}, { virtualClock: 0 });

Deno.test("a scope cancelled before entry is counted in the runtime it runs in only", async () => {
  const outside = runtimeStats().scopesCancelled;
  const inside = await run(async () => {
    const scope = new CancelScope();
    scope.cancel();
    await scope.run(() => checkpoint());
    return runtimeStats().scopesCancelled;
  });
  assert.equal(inside, 1);
  assert.equal(runtimeStats().scopesCancelled, outside, "not in the default runtime");
});

testEachStrategy(
  "the fair and shuffle strategies record scheduling delays; eager records none",
  async ({ strategy }) => {
    const stats = await run(async () => {
      await taskGroup((tg) => {
        for (let i = 0; i < 2; i++) {
          tg.spawn(async () => {
            const end = performance.now() + 10;
            while (performance.now() < end) await checkpoint();
          });
        }
      });
      return runtimeStats();
    }, { strategy });
    if (strategy !== "eager") {
      assert.ok(stats.delaySamples > 0);
      assert.ok(stats.delayTotalMs >= stats.delayMaxMs && stats.delayMaxMs >= 0);
    } else {
      assert.equal(stats.delaySamples, 0);
    }
  },
);

// --- hooks -------------------------------------------------------------------------------------

testEachStrategy(
  "hooks see spawns with names, finishes with errors, and cancellations",
  async ({ strategy }) => {
    const spawned: Array<string | undefined> = [];
    const finished: unknown[] = [];
    const cancelReasons: unknown[] = [];
    const failure = new Error("task failed");
    const hooks: RuntimeHooks = {
      onTaskSpawn: (name) => spawned.push(name),
      onTaskFinish: (error) => finished.push(error),
      onScopeCancel: (reason) => cancelReasons.push(reason),
    };
    const clock = new VirtualClock({ autojumpThreshold: 0 });
    const error = await rejection(run(() =>
      taskGroup(async (tg) => {
        tg.spawn(() => sleepForever(), { name: "sleeper" });
        await tg.start((status) => status.started(), { name: "starter" });
        tg.spawn(async () => {
          await sleep(5);
          throw failure;
        });
      }), { strategy, clock, hooks }));
    assert.ok(error instanceof TaskGroupError);
    assert.deepEqual(spawned, ["sleeper", "starter", undefined]);
    assert.equal(finished.length, 3);
    assert.deepEqual(
      finished.filter((e) => e !== undefined),
      [failure],
      "cancellation is no error",
    );
    assert.deepEqual(cancelReasons, [failure]);
  },
);

testEachStrategy(
  "a start() cancelled before started() finishes without an error",
  async ({ strategy }) => {
    const finished: unknown[] = [];
    await run(async () => {
      const caller = new CancelScope();
      await taskGroup(async (tg) => {
        await caller.run(async () => {
          const starting = tg.start(() => sleepForever());
          await checkpoint();
          caller.cancel();
          await starting;
        });
      });
    }, { strategy, hooks: { onTaskFinish: (error) => finished.push(error) } });
    assert.deepEqual(finished, [undefined]);
  },
);

testEachStrategy(
  "onSchedulingDelay reports the macrotask waits of the fair and shuffle strategies",
  async ({ strategy }) => {
    const delays: number[] = [];
    await run(async () => {
      const end = performance.now() + 10;
      while (performance.now() < end) await checkpoint();
    }, { strategy, hooks: { onSchedulingDelay: (ms) => delays.push(ms) } });
    if (strategy !== "eager") {
      assert.ok(delays.length > 0);
      assert.ok(delays.every((ms) => ms >= 0));
    } else {
      assert.deepEqual(delays, []);
    }
  },
);

testEachStrategy(
  "a throwing hook is reported with reportError, not fatal",
  async ({ strategy }) => {
    const broken = new Error("hook bug");
    let result: string | undefined;
    const reported = await captureReportedErrors(async () => {
      result = await run(async () => {
        await taskGroup((tg) => tg.spawn(() => checkpoint()));
        await moveOnAfter(0, () => checkpoint());
        return "survived";
      }, {
        strategy,
        hooks: {
          onTaskSpawn: () => {
            throw broken;
          },
          onTaskFinish: () => {
            throw broken;
          },
          onScopeCancel: () => {
            throw broken;
          },
        },
      });
    });
    assert.equal(result, "survived");
    assert.deepEqual(reported, [broken, broken, broken]);
  },
);

testEachStrategy(
  "a nested run is cancelled with the scope that called it",
  async ({ strategy }) => {
    const other = strategy === "eager" ? "fair" : "eager";
    let innerCancelled = false;
    const scope = new CancelScope();
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        scope.run(() =>
          run(async () => {
            try {
              await sleep(2_000); // not cancelled: the run ends after 2 s and the test fails
            } catch (error) {
              innerCancelled = error instanceof CancelledError;
              throw error;
            }
          }, { strategy: other })
        )
      );
      await sleep(5);
      scope.cancel();
    });
    assert.equal(innerCancelled, true);
    assert.equal(scope.cancelledCaught, true, "the caller's scope caught its own cancellation");

    // A deadline around the call reaches in too, and one already passed stops it at once.
    const started = performance.now();
    assert.equal(
      await moveOnAfter(10, () => run(() => sleep(2_000), { strategy: other })),
      undefined,
    );
    assert.ok(performance.now() - started < 1_000, "the deadline did not reach the nested run");
    const late = new CancelScope();
    late.cancel();
    let ran = false;
    await late.run(() =>
      run(async () => {
        await checkpoint();
        ran = true;
      }, { strategy: other })
    );
    assert.equal(ran, false);
    assert.equal(late.cancelledCaught, true);
  },
);

testEachStrategy(
  "a nested run's own signal still rejects with its reason",
  async ({ strategy }) => {
    const controller = new AbortController();
    const reason = new Error("inner signal");
    const inner = run(() => sleepForever(), { strategy, signal: controller.signal });
    await sleep(1);
    controller.abort(reason);
    await assert.rejects(inner, (error) => error === reason);
  },
);
