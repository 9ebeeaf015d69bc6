/**
 * Caches for IPFS content. So far: {@linkcode ArcCache}, an exact Adaptive
 * Replacement Cache (Megiddo and Modha, FAST 2003) bounded by entries and
 * bytes, with a single-flight `fetch`.
 *
 * @example
 * ```ts
 * import { ArcCache } from "@ipfs-kit/kit/cache";
 *
 * const cache = new ArcCache<string, Uint8Array>({ max: 1_000 });
 * cache.set("a", new Uint8Array(3));
 * console.assert(cache.get("a")?.length === 3);
 * ```
 *
 * @module
 */

export * from "./arc_cache.ts";
