// Replay: how opening the write-ahead log folds the records of its segment
// log into the table of operations. A complete checkpoint replaces what came
// before it, a partial one (cut by a crash or a full disk) is ignored, and
// an operation found `processing` was interrupted by a crash: it goes back
// to `pending`. Private to the WAL.

import { decodeValue } from "./_codec.ts";
import { type Entry, newEntry } from "./_entry.ts";
import { describeError } from "./_error_text.ts";
import {
  applyRecord,
  CHECKPOINT_BEGIN,
  CHECKPOINT_END,
  SNAPSHOT,
  SUBMIT,
  TRANSITION,
} from "./_records.ts";
import { UlidGenerator } from "./_ulid.ts";
import { WalCorruptionError } from "./errors.ts";
import type { SegmentLog } from "./segment_log.ts";
import type { WalRecoveryReport } from "./types.ts";

/**
 * A record that passed its checksum but cannot be applied (it does not
 * decode, or has an unknown type or state): damage of the operation log,
 * which `WriteAheadLog.open` handles as its recovery mode says.
 */
export class UndecodableRecord extends Error {
  constructor(readonly lsn: number, readonly reason: string, options?: ErrorOptions) {
    super(`Cannot open log: record ${lsn} ${reason}`, options);
    this.name = "UndecodableRecord";
  }
}

/** What replay found: the table, the id generator past every id seen, the report. */
export interface Replayed {
  table: Map<string, Entry>;
  ids: UlidGenerator;
  report: Omit<WalRecoveryReport, "log">;
}

interface Collecting {
  lsn: number;
  count: number;
  table: Map<string, Entry>;
}

/**
 * Folds the log's records into the table of operations.
 *
 * @throws {UndecodableRecord} A record cannot be decoded, or has an unknown type or state.
 */
export async function replay(log: SegmentLog): Promise<Replayed> {
  let table = new Map<string, Entry>();
  const ids = new UlidGenerator();
  let records = 0;
  let checkpointLsn: number | undefined;
  let incompleteCheckpoints = 0;
  let collecting: Collecting | undefined;
  for await (const record of log.replay()) {
    records++;
    let value: Record<string, unknown>;
    try {
      value = decodeValue(record.payload) as Record<string, unknown>;
      if (value === null || typeof value !== "object") throw new Error("not an object");
    } catch (error) {
      throw new UndecodableRecord(
        record.lsn,
        `(type ${record.type}) cannot be decoded: ${describeError(error)}`,
        { cause: error },
      );
    }
    try {
      if (collecting !== undefined && record.type !== SNAPSHOT && record.type !== CHECKPOINT_END) {
        collecting = undefined;
        incompleteCheckpoints++;
      }
      switch (record.type) {
        case SUBMIT: {
          const id = String(value.id);
          if (!table.has(id)) {
            table.set(
              id,
              newEntry(
                id,
                String(value.type),
                value.params,
                Number(value.maxAttempts),
                Number(value.at),
              ),
            );
          }
          ids.observe(id);
          break;
        }
        case TRANSITION: {
          const entry = table.get(String(value.id));
          if (entry !== undefined && Number(value.v) > entry.version) applyRecord(entry, value);
          break;
        }
        case CHECKPOINT_BEGIN:
          if (collecting !== undefined) incompleteCheckpoints++;
          collecting = { lsn: record.lsn, count: Number(value.count), table: new Map() };
          if (value.cp !== record.lsn) {
            collecting = undefined;
            incompleteCheckpoints++;
          }
          break;
        case SNAPSHOT:
          if (
            collecting === undefined || value.cp !== collecting.lsn ||
            record.lsn !== collecting.lsn + 1 + collecting.table.size
          ) {
            if (collecting !== undefined) incompleteCheckpoints++;
            collecting = undefined;
            break;
          }
          {
            const id = String(value.id);
            const entry = newEntry(
              id,
              String(value.type),
              value.params,
              Number(value.maxAttempts),
              Number(value.createdAt),
            );
            applyRecord(entry, value);
            collecting.table.set(id, entry);
            ids.observe(id);
          }
          break;
        case CHECKPOINT_END:
          if (
            collecting !== undefined && value.cp === collecting.lsn &&
            value.count === collecting.count && collecting.table.size === collecting.count &&
            record.lsn === collecting.lsn + collecting.count + 1
          ) {
            table = collecting.table;
            checkpointLsn = collecting.lsn;
          } else if (collecting !== undefined) incompleteCheckpoints++;
          collecting = undefined;
          break;
        default:
          throw new UndecodableRecord(record.lsn, `has an unknown type: ${record.type}`);
      }
    } catch (error) {
      // An unknown operation state (from `applyRecord`).
      if (!(error instanceof WalCorruptionError)) throw error;
      throw new UndecodableRecord(record.lsn, `(type ${record.type}): ${error.message}`, {
        cause: error,
      });
    }
  }
  if (collecting !== undefined) incompleteCheckpoints++;
  let requeued = 0;
  for (const entry of table.values()) {
    if (entry.state === "processing") {
      entry.state = "pending";
      requeued++;
    }
  }
  return {
    table,
    ids,
    report: { records, operations: table.size, requeued, checkpointLsn, incompleteCheckpoints },
  };
}
