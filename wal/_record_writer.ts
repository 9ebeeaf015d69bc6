// The write-ahead log's appends to its segment log: counted while in flight,
// so that a checkpoint can wait until none is; held back at a gate while a
// checkpoint queues its records; timed for the telemetry; and counted in
// bytes, which tell when the next checkpoint is due. Private to the WAL.

import { Event } from "../runtime/event.ts";
import { segmentLogInternals } from "./_segment_log_internals.ts";
import type { SegmentLog } from "./segment_log.ts";
import type { WalTelemetry } from "./telemetry.ts";
import type { AppendOptions, SegmentLogObserver } from "./types.ts";

/** Append options of a record to sync under the `"always"` and `"group"` policies. */
export const DURABLE: AppendOptions = Object.freeze({ durable: true });
const BUFFERED: AppendOptions = Object.freeze({ durable: false });

/**
 * The log's observer of its segment log: feeds the group and sync reports to
 * the telemetry (once there is one) and notes when a group was acknowledged.
 */
export class LogObserver implements SegmentLogObserver {
  /** Set once the log's telemetry exists. */
  telemetry: WalTelemetry | undefined;
  /**
   * When the segment log last acknowledged a group (`performance.now()`):
   * the end of its appends. One clock read per group, not per record.
   */
  ackedAt = 0;

  /** A group was written (and synced, if it was to be). */
  group(records: number): void {
    this.ackedAt = performance.now();
    this.telemetry?.recordGroup(records);
  }

  /** An `fdatasync` finished. */
  sync(seconds: number): void {
    this.telemetry?.recordSync(seconds);
  }
}

/** What a {@linkcode RecordWriter} writes to and reports to. */
export interface RecordWriterOptions {
  log: SegmentLog;
  observer: LogObserver;
  telemetry: WalTelemetry;
  /** Bytes appended after which a checkpoint is due (at least twice what the last one wrote). */
  checkpointBytes: number;
}

/** Appends the log's records; see the file's header. */
export class RecordWriter {
  readonly #log: SegmentLog;
  readonly #observer: LogObserver;
  readonly #telemetry: WalTelemetry;
  readonly #checkpointBytes: number;
  /** Appends in flight. */
  #inflight = 0;
  /** Set when `#inflight` drops to zero. */
  #quiet: Event | undefined;
  /** Present while a checkpoint waits for quiet: new appends wait for it. */
  #gate: Event | undefined;
  #bytesSinceCheckpoint = 0;
  #lastCheckpointBytes = 0;
  #checkpointWanted: Event | undefined;

  constructor(options: RecordWriterOptions) {
    this.#log = options.log;
    this.#observer = options.observer;
    this.#telemetry = options.telemetry;
    this.#checkpointBytes = options.checkpointBytes;
  }

  /** Present while a checkpoint holds new appends back: wait for it before appending. */
  get gate(): Event | undefined {
    return this.#gate;
  }

  /** An append starts: it is in flight until {@linkcode RecordWriter.leave}. */
  enter(): void {
    this.#inflight++;
  }

  /** An append is no longer in flight. */
  leave(): void {
    if (--this.#inflight === 0 && this.#quiet !== undefined) {
      const quiet = this.#quiet;
      this.#quiet = undefined;
      quiet.set();
    }
  }

  /**
   * Accounts for an acknowledged append of `length` bytes that started at
   * `started` (`performance.now()`).
   */
  appended(durable: boolean, started: number, length: number): void {
    const ended = this.#observer.ackedAt;
    this.#telemetry.recordAppend(durable, Math.max(0, ended - started) / 1000);
    this.#bytesSinceCheckpoint += length;
    if (this.#checkpointWanted !== undefined && this.checkpointDue()) {
      const wanted = this.#checkpointWanted;
      this.#checkpointWanted = undefined;
      wanted.set();
    }
  }

  /** Appends a record, after any checkpoint in progress; returns its LSN. */
  async append(type: number, bytes: Uint8Array, durable: boolean): Promise<number> {
    while (this.#gate !== undefined) await this.#gate.wait();
    this.#inflight++;
    const started = performance.now();
    try {
      const { lsn } = await segmentLogInternals.appendOwned(
        this.#log,
        type,
        bytes,
        durable ? DURABLE : BUFFERED,
      );
      this.appended(durable, started, bytes.length);
      return lsn;
    } finally {
      this.leave();
    }
  }

  /** Holds new appends back until the returned function (idempotent) is called. */
  hold(): () => void {
    const gate = new Event();
    this.#gate = gate;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#gate = undefined;
      gate.set();
    };
  }

  /** Appends in flight. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Set once no append is in flight; a new event after each. */
  quiet(): Event {
    return this.#quiet ??= new Event();
  }

  /** Whether enough was appended since the last checkpoint to write another. */
  checkpointDue(): boolean {
    return this.#bytesSinceCheckpoint >=
      Math.max(this.#checkpointBytes, 2 * this.#lastCheckpointBytes);
  }

  /** Set once a checkpoint is due; a new event after each. */
  checkpointWanted(): Event {
    return this.#checkpointWanted ??= new Event();
  }

  /** A checkpoint of `bytes` was written: the count starts again. */
  checkpointWritten(bytes: number): void {
    this.#lastCheckpointBytes = bytes;
    this.#bytesSinceCheckpoint = 0;
  }
}
