/**
 * Processing of the write-ahead log's operations: an
 * {@linkcode OperationProcessor} runs one handler per operation type
 * against a content store in a runtime task group, with bounded
 * concurrency, retries with exponential backoff and jitter, and a
 * {@linkcode HealthMonitor} that pauses processing while the backend is
 * offline and resumes it when the backend returns.
 *
 * ## Errors
 * A handler's error is sorted by two predicates:
 * - `isUnavailable` (default {@linkcode isUnavailableError}): the backend
 *   could not be reached. The attempt does not count; the operation waits
 *   (`retrying`), and the health monitor hears of it.
 * - `isRetriable` (default {@linkcode isRetriableError}): worth another try.
 *   The operation is retried after `backoffDelay(attempt)` until its
 *   attempts are spent, then `failed`. Other errors fail it at once.
 *
 * ## Replay
 * An operation interrupted by a crash runs again after the restart, so
 * handlers must be idempotent: the built-in ones are (adding or pinning the
 * same content gives the same CID; unpinning what is not pinned succeeds).
 *
 * @example Custom handlers
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { type HandlerContext, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using node = await EmbeddedNode.open({ repo: `${dir}/repo` });
 * await using wal = await WriteAheadLog.open(`${dir}/wal`);
 * const { id } = await wal.submit("greet", { name: "world" });
 * await wal.process({
 *   store: node,
 *   handlers: {
 *     greet: async ({ params, store, signal }: HandlerContext<{ name: string }>) => {
 *       const { cid } = await store.add(`hello ${params.name}`, { signal });
 *       return { cid: cid.toString() };
 *     },
 *   },
 *   untilIdle: true,
 * });
 * assert(wal.get(id)?.state === "completed");
 * ```
 *
 * @module
 */

import { Dispatcher } from "./_dispatcher.ts";
import { logTables } from "./_operation_table.ts";
import type { HealthMonitor } from "./health_monitor.ts";
import type { HealthState, ProcessOptions } from "./types.ts";
import type { WriteAheadLog } from "./write_ahead_log.ts";

/**
 * Runs a {@linkcode WriteAheadLog}'s operations. `run()` works inside a
 * task group of its own: a dispatcher takes ready operations (pending ones,
 * and retrying ones whose time came) in submission order, round robin
 * between types, and runs each handler as a task under a
 * `CapacityLimiter`; beside it run the health monitor and the checkpoint
 * writer. While the monitor says `offline`, nothing new starts.
 *
 * Stopping: cancel the scope around `run()` (or abort `signal`). Running
 * attempts are cancelled and their operations go back to `pending` (an
 * attempt that finished meanwhile is still recorded). Closing the log stops
 * the processor too (then `run()` returns).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { taskGroup } from "@ipfs-kit/kit/runtime";
 * import { OperationProcessor, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using node = await EmbeddedNode.open({ repo: `${dir}/repo` });
 * await using wal = await WriteAheadLog.open(`${dir}/wal`);
 * const processor = new OperationProcessor(wal, { store: node, concurrency: 8 });
 * await taskGroup(async (tg) => {
 *   tg.spawn(() => processor.run());
 *   const { id } = await wal.submit("add", { content: "hi" });
 *   const op = await wal.wait(id);
 *   assert(op.state === "completed" && processor.health === "online");
 *   tg.cancelScope.cancel(); // stops the processor
 * });
 * ```
 */
export class OperationProcessor {
  readonly #wal: WriteAheadLog;
  readonly #dispatcher: Dispatcher;

  /**
   * Creates a processor for `wal`; `run()` starts it.
   *
   * @param wal The log.
   * @param options The store, handlers and settings.
   * @throws {TypeError} The store or a handler is missing or of the wrong type.
   * @throws {RangeError} A number is out of range.
   */
  constructor(wal: WriteAheadLog, options: ProcessOptions) {
    this.#dispatcher = new Dispatcher(options);
    this.#wal = wal;
  }

  /** The backend's health while `run()` runs with a monitor; `undefined` otherwise. */
  get health(): HealthState | undefined {
    return this.#dispatcher.health;
  }

  /** The health monitor, once `run()` started (unless `health: false`). */
  get monitor(): HealthMonitor | undefined {
    return this.#dispatcher.monitor;
  }

  /** Operations running right now. */
  get running(): number {
    return this.#dispatcher.running;
  }

  /** The operation types this processor has handlers for. */
  get types(): string[] {
    return this.#dispatcher.types;
  }

  /**
   * Processes operations until cancelled, until `signal` aborts (then it
   * rejects with the signal's reason), until the log closes, or with
   * `untilIdle` until nothing is left to run. Runs once.
   *
   * @returns A promise that settles when processing stops.
   * @throws {WalFailedError} The log failed; processing cannot go on.
   */
  run(): Promise<void> {
    return this.#dispatcher.run(logTables.of(this.#wal));
  }
}
