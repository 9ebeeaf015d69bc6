// What the write-ahead log needs of its segment log beyond the public API:
// opening it with a point-in-time recovery to a record that the operation
// log cannot decode, and where a record lies (for the error that names it).
// `SegmentLog` fills these in from a static block, where its private members
// are in reach. (The log is `unknown` here: this file cannot name
// `SegmentLog` without an import circle.) Private to the WAL.

import type { SegmentLogOptions } from "./types.ts";

/** A record the operation log gives up: its LSN, and why. */
export interface DropFrom {
  lsn: number;
  reason: string;
}

export const segmentLogInternals: {
  /**
   * Opens the log with a point-in-time recovery that treats the record
   * `dropFrom.lsn` as damage: the records before it are kept, it and the
   * rest are set aside. Resolves with the `SegmentLog`.
   */
  openDroppingFrom: (
    dir: string,
    options: SegmentLogOptions,
    dropFrom: DropFrom,
  ) => Promise<unknown>;
  /** The segment file and byte offset of the record `lsn` of an open `SegmentLog`. */
  locate: (log: unknown, lsn: number) => Promise<{ path: string; offset: number }>;
} = {
  openDroppingFrom: () => Promise.reject(new Error("SegmentLog is not loaded")),
  locate: () => Promise.reject(new Error("SegmentLog is not loaded")),
};
