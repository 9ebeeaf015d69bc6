// The LSN limit: a durable high-water mark of the LSNs a segment log may
// have handed out, kept apart from the segments so that it survives their
// damage. The file `LSNLIMIT` holds a limit that no LSN handed out ever
// reaches: before a segment takes records, the log makes sure the limit is
// past the most records that segment can hold (its base LSN plus one record
// per 9 bytes of the segment size), writing the file whole (temp file,
// fsync, rename, directory fsync) when it is not. That is one small write
// per segment: a few syncs per 64 MiB of records.
//
// A point-in-time recovery goes on from at least the limit, so that even a
// segment truncated or lost along with its header leaves no LSN to be handed
// out twice. Without the file (a log of an earlier version, or the file
// damaged) recovery falls back on what the segment files show.
//
// The file, 32 bytes, little-endian: magic `ipfsklim` 8, version 1 (u16),
// reserved 2, log id 8, limit 8, CRC32C of bytes 0 to 27 4. Private to the WAL.

import { crc32c } from "./_crc32c.ts";
import { HEADER_SIZE, RECORD_OVERHEAD } from "./_frame.ts";
import { IoFailure, join, syncDir, syncFile } from "./_segment_files.ts";

export const LSN_LIMIT_FILE = "LSNLIMIT";
const MAGIC = new TextEncoder().encode("ipfsklim");
const SIZE = 32;

/**
 * The most records a segment of `segmentSize` bytes can hold, its header of
 * `headerSize` bytes included (a record larger than that gets a segment of
 * its own).
 */
export function mostRecordsPerSegment(segmentSize: number, headerSize = HEADER_SIZE): number {
  return Math.max(1, Math.floor((segmentSize - headerSize) / RECORD_OVERHEAD));
}

/** The limit the file in `dir` holds, and the log's id, or `undefined` if none can be read. */
export async function readLsnLimit(
  dir: string,
): Promise<{ logId: bigint; limit: number } | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(join(dir, LSN_LIMIT_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (bytes.length !== SIZE) return undefined;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, SIZE);
  if (view.getUint32(28, true) !== crc32c(bytes, 0, 0, 28)) return undefined;
  if (view.getUint16(8, true) !== 1) return undefined;
  const limit = view.getBigUint64(20, true);
  if (limit > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { logId: view.getBigUint64(12, true), limit: Number(limit) };
}

/**
 * Writes the limit whole: temp file, fsync, rename, directory fsync.
 *
 * @throws {IoFailure} A failed sync is fatal; another failure (a full disk)
 * is not, and leaves the previous limit in place.
 */
export async function writeLsnLimit(dir: string, logId: bigint, limit: number): Promise<void> {
  const bytes = new Uint8Array(SIZE);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint16(8, 1, true);
  view.setBigUint64(12, logId, true);
  view.setBigUint64(20, BigInt(limit), true);
  view.setUint32(28, crc32c(bytes, 0, 0, 28), true);
  const path = join(dir, LSN_LIMIT_FILE);
  const temp = `${path}.tmp`;
  /** The sync under way, if any: its failure is fatal. */
  let syncing: string | undefined;
  try {
    await Deno.remove(temp).catch(() => {});
    using file = await Deno.open(temp, { write: true, createNew: true });
    let data = bytes;
    while (data.length > 0) data = data.subarray(await file.write(data));
    syncing = `fsync of ${temp}`;
    await syncFile(file, temp, true);
    syncing = undefined;
    await Deno.rename(temp, path);
    syncing = `fsync of directory ${dir}`;
    await syncDir(dir);
  } catch (error) {
    if (syncing === undefined) await Deno.remove(temp).catch(() => {});
    throw new IoFailure(syncing ?? `cannot write ${path}`, syncing !== undefined, error);
  }
}
