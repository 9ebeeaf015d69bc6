/**
 * The built-in scheduling strategies by name, as `run({ strategy })` and
 * `testEachStrategy` take them.
 *
 * @module
 */

import { eagerStrategy } from "./eager_strategy.ts";
import { fairStrategy } from "./fair_strategy.ts";
import { shuffleStrategy } from "./shuffle_strategy.ts";
import type { StrategyFactory, StrategyName } from "./strategy.ts";

/**
 * The built-in strategies by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { strategies } from "@ipfs-kit/kit/runtime";
 *
 * assert(Object.keys(strategies).includes("fair"));
 * ```
 */
export const strategies: Readonly<Record<StrategyName, StrategyFactory>> = Object.freeze({
  eager: eagerStrategy,
  fair: fairStrategy,
  shuffle: shuffleStrategy,
});
