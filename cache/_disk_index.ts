/**
 * The disk cache's in-memory index: which entry names are cached, their sizes
 * in bytes, and the replacement policy that picks the victims. Private to the
 * cache. Names are SHA-256 hex strings; sizes are whole file sizes. `open`
 * restores it from the scanned entries and the recency snapshot.
 *
 * @module
 */

import { ArcCache } from "./arc_cache.ts";

/**
 * The replacement policy of a `DiskCache`: `"arc"`, the memory
 * tier's Adaptive Replacement Cache sized in bytes (the default), or `"lru"`,
 * least recently used.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DiskCachePolicy } from "@ipfs-kit/kit/cache";
 *
 * const policy: DiskCachePolicy = "lru";
 * assert.equal(policy, "lru");
 * ```
 */
export type DiskCachePolicy = "arc" | "lru";

/** The index of a disk cache: a replacement policy bounded by bytes and entries. */
export interface DiskIndex {
  /** The sum of the sizes of the indexed entries. */
  readonly bytes: number;
  /** How many entries are indexed. */
  readonly entries: number;
  /** Looks `name` up as a request (the policy records the use); its size or `undefined`. */
  get(name: string): number | undefined;
  /** Whether `name` is indexed; records nothing. */
  has(name: string): boolean;
  /** Adds or replaces `name` as a request, then evicts until the bounds hold (never `name`). */
  set(name: string, size: number): void;
  /** Adds `name` as an entry used at least twice recently (restoring a snapshot). */
  setFrequent(name: string, size: number): void;
  /** Removes `name`; whether it was indexed. Not an eviction. */
  delete(name: string): boolean;
  /** Every indexed name. */
  names(): string[];
  /** The names as snapshot lists, least recent first: `[frequent, recent]`. */
  lists(): string[][];
}

/** Creates an index; `onEvict` hears of every name the policy evicts. */
export function createIndex(
  policy: DiskCachePolicy,
  maxBytes: number,
  maxEntries: number,
  onEvict: (name: string) => void,
): DiskIndex {
  return policy === "arc"
    ? new ArcIndex(maxBytes, maxEntries, onEvict)
    : new LruIndex(maxBytes, maxEntries, onEvict);
}

/**
 * Fills `index` from the scanned entries (name to file size): in the
 * snapshot's order (frequent ones first, each list from least to most
 * recent), then the entries the snapshot does not know, as the most recent.
 * Takes the names it places out of `sizes`.
 */
export function restoreIndex(
  index: DiskIndex,
  sizes: Map<string, number>,
  lists: string[][] | undefined,
): void {
  if (lists !== undefined) {
    const [frequent = [], recent = []] = lists;
    for (const name of frequent) {
      const size = sizes.get(name);
      if (size === undefined) continue;
      sizes.delete(name);
      index.setFrequent(name, size);
    }
    for (const name of recent) {
      const size = sizes.get(name);
      if (size === undefined) continue;
      sizes.delete(name);
      index.set(name, size);
    }
  }
  for (const [name, size] of sizes) index.set(name, size);
}

/** ARC, by the memory tier's {@linkcode ArcCache}: its values are the sizes. */
class ArcIndex implements DiskIndex {
  readonly #arc: ArcCache<string, number>;

  constructor(maxBytes: number, maxEntries: number, onEvict: (name: string) => void) {
    this.#arc = new ArcCache<string, number>({
      max: maxEntries,
      maxSize: maxBytes,
      sizeCalculation: (size) => size,
      dispose: (_size, name, reason) => {
        if (reason === "evict") onEvict(name);
      },
    });
  }

  get bytes(): number {
    return this.#arc.calculatedSize;
  }

  get entries(): number {
    return this.#arc.size;
  }

  get(name: string): number | undefined {
    return this.#arc.get(name);
  }

  has(name: string): boolean {
    return this.#arc.has(name);
  }

  set(name: string, size: number): void {
    this.#arc.set(name, size);
  }

  setFrequent(name: string, size: number): void {
    // A second request moves an entry from T1 to the most recent end of T2.
    this.#arc.set(name, size).set(name, size);
  }

  delete(name: string): boolean {
    return this.#arc.delete(name);
  }

  names(): string[] {
    return [...this.#arc.keys()];
  }

  lists(): string[][] {
    // entries() yields T1 from most to least recent, then T2 likewise.
    const t1 = this.#arc.statistics().t1;
    const all = [...this.#arc.keys()];
    return [all.slice(t1).reverse(), all.slice(0, t1).reverse()];
  }
}

/** Plain LRU over a `Map` (insertion order is recency order: first = least recent). */
class LruIndex implements DiskIndex {
  readonly #map: Map<string, number> = new Map();
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  readonly #onEvict: (name: string) => void;
  #bytes = 0;

  constructor(maxBytes: number, maxEntries: number, onEvict: (name: string) => void) {
    this.#maxBytes = maxBytes;
    this.#maxEntries = maxEntries;
    this.#onEvict = onEvict;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get entries(): number {
    return this.#map.size;
  }

  get(name: string): number | undefined {
    const size = this.#map.get(name);
    if (size !== undefined) {
      this.#map.delete(name);
      this.#map.set(name, size);
    }
    return size;
  }

  has(name: string): boolean {
    return this.#map.has(name);
  }

  set(name: string, size: number): void {
    const map = this.#map;
    const old = map.get(name);
    if (old !== undefined) {
      this.#bytes -= old;
      map.delete(name);
    }
    map.set(name, size);
    this.#bytes += size;
    if (this.#bytes <= this.#maxBytes && map.size <= this.#maxEntries) return;
    for (const [victim, victimSize] of map) {
      if (this.#bytes <= this.#maxBytes && map.size <= this.#maxEntries) break;
      if (victim === name) break; // only the new entry is left
      map.delete(victim);
      this.#bytes -= victimSize;
      this.#onEvict(victim);
    }
  }

  setFrequent(name: string, size: number): void {
    this.set(name, size);
  }

  delete(name: string): boolean {
    const size = this.#map.get(name);
    if (size === undefined) return false;
    this.#map.delete(name);
    this.#bytes -= size;
    return true;
  }

  names(): string[] {
    return [...this.#map.keys()];
  }

  lists(): string[][] {
    return [[], [...this.#map.keys()]];
  }
}
