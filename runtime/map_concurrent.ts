/**
 * Bounded-concurrency maps over sync and async iterables, as structured
 * tasks: {@linkcode mapConcurrent} collects the results in input order,
 * {@linkcode mapConcurrentIter} yields them as they complete.
 *
 * @module
 */

import { park, type Waiter } from "./park.ts";
import { checkpointIfCancelled } from "./checkpoint.ts";
import { TaskGroup, taskGroup } from "./task_group.ts";
import { withSignal } from "./timeouts.ts";

/** Options for {@linkcode mapConcurrent} and {@linkcode mapConcurrentIter}. */
export interface MapConcurrentOptions {
  /**
   * The most calls of `fn` in flight at once (an integer >= 1, or
   * `Infinity`). Default 8.
   */
  concurrency?: number;
  /** Cancels the map when aborted; it then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

const DEFAULT_CONCURRENCY = 8;

/**
 * Calls `fn` on every item with at most `concurrency` calls in flight and
 * returns the results in input order.
 *
 * Items are pulled lazily: the next one is taken only when a slot is free,
 * so an endless or slow iterable is fine. Every call runs as a child of one
 * task group: the first failure (of `fn` or of the iterable) cancels the
 * calls in flight, stops the pulling, and comes out as the group's
 * {@linkcode TaskGroupError}. When `signal` aborts, everything is cancelled
 * and the map rejects with `signal.reason`.
 *
 * @param items A sync or async iterable; its values are passed as they are
 * (a promise in a sync iterable is not awaited).
 * @param fn Maps one item; it receives the item and its index.
 * @param options Concurrency and a signal.
 * @returns The results, in the order of `items`.
 *
 * @example Fetch-like work, four at a time
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapConcurrent, sleep } from "@ipfs-kit/kit/runtime";
 *
 * const lengths = await mapConcurrent(["a", "bb", "ccc"], async (word) => {
 *   await sleep(1);
 *   return word.length;
 * }, { concurrency: 4 });
 * assert.equal(lengths.join(), "1,2,3");
 * ```
 *
 * @example The first failure cancels the rest
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapConcurrent, sleepForever, TaskGroupError } from "@ipfs-kit/kit/runtime";
 *
 * const error = await mapConcurrent([1, 2], async (n) => {
 *   if (n === 2) throw new RangeError("bad item");
 *   await sleepForever(); // cancelled
 * }).catch((e) => e);
 * assert(error instanceof TaskGroupError);
 * ```
 */
export function mapConcurrent<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  fn: (item: T, index: number) => R | Promise<R>,
  options: MapConcurrentOptions = {},
): Promise<R[]> {
  let concurrency: number;
  try {
    concurrency = checkArguments("map", items, fn, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return withSignal(options.signal, async () => {
    const results: R[] = [];
    let running = 0;
    let slot: Waiter<void> | undefined;
    await taskGroup((tg) =>
      pull(items, async () => {
        while (running >= concurrency) {
          slot = park();
          await slot.promise;
        }
      }, (item, index) => {
        running++;
        tg.spawn(async () => {
          try {
            results[index] = await fn(item, index);
          } finally {
            running--;
            slot?.wake();
          }
        });
      })
    );
    return results;
  });
}

/**
 * Calls `fn` on every item with at most `concurrency` calls in flight and
 * yields each result as soon as it is ready (completion order, not input
 * order).
 *
 * A result waiting to be consumed keeps its slot, so a slow consumer holds
 * back the pulling: at most `concurrency` items are being mapped or waiting
 * in the buffer. The calls run in a task group owned by the iterator:
 * leaving a `for await` loop early (`break`, `return`, an exception, or
 * cancellation of the consumer) cancels the calls in flight and waits for
 * them before the loop is left. A failure of `fn` or of the iterable cancels
 * the rest and is thrown from the loop as a {@linkcode TaskGroupError}; an
 * aborted `signal` throws its `reason`.
 *
 * Consume the iterator with `for await` (or call `return()`): an iterator
 * abandoned half way keeps its tasks waiting. Nothing starts before the
 * first `next()`. Bad arguments throw at once, not at the first `next()`.
 *
 * @param items A sync or async iterable; its values are passed as they are.
 * @param fn Maps one item; it receives the item and its index.
 * @param options Concurrency and a signal.
 * @returns An async iterator of the results, in completion order.
 *
 * @example Stop after the first two results
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapConcurrentIter, run, sleep, VirtualClock } from "@ipfs-kit/kit/runtime";
 *
 * const seen: number[] = [];
 * // On a virtual clock the sleeps take no real time and finish in order.
 * await run(async () => {
 *   for await (const n of mapConcurrentIter([30, 10, 20, 40], async (ms) => {
 *     await sleep(ms);
 *     return ms;
 *   }, { concurrency: 4 })) {
 *     seen.push(n);
 *     if (seen.length === 2) break; // the other two are cancelled
 *   }
 * }, { clock: new VirtualClock({ autojumpThreshold: 0 }) });
 * assert.equal(seen.join(), "10,20");
 * ```
 */
export function mapConcurrentIter<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  fn: (item: T, index: number) => R | Promise<R>,
  options: MapConcurrentOptions = {},
): AsyncGenerator<R, void, undefined> {
  const concurrency = checkArguments("map", items, fn, options);
  return iterate(items, fn, concurrency, options.signal);
}

async function* iterate<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  fn: (item: T, index: number) => R | Promise<R>,
  concurrency: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<R, void, undefined> {
  signal?.throwIfAborted();
  const tg = new TaskGroup();
  const ready: R[] = [];
  /** Items taken and not yet consumed: running, or done and buffered. */
  let held = 0;
  let pulling = true;
  let failed = false;
  let failure: unknown;
  let producer: Waiter<void> | undefined;
  let consumer: Waiter<void> | undefined;
  const wakeConsumer = () => {
    consumer?.wake();
  };
  const onAbort = () => {
    tg.cancelScope.cancel(signal!.reason);
    consumer?.fail(signal!.reason);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  let finished = false;
  try {
    tg.spawn(async () => {
      try {
        await pull(items, async () => {
          while (held >= concurrency) {
            producer = park();
            await producer.promise;
          }
        }, (item, index) => {
          held++;
          tg.spawn(async () => {
            try {
              ready.push(await fn(item, index));
            } catch (error) {
              if (!failed) [failed, failure] = [true, error];
              throw error;
            } finally {
              wakeConsumer();
            }
          });
        });
      } catch (error) {
        if (!failed) [failed, failure] = [true, error];
        throw error;
      } finally {
        pulling = false;
        wakeConsumer();
      }
    });
    for (;;) {
      signal?.throwIfAborted();
      if (failed) break;
      if (ready.length > 0) {
        const value = ready.shift()!;
        held--;
        producer?.wake();
        yield value;
        continue;
      }
      if (!pulling && held === 0) {
        finished = true;
        break;
      }
      consumer = park();
      await consumer.promise;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!finished) tg.cancelScope.cancel();
    await tg.join();
  }
  // Stopped by a cancellation the group swallowed: never end as if complete.
  if (!finished) {
    checkpointIfCancelled();
    throw failure;
  }
}

/** Pulls `items` one by one, waiting for `slotFree()` before each, and hands each to `take`. */
async function pull<T>(
  items: Iterable<T> | AsyncIterable<T>,
  slotFree: () => Promise<void>,
  take: (item: T, index: number) => void,
): Promise<void> {
  const isAsync = typeof (items as AsyncIterable<T>)[Symbol.asyncIterator] === "function";
  const iterator: Iterator<T> | AsyncIterator<T> = isAsync
    ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
    : (items as Iterable<T>)[Symbol.iterator]();
  let done = false;
  try {
    for (let index = 0;; index++) {
      await slotFree();
      checkpointIfCancelled();
      let step: IteratorResult<T>;
      try {
        step = isAsync ? await iterator.next() : iterator.next() as IteratorResult<T>;
      } catch (error) {
        // An iterator that threw is finished: no `return()` for it.
        done = true;
        throw error;
      }
      if (step.done) {
        done = true;
        return;
      }
      take(step.value, index);
    }
  } finally {
    // Leaving early (cancelled, or `take` threw): let the iterable clean up.
    if (!done) await iterator.return?.();
  }
}

function checkArguments(
  what: string,
  items: unknown,
  fn: unknown,
  options: MapConcurrentOptions,
): number {
  if (
    items === null || items === undefined ||
    (typeof (items as Iterable<unknown>)[Symbol.iterator] !== "function" &&
      typeof (items as AsyncIterable<unknown>)[Symbol.asyncIterator] !== "function")
  ) {
    throw new TypeError(`Cannot ${what}: items must be iterable: received ${typeof items}`);
  }
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot ${what}: expected a function: received ${typeof fn}`);
  }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(concurrency >= 1) || (concurrency !== Infinity && !Number.isInteger(concurrency))) {
    throw new RangeError(
      `Cannot ${what}: concurrency must be an integer >= 1: received ${concurrency}`,
    );
  }
  return concurrency;
}
