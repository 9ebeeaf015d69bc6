/**
 * The kit layer that routes reads through a {@linkcode TieredCache}.
 *
 * @module
 */

import type {
  AddInput,
  AddOptions,
  AddResult,
  BlockApi,
  CatOptions,
  CidLike,
  ContentStore,
  RepoApi,
} from "../ipfs/content_store.ts";
import { ForwardingStore } from "../ipfs/forwarding_store.ts";
import type { TieredCache } from "./tiered_cache.ts";

/**
 * A store whose reads (`cat`, `block.get`) and writes (`add`, `block.put`)
 * go through a {@linkcode TieredCache}, and whose removals (`block.rm`, `gc`)
 * evict from it. `Kit.open` puts one right above the backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CachedStore, TieredCache } from "@ipfs-kit/kit/cache";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * const node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const cache = await TieredCache.open(node, { prefetch: false });
 * await using store = new CachedStore(node, cache);
 * const { cid } = await store.add("cached");
 * assert.equal(await new Response(store.cat(cid)).text(), "cached");
 * ```
 */
export class CachedStore extends ForwardingStore {
  /** The cache every read goes through. */
  readonly cache: TieredCache;
  /** Raw blocks: `get` and `put` through the cache, `rm` evicts. */
  override readonly block: BlockApi;
  /** Garbage collection evicts what it removed. */
  override readonly repo: RepoApi;

  /**
   * Creates the layer.
   *
   * @param below The store under the cache (the one the cache was opened on).
   * @param cache The cache; closed with this store.
   */
  constructor(below: ContentStore, cache: TieredCache) {
    super(below);
    this.cache = cache;
    this.block = {
      get: (cid, options) => cache.getBlock(cid, options),
      put: (bytes, options) => cache.putBlock(bytes, options),
      has: (cid, options) => below.block.has(cid, options),
      stat: (cid, options) => below.block.stat(cid, options),
      rm: async (cid, options) => {
        await below.block.rm(cid, options);
        await cache.evict(cid);
      },
    };
    this.repo = {
      stat: (options) => below.repo.stat(options),
      gc: async (options) => {
        const removed = await below.repo.gc(options);
        for (const cid of removed) await cache.evict(cid);
        return removed;
      },
    };
  }

  /**
   * Adds a file through the cache (write-through). Other iterables than Web
   * streams go straight to the store below: a pending `next()` of an
   * iterator cannot be interrupted, and the store below handles that case.
   */
  override add(input: AddInput, options?: AddOptions): Promise<AddResult> {
    if (
      typeof input === "string" || input instanceof Uint8Array || input instanceof Blob ||
      input instanceof ReadableStream
    ) {
      return this.cache.add(input, options);
    }
    return super.add(input, options);
  }

  /** Streams a file through the cache. */
  override cat(path: CidLike, options?: CatOptions): ReadableStream<Uint8Array> {
    return this.cache.cat(path, options);
  }

  /** Closes the cache, then the store below. */
  override async close(): Promise<void> {
    try {
      await this.cache.close();
    } finally {
      await super.close();
    }
  }
}
