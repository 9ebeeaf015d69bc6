// Fault injection for the WAL's tests: hooks the log calls before each write
// and each fdatasync/fsync. A hook may throw to make that call fail, or wait
// to hold it up. Empty in normal use; private to the WAL.

/** Hooks consulted by the segment log; unset ones cost one property read. */
export interface FaultHooks {
  /** Before writing `data` to the file at `path`. */
  beforeWrite?: (path: string, data: Uint8Array) => void | Promise<void>;
  /** Before an `fdatasync`/`fsync` of the file or directory at `path`. */
  beforeSync?: (path: string) => void | Promise<void>;
}

/** The hooks in force. Tests set and clear them. */
export const faults: FaultHooks = {};
