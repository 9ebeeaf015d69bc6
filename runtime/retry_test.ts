import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { currentTime } from "./checkpoint.ts";
import { CancelledError } from "./errors.ts";
import { backoffDelay, retry } from "./retry.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";

const half = () => 0.5;

testEachStrategy("retry returns the first success after exact virtual delays", async () => {
  const times: number[] = [];
  const seen: number[] = [];
  const value = await retry(async (attempt) => {
    seen.push(attempt);
    times.push(currentTime());
    await sleep(0);
    if (attempt < 4) throw new Error(`fail ${attempt}`);
    return `ok ${attempt}`;
  }, { random: half });
  assert.equal(value, "ok 4");
  assert.deepEqual(seen, [1, 2, 3, 4]);
  // Full jitter with random 0.5: half of 100, 200, 400.
  assert.deepEqual(times, [0, 50, 150, 350]);
}, { virtualClock: 0 });

testEachStrategy("retry does not sleep when the first attempt succeeds", async () => {
  let calls = 0;
  assert.equal(await retry(() => ++calls), 1);
  assert.equal(calls, 1);
  assert.equal(currentTime(), 0);
}, { virtualClock: 0 });

testEachStrategy("retry throws the last error itself after the last attempt", async () => {
  const errors: Error[] = [];
  const retries: Array<[unknown, number, number]> = [];
  const thrown = await retry((attempt) => {
    const error = new RangeError(`attempt ${attempt}`);
    errors.push(error);
    throw error;
  }, {
    attempts: 3,
    baseDelayMs: 10,
    jitter: "none",
    onRetry: (error, attempt, delayMs) => retries.push([error, attempt, delayMs]),
  }).catch((e) => e);
  assert.equal(errors.length, 3);
  assert.equal(thrown, errors[2]);
  assert.deepEqual(retries, [[errors[0], 1, 10], [errors[1], 2, 20]]);
  assert.equal(currentTime(), 30);
}, { virtualClock: 0 });

testEachStrategy("retry caps the delay at maxDelayMs", async () => {
  const delays: number[] = [];
  await assert.rejects(
    retry(() => Promise.reject(new Error("down")), {
      attempts: 6,
      baseDelayMs: 1000,
      factor: 3,
      maxDelayMs: 5000,
      jitter: "none",
      onRetry: (_error, _attempt, delayMs) => delays.push(delayMs),
    }),
    { message: "down" },
  );
  assert.deepEqual(delays, [1000, 3000, 5000, 5000, 5000]);
  assert.equal(currentTime(), 19_000);
}, { virtualClock: 0 });

testEachStrategy("retry with equal jitter waits between half and all of the cap", async () => {
  const delays: number[] = [];
  await assert.rejects(
    retry(() => {
      throw new Error("down");
    }, {
      attempts: 3,
      jitter: "equal",
      random: half,
      onRetry: (_error, _attempt, delayMs) => delays.push(delayMs),
    }),
  );
  assert.deepEqual(delays, [75, 150]);
  assert.equal(currentTime(), 225);
}, { virtualClock: 0 });

testEachStrategy("retry stops at once when isRetriable says no", async () => {
  const asked: Array<[unknown, number]> = [];
  let calls = 0;
  const thrown = await retry(() => {
    calls++;
    throw calls < 3 ? new Error("transient") : new TypeError("permanent");
  }, {
    baseDelayMs: 1,
    isRetriable: (error, attempt) => {
      asked.push([(error as Error).name, attempt]);
      return !(error instanceof TypeError);
    },
  }).catch((e) => e);
  assert.ok(thrown instanceof TypeError);
  assert.equal(calls, 3);
  assert.deepEqual(asked, [["Error", 1], ["Error", 2], ["TypeError", 3]]);
}, { virtualClock: 0 });

testEachStrategy("retry never retries a CancelledError", async () => {
  let calls = 0;
  const error = new CancelledError("from inside");
  const retriable: unknown[] = [];
  const thrown = await retry(() => {
    calls++;
    throw error;
  }, { isRetriable: (e) => (retriable.push(e), true) }).catch((e) => e);
  assert.equal(thrown, error);
  assert.equal(calls, 1);
  assert.deepEqual(retriable, []);
}, { virtualClock: 0 });

testEachStrategy("retry does not retry a failure of a cancelled scope", async () => {
  let calls = 0;
  const failure = new Error("aborted fetch");
  const scope = new CancelScope();
  await assert.rejects(
    scope.run(() =>
      retry(() => {
        calls++;
        scope.cancel();
        throw failure;
      })
    ),
    (e) => e === failure,
  );
  assert.equal(calls, 1);
}, { virtualClock: 0 });

testEachStrategy("cancelling the scope cuts the backoff sleep short", async () => {
  const times: number[] = [];
  const result = await moveOnAfter(150, () =>
    retry(() => {
      times.push(currentTime());
      throw new Error("down");
    }, { attempts: 10, baseDelayMs: 100, jitter: "none" }));
  assert.equal(result, undefined);
  assert.deepEqual(times, [0, 100]);
  assert.equal(currentTime(), 150);
}, { virtualClock: 0 });

testEachStrategy("aborting the signal rejects with its reason", async () => {
  const controller = new AbortController();
  const reason = new Error("stop now");
  let calls = 0;
  const thrown = await taskGroup(async (tg) => {
    tg.spawn(async () => {
      await sleep(150);
      controller.abort(reason);
    });
    return await retry(() => {
      calls++;
      throw new Error("down");
    }, { attempts: 10, baseDelayMs: 100, jitter: "none", signal: controller.signal })
      .catch((e) => e);
  });
  assert.equal(thrown, reason);
  assert.equal(calls, 2);
  assert.equal(currentTime(), 150);
}, { virtualClock: 0 });

testEachStrategy("an already aborted signal never calls fn", async () => {
  const controller = new AbortController();
  controller.abort(new Error("too late"));
  let calls = 0;
  await assert.rejects(retry(() => ++calls, { signal: controller.signal }), {
    message: "too late",
  });
  assert.equal(calls, 0);
}, { virtualClock: 0 });

testEachStrategy("retry with a signal returns the success", async () => {
  const controller = new AbortController();
  const value = await retry((attempt) => {
    if (attempt === 1) throw new Error("once");
    return attempt * 10;
  }, { signal: controller.signal, jitter: "none" });
  assert.equal(value, 20);
  assert.equal(currentTime(), 100);
}, { virtualClock: 0 });

testEachStrategy("attempts may be Infinity", async () => {
  const value = await retry((attempt) => {
    if (attempt < 50) throw new Error("not yet");
    return attempt;
  }, { attempts: Infinity, baseDelayMs: 1, maxDelayMs: 10, jitter: "none" });
  assert.equal(value, 50);
  // 1 + 2 + 4 + 8, then 45 capped delays of 10.
  assert.equal(currentTime(), 15 + 45 * 10);
}, { virtualClock: 0 });

testEachStrategy("a throwing hook stops retrying with its error", async () => {
  let calls = 0;
  const hookError = new Error("hook failed");
  const thrown = await retry(() => {
    calls++;
    throw new Error("down");
  }, {
    onRetry: () => {
      throw hookError;
    },
  }).catch((e) => e);
  assert.equal(thrown, hookError);
  assert.equal(calls, 1);
}, { virtualClock: 0 });

testEachStrategy("retry validates its arguments", async () => {
  await assert.rejects(retry("nope" as unknown as () => void), TypeError);
  for (const attempts of [0, -1, 1.5, NaN]) {
    await assert.rejects(retry(() => 1, { attempts }), RangeError);
  }
  await assert.rejects(retry(() => 1, { factor: 0.5 }), RangeError);
  await assert.rejects(retry(() => 1, { baseDelayMs: -1 }), RangeError);
  await assert.rejects(retry(() => 1, { maxDelayMs: NaN }), RangeError);
  await assert.rejects(
    retry(() => 1, { jitter: "bogus" as unknown as "full" }),
    /jitter must be one of full, equal, none: received "bogus"/,
  );
  await assert.rejects(
    retry(() => 1, { random: 3 as unknown as () => number }),
    TypeError,
  );
}, { virtualClock: 0 });

Deno.test("backoffDelay follows the formula", () => {
  assert.equal(backoffDelay(1, { jitter: "none" }), 100);
  assert.equal(backoffDelay(3, { jitter: "none" }), 400);
  assert.equal(backoffDelay(3, { random: () => 0 }), 0);
  assert.equal(backoffDelay(3, { random: () => 0.25 }), 100);
  assert.equal(backoffDelay(3, { jitter: "equal", random: () => 0 }), 200);
  assert.equal(backoffDelay(10_000, { jitter: "none" }), 30_000);
  assert.equal(backoffDelay(10_000, { jitter: "none", baseDelayMs: 0 }), 0);
  assert.equal(backoffDelay(2, { jitter: "none", factor: 1, baseDelayMs: 7 }), 7);
  const first = backoffDelay(4);
  assert.ok(first >= 0 && first < 800);
});

Deno.test("backoffDelay validates its arguments", () => {
  for (const attempt of [0, 1.5, -2, NaN]) {
    assert.throws(() => backoffDelay(attempt), RangeError);
  }
  assert.throws(() => backoffDelay(1, { random: () => 1 }), /\[0, 1\): received 1/);
  assert.throws(() => backoffDelay(1, { random: () => NaN }), RangeError);
  assert.equal(backoffDelay(1, { random: () => 1, jitter: "none" }), 100);
});
