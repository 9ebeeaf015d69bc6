/**
 * A byte stream that is an operation of a cache: it pulls the chunks of a
 * generator and ends when its signal aborts, when the cancel scope it was
 * opened in is cancelled, or when the cache closes; it errors only once the
 * generator has cleaned up. Private to the cache (the tiered cache's `cat`).
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpoint } from "../runtime/checkpoint.ts";
import { withSignal } from "../runtime/timeouts.ts";
import type { EndableStream, OperationTracker } from "./_operation_tracker.ts";

/** Options for {@linkcode operationStream}. */
export interface OperationStreamOptions {
  /** The cache's tracker: the stream counts as an operation until it ends, and closing ends it. */
  tracker: OperationTracker;
  /** What the stream does, for the error a pull after closing throws ("Cannot <what>: ..."). */
  what: string;
  /** Ends the stream with an error: its reason. */
  signal: AbortSignal | undefined;
  /**
   * Starts the generator on the first pull. Its signal aborts when the
   * stream ends early, for whichever reason.
   */
  chunks: (signal: AbortSignal) => AsyncGenerator<Uint8Array, void, undefined>;
}

/**
 * Creates the stream. The caller has checked that the cache is open; the
 * stream counts as an operation in progress from now until it ends.
 */
export function operationStream(options: OperationStreamOptions): ReadableStream<Uint8Array> {
  const { tracker, what, signal, chunks } = options;
  const internal = new AbortController();
  const combined = signal === undefined
    ? internal.signal
    : AbortSignal.any([signal, internal.signal]);
  let iterator: AsyncGenerator<Uint8Array, void, undefined> | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let ended = false;
  let cleanup: Promise<void> | undefined;
  const finish = (reason: unknown, error: boolean): Promise<void> => {
    if (!ended) {
      ended = true;
      tracker.deleteStream(open);
      signal?.removeEventListener("abort", onAbort);
      internal.abort(reason);
      const stopped = iterator === undefined ? Promise.resolve() : iterator.return().then(
        () => {},
        () => {},
      );
      // The stream errors once the cleanup is done: a reader that sees the error sees no
      // file left open and no partial entry.
      cleanup = stopped.then(() => {
        if (!error) return;
        try {
          controller.error(reason);
        } catch {
          // Already errored or closed.
        }
      }).finally(() => tracker.leave());
    }
    return cleanup!;
  };
  const open: EndableStream = { end: (reason) => finish(reason, true) };
  const onAbort = () => void finish(signal!.reason, true);
  tracker.enter();
  tracker.addStream(open);
  if (signal !== undefined) {
    if (signal.aborted) void finish(signal.reason, true);
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
    },
    pull: async (c) => {
      if (ended) {
        await cleanup;
        return;
      }
      iterator ??= chunks(internal.signal);
      const running = iterator;
      let result: IteratorResult<Uint8Array, void>;
      try {
        result = await withSignal(combined, async () => {
          await checkpoint();
          tracker.check(what);
          // Pulls run in the cancel scope the stream was opened in (Deno's streams keep
          // that context): cancelling it ends the whole stream, as aborting `signal` does.
          const scope = CancelScope.current().signal;
          const onCancel = () => internal.abort(scope.reason);
          scope.addEventListener("abort", onCancel, { once: true });
          try {
            return await running.next();
          } finally {
            scope.removeEventListener("abort", onCancel);
          }
        });
      } catch (error) {
        await finish(error, false);
        throw error;
      }
      if (ended) {
        await cleanup;
        return;
      }
      if (result.done) {
        await finish(undefined, false);
        c.close();
      } else c.enqueue(result.value);
    },
    cancel: (reason) => finish(reason, false),
  }, { highWaterMark: 0 });
}
