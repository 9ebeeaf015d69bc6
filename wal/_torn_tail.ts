// Whether the scan of the newest segment stopped at a torn tail (the last
// write before a crash, cut short: cut it off and go on) or at damage (stop,
// unless asked to recover to a point in time). Private to the WAL; see
// "Recovery" in the documentation of `SegmentLog`.
//
// An interrupted write leaves a prefix of what was written: a process killed
// mid-write leaves the first pages and zeros after them (the log extends its
// active segment with zeros ahead of its records); a machine that loses
// power leaves whichever sectors reached the disk. So a torn tail is, from
// the first bad record on:
//   - only zeros: the space reserved ahead of the records (9 bytes or more:
//     no record, not even a torn one, starts with 5 zero bytes and fits in
//     less), cut off silently; fewer zeros are a torn tail;
//   - or an unfinished record: one that runs past the end of the file, that
//     starts with its type byte zero (its first bytes never written), or whose
//     checksum fails while one 512-byte sector of it is all zeros (a sector
//     never written, as etcd's WAL tells a torn write);
//     and after it no intact record of this segment, at any offset.
// Anything else (a checksum that fails in a record written whole, or an
// intact record after the bad one) is damage: bytes that were once written
// and synced, and records after them that were acknowledged.

import { crc32c } from "./_crc32c.ts";
import { RECORD_OVERHEAD, RECORD_PREFIX, type ScanEnd } from "./_frame.ts";

const MIB = 1024 * 1024;
/** A sector: the unit a disk writes whole or not at all. */
const SECTOR = 512;
/** A longer tail is not examined byte by byte: it counts as damage. */
const MAX_TAIL_EXAMINED = 64 * MIB;
/** Checksum work allowed while looking for an intact record after the bad one. */
const MAX_CHECKSUM_BYTES = 64 * MIB;

/** What the bytes from where the scan stopped to the end of the newest segment are. */
export type Tail =
  | { kind: "reserved" }
  | {
    kind: "torn";
    /** One past the last non-zero byte: what a side file keeps. */
    end: number;
  }
  | { kind: "damage" };

/**
 * Tells what `file[stop.offset..size)` is, for the newest segment, whose
 * records are checksummed with `seed`.
 */
export async function examineTail(
  file: Deno.FsFile,
  seed: number,
  stop: Exclude<ScanEnd, { kind: "end" }>,
  size: number,
): Promise<Tail> {
  const start = stop.offset;
  const last = await lastNonZero(file, start, size);
  if (last < 0) {
    return size - start >= RECORD_OVERHEAD ? { kind: "reserved" } : { kind: "torn", end: start };
  }
  if (size - start > MAX_TAIL_EXAMINED) return { kind: "damage" };
  const tail = await readAt(file, start, size - start);
  if (!unfinished(tail, start, stop) || intactRecordAfter(tail, seed)) return { kind: "damage" };
  return { kind: "torn", end: last + 1 };
}

/** Whether the record at the start of `tail` (file offset `start`) was never written whole. */
function unfinished(
  tail: Uint8Array,
  start: number,
  stop: Exclude<ScanEnd, { kind: "end" }>,
): boolean {
  if (stop.kind === "torn") return true; // runs past the end of the file
  if (tail.length < RECORD_PREFIX) return true;
  if (tail[4] === 0) return true; // its type byte never written
  const length = new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true);
  const end = Math.min(tail.length, length + RECORD_OVERHEAD);
  // The record's bytes, sector by sector of the file (a first and last part sector included).
  for (let at = 0; at < end;) {
    const next = Math.min(end, at + SECTOR - ((start + at) % SECTOR));
    let zero = true;
    for (let i = at; i < next; i++) {
      if (tail[i] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) return true;
    at = next;
  }
  return false;
}

/**
 * Whether an intact record (plausible length, non-zero type, matching
 * checksum) starts anywhere in `tail` after its first byte. Also true when
 * the search would take more than {@linkcode MAX_CHECKSUM_BYTES} of
 * checksum work: what cannot be shown to be a torn tail is damage.
 */
function intactRecordAfter(tail: Uint8Array, seed: number): boolean {
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let budget = MAX_CHECKSUM_BYTES;
  for (let at = 1; at + RECORD_OVERHEAD <= tail.length; at++) {
    if (tail[at + 4] === 0) continue;
    const length = view.getUint32(at, true);
    const end = at + RECORD_PREFIX + length;
    if (end + 4 > tail.length) continue;
    budget -= length + 1;
    if (budget < 0) return true;
    if (view.getUint32(end, true) === crc32c(tail, seed, at + 4, end)) return true;
  }
  return false;
}

/** The offset of the last non-zero byte of `file[start..end)`, or -1. */
async function lastNonZero(file: Deno.FsFile, start: number, end: number): Promise<number> {
  const chunk = new Uint8Array(Math.min(MIB, Math.max(1, end - start)));
  for (let to = end; to > start;) {
    const from = Math.max(start, to - chunk.length);
    const bytes = await readInto(file, from, chunk.subarray(0, to - from));
    for (let i = bytes.length - 1; i >= 0; i--) if (bytes[i] !== 0) return from + i;
    to = from;
  }
  return -1;
}

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
export function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  return readInto(file, offset, new Uint8Array(length));
}

async function readInto(file: Deno.FsFile, offset: number, into: Uint8Array): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < into.length) {
    const read = await file.read(into.subarray(done));
    if (read === null) break;
    done += read;
  }
  return into.subarray(0, done);
}
