// Reading a response body ahead of the socket: a few reads in flight while
// the previous bytes are written, and the chunks that are already there
// joined into one write. A stream of 64 KiB chunks (a file's `readable`)
// then costs a fraction of the writes; a chunk that is not there yet is never
// waited for, so a slow stream is not held back. Large chunks are read one
// ahead only, which bounds what is held per connection. Private to the HTTP
// layer.

/** Chunks at least this large are read one at a time and written alone. */
const LARGE = 128 * 1024;
/** Reads in flight for a stream of smaller chunks. */
const DEPTH = 4;
/** The most bytes joined into one write. */
const JOIN = 512 * 1024;

const NOT_YET = Symbol("not yet");
const SETTLED_MARK: Promise<typeof NOT_YET> = Promise.resolve(NOT_YET);

type Read = Promise<ReadableStreamReadResult<Uint8Array>>;

/** The chunks of a body, read ahead and joined; see the file's header. */
export class ReadAhead {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #reads: Read[] = [];
  #ended = false;
  #depth = 1;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>, first?: Read) {
    this.#reader = reader;
    if (first !== undefined) this.#reads.push(first);
    this.#top();
  }

  /** The next bytes (one chunk or several joined), `null` at the end. */
  async next(): Promise<Uint8Array | null> {
    if (this.#reads.length === 0) return null;
    const first = await this.#reads.shift()!;
    if (first.done) {
      this.#ended = true;
      return null;
    }
    const chunk = asBytes(first.value);
    this.#depth = chunk.length >= LARGE ? 1 : DEPTH;
    this.#top();
    if (chunk.length >= LARGE || this.#reads.length === 0) return chunk;
    const parts = [chunk];
    let size = chunk.length;
    while (size < JOIN && this.#reads.length > 0) {
      // Whether the next read is already there: a settled promise wins the race.
      const ready = await Promise.race([this.#reads[0], SETTLED_MARK]);
      if (ready === NOT_YET) break;
      this.#reads.shift();
      if (ready.done) {
        this.#ended = true;
        this.#reads.length = 0;
        break;
      }
      const more = asBytes(ready.value);
      parts.push(more);
      size += more.length;
      this.#top();
    }
    if (parts.length === 1) return chunk;
    const out = new Uint8Array(size);
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  #top(): void {
    while (!this.#ended && this.#reads.length < this.#depth) {
      const read = this.#reader.read();
      // A failed read is seen when it is awaited; until then it must not count as unhandled.
      void read.catch(() => {});
      this.#reads.push(read);
    }
  }
}

function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new TypeError("Cannot write response: a body chunk is not a Uint8Array");
}
