// Recovery of a segment log when it opens. Every segment is checked (header,
// continuity of LSNs, every record's checksum). The newest segment's torn
// tail (see _torn_tail.ts) and the zeros reserved ahead of its records are
// cut off. Any other damage stops the open with a `WalDamagedError`, unless
// a point-in-time recovery is asked for: then the log keeps the records
// before the damage, sets the rest aside and goes on from an LSN past every
// one it may have handed out. See "Recovery" in the documentation of
// `SegmentLog`. Private to the WAL.
//
// A point-in-time recovery first creates the segment the log will go on in,
// at that LSN, with the LSN where the kept records end in its header
// (`previousEnd`); only then does it cut and rename. That header is the
// durable record that the LSNs in between are given up: a crash anywhere in
// the recovery leaves it, and the next open (in any mode) finishes the job;
// later opens accept the jump in LSNs it records; and no LSN below it is
// handed out again, even once the side files are deleted.

import {
  type DecodedHeader,
  decodeHeader,
  FrameReader,
  HEADER_SIZE,
  identitySeed,
  parseSegmentFileName,
  RECORD_OVERHEAD,
  type ScanEnd,
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
import {
  boundTornSideFiles,
  copyRange,
  damagedName,
  discardedName,
  MAX_TORN_SIDE_BYTES,
  type SideFile,
  sideFilesIn,
  tornName,
} from "./_side_files.ts";
import { directoryError } from "./_log_directory.ts";
import { LSN_LIMIT_FILE, readLsnLimit } from "./_lsn_limit.ts";
import { examineTail, readAt } from "./_torn_tail.ts";
import { WalDamagedError } from "./errors.ts";
import type { DamageKind, RecoveryMode, RecoveryReport } from "./types.ts";

const FIRST_LSN = 1;

/** How to recover. */
export interface RecoverOptions {
  mode: RecoveryMode;
  /**
   * Treat the record with this LSN as damage (the write-ahead log found it
   * cannot be decoded), for a point-in-time recovery to it.
   */
  dropFrom?: { lsn: number; reason: string };
}

/** What recovery leaves: the segments kept, the last one open for appending. */
export interface Recovered {
  segments: Segment[];
  file: Deno.FsFile;
  logId: bigint;
  report: RecoveryReport;
  /** The torn-tail side files kept: compaction removes them with their segments. */
  tornSideFiles: SideFile[];
  /** The LSN limit the directory holds (see _lsn_limit.ts), if one could be read. */
  lsnLimit: number | undefined;
}

/** A segment file found in the directory, its header read. */
interface Found {
  baseLsn: number;
  path: string;
  size: number;
  header: DecodedHeader | undefined;
  /** Why the header is not usable. */
  problem: string | undefined;
}

/** Damage found by the scan, before it is acted on. */
interface Damage {
  kind: DamageKind;
  /** Index in the list of segments found. */
  index: number;
  offset: number;
  lsn: number;
  reason: string;
  /** The records of the damaged segment before the damage, if any are kept. */
  keep: Segment | undefined;
}

/**
 * Scans the segments, repairs the tail, handles damage as `options.mode`
 * says, and opens the last segment for appending.
 *
 * @throws {WalDamagedError} Damage, and the mode is `"strict"`.
 */
export async function recover(dir: string, options: RecoverOptions): Promise<Recovered> {
  const names = await fileNames(dir);
  const report: RecoveryReport = {
    records: 0,
    segments: 0,
    tornTail: undefined,
    damage: undefined,
    droppedLsns: undefined,
    sideFiles: [],
    discardedBytes: 0,
    reservedBytes: 0,
    removedTempFiles: 0,
    removedSideFiles: 0,
  };
  let dirChanged = false;
  for (const name of names) {
    if (!name.endsWith(SEGMENT_SUFFIX + TEMP_SUFFIX) && name !== LSN_LIMIT_FILE + TEMP_SUFFIX) {
      continue;
    }
    await Deno.remove(join(dir, name));
    report.removedTempFiles++;
    dirChanged = true;
  }
  const found = await readHeaders(dir, names);
  let tornSideFiles = (await sideFilesIn(dir, names)).filter((file) => file.kind === "torn");
  // The log's id: its first readable segment's, else the LSN limit file's (it names it too).
  const limitFile = await readLsnLimit(dir);
  const logId = found.find((segment) => segment.header !== undefined)?.header?.logId ??
    limitFile?.logId ?? randomLogId();
  for (const segment of found) {
    if (segment.header !== undefined && segment.header.logId !== logId) {
      segment.problem = "segment belongs to another log (log id differs)";
    }
  }
  const lsnLimit = limitFile?.logId === logId ? limitFile.limit : undefined;

  // Records to stop at as if damaged: the one the write-ahead log gives up, and any that a
  // later segment's header says a point-in-time recovery gave up (it was cut short).
  const dropAt = new Map<number, string>();
  for (const segment of found) {
    const header = segment.header;
    if (
      segment.problem === undefined && header !== undefined && header.previousEnd < header.baseLsn
    ) {
      dropAt.set(
        header.previousEnd,
        "given up by a point-in-time recovery that a crash interrupted",
      );
    }
  }
  if (options.dropFrom !== undefined) dropAt.set(options.dropFrom.lsn, options.dropFrom.reason);

  const stamp = Date.now();
  const kept: Segment[] = [];
  /** The LSN after the last record kept. */
  let end: number | undefined;
  for (let index = 0; index < found.length;) {
    const segment = found[index];
    const newest = index === found.length - 1;
    let damage: Damage | undefined;
    const header = segment.header;
    if (segment.problem !== undefined || header === undefined) {
      damage = {
        kind: "header",
        index,
        offset: 0,
        lsn: end ?? segment.baseLsn,
        reason: segment.problem ?? "no header",
        keep: undefined,
      };
    } else if (
      end !== undefined && segment.baseLsn !== end &&
      !(header.previousEnd === end && segment.baseLsn > end)
    ) {
      damage = {
        kind: "gap",
        index,
        offset: 0,
        lsn: end,
        reason: `segment starts at LSN ${segment.baseLsn}, expected ${end} (a segment is missing)`,
        keep: undefined,
      };
    } else {
      const file = await Deno.open(segment.path, { read: true, write: true });
      try {
        const scan = await scanSegment(file, segment, header, dropAt);
        const stop = scan.stop;
        if (stop.kind === "end") {
          kept.push(scan.segment);
          end = segment.baseLsn + scan.segment.count;
          index++;
          continue;
        }
        if (newest && stop.kind !== "undecodable") {
          const tail = await examineTail(file, scan.segment.seed, stop, segment.size);
          if (tail.kind === "reserved") {
            // Space the log reserved ahead of its records (it was not closed): not damage.
            await file.truncate(stop.offset);
            await syncFile(file, segment.path, false);
            report.reservedBytes = segment.size - stop.offset;
          } else if (tail.kind === "torn") {
            report.tornTail = await cutTornTail(file, segment, stop, tail.end, stamp);
            if (report.tornTail.sideFile !== undefined) {
              tornSideFiles.push({
                path: report.tornTail.sideFile,
                kind: "torn",
                baseLsn: segment.baseLsn,
                stamp,
                size: tail.end - stop.offset,
              });
              dirChanged = true;
            }
          }
          if (tail.kind !== "damage") {
            kept.push(scan.segment);
            end = segment.baseLsn + scan.segment.count;
            index++;
            continue;
          }
        }
        damage = {
          // In the newest segment a record that runs past the end yet is not a torn tail
          // has a damaged length field.
          kind: newest && stop.kind === "torn" ? "corrupt" : stop.kind,
          index,
          offset: stop.offset,
          lsn: segment.baseLsn + scan.segment.count,
          reason: stop.reason,
          keep: scan.segment.count > 0 ? scan.segment : undefined,
        };
      } finally {
        file.close();
      }
    }

    // Damage at LSN `damage.lsn`. A segment whose header records a jump from that LSN
    // means a point-in-time recovery gave up the LSNs after it, and a crash cut it short.
    let resume = found.findIndex((later, i) =>
      i > index && later.problem === undefined && later.header!.previousEnd === damage.lsn &&
      later.baseLsn > damage.lsn
    );
    const resumed = resume >= 0;
    if (!resumed) {
      if (options.mode !== "point-in-time") {
        throw new WalDamagedError({ ...damage, path: found[damage.index].path });
      }
      const next = Math.max(await highWater(found, damage), lsnLimit ?? 0);
      const created = await createSegment(dir, next, logId, damage.lsn);
      created.file.close();
      found.push({
        baseLsn: next,
        path: created.segment.path,
        size: created.segment.size,
        header: {
          salt: 0,
          logId,
          baseLsn: next,
          previousEnd: damage.lsn,
          size: created.segment.start,
        },
        problem: undefined,
      });
      resume = found.length - 1;
    }
    await setAside(dir, found, damage, resume, stamp, report);
    dirChanged = true;
    if (damage.keep !== undefined) {
      kept.push(damage.keep);
    }
    report.damage ??= {
      kind: damage.kind,
      path: found[damage.index].path,
      offset: damage.offset,
      lsn: damage.lsn,
      reason: damage.reason,
      resumed,
    };
    report.droppedLsns ??= { from: damage.lsn, to: found[resume].baseLsn };
    end = damage.lsn;
    index = resume;
  }

  let file: Deno.FsFile;
  if (kept.length === 0) {
    // A new log.
    const created = await createSegment(dir, FIRST_LSN, logId);
    kept.push(created.segment);
    file = created.file;
  } else {
    file = await Deno.open(kept[kept.length - 1].path, { write: true });
  }
  try {
    if (tornSideFiles.length > 0) {
      const bounded = await boundTornSideFiles(tornSideFiles);
      tornSideFiles = bounded.kept;
      report.removedSideFiles = bounded.removed;
      if (bounded.removed > 0) dirChanged = true;
    }
    if (dirChanged) await syncDir(dir);
  } catch (error) {
    file.close();
    throw error;
  }
  report.records = kept.reduce((sum, segment) => sum + segment.count, 0);
  report.segments = kept.length;
  return { segments: kept, file, logId, report, tornSideFiles, lsnLimit };
}

/** The names of the files in `dir`. */
async function fileNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.push(entry.name);
  } catch (error) {
    throw await directoryError(dir, error, "read");
  }
  return names;
}

/** The segment files in `dir`, by base LSN, with their headers read. */
async function readHeaders(dir: string, names: string[]): Promise<Found[]> {
  const found: Found[] = [];
  for (const name of names) {
    const baseLsn = parseSegmentFileName(name);
    if (baseLsn === undefined) continue;
    const path = join(dir, name);
    using file = await Deno.open(path, { read: true });
    const size = (await file.stat()).size;
    const decoded = decodeHeader(await readAt(file, 0, Math.min(HEADER_SIZE, size)));
    const problem = typeof decoded === "string"
      ? decoded
      : decoded.baseLsn !== baseLsn
      ? `header says base LSN ${decoded.baseLsn}, file name says ${baseLsn}`
      : undefined;
    found.push({
      baseLsn,
      path,
      size,
      header: typeof decoded === "string" ? undefined : decoded,
      problem,
    });
  }
  return found.sort((a, b) => a.baseLsn - b.baseLsn);
}

/** Where a scan of a segment's records stopped: one of the frame reader's ends, or at a record given up. */
type Stop = ScanEnd | { kind: "undecodable"; offset: number; reason: string };

/** Reads a segment's records up to the first bad spot, or the first record in `dropAt`. */
async function scanSegment(
  file: Deno.FsFile,
  found: Found,
  header: DecodedHeader,
  dropAt: Map<number, string>,
): Promise<{ segment: Segment; stop: Stop }> {
  const headerBytes = await readAt(file, 0, header.size);
  const seed = identitySeed(headerBytes);
  await file.seek(header.size, Deno.SeekMode.Start);
  const reader = new FrameReader(file, seed, header.size, found.size);
  let count = 0;
  let stop: Stop | undefined;
  for (;;) {
    const offset = reader.offset;
    if ((await reader.next()) === undefined) break;
    const reason = dropAt.get(found.baseLsn + count);
    if (reason !== undefined) {
      stop = { kind: "undecodable", offset, reason };
      break;
    }
    count++;
  }
  stop ??= reader.stop!;
  const size = stop.kind === "end" ? reader.offset : stop.offset;
  return {
    segment: { baseLsn: found.baseLsn, path: found.path, start: header.size, count, size, seed },
    stop,
  };
}

/** Copies a torn tail's non-zero bytes aside (up to a bound), then cuts the segment. */
async function cutTornTail(
  file: Deno.FsFile,
  segment: Found,
  stop: Exclude<ScanEnd, { kind: "end" }>,
  end: number,
  stamp: number,
): Promise<RecoveryReport["tornTail"] & object> {
  let sideFile: string | undefined;
  if (end > stop.offset) {
    const copyEnd = Math.min(end, stop.offset + MAX_TORN_SIDE_BYTES);
    sideFile = await copyRange(
      file,
      stop.offset,
      copyEnd,
      tornName(segment.path, stop.offset, stamp),
    );
  }
  await file.truncate(stop.offset);
  await syncFile(file, segment.path, false);
  return {
    path: segment.path,
    offset: stop.offset,
    bytes: segment.size - stop.offset,
    reason: stop.reason,
    sideFile,
  };
}

/**
 * What the segment files show of the LSNs the log may have handed out (a
 * point-in-time recovery goes on from past them, and past the LSN limit,
 * which does not depend on them). A segment's records all lie below the next segment's
 * base LSN; the newest segment's records past the damage (or its torn part)
 * are bounded by its size: every record takes at least 9 bytes and has a
 * non-zero type byte 4 bytes in.
 */
async function highWater(found: Found[], damage: Damage): Promise<number> {
  let next = damage.lsn;
  for (let i = damage.index; i < found.length - 1; i++) {
    next = Math.max(next, found[i + 1].baseLsn);
  }
  // The newest segment (never reuse its name either): its intact records, then the most
  // that fit in the rest of the file.
  const newest = found[found.length - 1];
  next = Math.max(next, newest.baseLsn + 1);
  using file = await Deno.open(newest.path, { read: true });
  let records = { count: 0, offset: 0 };
  if (newest === found[damage.index] && damage.offset > 0) {
    records = { count: damage.lsn - newest.baseLsn, offset: damage.offset };
  } else if (newest.problem === undefined && newest.header !== undefined) {
    records = await countRecords(file, newest, newest.header);
  }
  return Math.max(
    next,
    newest.baseLsn + records.count + await mostRecords(file, records.offset, newest.size),
  );
}

/** The intact records at the start of a segment, and where they end. */
async function countRecords(
  file: Deno.FsFile,
  segment: Found,
  header: DecodedHeader,
): Promise<{ count: number; offset: number }> {
  const { segment: scanned } = await scanSegment(file, segment, header, new Map());
  return { count: scanned.count, offset: scanned.size };
}

/** The most records `file[from..to)` can hold. */
async function mostRecords(file: Deno.FsFile, from: number, to: number): Promise<number> {
  if (to - from < RECORD_OVERHEAD) return 0;
  const chunk = new Uint8Array(Math.min(1 << 20, to - from));
  // The last non-zero byte: a record's type byte, 4 bytes in, is never zero.
  for (let stop = to; stop > from;) {
    const start = Math.max(from, stop - chunk.length);
    const bytes = chunk.subarray(0, stop - start);
    await file.seek(start, Deno.SeekMode.Start);
    let done = 0;
    while (done < bytes.length) {
      const read = await file.read(bytes.subarray(done));
      if (read === null) break;
      done += read;
    }
    for (let i = done - 1; i >= 0; i--) {
      if (bytes[i] !== 0) {
        const last = start + i;
        return last - 4 < from ? 0 : Math.floor((last - 4 - from) / RECORD_OVERHEAD) + 1;
      }
    }
    stop = start;
  }
  return 0;
}

/**
 * Sets aside what a point-in-time recovery gives up: the damaged segment
 * from the damage on (its bytes copied to a side file, then cut; or the
 * whole segment renamed), and every segment after it up to `resume`, the
 * segment the log goes on in.
 */
async function setAside(
  dir: string,
  found: Found[],
  damage: Damage,
  resume: number,
  stamp: number,
  report: RecoveryReport,
): Promise<void> {
  const damaged = found[damage.index];
  if (damage.keep !== undefined) {
    using file = await Deno.open(damaged.path, { read: true, write: true });
    const size = (await file.stat()).size;
    if (size > damage.offset) {
      const side = await copyRange(
        file,
        damage.offset,
        size,
        damagedName(damaged.path, damage.offset, stamp),
      );
      report.sideFiles.push(side);
      report.discardedBytes += size - damage.offset;
      await file.truncate(damage.offset);
      await syncFile(file, damaged.path, false);
    }
  } else {
    await moveAside(damaged, stamp, report);
  }
  for (let i = damage.index + 1; i < resume; i++) await moveAside(found[i], stamp, report);
  await syncDir(dir);
}

async function moveAside(segment: Found, stamp: number, report: RecoveryReport): Promise<void> {
  let size: number;
  try {
    size = (await Deno.stat(segment.path)).size;
  } catch (error) {
    // Already set aside by the recovery a crash interrupted.
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const side = discardedName(segment.path, stamp);
  await Deno.rename(segment.path, side);
  report.sideFiles.push(side);
  report.discardedBytes += size;
}
