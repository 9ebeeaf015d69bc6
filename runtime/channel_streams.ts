/**
 * Memory channels and Web Streams: a receive end as a `ReadableStream`, a
 * send end as a `WritableStream`, and a `ReadableStream` pumped into a
 * channel by a task.
 *
 * @module
 */

import { CancelScope } from "./cancel_scope.ts";
import { checkpointIfCancelled } from "./checkpoint.ts";
import { BrokenResourceError, EndOfStream } from "./errors.ts";
import {
  createMemoryChannel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
} from "./memory_channel.ts";
import type { TaskGroup } from "./task_group.ts";

/**
 * Wraps a receive end in a pull-based `ReadableStream`: a value is taken off
 * the channel only when the reader asks for one (`highWaterMark` 0), so the
 * channel's own buffer is the only buffer and senders feel backpressure.
 *
 * The stream owns the clone: it closes it when the channel ends (the stream
 * closes), when a receive fails (the stream errors with that error, a
 * `CancelledError` included when the reading task is cancelled) and when the
 * stream is cancelled. Pass a {@linkcode MemoryReceiveChannel.clone} to keep
 * receiving elsewhere.
 *
 * @param receive The receive end; the stream closes it.
 * @returns A stream of the channel's values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMemoryChannel, toReadableStream } from "@ipfs-kit/kit/runtime";
 *
 * const [send, receive] = createMemoryChannel<string>(2);
 * send.sendNowait("a");
 * send.sendNowait("b");
 * send.close();
 * const text = await Array.fromAsync(toReadableStream(receive));
 * assert.equal(text.join(""), "ab");
 * ```
 */
export function toReadableStream<T>(receive: MemoryReceiveChannel<T>): ReadableStream<T> {
  if (typeof receive?.receive !== "function" || typeof receive.close !== "function") {
    throw new TypeError(
      `Cannot create readable stream: expected a memory receive channel: received ${
        describe(receive)
      }`,
    );
  }
  return new ReadableStream<T>({
    async pull(controller) {
      let value: T;
      try {
        value = await receive.receive();
      } catch (error) {
        receive.close();
        if (error instanceof EndOfStream) controller.close();
        else controller.error(error);
        return;
      }
      controller.enqueue(value);
    },
    cancel() {
      receive.close();
    },
  }, { highWaterMark: 0 });
}

/**
 * Wraps a send end in a `WritableStream`: each chunk is sent with
 * {@linkcode MemorySendChannel.send}, so a write settles once the channel
 * has taken the chunk and a full channel holds the writer back.
 *
 * The stream owns the clone: closing or aborting the stream closes it, and
 * so does a failed send (every receiver gone: `BrokenResourceError`; the
 * writing task cancelled: `CancelledError`), which errors the stream.
 *
 * @param send The send end; the stream closes it.
 * @returns A stream whose chunks go into the channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMemoryChannel, toWritableStream } from "@ipfs-kit/kit/runtime";
 *
 * const [send, receive] = createMemoryChannel<number>(Infinity);
 * await ReadableStream.from([1, 2, 3]).pipeTo(toWritableStream(send));
 * assert.equal((await Array.fromAsync(receive)).join(), "1,2,3");
 * receive.close();
 * ```
 */
export function toWritableStream<T>(send: MemorySendChannel<T>): WritableStream<T> {
  if (typeof send?.send !== "function" || typeof send.close !== "function") {
    throw new TypeError(
      `Cannot create writable stream: expected a memory send channel: received ${describe(send)}`,
    );
  }
  const fail = (error: unknown): never => {
    send.close();
    throw error;
  };
  return new WritableStream<T>({
    write(chunk) {
      return send.send(chunk).then(undefined, fail);
    },
    close() {
      send.close();
    },
    abort() {
      send.close();
    },
  });
}

/**
 * Reads `stream` to its end and sends every chunk into `send`, then closes
 * `send` (receivers then drain and see `EndOfStream`). Run it as a task:
 * `tg.spawn(() => pumpReadableStream(stream, send))`.
 *
 * - When every receiver is closed, it cancels the stream and returns: the
 *   consumer wanted no more.
 * - When the task is cancelled, even while waiting for the stream, it cancels
 *   the stream and throws `CancelledError`.
 * - When the stream errors, it throws that error.
 *
 * `send` is closed in every case; the stream's lock is released.
 *
 * @param stream The source.
 * @param send Where the chunks go; closed at the end.
 * @returns A promise that settles when the stream is done.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMemoryChannel, pumpReadableStream, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const [send, receive] = createMemoryChannel<string>(0);
 * const seen: string[] = [];
 * await taskGroup((tg) => {
 *   tg.spawn(() => pumpReadableStream(ReadableStream.from(["x", "y"]), send));
 *   tg.spawn(async () => {
 *     using _ = receive;
 *     for await (const chunk of receive) seen.push(chunk);
 *   });
 * });
 * assert.equal(seen.join(), "x,y");
 * ```
 */
export async function pumpReadableStream<T>(
  stream: ReadableStream<T>,
  send: MemorySendChannel<T>,
): Promise<void> {
  using _ = send;
  if (!(stream instanceof ReadableStream)) {
    throw new TypeError(
      `Cannot pump stream: expected a ReadableStream: received ${describe(stream)}`,
    );
  }
  const reader = stream.getReader();
  const signal = CancelScope.current().signal;
  let cancelling: Promise<void> | undefined;
  // A cancelled task must not stay stuck in `read()`: cancelling the stream ends the read.
  const onAbort = () => {
    cancelling = reader.cancel(signal.reason).catch(() => {});
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    checkpointIfCancelled();
    while (true) {
      const result = await reader.read();
      if (result.done) break;
      await send.send(result.value);
    }
    checkpointIfCancelled(); // the read may have ended because the task was cancelled
  } catch (error) {
    signal.removeEventListener("abort", onAbort);
    await (cancelling ?? reader.cancel(error).catch(() => {}));
    if (error instanceof BrokenResourceError) return;
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
    await cancelling;
    reader.releaseLock();
  }
}

/**
 * Makes a channel fed from `stream` by a task spawned in `tg` (see
 * {@linkcode pumpReadableStream}) and returns its receive end. Iterate it to
 * read the stream; close it to stop the pump, which then cancels the stream.
 * A stream error fails the task, and so the task group.
 *
 * @param tg The task group that runs the pump.
 * @param stream The source.
 * @param maxBufferSize How many chunks may wait in the channel (default 0:
 *   a chunk is read from the stream only once the previous one was taken).
 * @returns The receive end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromReadableStream, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * let total = 0;
 * await taskGroup(async (tg) => {
 *   using receive = fromReadableStream(tg, ReadableStream.from([1, 2, 3]), 8);
 *   for await (const n of receive) total += n;
 * });
 * assert.equal(total, 6);
 * ```
 */
export function fromReadableStream<T>(
  tg: TaskGroup,
  stream: ReadableStream<T>,
  maxBufferSize: number = 0,
): MemoryReceiveChannel<T> {
  if (!(stream instanceof ReadableStream)) {
    throw new TypeError(
      `Cannot read from stream: expected a ReadableStream: received ${describe(stream)}`,
    );
  }
  const [send, receive] = createMemoryChannel<T>(maxBufferSize);
  tg.spawn(() => pumpReadableStream(stream, send), { name: "pumpReadableStream" });
  return receive;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}
