/**
 * Turns the kit's accepted add inputs into the byte streams the importer
 * reads, counting bytes for progress and checking cancellation per chunk.
 *
 * @module
 */

import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import type { AddInput } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";

const encoder = new TextEncoder();

/**
 * A byte stream for `input`. Nothing is read until the stream is iterated;
 * closing the iterator early cancels a `ReadableStream` input.
 *
 * @param input What the caller gave.
 * @param path The entry's path, for progress and errors (`""` for `add`).
 * @param onProgress Called with the bytes read so far after each chunk.
 * @param what The operation, for error messages.
 * @param signal Cancels a pending read of a stream input.
 */
export function byteSource(
  input: AddInput,
  path: string,
  onProgress: ((bytes: number, path: string) => void) | undefined,
  what: string,
  signal?: AbortSignal,
): AsyncIterable<Uint8Array> {
  let chunks: AsyncIterable<unknown> | Iterable<unknown>;
  if (input instanceof Uint8Array) chunks = [input];
  else if (typeof input === "string") chunks = [encoder.encode(input)];
  else if (input instanceof Blob) chunks = input.stream();
  else if (input instanceof ReadableStream) chunks = input;
  else if (
    input !== null && typeof input === "object" &&
    (Symbol.asyncIterator in input || Symbol.iterator in input)
  ) {
    chunks = input;
  } else {
    throw new InvalidInputError(
      `Cannot ${what}: content must be bytes, a string, a Blob, a stream or an iterable of bytes: received ${
        describe(input)
      }`,
    );
  }
  return counted(chunks, path, onProgress, what, signal);
}

async function* counted(
  chunks: AsyncIterable<unknown> | Iterable<unknown>,
  path: string,
  onProgress: ((bytes: number, path: string) => void) | undefined,
  what: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  let bytes = 0;
  const check = (chunk: unknown): chunk is Uint8Array => {
    checkpointIfCancelled();
    if (!(chunk instanceof Uint8Array)) {
      throw new InvalidInputError(
        `Cannot ${what}: content chunks must be Uint8Arrays: received ${describe(chunk)}${
          path ? ` in ${path}` : ""
        }`,
      );
    }
    if (chunk.length === 0) return false;
    bytes += chunk.length;
    onProgress?.(bytes, path);
    return true;
  };
  if (!(chunks instanceof ReadableStream)) {
    for await (const chunk of chunks) if (check(chunk)) yield chunk;
    return;
  }
  // A stream's pending read cannot be interrupted through its iterator:
  // cancel the reader itself when the signal aborts.
  const reader = chunks.getReader();
  const onAbort = () => void reader.cancel(signal!.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  let done = false;
  try {
    while (true) {
      signal?.throwIfAborted();
      const result = await reader.read();
      signal?.throwIfAborted();
      if (result.done) {
        done = true;
        return;
      }
      if (check(result.value)) yield result.value;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return value.constructor?.name ?? "object";
}
