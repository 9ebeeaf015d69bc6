/**
 * Caches for IPFS content:
 * - {@linkcode ArcCache}: the memory tier, an exact Adaptive Replacement
 *   Cache (Megiddo and Modha, FAST 2003) bounded by entries and bytes, with a
 *   single-flight `fetch`.
 * - {@linkcode DiskCache}: the disk tier, content-addressed files written
 *   atomically, checked on read, evicted by ARC within a byte budget.
 * - {@linkcode TieredCache}: memory, then disk, then a content store;
 *   promotion, write-through, large files streamed (never whole in memory),
 *   statistics per tier.
 * - {@linkcode Prefetcher}: learns read sequences (Markov successors, DAG
 *   structure) and reads ahead in a bounded task group; throttles itself when
 *   its accuracy falls.
 * - {@linkcode CachedStore}: the layer that routes a `Kit`'s reads through a
 *   tiered cache.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArcCache } from "@ipfs-kit/kit/cache";
 *
 * const cache = new ArcCache<string, Uint8Array>({ max: 1_000 });
 * cache.set("a", new Uint8Array(3));
 * assert(cache.get("a")?.length === 3);
 * ```
 *
 * @module
 */

export * from "./arc_cache.ts";
export * from "./disk_cache.ts";
export * from "./tiered_cache.ts";
export * from "./tiered_cache_statistics.ts";
export * from "./prefetch.ts";
export * from "./cache_layer.ts";
export * from "./errors.ts";
