/**
 * The memory tier of the cache: Adaptive Replacement Cache (ARC), exactly as
 * Megiddo and Modha describe it, bounded by entry count and by bytes, with a
 * single-flight `fetch`.
 *
 * @module
 */

import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import { withSignal } from "../runtime/timeouts.ts";
import { ArcLists, B1, B2, T1, T2 } from "./_arc_lists.ts";
import { Flight } from "./_flight.ts";

/**
 * Why an entry left the cache, as passed to {@linkcode ArcCacheOptions.dispose}:
 * - `"evict"`: pushed out to respect `max` or `maxSize` (ARC's REPLACE);
 * - `"set"`: its value was replaced by `set`, or a `set` too large for the
 *   cache removed it;
 * - `"delete"`: removed by {@linkcode ArcCache.delete};
 * - `"clear"`: removed by {@linkcode ArcCache.clear}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DisposeReason } from "@ipfs-kit/kit/cache";
 *
 * const reason: DisposeReason = "evict";
 * assert.equal(reason, "evict");
 * ```
 */
export type DisposeReason = "evict" | "set" | "delete" | "clear";

/**
 * Options for {@linkcode ArcCache}, named after lru-cache's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArcCache, type ArcCacheOptions } from "@ipfs-kit/kit/cache";
 *
 * const options: ArcCacheOptions<string, Uint8Array> = {
 *   max: 1_000,
 *   maxSize: 64 * 1024 * 1024,
 *   sizeCalculation: (block) => block.byteLength,
 * };
 * const cache = new ArcCache(options);
 * assert.equal(cache.max, 1_000);
 * ```
 */
export interface ArcCacheOptions<K, V> {
  /**
   * The most entries the cache holds: ARC's `c`. Required, a positive
   * integer. The ghost lists remember at most `max` more keys (without values).
   */
  max: number;
  /**
   * The most bytes (or any unit `sizeCalculation` returns) the cached values
   * may add up to. Default: unbounded. When set, every entry needs a size:
   * from `sizeCalculation` or from `set`'s `size` option.
   */
  maxSize?: number;
  /**
   * The largest single entry that is cached; a larger `set` is not cached
   * (and removes the key's previous value). Default and upper bound: `maxSize`.
   */
  maxEntrySize?: number;
  /**
   * Computes an entry's size: a non-negative safe integer. Requires
   * `maxSize` or `maxEntrySize`.
   */
  sizeCalculation?: (value: V, key: K) => number;
  /**
   * Called when a value leaves the cache, after the operation that removed it
   * has finished (so it may use the cache). Errors it throws are re-thrown
   * by that operation once every pending call has run.
   */
  dispose?: (value: V, key: K, reason: DisposeReason) => void;
}

/**
 * Options for {@linkcode ArcCache.set}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArcCache, type ArcSetOptions } from "@ipfs-kit/kit/cache";
 *
 * const cache = new ArcCache<string, string>({ max: 10, maxSize: 100 });
 * const options: ArcSetOptions = { size: 5 };
 * cache.set("a", "hello", options);
 * assert.equal(cache.calculatedSize, 5);
 * ```
 */
export interface ArcSetOptions {
  /** The entry's size; overrides `sizeCalculation`. Ignored when the cache has no `maxSize`. */
  size?: number;
}

/**
 * Options for {@linkcode ArcCache.fetch}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArcCache, type ArcFetchOptions } from "@ipfs-kit/kit/cache";
 *
 * const cache = new ArcCache<string, number>({ max: 10 });
 * const options: ArcFetchOptions = { signal: AbortSignal.timeout(1_000) };
 * assert(await cache.fetch("a", () => 1, options) === 1);
 * ```
 */
export interface ArcFetchOptions {
  /**
   * Stops this caller's wait: it rejects with `signal.reason`. The load goes
   * on while another caller still waits for it.
   */
  signal?: AbortSignal;
}

/**
 * What a loader given to {@linkcode ArcCache.fetch} receives besides the key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ArcLoaderOptions } from "@ipfs-kit/kit/cache";
 *
 * async function load(url: string, { signal }: ArcLoaderOptions): Promise<string> {
 *   return await (await fetch(url, { signal })).text();
 * }
 * assert.equal(typeof load, "function");
 * ```
 */
export interface ArcLoaderOptions {
  /** Aborts when every caller waiting for this load has gone. */
  signal: AbortSignal;
}

/**
 * Loads a missing value for {@linkcode ArcCache.fetch}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ArcLoader } from "@ipfs-kit/kit/cache";
 *
 * const loader: ArcLoader<string, number> = (key) => key.length;
 * assert.equal(loader("abc", { signal: new AbortController().signal }), 3);
 * ```
 */
export type ArcLoader<K, V> = (key: K, options: ArcLoaderOptions) => V | Promise<V>;

/**
 * A snapshot of an {@linkcode ArcCache}'s state and counters.
 *
 * Hits are counted by {@linkcode ArcCache.get} (and so by `fetch`), split by
 * the list that held the entry; misses likewise, split by the ghost list that
 * remembered the key (a "ghost hit": the key was evicted recently) or neither.
 * `peek` and `has` count nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArcCache } from "@ipfs-kit/kit/cache";
 *
 * const cache = new ArcCache<string, number>({ max: 2 });
 * cache.set("a", 1);
 * cache.get("a");
 * cache.get("b");
 * const stats = cache.statistics();
 * assert(stats.hitsT1 === 1 && stats.missesCold === 1 && stats.t2 === 1);
 * ```
 */
export interface ArcStatistics {
  /** Cached entries: `t1 + t2`. */
  readonly entries: number;
  /** The sum of the cached entries' sizes. */
  readonly bytes: number;
  /** The entry limit `c`. */
  readonly max: number;
  /** The size limit (`Infinity` when none). */
  readonly maxSize: number;
  /** ARC's adaptive target for the size of T1, in entries: `0 <= p <= max`. */
  readonly p: number;
  /** Entries in T1: seen once recently. */
  readonly t1: number;
  /** Entries in T2: seen at least twice recently. */
  readonly t2: number;
  /** Keys in ghost list B1 (evicted from T1), without values. */
  readonly b1: number;
  /** Keys in ghost list B2 (evicted from T2), without values. */
  readonly b2: number;
  /** `get` calls that found a value: `hitsT1 + hitsT2`. */
  readonly hits: number;
  /** Hits on an entry in T1 (which then moves to T2). */
  readonly hitsT1: number;
  /** Hits on an entry in T2. */
  readonly hitsT2: number;
  /** `get` calls that found no value: `missesB1 + missesB2 + missesCold`. */
  readonly misses: number;
  /** Misses on a key in ghost list B1. */
  readonly missesB1: number;
  /** Misses on a key in ghost list B2. */
  readonly missesB2: number;
  /** Misses on a key in no list. */
  readonly missesCold: number;
  /** Entries pushed out of the cache to respect `max` or `maxSize`. */
  readonly evictions: number;
  /** `set` calls not cached because the entry exceeded `maxEntrySize`. */
  readonly rejected: number;
  /** Loads started by `fetch` (one per key however many callers wait). */
  readonly loads: number;
}

/**
 * Adaptive Replacement Cache (Megiddo and Modha, FAST 2003), with names and
 * options after lru-cache.
 *
 * Entries live in two lists: T1 holds keys seen once recently, T2 keys seen
 * at least twice. Two ghost lists remember the keys recently evicted from
 * each (B1, B2), without their values. A miss on a ghost key tells ARC which
 * list was too short; it moves its target `p` for the size of T1 accordingly,
 * so the cache balances recency against frequency by itself and resists scans.
 * With `max` = `c`: `|T1| + |T2| <= c`, `|T1| + |B1| <= c`,
 * `|T1| + |T2| + |B1| + |B2| <= 2c`, `0 <= p <= c`. Every operation is O(1)
 * except `clear` and iteration: the four lists are doubly-linked through
 * typed arrays of slots (at most `2 * max + 4`, grown on demand), and one
 * `Map` takes a key to its slot.
 *
 * When every entry counts as one (no `maxSize`), this is the paper's
 * algorithm step for step. A `get` is a request: a hit is the paper's case I;
 * a miss changes nothing until the value is `set`, which then runs case II,
 * III or IV (a ghost key comes back into T2, a new key into T1). A `set` on a
 * cached key is a request too (case I) that replaces the value.
 *
 * With `maxSize`, sizes are generalised as follows: after a `set`, while the
 * cached sizes add up to more than `maxSize`, ARC's REPLACE rule moves entries
 * from T1 or T2 into the ghost lists, taking T1 when its share of the cached
 * entries is above its target share `p / max` (the paper's rule when the cache
 * holds `max` entries), never the entry just set. The ghost lists keep their
 * bounds in entries. An entry larger than `maxEntrySize` (default `maxSize`)
 * is not cached, as in lru-cache: the `set` removes the key's previous value
 * and counts in `statistics().rejected`.
 *
 * Values may not be `undefined` (`set(key, undefined)` deletes the key).
 *
 * @typeParam K The key type.
 * @typeParam V The value type.
 *
 * @example Basic use
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArcCache } from "@ipfs-kit/kit/cache";
 *
 * const cache = new ArcCache<string, string>({ max: 2 });
 * cache.set("a", "A").set("b", "B");
 * cache.get("a"); // "a" is now frequent (T2)
 * cache.set("c", "C"); // evicts "b", the least recent entry of T1
 * assert(cache.has("a") && !cache.has("b") && cache.has("c"));
 * ```
 *
 * @example A byte budget and an eviction hook
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArcCache } from "@ipfs-kit/kit/cache";
 *
 * const evicted: string[] = [];
 * const cache = new ArcCache<string, Uint8Array>({
 *   max: 100,
 *   maxSize: 1024,
 *   sizeCalculation: (value) => value.byteLength,
 *   dispose: (_value, key, reason) => evicted.push(`${key}:${reason}`),
 * });
 * cache.set("a", new Uint8Array(600));
 * cache.set("b", new Uint8Array(600));
 * assert(cache.calculatedSize === 600 && evicted[0] === "a:evict");
 * ```
 *
 * @example Single-flight loading
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArcCache } from "@ipfs-kit/kit/cache";
 *
 * const cache = new ArcCache<string, string>({ max: 100 });
 * let loads = 0;
 * const load = async (key: string) => (loads++, key.toUpperCase());
 * const [a, b] = await Promise.all([cache.fetch("x", load), cache.fetch("x", load)]);
 * assert(a === "X" && b === "X" && loads === 1);
 * ```
 */
export class ArcCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>>
  implements Iterable<[K, V]> {
  readonly #max: number;
  readonly #maxSize: number;
  readonly #maxEntrySize: number;
  readonly #sized: boolean;
  readonly #sizeCalculation: ((value: V, key: K) => number) | undefined;
  readonly #dispose: ((value: V, key: K, reason: DisposeReason) => void) | undefined;
  /** T1, T2, B1 and B2. */
  readonly #lists: ArcLists<K, V>;
  readonly #flights: Map<K, Flight<K, V>> = new Map();
  #p = 0;
  #bytes = 0;
  /** Disposals waiting for the current operation to end: value, key, reason triples. */
  #pending: unknown[] | undefined;
  #hitsT1 = 0;
  #hitsT2 = 0;
  #missesB1 = 0;
  #missesB2 = 0;
  #missesCold = 0;
  #evictions = 0;
  #rejected = 0;
  #loads = 0;
  /** Ends a flight: forgets it and caches its value unless a `set` came first. */
  readonly #flightEnded = (flight: Flight<K, V>, value: V | undefined): void => {
    if (this.#flights.get(flight.key) === flight) this.#flights.delete(flight.key);
    if (value !== undefined && !this.has(flight.key)) this.set(flight.key, value);
  };

  /**
   * Creates an empty cache.
   *
   * @param options `max` entries (required), `maxSize`, `maxEntrySize`,
   * `sizeCalculation`, `dispose`.
   */
  constructor(options: ArcCacheOptions<K, V>) {
    const { max, maxSize, maxEntrySize, sizeCalculation, dispose } = options ?? {};
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(
        `Cannot create cache: max must be a positive integer: received ${String(max)}`,
      );
    }
    if (maxSize !== undefined && !(typeof maxSize === "number" && maxSize > 0)) {
      throw new RangeError(
        `Cannot create cache: maxSize must be a positive number: received ${String(maxSize)}`,
      );
    }
    if (maxEntrySize !== undefined && !(typeof maxEntrySize === "number" && maxEntrySize > 0)) {
      throw new RangeError(
        `Cannot create cache: maxEntrySize must be a positive number: received ${
          String(maxEntrySize)
        }`,
      );
    }
    if (sizeCalculation !== undefined) {
      if (typeof sizeCalculation !== "function") {
        throw new TypeError(
          `Cannot create cache: sizeCalculation must be a function: received ${typeof sizeCalculation}`,
        );
      }
      if (maxSize === undefined && maxEntrySize === undefined) {
        throw new TypeError(
          "Cannot create cache: sizeCalculation requires maxSize or maxEntrySize",
        );
      }
    }
    if (dispose !== undefined && typeof dispose !== "function") {
      throw new TypeError(
        `Cannot create cache: dispose must be a function: received ${typeof dispose}`,
      );
    }
    this.#max = max;
    this.#maxSize = maxSize ?? Infinity;
    this.#maxEntrySize = Math.min(maxEntrySize ?? Infinity, this.#maxSize);
    this.#sized = maxSize !== undefined || maxEntrySize !== undefined;
    this.#sizeCalculation = sizeCalculation;
    this.#dispose = dispose;
    this.#lists = new ArcLists(max, this.#sized);
  }

  /** The entry limit `c`. */
  get max(): number {
    return this.#max;
  }

  /** The size limit, `Infinity` when none was given. */
  get maxSize(): number {
    return this.#maxSize;
  }

  /** How many entries are cached (ghost keys not included). */
  get size(): number {
    return this.#lists.length(T1) + this.#lists.length(T2);
  }

  /** The sum of the cached entries' sizes (0 when the cache has no size limit). */
  get calculatedSize(): number {
    return this.#bytes;
  }

  /**
   * Returns the value cached for `key` and counts a hit (the entry moves to
   * the most recent end of T2), or returns `undefined` and counts a miss.
   *
   * @param key The key.
   * @returns The value, or `undefined`.
   */
  get(key: K): V | undefined {
    const lists = this.#lists;
    const i = lists.slotOf(key);
    if (i === undefined) {
      this.#missesCold++;
      return undefined;
    }
    const where = lists.listOf(i);
    if (where === T2) {
      this.#hitsT2++;
      lists.toFront(i, T2);
      return lists.value(i);
    }
    if (where === T1) {
      this.#hitsT1++;
      lists.move(i, T2);
      return lists.value(i);
    }
    if (where === B1) this.#missesB1++;
    else this.#missesB2++;
    return undefined;
  }

  /**
   * Returns the value cached for `key` without counting or moving anything.
   *
   * @param key The key.
   * @returns The value, or `undefined`.
   */
  peek(key: K): V | undefined {
    const i = this.#lists.slotOf(key);
    return i === undefined ? undefined : this.#lists.value(i);
  }

  /**
   * Whether a value is cached for `key` (a ghost key is not). Counts and moves
   * nothing.
   *
   * @param key The key.
   * @returns `true` when cached.
   */
  has(key: K): boolean {
    const i = this.#lists.slotOf(key);
    return i !== undefined && this.#lists.listOf(i) <= T2;
  }

  /**
   * Caches `value` for `key`: a request for `key` in ARC's terms (see the
   * class doc), then evictions until `max` and `maxSize` hold. A value equal
   * to `undefined` deletes the key. An entry larger than `maxEntrySize` is not
   * cached.
   *
   * @param key The key.
   * @param value The value.
   * @param options The entry's `size`.
   * @returns The cache, for chaining.
   */
  set(key: K, value: V, options?: ArcSetOptions): this {
    if (value === undefined) {
      this.delete(key);
      return this;
    }
    const size = this.#sized ? this.#sizeOf(key, value, options) : 0;
    const lists = this.#lists;
    let i = lists.slotOf(key);
    if (size > this.#maxEntrySize) {
      this.#rejected++;
      if (i !== undefined && lists.listOf(i) <= T2) this.#remove(i, "set");
      if (this.#pending !== undefined) this.#flush();
      return this;
    }
    const max = this.#max;
    let fromB2 = false;
    if (i !== undefined) {
      const where = lists.listOf(i);
      if (where <= T2) {
        // Case I: a hit; the value is replaced.
        const old = lists.value(i)!;
        lists.setValue(i, value);
        if (this.#sized) {
          this.#bytes += size - lists.size(i);
          lists.setSize(i, size);
        }
        lists.move(i, T2);
        if (old !== value && this.#dispose !== undefined) this.#later(old, key, "set");
        if (this.#bytes > this.#maxSize) this.#shrink(i, false);
        if (this.#pending !== undefined) this.#flush();
        return this;
      }
      const full = lists.length(T1) + lists.length(T2) >= max;
      const b1 = lists.length(B1);
      const b2 = lists.length(B2);
      if (where === B1) {
        // Case II: a ghost hit in B1 (T1 was too short); p grows.
        this.#p = Math.min(this.#p + (b1 >= b2 ? 1 : b2 / b1), max);
        if (full) this.#replace(false);
      } else {
        // Case III: a ghost hit in B2 (T2 was too short); p shrinks.
        this.#p = Math.max(this.#p - (b2 >= b1 ? 1 : b1 / b2), 0);
        if (full) this.#replace(true);
        fromB2 = true;
      }
      lists.setValue(i, value);
      lists.move(i, T2);
    } else {
      // Case IV: a key in no list.
      const t1 = lists.length(T1);
      const l1 = t1 + lists.length(B1);
      const full = t1 + lists.length(T2) >= max;
      if (l1 >= max) {
        if (t1 < max) {
          lists.remove(lists.prev(B1));
          if (full) this.#replace(false);
        } else {
          this.#remove(lists.prev(T1), "evict");
          this.#evictions++;
        }
      } else {
        const total = l1 + lists.length(T2) + lists.length(B2);
        if (total >= max) {
          if (total >= 2 * max) lists.remove(lists.prev(B2));
          if (full) this.#replace(false);
        }
      }
      i = lists.add(key, value, T1);
    }
    if (this.#sized) {
      lists.setSize(i, size);
      this.#bytes += size;
      if (this.#bytes > this.#maxSize) this.#shrink(i, fromB2);
    }
    if (this.#pending !== undefined) this.#flush();
    return this;
  }

  /**
   * Removes `key`: its value (reason `"delete"`) and its ghost, if any.
   *
   * @param key The key.
   * @returns Whether a value was cached for it.
   */
  delete(key: K): boolean {
    const lists = this.#lists;
    const i = lists.slotOf(key);
    if (i === undefined) return false;
    if (lists.listOf(i) > T2) {
      lists.remove(i);
      return false;
    }
    this.#remove(i, "delete");
    if (this.#pending !== undefined) this.#flush();
    return true;
  }

  /**
   * Empties the cache and its ghost lists and resets `p` to 0; every value is
   * disposed with reason `"clear"`. Counters are kept. Loads in flight go on
   * and cache their result.
   */
  clear(): void {
    const lists = this.#lists;
    if (this.#dispose !== undefined) {
      for (const list of [T1, T2]) {
        for (let i = lists.prev(list); i !== list; i = lists.prev(i)) {
          this.#later(lists.value(i)!, lists.key(i)!, "clear");
        }
      }
    }
    lists.clear();
    this.#bytes = 0;
    this.#p = 0;
    if (this.#pending !== undefined) this.#flush();
  }

  /**
   * Yields the cached `[key, value]` pairs: T1 from most to least recent,
   * then T2 likewise. Counts and moves nothing. An entry removed while the
   * iteration runs is skipped once reached; one added is not visited.
   *
   * @returns An iterator of pairs.
   */
  *entries(): Generator<[K, V], void, undefined> {
    const lists = this.#lists;
    const snapshot: unknown[] = [];
    for (const list of [T1, T2]) {
      for (let i = lists.next(list); i !== list; i = lists.next(i)) {
        snapshot.push(i, lists.key(i));
      }
    }
    for (let n = 0; n < snapshot.length; n += 2) {
      const i = snapshot[n] as number;
      const key = snapshot[n + 1] as K;
      // A slot may have been freed, or reused for another key, meanwhile.
      if (lists.listOf(i) <= T2 && lists.key(i) === key) yield [key, lists.value(i)!];
    }
  }

  /**
   * Yields the cached keys in the order of {@linkcode ArcCache.entries}.
   *
   * @returns An iterator of keys.
   */
  *keys(): Generator<K, void, undefined> {
    for (const [key] of this.entries()) yield key;
  }

  /**
   * Yields the cached values in the order of {@linkcode ArcCache.entries}.
   *
   * @returns An iterator of values.
   */
  *values(): Generator<V, void, undefined> {
    for (const [, value] of this.entries()) yield value;
  }

  /**
   * The same as {@linkcode ArcCache.entries}.
   *
   * @returns An iterator of pairs.
   */
  [Symbol.iterator](): Generator<[K, V], void, undefined> {
    return this.entries();
  }

  /**
   * Calls `fn` for every cached entry, in the order of {@linkcode ArcCache.entries}.
   *
   * @param fn Receives the value, the key and the cache.
   */
  forEach(fn: (value: V, key: K, cache: this) => void): void {
    for (const [key, value] of this.entries()) fn(value, key, this);
  }

  /**
   * A snapshot of the lists, the target `p` and the counters.
   *
   * @returns The statistics.
   */
  statistics(): ArcStatistics {
    const lists = this.#lists;
    const t1 = lists.length(T1);
    const t2 = lists.length(T2);
    const b1 = lists.length(B1);
    const b2 = lists.length(B2);
    return {
      entries: t1 + t2,
      bytes: this.#bytes,
      max: this.#max,
      maxSize: this.#maxSize,
      p: this.#p,
      t1,
      t2,
      b1,
      b2,
      hits: this.#hitsT1 + this.#hitsT2,
      hitsT1: this.#hitsT1,
      hitsT2: this.#hitsT2,
      misses: this.#missesB1 + this.#missesB2 + this.#missesCold,
      missesB1: this.#missesB1,
      missesB2: this.#missesB2,
      missesCold: this.#missesCold,
      evictions: this.#evictions,
      rejected: this.#rejected,
      loads: this.#loads,
    };
  }

  /**
   * Returns the value for `key`, loading it with `loader` on a miss and
   * caching the result. Single flight: concurrent calls for one key share one
   * load. A caller whose `signal` aborts (or whose cancel scope is cancelled)
   * stops waiting at once, rejecting with `signal.reason` (or
   * `CancelledError`), and the load goes on for the other callers. When the
   * last caller goes, the load is abandoned: the loader's signal aborts (and
   * its cancel scope is cancelled), and that caller's rejection waits until
   * the loader has settled, so no work outlives every caller. A value loaded
   * after a `set` of the same key is returned but not cached: the `set` wins.
   * A loader's error rejects every waiting caller and is not cached.
   *
   * The loader runs in a shielded cancel scope of its own: it follows the
   * callers as a group, not the scope of the caller that started it.
   *
   * @param key The key.
   * @param loader Loads the value; receives the key and `{ signal }`.
   * @param options This caller's `signal`.
   * @returns The cached or loaded value.
   */
  fetch(key: K, loader: ArcLoader<K, V>, options?: ArcFetchOptions): Promise<V> {
    const value = this.get(key);
    if (value !== undefined) return Promise.resolve(value);
    const signal = options?.signal;
    try {
      signal?.throwIfAborted();
      checkpointIfCancelled();
    } catch (error) {
      return Promise.reject(error);
    }
    let flight = this.#flights.get(key);
    if (flight === undefined) {
      flight = new Flight(key, (signal) => loader(key, { signal }), this.#flightEnded);
      this.#flights.set(key, flight);
      this.#loads++;
      flight.start();
    }
    const joined = flight;
    return signal === undefined ? joined.wait() : withSignal(signal, () => joined.wait());
  }

  #sizeOf(key: K, value: V, options: ArcSetOptions | undefined): number {
    let size = options?.size;
    if (size === undefined) {
      const calculate = this.#sizeCalculation;
      if (calculate === undefined) {
        throw new TypeError(
          "Cannot set cache entry: a size is required when maxSize or maxEntrySize is set: " +
            "received no size and no sizeCalculation",
        );
      }
      size = calculate(value, key);
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new TypeError(
        `Cannot set cache entry: size must be a non-negative integer: received ${String(size)}`,
      );
    }
    return size;
  }

  /**
   * ARC's REPLACE: moves the LRU entry of T1 to B1 when T1 is above its
   * target `p` (or at it, for a request found in B2), else the LRU entry of
   * T2 to B2. Called with the cache holding `max` entries.
   */
  #replace(fromB2: boolean): void {
    const lists = this.#lists;
    const n1 = lists.length(T1);
    if (n1 > 0 && (n1 > this.#p || (fromB2 && n1 === this.#p)) || lists.length(T2) === 0) {
      this.#demote(lists.prev(T1), B1);
    } else {
      this.#demote(lists.prev(T2), B2);
    }
  }

  /**
   * REPLACE for the size limit: until the sizes fit, moves the LRU entry of
   * T1 to B1 when T1's share of the cached entries is above `p / max` (or at
   * it, for a request found in B2), else the LRU entry of T2 to B2; never
   * `keep`, the entry just set.
   */
  #shrink(keep: number, fromB2: boolean): void {
    const lists = this.#lists;
    const max = this.#max;
    while (this.#bytes > this.#maxSize) {
      const n1 = lists.length(T1);
      const n2 = lists.length(T2);
      const scaled = this.#p * (n1 + n2);
      let fromT1 = n1 > 0 && (n1 * max > scaled || (fromB2 && n1 * max === scaled));
      if (fromT1 ? lists.prev(T1) === keep : n2 === 0 || lists.prev(T2) === keep) {
        fromT1 = !fromT1;
      }
      const victim = fromT1 ? lists.prev(T1) : lists.prev(T2);
      if (victim === keep || victim <= B2) {
        throw new Error("Cannot shrink cache: no entry left to evict"); // unreachable
      }
      this.#demote(victim, fromT1 ? B1 : B2);
    }
  }

  /** Moves a cached entry to the MRU end of a ghost list, dropping its value. */
  #demote(i: number, ghosts: number): void {
    const lists = this.#lists;
    const value = lists.value(i)!;
    this.#evictions++;
    if (this.#dispose !== undefined) this.#later(value, lists.key(i)!, "evict");
    lists.setValue(i, undefined);
    if (this.#sized) {
      this.#bytes -= lists.size(i);
      lists.setSize(i, 0);
    }
    lists.move(i, ghosts);
  }

  /** Removes a cached entry entirely (no ghost). */
  #remove(i: number, reason: DisposeReason): void {
    const lists = this.#lists;
    const key = lists.key(i)!;
    const value = lists.value(i)!;
    if (this.#sized) this.#bytes -= lists.size(i);
    lists.remove(i);
    if (this.#dispose !== undefined) this.#later(value, key, reason);
  }

  #later(value: V, key: K, reason: DisposeReason): void {
    (this.#pending ??= []).push(value, key, reason);
  }

  /** Runs the pending disposals; re-throws the first error once all have run. */
  #flush(): void {
    const pending = this.#pending!;
    this.#pending = undefined;
    const dispose = this.#dispose!;
    let failed = false;
    let first: unknown;
    for (let i = 0; i < pending.length; i += 3) {
      try {
        dispose(pending[i] as V, pending[i + 1] as K, pending[i + 2] as DisposeReason);
      } catch (error) {
        if (!failed) {
          failed = true;
          first = error;
        }
      }
    }
    if (failed) throw first;
  }
}
