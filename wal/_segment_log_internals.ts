// What the write-ahead log needs of its segment log beyond the public API:
// appending its own records without the copy `append()` takes (they are
// fresh buffers it does not change before the append settles), opening the
// log with a point-in-time recovery to a record that the operation log
// cannot decode, and where a record lies (for the error that names it).
// `SegmentLog` fills these in from a static block, where its private members
// are in reach. (The log is `unknown` here: this file cannot name
// `SegmentLog` without an import circle.) Private to the WAL.

import type { AppendOptions, AppendResult, SegmentLogOptions } from "./types.ts";

/** A record the operation log gives up: its LSN, and why. */
export interface DropFrom {
  lsn: number;
  reason: string;
}

export const segmentLogInternals: {
  /**
   * `SegmentLog.append` of a `SegmentLog`, without the copy: `bytes` (a
   * `Uint8Array`, `type` from 1 to 255, as the caller guarantees) must not
   * change until the append settles.
   */
  appendOwned: (
    log: unknown,
    type: number,
    bytes: Uint8Array,
    options?: AppendOptions,
  ) => Promise<AppendResult>;
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
  appendOwned: () => Promise.reject(new Error("SegmentLog is not loaded")),
  openDroppingFrom: () => Promise.reject(new Error("SegmentLog is not loaded")),
  locate: () => Promise.reject(new Error("SegmentLog is not loaded")),
};
