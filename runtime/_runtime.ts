// The per-run state every scope points at: strategy, clock, counters, hooks.

import { type Clock, realClock } from "./clock.ts";
import type { RuntimeHooks, RuntimeStats } from "./instrumentation.ts";
import { MinHeap } from "./min_heap.ts";
import { eagerStrategy } from "./eager_strategy.ts";
import type { SchedulingStrategy, StrategyFactory } from "./strategy.ts";

const SAMPLE_EVERY = 64;

/**
 * The upper bounds, in milliseconds, of the scheduling-delay histogram's
 * buckets (the last bucket, `+Inf`, is implied).
 */
export const DELAY_BUCKETS_MS: readonly number[] = Object.freeze([
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
]);

/** The counters a run keeps, summed per strategy by the metrics. */
export interface RuntimeCounters {
  tasksSpawned: number;
  tasksFinished: number;
  scopesCancelled: number;
  checkpoints: number;
  deadlinesExpired: number;
  deadlineLatenessMaxMs: number;
  delaySamples: number;
  delayTotalMs: number;
  delayMaxMs: number;
  /** Counts per bucket of {@linkcode DELAY_BUCKETS_MS}, then the `+Inf` bucket (not cumulative). */
  delayBuckets: Float64Array;
}

/** Runs still going, the default runtime among them. */
export const liveRuntimes: Set<Runtime> = new Set();

/** What finished runs counted, per strategy name (the label set is bounded by the metrics). */
export const retiredCounters: Map<string, RuntimeCounters & { runs: number }> = new Map();

/** An armed deadline: `fire` is cleared once it fired or was disarmed. */
export interface DeadlineEntry {
  readonly deadline: number;
  readonly seq: number;
  fire: (() => void) | undefined;
}

function earlier(a: DeadlineEntry, b: DeadlineEntry): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

function armed(entry: DeadlineEntry): boolean {
  return entry.fire !== undefined;
}

export class Runtime implements RuntimeCounters {
  readonly strategy: SchedulingStrategy;
  readonly clock: Clock;
  readonly hooks: RuntimeHooks | undefined;
  /** The seed a strategy's random choices come from. */
  readonly seed: number;
  tasksSpawned = 0;
  tasksFinished = 0;
  scopesCancelled = 0;
  checkpoints = 0;
  delaySamples = 0;
  delayTotalMs = 0;
  delayMaxMs = 0;
  deadlinesExpired = 0;
  deadlineLatenessMaxMs = 0;
  delayBuckets: Float64Array = new Float64Array(DELAY_BUCKETS_MS.length + 1);
  /**
   * Every armed deadline of the run's scopes, earliest first. A scope's clock
   * timer cancels it when the event loop gets to timers; a strategy that runs
   * tasks on microtask hops also calls {@linkcode Runtime.fireDueDeadlines}
   * every so many hops, so a deadline interrupts a loop that never lets timers
   * run.
   */
  #deadlines = new MinHeap<DeadlineEntry>(earlier, armed);
  #deadlineSeq = 0;
  #armedDeadlines = 0;

  constructor(factory: StrategyFactory, clock: Clock, hooks?: RuntimeHooks, seed = 0) {
    this.clock = clock;
    this.hooks = hooks;
    this.seed = seed;
    this.strategy = factory({
      recordDelay: (ms) => this.recordDelay(ms),
      fireDueDeadlines: () => this.fireDueDeadlines(),
      seed,
    });
    liveRuntimes.add(this);
  }

  /** The run ended: its counters move to the totals of its strategy. */
  retire(): void {
    if (!liveRuntimes.delete(this)) return;
    const name = this.strategy.name;
    let total = retiredCounters.get(name);
    if (total === undefined) {
      total = { ...emptyCounters(), runs: 0 };
      retiredCounters.set(name, total);
    }
    total.runs++;
    addCounters(total, this);
  }

  /** A deadline cancelled its scope, `lateMs` after it passed. */
  deadlineExpired(lateMs: number): void {
    this.deadlinesExpired++;
    if (lateMs > this.deadlineLatenessMaxMs) this.deadlineLatenessMaxMs = lateMs;
  }

  /** Registers a deadline; `fire` runs at most once, unless disarmed first. */
  armDeadline(deadline: number, fire: () => void): DeadlineEntry {
    const entry: DeadlineEntry = { deadline, seq: this.#deadlineSeq++, fire };
    this.#deadlines.push(entry);
    this.#armedDeadlines++;
    // Disarmed entries stay until they reach the top: drop them when they pile up.
    if (this.#deadlines.size > 64 && this.#deadlines.size > 4 * this.#armedDeadlines) {
      this.#deadlines.compact();
    }
    return entry;
  }

  /** Disarms a deadline (it fired by its timer, or the scope exited or moved it). */
  disarmDeadline(entry: DeadlineEntry): void {
    if (entry.fire === undefined) return;
    entry.fire = undefined;
    this.#armedDeadlines--;
  }

  /** Fires every deadline the clock has reached, earliest first. */
  fireDueDeadlines(): void {
    let next = this.#deadlines.peek();
    if (next === undefined) return;
    const now = this.clock.now();
    while (next !== undefined && next.deadline <= now) {
      const fire = next.fire!;
      this.disarmDeadline(next);
      this.#deadlines.pop();
      fire();
      next = this.#deadlines.peek();
    }
  }

  recordDelay(ms: number): void {
    this.delaySamples++;
    this.delayTotalMs += ms;
    if (ms > this.delayMaxMs) this.delayMaxMs = ms;
    let bucket = 0;
    while (bucket < DELAY_BUCKETS_MS.length && ms > DELAY_BUCKETS_MS[bucket]) bucket++;
    this.delayBuckets[bucket]++;
    if (this.hooks?.onSchedulingDelay) this.callHook(() => this.hooks!.onSchedulingDelay!(ms));
  }

  /** True for the spawns whose start delay is sampled. */
  sampleSpawn(): boolean {
    return this.tasksSpawned % SAMPLE_EVERY === 0;
  }

  taskSpawned(name: string | undefined): void {
    this.tasksSpawned++;
    if (this.hooks?.onTaskSpawn) this.callHook(() => this.hooks!.onTaskSpawn!(name));
  }

  taskFinished(error?: unknown): void {
    this.tasksFinished++;
    if (this.hooks?.onTaskFinish) this.callHook(() => this.hooks!.onTaskFinish!(error));
  }

  scopeCancelled(reason: unknown): void {
    this.scopesCancelled++;
    if (this.hooks?.onScopeCancel) this.callHook(() => this.hooks!.onScopeCancel!(reason));
  }

  callHook(call: () => void): void {
    try {
      call();
    } catch (error) {
      reportError(error);
    }
  }

  snapshot(): RuntimeStats {
    return {
      strategy: this.strategy.name,
      seed: this.seed,
      tasksSpawned: this.tasksSpawned,
      tasksFinished: this.tasksFinished,
      tasksLive: this.tasksSpawned - this.tasksFinished,
      scopesCancelled: this.scopesCancelled,
      checkpoints: this.checkpoints,
      delaySamples: this.delaySamples,
      delayTotalMs: this.delayTotalMs,
      delayMaxMs: this.delayMaxMs,
      deadlinesExpired: this.deadlinesExpired,
    };
  }
}

/** The runtime of code that runs outside any `run()`: eager, real clock. */
export const defaultRuntime: Runtime = new Runtime(eagerStrategy, realClock);

/** Counters at zero. */
export function emptyCounters(): RuntimeCounters {
  return {
    tasksSpawned: 0,
    tasksFinished: 0,
    scopesCancelled: 0,
    checkpoints: 0,
    deadlinesExpired: 0,
    deadlineLatenessMaxMs: 0,
    delaySamples: 0,
    delayTotalMs: 0,
    delayMaxMs: 0,
    delayBuckets: new Float64Array(DELAY_BUCKETS_MS.length + 1),
  };
}

/** Adds `from`'s counters into `into`. */
export function addCounters(into: RuntimeCounters, from: RuntimeCounters): void {
  into.tasksSpawned += from.tasksSpawned;
  into.tasksFinished += from.tasksFinished;
  into.scopesCancelled += from.scopesCancelled;
  into.checkpoints += from.checkpoints;
  into.deadlinesExpired += from.deadlinesExpired;
  into.deadlineLatenessMaxMs = Math.max(into.deadlineLatenessMaxMs, from.deadlineLatenessMaxMs);
  into.delaySamples += from.delaySamples;
  into.delayTotalMs += from.delayTotalMs;
  into.delayMaxMs = Math.max(into.delayMaxMs, from.delayMaxMs);
  for (let i = 0; i < into.delayBuckets.length; i++) into.delayBuckets[i] += from.delayBuckets[i];
}
