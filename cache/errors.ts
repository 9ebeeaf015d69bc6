/**
 * The errors of the cache.
 *
 * @module
 */

/**
 * The error a stream from {@linkcode DiskCache.getStream} ends with when the
 * entry turns out to be corrupt; the entry has then been removed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CorruptEntryError } from "@ipfs-kit/kit/cache";
 *
 * const error = new CorruptEntryError("Cannot read disk cache entry: checksum mismatch");
 * assert.equal(error.name, "CorruptEntryError");
 * ```
 */
export class CorruptEntryError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong with the entry.
   */
  constructor(message: string) {
    super(message);
    this.name = "CorruptEntryError";
  }
}
