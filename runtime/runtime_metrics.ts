/**
 * The runtime's instrumentation for a whole process, per scheduling strategy:
 * every run that ended, plus the runs still going (code outside any `run()`
 * counts under the eager strategy). Readable as a snapshot and as Prometheus
 * text, for a daemon's `/metrics`.
 *
 * @module
 */

import {
  addCounters,
  DELAY_BUCKETS_MS,
  emptyCounters,
  liveRuntimes,
  retiredCounters,
  type RuntimeCounters,
} from "./_runtime.ts";

/** The built-in strategies are always labelled by name; this many others at most. */
const BUILT_IN = new Set(["eager", "fair", "shuffle"]);
const MAX_CUSTOM_LABELS = 13;

/** The runtime's counters for one strategy, over every run of it in this process. */
export interface StrategyMetrics {
  /** The strategy's name (a custom one past the 13th counts as `"other"`). */
  strategy: string;
  /** Runs started with it (the default runtime outside any `run()` counts as one). */
  runs: number;
  /** Runs going on now. */
  runsLive: number;
  /** Tasks spawned or started in task groups. */
  tasksSpawned: number;
  /** Tasks that finished, whatever the outcome. */
  tasksFinished: number;
  /** Tasks running now. */
  tasksLive: number;
  /** Checkpoints passed (calls to `checkpoint()` and blocking calls). */
  checkpoints: number;
  /** Cancel scopes cancelled, by hand or by a deadline. */
  scopesCancelled: number;
  /** Deadlines that passed before their scope exited (timeouts that hit). */
  deadlinesExpired: number;
  /** How late the latest-firing deadline was, in milliseconds of the run's clock. */
  deadlineLatenessMaxMs: number;
  /**
   * How long ready tasks waited to run (every macrotask wait of the fair and
   * shuffle strategies, one task start in 64), in milliseconds: cumulative
   * counts per upper bound, as Prometheus histograms have them.
   */
  schedulingDelay: {
    buckets: { le: number; count: number }[];
    count: number;
    sumMs: number;
    maxMs: number;
  };
}

/**
 * A snapshot of the runtime's counters per strategy, sorted by name.
 *
 * @returns One entry per strategy that ran.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { moveOnAfter, run, runtimeMetrics, sleepForever } from "@ipfs-kit/kit/runtime";
 *
 * await run(() => moveOnAfter(1, () => sleepForever()), { strategy: "fair" });
 * const fair = runtimeMetrics().find((m) => m.strategy === "fair")!;
 * assert(fair.runs >= 1);
 * assert(fair.deadlinesExpired >= 1);
 * ```
 */
export function runtimeMetrics(): StrategyMetrics[] {
  const totals = new Map<string, RuntimeCounters & { runs: number; runsLive: number }>();
  let custom = 0;
  const entry = (name: string) => {
    let label = name;
    if (!BUILT_IN.has(name) && !totals.has(name)) {
      if (custom < MAX_CUSTOM_LABELS) custom++;
      else label = "other";
    }
    let total = totals.get(label);
    if (total === undefined) {
      total = { ...emptyCounters(), runs: 0, runsLive: 0 };
      totals.set(label, total);
    }
    return total;
  };
  for (const [name, retired] of retiredCounters) {
    const total = entry(name);
    total.runs += retired.runs;
    addCounters(total, retired);
  }
  for (const runtime of liveRuntimes) {
    const total = entry(runtime.strategy.name);
    total.runs++;
    total.runsLive++;
    addCounters(total, runtime);
  }
  return [...totals].sort(([a], [b]) => a.localeCompare(b)).map(([strategy, c]) => {
    let cumulative = 0;
    const buckets = DELAY_BUCKETS_MS.map((le, i) => ({
      le,
      count: cumulative += c.delayBuckets[i],
    }));
    buckets.push({ le: Infinity, count: cumulative + c.delayBuckets[DELAY_BUCKETS_MS.length] });
    return {
      strategy,
      runs: c.runs,
      runsLive: c.runsLive,
      tasksSpawned: c.tasksSpawned,
      tasksFinished: c.tasksFinished,
      tasksLive: c.tasksSpawned - c.tasksFinished,
      checkpoints: c.checkpoints,
      scopesCancelled: c.scopesCancelled,
      deadlinesExpired: c.deadlinesExpired,
      deadlineLatenessMaxMs: c.deadlineLatenessMaxMs,
      schedulingDelay: {
        buckets,
        count: c.delaySamples,
        sumMs: c.delayTotalMs,
        maxMs: c.delayMaxMs,
      },
    };
  });
}

/**
 * The runtime's counters per strategy in the Prometheus text format (0.0.4),
 * every series labelled `strategy`, names prefixed `ipfs_kit_runtime_`.
 *
 * @returns The exposition text, ending with a newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpoint, run, runtimeMetricsText } from "@ipfs-kit/kit/runtime";
 *
 * await run(() => checkpoint(), { strategy: "shuffle", seed: 1 });
 * const text = runtimeMetricsText();
 * assert.match(text, /^ipfs_kit_runtime_checkpoints_total\{strategy="shuffle"\} \d+$/m);
 * assert.match(text, /^# TYPE ipfs_kit_runtime_scheduling_delay_seconds histogram$/m);
 * ```
 */
export function runtimeMetricsText(): string {
  const metrics = runtimeMetrics();
  const lines: string[] = [];
  const family = (
    name: string,
    type: "counter" | "gauge",
    help: string,
    value: (m: StrategyMetrics) => number,
  ) => {
    lines.push(
      `# HELP ipfs_kit_runtime_${name} ${help}`,
      `# TYPE ipfs_kit_runtime_${name} ${type}`,
    );
    for (const m of metrics) {
      lines.push(`ipfs_kit_runtime_${name}{strategy="${label(m.strategy)}"} ${number(value(m))}`);
    }
  };
  family("runs_total", "counter", "Runs started.", (m) => m.runs);
  family("runs_live", "gauge", "Runs going on now.", (m) => m.runsLive);
  family("tasks_spawned_total", "counter", "Tasks spawned or started.", (m) => m.tasksSpawned);
  family("tasks_finished_total", "counter", "Tasks finished.", (m) => m.tasksFinished);
  family("tasks_live", "gauge", "Tasks running now.", (m) => m.tasksLive);
  family("checkpoints_total", "counter", "Checkpoints passed.", (m) => m.checkpoints);
  family("scopes_cancelled_total", "counter", "Cancel scopes cancelled.", (m) => m.scopesCancelled);
  family(
    "deadlines_expired_total",
    "counter",
    "Deadlines that passed before their scope exited.",
    (m) => m.deadlinesExpired,
  );
  family(
    "deadline_lateness_max_seconds",
    "gauge",
    "How late the latest-firing deadline was.",
    (m) => m.deadlineLatenessMaxMs / 1000,
  );
  const delay = "ipfs_kit_runtime_scheduling_delay_seconds";
  lines.push(`# HELP ${delay} How long ready tasks waited to run.`, `# TYPE ${delay} histogram`);
  for (const m of metrics) {
    const strategy = label(m.strategy);
    for (const { le, count } of m.schedulingDelay.buckets) {
      const bound = le === Infinity ? "+Inf" : number(le / 1000);
      lines.push(`${delay}_bucket{strategy="${strategy}",le="${bound}"} ${count}`);
    }
    lines.push(`${delay}_sum{strategy="${strategy}"} ${number(m.schedulingDelay.sumMs / 1000)}`);
    lines.push(`${delay}_count{strategy="${strategy}"} ${m.schedulingDelay.count}`);
  }
  return lines.join("\n") + "\n";
}

function label(value: string): string {
  return value.slice(0, 64).replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n");
}

function number(value: number): string {
  return Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : "NaN";
}
