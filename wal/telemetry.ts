/**
 * Telemetry of the write-ahead log: fixed-bucket histograms (append
 * latency, `fdatasync` latency, group sizes, operation and handler latency
 * per type, checkpoints), counters (submissions, completions, retries, failures per
 * type) and gauges (queue depth per state, backend health, log size), as a
 * snapshot object and in the Prometheus text exposition format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using wal = await WriteAheadLog.open(dir);
 * await wal.submit("pin", { cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" });
 * const metrics = wal.telemetry.snapshot();
 * assert.equal(metrics.queue.pending, 1);
 * assert(wal.telemetry.toPrometheus().includes('ipfs_kit_wal_operations{state="pending"} 1'));
 * await wal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { Histogram, type HistogramSnapshot } from "./histogram.ts";
import type { HealthState, OperationState } from "./types.ts";

/**
 * Bucket bounds in seconds for disk latencies: 50 us to 10 s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IO_LATENCY_BUCKETS } from "@ipfs-kit/kit/wal";
 *
 * assert.equal(IO_LATENCY_BUCKETS.at(-1), 10);
 * assert(IO_LATENCY_BUCKETS.every((bound, i) => i === 0 || bound > IO_LATENCY_BUCKETS[i - 1]));
 * ```
 */
export const IO_LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
]);

/**
 * Bucket bounds in seconds for operation latencies: 1 ms to a day.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OPERATION_LATENCY_BUCKETS } from "@ipfs-kit/kit/wal";
 *
 * assert.equal(OPERATION_LATENCY_BUCKETS.at(-1), 86_400);
 * assert(OPERATION_LATENCY_BUCKETS.every((bound, i) => i === 0 || bound > OPERATION_LATENCY_BUCKETS[i - 1]));
 * ```
 */
export const OPERATION_LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  30,
  60,
  300,
  1800,
  3600,
  21600,
  86400,
]);

/**
 * Bucket bounds for the records in a commit group.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GROUP_SIZE_BUCKETS } from "@ipfs-kit/kit/wal";
 *
 * assert.equal(GROUP_SIZE_BUCKETS[0], 1);
 * assert(GROUP_SIZE_BUCKETS.every((bound, i) => i === 0 || bound > GROUP_SIZE_BUCKETS[i - 1]));
 * ```
 */
export const GROUP_SIZE_BUCKETS: readonly number[] = Object.freeze([
  1,
  2,
  4,
  8,
  16,
  32,
  64,
  128,
  256,
  512,
  1024,
  4096,
]);

/** Counters and histograms of one operation type. */
export interface OperationTypeMetrics {
  /** Operations submitted (in this process). */
  submitted: number;
  /** Handler attempts started. */
  started: number;
  /** Operations completed. */
  completed: number;
  /** Operations that failed for good. */
  failed: number;
  /** Failed attempts scheduled for another try. */
  retried: number;
  /** Operations cancelled. */
  cancelled: number;
  /** Seconds from submission to completion, of completed operations. */
  latency: HistogramSnapshot;
  /** Seconds per handler attempt, whatever its outcome. */
  handler: HistogramSnapshot;
}

/** The log's counters and size, as {@linkcode WalTelemetrySnapshot.log} reports them. */
export interface LogGauges {
  /** Records appended since the log was opened. */
  records: number;
  /** Groups written (one write call each). */
  groups: number;
  /** `fdatasync`/`fsync` calls on segment files. */
  syncs: number;
  /** Segments created by rotation. */
  rotations: number;
  /** Record bytes written, framing included. */
  bytes: number;
  /** Segment files on disk. */
  segments: number;
  /** The LSN of the oldest record on disk. */
  firstLsn: number;
  /** The LSN the next record gets. */
  nextLsn: number;
}

/** What the telemetry reads from the log when a snapshot is taken. */
export interface TelemetryGauges {
  /** The segment log's counters and size. */
  log: LogGauges;
  /** How many operations are in each state. */
  queue: Record<OperationState, number>;
  /** The backend's health as the running processor sees it; `undefined` when none runs. */
  health: HealthState | undefined;
}

/** What {@linkcode WalTelemetry.snapshot} returns. */
export interface WalTelemetrySnapshot {
  /** Seconds from `append` to acknowledgement, split by whether the record was to be synced. */
  append: {
    /** Records acknowledged once durable as the sync policy says (write and `fdatasync`). */
    durable: HistogramSnapshot;
    /** Records acknowledged once written (no `fdatasync` asked). */
    buffered: HistogramSnapshot;
  };
  /** Records per commit group (one write, at most one `fdatasync`). */
  groupSize: HistogramSnapshot;
  /**
   * Seconds per `fdatasync` (or `fsync`) of a segment file: one observation
   * per sync that `log.syncs` counts (group commits, rotation, close).
   */
  fsync: HistogramSnapshot;
  /** The segment log's counters and size. */
  log: LogGauges;
  /** Queue depth: operations per state. */
  queue: Record<OperationState, number>;
  /** Counters and latencies per operation type. */
  operations: Record<string, OperationTypeMetrics>;
  /** Checkpoints (snapshots of the live operations, then compaction). */
  checkpoints: {
    /** Checkpoints written. */
    count: number;
    /** Checkpoints that failed (nothing was compacted then). */
    failures: number;
    /** Segment files removed by compaction. */
    segmentsRemoved: number;
    /** Operations written by the last checkpoint. */
    lastOperations: number;
    /** Seconds per checkpoint, compaction included. */
    duration: HistogramSnapshot;
  };
  /** The backend's health as the processor sees it. */
  health: {
    /** The current state; `undefined` when no processor runs. */
    state: HealthState | undefined;
    /** Health checks that passed. */
    checksOk: number;
    /** Health checks that failed (probes, and handler calls that found the backend unreachable). */
    checksFailed: number;
    /** Changes of state. */
    transitions: number;
  };
  /** State changes that could not be written (the disk was full); a checkpoint writes them later. */
  persistErrors: number;
}

/** The events the log and the processor report; see {@linkcode WalTelemetry.record}. */
export type OperationEvent =
  | "submitted"
  | "started"
  | "completed"
  | "failed"
  | "retried"
  | "cancelled";

interface TypeAccumulator {
  counts: Record<OperationEvent, number>;
  latency: Histogram;
  handler: Histogram;
}

const EVENTS: readonly OperationEvent[] = [
  "submitted",
  "started",
  "completed",
  "failed",
  "retried",
  "cancelled",
];
const PREFIX = "ipfs_kit_wal_";

/**
 * The label value of the operation types counted past
 * {@linkcode WalTelemetryOptions.maxTypes}: types come from users (any
 * string up to 256 characters), so the metrics keep at most that many
 * apart and count the rest together under this one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OTHER_OPERATION_TYPE } from "@ipfs-kit/kit/wal";
 *
 * assert.equal(OTHER_OPERATION_TYPE, "_other");
 * ```
 */
export const OTHER_OPERATION_TYPE = "_other";

/** Options of {@linkcode WalTelemetry}. */
export interface WalTelemetryOptions {
  /**
   * The most operation types counted apart, in the snapshot and as
   * Prometheus label values; later types are counted as
   * {@linkcode OTHER_OPERATION_TYPE}. Default 64.
   */
  maxTypes?: number;
}

/**
 * The telemetry of one {@linkcode WriteAheadLog} (`wal.telemetry`): it
 * counts what the log and its processor report and reads gauges when asked
 * for a snapshot. Numbers cover the time since the log was opened, except
 * the gauges, which are current.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WalTelemetry } from "@ipfs-kit/kit/wal";
 *
 * const telemetry = new WalTelemetry(() => ({
 *   log: { records: 0, groups: 0, syncs: 0, rotations: 0, bytes: 0, segments: 1, firstLsn: 1, nextLsn: 1 },
 *   queue: { pending: 0, processing: 0, retrying: 0, completed: 0, failed: 0, cancelled: 0 },
 *   health: undefined,
 * }));
 * telemetry.record("add", "submitted");
 * assert.equal(telemetry.snapshot().operations.add.submitted, 1);
 * assert(telemetry.toPrometheus().includes('ipfs_kit_wal_operations_submitted_total{type="add"} 1'));
 * ```
 */
export class WalTelemetry {
  readonly #gauges: () => TelemetryGauges;
  readonly #durable = new Histogram(IO_LATENCY_BUCKETS);
  readonly #buffered = new Histogram(IO_LATENCY_BUCKETS);
  readonly #groupSize = new Histogram(GROUP_SIZE_BUCKETS);
  readonly #fsync = new Histogram(IO_LATENCY_BUCKETS);
  readonly #checkpointSeconds = new Histogram(IO_LATENCY_BUCKETS);
  readonly #types = new Map<string, TypeAccumulator>();
  readonly #maxTypes: number;
  #checkpoints = 0;
  #checkpointFailures = 0;
  #segmentsRemoved = 0;
  #lastCheckpointOperations = 0;
  #checksOk = 0;
  #checksFailed = 0;
  #transitions = 0;
  #persistErrors = 0;

  /**
   * Creates the telemetry.
   *
   * @param gauges Read on every snapshot: the log's size and counters, the
   * queue depth per state and the backend's health.
   * @param options How many operation types are counted apart.
   */
  constructor(gauges: () => TelemetryGauges, options: WalTelemetryOptions = {}) {
    if (typeof gauges !== "function") {
      throw new TypeError(
        `Cannot create telemetry: gauges must be a function: received ${typeof gauges}`,
      );
    }
    const maxTypes = options?.maxTypes ?? 64;
    if (!Number.isSafeInteger(maxTypes) || maxTypes < 1 || maxTypes > 10_000) {
      throw new RangeError(
        `Cannot create telemetry: maxTypes must be an integer from 1 to 10000: received ${maxTypes}`,
      );
    }
    this.#gauges = gauges;
    this.#maxTypes = maxTypes;
  }

  /**
   * Records an append's latency.
   *
   * @param durable Whether the record was to be synced.
   * @param seconds From the call to the acknowledgement.
   */
  recordAppend(durable: boolean, seconds: number): void {
    (durable ? this.#durable : this.#buffered).observe(seconds);
  }

  /**
   * Records commit groups: `records` records in `groups` groups written since
   * the last call (their mean size is recorded `groups` times). Where each
   * group is known, {@linkcode WalTelemetry.recordGroup} is exact.
   *
   * @param groups How many groups.
   * @param records How many records they held.
   */
  recordGroups(groups: number, records: number): void {
    if (!(groups > 0)) return;
    const mean = records / groups;
    for (let i = 0; i < groups; i++) this.#groupSize.observe(mean);
  }

  /**
   * Records one commit group.
   *
   * @param records How many records it held.
   */
  recordGroup(records: number): void {
    this.#groupSize.observe(records);
  }

  /**
   * Records one `fdatasync` (or `fsync`) of a segment file.
   *
   * @param seconds How long it took.
   */
  recordSync(seconds: number): void {
    this.#fsync.observe(seconds);
  }

  /**
   * Counts an event of an operation of `type`; `seconds` adds to the type's
   * latency histogram (for `"completed"`: since submission).
   *
   * @param type The operation type.
   * @param event What happened.
   * @param seconds The latency, for `"completed"`.
   */
  record(type: string, event: OperationEvent, seconds?: number): void {
    const accumulator = this.#type(type);
    accumulator.counts[event]++;
    if (event === "completed" && seconds !== undefined) accumulator.latency.observe(seconds);
  }

  /**
   * Records how long one handler attempt took.
   *
   * @param type The operation type.
   * @param seconds The attempt's duration.
   */
  recordHandler(type: string, seconds: number): void {
    this.#type(type).handler.observe(seconds);
  }

  /**
   * Records a checkpoint.
   *
   * @param ok Whether it was written (and compaction ran).
   * @param operations How many operations it wrote.
   * @param segmentsRemoved How many segment files compaction removed.
   * @param seconds How long it took.
   */
  recordCheckpoint(
    ok: boolean,
    operations: number,
    segmentsRemoved: number,
    seconds: number,
  ): void {
    if (!ok) {
      this.#checkpointFailures++;
      return;
    }
    this.#checkpoints++;
    this.#lastCheckpointOperations = operations;
    this.#segmentsRemoved += segmentsRemoved;
    this.#checkpointSeconds.observe(seconds);
  }

  /**
   * Records a health check.
   *
   * @param ok Whether it passed.
   * @param changed Whether the health state changed because of it.
   */
  recordHealthCheck(ok: boolean, changed: boolean): void {
    if (ok) this.#checksOk++;
    else this.#checksFailed++;
    if (changed) this.#transitions++;
  }

  /** Counts a state change that could not be written. */
  recordPersistError(): void {
    this.#persistErrors++;
  }

  /**
   * The current numbers.
   *
   * @returns Histograms, counters and gauges.
   */
  snapshot(): WalTelemetrySnapshot {
    const gauges = this.#gauges();
    const operations: Record<string, OperationTypeMetrics> = {};
    for (const [type, accumulator] of [...this.#types].sort(([a], [b]) => compare(a, b))) {
      operations[type] = {
        ...accumulator.counts,
        latency: accumulator.latency.snapshot(),
        handler: accumulator.handler.snapshot(),
      };
    }
    return {
      append: { durable: this.#durable.snapshot(), buffered: this.#buffered.snapshot() },
      groupSize: this.#groupSize.snapshot(),
      fsync: this.#fsync.snapshot(),
      log: { ...gauges.log },
      queue: { ...gauges.queue },
      operations,
      checkpoints: {
        count: this.#checkpoints,
        failures: this.#checkpointFailures,
        segmentsRemoved: this.#segmentsRemoved,
        lastOperations: this.#lastCheckpointOperations,
        duration: this.#checkpointSeconds.snapshot(),
      },
      health: {
        state: gauges.health,
        checksOk: this.#checksOk,
        checksFailed: this.#checksFailed,
        transitions: this.#transitions,
      },
      persistErrors: this.#persistErrors,
    };
  }

  /**
   * The current numbers in the Prometheus text exposition format (version
   * 0.0.4): `# HELP` and `# TYPE` lines, then samples; histograms as
   * `_bucket{le="..."}`, `_sum` and `_count`. Metric names start with
   * `ipfs_kit_wal_`.
   *
   * @returns The exposition text, ending with a newline.
   */
  toPrometheus(): string {
    const s = this.snapshot();
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => {
      out.push(`# HELP ${PREFIX}${name} ${escapeHelp(help)}`, `# TYPE ${PREFIX}${name} ${type}`);
    };
    const sample = (name: string, labels: Record<string, string>, value: number) => {
      out.push(`${PREFIX}${name}${formatLabels(labels)} ${formatNumber(value)}`);
    };
    const histogram = (name: string, labels: Record<string, string>, h: HistogramSnapshot) => {
      for (const bucket of h.buckets) {
        sample(`${name}_bucket`, { ...labels, le: formatNumber(bucket.le) }, bucket.count);
      }
      sample(`${name}_sum`, labels, h.sum);
      sample(`${name}_count`, labels, h.count);
    };

    family(
      "append_seconds",
      "histogram",
      "Time from append to acknowledgement; durable: written and synced as the sync policy says.",
    );
    histogram("append_seconds", { durable: "true" }, s.append.durable);
    histogram("append_seconds", { durable: "false" }, s.append.buffered);
    family(
      "group_records",
      "histogram",
      "Records per commit group (one write, at most one fdatasync).",
    );
    histogram("group_records", {}, s.groupSize);
    family(
      "fsync_seconds",
      "histogram",
      "Time per fdatasync (or fsync) of a segment file: group commits, rotation, close.",
    );
    histogram("fsync_seconds", {}, s.fsync);

    const logCounters: Array<[keyof LogGauges, string]> = [
      ["records", "Records appended since the log was opened."],
      ["groups", "Commit groups written since the log was opened."],
      ["syncs", "fdatasync and fsync calls on segment files since the log was opened."],
      ["rotations", "Segments created by rotation since the log was opened."],
      ["bytes", "Record bytes written since the log was opened, framing included."],
    ];
    for (const [key, help] of logCounters) {
      family(`${key}_total`, "counter", help);
      sample(`${key}_total`, {}, s.log[key]);
    }
    family("segments", "gauge", "Segment files on disk.");
    sample("segments", {}, s.log.segments);
    family("next_lsn", "gauge", "The log sequence number the next record gets.");
    sample("next_lsn", {}, s.log.nextLsn);

    family("operations", "gauge", "Operations in the log, by state (queue depth).");
    for (const [state, count] of Object.entries(s.queue)) sample("operations", { state }, count);

    const counters: Array<[OperationEvent, string, string]> = [
      ["submitted", "operations_submitted_total", "Operations submitted, by type."],
      ["started", "operations_started_total", "Handler attempts started, by type."],
      ["completed", "operations_completed_total", "Operations completed, by type."],
      ["failed", "operations_failed_total", "Operations failed for good, by type."],
      ["retried", "operations_retries_total", "Failed attempts scheduled for a retry, by type."],
      ["cancelled", "operations_cancelled_total", "Operations cancelled, by type."],
    ];
    const types = Object.entries(s.operations);
    for (const [event, name, help] of counters) {
      family(name, "counter", help);
      for (const [type, metrics] of types) sample(name, { type }, metrics[event]);
    }
    family(
      "operation_seconds",
      "histogram",
      "Time from submission to completion of completed operations, by type.",
    );
    for (const [type, metrics] of types) histogram("operation_seconds", { type }, metrics.latency);
    family("handler_seconds", "histogram", "Time per handler attempt, by type.");
    for (const [type, metrics] of types) histogram("handler_seconds", { type }, metrics.handler);

    family("checkpoints_total", "counter", "Checkpoints written.");
    sample("checkpoints_total", {}, s.checkpoints.count);
    family("checkpoint_failures_total", "counter", "Checkpoints that failed.");
    sample("checkpoint_failures_total", {}, s.checkpoints.failures);
    family("compacted_segments_total", "counter", "Segment files removed by compaction.");
    sample("compacted_segments_total", {}, s.checkpoints.segmentsRemoved);
    family("checkpoint_seconds", "histogram", "Time per checkpoint, compaction included.");
    histogram("checkpoint_seconds", {}, s.checkpoints.duration);

    family(
      "health",
      "gauge",
      "The backend's health as the processor sees it (1 for the current state).",
    );
    for (const state of ["online", "degraded", "offline"]) {
      sample("health", { state }, s.health.state === state ? 1 : 0);
    }
    family("health_checks_total", "counter", "Health checks, by result.");
    sample("health_checks_total", { result: "ok" }, s.health.checksOk);
    sample("health_checks_total", { result: "failed" }, s.health.checksFailed);
    family("health_transitions_total", "counter", "Changes of the health state.");
    sample("health_transitions_total", {}, s.health.transitions);
    family(
      "persist_errors_total",
      "counter",
      "State changes that could not be written (disk full); a checkpoint writes them later.",
    );
    sample("persist_errors_total", {}, s.persistErrors);
    return out.join("\n") + "\n";
  }

  #type(type: string): TypeAccumulator {
    let accumulator = this.#types.get(type);
    if (accumulator === undefined && this.#types.size >= this.#maxTypes) {
      // A bounded label set: one more type past the cap is counted with the others.
      type = OTHER_OPERATION_TYPE;
      accumulator = this.#types.get(type);
    }
    if (accumulator === undefined) {
      accumulator = {
        counts: Object.fromEntries(EVENTS.map((event) => [event, 0])) as Record<
          OperationEvent,
          number
        >,
        latency: new Histogram(OPERATION_LATENCY_BUCKETS),
        handler: new Histogram(OPERATION_LATENCY_BUCKETS),
      };
      this.#types.set(type, accumulator);
    }
    return accumulator;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A number as Prometheus writes it: `+Inf`, `-Inf`, `NaN` or a Go-style float. */
function formatNumber(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",")}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
