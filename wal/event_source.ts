/**
 * The event source of a write-ahead log: what makes the live topics of the
 * HTTP API's feed live (see `ws_feed.ts`), from the log's own change
 * listener ({@linkcode WriteAheadLog.subscribe}).
 *
 * @module
 */

import type { OperationChange, WalEvent, WalEventSource } from "./types.ts";

/** The shape of `WriteAheadLog.subscribe`, the log's own change listener. */
interface Subscribable {
  subscribe(listener: (change: OperationChange) => void): () => void;
}

/**
 * The log's own event source, if it has one: the log itself when it has a
 * `watch()` method as {@linkcode WalEventSource} describes, or an adapter
 * of its `subscribe(listener)` change listener. Operation changes only: the
 * log reports no health changes, so the feed's `health` topic samples.
 *
 * @param wal The log, or anything else.
 * @returns An event source, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { walEventSource, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * assert.equal(walEventSource({}), undefined);
 * const dir = await Deno.makeTempDir();
 * await using wal = await WriteAheadLog.open(dir);
 * const states: string[] = [];
 * {
 *   using _ = walEventSource(wal)!.watch((event) => {
 *     if (event.kind === "operation") states.push(event.operation.state);
 *   });
 *   const { id } = await wal.submit("custom", {});
 *   await wal.cancel(id);
 * }
 * assert.equal(states.join(), "pending,cancelled");
 * await wal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function walEventSource(wal: unknown): WalEventSource | undefined {
  if (wal === null || typeof wal !== "object") return undefined;
  if (typeof (wal as Partial<WalEventSource>).watch === "function") return wal as WalEventSource;
  if (typeof (wal as Partial<Subscribable>).subscribe !== "function") return undefined;
  const log = wal as Subscribable;
  return {
    watch(listener: (event: WalEvent) => void): Disposable {
      const unsubscribe = log.subscribe((change) =>
        listener({
          kind: "operation",
          change: change.kind,
          operation: change.operation,
          previous: change.previousState,
        })
      );
      return { [Symbol.dispose]: unsubscribe };
    },
  };
}
