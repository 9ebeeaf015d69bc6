/**
 * Test helpers (`@ipfs-kit/kit/runtime/testing`): {@linkcode testEachStrategy}
 * runs a test under every scheduling strategy, the analogue of pytest-anyio's
 * backend parametrisation, so code that depends on one strategy's order is
 * caught; {@linkcode waitAllTasksBlocked} waits until the code under test has
 * gone as far as it can (Trio's `wait_all_tasks_blocked`).
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { sleep } from "@ipfs-kit/kit/runtime";
 * import { testEachStrategy } from "@ipfs-kit/kit/runtime/testing";
 *
 * testEachStrategy("an hour passes at once on the virtual clock", async ({ clock }) => {
 *   await sleep(3_600_000);
 *   assert.equal(clock!.now(), 3_600_000);
 * }, { virtualClock: 0 });
 * ```
 *
 * @module
 */

import { defaultSeed, run } from "./run.ts";
import type { StrategyName } from "./strategy.ts";
import { strategies } from "./strategies.ts";
import { VirtualClock } from "./virtual_clock.ts";

export { waitAllTasksBlocked, type WaitAllTasksBlockedOptions } from "./wait_all_tasks_blocked.ts";

/** What a test registered with {@linkcode testEachStrategy} receives. */
export interface StrategyTestContext {
  /** The strategy this run uses. */
  strategy: StrategyName;
  /** Deno's test context. */
  t: Deno.TestContext;
  /** The virtual clock, when the test asked for one. */
  clock: VirtualClock | undefined;
  /** The run's seed: `$IPFS_KIT_SEED`, else a fresh one (printed when a shuffled test fails). */
  seed: number;
}

/** Options for {@linkcode testEachStrategy}. */
export interface StrategyTestOptions extends Omit<Deno.TestDefinition, "name" | "fn"> {
  /**
   * Run on a {@linkcode VirtualClock} with this autojump threshold (`0`:
   * sleeps and timeouts are instant). Unset: the real clock.
   */
  virtualClock?: number;
  /** Limit to these strategies. Default: every built-in one. */
  strategies?: StrategyName[];
}

/**
 * Registers one `Deno.test` per built-in strategy, named `name [strategy]`,
 * each running `fn` inside {@linkcode run} with that strategy. Under the
 * shuffle strategy a failure's message ends with the seed and how to replay
 * it (`IPFS_KIT_SEED=<seed>`). Deno's
 * sanitizers stay on.
 *
 * @param name The test name.
 * @param fn The test.
 * @param options Virtual clock, a subset of strategies, and Deno test options.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { sleep } from "@ipfs-kit/kit/runtime";
 * import { testEachStrategy } from "@ipfs-kit/kit/runtime/testing";
 *
 * testEachStrategy("sleeps for an hour instantly", async ({ clock }) => {
 *   await sleep(3_600_000);
 *   assert.equal(clock!.now(), 3_600_000);
 * }, { virtualClock: 0 });
 * ```
 */
export function testEachStrategy(
  name: string,
  fn: (context: StrategyTestContext) => unknown | Promise<unknown>,
  options: StrategyTestOptions = {},
): void {
  const { virtualClock, strategies: only, ...denoOptions } = options;
  for (const strategy of only ?? (Object.keys(strategies) as StrategyName[])) {
    Deno.test({
      ...denoOptions,
      name: `${name} [${strategy}]`,
      fn: async (t) => {
        const clock = virtualClock === undefined
          ? undefined
          : new VirtualClock({ autojumpThreshold: virtualClock });
        const seed = defaultSeed();
        try {
          await run(() => fn({ strategy, t, clock, seed }), { strategy, seed, clock });
        } catch (error) {
          // The order of a shuffled run depends on its seed: say how to replay it.
          if (strategy === "shuffle" && error instanceof Error) {
            error.message += `\n(shuffle seed ${seed}: replay with IPFS_KIT_SEED=${seed})`;
          }
          throw error;
        }
      },
    });
  }
}
