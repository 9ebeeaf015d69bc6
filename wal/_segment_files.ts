// The files of a segment log: a segment as the log tracks it, segments
// created whole (temp file, header, fsync, rename, directory fsync), syncs
// of files and directories (where the tests' fault hooks apply), and the
// I/O failures that stop a group. Private to the WAL; the format is
// described in segment_log.ts.

import { errorMessage } from "./_error_text.ts";
import { faults } from "./_faults.ts";
import { encodeHeader, HEADER_SIZE, identitySeed, segmentFileName, TEMP_SUFFIX } from "./_frame.ts";

/** A segment file, as the log tracks it. */
export interface Segment {
  baseLsn: number;
  path: string;
  /** Where its records start: the header's size. */
  start: number;
  /** Records acknowledged in it. */
  count: number;
  /** Bytes, header included, up to the end of the last acknowledged group. */
  size: number;
  /** The CRC seed of its records (its identity). */
  seed: number;
}

/** An I/O failure during a group; `fatal` when the log cannot go on. */
export class IoFailure extends Error {
  constructor(readonly what: string, readonly fatal: boolean, cause: unknown) {
    super(`${what}: ${errorMessage(cause)}`, { cause });
  }
}

/**
 * Creates a segment whole: temp file, header, fsync, rename, directory
 * fsync. `previousEnd` is the LSN the log had reached: `baseLsn`, or lower
 * when a point-in-time recovery gives up the LSNs in between.
 */
export async function createSegment(
  dir: string,
  baseLsn: number,
  logId: bigint,
  previousEnd = baseLsn,
): Promise<{ segment: Segment; file: Deno.FsFile }> {
  const path = join(dir, segmentFileName(baseLsn));
  const temp = path + TEMP_SUFFIX;
  const salt = crypto.getRandomValues(new Uint32Array(1))[0];
  const header = encodeHeader({ salt, logId, baseLsn, previousEnd });
  let file: Deno.FsFile | undefined;
  let syncing = false;
  try {
    await Deno.remove(temp).catch(() => {});
    file = await Deno.open(temp, { write: true, createNew: true });
    if (faults.beforeWrite !== undefined) await faults.beforeWrite(temp, header);
    let data = header;
    while (data.length > 0) data = data.subarray(await file.write(data));
    syncing = true;
    await syncFile(file, temp, true);
    syncing = false;
    await Deno.rename(temp, path);
  } catch (error) {
    file?.close();
    await Deno.remove(temp).catch(() => {});
    throw new IoFailure(
      syncing ? `fsync of ${temp}` : `cannot create segment ${path}`,
      syncing,
      error,
    );
  }
  try {
    await syncDir(dir);
  } catch (error) {
    file.close();
    throw new IoFailure(`fsync of directory ${dir}`, true, error);
  }
  return {
    segment: {
      baseLsn,
      path,
      start: HEADER_SIZE,
      count: 0,
      size: HEADER_SIZE,
      seed: identitySeed(header),
    },
    file,
  };
}

/** `fsync` (`full`) or `fdatasync` of an open file, after the fault hook. */
export async function syncFile(file: Deno.FsFile, path: string, full: boolean): Promise<void> {
  if (faults.beforeSync !== undefined) await faults.beforeSync(path);
  if (full) await file.sync();
  else await file.syncData();
}

/** `fsync` of a directory: the entries created, renamed or removed in it. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await syncFile(handle, dir, true);
  } finally {
    handle.close();
  }
}

/** A new log's id: random. */
export function randomLogId(): bigint {
  return crypto.getRandomValues(new BigUint64Array(1))[0];
}

/** `dir/name`. */
export function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** Whether an error says the disk (or the quota) is full. */
export function isNoSpace(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}
