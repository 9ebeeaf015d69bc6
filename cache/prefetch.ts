/**
 * Predictive prefetch: learns what is read after what, and reads it ahead
 * in the background.
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { isCancellationError } from "../runtime/errors.ts";
import { CapacityLimiter } from "../runtime/capacity_limiter.ts";
import { ClosedResourceError, WouldBlock } from "../runtime/errors.ts";
import { Event } from "../runtime/event.ts";
import {
  createMemoryChannel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
} from "../runtime/memory_channel.ts";
import type { Permit } from "../runtime/permit.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import { DagIndex, type NodeKind, SuccessorTable } from "./_prefetch_model.ts";

export type { NodeKind } from "./_prefetch_model.ts";

/**
 * The cache a {@linkcode Prefetcher} fills.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PrefetchTarget } from "@ipfs-kit/kit/cache";
 *
 * const cache = new Map<string, Uint8Array>();
 * const target: PrefetchTarget = {
 *   has: (key) => cache.has(key),
 *   load: async (key) => {
 *     const bytes = new TextEncoder().encode(key);
 *     cache.set(key, bytes);
 *     return bytes.length;
 *   },
 * };
 * assert.equal(await target.load("abc", { signal: new AbortController().signal }), 3);
 * ```
 */
export interface PrefetchTarget {
  /** Whether `key` is cached already (then it is not prefetched). Must not count as a read. */
  has(key: string): boolean;
  /**
   * Loads `key` into the cache. Resolves with the bytes brought in, or
   * `undefined` when nothing was loaded (it was cached or being loaded
   * meanwhile, or it is not worth caching). Should stop when `signal`
   * aborts; it runs in the prefetcher's task group, so the runtime's
   * cancellation reaches it as well.
   */
  load(key: string, options: { signal: AbortSignal }): Promise<number | undefined>;
}

/**
 * Options for {@linkcode Prefetcher}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PrefetcherOptions } from "@ipfs-kit/kit/cache";
 *
 * const options: PrefetcherOptions = { concurrency: 2, chunks: 8, throttleBelow: 0.2 };
 * assert.equal(options.concurrency, 2);
 * ```
 */
export interface PrefetcherOptions {
  /** How many loads run at once (a `CapacityLimiter`'s tokens). Default 4. */
  concurrency?: number;
  /** How many predictions may wait for a token; more are dropped. Default 64. */
  queueSize?: number;
  /** How many chunks of a file to read ahead of the one being read. Default 4. */
  chunks?: number;
  /** How many entries of a directory to read ahead of the one being read. Default 1. */
  siblings?: number;
  /** Predict from first-order Markov successor counts. Default `true`. */
  markov?: boolean;
  /**
   * How many steps of the most frequent successor chain to predict (the
   * successor, its successor, ...). Default 2.
   */
  markovDepth?: number;
  /** How many times a successor must have followed a key to be predicted. Default 1. */
  minCount?: number;
  /** The share of a key's recorded transitions its top successor needs. Default 0.3. */
  minShare?: number;
  /** How many keys the successor table remembers. Default 10,000. */
  maxKeys?: number;
  /** How many successors it keeps per key. Default 4. */
  maxSuccessors?: number;
  /** How many DAG nodes' links it remembers. Default 1,024. */
  maxNodes?: number;
  /** How many links' positions (parent, index) it remembers. Default 65,536. */
  maxPositions?: number;
  /**
   * A prefetched entry not read within this many reads counts as wasted.
   * Default 256.
   */
  horizon?: number;
  /** How many recent outcomes (used or wasted) the sliding accuracy covers. Default 64. */
  window?: number;
  /** How many outcomes the window needs before it can throttle. Default 16. */
  minSamples?: number;
  /** Throttle when the window's accuracy falls below this. Default 0.3. */
  throttleBelow?: number;
  /** Stop throttling when it rises to this. Default 0.5. */
  resumeAbove?: number;
  /**
   * While throttled, only one prediction in this many is loaded (one token,
   * so that the accuracy keeps being measured). Default 8.
   */
  probeEvery?: number;
}

/**
 * A snapshot of a {@linkcode Prefetcher}'s counters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prefetcher } from "@ipfs-kit/kit/cache";
 *
 * const prefetcher = new Prefetcher({ has: () => false, load: () => Promise.resolve(0) });
 * const stats = prefetcher.statistics();
 * assert(stats.issued === 0 && stats.accuracy === 0 && !stats.throttled);
 * await prefetcher.close();
 * ```
 */
export interface PrefetchStatistics {
  /** Keys predicted that were neither cached nor pending. */
  readonly predicted: number;
  /** Predictions skipped because the prefetcher was throttled. */
  readonly suppressed: number;
  /** Predictions dropped because the queue was full. */
  readonly dropped: number;
  /** Loads started. */
  readonly issued: number;
  /** Loads that brought an entry into the cache. */
  readonly completed: number;
  /** Loads that found nothing to do (cached or loading meanwhile). */
  readonly skipped: number;
  /** Loads that failed (counted as wasted too). */
  readonly failed: number;
  /** Loads stopped by `close`. */
  readonly cancelled: number;
  /** Prefetched entries read before being evicted or expiring. */
  readonly used: number;
  /** Of `used`: read while still loading (the read waited for the rest). */
  readonly late: number;
  /** Prefetched entries evicted or expired unread, and failed loads. */
  readonly wasted: number;
  /** Bytes brought in by completed loads. */
  readonly issuedBytes: number;
  /** Bytes of the used entries. */
  readonly usedBytes: number;
  /** Bytes of the wasted entries. */
  readonly wastedBytes: number;
  /** `used / (used + wasted)` over every outcome so far; 0 before any. */
  readonly accuracy: number;
  /** The same over the sliding window of recent outcomes; 0 before any. */
  readonly windowAccuracy: number;
  /** Whether the prefetcher is throttled now. */
  readonly throttled: boolean;
  /** How many times it throttled itself. */
  readonly throttles: number;
  /** How many loads may run at once now (1 while throttled). */
  readonly concurrency: number;
  /** Loads running now. */
  readonly inFlight: number;
  /** Predictions waiting for a token. */
  readonly queued: number;
  /** Prefetched entries not read yet (still counted neither used nor wasted). */
  readonly outstanding: number;
  /** Keys with successor counts. */
  readonly learnedKeys: number;
  /** DAG nodes whose links are known. */
  readonly learnedNodes: number;
  /** The error of the last failed load (for diagnosis); `undefined` when none failed. */
  readonly lastError: unknown;
}

interface Flight {
  used: boolean;
  evicted: boolean;
}

interface Outstanding {
  bytes: number;
  /** The read count when it landed. */
  at: number;
}

/**
 * Learns access sequences and prefetches what is likely read next, in the
 * background.
 *
 * **What it learns.** Every read is reported with
 * {@linkcode Prefetcher.record}. Two predictors run on it:
 * - first-order Markov successor counts: for each key, the keys read right
 *   after it (bounded: `maxKeys` keys, `maxSuccessors` each); the most
 *   frequent successor is predicted, and its own most frequent successor,
 *   `markovDepth` steps along the chain;
 * - the DAG structure reported with {@linkcode Prefetcher.observeLinks}:
 *   reading a file node predicts its first `chunks` links; reading a link
 *   predicts the `chunks` links after it in a file, the `siblings` entries
 *   after it in a directory, and near the end of an inner node of a large
 *   file, the next inner node.
 *
 * **How it prefetches.** Predictions that are not cached
 * ({@linkcode PrefetchTarget.has}) go into a bounded queue; one dispatcher
 * task takes them in order and starts each load in the prefetcher's task
 * group once a `CapacityLimiter` token is free. `record` never waits.
 *
 * **Accuracy.** A prefetched entry is *used* when it is read (while still
 * loading counts: the read waited less), *wasted* when the cache evicts it
 * first ({@linkcode Prefetcher.evicted}), when it is not read within
 * `horizon` reads, or when its load fails. When the accuracy over the last
 * `window` outcomes falls below `throttleBelow`, the prefetcher throttles
 * itself: one token, and one prediction in `probeEvery` loaded; it recovers
 * once the window's accuracy reaches `resumeAbove`.
 *
 * **Lifetime.** The task group is created with the prefetcher, in the
 * current cancel scope; {@linkcode Prefetcher.close} cancels the loads in
 * flight and joins every task.
 *
 * @example Learn a sequence, then prefetch it
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prefetcher } from "@ipfs-kit/kit/cache";
 *
 * const cache = new Map<string, string>();
 * const prefetcher = new Prefetcher({
 *   has: (key) => cache.has(key),
 *   load: async (key) => {
 *     cache.set(key, key.toUpperCase());
 *     return key.length;
 *   },
 * });
 * for (const key of ["a", "b", "c", "a"]) prefetcher.record(key); // "a" predicts "b"
 * await prefetcher.idle();
 * assert(cache.has("b"));
 * prefetcher.record("b");
 * assert.equal(prefetcher.statistics().used, 1);
 * await prefetcher.close();
 * ```
 */
export class Prefetcher implements AsyncDisposable {
  readonly #target: PrefetchTarget;
  readonly #concurrency: number;
  readonly #chunks: number;
  readonly #siblings: number;
  readonly #markov: boolean;
  readonly #markovDepth: number;
  readonly #minCount: number;
  readonly #minShare: number;
  readonly #horizon: number;
  readonly #minSamples: number;
  readonly #throttleBelow: number;
  readonly #resumeAbove: number;
  readonly #probeEvery: number;
  readonly #successors: SuccessorTable;
  readonly #dag: DagIndex;
  readonly #limiter: CapacityLimiter;
  readonly #group: TaskGroup;
  readonly #send: MemorySendChannel<string>;
  readonly #queued: Set<string> = new Set();
  readonly #inflight: Map<string, Flight> = new Map();
  /** Landed and unread, in landing order (the oldest expire first). */
  readonly #outstanding: Map<string, Outstanding> = new Map();
  readonly #predictions: string[] = [];
  /** The sliding window of outcomes: 1 used, 0 wasted. */
  readonly #window: Uint8Array;
  #windowNext = 0;
  #windowCount = 0;
  #windowUsed = 0;
  /** Keys sent to the queue and not finished: `idle()` waits for 0. */
  #pending = 0;
  #idle: Event | undefined;
  #reads = 0;
  #probe = 0;
  #throttled = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #predicted = 0;
  #suppressed = 0;
  #dropped = 0;
  #issued = 0;
  #completed = 0;
  #skipped = 0;
  #failed = 0;
  #cancelled = 0;
  #used = 0;
  #late = 0;
  #wasted = 0;
  #throttles = 0;
  #issuedBytes = 0;
  #usedBytes = 0;
  #wastedBytes = 0;
  #lastError: unknown;

  /**
   * Creates a prefetcher and starts its dispatcher task, in a task group
   * inside the current cancel scope. Close it with `close()` or
   * `await using`.
   *
   * @param target The cache to fill.
   * @param options Concurrency, queue, read-ahead, model bounds, throttling.
   */
  constructor(target: PrefetchTarget, options?: PrefetcherOptions) {
    if (
      target === null || typeof target !== "object" || typeof target.has !== "function" ||
      typeof target.load !== "function"
    ) {
      throw new TypeError(
        "Cannot create prefetcher: target must have has and load functions",
      );
    }
    const count = (name: keyof PrefetcherOptions, fallback: number, min: number): number => {
      const value = options?.[name] ?? fallback;
      if (!Number.isSafeInteger(value) || (value as number) < min) {
        throw new RangeError(
          `Cannot create prefetcher: ${name} must be an integer >= ${min}: received ${
            String(value)
          }`,
        );
      }
      return value as number;
    };
    const share = (name: keyof PrefetcherOptions, fallback: number): number => {
      const value = options?.[name] ?? fallback;
      if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
        throw new RangeError(
          `Cannot create prefetcher: ${name} must be a number in [0, 1]: received ${String(value)}`,
        );
      }
      return value;
    };
    this.#target = target;
    this.#concurrency = count("concurrency", 4, 1);
    const queueSize = count("queueSize", 64, 1);
    this.#chunks = count("chunks", 4, 0);
    this.#siblings = count("siblings", 1, 0);
    this.#markov = options?.markov ?? true;
    this.#markovDepth = count("markovDepth", 2, 1);
    this.#minCount = count("minCount", 1, 1);
    this.#minShare = share("minShare", 0.3);
    this.#horizon = count("horizon", 256, 1);
    const window = count("window", 64, 1);
    this.#minSamples = Math.min(count("minSamples", 16, 1), window);
    this.#throttleBelow = share("throttleBelow", 0.3);
    this.#resumeAbove = share("resumeAbove", 0.5);
    if (this.#resumeAbove < this.#throttleBelow) {
      throw new RangeError(
        `Cannot create prefetcher: resumeAbove must be >= throttleBelow: received ${this.#resumeAbove}`,
      );
    }
    this.#probeEvery = count("probeEvery", 8, 1);
    this.#successors = new SuccessorTable(
      count("maxKeys", 10_000, 1),
      count("maxSuccessors", 4, 1),
    );
    this.#dag = new DagIndex(count("maxNodes", 1_024, 1), count("maxPositions", 65_536, 1));
    this.#window = new Uint8Array(window);
    this.#limiter = new CapacityLimiter(this.#concurrency);
    const [send, receive] = createMemoryChannel<string>(queueSize);
    this.#send = send;
    this.#group = new TaskGroup();
    this.#group.spawn(() => this.#dispatch(receive), { name: "prefetch dispatcher" });
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reports a read of `key`: counts a prefetched entry as used, learns the
   * transition from the previous key, and queues the predicted keys that
   * are not cached. Never waits; does nothing once closed.
   *
   * @param key The key read.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Prefetcher } from "@ipfs-kit/kit/cache";
   *
   * const prefetcher = new Prefetcher({ has: () => true, load: () => Promise.resolve(0) });
   * prefetcher.record("a");
   * prefetcher.record("b");
   * assert.equal(prefetcher.statistics().learnedKeys, 1);
   * await prefetcher.close();
   * ```
   */
  record(key: string): void {
    if (this.#closed) return;
    this.#reads++;
    const flight = this.#inflight.get(key);
    if (flight !== undefined) flight.used = true;
    else {
      const landed = this.#outstanding.get(key);
      if (landed !== undefined) {
        this.#outstanding.delete(key);
        this.#use(landed.bytes);
      }
    }
    this.#expire();
    if (this.#markov) this.#successors.observe(key);
    const predictions = this.#predictions;
    predictions.length = 0;
    this.#dag.next(key, this.#chunks, this.#siblings, predictions);
    if (this.#markov) {
      let from = key;
      for (let step = 0; step < this.#markovDepth; step++) {
        const next = this.#successors.predict(from, this.#minCount, this.#minShare);
        if (next === undefined || next === key) break;
        predictions.push(next);
        from = next;
      }
    }
    for (const prediction of predictions) {
      if (prediction !== key) this.#enqueue(prediction);
    }
  }

  /**
   * Whether the links of DAG node `key` are known (so the caller need not
   * decode it again).
   *
   * @param key The node's key.
   * @returns `true` when {@linkcode Prefetcher.observeLinks} was told them.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Prefetcher } from "@ipfs-kit/kit/cache";
   *
   * const prefetcher = new Prefetcher({ has: () => true, load: () => Promise.resolve(0) });
   * prefetcher.observeLinks("root", ["c0", "c1"], "file");
   * assert(prefetcher.knowsLinks("root") && !prefetcher.knowsLinks("c0"));
   * await prefetcher.close();
   * ```
   */
  knowsLinks(key: string): boolean {
    return this.#dag.knows(key);
  }

  /**
   * Reports the links of DAG node `key`, in order: a file's chunks (or
   * inner nodes), a directory's entries. Pass `[]` for a node without links,
   * so that it is not decoded again.
   *
   * @param key The node's key.
   * @param links The keys of its links, in order.
   * @param kind `"file"`, `"directory"` or `"other"` (links followed as a file's, without read-ahead of the node's own links).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Prefetcher } from "@ipfs-kit/kit/cache";
   *
   * const loaded: string[] = [];
   * const prefetcher = new Prefetcher({
   *   has: (key) => loaded.includes(key),
   *   load: async (key) => (loaded.push(key), 1),
   * }, { chunks: 2, markov: false });
   * prefetcher.observeLinks("file", ["c0", "c1", "c2", "c3"], "file");
   * prefetcher.record("c1"); // predicts c2 and c3
   * await prefetcher.idle();
   * assert.equal(loaded.sort().join(), "c2,c3");
   * await prefetcher.close();
   * ```
   */
  observeLinks(key: string, links: readonly string[], kind: NodeKind): void {
    if (this.#closed) return;
    this.#dag.add(key, links, kind);
  }

  /**
   * Reports that the cache dropped `key` (the memory tier evicted it): a
   * prefetched entry not read yet counts as wasted.
   *
   * @param key The key evicted.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Prefetcher } from "@ipfs-kit/kit/cache";
   *
   * const cache = new Set<string>();
   * const prefetcher = new Prefetcher({
   *   has: (key) => cache.has(key),
   *   load: async (key) => (cache.add(key), 10),
   * }, { chunks: 1, markov: false });
   * prefetcher.observeLinks("f", ["c0", "c1"], "file");
   * prefetcher.record("c0");
   * await prefetcher.idle();
   * prefetcher.evicted("c1");
   * assert.equal(prefetcher.statistics().wastedBytes, 10);
   * await prefetcher.close();
   * ```
   */
  evicted(key: string): void {
    const flight = this.#inflight.get(key);
    if (flight !== undefined) {
      flight.evicted = true;
      return;
    }
    const landed = this.#outstanding.get(key);
    if (landed === undefined) return;
    this.#outstanding.delete(key);
    this.#waste(landed.bytes);
  }

  /**
   * Waits until no prediction is queued and no load runs. A checkpoint;
   * cancellable.
   *
   * @returns A promise that settles when idle.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Prefetcher } from "@ipfs-kit/kit/cache";
   *
   * const prefetcher = new Prefetcher({ has: () => false, load: () => Promise.resolve(1) });
   * await prefetcher.idle();
   * assert.equal(prefetcher.statistics().inFlight, 0);
   * await prefetcher.close();
   * ```
   */
  async idle(): Promise<void> {
    while (this.#pending > 0) {
      this.#idle ??= new Event();
      await this.#idle.wait();
    }
  }

  /**
   * A snapshot of the counters.
   *
   * @returns The statistics.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Prefetcher } from "@ipfs-kit/kit/cache";
   *
   * await using prefetcher = new Prefetcher({ has: () => true, load: () => Promise.resolve(0) });
   * assert.equal(prefetcher.statistics().concurrency, 4);
   * ```
   */
  statistics(): PrefetchStatistics {
    const outcomes = this.#used + this.#wasted;
    return {
      predicted: this.#predicted,
      suppressed: this.#suppressed,
      dropped: this.#dropped,
      issued: this.#issued,
      completed: this.#completed,
      skipped: this.#skipped,
      failed: this.#failed,
      cancelled: this.#cancelled,
      used: this.#used,
      late: this.#late,
      wasted: this.#wasted,
      issuedBytes: this.#issuedBytes,
      usedBytes: this.#usedBytes,
      wastedBytes: this.#wastedBytes,
      accuracy: outcomes === 0 ? 0 : this.#used / outcomes,
      windowAccuracy: this.#windowCount === 0 ? 0 : this.#windowUsed / this.#windowCount,
      throttled: this.#throttled,
      throttles: this.#throttles,
      concurrency: this.#limiter.totalTokens,
      inFlight: this.#inflight.size,
      queued: this.#queued.size,
      outstanding: this.#outstanding.size,
      learnedKeys: this.#successors.size,
      learnedNodes: this.#dag.size,
      lastError: this.#lastError,
    };
  }

  /**
   * Stops prefetching: queued predictions are dropped, loads in flight are
   * cancelled (through the task group's cancel scope) and every task is
   * joined. Idempotent.
   *
   * @returns A promise that settles when every task has ended.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Prefetcher } from "@ipfs-kit/kit/cache";
   *
   * const prefetcher = new Prefetcher({ has: () => false, load: () => Promise.resolve(1) });
   * await prefetcher.close();
   * assert(prefetcher.closed);
   * ```
   */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  /** Closes the prefetcher: see {@linkcode Prefetcher.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#send.close();
    this.#group.cancelScope.cancel(
      new ClosedResourceError("Cannot prefetch: the prefetcher is closed"),
    );
    try {
      await this.#group.join();
    } catch (error) {
      // The scope the prefetcher was created in is cancelled: closing is done all the same.
      if (!isCancellationError(error)) throw error;
    } finally {
      this.#queued.clear();
      this.#pending = 0;
      this.#idle?.set();
      this.#idle = undefined;
    }
  }

  #enqueue(key: string): void {
    if (
      this.#queued.has(key) || this.#inflight.has(key) || this.#outstanding.has(key) ||
      this.#target.has(key)
    ) return;
    this.#predicted++;
    if (this.#throttled && ++this.#probe % this.#probeEvery !== 0) {
      this.#suppressed++;
      return;
    }
    try {
      this.#send.sendNowait(key);
    } catch (error) {
      if (error instanceof WouldBlock) {
        this.#dropped++;
        return;
      }
      throw error;
    }
    this.#queued.add(key);
    this.#pending++;
  }

  /** The dispatcher: starts a load per queued key once a token is free. */
  async #dispatch(receive: MemoryReceiveChannel<string>): Promise<void> {
    using _receive = receive;
    for await (const key of receive) {
      this.#queued.delete(key);
      if (this.#inflight.has(key) || this.#outstanding.has(key) || this.#target.has(key)) {
        this.#finished();
        continue;
      }
      let permit: Permit;
      try {
        permit = await this.#limiter.acquire();
      } catch (error) {
        this.#finished();
        throw error;
      }
      if (this.#inflight.has(key) || this.#outstanding.has(key) || this.#target.has(key)) {
        permit.release();
        this.#finished();
        continue;
      }
      const flight: Flight = { used: false, evicted: false };
      this.#inflight.set(key, flight);
      this.#issued++;
      this.#group.spawn(() => this.#prefetch(key, flight, permit), { name: "prefetch" });
    }
  }

  async #prefetch(key: string, flight: Flight, permit: Permit): Promise<void> {
    try {
      let bytes: number | undefined;
      try {
        bytes = await this.#target.load(key, { signal: CancelScope.current().signal });
      } catch (error) {
        this.#inflight.delete(key);
        if (this.#closed) this.#cancelled++;
        else {
          this.#lastError = error;
          this.#failed++;
          this.#waste(0);
        }
        // Not re-thrown: a failed prefetch must not cancel the other tasks of the group.
        return;
      }
      this.#inflight.delete(key);
      if (bytes === undefined) {
        this.#skipped++;
        return;
      }
      this.#completed++;
      this.#issuedBytes += bytes;
      if (flight.used) {
        this.#late++;
        this.#use(bytes);
      } else if (flight.evicted) this.#waste(bytes);
      else this.#outstanding.set(key, { bytes, at: this.#reads });
    } finally {
      permit.release();
      this.#finished();
    }
  }

  /** One queued key is done with (skipped, loaded or failed). */
  #finished(): void {
    if (this.#pending > 0 && --this.#pending === 0 && this.#idle !== undefined) {
      this.#idle.set();
      this.#idle = undefined;
    }
  }

  /** Counts the outstanding entries older than `horizon` reads as wasted. */
  #expire(): void {
    for (const [key, landed] of this.#outstanding) {
      if (this.#reads - landed.at <= this.#horizon) return;
      this.#outstanding.delete(key);
      this.#waste(landed.bytes);
    }
  }

  #use(bytes: number): void {
    this.#used++;
    this.#usedBytes += bytes;
    this.#outcome(1);
  }

  #waste(bytes: number): void {
    this.#wasted++;
    this.#wastedBytes += bytes;
    this.#outcome(0);
  }

  /** Adds an outcome to the window and throttles or recovers. */
  #outcome(used: 0 | 1): void {
    const window = this.#window;
    if (this.#windowCount === window.length) this.#windowUsed -= window[this.#windowNext];
    else this.#windowCount++;
    window[this.#windowNext] = used;
    this.#windowUsed += used;
    this.#windowNext = (this.#windowNext + 1) % window.length;
    if (this.#windowCount < this.#minSamples) return;
    const accuracy = this.#windowUsed / this.#windowCount;
    if (!this.#throttled && accuracy < this.#throttleBelow) {
      this.#throttled = true;
      this.#throttles++;
      this.#limiter.totalTokens = 1;
    } else if (this.#throttled && accuracy >= this.#resumeAbove) {
      this.#throttled = false;
      this.#limiter.totalTokens = this.#concurrency;
    }
  }
}
