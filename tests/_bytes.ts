/**
 * Test fixtures: bytes to store and streams of bytes, made up or read back.
 *
 * @module
 */

import { mulberry32 } from "./_workloads.ts";

/** `length` random bytes (`crypto.getRandomValues`, 64 KiB at a time). */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += 65_536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(at + 65_536, length)));
  }
  return bytes;
}

/** `length` bytes from a PRNG seeded with `seed`: the same bytes for the same seed. */
export function seededBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const random = mulberry32(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (random() * 256) | 0;
  return out;
}

/** The parts, one after another, in one new array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Reads a stream (or any async iterable of bytes) to its end; rejects as it does. */
export async function readAll(source: AsyncIterable<Uint8Array>): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return concat(parts);
}

/**
 * A stream of `bytes` cut into chunks of `sizes` (one size, or sizes taken in
 * turn): by default awkward ones, as a network cuts a stream. Each chunk is
 * a copy.
 */
export function chunked(
  bytes: Uint8Array,
  sizes: number | readonly number[] = [1, 511, 513, 7, 4096, 100_000],
): ReadableStream<Uint8Array> {
  const cycle = typeof sizes === "number" ? [sizes] : sizes;
  let at = 0;
  let turn = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const size = cycle[turn++ % cycle.length];
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

/** Options for {@linkcode generated}. */
export interface GeneratedOptions {
  /** The size of each chunk (the last may be shorter). Default 256 KiB. */
  chunkSize?: number;
  /** Called after each chunk is handed out, with the bytes handed out so far. */
  onPull?: (sent: number) => void;
  /** Called when the reader cancels the stream. */
  onCancel?: () => void;
}

/**
 * A stream of `total` bytes made as it is read (`highWaterMark` 0), never
 * held whole: each chunk is one random chunk with its index stamped into
 * every 4 KiB, so no two blocks are alike however the content is cut.
 */
export function generated(
  total: number,
  options: GeneratedOptions = {},
): ReadableStream<Uint8Array> {
  const { chunkSize = 262_144, onPull, onCancel } = options;
  const base = randomBytes(chunkSize);
  let sent = 0;
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      const chunk = base.slice(0, Math.min(chunkSize, total - sent));
      const view = new DataView(chunk.buffer);
      for (let at = 0; at + 4 <= chunk.length; at += 4096) view.setUint32(at, index);
      index++;
      sent += chunk.length;
      controller.enqueue(chunk);
      onPull?.(sent);
    },
    cancel() {
      onCancel?.();
    },
  }, { highWaterMark: 0 });
}
