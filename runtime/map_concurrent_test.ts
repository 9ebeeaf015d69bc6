import assert from "node:assert/strict";
import { currentTime } from "./checkpoint.ts";
import { CancelledError, TaskGroupError } from "./errors.ts";
import { mapConcurrent, mapConcurrentIter } from "./map_concurrent.ts";
import { sleep, sleepForever } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";

/** Counts calls in flight and remembers the highest count. */
class Gauge {
  now = 0;
  max = 0;
  cancelled = 0;
  async track<T>(fn: () => Promise<T>): Promise<T> {
    this.now++;
    this.max = Math.max(this.max, this.now);
    try {
      return await fn();
    } catch (error) {
      if (error instanceof CancelledError) this.cancelled++;
      throw error;
    } finally {
      this.now--;
    }
  }
}

/** A sync iterable that logs how far it was pulled and whether it was closed. */
function* counting(n: number, log: { pulled: number; closed: boolean }): Generator<number> {
  try {
    for (let i = 0; i < n; i++) {
      log.pulled++;
      yield i;
    }
  } finally {
    log.closed = true;
  }
}

testEachStrategy("mapConcurrent returns results in input order", async () => {
  const results = await mapConcurrent([30, 10, 20], async (ms, index) => {
    await sleep(ms);
    return `${index}:${ms}`;
  }, { concurrency: 3 });
  assert.deepEqual(results, ["0:30", "1:10", "2:20"]);
  assert.equal(currentTime(), 30);
}, { virtualClock: 0 });

testEachStrategy("mapConcurrent with concurrency 1 runs one at a time", async () => {
  const gauge = new Gauge();
  const results = await mapConcurrent([30, 10, 20], (ms) =>
    gauge.track(async () => {
      await sleep(ms);
      return ms * 2;
    }), { concurrency: 1 });
  assert.deepEqual(results, [60, 20, 40]);
  assert.equal(gauge.max, 1);
  assert.equal(currentTime(), 60);
}, { virtualClock: 0 });

testEachStrategy("mapConcurrent pulls lazily and never exceeds the bound", async () => {
  const gauge = new Gauge();
  const log = { pulled: 0, closed: false };
  let finished = 0;
  const pulledAhead: number[] = [];
  const results = await mapConcurrent(counting(20, log), (n) =>
    gauge.track(async () => {
      pulledAhead.push(log.pulled - finished);
      await sleep(1 + (n % 3));
      finished++;
      return n;
    }), { concurrency: 4 });
  assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(gauge.max, 4);
  assert.ok(Math.max(...pulledAhead) <= 4, `pulled ahead: ${pulledAhead}`);
  assert.equal(log.pulled, 20);
  assert.equal(log.closed, true);
}, { virtualClock: 0 });

testEachStrategy("mapConcurrent maps an async iterable", async () => {
  async function* source(): AsyncGenerator<string> {
    for (const word of ["x", "yy", "zzz"]) {
      await sleep(5);
      yield word;
    }
  }
  const gauge = new Gauge();
  const results = await mapConcurrent(source(), (word) =>
    gauge.track(async () => {
      await sleep(100);
      return word.length;
    }), { concurrency: 2 });
  assert.deepEqual(results, [1, 2, 3]);
  assert.equal(gauge.max, 2);
  // Items 0 and 1 start at 5 and 10; item 2 is pulled when item 0 ends (105), ready at 110.
  assert.equal(currentTime(), 210);
}, { virtualClock: 0 });

testEachStrategy("mapConcurrent accepts synchronous functions and empty input", async () => {
  assert.deepEqual(await mapConcurrent(new Set([1, 2, 3]), (n, i) => n * 10 + i), [10, 21, 32]);
  assert.deepEqual(await mapConcurrent([], () => 1), []);
  const values = [Promise.resolve(1)];
  const seen = await mapConcurrent(values, (item) => item);
  assert.deepEqual(seen, [1]);
}, { virtualClock: 0 });

testEachStrategy("mapConcurrent with Infinity starts everything at once", async () => {
  const gauge = new Gauge();
  const items = Array.from({ length: 50 }, (_, i) => i);
  const results = await mapConcurrent(items, (n) =>
    gauge.track(async () => {
      await sleep(10);
      return -n;
    }), { concurrency: Infinity });
  assert.deepEqual(results, items.map((n) => -n));
  assert.equal(gauge.max, 50);
  assert.equal(currentTime(), 10);
}, { virtualClock: 0 });

testEachStrategy("the first failure cancels the rest and stops pulling", async () => {
  const gauge = new Gauge();
  const log = { pulled: 0, closed: false };
  const failure = new RangeError("bad item");
  const error = await mapConcurrent(counting(10, log), (n) =>
    gauge.track(async () => {
      if (n === 1) {
        await sleep(5);
        throw failure;
      }
      await sleepForever();
    }), { concurrency: 2 }).catch((e) => e);
  assert.ok(error instanceof TaskGroupError);
  assert.deepEqual(error.errors, [failure]);
  assert.equal(gauge.cancelled, 1);
  assert.equal(gauge.now, 0);
  assert.equal(log.pulled, 2);
  assert.equal(log.closed, true);
  assert.equal(currentTime(), 5);
}, { virtualClock: 0 });

testEachStrategy("a throwing iterable cancels the calls in flight", async () => {
  const gauge = new Gauge();
  const failure = new Error("source broke");
  async function* source(): AsyncGenerator<number> {
    yield 1;
    await sleep(7);
    throw failure;
  }
  const error = await mapConcurrent(source(), () => gauge.track(() => sleepForever()))
    .catch((e) => e);
  assert.ok(error instanceof TaskGroupError);
  assert.deepEqual(error.errors, [failure]);
  assert.equal(gauge.cancelled, 1);
  assert.equal(currentTime(), 7);
}, { virtualClock: 0 });

testEachStrategy("aborting the signal cancels the map with its reason", async () => {
  const controller = new AbortController();
  const reason = new Error("enough");
  const gauge = new Gauge();
  const log = { pulled: 0, closed: false };
  const thrown = await taskGroup(async (tg) => {
    tg.spawn(async () => {
      await sleep(20);
      controller.abort(reason);
    });
    return await mapConcurrent(counting(100, log), () => gauge.track(() => sleep(15)), {
      concurrency: 3,
      signal: controller.signal,
    }).catch((e) => e);
  });
  assert.equal(thrown, reason);
  assert.equal(gauge.cancelled, 3);
  assert.equal(log.pulled, 6);
  assert.equal(log.closed, true);
  assert.equal(currentTime(), 20);
}, { virtualClock: 0 });

testEachStrategy("an already aborted signal maps nothing", async () => {
  const controller = new AbortController();
  controller.abort(new Error("before"));
  let calls = 0;
  await assert.rejects(mapConcurrent([1, 2], () => ++calls, { signal: controller.signal }), {
    message: "before",
  });
  assert.equal(calls, 0);
}, { virtualClock: 0 });

testEachStrategy("cancelling the caller's scope cancels the map", async () => {
  const gauge = new Gauge();
  const result = await moveOnAfter(
    12,
    () => mapConcurrent([1, 2, 3, 4], () => gauge.track(() => sleepForever()), { concurrency: 2 }),
  );
  assert.equal(result, undefined);
  assert.equal(gauge.cancelled, 2);
  assert.equal(currentTime(), 12);
}, { virtualClock: 0 });

testEachStrategy("mapConcurrent validates its arguments", async () => {
  await assert.rejects(mapConcurrent([1], "f" as unknown as () => void), TypeError);
  await assert.rejects(mapConcurrent(5 as unknown as number[], () => 1), /items must be iterable/);
  await assert.rejects(mapConcurrent(null as unknown as number[], () => 1), TypeError);
  for (const concurrency of [0, -1, 1.5, NaN]) {
    await assert.rejects(mapConcurrent([1], () => 1, { concurrency }), RangeError);
  }
}, { virtualClock: 0 });

testEachStrategy("mapConcurrentIter yields results in completion order", async () => {
  const seen: Array<[number, number]> = [];
  for await (
    const ms of mapConcurrentIter([30, 10, 20, 5], async (ms) => {
      await sleep(ms);
      return ms;
    }, { concurrency: 4 })
  ) {
    seen.push([ms, currentTime()]);
  }
  assert.deepEqual(seen, [[5, 5], [10, 10], [20, 20], [30, 30]]);
}, { virtualClock: 0 });

testEachStrategy("mapConcurrentIter holds back pulling for a slow consumer", async () => {
  const gauge = new Gauge();
  const log = { pulled: 0, closed: false };
  let consumed = 0; // Items handed to the loop body.
  const ahead: number[] = [];
  const results: number[] = [];
  for await (
    const n of mapConcurrentIter(counting(12, log), (n) =>
      gauge.track(async () => {
        ahead.push(log.pulled - consumed);
        await sleep(1);
        return n;
      }), { concurrency: 3 })
  ) {
    consumed++;
    await sleep(10);
    results.push(n);
  }
  assert.deepEqual(results.toSorted((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i));
  assert.ok(Math.max(...ahead) <= 3, `pulled ahead: ${ahead}`);
  assert.equal(gauge.max, 3);
  assert.equal(log.closed, true);
}, { virtualClock: 0 });

testEachStrategy("breaking out of mapConcurrentIter cancels the calls in flight", async () => {
  const gauge = new Gauge();
  const log = { pulled: 0, closed: false };
  const seen: number[] = [];
  for await (
    const n of mapConcurrentIter(counting(100, log), (n) =>
      gauge.track(async () => {
        await sleep(n % 2 === 0 ? 1 : 1000);
        return n;
      }), { concurrency: 4 })
  ) {
    seen.push(n);
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen, [0, 2, 4]);
  // Every odd item taken so far was still sleeping and got cancelled before the loop was left.
  assert.equal(gauge.now, 0);
  assert.ok(gauge.cancelled >= 3, `cancelled: ${gauge.cancelled}`);
  assert.equal(log.closed, true);
  assert.ok(currentTime() < 1000);
}, { virtualClock: 0 });

testEachStrategy("an exception in the loop body cancels the calls in flight", async () => {
  const gauge = new Gauge();
  const failure = new Error("consumer broke");
  const thrown = await (async () => {
    for await (
      const _ of mapConcurrentIter([1, 500, 500], (ms) => gauge.track(() => sleep(ms)), {
        concurrency: 3,
      })
    ) {
      throw failure;
    }
  })().catch((e) => e);
  assert.equal(thrown, failure);
  assert.equal(gauge.cancelled, 2);
  assert.equal(gauge.now, 0);
  assert.equal(currentTime(), 1);
}, { virtualClock: 0 });

testEachStrategy("a failure in mapConcurrentIter is thrown from the loop", async () => {
  const gauge = new Gauge();
  const failure = new SyntaxError("bad record");
  const seen: number[] = [];
  const thrown = await (async () => {
    for await (
      const n of mapConcurrentIter([1, 2, 3, 4], (n) =>
        gauge.track(async () => {
          await sleep(n);
          if (n === 2) throw failure;
          if (n > 2) await sleepForever();
          return n;
        }), { concurrency: 4 })
    ) {
      seen.push(n);
    }
  })().catch((e) => e);
  assert.ok(thrown instanceof TaskGroupError);
  assert.deepEqual(thrown.errors, [failure]);
  assert.deepEqual(seen, [1]);
  assert.equal(gauge.cancelled, 2);
  assert.equal(gauge.now, 0);
}, { virtualClock: 0 });

testEachStrategy("a failing source in mapConcurrentIter is thrown from the loop", async () => {
  const failure = new Error("source broke");
  async function* source(): AsyncGenerator<number> {
    yield 1;
    await sleep(3);
    throw failure;
  }
  const seen: number[] = [];
  const thrown = await (async () => {
    for await (const n of mapConcurrentIter(source(), (n) => n * 2)) seen.push(n);
  })().catch((e) => e);
  assert.ok(thrown instanceof TaskGroupError);
  assert.deepEqual(thrown.errors, [failure]);
  assert.deepEqual(seen, [2]);
}, { virtualClock: 0 });

testEachStrategy("aborting the signal stops mapConcurrentIter with its reason", async () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  const gauge = new Gauge();
  const seen: number[] = [];
  const thrown = await taskGroup(async (tg) => {
    tg.spawn(async () => {
      await sleep(25);
      controller.abort(reason);
    });
    try {
      for await (
        const n of mapConcurrentIter([10, 20, 30, 40], (ms) =>
          gauge.track(() => sleep(ms))
            .then(() => ms), { concurrency: 4, signal: controller.signal })
      ) {
        seen.push(n);
      }
    } catch (error) {
      return error;
    }
    return undefined;
  });
  assert.equal(thrown, reason);
  assert.deepEqual(seen, [10, 20]);
  assert.equal(gauge.cancelled, 2);
  assert.equal(gauge.now, 0);
  assert.equal(currentTime(), 25);
}, { virtualClock: 0 });

testEachStrategy("cancelling the consumer's scope cancels mapConcurrentIter", async () => {
  const gauge = new Gauge();
  const seen: number[] = [];
  await moveOnAfter(15, async () => {
    for await (
      const n of mapConcurrentIter(
        [10, 20, 30],
        (ms) => gauge.track(() => sleep(ms)).then(() => ms),
      )
    ) {
      seen.push(n);
    }
  });
  assert.deepEqual(seen, [10]);
  assert.equal(gauge.cancelled, 2);
  assert.equal(gauge.now, 0);
  assert.equal(currentTime(), 15);
}, { virtualClock: 0 });

testEachStrategy("mapConcurrentIter validates at once and starts nothing before next()", () => {
  assert.throws(() => mapConcurrentIter([1], 1 as unknown as () => void), TypeError);
  assert.throws(() => mapConcurrentIter([1], () => 1, { concurrency: 0 }), RangeError);
  assert.throws(() => mapConcurrentIter({} as unknown as number[], () => 1), TypeError);
  let calls = 0;
  const iterator = mapConcurrentIter([1, 2], () => ++calls);
  assert.equal(calls, 0);
  return iterator.return().then((result) => {
    assert.equal(result.done, true);
    assert.equal(calls, 0);
  });
}, { virtualClock: 0 });
