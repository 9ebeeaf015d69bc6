// On-disk format of the segment log: segment header, record frames, file
// names. Private to the WAL; the format is described in segment_log.ts.

import { crc32c } from "./_crc32c.ts";

/** `ipfskwal`: the first eight bytes of every segment. */
export const MAGIC: Uint8Array = new Uint8Array([0x69, 0x70, 0x66, 0x73, 0x6b, 0x77, 0x61, 0x6c]);
/** The format new segments are written in. */
export const FORMAT_VERSION = 2;
/**
 * Version 2: magic 8, version 2, reserved 2, salt 4, log id 8, base LSN 8,
 * previous end 8, header CRC 4.
 */
export const HEADER_SIZE = 44;
/** Version 1 (still read): the same without the previous end; its CRC at 32. */
const V1_HEADER_SIZE = 36;
/** The bytes of the header that identify the segment and seed its record CRCs. */
const IDENTITY_START = 12;
const IDENTITY_END = 32;
/** length 4, type 1, CRC 4. */
export const RECORD_OVERHEAD = 9;
/** Length and type: the bytes before the payload. */
export const RECORD_PREFIX = 5;
export const SEGMENT_SUFFIX = ".wal";
export const TEMP_SUFFIX = ".tmp";
const NAME_DIGITS = 20;
const SEGMENT_NAME = /^(\d{20})\.wal$/;

/** What a segment header says. */
export interface SegmentHeader {
  /** Random per segment: stale bytes from another segment never check out. */
  salt: number;
  /** Random per log, the same in every segment: segments of two logs never mix. */
  logId: bigint;
  /** The LSN of the segment's first record. */
  baseLsn: number;
  /**
   * The LSN the log had reached when this segment was created: `baseLsn`,
   * unless a point-in-time recovery dropped the LSNs from `previousEnd` up
   * to `baseLsn` (never to be used again). Version 1: `baseLsn`.
   */
  previousEnd: number;
}

/** A decoded header, with its size (where the segment's records start). */
export interface DecodedHeader extends SegmentHeader {
  size: number;
}

export function encodeHeader(header: SegmentHeader): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint16(8, FORMAT_VERSION, true);
  view.setUint16(10, 0, true);
  view.setUint32(12, header.salt, true);
  view.setBigUint64(16, header.logId, true);
  view.setBigUint64(24, BigInt(header.baseLsn), true);
  view.setBigUint64(32, BigInt(header.previousEnd), true);
  view.setUint32(40, crc32c(bytes, 0, 0, 40), true);
  return bytes;
}

/** Decodes a header (version 2, or 1); a string says why it is invalid. */
export function decodeHeader(bytes: Uint8Array): DecodedHeader | string {
  if (bytes.length < V1_HEADER_SIZE) return `header is truncated: ${bytes.length} bytes`;
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) return "bad magic: not a segment of an ipfs-kit log";
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = view.getUint16(8, true);
  const size = version === 1 ? V1_HEADER_SIZE : HEADER_SIZE;
  if (bytes.length < size) return `header is truncated: ${bytes.length} bytes`;
  if (view.getUint32(size - 4, true) !== crc32c(bytes, 0, 0, size - 4)) {
    return "header checksum mismatch";
  }
  if (version !== 1 && version !== FORMAT_VERSION) return `unsupported format version ${version}`;
  const baseLsn = view.getBigUint64(24, true);
  if (baseLsn > BigInt(Number.MAX_SAFE_INTEGER)) return `base LSN out of range: ${baseLsn}`;
  const previousEnd = version === 1 ? baseLsn : view.getBigUint64(32, true);
  if (previousEnd > baseLsn) {
    return `previous end ${previousEnd} is past the base LSN ${baseLsn}`;
  }
  return {
    salt: view.getUint32(12, true),
    logId: view.getBigUint64(16, true),
    baseLsn: Number(baseLsn),
    previousEnd: Number(previousEnd),
    size,
  };
}

/** The CRC state after the segment's identity: the seed of its record CRCs. */
export function identitySeed(header: Uint8Array): number {
  return crc32c(header, 0, IDENTITY_START, IDENTITY_END);
}

export function frameSize(payloadLength: number): number {
  return payloadLength + RECORD_OVERHEAD;
}

/**
 * Writes one record frame into `target` at `offset`; returns the offset after
 * it. The CRC covers the segment identity (through `seed`), type and payload.
 */
export function encodeRecord(
  target: Uint8Array,
  view: DataView,
  offset: number,
  type: number,
  payload: Uint8Array,
  seed: number,
): number {
  const length = payload.length;
  view.setUint32(offset, length, true);
  target[offset + 4] = type;
  target.set(payload, offset + RECORD_PREFIX);
  const end = offset + RECORD_PREFIX + length;
  view.setUint32(end, crc32c(target, seed, offset + 4, end), true);
  return end + 4;
}

/** The segment file name for a base LSN: 20 decimal digits and `.wal`. */
export function segmentFileName(baseLsn: number): string {
  return String(baseLsn).padStart(NAME_DIGITS, "0") + SEGMENT_SUFFIX;
}

/** The base LSN a segment file name encodes, or `undefined` for other files. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  if (match === null) return undefined;
  const lsn = Number(match[1]);
  return Number.isSafeInteger(lsn) ? lsn : undefined;
}

/** Where a scan of a segment's records stopped. */
export type ScanEnd =
  | { kind: "end" }
  | { kind: "torn"; offset: number; reason: string }
  | { kind: "corrupt"; offset: number; reason: string };

/** One record found by {@linkcode FrameReader}. The payload is a view, valid until the next read. */
export interface Frame {
  offset: number;
  type: number;
  payload: Uint8Array;
}

/**
 * Reads the record frames of one segment file sequentially, in large chunks,
 * from `start` up to `limit` (exclusive), checking every CRC.
 */
export class FrameReader {
  #file: Deno.FsFile;
  #seed: number;
  #limit: number;
  #buffer: Uint8Array;
  /** File offset of `#buffer[0]`. */
  #base: number;
  #start = 0;
  #end = 0;
  /** Where the last read left the file position. */
  #filePos: number;
  #stop: ScanEnd | undefined;

  constructor(file: Deno.FsFile, seed: number, start: number, limit: number, chunk = 1 << 20) {
    this.#file = file;
    this.#seed = seed;
    this.#limit = limit;
    this.#buffer = new Uint8Array(Math.max(64, Math.min(chunk, limit - start)));
    this.#base = start;
    this.#filePos = start;
  }

  /** Why the scan stopped, once `next()` returned `undefined`. */
  get stop(): ScanEnd | undefined {
    return this.#stop;
  }

  /** The file offset just after the last good frame. */
  get offset(): number {
    return this.#base + this.#start;
  }

  async next(): Promise<Frame | undefined> {
    if (this.#stop !== undefined) return undefined;
    const offset = this.offset;
    const remaining = this.#limit - offset;
    if (remaining === 0) return this.#finish({ kind: "end" });
    if (remaining < RECORD_OVERHEAD) {
      return this.#finish({ kind: "torn", offset, reason: `${remaining} bytes left at the end` });
    }
    await this.#fill(RECORD_PREFIX);
    const view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset);
    const length = view.getUint32(this.#start, true);
    const type = this.#buffer[this.#start + 4];
    if (length > remaining - RECORD_OVERHEAD) {
      return this.#finish({
        kind: "torn",
        offset,
        reason: `record of ${length} bytes runs past the end (${remaining} bytes left)`,
      });
    }
    if (type === 0) return this.#finish({ kind: "corrupt", offset, reason: "record type 0" });
    const size = length + RECORD_OVERHEAD;
    await this.#fill(size);
    const buffer = this.#buffer;
    const s = this.#start;
    const end = s + RECORD_PREFIX + length;
    const stored = new DataView(buffer.buffer, buffer.byteOffset).getUint32(end, true);
    if (stored !== crc32c(buffer, this.#seed, s + 4, end)) {
      return this.#finish({ kind: "corrupt", offset, reason: "record checksum mismatch" });
    }
    this.#start += size;
    return { offset, type, payload: buffer.subarray(s + RECORD_PREFIX, end) };
  }

  #finish(stop: ScanEnd): undefined {
    this.#stop = stop;
    return undefined;
  }

  /** Makes at least `need` bytes available from `#start` (the caller checked the limit). */
  async #fill(need: number): Promise<void> {
    if (this.#end - this.#start >= need) return;
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#base += this.#start;
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (need > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(need, this.#buffer.length * 2));
      grown.set(this.#buffer.subarray(0, this.#end));
      this.#buffer = grown;
    }
    while (this.#end < need) {
      const want = Math.min(this.#buffer.length - this.#end, this.#limit - this.#filePos);
      if (want <= 0) throw new Error("Cannot read segment: file ended before its expected size");
      const read = await this.#file.read(this.#buffer.subarray(this.#end, this.#end + want));
      if (read === null) {
        throw new Error(
          `Cannot read segment: unexpected end of file at offset ${this.#filePos}`,
        );
      }
      this.#end += read;
      this.#filePos += read;
    }
  }
}
