/**
 * The tiered cache over a content store: memory, then disk, then the
 * backend, with promotion, write-through, streaming of large files and
 * predictive prefetch.
 *
 * @module
 */

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { ClosedResourceError } from "../runtime/errors.ts";
import type {
  AddInput,
  AddOptions,
  AddResult,
  BlockPutOptions,
  CatOptions,
  CID,
  CidLike,
  ContentStore,
  SignalOptions,
} from "../ipfs/content_store.ts";
import { InvalidInputError } from "../ipfs/errors.ts";
import { ArcCache } from "./arc_cache.ts";
import { DiskCache, type DiskCachePolicy } from "./disk_cache.ts";
import { CorruptEntryError } from "./errors.ts";
import { Prefetcher, type PrefetcherOptions } from "./prefetch.ts";
import type { TieredCacheStatistics } from "./tiered_cache_statistics.ts";
import { dagLinks } from "./_dag_links.ts";
import { DiskTier } from "./_disk_tier.ts";
import { operationStream } from "./_operation_stream.ts";
import { OperationTracker } from "./_operation_tracker.ts";
import {
  BLOCK,
  blockKey,
  cidOfBlockKey,
  objectPath,
  pathOfObjectKey,
  sameBytesKeys,
} from "./_tiered_keys.ts";
import { copies, range, readUpTo, Tap, teeInto } from "./_tiered_stream.ts";
import { parseCid } from "../ipfs/parse_cid.ts";

const MiB = 1024 * 1024;
/** The default size above which a file is streamed. */
const DEFAULT_THRESHOLD = MiB;
/** The default byte budget of the memory tier. */
const DEFAULT_MEMORY_BYTES = 64 * MiB;
/** The default entry limit of the memory tier. */
const DEFAULT_MEMORY_ENTRIES = 4_096;
/** How many files known to be over the threshold are remembered. */
const LARGE_KEYS = 4_096;

/**
 * Options for {@linkcode TieredCache.open}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TieredCacheOptions } from "@ipfs-kit/kit/cache";
 *
 * const options: TieredCacheOptions = {
 *   memory: { maxBytes: 256 * 1024 * 1024 },
 *   disk: { directory: "/var/cache/ipfs-kit", maxBytes: 8 * 1024 ** 3 },
 *   streamThreshold: 4 * 1024 * 1024,
 *   prefetch: { concurrency: 8 },
 * };
 * assert.equal(options.streamThreshold, 4194304);
 * ```
 */
export interface TieredCacheOptions {
  /**
   * The memory tier, an {@linkcode ArcCache} of whole blocks and files:
   * `maxBytes` (default 64 MiB) and `maxEntries` (default 4,096).
   */
  memory?: { maxBytes?: number; maxEntries?: number };
  /**
   * The disk tier, a {@linkcode DiskCache} the tiered cache opens in
   * `directory` and closes with itself. Leave it out for no disk tier.
   */
  disk?: {
    /** The cache directory, a path or a `file:` URL. */
    directory: string | URL;
    /** Its byte budget. */
    maxBytes: number;
    /** Its entry limit. Default: one per 16 KiB of `maxBytes`. */
    maxEntries?: number;
    /** Its replacement policy. Default `"arc"`. */
    policy?: DiskCachePolicy;
  };
  /**
   * Files larger than this many bytes are streamed: never held whole in
   * memory, cached on disk only. Default 1 MiB (the largest block). Also
   * the largest entry of the memory tier.
   */
  streamThreshold?: number;
  /** Options of the {@linkcode Prefetcher}, or `false` for none. Default: on. */
  prefetch?: PrefetcherOptions | false;
  /** Stops opening: `open` then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode TieredCache.tierOf}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TierOfOptions } from "@ipfs-kit/kit/cache";
 *
 * const options: TierOfOptions = { block: true };
 * assert.equal(options.block, true);
 * ```
 */
export interface TierOfOptions {
  /** Look for the raw block of a CID instead of the file `cat` reads. Default `false`. */
  block?: boolean;
}

/** Where a load found its bytes. */
type Source = "disk" | "backend";

/** Thrown by a file's load when it is over the threshold. */
class TooLarge extends Error {
  /** Whether the disk tier holds it. */
  readonly onDisk: boolean;

  constructor(onDisk: boolean) {
    super("Cannot cache file in memory: it exceeds the stream threshold");
    this.name = "TooLarge";
    this.onDisk = onDisk;
  }
}

/** The options of a tiered cache, checked, with their defaults. */
interface Settings {
  /** The disk tier, opened. */
  disk: DiskCache | undefined;
  /** Files larger than this are streamed. */
  threshold: number;
  /** The memory tier's byte budget. */
  memoryBytes: number;
  /** The memory tier's entry limit. */
  memoryEntries: number;
  /** The prefetcher's options, or `false` for none. */
  prefetch: PrefetcherOptions | false;
}

/**
 * A read-through, write-through cache in three tiers over a
 * {@linkcode ContentStore}: memory (an {@linkcode ArcCache} bounded in
 * bytes), then disk (a {@linkcode DiskCache}), then the backend.
 *
 * **What is cached.** Two kinds of entries, both named by immutable
 * content: raw blocks by CID ({@linkcode TieredCache.getBlock},
 * {@linkcode TieredCache.putBlock}), and whole UnixFS files by CID or path
 * ({@linkcode TieredCache.cat}, {@linkcode TieredCache.add}).
 *
 * **Reads.** A read looks in memory, then on disk, then asks the backend.
 * A disk hit is promoted into memory; bytes from the backend are written
 * to disk (and kept in memory). Concurrent misses of one key share one load
 * (single flight), and a read that finds a prefetch in flight joins it. A
 * corrupt disk entry (checked on every read) is removed and the backend
 * serves the read.
 *
 * **Large files.** A file over `streamThreshold` bytes is never held whole
 * in memory: the first read streams it from the backend to the reader and,
 * in lockstep, into the disk tier (one chunk in hand at a time); later
 * reads stream it from disk. A byte range of a large file that is not on
 * disk is read from the backend and not cached. A large file's disk entry
 * is checked when it is read to its end: if it turns out corrupt, the
 * stream errors with {@linkcode CorruptEntryError} (the bytes were already
 * handed over) and the entry is removed, so the next read goes to the
 * backend. A file's size is learnt by reading it: the first read of a large
 * file reads `streamThreshold` bytes before switching to streaming.
 *
 * **Writes** go to the backend first, then to the tiers (write-through):
 * `putBlock`'s block, and `add`'s file when it is up to `streamThreshold`
 * (or larger but re-readable: bytes, a string or a `Blob`). A stream or
 * iterable over the threshold is added to the backend only.
 *
 * **Prefetch.** Every read is reported to a {@linkcode Prefetcher}, which
 * learns successor sequences and the DAG structure of the dag-pb blocks
 * read, and loads what it predicts into the memory tier in the background.
 *
 * **Lifetime.** The tiered cache does not own the store: close the store
 * after the cache. {@linkcode TieredCache.close} stops the prefetcher, ends
 * open streams, waits for the operations in progress and closes the disk
 * tier.
 *
 * Every method takes a `signal` and runs under the runtime's cancel scopes;
 * returned bytes are copies the caller may keep and change.
 *
 * @example Read-through, with a disk tier
 * ```ts
 * import assert from "node:assert/strict";
 * import { TieredCache } from "@ipfs-kit/kit/cache";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add("hello world\n");
 * await using cache = await TieredCache.open(node, {
 *   disk: { directory: await Deno.makeTempDir(), maxBytes: 64 * 1024 * 1024 },
 * });
 * assert.equal(await new Response(cache.cat(cid)).text(), "hello world\n"); // backend
 * assert.equal(await new Response(cache.cat(cid)).text(), "hello world\n"); // memory
 * const { fromBackend, fromMemory, disk } = cache.statistics();
 * assert(fromBackend === 1 && fromMemory === 1 && disk?.entries === 1);
 * ```
 *
 * @example Write-through
 * ```ts
 * import assert from "node:assert/strict";
 * import { TieredCache } from "@ipfs-kit/kit/cache";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * await using cache = await TieredCache.open(node);
 * const cid = await cache.putBlock(new TextEncoder().encode("block"));
 * assert.equal(cache.tierOf(cid, { block: true }), "memory");
 * assert.equal((await cache.getBlock(cid)).length, 5);
 * assert.equal(cache.statistics().backend.reads, 0);
 * ```
 */
export class TieredCache implements AsyncDisposable {
  readonly #store: ContentStore;
  readonly #memory: ArcCache<string, Uint8Array>;
  readonly #disk: DiskTier;
  readonly #threshold: number;
  /** The largest entry the memory tier takes. */
  readonly #memoryEntryMax: number;
  readonly #prefetcher: Prefetcher | undefined;
  /** Files known to be over the threshold. */
  readonly #large: ArcCache<string, true> = new ArcCache({ max: LARGE_KEYS });
  /** Keys whose load (from disk or the backend) is running. */
  readonly #loading: Set<string> = new Set();
  /** Operations and open `cat` streams: `close` ends or waits for them. */
  readonly #tracker: OperationTracker = new OperationTracker();
  #reads = 0;
  #fromMemory = 0;
  #fromDisk = 0;
  #fromBackend = 0;
  #joined = 0;
  #streamed = 0;
  #streamedBytes = 0;
  #memoryMisses = 0;
  #memoryEvictions = 0;
  #promotions = 0;
  #backendReads = 0;
  #backendBytesRead = 0;
  #backendWrites = 0;
  #backendBytesWritten = 0;

  /**
   * Use {@linkcode TieredCache.open}.
   *
   * @ignore
   */
  private constructor(store: ContentStore, settings: Settings) {
    const { threshold, memoryBytes, memoryEntries, prefetch } = settings;
    this.#store = store;
    this.#disk = new DiskTier(settings.disk);
    this.#threshold = threshold;
    this.#memoryEntryMax = Math.min(threshold, memoryBytes);
    this.#memory = new ArcCache<string, Uint8Array>({
      max: memoryEntries,
      maxSize: memoryBytes,
      maxEntrySize: threshold,
      sizeCalculation: (value) => value.byteLength,
      dispose: (_value, key, reason) => {
        if (reason !== "evict") return;
        this.#memoryEvictions++;
        this.#prefetcher?.evicted(key);
      },
    });
    this.#prefetcher = prefetch === false ? undefined : new Prefetcher({
      has: (key) => this.#memory.has(key) || this.#loading.has(key) || this.#large.has(key),
      load: (key, { signal }) => this.#prefetchLoad(key, signal),
    }, prefetch);
  }

  /**
   * Opens a tiered cache over `store`: creates the memory tier, opens the
   * disk tier (when `disk` is given) and starts the prefetcher in the
   * current cancel scope.
   *
   * @param store The backend; the cache does not close it.
   * @param options The tiers, the stream threshold, prefetch, a signal.
   * @returns The cache; close it with `close()` or `await using`.
   * @throws {RangeError} An option is out of range.
   * @throws {Error} The disk tier's directory is in use.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TieredCache } from "@ipfs-kit/kit/cache";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * await using cache = await TieredCache.open(node, { memory: { maxBytes: 1 << 20 } });
   * assert.equal(cache.statistics().memory.maxBytes, 1048576);
   * ```
   */
  static async open(store: ContentStore, options?: TieredCacheOptions): Promise<TieredCache> {
    const { streamThreshold, memory, disk: diskOptions, signal } = options ?? {};
    if (
      store === null || typeof store !== "object" || typeof store.cat !== "function" ||
      typeof store.block?.get !== "function"
    ) {
      throw new TypeError("Cannot open tiered cache: store must be a ContentStore");
    }
    const threshold = positive(streamThreshold, DEFAULT_THRESHOLD, "streamThreshold");
    const memoryBytes = positive(memory?.maxBytes, DEFAULT_MEMORY_BYTES, "memory.maxBytes");
    const memoryEntries = positive(memory?.maxEntries, DEFAULT_MEMORY_ENTRIES, "memory.maxEntries");
    const prefetch = options?.prefetch ?? {};
    let disk: DiskCache | undefined;
    if (diskOptions !== undefined) {
      const { directory, maxBytes, maxEntries, policy } = diskOptions;
      disk = await DiskCache.open(directory, {
        maxBytes,
        ...(maxEntries === undefined ? {} : { maxEntries }),
        ...(policy === undefined ? {} : { policy }),
        ...(signal === undefined ? {} : { signal }),
      });
    } else signal?.throwIfAborted();
    try {
      return new TieredCache(store, { disk, threshold, memoryBytes, memoryEntries, prefetch });
    } catch (error) {
      await disk?.close();
      throw error;
    }
  }

  /** The backend. */
  get store(): ContentStore {
    return this.#store;
  }

  /** Files larger than this many bytes are streamed. */
  get streamThreshold(): number {
    return this.#threshold;
  }

  /** The prefetcher, or `undefined` when prefetch is off. */
  get prefetcher(): Prefetcher | undefined {
    return this.#prefetcher;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#tracker.closed;
  }

  /**
   * Reads a raw block: from memory, else from disk (promoted into memory),
   * else from the backend (then written to disk and kept in memory).
   *
   * @param cid The block's CID.
   * @param options A `signal` to cancel the read.
   * @returns A copy of the block's bytes.
   * @throws {InvalidCidError} `cid` is not a CID.
   * @throws {NotFoundError} The backend does not have the block.
   * @throws {ClosedResourceError} The cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TieredCache } from "@ipfs-kit/kit/cache";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * await using cache = await TieredCache.open(node);
   * const cid = await node.block.put(new Uint8Array([7]));
   * assert.equal((await cache.getBlock(cid))[0], 7);
   * ```
   */
  getBlock(cid: CidLike, options?: SignalOptions): Promise<Uint8Array> {
    return this.#operation("get block", options?.signal, async () => {
      const parsed = parseCid(cid, "get block");
      const key = blockKey(parsed);
      this.#reads++;
      this.#prefetcher?.record(key);
      const cached = this.#memory.get(key);
      if (cached !== undefined) {
        this.#fromMemory++;
        this.#observe(key, parsed, cached);
        return cached.slice();
      }
      this.#memoryMisses++;
      let source: Source | undefined;
      const bytes = await this.#memory.fetch(key, async (_key, { signal }) => {
        const loaded = await this.#loadBlock(key, parsed, signal);
        source = loaded.source;
        return loaded.bytes;
      });
      this.#count(source);
      return bytes.slice();
    });
  }

  /**
   * Stores a raw block in the backend, then in both tiers (write-through).
   *
   * @param bytes The block.
   * @param options The backend's block options and a `signal`.
   * @returns The block's CID, as the backend gives it.
   * @throws {RangeError} The block is larger than the backend allows.
   * @throws {ClosedResourceError} The cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TieredCache } from "@ipfs-kit/kit/cache";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * await using cache = await TieredCache.open(node);
   * const cid = await cache.putBlock(new Uint8Array([1, 2]));
   * assert(await node.block.has(cid));
   * ```
   */
  putBlock(bytes: Uint8Array, options?: BlockPutOptions): Promise<CID> {
    return this.#operation("put block", options?.signal, async () => {
      const cid = await this.#store.block.put(bytes, options);
      this.#backendWrites++;
      this.#backendBytesWritten += bytes.byteLength;
      const key = blockKey(cid);
      const copy = bytes.slice();
      this.#memory.set(key, copy);
      await this.#disk.set(key, copy);
      return cid;
    });
  }

  /**
   * Adds a file to the backend, then caches it (write-through): in both
   * tiers when it is up to `streamThreshold` bytes; on disk only when it is
   * larger and given as bytes, a string or a `Blob`; not at all when it is a
   * larger stream or iterable (it would have to be held or read again).
   *
   * @param input The content.
   * @param options The backend's add options and a `signal`.
   * @returns The backend's result.
   * @throws {ClosedResourceError} The cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TieredCache } from "@ipfs-kit/kit/cache";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * await using cache = await TieredCache.open(node);
   * const { cid } = await cache.add("cached on the way in");
   * assert.equal(cache.tierOf(cid), "memory");
   * ```
   */
  add(input: AddInput, options?: AddOptions): Promise<AddResult> {
    return this.#operation("add", options?.signal, async () => {
      const threshold = this.#threshold;
      let content: AddInput = input;
      let small: Uint8Array | undefined;
      let large: Uint8Array | Blob | undefined;
      let tapped: Tap | undefined;
      let written = 0;
      if (typeof input === "string") {
        const bytes = new TextEncoder().encode(input);
        content = bytes;
        written = bytes.byteLength;
        if (bytes.byteLength <= threshold) small = bytes;
        else large = bytes;
      } else if (input instanceof Uint8Array) {
        written = input.byteLength;
        if (input.byteLength <= threshold) small = input.slice();
        else large = input;
      } else if (input instanceof Blob) {
        written = input.size;
        if (input.size <= threshold) {
          small = new Uint8Array(await input.arrayBuffer());
          content = small;
        } else large = input;
      } else if (input instanceof ReadableStream) {
        // Stay a stream, so the store's cancellation reaches the source.
        tapped = new Tap(threshold);
        content = input.pipeThrough(tapped.transform());
      } else if (input !== null && typeof input === "object") {
        tapped = new Tap(threshold);
        content = tapped.wrap(input as AsyncIterable<Uint8Array> | Iterable<Uint8Array>);
      }
      const result = await this.#store.add(content, options);
      this.#backendWrites++;
      this.#backendBytesWritten += written;
      small ??= tapped?.bytes();
      const key = objectPath(result.cid, "add").key;
      if (small !== undefined) {
        this.#memory.set(key, small);
        await this.#disk.set(key, small);
      } else if (large !== undefined && this.#disk.present) {
        this.#large.set(key, true);
        await this.#disk.set(key, large instanceof Blob ? large.stream() : large);
      }
      return result;
    });
  }

  /**
   * Streams a file's bytes (as {@linkcode ContentStore.cat}) through the
   * tiers: from memory, else from disk, else from the backend. A file up to
   * `streamThreshold` bytes is loaded whole and cached in both tiers; a
   * larger one is streamed and cached on disk only (see the class doc).
   * Errors (a missing block, a directory) surface on the stream; bad
   * options throw at once. Read the stream to its end or cancel it. The
   * stream ends (with an error) when `signal` aborts or the cancel scope it
   * was opened in is cancelled, once its files and partial entries are
   * cleaned up.
   *
   * @param path A CID, or a CID or `/ipfs/` path with names below it.
   * @param options A byte range (`offset`, `length`) and a `signal`.
   * @returns The bytes.
   * @throws {InvalidInputError} `offset` or `length` is not a non-negative integer.
   * @throws {ClosedResourceError} The cache is closed.
   *
   * @example A range
   * ```ts
   * import assert from "node:assert/strict";
   * import { TieredCache } from "@ipfs-kit/kit/cache";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * await using cache = await TieredCache.open(node);
   * const { cid } = await node.add("0123456789");
   * const text = await new Response(cache.cat(cid, { offset: 2, length: 3 })).text();
   * assert.equal(text, "234");
   * ```
   */
  cat(path: CidLike, options?: CatOptions): ReadableStream<Uint8Array> {
    this.#tracker.check("cat");
    const offset = checkCount(options?.offset ?? 0, "offset");
    const length = options?.length === undefined ? undefined : checkCount(options.length, "length");
    return operationStream({
      tracker: this.#tracker,
      what: "cat",
      signal: options?.signal,
      chunks: (signal) => this.#chunks(path, offset, length, signal),
    });
  }

  /**
   * Which tier holds a file (or, with `block`, a raw block) now, without
   * reading it or counting anything.
   *
   * @param path A CID or path (a CID with `block`).
   * @param options `block` to look for the raw block.
   * @returns `"memory"`, `"disk"` or `undefined`.
   * @throws {InvalidCidError} `path` does not start with a CID.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TieredCache } from "@ipfs-kit/kit/cache";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * await using cache = await TieredCache.open(node);
   * const { cid } = await node.add("x");
   * assert.equal(cache.tierOf(cid), undefined);
   * ```
   */
  tierOf(path: CidLike, options?: TierOfOptions): "memory" | "disk" | undefined {
    const key = options?.block
      ? blockKey(parseCid(path, "look up block"))
      : objectPath(path, "look up file").key;
    if (this.#memory.has(key)) return "memory";
    if (this.#disk.has(key)) return "disk";
    return undefined;
  }

  /**
   * Removes a file (for a CID: also its raw block) from both tiers, for
   * example after the backend dropped it. For a CID, the entries of the
   * CIDs with the same multihash under the raw and dag-pb codecs go too (the
   * same bytes: garbage collection reports removed blocks as raw CIDs).
   *
   * @param path A CID or path.
   * @param options A `signal` to cancel the removal.
   * @returns Whether a tier held anything.
   * @throws {ClosedResourceError} The cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TieredCache } from "@ipfs-kit/kit/cache";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * await using cache = await TieredCache.open(node);
   * const { cid } = await cache.add("soon gone");
   * assert(await cache.evict(cid) && cache.tierOf(cid) === undefined);
   * ```
   */
  evict(path: CidLike, options?: SignalOptions): Promise<boolean> {
    return this.#operation("evict", options?.signal, async () => {
      const { path: canonical, key } = objectPath(path, "evict");
      const keys = [key];
      if (!canonical.includes("/")) keys.push(...sameBytesKeys(parseCid(canonical, "evict")));
      let removed = false;
      for (const each of keys) {
        this.#large.delete(each);
        if (this.#memory.delete(each)) removed = true;
        if (await this.#disk.delete(each)) removed = true;
      }
      return removed;
    });
  }

  /**
   * A snapshot of the counters of every tier and of the prefetcher.
   *
   * @returns The statistics.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TieredCache } from "@ipfs-kit/kit/cache";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * await using cache = await TieredCache.open(node);
   * const stats = cache.statistics();
   * assert(stats.reads === 0 && stats.disk === undefined && stats.prefetch !== undefined);
   * ```
   */
  statistics(): TieredCacheStatistics {
    const memory = this.#memory;
    const hits = this.#fromMemory + this.#fromDisk;
    return {
      reads: this.#reads,
      hits,
      hitRatio: this.#reads === 0 ? 0 : hits / this.#reads,
      fromMemory: this.#fromMemory,
      fromDisk: this.#fromDisk,
      fromBackend: this.#fromBackend,
      joined: this.#joined,
      streamed: this.#streamed,
      streamedBytes: this.#streamedBytes,
      memory: {
        hits: this.#fromMemory,
        misses: this.#memoryMisses,
        entries: memory.size,
        bytes: memory.calculatedSize,
        maxBytes: memory.maxSize,
        evictions: this.#memoryEvictions,
        promotions: this.#promotions,
      },
      disk: this.#disk.statistics(),
      backend: {
        reads: this.#backendReads,
        bytesRead: this.#backendBytesRead,
        writes: this.#backendWrites,
        bytesWritten: this.#backendBytesWritten,
      },
      prefetch: this.#prefetcher?.statistics(),
    };
  }

  /**
   * Closes the cache: stops the prefetcher (cancelling its loads), ends
   * open `cat` streams with {@linkcode ClosedResourceError}, waits for the
   * operations in progress and closes the disk tier. The store is left
   * open. Idempotent.
   *
   * @returns A promise that settles when closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TieredCache } from "@ipfs-kit/kit/cache";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const cache = await TieredCache.open(node);
   * await cache.close();
   * assert(cache.closed && !node.closed);
   * ```
   */
  close(): Promise<void> {
    return this.#tracker.close(() => this.#close());
  }

  /** Closes the cache: see {@linkcode TieredCache.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    try {
      await this.#prefetcher?.close();
    } finally {
      try {
        await this.#tracker.drain(
          new ClosedResourceError("Cannot read cached file: the cache is closed"),
        );
      } finally {
        await this.#disk.close();
      }
    }
  }

  /** Runs an operation: checks the state, counts it as in progress, binds the signal. */
  #operation<T>(what: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      this.#tracker.check(what);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#tracker.run(signal, fn);
  }

  #count(source: Source | undefined): void {
    if (source === undefined) this.#joined++;
    else if (source === "disk") this.#fromDisk++;
    else this.#fromBackend++;
  }

  /** Loads a block from disk or the backend, for the memory tier's `fetch`. */
  async #loadBlock(
    key: string,
    cid: CID,
    signal: AbortSignal,
  ): Promise<{ bytes: Uint8Array; source: Source }> {
    this.#loading.add(key);
    try {
      const cached = await this.#disk.get(key, signal);
      if (cached !== undefined) {
        if (cached.byteLength <= this.#memoryEntryMax) this.#promotions++;
        this.#observe(key, cid, cached);
        return { bytes: cached, source: "disk" };
      }
      const bytes = await this.#store.block.get(cid, { signal });
      this.#backendReads++;
      this.#backendBytesRead += bytes.byteLength;
      await this.#disk.set(key, bytes, signal);
      this.#observe(key, cid, bytes);
      return { bytes, source: "backend" };
    } finally {
      this.#loading.delete(key);
    }
  }

  /**
   * Loads a whole file up to the threshold from disk or the backend, for
   * the memory tier's `fetch`; throws `TooLarge` for a larger one.
   */
  async #loadObject(
    key: string,
    path: string,
    signal: AbortSignal,
  ): Promise<{ bytes: Uint8Array; source: Source }> {
    this.#loading.add(key);
    try {
      const stream = await this.#disk.getStream(key, signal);
      if (stream !== undefined) {
        let bytes: Uint8Array | undefined | null;
        try {
          bytes = await readUpTo(stream, this.#threshold);
        } catch (error) {
          // A corrupt entry was removed (and counted) by the disk tier: the backend serves it.
          if (!(error instanceof CorruptEntryError)) this.#disk.failed(error, signal);
          bytes = null;
        }
        if (bytes === undefined) throw new TooLarge(true);
        if (bytes !== null) {
          if (bytes.byteLength <= this.#memoryEntryMax) this.#promotions++;
          return { bytes, source: "disk" };
        }
      }
      const bytes = await readUpTo(this.#store.cat(path, { signal }), this.#threshold);
      this.#backendReads++;
      if (bytes === undefined) throw new TooLarge(false);
      this.#backendBytesRead += bytes.byteLength;
      await this.#disk.set(key, bytes, signal);
      return { bytes, source: "backend" };
    } finally {
      this.#loading.delete(key);
    }
  }

  /** A prefetch: loads `key` into the memory tier unless it is there or loading. */
  async #prefetchLoad(key: string, signal: AbortSignal): Promise<number | undefined> {
    if (this.#tracker.closed || this.#memory.has(key) || this.#loading.has(key)) {
      return undefined;
    }
    let bytes: Uint8Array;
    if (key.startsWith(BLOCK)) {
      const cid = cidOfBlockKey(key);
      bytes = await this.#memory.fetch(
        key,
        async (_key, options) => (await this.#loadBlock(key, cid, options.signal)).bytes,
        { signal },
      );
    } else {
      if (this.#large.has(key)) return undefined;
      const path = pathOfObjectKey(key);
      try {
        bytes = await this.#memory.fetch(
          key,
          async (_key, options) => (await this.#loadObject(key, path, options.signal)).bytes,
          { signal },
        );
      } catch (error) {
        if (!(error instanceof TooLarge)) throw error;
        this.#large.set(key, true);
        return undefined;
      }
    }
    return this.#memory.has(key) ? bytes.byteLength : undefined;
  }

  /** The chunks of a `cat`, from whichever tier has the file. */
  async *#chunks(
    path: CidLike,
    offset: number,
    length: number | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<Uint8Array, void, undefined> {
    const { path: canonical, key } = objectPath(path, "cat");
    const end = length === undefined ? Infinity : offset + length;
    this.#reads++;
    this.#prefetcher?.record(key);
    const cached = this.#memory.get(key);
    if (cached !== undefined) {
      this.#fromMemory++;
      yield* copies(cached, offset, end);
      return;
    }
    this.#memoryMisses++;
    let onDisk = true;
    if (!this.#large.has(key)) {
      let source: Source | undefined;
      let bytes: Uint8Array | undefined;
      try {
        bytes = await this.#memory.fetch(key, async (_key, options) => {
          const loaded = await this.#loadObject(key, canonical, options.signal);
          source = loaded.source;
          return loaded.bytes;
        }, { signal });
      } catch (error) {
        if (!(error instanceof TooLarge)) throw error;
        this.#large.set(key, true);
        onDisk = error.onDisk;
      }
      if (bytes !== undefined) {
        this.#count(source);
        yield* copies(bytes, offset, end);
        return;
      }
    }
    this.#streamed++;
    if (onDisk) {
      const stream = await this.#disk.getStream(key, signal);
      if (stream !== undefined) {
        this.#fromDisk++;
        for await (const chunk of range(stream, offset, end)) {
          this.#streamedBytes += chunk.byteLength;
          yield chunk;
        }
        return;
      }
    }
    this.#fromBackend++;
    this.#backendReads++;
    const whole = offset === 0 && length === undefined && this.#disk.present;
    const chunks = whole
      ? teeInto(this.#store.cat(canonical, { signal }), (branch) => this.#disk.set(key, branch))
      : range(this.#store.cat(canonical, { offset, length, signal }), 0, Infinity);
    for await (const chunk of chunks) {
      this.#streamedBytes += chunk.byteLength;
      this.#backendBytesRead += chunk.byteLength;
      yield chunk;
    }
  }

  /** Tells the prefetcher a dag-pb block's links, once per block. */
  #observe(key: string, cid: CID, bytes: Uint8Array): void {
    const prefetcher = this.#prefetcher;
    if (prefetcher === undefined || cid.code !== dagPb.code || prefetcher.knowsLinks(key)) return;
    const { links, kind } = dagLinks(bytes);
    prefetcher.observeLinks(key, links, kind);
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result < 1) {
    throw new RangeError(
      `Cannot open tiered cache: ${name} must be a positive integer: received ${String(value)}`,
    );
  }
  return result;
}

function checkCount(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(
      `Cannot cat: ${name} must be a non-negative integer: received ${String(value)}`,
    );
  }
  return value;
}
