/**
 * The runtime against the systems it competes with: Effection, Effect,
 * plain promises, a naive `AbortController` group and Web streams; and, in
 * `channel`, against `bare-async-iterator`, the floor for that shape of code
 * (a ring buffer by hand, with no cancellation and no checks).
 *
 * ```sh
 * deno bench --allow-all bench/runtime_bench.ts
 * ```
 *
 * Every entry is named after the system it measures; `ipfs-kit eager` is the
 * baseline of each group it is in. Each entry checks that it did all of its
 * work (every task ran, every message arrived) and throws otherwise. Results
 * and the reasoning behind each competitor's code are in `bench/README.md`.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import * as effection from "npm:effection@4.1.1";
import { Effect, Fiber, Queue } from "npm:effect@3.22.4";
import {
  CancelScope,
  checkpoint,
  run,
  sleepForever,
  type StrategyName,
  taskGroup,
} from "../runtime/mod.ts";
import { createMemoryChannel } from "../runtime/mod.ts";
import { sleepLateness } from "./fairness.ts";

/** Tasks per iteration in `spawn-join` and `cancel`. */
const TASKS = 1_000;
/** Messages per iteration in `channel`. */
const MESSAGES = 100_000;
/** Buffer slots of every channel in `channel`. */
const SLOTS = 64;
/** Busy tasks in `fairness`. */
const LOOPERS = 4;
/** How long the busy tasks of `fairness` loop at most, in ms (the eager strategy needs a bound). */
const LOOP_CAP_MS = 20;
/** Operations per iteration in `context`: figures per operation are the average / 1000. */
const OPS = 1_000;

const STRATEGIES: readonly StrategyName[] = ["eager", "fair", "shuffle"];
const RESOLVED: Promise<void> = Promise.resolve();
const MESSAGE_SUM = (MESSAGES * (MESSAGES - 1)) / 2;

let done = 0;
let started = 0;
let cancelled = 0;
let received = 0;
let sum = 0;

function expectDone(expected: number): void {
  if (done !== expected) throw new Error(`Benchmark did not finish: ${done} of ${expected} tasks`);
  done = 0;
}

function expectCancelled(): void {
  if (started !== TASKS || cancelled !== TASKS) {
    throw new Error(`Benchmark did not cancel: ${started} started, ${cancelled} cancelled`);
  }
  started = 0;
  cancelled = 0;
}

function expectMessages(): void {
  if (received !== MESSAGES || sum !== MESSAGE_SUM) {
    throw new Error(`Benchmark lost messages: ${received} of ${MESSAGES}, sum ${sum}`);
  }
  received = 0;
  sum = 0;
}

/**
 * The naive alternative to a task group: one shared `AbortController`, tasks
 * that take its signal, `Promise.all` to join, the first failure aborts the
 * rest.
 */
class AbortControllerGroup {
  readonly #controller = new AbortController();
  readonly #tasks: Promise<void>[] = [];
  readonly #errors: unknown[] = [];

  spawn(fn: (signal: AbortSignal) => Promise<unknown>): void {
    const signal = this.#controller.signal;
    this.#tasks.push(
      fn(signal).then(
        () => {},
        (error) => {
          if (signal.aborted && error === signal.reason) return;
          this.#errors.push(error);
          this.#controller.abort(error);
        },
      ),
    );
  }

  cancel(): void {
    this.#controller.abort();
  }

  async join(): Promise<void> {
    await Promise.all(this.#tasks);
    if (this.#errors.length > 0) throw new AggregateError(this.#errors);
  }
}

/** The naive `sleepForever`: rejects with the reason once the signal aborts. */
function abortableNever(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

// ---------------------------------------------------------------------------
// spawn-join: TASKS tasks, each yields once, then the group joins them.

for (const strategy of STRATEGIES) {
  Deno.bench({
    name: `ipfs-kit ${strategy}`,
    group: "spawn-join",
    baseline: strategy === "eager",
    n: 2_000,
    warmup: 200,
    async fn() {
      await run(() =>
        taskGroup((tg) => {
          for (let i = 0; i < TASKS; i++) {
            tg.spawn(async () => {
              await checkpoint();
              done++;
            });
          }
        }), { strategy });
      expectDone(TASKS);
    },
  });
}

Deno.bench({
  name: "effection",
  group: "spawn-join",
  n: 30,
  warmup: 5,
  async fn() {
    await effection.run(function* () {
      const tasks: effection.Task<void>[] = [];
      for (let i = 0; i < TASKS; i++) {
        tasks.push(
          yield* effection.spawn(function* () {
            yield* effection.until(RESOLVED);
            done++;
          }),
        );
      }
      for (const task of tasks) yield* task;
    });
    expectDone(TASKS);
  },
});

const effectTask = Effect.gen(function* () {
  yield* Effect.yieldNow();
  done++;
});
const effectTasks = Array.from({ length: TASKS }, () => effectTask);

Deno.bench({
  name: "effect",
  group: "spawn-join",
  n: 60,
  warmup: 10,
  async fn() {
    await Effect.runPromise(
      Effect.all(effectTasks, { concurrency: "unbounded", discard: true }),
    );
    expectDone(TASKS);
  },
});

Deno.bench({
  name: "abort-controller",
  group: "spawn-join",
  n: 2_000,
  warmup: 200,
  async fn() {
    const group = new AbortControllerGroup();
    for (let i = 0; i < TASKS; i++) {
      group.spawn(async (signal) => {
        await null;
        signal.throwIfAborted();
        done++;
      });
    }
    await group.join();
    expectDone(TASKS);
  },
});

Deno.bench({
  name: "promise-all",
  group: "spawn-join",
  n: 2_000,
  warmup: 200,
  async fn() {
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < TASKS; i++) {
      tasks.push((async () => {
        await null;
        done++;
      })());
    }
    await Promise.all(tasks);
    expectDone(TASKS);
  },
});

// ---------------------------------------------------------------------------
// cancel: TASKS tasks block forever; once all are blocked, cancel and join.

for (const strategy of STRATEGIES) {
  Deno.bench({
    name: `ipfs-kit ${strategy}`,
    group: "cancel",
    baseline: strategy === "eager",
    n: 1_000,
    warmup: 100,
    async fn() {
      await run(() =>
        taskGroup(async (tg) => {
          for (let i = 0; i < TASKS; i++) {
            tg.spawn(async () => {
              started++;
              try {
                await sleepForever();
              } finally {
                cancelled++;
              }
            });
          }
          while (started < TASKS) await checkpoint();
          tg.cancelScope.cancel();
        }), { strategy });
      expectCancelled();
    },
  });
}

Deno.bench({
  name: "effection",
  group: "cancel",
  n: 30,
  warmup: 5,
  async fn() {
    await effection.run(function* () {
      const group = yield* effection.spawn(function* () {
        for (let i = 0; i < TASKS; i++) {
          yield* effection.spawn(function* () {
            started++;
            try {
              yield* effection.suspend();
            } finally {
              cancelled++;
            }
          });
        }
        yield* effection.suspend();
      });
      while (started < TASKS) yield* effection.until(RESOLVED);
      yield* group.halt();
    });
    expectCancelled();
  },
});

const effectBlocked = Effect.onInterrupt(
  Effect.zipRight(
    Effect.sync(() => {
      started++;
    }),
    Effect.never,
  ),
  () =>
    Effect.sync(() => {
      cancelled++;
    }),
);

Deno.bench({
  name: "effect",
  group: "cancel",
  n: 60,
  warmup: 10,
  async fn() {
    await Effect.runPromise(Effect.gen(function* () {
      const fibers: Fiber.RuntimeFiber<never>[] = [];
      for (let i = 0; i < TASKS; i++) fibers.push(yield* Effect.fork(effectBlocked));
      while (started < TASKS) yield* Effect.yieldNow();
      yield* Fiber.interruptAll(fibers);
    }));
    expectCancelled();
  },
});

Deno.bench({
  name: "abort-controller",
  group: "cancel",
  n: 300,
  warmup: 30,
  async fn() {
    const group = new AbortControllerGroup();
    for (let i = 0; i < TASKS; i++) {
      group.spawn(async (signal) => {
        started++;
        try {
          await abortableNever(signal);
        } finally {
          cancelled++;
        }
      });
    }
    while (started < TASKS) await null;
    group.cancel();
    await group.join();
    expectCancelled();
  },
});

// ---------------------------------------------------------------------------
// channel: MESSAGES numbers from a producer task to a consumer task through a
// buffer of SLOTS.

for (const strategy of STRATEGIES) {
  Deno.bench({
    name: `ipfs-kit ${strategy}`,
    group: "channel",
    baseline: strategy === "eager",
    n: 40,
    // The group starts on a heap the earlier groups grew: the first
    // iterations pay for the collector's catch-up, not for the channel.
    warmup: 15,
    async fn() {
      await run(() => {
        const [send, receive] = createMemoryChannel<number>(SLOTS);
        return taskGroup((tg) => {
          tg.spawn(async () => {
            using _ = send;
            for (let i = 0; i < MESSAGES; i++) await send.send(i);
          });
          tg.spawn(async () => {
            using _ = receive;
            for await (const value of receive) {
              sum += value;
              received++;
            }
          });
        });
      }, { strategy });
      expectMessages();
    },
  });
}

Deno.bench({
  name: "effection",
  group: "channel",
  n: 10,
  warmup: 2,
  async fn() {
    await effection.run(function* () {
      // Effection's channels have no bounded buffer (every subscription queues
      // without limit), so the consumer grants the producer SLOTS messages at a
      // time over a second channel: at most SLOTS messages are ever queued.
      const channel = effection.createChannel<number, void>();
      const credits = effection.createChannel<void, void>();
      const messages = yield* channel;
      const grants = yield* credits;
      const consumer = yield* effection.spawn(function* () {
        for (let next = yield* messages.next(); !next.done; next = yield* messages.next()) {
          sum += next.value;
          if (++received % SLOTS === 0) yield* credits.send();
        }
      });
      for (let i = 0; i < MESSAGES; i++) {
        if (i > 0 && i % SLOTS === 0) yield* grants.next();
        yield* channel.send(i);
      }
      yield* channel.close();
      yield* consumer;
    });
    expectMessages();
  },
});

Deno.bench({
  name: "effect",
  group: "channel",
  n: 15,
  warmup: 2,
  async fn() {
    await Effect.runPromise(Effect.gen(function* () {
      const queue = yield* Queue.bounded<number>(SLOTS);
      const producer = yield* Effect.fork(Effect.gen(function* () {
        for (let i = 0; i < MESSAGES; i++) yield* Queue.offer(queue, i);
      }));
      for (let i = 0; i < MESSAGES; i++) {
        sum += yield* Queue.take(queue);
        received++;
      }
      yield* Fiber.join(producer);
    }));
    expectMessages();
  },
});

Deno.bench({
  name: "readable-stream",
  group: "channel",
  n: 60,
  warmup: 5,
  async fn() {
    let next = 0;
    const stream = new ReadableStream<number>({
      pull(controller) {
        if (next < MESSAGES) controller.enqueue(next++);
        else controller.close();
      },
    }, new CountQueuingStrategy({ highWaterMark: SLOTS }));
    for await (const value of stream) {
      sum += value;
      received++;
    }
    expectMessages();
  },
});

// The floor for this shape of code: a bounded ring buffer by hand, a producer that awaits once per
// send (as `await send.send(i)` does) and a consumer that reads with `for await`, with nothing
// else: no cancellation, no checks, no strategy. What any promise-based channel costs at least.
Deno.bench({
  name: "bare-async-iterator",
  group: "channel",
  n: 40,
  warmup: 15,
  async fn() {
    const ring = new Array<number>(SLOTS);
    let head = 0;
    let size = 0;
    let closed = false;
    let wakeConsumer: (() => void) | undefined;
    let wakeProducer: (() => void) | undefined;
    const resolved = Promise.resolve();
    const wake = (waker: (() => void) | undefined) => waker?.();
    const producer = (async () => {
      for (let i = 0; i < MESSAGES; i++) {
        while (size === SLOTS) await new Promise<void>((resolve) => (wakeProducer = resolve));
        ring[(head + size++) % SLOTS] = i;
        const consumer = wakeConsumer;
        wakeConsumer = undefined;
        wake(consumer);
        await resolved;
      }
      closed = true;
      wake(wakeConsumer);
    })();
    const messages: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next(): Promise<IteratorResult<number, undefined>> {
          if (size > 0) {
            const value = ring[head];
            head = (head + 1) % SLOTS;
            size--;
            const waiting = wakeProducer;
            wakeProducer = undefined;
            wake(waiting);
            return Promise.resolve({ done: false, value });
          }
          if (closed) return Promise.resolve({ done: true, value: undefined });
          return new Promise<void>((resolve) => (wakeConsumer = resolve)).then(() => this.next());
        },
      }),
    };
    for await (const value of messages) {
      sum += value;
      received++;
    }
    await producer;
    expectMessages();
  },
});

// ---------------------------------------------------------------------------
// fairness: LOOPERS tasks loop on checkpoint() while a fifth task sleeps 1 ms
// on the real clock. Each iteration's measured time is that sleep, from its
// start until the sleeping task runs again: the average minus 1 ms is how
// late it woke. The loopers stop when it wakes, or after LOOP_CAP_MS (the
// eager strategy never lets the timer fire while they loop).

for (const strategy of STRATEGIES) {
  Deno.bench({
    name: `ipfs-kit ${strategy}`,
    group: "fairness",
    baseline: strategy === "eager",
    n: strategy === "eager" ? 20 : 300,
    warmup: strategy === "eager" ? 2 : 20,
    async fn(b) {
      await sleepLateness(strategy, {
        loopers: LOOPERS,
        capMs: LOOP_CAP_MS,
        onSleep: () => b.start(),
        onWake: () => b.end(),
      });
    },
  });
}

// ---------------------------------------------------------------------------
// context: what it costs that the current cancel scope travels in an
// AsyncLocalStorage instead of an argument. OPS operations per iteration.

const storage = new AsyncLocalStorage<object>();
const store = {};

function byArgument(scope: object): object {
  return scope;
}

function byStorage(): object | undefined {
  return storage.getStore();
}

function body(): number {
  return 1;
}

function asyncBody(): Promise<number> {
  return Promise.resolve(body());
}

function expectTotal(total: number): void {
  if (total !== OPS) throw new Error(`Benchmark skipped calls: ${total} of ${OPS}`);
}

Deno.bench({
  name: "explicit argument",
  group: "context",
  baseline: true,
  fn() {
    let last: unknown;
    for (let i = 0; i < OPS; i++) last = byArgument(store);
    if (last !== store) throw new Error("Benchmark lost its argument");
  },
});

Deno.bench({
  name: "als.getStore()",
  group: "context",
  fn() {
    storage.run(store, () => {
      let last: unknown;
      for (let i = 0; i < OPS; i++) last = byStorage();
      if (last !== store) throw new Error("Benchmark lost its store");
    });
  },
});

Deno.bench({
  name: "ipfs-kit CancelScope.current()",
  group: "context",
  async fn() {
    await new CancelScope().run((scope) => {
      let last: unknown;
      for (let i = 0; i < OPS; i++) last = CancelScope.current();
      if (last !== scope) throw new Error("Benchmark lost its scope");
    });
  },
});

Deno.bench({
  name: "plain call",
  group: "context",
  fn() {
    let total = 0;
    for (let i = 0; i < OPS; i++) total += body();
    expectTotal(total);
  },
});

Deno.bench({
  name: "als.run()",
  group: "context",
  fn() {
    let total = 0;
    for (let i = 0; i < OPS; i++) total += storage.run(store, body);
    expectTotal(total);
  },
});

Deno.bench({
  name: "ipfs-kit CancelScope.run()",
  group: "context",
  n: 500,
  async fn() {
    let total = 0;
    for (let i = 0; i < OPS; i++) total += (await new CancelScope().run(body))!;
    expectTotal(total);
  },
});

Deno.bench({
  name: "async call",
  group: "context",
  n: 500,
  async fn() {
    let total = 0;
    for (let i = 0; i < OPS; i++) total += await asyncBody();
    expectTotal(total);
  },
});

// ---------------------------------------------------------------------------
// checkpoint: CHECKPOINTS checkpoints in one task under the eager strategy,
// outside any deadline and inside a scope with an armed (far) deadline. The
// eager strategy looks at the deadlines every EAGER_DEADLINE_CHECK_EVERY hops,
// reading the clock only when one is armed: the difference of the two entries
// is what a real-clock deadline's punctuality costs a busy loop.

const CHECKPOINTS = 100_000;

async function checkpointLoop(): Promise<void> {
  let hops = 0;
  for (let i = 0; i < CHECKPOINTS; i++) {
    await checkpoint();
    hops++;
  }
  if (hops !== CHECKPOINTS) throw new Error(`Benchmark skipped checkpoints: ${hops}`);
}

Deno.bench({
  name: "eager, no deadline armed",
  group: "checkpoint",
  baseline: true,
  n: 50,
  warmup: 10,
  async fn() {
    await run(checkpointLoop, { strategy: "eager" });
  },
});

Deno.bench({
  name: "eager, a deadline armed",
  group: "checkpoint",
  n: 50,
  warmup: 10,
  async fn() {
    const scope = new CancelScope({ timeout: 3_600_000 });
    await run(() => scope.run(checkpointLoop), { strategy: "eager" });
    if (scope.cancelCalled) throw new Error("Benchmark hit its deadline");
  },
});

Deno.bench({
  name: "bare await loop",
  group: "checkpoint",
  n: 50,
  warmup: 10,
  async fn() {
    let hops = 0;
    for (let i = 0; i < CHECKPOINTS; i++) {
      await RESOLVED;
      hops++;
    }
    if (hops !== CHECKPOINTS) throw new Error(`Benchmark skipped awaits: ${hops}`);
  },
});
