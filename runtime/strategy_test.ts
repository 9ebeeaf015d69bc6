import assert from "node:assert/strict";
import { checkpoint } from "./checkpoint.ts";
import { run, runtimeStats } from "./run.ts";
import { sleep } from "./sleep.ts";
import type { StrategyFactory, StrategyName } from "./strategy.ts";
import { eagerStrategy } from "./eager_strategy.ts";
import { fairStrategy, makeFairStrategy } from "./fair_strategy.ts";
import { makeShuffleStrategy, shuffleStrategy } from "./shuffle_strategy.ts";
import { strategies } from "./strategies.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";
import { VirtualClock } from "./virtual_clock.ts";

const LOOP_MS = 50;
const LOOPERS = 4;

/** Spawns tasks that loop on checkpoint() for LOOP_MS of real time, and one that sleeps 1 ms. */
async function timerAgainstCheckpointLoops(): Promise<{
  lateMs: number;
  loopsRunningAtWake: number;
  events: string[];
}> {
  const events: string[] = [];
  let loopsRunning = 0;
  let lateMs = NaN;
  let loopsRunningAtWake = -1;
  await taskGroup((tg) => {
    tg.spawn(async () => {
      const due = performance.now() + 1;
      await sleep(1);
      lateMs = performance.now() - due;
      loopsRunningAtWake = loopsRunning;
      events.push("timer");
    });
    for (let i = 0; i < LOOPERS; i++) {
      tg.spawn(async () => {
        loopsRunning++;
        const end = performance.now() + LOOP_MS;
        while (performance.now() < end) await checkpoint();
        loopsRunning--;
        events.push(`loop ${i} done`);
      });
    }
  });
  return { lateMs, loopsRunningAtWake, events };
}

testEachStrategy(
  "fair: a 1 ms timer fires at most 5 ms late while 4 tasks loop on checkpoint()",
  async () => {
    // The loops keep the process on the CPU; on a busy shared machine the OS may preempt it for
    // a whole time slice (about 4 ms) right when the timer is due. That is not the strategy's
    // doing, so up to three attempts are made; a starving strategy is ~50 ms late every time.
    const lateness: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const { lateMs, loopsRunningAtWake, events } = await timerAgainstCheckpointLoops();
      assert.equal(loopsRunningAtWake, LOOPERS, "the timer fired while every loop was running");
      assert.equal(events[0], "timer");
      lateness.push(lateMs.toFixed(2));
      if (lateMs <= 5) break;
    }
    assert.ok(
      Number(lateness.at(-1)) <= 5,
      `the timer fired more than 5 ms late in every attempt: ${lateness.join(", ")} ms`,
    );
    assert.ok(runtimeStats().delaySamples > 0, "the macrotask yields were measured");
  },
  { strategies: ["fair"] },
);

testEachStrategy(
  "a real-clock deadline interrupts a loop that only calls checkpoint() within 5 ms",
  async ({ strategy }) => {
    // As in the fair timer test above, the OS may preempt this process for a whole time
    // slice right at the deadline: up to three attempts. Without the deadline check the
    // eager strategy runs the loop to its 2 s safety limit every time.
    const lateness: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      let hops = 0;
      const start = performance.now();
      const limit = start + 2_000;
      const result = await moveOnAfter(20, async () => {
        while (performance.now() < limit) {
          await checkpoint();
          hops++;
        }
        return "ran to the limit";
      });
      const lateMs = performance.now() - start - 20;
      assert.equal(result, undefined, `${strategy}: the deadline never interrupted the loop`);
      assert.ok(hops > 0);
      lateness.push(lateMs.toFixed(2));
      if (lateMs <= 5) break;
    }
    assert.ok(
      Number(lateness.at(-1)) <= 5,
      `${strategy}: the deadline fired more than 5 ms late in every attempt: ${
        lateness.join(", ")
      } ms`,
    );
  },
);

testEachStrategy(
  "eager: checkpoint loops starve a 1 ms timer until they end",
  async () => {
    const { lateMs, loopsRunningAtWake, events } = await timerAgainstCheckpointLoops();
    assert.equal(loopsRunningAtWake, 0);
    assert.deepEqual(events.slice(0, LOOPERS).sort(), [
      "loop 0 done",
      "loop 1 done",
      "loop 2 done",
      "loop 3 done",
    ]);
    assert.equal(events.at(-1), "timer");
    assert.ok(lateMs >= LOOP_MS - 1, `the timer waited for the loops: ${lateMs} ms`);
    assert.equal(runtimeStats().delaySamples, 0, "eager never waits for a macrotask");
  },
  { strategies: ["eager"] },
);

testEachStrategy("run uses the strategy it is given by name", async ({ strategy }) => {
  assert.equal(runtimeStats().strategy, strategy);
  const nested = await run(() => runtimeStats().strategy, { strategy });
  assert.equal(nested, strategy);
});

Deno.test("run defaults to the eager strategy", async () => {
  assert.equal(await run(() => runtimeStats().strategy), "eager");
});

Deno.test("run rejects an unknown strategy name with TypeError", async () => {
  let ran = false;
  await assert.rejects(
    run(() => {
      ran = true;
    }, { strategy: "round-robin" as StrategyName }),
    (error: unknown) =>
      error instanceof TypeError &&
      /unknown strategy: received "round-robin"/.test(error.message) &&
      /eager, fair, shuffle/.test(error.message),
  );
  assert.equal(ran, false);
});

Deno.test("run accepts a strategy factory", async () => {
  let yields = 0;
  let schedules = 0;
  const counting: StrategyFactory = (context) => {
    const inner = eagerStrategy(context);
    return {
      name: "counting",
      yield: () => {
        yields++;
        return inner.yield();
      },
      schedule: (start) => {
        schedules++;
        inner.schedule(start);
      },
    };
  };
  const name = await run(async () => {
    await taskGroup((tg) => {
      tg.spawn(() => checkpoint());
      tg.spawn(() => checkpoint());
    });
    await checkpoint();
    return runtimeStats().strategy;
  }, { strategy: counting });
  assert.equal(name, "counting");
  assert.equal(yields, 3);
  assert.equal(schedules, 1, "both children start in one batch");
});

Deno.test("the built-in strategies are frozen and named", () => {
  assert.deepEqual(Object.keys(strategies).sort(), ["eager", "fair", "shuffle"]);
  assert.equal(strategies.eager, eagerStrategy);
  assert.equal(strategies.fair, fairStrategy);
  assert.equal(strategies.shuffle, shuffleStrategy);
  assert.ok(Object.isFrozen(strategies));
  const context = { recordDelay: () => {}, fireDueDeadlines: () => {}, seed: 0 };
  assert.equal(eagerStrategy(context).name, "eager");
  assert.equal(fairStrategy(context).name, "fair");
  assert.equal(shuffleStrategy(context).name, "shuffle");
});

Deno.test("makeFairStrategy rejects bad options with RangeError", () => {
  assert.throws(() => makeFairStrategy({ sliceMs: 0 }), RangeError);
  assert.throws(() => makeFairStrategy({ sliceMs: -1 }), RangeError);
  assert.throws(() => makeFairStrategy({ sliceMs: NaN }), RangeError);
  assert.throws(() => makeFairStrategy({ checkEvery: 0 }), RangeError);
  assert.throws(() => makeFairStrategy({ checkEvery: NaN }), RangeError);
});

Deno.test("a fair strategy with a custom slice yields to timers during loops", async () => {
  const events: string[] = [];
  await run(async () => {
    let stop = false;
    await taskGroup((tg) => {
      tg.spawn(async () => {
        await sleep(1);
        stop = true;
        events.push("timer");
      });
      tg.spawn(async () => {
        const end = performance.now() + 2_000; // generous; the timer stops it long before
        while (!stop && performance.now() < end) await checkpoint();
        events.push("loop done");
      });
    });
  }, { strategy: makeFairStrategy({ sliceMs: 2, checkEvery: 1 }) });
  assert.deepEqual(events, ["timer", "loop done"]);
});

testEachStrategy(
  "a fair or eager strategy starts every child and runs its checkpoints",
  async ({ strategy }) => {
    const done: number[] = [];
    await taskGroup((tg) => {
      for (let i = 0; i < 200; i++) {
        tg.spawn(async () => {
          for (let j = 0; j < 20; j++) await checkpoint();
          done.push(i);
        });
      }
    });
    const sorted = [...done].sort((a, b) => a - b);
    assert.deepEqual(sorted, Array.from({ length: 200 }, (_, i) => i));
    // Eager is pure microtask round-robin; fair may park a task for a macrotask turn mid-loop.
    if (strategy === "eager") assert.deepEqual(done, sorted, "round-robin keeps the start order");
  },
);

/**
 * A small simulation on the virtual clock: five tasks that take turns at checkpoints, sleep,
 * and pass tokens through an event; the order of everything they do, as text.
 */
async function simulation(seed: number): Promise<string> {
  const events: string[] = [];
  const clock = new VirtualClock({ autojumpThreshold: 0 });
  await run(() =>
    taskGroup((tg) => {
      for (let task = 0; task < 5; task++) {
        tg.spawn(async () => {
          for (let step = 0; step < 6; step++) {
            events.push(`${task}.${step}@${clock.now()}`);
            if (step % 3 === 2) await sleep(10);
            else await checkpoint();
          }
        });
      }
    }), { strategy: "shuffle", seed, clock });
  return events.join(" ");
}

Deno.test("shuffle: one seed gives one interleaving on the virtual clock; another seed another", async () => {
  const first = await simulation(42);
  assert.equal(await simulation(42), first);
  assert.equal(await simulation(42), first);
  const others = new Set<string>();
  for (const seed of [1, 2, 3, 4, 5]) others.add(await simulation(seed));
  others.add(first);
  assert.ok(others.size > 1, "six seeds gave one order: nothing is shuffled");
  // Every order is a valid schedule: each task's steps in its own order.
  for (const order of others) {
    for (let task = 0; task < 5; task++) {
      const steps = order.split(" ").filter((e) => e.startsWith(`${task}.`)).map((e) =>
        e.split("@")[0]
      );
      assert.deepEqual(steps, [0, 1, 2, 3, 4, 5].map((step) => `${task}.${step}`));
    }
  }
});

Deno.test("shuffle: run takes a seed, runtimeStats tells it, bad seeds are refused", async () => {
  assert.equal(await run(() => runtimeStats().seed, { strategy: "shuffle", seed: 42 }), 42);
  for (const seed of [-1, 1.5, 2 ** 32, NaN]) {
    await assert.rejects(run(() => {}, { strategy: "shuffle", seed }), RangeError);
  }
  assert.throws(() => makeShuffleStrategy({ seed: -1 }), RangeError);
  assert.throws(() => makeShuffleStrategy({ sliceMs: 0 }), RangeError);
  // A fixed seed in the factory wins over the run's.
  const order = async (runSeed: number) => {
    const seen: number[] = [];
    await run(() =>
      taskGroup((tg) => {
        for (let i = 0; i < 8; i++) tg.spawn(() => void seen.push(i));
      }), { strategy: makeShuffleStrategy({ seed: 9 }), seed: runSeed });
    return seen.join();
  };
  assert.equal(await order(1), await order(2));
});

Deno.test("shuffle: IPFS_KIT_SEED is the default seed", async () => {
  const previous = Deno.env.get("IPFS_KIT_SEED");
  try {
    Deno.env.set("IPFS_KIT_SEED", "1234");
    assert.equal(await run(() => runtimeStats().seed, { strategy: "shuffle" }), 1234);
    Deno.env.set("IPFS_KIT_SEED", "not a number");
    await assert.rejects(run(() => {}), /Cannot read IPFS_KIT_SEED: seed must be an integer/);
  } finally {
    if (previous === undefined) Deno.env.delete("IPFS_KIT_SEED");
    else Deno.env.set("IPFS_KIT_SEED", previous);
  }
});

Deno.test("shuffle: a failing testEachStrategy test names its seed and how to replay it", async () => {
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "--allow-env",
      "--allow-read",
      new URL("./testdata/failing_suite.ts", import.meta.url).pathname,
    ],
    env: { IPFS_KIT_SEED: "31337", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(child.stdout) + new TextDecoder().decode(child.stderr);
  assert.equal(child.code, 1);
  assert.match(output, /shuffle seed 31337: replay with IPFS_KIT_SEED=31337/);
  assert.doesNotMatch(output, /\[eager\][^\n]*\n[^\n]*replay/);
});
