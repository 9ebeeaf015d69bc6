/**
 * Byte-stream helpers of the tiered cache: read a stream whole up to a
 * limit, a byte range of a stream, a tee into a sink in lockstep (never more
 * than one chunk held), and a tap that keeps a copy of what passes while it
 * stays small. Not part of the public API.
 *
 * @module
 */

import { Event } from "../runtime/event.ts";

/** Bytes handed to a reader at a time when a cached buffer is streamed. */
const SLICE = 256 * 1024;

/**
 * Reads `stream` whole, unless it holds more than `limit` bytes: then it is
 * cancelled and `undefined` returned. The stream's errors are thrown.
 */
export async function readUpTo(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array | undefined> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  let done = false;
  try {
    for (;;) {
      const result = await reader.read();
      if (result.done) {
        done = true;
        break;
      }
      length += result.value.byteLength;
      if (length > limit) return undefined;
      parts.push(result.value);
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return concat(parts, length);
}

/** The parts joined; a lone part that is a whole buffer is returned as is. */
export function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0].byteOffset === 0) {
    const only = parts[0];
    if (only.buffer.byteLength === only.byteLength) return only;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** Yields copies of `bytes[start, end)`, `SLICE` bytes at a time. */
export function* copies(
  bytes: Uint8Array,
  start: number,
  end: number,
): Generator<Uint8Array, void, undefined> {
  const stop = Math.min(end, bytes.byteLength);
  for (let at = start; at < stop; at += SLICE) yield bytes.slice(at, Math.min(at + SLICE, stop));
}

/**
 * Yields the bytes `[start, end)` of `stream` (`end` may be `Infinity`) and
 * cancels the stream once past `end`, or when the consumer stops early.
 */
export async function* range(
  stream: ReadableStream<Uint8Array>,
  start: number,
  end: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = stream.getReader();
  let done = false;
  try {
    let position = 0;
    while (position < end) {
      const result = await reader.read();
      if (result.done) {
        done = true;
        return;
      }
      const chunk = result.value;
      const from = Math.max(start - position, 0);
      const to = Math.min(end - position, chunk.byteLength);
      position += chunk.byteLength;
      if (to > from) yield from === 0 && to === chunk.byteLength ? chunk : chunk.subarray(from, to);
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Yields the chunks of `source` while `sink` consumes the same chunks from
 * a second stream, in lockstep: a chunk is read from `source` only when the
 * sink has asked for one, and yielded once the sink has asked for the next
 * (so it is done with it). Nothing is buffered beyond the chunk in hand. If
 * the sink stops (cancels its stream, fails, or gives up), the rest of
 * `source` is still yielded. If the consumer stops early, or `source`
 * fails, the sink's stream is errored. The sink's promise is settled before
 * the generator ends (its rejection is the sink's to report).
 */
export async function* teeInto(
  source: ReadableStream<Uint8Array>,
  sink: (branch: ReadableStream<Uint8Array>) => Promise<unknown>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = source.getReader();
  let branch!: ReadableStreamDefaultController<Uint8Array>;
  let teeing = true;
  let ready = new Event();
  const stream = new ReadableStream<Uint8Array>({
    start: (controller) => {
      branch = controller;
    },
    pull: () => {
      ready.set();
    },
    cancel: () => {
      teeing = false;
      ready.set();
    },
  }, { highWaterMark: 0 });
  // Settled (never rejects) when the sink is done; awaited before this generator ends.
  const sinking = sink(stream).then(() => {}, () => {}).finally(() => {
    teeing = false;
    ready.set();
  });
  let sourceDone = false;
  let complete = false;
  try {
    for (;;) {
      const result = await reader.read();
      if (result.done) {
        sourceDone = true;
        break;
      }
      if (teeing) {
        await ready.wait();
        if (teeing) {
          ready = new Event();
          branch.enqueue(result.value);
          await ready.wait();
        }
      }
      yield result.value;
    }
    if (teeing) {
      teeing = false;
      branch.close();
    }
    complete = true;
  } finally {
    if (!complete) {
      if (teeing) {
        teeing = false;
        try {
          branch.error(new Error("Cannot write cache entry: the read stopped before the end"));
        } catch {
          // The sink has already cancelled its stream.
        }
      }
      if (!sourceDone) await reader.cancel().catch(() => {});
    }
    reader.releaseLock();
    await sinking;
  }
}

/** Passes a stream's chunks through, keeping a copy while it stays within a limit. */
export class Tap {
  readonly #limit: number;
  #parts: Uint8Array[] | undefined = [];
  #length = 0;
  #done = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  async *wrap(
    input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  ): AsyncGenerator<Uint8Array, void, undefined> {
    for await (const chunk of input) {
      this.#record(chunk);
      yield chunk;
    }
    this.#done = true;
  }

  /** A pass-through stream that records what flows through it. */
  transform(): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream({
      transform: (chunk, controller) => {
        this.#record(chunk);
        controller.enqueue(chunk);
      },
      flush: () => {
        this.#done = true;
      },
    });
  }

  #record(chunk: Uint8Array): void {
    if (this.#parts === undefined) return;
    this.#length += chunk instanceof Uint8Array ? chunk.byteLength : Infinity;
    if (this.#length > this.#limit) this.#parts = undefined;
    else this.#parts.push(chunk);
  }

  /** The whole content, if it was read to its end and stayed within the limit. */
  bytes(): Uint8Array | undefined {
    if (!this.#done || this.#parts === undefined) return undefined;
    const parts = this.#parts;
    return parts.length === 1 ? parts[0].slice() : concat(parts, this.#length);
  }
}
