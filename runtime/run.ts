/**
 * The entry point: `run(main, options)` picks the scheduling strategy and
 * the clock, the way `anyio.run(main, backend=...)` picks a backend.
 *
 * @module
 */

import { type Clock, realClock } from "./clock.ts";
import { CancelScope, internals } from "./cancel_scope.ts";
import type { RuntimeHooks, RuntimeStats } from "./instrumentation.ts";
import { Runtime } from "./_runtime.ts";
import { currentRuntime, currentScope } from "./cancel_scope.ts";
import type { StrategyFactory, StrategyName } from "./strategy.ts";
import { strategies } from "./strategies.ts";
import { checkSeed } from "./shuffle_strategy.ts";

/** Options for {@linkcode run}. */
export interface RunOptions {
  /** A built-in strategy's name or a factory. Default `"eager"`. */
  strategy?: StrategyName | StrategyFactory;
  /** The clock for deadlines and sleeps. Default: the real clock. */
  clock?: Clock;
  /** Instrumentation callbacks. */
  hooks?: RuntimeHooks;
  /** Cancels `main` when aborted; `run` then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * The seed of the strategy's random choices (the shuffle strategy's task
   * order), a 32-bit unsigned integer. Default: `$IPFS_KIT_SEED` when set
   * (and readable), else a random one; `runtimeStats().seed` tells which.
   */
  seed?: number;
}

/**
 * Runs `main` under a fresh runtime with the chosen strategy and clock, and
 * returns its result. Everything `main` spawns, sleeps on or times out uses
 * them. Code outside any `run()` still works, on the eager strategy and the
 * real clock. A `run()` called inside a cancel scope (within another run,
 * say) keeps its own strategy and clock but is cancelled with that scope:
 * it then rejects with the scope's cancellation, which the scope catches.
 *
 * @param main The program.
 * @param options Strategy, clock, hooks, signal.
 * @returns What `main` returned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { run, sleep, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const answer = await run(async () => {
 *   await taskGroup((tg) => tg.spawn(() => sleep(1)));
 *   return 42;
 * }, { strategy: "fair" });
 * assert.equal(answer, 42);
 * ```
 */
export async function run<T>(main: () => T | Promise<T>, options: RunOptions = {}): Promise<T> {
  const factory = resolveStrategy(options.strategy ?? "eager");
  const seed = options.seed === undefined ? defaultSeed() : checkSeed(options.seed, "run");
  const runtime = new Runtime(factory, options.clock ?? realClock, options.hooks, seed);
  const root = internals.root(runtime);
  // Called inside a cancel scope (another run's, or one made outside any run): `main` is
  // cancelled with it, as the code around the call would be. A root is never cancelled.
  const caller = currentScope();
  const outer = internals.parent(caller) === undefined ? undefined : caller;
  const signals = [options.signal, outer?.signal].filter((signal) => signal !== undefined);
  const signal = signals.length < 2 ? signals[0] : AbortSignal.any(signals);
  const scope = new CancelScope(signal ? { signal, name: "main" } : { name: "main" });
  let result: T | undefined;
  try {
    result = await internals.runIn(root, () => scope.run(() => main()));
  } finally {
    runtime.retire();
  }
  if (scope.cancelledCaught) {
    if (options.signal?.aborted) throw options.signal.reason;
    // The caller's scope was cancelled: its own cancellation, which it catches.
    throw internals.error(outer!);
  }
  return result as T;
}

/**
 * A snapshot of the counters of the current runtime (the one of the enclosing
 * {@linkcode run}, or the default one outside).
 *
 * @returns The counters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { run, runtimeStats, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const stats = await run(async () => {
 *   await taskGroup((tg) => tg.spawn(() => {}));
 *   return runtimeStats();
 * });
 * assert(stats.tasksSpawned === 1 && stats.tasksLive === 0);
 * ```
 */
export function runtimeStats(): RuntimeStats {
  return currentRuntime().snapshot();
}

/**
 * `$IPFS_KIT_SEED` when it is set and may be read, else a random seed.
 *
 * @throws {RangeError} `$IPFS_KIT_SEED` is not a 32-bit unsigned integer.
 */
export function defaultSeed(): number {
  const text = envSeed();
  if (text === undefined) return crypto.getRandomValues(new Uint32Array(1))[0];
  return checkSeed(Number(text), "read IPFS_KIT_SEED");
}

function envSeed(): string | undefined {
  const permission = Deno.permissions.querySync({ name: "env", variable: "IPFS_KIT_SEED" });
  if (permission.state !== "granted") return undefined;
  const text = Deno.env.get("IPFS_KIT_SEED");
  return text === undefined || text.trim() === "" ? undefined : text.trim();
}

function resolveStrategy(strategy: StrategyName | StrategyFactory): StrategyFactory {
  if (typeof strategy === "function") return strategy;
  const factory = strategies[strategy];
  if (factory === undefined) {
    throw new TypeError(
      `Cannot run: unknown strategy: received ${JSON.stringify(strategy)}, expected one of ${
        Object.keys(strategies).join(", ")
      }`,
    );
  }
  return factory;
}
