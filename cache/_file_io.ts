/**
 * File helpers of the disk cache: whole writes and reads, removal and
 * directory creation that tolerate what is already there or gone, and a
 * buffered writer. Private to the cache.
 *
 * @module
 */

/** Writes all of `bytes` (a write may take fewer). */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await file.write(at === 0 ? bytes : bytes.subarray(at));
}

/** Fills `buffer` from `file`; returns how many bytes it read (fewer at the end of the file). */
export async function readFull(file: Deno.FsFile, buffer: Uint8Array): Promise<number> {
  let at = 0;
  while (at < buffer.length) {
    const n = await file.read(at === 0 ? buffer : buffer.subarray(at));
    if (n === null) break;
    at += n;
  }
  return at;
}

/** Removes `path`; returns false when it did not exist. */
export async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await Deno.remove(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Creates a directory; returns false when it existed. */
export async function makeDirectory(path: string): Promise<boolean> {
  try {
    await Deno.mkdir(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
}

/**
 * Buffers small writes into `capacity`-byte writes (each write call costs
 * about 25 us); larger chunks go straight through.
 */
export class BufferedWriter {
  readonly #file: Deno.FsFile;
  readonly #buffer: Uint8Array;
  #used = 0;

  constructor(file: Deno.FsFile, capacity: number) {
    this.#file = file;
    this.#buffer = new Uint8Array(capacity);
  }

  /** Buffers `length` zero bytes. */
  zeros(length: number): void {
    this.#buffer.fill(0, this.#used, this.#used + length);
    this.#used += length;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const free = this.#buffer.length - this.#used;
    if (chunk.length < free) {
      this.#buffer.set(chunk, this.#used);
      this.#used += chunk.length;
      return;
    }
    if (chunk.length >= this.#buffer.length) {
      await this.flush();
      await writeAll(this.#file, chunk);
      return;
    }
    this.#buffer.set(chunk.subarray(0, free), this.#used);
    this.#used += free;
    await this.flush();
    this.#buffer.set(chunk.subarray(free), 0);
    this.#used = chunk.length - free;
  }

  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const used = this.#used;
    this.#used = 0;
    await writeAll(this.#file, this.#buffer.subarray(0, used));
  }
}
