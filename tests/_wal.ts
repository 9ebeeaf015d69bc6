/**
 * Test fixtures for the write-ahead log: a log in a temporary directory,
 * faults injected into its file system calls, and processors that run
 * custom or counted handlers.
 *
 * @module
 */

import { faults } from "../wal/_faults.ts";
import { WriteAheadLog } from "../wal/write_ahead_log.ts";
import { builtinHandlers } from "../wal/builtin_handlers.ts";
import type { HandlerContext, OperationStore } from "../wal/types.ts";
import { withTempDir } from "./_files.ts";

/** No store: for processors whose handlers do not use one. */
export const NO_STORE = {} as OperationStore;

/** A well-formed operation id that no log holds. */
export const UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

/**
 * Runs `fn` with a new temporary directory for a log; afterwards clears the
 * faults the test injected (`faults.beforeWrite`, `faults.beforeSync`) and
 * removes the directory.
 */
export function withWalDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    try {
      return await fn(dir);
    } finally {
      faults.beforeWrite = undefined;
      faults.beforeSync = undefined;
    }
  });
}

/** An error as a failed file system call throws it: `message`, with the OS's `code`. */
export function ioError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Runs `fn` with a log open in a new temporary directory (`syncPolicy`
 * `"none"`); closes it and removes the directory afterwards.
 */
export function withWal<T>(fn: (wal: WriteAheadLog) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    await using wal = await WriteAheadLog.open(dir, { syncPolicy: "none" });
    return await fn(wal);
  });
}

/** Runs a processor with only `handlers` (no store, no health checks) until the log is idle. */
export function processUntilIdle(
  wal: WriteAheadLog,
  handlers: Record<string, (context: HandlerContext) => unknown>,
): Promise<void> {
  return wal.process({
    store: NO_STORE,
    builtinHandlers: false,
    health: false,
    handlers,
    untilIdle: true,
  });
}

/**
 * The built-in handlers, counting each operation's successful applications
 * in `applied` and, when given, each call in `calls` (by operation id).
 */
export function countingHandlers(
  applied: Map<string, number>,
  calls?: Map<string, number>,
): Record<string, (context: HandlerContext<never>) => Promise<unknown>> {
  const handlers: Record<string, (context: HandlerContext<never>) => Promise<unknown>> = {};
  for (const [type, handler] of Object.entries(builtinHandlers)) {
    handlers[type] = async (context) => {
      calls?.set(context.id, (calls.get(context.id) ?? 0) + 1);
      const result = await (handler as (c: HandlerContext<never>) => Promise<unknown>)(context);
      applied.set(context.id, (applied.get(context.id) ?? 0) + 1);
      return result;
    };
  }
  return handlers;
}
