/**
 * The disk tier of the cache: content-addressed entry files in a sharded
 * directory, written atomically, checked on every read, bounded by a byte
 * budget with ARC (or LRU) replacement.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpoint, checkpointIfCancelled } from "../runtime/checkpoint.ts";
import { ClosedResourceError } from "../runtime/errors.ts";
import { Lock } from "../runtime/lock.ts";
import {
  checkWritable,
  ensureDirectory,
  lockDirectory,
  toDirectoryError,
} from "../runtime/directory.ts";
import { withSignal } from "../runtime/timeouts.ts";
import type { SignalOptions } from "../ipfs/content_store.ts";
import { DiskDirectory } from "./_disk_directory.ts";
import { HEADER_SIZE, type KeyInfo, keyInfo } from "./_disk_format.ts";
import { createIndex, type DiskCachePolicy, type DiskIndex, restoreIndex } from "./_disk_index.ts";
import {
  type EntryHeader,
  type EntryRead,
  entryStream,
  readEntry,
  readEntryHeader,
  writeEntry,
} from "./_entry_file.ts";
import { removeIfPresent } from "./_file_io.ts";
import { NameLocks } from "./_name_locks.ts";
import { OperationTracker } from "./_operation_tracker.ts";

export type { DiskCachePolicy } from "./_disk_index.ts";

/** A recency snapshot is written after this many index changes, or `entries` if more. */
const SNAPSHOT_EVERY = 4096;
/** The default `maxEntries` is one per this many bytes of `maxBytes`. */
const BYTES_PER_ENTRY = 16 * 1024;
/** The key of the operations that take none (`clear`, `flush`). */
const NO_KEY: KeyInfo = { bytes: new Uint8Array(0), name: "" };

/** The options of an open cache, checked, with their defaults. */
type Settings = Required<Omit<DiskCacheOptions, "signal">>;

/** A cache directory, and its lock file held open. */
interface OpenedDirectory {
  directory: DiskDirectory;
  lockFile: Deno.FsFile;
}

/**
 * Options for {@linkcode DiskCache.open}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DiskCacheOptions } from "@ipfs-kit/kit/cache";
 *
 * const options: DiskCacheOptions = { maxBytes: 1 << 30, policy: "arc" };
 * assert.equal(options.maxBytes, 1073741824);
 * ```
 */
export interface DiskCacheOptions {
  /**
   * The byte budget: the most the entry files (headers included) may add up
   * to. Required, a positive safe integer.
   */
  maxBytes: number;
  /**
   * The most entries, which also bounds the keys ARC remembers after evicting
   * them (its ghost lists). Default: one per 16 KiB of `maxBytes`, at least
   * 64. Set it near `maxBytes` divided by a typical entry size: ARC's hit
   * ratio is best there. Memory: about 180 bytes per key, and ARC remembers
   * up to twice `maxEntries` keys.
   */
  maxEntries?: number;
  /**
   * The largest entry (file size, header included) that is stored; a larger
   * `set` stores nothing. Default and upper bound: `maxBytes`.
   */
  maxEntrySize?: number;
  /** The replacement policy: `"arc"` (default) or `"lru"`. */
  policy?: DiskCachePolicy;
  /** Stops opening: `open` then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * A snapshot of a {@linkcode DiskCache}'s state and counters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DiskCache } from "@ipfs-kit/kit/cache";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
 *   await cache.get("missing");
 *   const stats = cache.statistics();
 *   assert(stats.misses === 1 && stats.entries === 0);
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface DiskCacheStatistics {
  /** Entries in the index. */
  readonly entries: number;
  /** The sum of their file sizes (headers included). */
  readonly bytes: number;
  /** The byte budget. */
  readonly maxBytes: number;
  /** The entry limit. */
  readonly maxEntries: number;
  /** The replacement policy. */
  readonly policy: DiskCachePolicy;
  /** Reads (`get`, `getStream`) that returned an intact entry. */
  readonly hits: number;
  /** Reads that found nothing, or a corrupt entry. */
  readonly misses: number;
  /** Reads that found a corrupt entry (and removed it); each is also a miss. */
  readonly corrupt: number;
  /** Entries removed to respect `maxBytes` or `maxEntries`. */
  readonly evictions: number;
  /** `set` calls that stored nothing because the entry exceeded `maxEntrySize`. */
  readonly rejected: number;
  /** `set` calls that stored an entry. */
  readonly writes: number;
}

/**
 * A persistent cache of byte strings by string key (CIDs, in practice), in a
 * directory.
 *
 * **Layout.** `dir/entries/ab/<name>`: one file per entry, named by the
 * SHA-256 of the key in hex (`ab` is its first two digits: 256 shards), so
 * no key can name a file outside the directory. A file holds a header
 * (magic, format version, payload length, key length, the SHA-256 of the
 * payload, the key) and the payload. `dir/tmp/` holds files being written,
 * `dir/index` a snapshot of the replacement order, `dir/lock` a lock that
 * keeps a second process (or a second `DiskCache` in this one) out.
 *
 * **Writes are atomic.** A `set` writes a temporary file, `fdatasync`s it,
 * renames it over the entry's name and `fsync`s the shard directory. A crash
 * at any moment leaves the old entry or the new one, never a partial one;
 * leftover temporary files are removed by the next `open`.
 *
 * **The index survives restarts.** `open` lists the shard directories and
 * takes each entry's size from the file system: the files are the truth.
 * The replacement order comes from `dir/index`, written every few thousand
 * changes, by {@linkcode DiskCache.flush} and by `close`; entries written
 * since come after it, as the most recent.
 *
 * **Integrity is checked on every read.** `get` checks the header against
 * the key and the payload against its SHA-256; `getStream` checks the digest
 * when it reaches the end. A corrupt entry is removed and counted as a miss
 * (and in `statistics().corrupt`).
 *
 * **A byte budget.** The entry files add up to at most `maxBytes` (files being
 * written are not counted until they are stored). The replacement policy is
 * ARC (the memory tier's {@linkcode ArcCache}, sized in bytes), or LRU.
 *
 * **Concurrent use is safe.** Concurrent `set`s of one key leave exactly one
 * intact entry (the last to be renamed in); a `get` during a `set` sees the
 * old or the new entry, as a reader keeps the file it opened. Every async
 * method honours `{ signal }` and the enclosing cancel scope until the point
 * where it changes the directory (a rename, an unlink), which then runs to
 * completion; a cancelled `set` leaves no temporary file behind.
 *
 * @example Read-through use
 * ```ts
 * import assert from "node:assert/strict";
 * import { DiskCache } from "@ipfs-kit/kit/cache";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using cache = await DiskCache.open(dir, { maxBytes: 64 * 1024 * 1024 });
 *   const key = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
 *   let block = await cache.get(key);
 *   if (block === undefined) {
 *     block = new TextEncoder().encode("hello"); // fetched from the network
 *     await cache.set(key, block);
 *   }
 *   assert((await cache.get(key))?.length === 5);
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @example Streams for large entries
 * ```ts
 * import assert from "node:assert/strict";
 * import { DiskCache } from "@ipfs-kit/kit/cache";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using cache = await DiskCache.open(dir, { maxBytes: 64 * 1024 * 1024 });
 *   await cache.set("big", ReadableStream.from([new Uint8Array(3), new Uint8Array(4)]));
 *   const stream = await cache.getStream("big");
 *   let length = 0;
 *   for await (const chunk of stream!) length += chunk.length;
 *   assert.equal(length, 7);
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DiskCache implements AsyncDisposable {
  readonly #directory: DiskDirectory;
  readonly #lockFile: Deno.FsFile;
  readonly #index: DiskIndex;
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  readonly #maxEntrySize: number;
  readonly #policy: DiskCachePolicy;
  readonly #locks: NameLocks = new NameLocks();
  /** Names the policy evicted whose files are still to be removed. */
  #evicted: string[] = [];
  /** Operations and open streams: `close` ends or waits for them. */
  readonly #tracker: OperationTracker = new OperationTracker();
  readonly #snapshotLock: Lock = new Lock();
  #changes = 0;
  #hits = 0;
  #misses = 0;
  #corrupt = 0;
  #evictions = 0;
  #rejected = 0;
  #writes = 0;

  /**
   * Use {@linkcode DiskCache.open}.
   *
   * @ignore
   */
  private constructor(opened: OpenedDirectory, options: Settings) {
    this.#directory = opened.directory;
    this.#lockFile = opened.lockFile;
    this.#maxBytes = options.maxBytes;
    this.#maxEntries = options.maxEntries;
    this.#maxEntrySize = options.maxEntrySize;
    this.#policy = options.policy;
    this.#index = createIndex(options.policy, options.maxBytes, options.maxEntries, (name) => {
      this.#evictions++;
      this.#evicted.push(name);
    });
  }

  /**
   * Opens (creating it if need be) the cache in directory `dir`: takes its
   * lock, removes leftover temporary files and rebuilds the index from the
   * entry files and the last recency snapshot. When the entries exceed the
   * budget (a smaller `maxBytes` than last time), the policy evicts down to it.
   *
   * @param dir The directory, a path or a `file:` URL.
   * @param options `maxBytes` (required), `maxEntries`, `maxEntrySize`, `policy`, `signal`.
   * @returns The open cache; close it with `close()` or `await using`.
   * @throws {LockedError} Another process or `DiskCache` has the directory open
   * (`LockedError` from `@ipfs-kit/kit/runtime/lowlevel`, as the WAL's `WalLockedError`).
   * @throws {DirectoryError} `dir` is a file or lies under one, or is not writable.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DiskCache } from "@ipfs-kit/kit/cache";
   * import { LockedError } from "@ipfs-kit/kit/runtime/lowlevel";
   *
   * const dir = await Deno.makeTempDir();
   * const cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
   * await assert.rejects(DiskCache.open(dir, { maxBytes: 1 << 20 }), LockedError); // one at a time
   * await cache.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static async open(dir: string | URL, options: DiskCacheOptions): Promise<DiskCache> {
    const root = dir instanceof URL ? fileURLToPath(dir) : dir;
    if (typeof root !== "string" || root.length === 0) {
      throw new TypeError(
        `Cannot open disk cache: dir must be a path or a file URL: received ${String(dir)}`,
      );
    }
    const settings = checkOptions(options);
    return await withSignal(options?.signal, () => DiskCache.#open(root, settings));
  }

  static async #open(root: string, options: Settings): Promise<DiskCache> {
    checkpointIfCancelled();
    await ensureDirectory(root, "open disk cache");
    const directory = new DiskDirectory(root);
    const lock = await lockDirectory(root, "open disk cache", DiskDirectory.LOCK_NAME);
    try {
      await checkWritable(root, "open disk cache");
      let sizes: Awaited<ReturnType<DiskDirectory["scan"]>>;
      let lists: Awaited<ReturnType<DiskDirectory["readSnapshot"]>>;
      try {
        await directory.prepare();
        sizes = await directory.scan();
        lists = await directory.readSnapshot();
      } catch (error) {
        throw await toDirectoryError(error, root, "open disk cache", "read");
      }
      const cache = new DiskCache({ directory, lockFile: lock }, options);
      restoreIndex(cache.#index, sizes, lists);
      await shielded(() => cache.#removeEvicted());
      return cache;
    } catch (error) {
      lock.close();
      throw error;
    }
  }

  /** The cache directory. */
  get directory(): string {
    return this.#directory.root;
  }

  /** The byte budget. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** How many entries are cached. */
  get size(): number {
    return this.#index.entries;
  }

  /** Whether the cache was closed (or is closing). */
  get closed(): boolean {
    return this.#tracker.closed;
  }

  /**
   * Reads the entry for `key` and checks it. Counts a hit, or a miss when
   * there is no entry or it is corrupt (a corrupt entry is also removed and
   * counted in `statistics().corrupt`).
   *
   * @param key The key.
   * @param options A `signal` to cancel the read.
   * @returns The payload, or `undefined`.
   * @throws {ClosedResourceError} When the cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DiskCache } from "@ipfs-kit/kit/cache";
   *
   * const dir = await Deno.makeTempDir();
   * {
   *   await using cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
   *   await cache.set("k", new Uint8Array([1, 2, 3]));
   *   assert((await cache.get("k"))?.[2] === 3);
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  get(key: string, options?: SignalOptions): Promise<Uint8Array | undefined> {
    return this.#operation("read disk cache entry", key, options, (info) => this.#get(info));
  }

  /**
   * Opens the entry for `key` as a stream of chunks, for large entries: the
   * payload is never whole in memory. The header is checked before this
   * returns; the payload's digest when the stream reaches its end. If it
   * does not match, the entry is removed, the read is counted as a corrupt
   * miss instead of a hit, and the stream errors with
   * {@linkcode CorruptEntryError} in place of its last chunk. Read the stream
   * to its end or cancel it: it holds the file open. `signal` cancels the
   * open and, later, errors the stream. `close` errors open streams.
   *
   * @param key The key.
   * @param options A `signal` to cancel the open and the stream.
   * @returns The stream, or `undefined` on a miss.
   * @throws {ClosedResourceError} When the cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DiskCache } from "@ipfs-kit/kit/cache";
   *
   * const dir = await Deno.makeTempDir();
   * {
   *   await using cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
   *   await cache.set("k", new Uint8Array(1000));
   *   const stream = await cache.getStream("k");
   *   const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
   *   assert.equal(bytes.length, 1000);
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  getStream(
    key: string,
    options?: SignalOptions,
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    return this.#operation(
      "read disk cache entry",
      key,
      options,
      (info) => this.#getStream(info, options?.signal),
    );
  }

  /**
   * Stores `value` for `key`, replacing any previous entry, atomically: the
   * entry is complete on disk (file and directory synced) when the promise
   * resolves, and a crash before that leaves the previous entry or none. A
   * stream is written as it arrives, never whole in memory. An entry larger
   * than `maxEntrySize` is not stored: the previous entry is removed, the
   * source stream cancelled, and `false` returned. Then the policy evicts
   * entries until the budget holds.
   *
   * Cancellation (by `signal` or the enclosing scope) is honoured until the
   * data is written and synced; the temporary file is then removed and the
   * previous entry stays.
   *
   * @param key The key.
   * @param value The payload: bytes, or a stream of byte chunks.
   * @param options A `signal` to cancel the write.
   * @returns Whether the entry was stored.
   * @throws {ClosedResourceError} When the cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DiskCache } from "@ipfs-kit/kit/cache";
   *
   * const dir = await Deno.makeTempDir();
   * {
   *   await using cache = await DiskCache.open(dir, { maxBytes: 1024 });
   *   assert(await cache.set("small", new Uint8Array(100)));
   *   assert(!await cache.set("too-big", new Uint8Array(2048)));
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  set(
    key: string,
    value: Uint8Array | ReadableStream<Uint8Array>,
    options?: SignalOptions,
  ): Promise<boolean> {
    if (!(value instanceof Uint8Array) && !(value instanceof ReadableStream)) {
      return Promise.reject(
        new TypeError(
          `Cannot write disk cache entry: value must be a Uint8Array or a ReadableStream: received ${
            value === null ? "null" : typeof value
          }`,
        ),
      );
    }
    return this.#operation(
      "write disk cache entry",
      key,
      options,
      (info) => this.#set(info, value),
    );
  }

  /**
   * Whether an entry for `key` is indexed. Reads nothing from disk (the entry
   * is checked when it is read) and counts nothing.
   *
   * @param key The key.
   * @returns `true` when indexed.
   * @throws {ClosedResourceError} When the cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DiskCache } from "@ipfs-kit/kit/cache";
   *
   * const dir = await Deno.makeTempDir();
   * {
   *   await using cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
   *   await cache.set("k", new Uint8Array(1));
   *   assert(cache.has("k") && !cache.has("other"));
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  has(key: string): boolean {
    this.#tracker.check("check disk cache entry");
    return this.#index.has(keyInfo(key, "check disk cache entry").name);
  }

  /**
   * Removes the entry for `key`.
   *
   * @param key The key.
   * @param options A `signal` to cancel the removal before it starts.
   * @returns Whether an entry was indexed for it.
   * @throws {ClosedResourceError} When the cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DiskCache } from "@ipfs-kit/kit/cache";
   *
   * const dir = await Deno.makeTempDir();
   * {
   *   await using cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
   *   await cache.set("k", new Uint8Array(1));
   *   assert(await cache.delete("k") && !cache.has("k"));
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  delete(key: string, options?: SignalOptions): Promise<boolean> {
    return this.#operation("delete disk cache entry", key, options, ({ name }) => {
      checkpointIfCancelled();
      return shielded(() => this.#remove(name));
    });
  }

  /**
   * Removes every entry. Counters are kept. Cancellation stops it between
   * two entries; writes still in progress store their entries afterwards.
   *
   * @param options A `signal` to cancel the clearing.
   * @returns A promise that settles when done.
   * @throws {ClosedResourceError} When the cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DiskCache } from "@ipfs-kit/kit/cache";
   *
   * const dir = await Deno.makeTempDir();
   * {
   *   await using cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
   *   await cache.set("a", new Uint8Array(1));
   *   await cache.clear();
   *   assert.equal(cache.size, 0);
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  clear(options?: SignalOptions): Promise<void> {
    return this.#operation("clear disk cache", undefined, options, async () => {
      for (const name of this.#index.names()) {
        await checkpoint();
        await shielded(() => this.#remove(name));
      }
    });
  }

  /**
   * Writes the replacement order to `dir/index` now (it is also written
   * every few thousand changes and by `close`), so that a restart after a
   * crash finds it recent.
   *
   * @param options A `signal` to cancel before the writing starts.
   * @returns A promise that settles when the snapshot is durable.
   * @throws {ClosedResourceError} When the cache is closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DiskCache } from "@ipfs-kit/kit/cache";
   *
   * const dir = await Deno.makeTempDir();
   * {
   *   await using cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
   *   await cache.set("a", new Uint8Array(1));
   *   await cache.flush();
   * }
   * {
   *   await using reopened = await DiskCache.open(dir, { maxBytes: 1 << 20 });
   *   assert.equal((await reopened.get("a"))?.length, 1);
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  flush(options?: SignalOptions): Promise<void> {
    return this.#operation("flush disk cache", undefined, options, () => {
      checkpointIfCancelled();
      return shielded(() => this.#writeSnapshot());
    });
  }

  /**
   * A snapshot of the index and the counters.
   *
   * @returns The statistics.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DiskCache } from "@ipfs-kit/kit/cache";
   *
   * const dir = await Deno.makeTempDir();
   * {
   *   await using cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
   *   await cache.set("a", new Uint8Array(10));
   *   await cache.get("a");
   *   const { hits, entries, writes } = cache.statistics();
   *   assert(hits === 1 && entries === 1 && writes === 1);
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  statistics(): DiskCacheStatistics {
    return {
      entries: this.#index.entries,
      bytes: this.#index.bytes,
      maxBytes: this.#maxBytes,
      maxEntries: this.#maxEntries,
      policy: this.#policy,
      hits: this.#hits,
      misses: this.#misses,
      corrupt: this.#corrupt,
      evictions: this.#evictions,
      rejected: this.#rejected,
      writes: this.#writes,
    };
  }

  /**
   * Closes the cache: new operations throw {@linkcode ClosedResourceError},
   * open streams error with it, operations in progress are waited for, the
   * recency snapshot is written and the directory lock released. Idempotent.
   *
   * @returns A promise that settles when closed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DiskCache } from "@ipfs-kit/kit/cache";
   *
   * const dir = await Deno.makeTempDir();
   * const cache = await DiskCache.open(dir, { maxBytes: 1 << 20 });
   * await cache.close();
   * assert(cache.closed);
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  close(): Promise<void> {
    return this.#tracker.close(() => this.#close());
  }

  /** Closes the cache: see {@linkcode DiskCache.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    try {
      await this.#tracker.drain(
        new ClosedResourceError("Cannot read disk cache entry: the cache is closed"),
      );
      if (this.#changes > 0) await shielded(() => this.#writeSnapshot());
    } finally {
      this.#lockFile.close();
    }
  }

  /**
   * Runs an operation: checks the state, then the key, counts it as in
   * progress and binds the signal.
   */
  #operation<T>(
    what: string,
    key: string | undefined,
    options: SignalOptions | undefined,
    fn: (info: KeyInfo) => Promise<T>,
  ): Promise<T> {
    let info: KeyInfo;
    try {
      this.#tracker.check(what);
      info = key === undefined ? NO_KEY : keyInfo(key, what);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#tracker.run(options?.signal, () => fn(info));
  }

  async #get({ bytes: key, name }: KeyInfo): Promise<Uint8Array | undefined> {
    checkpointIfCancelled();
    if (this.#index.get(name) === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#changes++;
    const file = await this.#openEntry(name);
    if (file === undefined) return undefined;
    let read: EntryRead;
    try {
      read = await readEntry(file, key);
    } finally {
      file.close();
    }
    if ("corrupt" in read) {
      await shielded(() => this.#discard(name, read.ino));
      this.#misses++;
      this.#corrupt++;
      return undefined;
    }
    this.#hits++;
    return read.payload;
  }

  /**
   * Opens an indexed entry's file; on `NotFound` (removed meanwhile, or from
   * outside) forgets it, counts a miss and returns `undefined`.
   */
  async #openEntry(name: string): Promise<Deno.FsFile | undefined> {
    try {
      return await Deno.open(this.#directory.entryPath(name), { read: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      await shielded(() => this.#forgetMissing(name));
      this.#misses++;
      return undefined;
    }
  }

  async #getStream(
    { bytes: key, name }: KeyInfo,
    signal: AbortSignal | undefined,
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    checkpointIfCancelled();
    if (this.#index.get(name) === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#changes++;
    const file = await this.#openEntry(name);
    if (file === undefined) return undefined;
    let header: EntryHeader;
    try {
      header = await readEntryHeader(file, key);
    } catch (error) {
      file.close();
      throw error;
    }
    const { info, digest } = header;
    if (typeof digest === "string") {
      file.close();
      await shielded(() => this.#discard(name, info.ino));
      this.#misses++;
      this.#corrupt++;
      return undefined;
    }
    this.#hits++;
    return entryStream({
      file,
      digest,
      length: info.size - HEADER_SIZE - key.length,
      signal,
      tracker: this.#tracker,
      onCorrupt: async () => {
        await shielded(() => this.#discard(name, info.ino));
        this.#hits--;
        this.#misses++;
        this.#corrupt++;
      },
    });
  }

  async #set(
    { bytes: key, name }: KeyInfo,
    value: Uint8Array | ReadableStream<Uint8Array>,
  ): Promise<boolean> {
    checkpointIfCancelled();
    if (
      value instanceof Uint8Array && HEADER_SIZE + key.length + value.length > this.#maxEntrySize
    ) {
      await shielded(() => this.#reject(name));
      return false;
    }
    const temp = this.#directory.tempPath();
    let file: Deno.FsFile | undefined = await Deno.open(temp, { write: true, createNew: true });
    let stored = false;
    try {
      const size = await writeEntry(file, key, value, this.#maxEntrySize);
      if (size === undefined) {
        file.close();
        file = undefined;
        await removeIfPresent(temp);
        await shielded(() => this.#reject(name));
        return false;
      }
      checkpointIfCancelled();
      await file.syncData();
      file.close();
      file = undefined;
      checkpointIfCancelled();
      await shielded(() => this.#commit(name, temp, size));
      stored = true;
    } finally {
      file?.close();
      if (!stored) await removeIfPresent(temp).catch(() => {});
    }
    if (this.#snapshotDue()) await shielded(() => this.#writeSnapshot(true));
    return true;
  }

  /** Renames a synced temporary file into place and indexes it. Run shielded. */
  async #commit(name: string, temp: string, size: number): Promise<void> {
    {
      using _permit = await this.#locks.acquire(name);
      await this.#directory.place(temp, name);
      this.#index.set(name, size);
      this.#changes++;
      this.#writes++;
      await this.#directory.syncShard(name);
    }
    await this.#removeEvicted();
  }

  /** A `set` too large to store: the previous entry goes, as in the memory tier. */
  async #reject(name: string): Promise<void> {
    this.#rejected++;
    await this.#remove(name);
  }

  /** Removes an entry and its file. Run shielded. */
  async #remove(name: string): Promise<boolean> {
    using _permit = await this.#locks.acquire(name);
    const had = this.#index.delete(name);
    if (had) this.#changes++;
    await removeIfPresent(this.#directory.entryPath(name));
    return had;
  }

  /**
   * Removes a corrupt entry, unless a `set` replaced its file since it was
   * read (another inode now). Run shielded.
   */
  async #discard(name: string, ino: number | null): Promise<void> {
    using _permit = await this.#locks.acquire(name);
    const path = this.#directory.entryPath(name);
    let current: Deno.FileInfo;
    try {
      current = await Deno.stat(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      this.#index.delete(name);
      return;
    }
    if (ino !== null && current.ino !== ino) return;
    this.#index.delete(name);
    this.#changes++;
    await removeIfPresent(path);
  }

  /** Forgets an indexed entry whose file has gone. Run shielded. */
  async #forgetMissing(name: string): Promise<void> {
    using _permit = await this.#locks.acquire(name);
    try {
      await Deno.stat(this.#directory.entryPath(name));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      if (this.#index.delete(name)) this.#changes++;
    }
  }

  /** Removes the files of evicted entries, unless re-added meanwhile. Run shielded. */
  async #removeEvicted(): Promise<void> {
    let failure: { error: unknown } | undefined;
    while (this.#evicted.length > 0) {
      const name = this.#evicted.pop()!;
      try {
        using _permit = await this.#locks.acquire(name);
        if (!this.#index.has(name)) await removeIfPresent(this.#directory.entryPath(name));
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }

  /** Whether enough changed since the last snapshot to write one: amortised O(1) per change. */
  #snapshotDue(): boolean {
    return this.#changes >= Math.max(SNAPSHOT_EVERY, this.#index.entries);
  }

  /**
   * Writes the recency snapshot durably (temporary file, fsync, rename,
   * directory fsync); when `ifDue`, only if still due once its turn comes.
   */
  async #writeSnapshot(ifDue = false): Promise<void> {
    using _permit = await this.#snapshotLock.acquire();
    if (ifDue && !this.#snapshotDue()) return;
    const changes = this.#changes;
    await this.#directory.writeSnapshot(this.#index.lists());
    this.#changes -= changes;
  }
}

/** Runs `fn` shielded from cancellation: for steps that must finish once started. */
async function shielded<T>(fn: () => Promise<T>): Promise<T> {
  return (await new CancelScope({ shield: true }).run(fn)) as T;
}

function checkOptions(options: DiskCacheOptions): Settings {
  const { maxBytes, maxEntries, maxEntrySize, policy = "arc" } = options ?? {};
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(
      `Cannot open disk cache: maxBytes must be a positive integer: received ${String(maxBytes)}`,
    );
  }
  if (maxEntries !== undefined && (!Number.isSafeInteger(maxEntries) || maxEntries < 1)) {
    throw new RangeError(
      `Cannot open disk cache: maxEntries must be a positive integer: received ${
        String(maxEntries)
      }`,
    );
  }
  if (maxEntrySize !== undefined && (!Number.isSafeInteger(maxEntrySize) || maxEntrySize < 1)) {
    throw new RangeError(
      `Cannot open disk cache: maxEntrySize must be a positive integer: received ${
        String(maxEntrySize)
      }`,
    );
  }
  if (policy !== "arc" && policy !== "lru") {
    throw new TypeError(
      `Cannot open disk cache: policy must be "arc" or "lru": received ${JSON.stringify(policy)}`,
    );
  }
  return {
    maxBytes,
    maxEntries: maxEntries ?? Math.max(64, Math.ceil(maxBytes / BYTES_PER_ENTRY)),
    maxEntrySize: Math.min(maxEntrySize ?? maxBytes, maxBytes),
    policy,
  };
}
