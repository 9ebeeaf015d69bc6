// Recovery of a segment log when it opens: every segment is checked
// (header, continuity of LSNs, every record's checksum); at the first bad
// spot the log is cut back to the last good record, the bytes cut off are
// copied to a side file first, and later segments are set aside; zeros the
// log reserved ahead of its records are cut off as such. Nothing is
// deleted. See "Recovery" in the documentation of `SegmentLog`. Private to
// the WAL.

import {
  decodeHeader,
  FrameReader,
  HEADER_SIZE,
  identitySeed,
  parseSegmentFileName,
  RECORD_OVERHEAD,
  SEGMENT_SUFFIX,
  TEMP_SUFFIX,
} from "./_frame.ts";
import {
  createSegment,
  join,
  randomLogId,
  type Segment,
  syncDir,
  syncFile,
} from "./_segment_files.ts";
import type { RecoveryReport } from "./types.ts";

const MIB = 1024 * 1024;
const FIRST_LSN = 1;

/** What recovery leaves: the segments kept, the last one open for appending. */
export interface Recovered {
  segments: Segment[];
  file: Deno.FsFile;
  logId: bigint;
  report: RecoveryReport;
}

/** Scans the segments, repairs the tail and opens the last segment for appending. */
export async function recover(dir: string): Promise<Recovered> {
  const found: { baseLsn: number; name: string }[] = [];
  const temps: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile) continue;
    if (entry.name.endsWith(SEGMENT_SUFFIX + TEMP_SUFFIX)) temps.push(entry.name);
    const baseLsn = parseSegmentFileName(entry.name);
    if (baseLsn !== undefined) found.push({ baseLsn, name: entry.name });
  }
  found.sort((a, b) => a.baseLsn - b.baseLsn);
  const report: RecoveryReport = {
    records: 0,
    segments: 0,
    damage: undefined,
    sideFiles: [],
    discardedBytes: 0,
    reservedBytes: 0,
    removedTempFiles: 0,
  };
  let dirChanged = false;
  for (const name of temps) {
    await Deno.remove(join(dir, name));
    report.removedTempFiles++;
    dirChanged = true;
  }

  const stamp = Date.now();
  const kept: Segment[] = [];
  let logId: bigint | undefined;
  let stop = found.length;
  for (let i = 0; i < found.length; i++) {
    const { baseLsn, name } = found[i];
    const path = join(dir, name);
    const previous = kept.at(-1);
    if (previous !== undefined && baseLsn !== previous.baseLsn + previous.count) {
      report.damage = {
        kind: "gap",
        path,
        offset: 0,
        reason: `segment starts at LSN ${baseLsn}, expected ${previous.baseLsn + previous.count}`,
      };
      stop = i;
      break;
    }
    const file = await Deno.open(path, { read: true, write: true });
    try {
      const size = (await file.stat()).size;
      const headerBytes = await readAt(file, 0, Math.min(HEADER_SIZE, size));
      const header = decodeHeader(headerBytes);
      const problem = typeof header === "string"
        ? header
        : header.baseLsn !== baseLsn
        ? `header says base LSN ${header.baseLsn}, file name says ${baseLsn}`
        : logId !== undefined && header.logId !== logId
        ? "segment belongs to another log (log id differs)"
        : undefined;
      if (problem !== undefined) {
        report.damage = { kind: "header", path, offset: 0, reason: problem };
        stop = i;
        break;
      }
      logId ??= (header as { logId: bigint }).logId;
      const seed = identitySeed(headerBytes);
      await file.seek(HEADER_SIZE, Deno.SeekMode.Start);
      const reader = new FrameReader(file, seed, HEADER_SIZE, size);
      let count = 0;
      while ((await reader.next()) !== undefined) count++;
      const end = reader.stop!;
      kept.push({ baseLsn, path, count, size: reader.offset, seed });
      report.records += count;
      if (
        end.kind !== "end" && i === found.length - 1 && size - end.offset >= RECORD_OVERHEAD &&
        await isZero(file, end.offset, size)
      ) {
        // Space the log reserved ahead of its records (it was not closed): not damage.
        await file.truncate(end.offset);
        await syncFile(file, path, false);
        report.reservedBytes = size - end.offset;
      } else if (end.kind !== "end") {
        report.damage = { kind: end.kind, path, offset: end.offset, reason: end.reason };
        const side = await copyRange(file, end.offset, size, `${path}.tail-${end.offset}-${stamp}`);
        await syncDir(dir);
        await file.truncate(end.offset);
        await syncFile(file, path, false);
        report.sideFiles.push(side);
        report.discardedBytes += size - end.offset;
        stop = i + 1;
        break;
      }
    } finally {
      file.close();
    }
  }
  for (let i = stop; i < found.length; i++) {
    const path = join(dir, found[i].name);
    const side = `${path}.discarded-${stamp}`;
    report.discardedBytes += (await Deno.stat(path)).size;
    await Deno.rename(path, side);
    report.sideFiles.push(side);
    dirChanged = true;
  }

  let file: Deno.FsFile;
  if (kept.length === 0) {
    // A new log, or one whose first segment is unreadable: start at its LSN.
    logId ??= randomLogId();
    const created = await createSegment(dir, found[0]?.baseLsn ?? FIRST_LSN, logId);
    kept.push(created.segment);
    file = created.file;
    dirChanged = false;
  } else {
    file = await Deno.open(kept[kept.length - 1].path, { write: true });
  }
  try {
    if (dirChanged) await syncDir(dir);
  } catch (error) {
    file.close();
    throw error;
  }
  report.segments = kept.length;
  return { segments: kept, file, logId: logId!, report };
}

/** Whether `file[start..end)` holds only zero bytes. */
async function isZero(file: Deno.FsFile, start: number, end: number): Promise<boolean> {
  const chunk = new Uint8Array(Math.min(MIB, end - start));
  await file.seek(start, Deno.SeekMode.Start);
  for (let position = start; position < end;) {
    const read = await file.read(chunk.subarray(0, Math.min(chunk.length, end - position)));
    if (read === null) return false;
    for (let i = 0; i < read; i++) if (chunk[i] !== 0) return false;
    position += read;
  }
  return true;
}

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < length) {
    const read = await file.read(bytes.subarray(done));
    if (read === null) break;
    done += read;
  }
  return bytes.subarray(0, done);
}

/**
 * Copies `file[start..end)` into a new file named `name` (or `name.1`,
 * `name.2`... if taken) and syncs it. Returns the path used.
 */
async function copyRange(
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
