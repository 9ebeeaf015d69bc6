/**
 * The disk tier as the tiered cache uses it: optional, and never a reason
 * for a read or a write to fail. A failure other than cancellation is
 * counted and taken as a miss (or as nothing written); the backend serves
 * the read. Private to the cache.
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { isCancellationError } from "../runtime/errors.ts";
import type { DiskCache } from "./disk_cache.ts";
import type { DiskTierStatistics } from "./tiered_cache_statistics.ts";

/** A {@linkcode DiskCache}, or none, behind calls that count failures instead of throwing them. */
export class DiskTier {
  readonly #cache: DiskCache | undefined;
  /** Reads and writes that failed (other than by corruption or cancellation). */
  #errors = 0;

  /**
   * Wraps the disk tier, which it closes with itself.
   *
   * @param cache The disk tier, or `undefined` for none.
   */
  constructor(cache: DiskCache | undefined) {
    this.#cache = cache;
  }

  /** Whether there is a disk tier. */
  get present(): boolean {
    return this.#cache !== undefined;
  }

  /** Reads an entry; a failure other than cancellation is counted and treated as a miss. */
  async get(key: string, signal: AbortSignal): Promise<Uint8Array | undefined> {
    if (this.#cache === undefined) return undefined;
    try {
      return await this.#cache.get(key, { signal });
    } catch (error) {
      this.failed(error, signal);
      return undefined;
    }
  }

  /** Opens an entry as a stream; a failure other than cancellation is a miss. */
  async getStream(
    key: string,
    signal: AbortSignal,
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    if (this.#cache === undefined) return undefined;
    try {
      return await this.#cache.getStream(key, { signal });
    } catch (error) {
      this.failed(error, signal);
      return undefined;
    }
  }

  /**
   * Writes an entry; a failure other than cancellation is counted, not
   * thrown. With no disk tier, a stream is cancelled.
   */
  async set(
    key: string,
    value: Uint8Array | ReadableStream<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<boolean> {
    if (this.#cache === undefined) {
      if (value instanceof ReadableStream) await value.cancel();
      return false;
    }
    try {
      return await this.#cache.set(key, value, signal === undefined ? {} : { signal });
    } catch (error) {
      this.failed(error, signal);
      return false;
    }
  }

  /** Re-throws cancellation; counts any other failure of a disk read or write. */
  failed(error: unknown, signal: AbortSignal | undefined): void {
    if (signal?.aborted || CancelScope.current().cancelled || isCancellationError(error)) {
      throw error;
    }
    this.#errors++;
  }

  /** Whether the disk tier (open) holds an entry for `key`; reads nothing. */
  has(key: string): boolean {
    return this.#cache !== undefined && !this.#cache.closed && this.#cache.has(key);
  }

  /** Removes the entry for `key`; whether there was one. */
  async delete(key: string): Promise<boolean> {
    return this.#cache !== undefined && await this.#cache.delete(key);
  }

  /** The disk tier's counters, or `undefined` when there is none. */
  statistics(): DiskTierStatistics | undefined {
    if (this.#cache === undefined) return undefined;
    const disk = this.#cache.statistics();
    return {
      hits: disk.hits,
      misses: disk.misses,
      corrupt: disk.corrupt,
      errors: this.#errors,
      writes: disk.writes,
      entries: disk.entries,
      bytes: disk.bytes,
      maxBytes: disk.maxBytes,
      evictions: disk.evictions,
    };
  }

  /** Closes the disk tier, if any. */
  async close(): Promise<void> {
    await this.#cache?.close();
  }
}
