// The per-run state every scope points at: strategy, clock, counters, hooks.

import { type Clock, realClock } from "./clock.ts";
import type { RuntimeHooks, RuntimeStats } from "./instrumentation.ts";
import { eagerStrategy, type SchedulingStrategy, type StrategyFactory } from "./strategy.ts";

const SAMPLE_EVERY = 64;

export class Runtime {
  readonly strategy: SchedulingStrategy;
  readonly clock: Clock;
  readonly hooks: RuntimeHooks | undefined;
  tasksSpawned = 0;
  tasksFinished = 0;
  scopesCancelled = 0;
  checkpoints = 0;
  delaySamples = 0;
  delayTotalMs = 0;
  delayMaxMs = 0;

  constructor(factory: StrategyFactory, clock: Clock, hooks?: RuntimeHooks) {
    this.clock = clock;
    this.hooks = hooks;
    this.strategy = factory({ recordDelay: (ms) => this.recordDelay(ms) });
  }

  recordDelay(ms: number): void {
    this.delaySamples++;
    this.delayTotalMs += ms;
    if (ms > this.delayMaxMs) this.delayMaxMs = ms;
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
      tasksSpawned: this.tasksSpawned,
      tasksFinished: this.tasksFinished,
      tasksLive: this.tasksSpawned - this.tasksFinished,
      scopesCancelled: this.scopesCancelled,
      checkpoints: this.checkpoints,
      delaySamples: this.delaySamples,
      delayTotalMs: this.delayTotalMs,
      delayMaxMs: this.delayMaxMs,
    };
  }
}

/** The runtime of code that runs outside any `run()`: eager, real clock. */
export const defaultRuntime: Runtime = new Runtime(eagerStrategy, realClock);
