// Checkpoints of the write-ahead log: once no other record is in flight
// (new ones wait), finished operations whose retention ran out are dropped
// and a run of records is written, begin, one snapshot per operation kept,
// end; once the end is durable the segments before the begin are removed
// (compaction). Replay starts from the last complete checkpoint. Private to
// the WAL.

import { CancelScope } from "../runtime/cancel_scope.ts";
import type { Entry } from "./_entry.ts";
import {
  CHECKPOINT_BEGIN,
  CHECKPOINT_END,
  encodeCheckpointBegin,
  encodeCheckpointEnd,
  encodeSnapshot,
  SNAPSHOT,
} from "./_records.ts";
import type { RecordWriter } from "./_record_writer.ts";
import { WalClosedError, WalDiskFullError, WalError } from "./errors.ts";
import { segmentLogInternals } from "./_segment_log_internals.ts";
import type { SegmentLog } from "./segment_log.ts";
import type { WalTelemetry } from "./telemetry.ts";
import type { AppendResult, CheckpointResult } from "./types.ts";

/** What a checkpoint uses of an open log. */
export interface CheckpointTarget {
  /** Whether the log is closing. */
  readonly closed: boolean;
  readonly log: SegmentLog;
  readonly writer: RecordWriter;
  readonly telemetry: WalTelemetry;
  /** Wall-clock ms, as the log keeps its times. */
  now(): number;
  /** Drops the finished operations whose retention ran out; returns how many. */
  prune(): number;
  /** The operations the log holds. */
  entries(): Iterable<Entry>;
}

/**
 * Writes a checkpoint of `target`, then compacts the segment log.
 *
 * @throws {WalDiskFullError} The checkpoint could not be written; nothing was removed.
 * @throws {WalFailedError} The log failed.
 * @throws {WalClosedError} The log is closing.
 */
export async function writeCheckpoint(target: CheckpointTarget): Promise<CheckpointResult> {
  if (target.closed) throw new WalClosedError("Cannot write checkpoint: the log is closed");
  const { log, writer, telemetry } = target;
  const started = performance.now();
  const release = writer.hold();
  try {
    while (writer.inflight > 0) await writer.quiet().wait();
    const failure = log.failure;
    if (failure !== undefined) throw failure;
    const dropped = target.prune();
    const entries = [...target.entries()];
    const lsn = log.nextLsn;
    const records: Uint8Array[] = [encodeCheckpointBegin(lsn, entries.length, target.now())];
    const versions: number[] = [];
    for (const entry of entries) {
      records.push(encodeSnapshot(lsn, entry));
      versions.push(entry.version);
    }
    records.push(encodeCheckpointEnd(lsn, entries.length));
    // Shielded: a record of the checkpoint must not be dropped once the first is queued.
    const results = await new CancelScope({ shield: true }).run(() => {
      const appends: Promise<AppendResult>[] = records.map((bytes, i) =>
        segmentLogInternals.appendOwned(
          log,
          i === 0 ? CHECKPOINT_BEGIN : i === records.length - 1 ? CHECKPOINT_END : SNAPSHOT,
          bytes,
          { durable: i === records.length - 1 },
        )
      );
      release();
      return Promise.allSettled(appends);
    });
    const rejected = results!.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (rejected !== undefined) {
      telemetry.recordCheckpoint(false, 0, 0, 0);
      const cause = rejected.reason;
      if (cause instanceof WalDiskFullError) {
        throw new WalDiskFullError("Cannot write checkpoint: the disk is full", { cause });
      }
      throw cause;
    }
    const lsns = results!.map((r) => (r as PromiseFulfilledResult<AppendResult>).value.lsn);
    if (lsns.some((value, i) => value !== lsn + i)) {
      telemetry.recordCheckpoint(false, 0, 0, 0);
      throw new WalError(
        `Cannot write checkpoint: its records are not contiguous: expected LSNs from ${lsn}, received ${
          lsns[0]
        } to ${lsns.at(-1)}`,
      );
    }
    let bytes = 0;
    for (const record of records) bytes += record.length;
    for (let i = 0; i < entries.length; i++) {
      if (entries[i].version === versions[i]) entries[i].unsynced = false;
    }
    writer.checkpointWritten(bytes);
    const segmentsRemoved = await log.compact(lsn);
    telemetry.recordCheckpoint(
      true,
      entries.length,
      segmentsRemoved,
      (performance.now() - started) / 1000,
    );
    return { lsn, operations: entries.length, dropped, segmentsRemoved };
  } finally {
    release();
  }
}
