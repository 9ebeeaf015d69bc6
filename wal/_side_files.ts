// The side files of a segment log: what recovery cuts off or sets aside is
// copied or renamed next to the segments, never deleted on the spot.
//   <segment>.torn-<offset>-<ms>       the torn tail of the newest segment
//                                       (an interrupted write; bounded, and
//                                       removed with its segment by compaction)
//   <segment>.damaged-<offset>-<ms>    a damaged segment's bytes from the
//                                       damage on (point-in-time recovery)
//   <segment>.discarded-<ms>           a whole segment set aside
// Private to the WAL.

import { parseSegmentFileName } from "./_frame.ts";
import { join, syncFile } from "./_segment_files.ts";

const MIB = 1024 * 1024;
/** Torn-tail side files kept at most; older ones are removed at open. */
export const MAX_TORN_SIDE_FILES = 8;
/** Bytes of torn-tail side files kept at most (also the most one copy takes). */
export const MAX_TORN_SIDE_BYTES = 16 * MIB;

const SIDE_NAME = /^(\d{20}\.wal)\.(torn|damaged|discarded|tail)-(?:(\d+)-)?(\d+)(?:\.\d+)?$/;

/** A side file found in the log's directory. */
export interface SideFile {
  path: string;
  kind: "torn" | "damaged" | "discarded" | "tail";
  /** The base LSN of the segment it came from. */
  baseLsn: number;
  /** When it was made (ms since the epoch), from its name. */
  stamp: number;
  size: number;
}

/** What a side file's name says, or `undefined` for other files. */
export function parseSideFile(
  name: string,
): Pick<SideFile, "kind" | "baseLsn" | "stamp"> | undefined {
  const match = SIDE_NAME.exec(name);
  if (match === null) return undefined;
  const baseLsn = parseSegmentFileName(match[1]);
  if (baseLsn === undefined) return undefined;
  return { kind: match[2] as SideFile["kind"], baseLsn, stamp: Number(match[4]) };
}

/** The name of a torn tail's side file. */
export function tornName(segmentPath: string, offset: number, stamp: number): string {
  return `${segmentPath}.torn-${offset}-${stamp}`;
}

/** The name of a damaged segment's side file (its bytes from the damage on). */
export function damagedName(segmentPath: string, offset: number, stamp: number): string {
  return `${segmentPath}.damaged-${offset}-${stamp}`;
}

/** The name a whole segment set aside is renamed to. */
export function discardedName(segmentPath: string, stamp: number): string {
  return `${segmentPath}.discarded-${stamp}`;
}

/**
 * Copies `file[start..end)` into a new file named `name` (or `name.1`,
 * `name.2`... if taken) and syncs it. Returns the path used. The caller
 * syncs the directory.
 */
export async function copyRange(
  file: Deno.FsFile,
  start: number,
  end: number,
  name: string,
): Promise<string> {
  let out: Deno.FsFile | undefined;
  let path = name;
  for (let attempt = 1; out === undefined; attempt++) {
    try {
      out = await Deno.open(path, { write: true, createNew: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists) || attempt > 100) throw error;
      path = `${name}.${attempt}`;
    }
  }
  try {
    const chunk = new Uint8Array(Math.min(MIB, Math.max(1, end - start)));
    await file.seek(start, Deno.SeekMode.Start);
    let position = start;
    while (position < end) {
      const read = await file.read(chunk.subarray(0, Math.min(chunk.length, end - position)));
      if (read === null) break;
      let data = chunk.subarray(0, read);
      while (data.length > 0) data = data.subarray(await out.write(data));
      position += read;
    }
    await syncFile(out, path, true);
  } finally {
    out.close();
  }
  return path;
}

/**
 * Removes the oldest torn-tail side files until at most
 * {@linkcode MAX_TORN_SIDE_FILES} of them, of at most
 * {@linkcode MAX_TORN_SIDE_BYTES} in all, are left (the newest is always
 * kept: a copy takes at most that many bytes). Returns the files kept and
 * how many were removed. The caller syncs the directory.
 */
export async function boundTornSideFiles(
  files: SideFile[],
): Promise<{ kept: SideFile[]; removed: number }> {
  const newestFirst = [...files].sort((a, b) => b.stamp - a.stamp || (a.path < b.path ? 1 : -1));
  const kept: SideFile[] = [];
  let bytes = 0;
  let removed = 0;
  let full = false;
  for (const file of newestFirst) {
    full ||= kept.length > 0 &&
      (kept.length >= MAX_TORN_SIDE_FILES || bytes + file.size > MAX_TORN_SIDE_BYTES);
    if (!full) {
      kept.push(file);
      bytes += file.size;
      continue;
    }
    await Deno.remove(file.path).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    removed++;
  }
  return { kept: kept.reverse(), removed };
}

/** The side files in `dir`, from the names listed. */
export async function sideFilesIn(dir: string, names: string[]): Promise<SideFile[]> {
  const found: SideFile[] = [];
  for (const name of names) {
    const parsed = parseSideFile(name);
    if (parsed === undefined) continue;
    const path = join(dir, name);
    try {
      found.push({ path, ...parsed, size: (await Deno.stat(path)).size });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return found;
}
