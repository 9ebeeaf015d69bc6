import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { CapacityLimiter } from "./capacity_limiter.ts";
import { CancelledError, ClosedResourceError } from "./errors.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";
import { defaultWorkerPool, runInWorker, WorkerPool } from "./worker_pool.ts";
import { eventually, rejection } from "../tests/_async.ts";

/** Spins forever: only terminating the worker stops it. */
function spin(): never {
  for (;;) Math.random();
}

/**
 * Blocks the worker until slot 0 of `flag` is non-zero, then returns `value`.
 * Lets a test hold a worker busy for exactly as long as it wants.
 */
function blockUntil(flag: Int32Array, value: number): number {
  while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 50);
  return value;
}

// --- results and arguments -------------------------------------------------------------------

testEachStrategy("run returns results of every kind of function", async () => {
  await using pool = new WorkerPool({ maxWorkers: 2 });
  assert.equal(pool.workerCount, 0);
  assert.equal(await pool.run((a: number, b: number) => a + b, [2, 3]), 5);
  assert.equal(pool.workerCount, 1);
  assert.equal(
    await pool.run(async (s: string) => (await Promise.resolve(s)).toUpperCase(), ["x"]),
    "X",
  );
  assert.equal(
    await pool.run(function twice(n: number) {
      return n * 2;
    }, [21]),
    42,
  );
  const methods = {
    triple(n: number): number {
      return n * 3;
    },
    async quadruple(n: number): Promise<number> {
      return await n * 4;
    },
  };
  assert.equal(await pool.run(methods.triple, [5]), 15);
  assert.equal(await pool.run(methods.quadruple, [5]), 20);
  const echoed = await pool.run(
    (value: { map: Map<string, number[]>; bytes: Uint8Array; date: Date }) => value,
    [{ map: new Map([["a", [1, 2]]]), bytes: new Uint8Array([9, 8]), date: new Date(5) }],
  );
  assert.deepEqual(echoed.map, new Map([["a", [1, 2]]]));
  assert.deepEqual([...echoed.bytes], [9, 8]);
  assert.equal(echoed.date.getTime(), 5);
});

testEachStrategy("run transfers the buffers listed in transfer", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const bytes = new Uint8Array(1024).fill(3);
  const sum = await pool.run((data: Uint8Array) => data.reduce((a, b) => a + b, 0), [bytes], {
    transfer: [bytes.buffer],
  });
  assert.equal(sum, 3072);
  assert.equal(bytes.byteLength, 0);
  const kept = new Uint8Array([1, 2]);
  assert.equal(await pool.run((data: Uint8Array) => data.length, [kept]), 2);
  assert.equal(kept.byteLength, 2);
});

testEachStrategy("workers are reused and compiled functions cached per source", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  // A named function expression sees itself: the count survives only if the same
  // compiled function runs again in the same worker.
  const counter = function count(): number {
    const self = count as unknown as { calls?: number };
    self.calls = (self.calls ?? 0) + 1;
    return self.calls;
  };
  const seen = [];
  for (let i = 0; i < 3; i++) seen.push(await pool.run(counter, []));
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(pool.workerCount, 1);
  assert.equal(pool.idleCount, 1);
});

testEachStrategy("runModule calls an exported function of a module", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const delay = await pool.runModule<number>(
    new URL("./retry.ts", import.meta.url),
    "backoffDelay",
    [
      3,
      { jitter: "none" },
    ],
  );
  assert.equal(delay, 400);
  const dataModule = "data:text/javascript,export const add = (a, b) => a + b; export const x = 1;";
  assert.equal(await pool.runModule(dataModule, "add", [4, 5]), 9);
  const missing = await rejection(pool.runModule(dataModule, "x", []));
  assert.ok(missing instanceof TypeError);
  assert.match(missing.message, /exports no function x: found number/);
  await assert.rejects(pool.runModule("./relative.ts", "f", []), /must be an absolute URL/);
  await assert.rejects(pool.runModule(dataModule, "", []), TypeError);
});

// --- limits ----------------------------------------------------------------------------------

/** Counts jobs inside the worker in a shared buffer: slot 0 now, slot 1 the peak. */
function tracked(counters: Int32Array, job: number, holdMs: number): number {
  const now = Atomics.add(counters, 0, 1) + 1;
  for (let peak = Atomics.load(counters, 1); now > peak; peak = Atomics.load(counters, 1)) {
    if (Atomics.compareExchange(counters, 1, peak, now) === peak) break;
  }
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, holdMs);
  Atomics.sub(counters, 0, 1);
  return job;
}

/** Waits until `parties` jobs have arrived: only jobs running in parallel workers get through. */
function barrier(counter: Int32Array, parties: number): number {
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
  const deadline = Date.now() + 10_000;
  for (let seen = Atomics.load(counter, 0); seen < parties; seen = Atomics.load(counter, 0)) {
    if (Date.now() > deadline) throw new Error(`barrier timed out at ${seen}`);
    Atomics.wait(counter, 0, seen, 100);
  }
  return Atomics.load(counter, 0);
}

testEachStrategy("jobs really run in parallel workers", async () => {
  await using pool = new WorkerPool({ maxWorkers: 3 });
  const arrived = new Int32Array(new SharedArrayBuffer(4));
  const results = await Promise.all([0, 1, 2].map(() => pool.run(barrier, [arrived, 3])));
  assert.deepEqual(results, [3, 3, 3]);
  assert.equal(pool.workerCount, 3);
});

testEachStrategy("a limiter with one token runs jobs one at a time", async () => {
  const limiter = new CapacityLimiter(3);
  await using pool = new WorkerPool({ maxWorkers: 3, limiter });
  assert.equal(pool.limiter, limiter);
  // Three warm workers first, so that without the limiter the jobs below would overlap.
  const arrived = new Int32Array(new SharedArrayBuffer(4));
  await Promise.all([0, 1, 2].map(() => pool.run(barrier, [arrived, 3])));
  assert.equal(pool.idleCount, 3);
  limiter.totalTokens = 1;
  const counters = new Int32Array(new SharedArrayBuffer(8));
  const results: number[] = [];
  await taskGroup((tg) => {
    for (let job = 0; job < 4; job++) {
      tg.spawn(async () => results.push(await pool.run(tracked, [counters, job, 20])));
    }
  });
  assert.deepEqual(results.toSorted(), [0, 1, 2, 3]);
  assert.equal(Atomics.load(counters, 1), 1);
  assert.equal(limiter.borrowedTokens, 0);
  assert.equal(pool.workerCount, 3);
});

testEachStrategy("maxWorkers bounds the jobs running at once", async () => {
  await using pool = new WorkerPool({ maxWorkers: 2 });
  const counters = new Int32Array(new SharedArrayBuffer(8));
  await taskGroup((tg) => {
    for (let job = 0; job < 5; job++) tg.spawn(() => pool.run(tracked, [counters, job, 10]));
  });
  assert.ok(Atomics.load(counters, 1) <= 2);
  assert.equal(pool.workerCount, 2);
});

// --- cancellation ----------------------------------------------------------------------------

testEachStrategy("cancelling a busy job terminates its worker promptly", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  assert.equal(await pool.run(() => "warm", []), "warm");
  const start = performance.now();
  let caught: unknown;
  const scope = new CancelScope({ timeout: 50 });
  await scope.run(async () => {
    try {
      await pool.run(spin, []);
    } catch (error) {
      caught = error;
      throw error;
    }
  });
  const elapsed = performance.now() - start;
  assert.ok(caught instanceof CancelledError);
  assert.ok(scope.cancelledCaught);
  assert.ok(elapsed < 1000, `cancellation took ${elapsed} ms`);
  assert.equal(pool.workerCount, 0);
  // The pool replaces the worker when next needed.
  assert.equal(await pool.run((n: number) => n + 1, [41]), 42);
  assert.equal(pool.workerCount, 1);
});

testEachStrategy("aborting the signal terminates the job with the signal's reason", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const controller = new AbortController();
  const reason = new Error("user gave up");
  const start = performance.now();
  const error = await taskGroup(async (tg) => {
    tg.spawn(async () => {
      await sleep(30);
      controller.abort(reason);
    });
    return await rejection(pool.run(spin, [], { signal: controller.signal }));
  });
  assert.equal(error, reason);
  assert.ok(performance.now() - start < 1000);
  assert.equal(await pool.run(() => "alive", []), "alive");
});

testEachStrategy("a job already cancelled never reaches a worker", async () => {
  await using pool = new WorkerPool();
  const controller = new AbortController();
  controller.abort(new Error("before"));
  await assert.rejects(pool.run(() => 1, [], { signal: controller.signal }), { message: "before" });
  const scope = new CancelScope();
  scope.cancel();
  await scope.run(() => pool.run(() => 1, []));
  assert.ok(scope.cancelledCaught);
  assert.equal(pool.workerCount, 0);
});

testEachStrategy("cancelling a queued job leaves the busy worker alone", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const flag = new Int32Array(new SharedArrayBuffer(4));
  await taskGroup(async (tg) => {
    let first: number | undefined;
    tg.spawn(async () => {
      first = await pool.run(blockUntil, [flag, 1]);
    });
    await eventually(() => pool.workerCount === 1, "one worker");
    const queued = await moveOnAfter(30, () => pool.run(() => 2, []));
    assert.equal(queued, undefined);
    assert.equal(pool.workerCount, 1);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    await eventually(() => first !== undefined, "the first job's result");
    assert.equal(first, 1);
  });
  assert.equal(pool.workerCount, 1);
  assert.equal(pool.idleCount, 1);
});

testEachStrategy("a job waiting for a cancelled job's worker gets a replacement", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const busy = new CancelScope();
  const results = await taskGroup(async (tg) => {
    tg.spawn(() => busy.run(() => pool.run(spin, [])));
    await eventually(() => pool.workerCount === 1, "one worker");
    const waiting = pool.run((n: number) => n * 3, [5]);
    await sleep(20);
    busy.cancel();
    return await waiting;
  });
  assert.equal(results, 15);
  assert.ok(busy.cancelledCaught);
  assert.equal(pool.workerCount, 1);
});

// --- errors ----------------------------------------------------------------------------------

testEachStrategy("errors thrown in the worker keep name, message, stack and cause", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const typeError = await rejection(pool.run(function boom(n: number) {
    throw new TypeError(`bad input ${n}`);
  }, [7]));
  assert.ok(typeError instanceof TypeError);
  assert.equal(typeError.message, "bad input 7");
  assert.match(typeError.stack!, /^TypeError: bad input 7\n\s+at boom /);

  const custom = await rejection(pool.run(async () => {
    class QuotaError extends Error {
      override name = "QuotaError";
      code = "E_QUOTA";
    }
    await Promise.resolve();
    throw new QuotaError("over quota", { cause: new RangeError("limit 10") });
  }, []));
  assert.ok(custom instanceof Error);
  assert.equal(custom.name, "QuotaError");
  assert.equal(custom.message, "over quota");
  assert.equal((custom as Error & { code: string }).code, "E_QUOTA");
  assert.ok(custom.cause instanceof RangeError);
  assert.equal(custom.cause.message, "limit 10");

  const aggregate = await rejection(pool.run(() => {
    throw new AggregateError([new Error("a"), new SyntaxError("b")], "both");
  }, []));
  assert.ok(aggregate instanceof AggregateError);
  assert.deepEqual(aggregate.errors.map((e: Error) => `${e.name}:${e.message}`), [
    "Error:a",
    "SyntaxError:b",
  ]);

  const dom = await rejection(pool.run(() => {
    throw new DOMException("gone", "NotFoundError");
  }, []));
  assert.ok(dom instanceof DOMException);
  assert.equal(dom.name, "NotFoundError");

  assert.deepEqual(
    await rejection(pool.run(() => {
      throw { code: 3 };
    }, [])),
    { code: 3 },
  );
  assert.equal(pool.workerCount, 1);
});

testEachStrategy("a worker's CancelledError is not the caller's cancellation", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const error = await rejection(pool.run(() => {
    const e = new Error("Cancelled");
    e.name = "CancelledError";
    throw e;
  }, []));
  assert.ok(!(error instanceof CancelledError));
  assert.equal((error as Error).name, "CancelledError");
});

testEachStrategy("functions that are not self-contained fail with the worker's error", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const outside = 5;
  const error = await rejection(pool.run(() => outside, []));
  assert.ok(error instanceof ReferenceError);
  assert.match(error.message, /outside is not defined/);
  assert.equal(await pool.run(() => 1, []), 1);
});

testEachStrategy("uncloneable arguments and results are reported", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const badArgument = await rejection(pool.run((f: () => void) => typeof f, [() => {}]));
  assert.ok(badArgument instanceof DOMException);
  assert.equal(badArgument.name, "DataCloneError");
  const badResult = await rejection(pool.run(() => () => 1, []));
  assert.equal((badResult as Error).name, "DataCloneError");
  assert.equal(await pool.run(() => "still fine", []), "still fine");
  assert.equal(pool.workerCount, 1);
});

testEachStrategy("a crashing worker fails its job and is replaced", async () => {
  await using pool = new WorkerPool({ maxWorkers: 1 });
  const error = await rejection(pool.run(() => {
    // deno-lint-ignore ipfs-kit/no-bare-timer -- a detached failure inside the worker, on purpose
    setTimeout(() => {
      throw new Error("detached failure");
    }, 0);
    return new Promise(() => {});
  }, []));
  assert.match((error as Error).message, /the worker crashed: Error: detached failure/);
  assert.equal(((error as Error).cause as Error).message, "detached failure");
  assert.equal(pool.workerCount, 0);
  assert.equal(await pool.run(() => "recovered", []), "recovered");
  const rejected = await rejection(pool.run(() => {
    Promise.reject(new RangeError("forgotten"));
    return new Promise(() => {});
  }, []));
  assert.ok((rejected as Error).cause instanceof RangeError);
  assert.equal(await pool.run(() => "recovered again", []), "recovered again");
  // A crash after the job returned retires the idle worker.
  const late = () => {
    // deno-lint-ignore ipfs-kit/no-bare-timer -- a detached failure inside the worker, on purpose
    setTimeout(() => {
      throw new Error("after the job");
    }, 20);
    return "returned";
  };
  assert.equal(await pool.run(late, []), "returned");
  await eventually(() => pool.workerCount === 0, "no worker");
  assert.equal(await pool.run(() => 5, []), 5);
});

testEachStrategy("run validates its arguments", async () => {
  await using pool = new WorkerPool();
  await assert.rejects(pool.run("x" as unknown as () => void, []), TypeError);
  await assert.rejects(pool.run(Math.max, [1, 2]), /native and bound functions have no source/);
  await assert.rejects(pool.run(((n: number) => n).bind(null), [1]), TypeError);
  await assert.rejects(pool.run(() => 1, "no" as unknown as []), /args must be an array/);
  await assert.rejects(
    pool.run(() => 1, [], { transfer: 1 as unknown as Transferable[] }),
    /transfer must be an array/,
  );
  assert.throws(() => new WorkerPool({ maxWorkers: 0 }), RangeError);
  assert.throws(() => new WorkerPool({ maxWorkers: 1.5 }), RangeError);
  assert.throws(() => new WorkerPool({ idleTimeoutMs: -1 }), RangeError);
  assert.throws(
    () => new WorkerPool({ limiter: {} as unknown as CapacityLimiter }),
    /limiter must be a CapacityLimiter/,
  );
  assert.equal(pool.workerCount, 0);
});

// --- lifetime --------------------------------------------------------------------------------

testEachStrategy("close terminates workers and fails running and waiting jobs", async () => {
  const pool = new WorkerPool({ maxWorkers: 1 });
  const errors = await taskGroup(async (tg) => {
    const failures: unknown[] = [];
    tg.spawn(async () => failures.push(await rejection(pool.run(spin, []))));
    await eventually(() => pool.workerCount === 1, "one worker");
    tg.spawn(async () => failures.push(await rejection(pool.run(() => 1, []))));
    await sleep(10);
    await pool.close();
    return failures;
  });
  assert.equal(errors!.length, 2);
  for (const error of errors!) assert.ok(error instanceof ClosedResourceError);
  assert.equal(pool.closed, true);
  assert.equal(pool.workerCount, 0);
  await assert.rejects(pool.run(() => 1, []), ClosedResourceError);
  await pool.close();
});

testEachStrategy("await using closes the pool", async () => {
  let escaped: WorkerPool;
  {
    await using pool = new WorkerPool({ maxWorkers: 2 });
    escaped = pool;
    await Promise.all([pool.run(() => 1, []), pool.run(() => 2, [])]);
    assert.ok(pool.workerCount >= 1);
  }
  assert.equal(escaped.closed, true);
  assert.equal(escaped.workerCount, 0);
});

testEachStrategy("idle workers are terminated after idleTimeoutMs", async () => {
  await using pool = new WorkerPool({ maxWorkers: 2, idleTimeoutMs: 2_000 });
  await Promise.all([pool.run(() => 1, []), pool.run(() => 2, [])]);
  assert.equal(pool.workerCount, 2);
  await eventually(() => pool.workerCount === 0, "no worker");
  assert.equal(pool.idleCount, 0);
  assert.equal(await pool.run(() => 3, []), 3);
});

testEachStrategy("runInWorker uses the shared pool", async () => {
  const first = defaultWorkerPool();
  assert.equal(defaultWorkerPool(), first);
  assert.equal(first.maxWorkers, navigator.hardwareConcurrency);
  assert.equal(await runInWorker((a: number, b: number) => a * b, [6, 7]), 42);
  assert.equal(first.workerCount, 1);
  await first.close();
  const second = defaultWorkerPool();
  assert.notEqual(second, first);
  assert.equal(second.workerCount, 0);
});
