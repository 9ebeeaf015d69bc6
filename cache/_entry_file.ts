/**
 * Reading and writing one entry file of the disk cache: a whole read checked
 * against the key and the payload's SHA-256, a header read for streaming,
 * the stream that checks the digest when it reaches the end, and the write of
 * bytes or a stream behind its header. Private to the cache; the format is in
 * _disk_format.ts.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import { checkHeader, encodeHeader, HEADER_SIZE, sameDigest, sha256 } from "./_disk_format.ts";
import { BufferedWriter, readFull, writeAll } from "./_file_io.ts";
import type { EndableStream, OperationTracker } from "./_operation_tracker.ts";
import { CorruptEntryError } from "./errors.ts";

/** Bytes per read of an entry stream and per write of a streamed entry. */
const CHUNK_SIZE = 256 * 1024;
/** Entries up to this size are read, and written, with one call. */
const SMALL_ENTRY = 64 * 1024;

/** An entry file read whole: its payload, or why it is corrupt and which file (inode) that was. */
export type EntryRead =
  | { payload: Uint8Array }
  | { corrupt: string; ino: number | null };

/**
 * Reads an open entry file whole and checks it: the header against `key`,
 * the payload against its length and SHA-256. Honours cancellation between
 * reads.
 */
export async function readEntry(file: Deno.FsFile, key: Uint8Array): Promise<EntryRead> {
  const info = await file.stat();
  checkpointIfCancelled();
  const headerLength = HEADER_SIZE + key.length;
  let head: Uint8Array;
  let payload: Uint8Array;
  if (info.size <= SMALL_ENTRY) {
    const all = new Uint8Array(info.size);
    const read = await readFull(file, all);
    head = all.subarray(0, Math.min(headerLength, read));
    payload = all.slice(headerLength, read);
  } else {
    head = new Uint8Array(headerLength);
    await readFull(file, head);
    checkpointIfCancelled();
    payload = new Uint8Array(info.size - headerLength);
    payload = payload.subarray(0, await readFull(file, payload));
  }
  checkpointIfCancelled();
  const digest = checkHeader(head, key, info.size);
  const problem = typeof digest === "string"
    ? digest
    : payload.length !== info.size - headerLength
    ? "the file is shorter than its size"
    : sameDigest(sha256().update(payload).digest(), digest)
    ? undefined
    : "checksum mismatch";
  return problem === undefined ? { payload } : { corrupt: problem, ino: info.ino };
}

/** An entry file's header, read for streaming. */
export interface EntryHeader {
  /** The file's size and inode. */
  info: Deno.FileInfo;
  /** The payload's SHA-256, or why the header is corrupt. */
  digest: Uint8Array | string;
}

/** Reads and checks the header of an open entry file; the file is left at the payload. */
export async function readEntryHeader(file: Deno.FsFile, key: Uint8Array): Promise<EntryHeader> {
  const info = await file.stat();
  checkpointIfCancelled();
  const head = new Uint8Array(Math.min(HEADER_SIZE + key.length, info.size));
  const digest = checkHeader(head.subarray(0, await readFull(file, head)), key, info.size);
  checkpointIfCancelled();
  return { info, digest };
}

/** Options for {@linkcode entryStream}. */
export interface EntryStreamOptions {
  /** The entry file, positioned at the payload; the stream closes it. */
  file: Deno.FsFile;
  /** The payload's SHA-256, from the header. */
  digest: Uint8Array;
  /** The payload's length, from the file size. */
  length: number;
  /** Errors the stream with its reason. */
  signal: AbortSignal | undefined;
  /** The cache's tracker: the stream is registered with it, and each read counts as in progress. */
  tracker: OperationTracker;
  /** Called (and awaited) when the payload turns out corrupt, before the stream errors. */
  onCorrupt: () => Promise<void>;
}

/**
 * A stream of an entry's payload in chunks, never whole in memory. When it
 * reaches the end it checks the digest: if the payload is short or does not
 * match, `onCorrupt` runs and the stream errors with
 * {@linkcode CorruptEntryError} in place of its last chunk. `signal` and the
 * tracker's `drain` end it with their reason; so does cancelling it.
 */
export function entryStream(options: EntryStreamOptions): ReadableStream<Uint8Array> {
  const { file, digest, length, signal, tracker, onCorrupt } = options;
  const hash: Hash = sha256();
  let remaining = length;
  let reading = false;
  let ended = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const onAbort = () => open.end(signal!.reason);
  const finish = () => {
    ended = true;
    tracker.deleteStream(open);
    signal?.removeEventListener("abort", onAbort);
    if (!reading) file.close();
  };
  const open: EndableStream = {
    end: (reason) => {
      if (ended) return;
      finish();
      controller.error(reason);
    },
  };
  const pull = async (): Promise<void> => {
    if (ended) return;
    reading = true;
    tracker.enter();
    try {
      const chunk = new Uint8Array(Math.min(CHUNK_SIZE, remaining));
      let read = 0;
      let failure: { error: unknown } | undefined;
      try {
        read = await readFull(file, chunk);
      } catch (error) {
        failure = { error };
      }
      reading = false;
      if (ended) {
        // Ended (cancelled, aborted, closed) during the read, which kept the file open.
        file.close();
        return;
      }
      if (failure !== undefined) {
        open.end(failure.error);
        return;
      }
      remaining -= chunk.length;
      hash.update(chunk.subarray(0, read));
      if (read < chunk.length || remaining === 0) {
        const intact = read === chunk.length && sameDigest(hash.digest(), digest);
        finish();
        if (intact) {
          if (chunk.length > 0) controller.enqueue(chunk);
          controller.close();
          return;
        }
        await onCorrupt();
        controller.error(
          new CorruptEntryError(
            read < chunk.length
              ? "Cannot read disk cache entry: the file is shorter than its size"
              : "Cannot read disk cache entry: checksum mismatch",
          ),
        );
        return;
      }
      controller.enqueue(chunk);
    } finally {
      tracker.leave();
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
    },
    pull,
    cancel: () => {
      if (!ended) finish();
    },
  }, { highWaterMark: 0 });
  tracker.addStream(open);
  if (signal !== undefined) {
    if (signal.aborted) open.end(signal.reason);
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return stream;
}

/**
 * Writes an entry to `file`: the header and the bytes, or a header
 * placeholder, the stream as it arrives, then the header. Returns the file
 * size, or `undefined` when a stream grew past `maxEntrySize` (it is then
 * cancelled). Honours the enclosing cancel scope, which also cancels the
 * stream.
 */
export async function writeEntry(
  file: Deno.FsFile,
  key: Uint8Array,
  value: Uint8Array | ReadableStream<Uint8Array>,
  maxEntrySize: number,
): Promise<number | undefined> {
  if (!(value instanceof Uint8Array)) return await writeStream(file, key, value, maxEntrySize);
  const header = encodeHeader(key, value.length, sha256().update(value).digest());
  if (value.length <= SMALL_ENTRY) {
    const bytes = new Uint8Array(header.length + value.length);
    bytes.set(header);
    bytes.set(value, header.length);
    await writeAll(file, bytes);
  } else {
    await writeAll(file, header);
    await writeAll(file, value);
  }
  return HEADER_SIZE + key.length + value.length;
}

async function writeStream(
  file: Deno.FsFile,
  key: Uint8Array,
  stream: ReadableStream<Uint8Array>,
  maxEntrySize: number,
): Promise<number | undefined> {
  const headerLength = HEADER_SIZE + key.length;
  const reader = stream.getReader();
  const signal = CancelScope.current().signal;
  let cancelling: Promise<void> | undefined;
  const cancel = (reason: unknown) => {
    cancelling ??= reader.cancel(reason).catch(() => {});
  };
  const onAbort = () => cancel(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    checkpointIfCancelled();
    const hash = sha256();
    const writer = new BufferedWriter(file, CHUNK_SIZE);
    writer.zeros(headerLength);
    let length = 0;
    for (;;) {
      const { done, value } = await reader.read();
      checkpointIfCancelled();
      if (done) break;
      if (!(value instanceof Uint8Array)) {
        throw new TypeError(
          `Cannot write disk cache entry: stream chunks must be Uint8Array: received ${
            value === null ? "null" : typeof value
          }`,
        );
      }
      length += value.length;
      if (headerLength + length > maxEntrySize) {
        cancel(
          new RangeError(
            `Cannot write disk cache entry: size exceeds maxEntrySize ${maxEntrySize}`,
          ),
        );
        return undefined;
      }
      hash.update(value);
      await writer.write(value);
    }
    await writer.flush();
    await file.seek(0, Deno.SeekMode.Start);
    await writeAll(file, encodeHeader(key, length, hash.digest()));
    return headerLength + length;
  } catch (error) {
    cancel(error);
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (cancelling !== undefined) await cancelling;
    reader.releaseLock();
  }
}
