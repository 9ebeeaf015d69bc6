/**
 * The statistics of a {@linkcode TieredCache}: its reads, and each tier's
 * and the backend's share of them.
 *
 * @module
 */

import type { PrefetchStatistics } from "./prefetch.ts";

/**
 * The memory tier's part of {@linkcode TieredCacheStatistics}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MemoryTierStatistics } from "@ipfs-kit/kit/cache";
 *
 * const tier: Pick<MemoryTierStatistics, "hits" | "misses"> = { hits: 3, misses: 1 };
 * assert.equal(tier.hits / (tier.hits + tier.misses), 0.75);
 * ```
 */
export interface MemoryTierStatistics {
  /** Reads it served. */
  readonly hits: number;
  /** Reads it did not hold. */
  readonly misses: number;
  /** Entries held. */
  readonly entries: number;
  /** Bytes held. */
  readonly bytes: number;
  /** Its byte budget. */
  readonly maxBytes: number;
  /** Entries it evicted to stay within its budget. */
  readonly evictions: number;
  /** Entries copied up from the disk tier on a disk hit (by reads and prefetches). */
  readonly promotions: number;
}

/**
 * The disk tier's part of {@linkcode TieredCacheStatistics}. Its hits and
 * misses count every lookup, by reads and by prefetches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DiskTierStatistics } from "@ipfs-kit/kit/cache";
 *
 * const tier: Pick<DiskTierStatistics, "hits" | "corrupt"> = { hits: 10, corrupt: 0 };
 * assert.equal(tier.corrupt, 0);
 * ```
 */
export interface DiskTierStatistics {
  /** Lookups that found an intact entry. */
  readonly hits: number;
  /** Lookups that found none, or a corrupt one. */
  readonly misses: number;
  /** Corrupt entries found (and removed); each also a miss. */
  readonly corrupt: number;
  /** Reads and writes that failed (other than by corruption); the backend served them. */
  readonly errors: number;
  /** Entries written (write-through and reads from the backend). */
  readonly writes: number;
  /** Entries held. */
  readonly entries: number;
  /** Bytes held, headers included. */
  readonly bytes: number;
  /** Its byte budget. */
  readonly maxBytes: number;
  /** Entries evicted to stay within its budget. */
  readonly evictions: number;
}

/**
 * The backend's part of {@linkcode TieredCacheStatistics}: the traffic the
 * tiers did not absorb.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BackendStatistics } from "@ipfs-kit/kit/cache";
 *
 * const backend: BackendStatistics = { reads: 1, bytesRead: 5, writes: 0, bytesWritten: 0 };
 * assert.equal(backend.reads, 1);
 * ```
 */
export interface BackendStatistics {
  /** Reads sent to the backend (by reads and by prefetches). */
  readonly reads: number;
  /** Bytes they returned. */
  readonly bytesRead: number;
  /** Writes (`add`, `putBlock`). */
  readonly writes: number;
  /** Bytes written by `putBlock` and by adds of known size. */
  readonly bytesWritten: number;
}

/**
 * A snapshot of a {@linkcode TieredCache}'s counters.
 *
 * Every read (`getBlock`, `cat`) ends one of four ways: served by the
 * memory tier, by the disk tier, by the backend, or by a load already in
 * flight for the same key (another read's, or a prefetch's) that it
 * `joined`. The hit ratio counts the first two.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TieredCache } from "@ipfs-kit/kit/cache";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * await using cache = await TieredCache.open(node, { prefetch: false });
 * const cid = await node.block.put(new Uint8Array([1, 2, 3]));
 * await cache.getBlock(cid);
 * await cache.getBlock(cid);
 * const stats = cache.statistics();
 * assert(stats.reads === 2 && stats.fromBackend === 1 && stats.fromMemory === 1);
 * assert.equal(stats.hitRatio, 0.5);
 * ```
 */
export interface TieredCacheStatistics {
  /** `getBlock` and `cat` calls. */
  readonly reads: number;
  /** Reads served by the memory or the disk tier. */
  readonly hits: number;
  /** `hits / reads`; 0 before any read. */
  readonly hitRatio: number;
  /** Reads served by the memory tier. */
  readonly fromMemory: number;
  /** Reads served by the disk tier. */
  readonly fromDisk: number;
  /** Reads that went to the backend. */
  readonly fromBackend: number;
  /** Reads that waited for a load already in flight for the same key. */
  readonly joined: number;
  /** `cat` reads of files over the stream threshold. */
  readonly streamed: number;
  /** Bytes those reads returned. */
  readonly streamedBytes: number;
  /** The memory tier. */
  readonly memory: MemoryTierStatistics;
  /** The disk tier; `undefined` when there is none. */
  readonly disk: DiskTierStatistics | undefined;
  /** The backend. */
  readonly backend: BackendStatistics;
  /** The prefetcher; `undefined` when prefetch is off. */
  readonly prefetch: PrefetchStatistics | undefined;
}
