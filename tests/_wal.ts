/**
 * Test fixtures for the write-ahead log: a log in a temporary directory,
 * faults injected into its file system calls, processors that run custom or
 * counted handlers, and for the segment log under it: payloads that name
 * their record, what a log holds, its files and the frames in them.
 *
 * @module
 */

import { faults } from "../wal/_faults.ts";
import { RECORD_OVERHEAD } from "../wal/_frame.ts";
import type { LogRecord, SegmentLog } from "../wal/segment_log.ts";
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

/** A payload that names its record: a u32 id, then bytes derived from it. */
export function payloadFor(id: number, length = 4 + (id * 7) % 41): Uint8Array {
  const bytes = new Uint8Array(Math.max(4, length));
  new DataView(bytes.buffer).setUint32(0, id, true);
  for (let i = 4; i < bytes.length; i++) bytes[i] = (id * 31 + i * 7) & 0xff;
  return bytes;
}

/** The id a {@linkcode payloadFor} payload names. */
export function idOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset).getUint32(0, true);
}

/** Every record of a log (from `fromLsn` on), read back with `replay()`. */
export async function readRecords(log: SegmentLog, fromLsn?: number): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  for await (const record of log.replay(fromLsn === undefined ? {} : { fromLsn })) {
    records.push(record);
  }
  return records;
}

/** The segment files of a log's directory, sorted (by base LSN). */
export async function segmentFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(".wal")) names.push(entry.name);
  }
  return names.sort();
}

/** The side files recovery made in a log's directory (torn tails, damage set aside), sorted. */
export async function sideFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (/\.(torn|damaged|discarded)-/.test(entry.name)) names.push(entry.name);
  }
  return names.sort();
}

/** The end offsets of the record frames in `data`, from `start` (a segment's header size). */
export function frameEnds(data: Uint8Array, start: number): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const ends: number[] = [];
  for (let offset = start; offset + RECORD_OVERHEAD <= data.length;) {
    const length = view.getUint32(offset, true);
    if (length === 0 && data[offset + 4] === 0) break; // zeros reserved ahead of the records
    offset += length + RECORD_OVERHEAD;
    ends.push(offset);
  }
  return ends;
}

/** Frames in a buffer written by the log: the ids of their {@linkcode payloadFor} payloads. */
export function idsInFrames(data: Uint8Array): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const ids: number[] = [];
  for (let offset = 0; offset < data.length;) {
    const length = view.getUint32(offset, true);
    ids.push(idOf(data.subarray(offset + 5, offset + 5 + length)));
    offset += length + RECORD_OVERHEAD;
  }
  return ids;
}

/** The LSN limit a log's directory holds (its `LSNLIMIT` file), or `undefined` without one. */
export function lsnLimitIn(dir: string): number | undefined {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(`${dir}/LSNLIMIT`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(20, true));
}

/** Every file of a directory (not below) with its bytes: to check that nothing changed. */
export async function directoryBytes(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) files.set(entry.name, await Deno.readFile(`${dir}/${entry.name}`));
  }
  return files;
}

/** Copies the files of `from` (not below) into `to`, created. */
export async function copyDirectory(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isFile) await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}
