/**
 * How late a task sleeping 1 ms wakes while other tasks loop on
 * `checkpoint()`, per scheduling strategy: the distribution behind the
 * `fairness` group of `runtime_bench.ts`, which only reports averages.
 *
 * ```sh
 * deno run --allow-all bench/fairness.ts [samples]
 * ```
 *
 * Prints a Markdown table of the lateness (wake time minus 1 ms) with the
 * busy tasks and, as references, without them and for a plain
 * `setTimeout(1)` outside the runtime.
 *
 * @module
 */

import { checkpoint, run, sleep, type StrategyName, taskGroup } from "../runtime/mod.ts";
import { quantile } from "../tests/_stats.ts";

/** Options for {@linkcode sleepLateness}. */
export interface SleepLatenessOptions {
  /** How many tasks loop on `checkpoint()` while the sleeper sleeps. */
  loopers: number;
  /** The longest the loopers loop, in ms: the eager strategy never lets the timer fire. */
  capMs: number;
  /** Called right before the sleep starts. */
  onSleep?: () => void;
  /** Called as soon as the sleeping task runs again. */
  onWake?: () => void;
}

/**
 * Runs `loopers` tasks that loop on `checkpoint()` and a task that sleeps
 * 1 ms on the real clock, under `strategy`; the loopers stop once the
 * sleeper wakes (or after `capMs`).
 *
 * @param strategy The scheduling strategy.
 * @param options Loopers, their cap, callbacks around the sleep.
 * @returns How late the sleeper woke, in ms.
 */
export async function sleepLateness(
  strategy: StrategyName,
  options: SleepLatenessOptions,
): Promise<number> {
  const { loopers, capMs, onSleep, onWake } = options;
  let stop = false;
  let finished = 0;
  let lateness = NaN;
  await run(() =>
    taskGroup((tg) => {
      for (let i = 0; i < loopers; i++) {
        tg.spawn(async () => {
          const until = performance.now() + capMs;
          for (let hops = 1; !stop; hops++) {
            await checkpoint();
            if ((hops & 255) === 0 && performance.now() >= until) break;
          }
          finished++;
        });
      }
      tg.spawn(async () => {
        onSleep?.();
        const start = performance.now();
        await sleep(1);
        onWake?.();
        lateness = performance.now() - start - 1;
        stop = true;
        finished++;
      });
    }), { strategy });
  if (finished !== loopers + 1) {
    throw new Error(`Cannot measure lateness: ${finished} of ${loopers + 1} tasks finished`);
  }
  return lateness;
}

/** The reference: how late a plain `setTimeout(1)` fires, outside the runtime. */
async function timerLateness(): Promise<number> {
  const start = performance.now();
  // deno-lint-ignore ipfs-kit/no-bare-timer -- the reference is the bare timer itself
  await new Promise((resolve) => setTimeout(resolve, 1));
  return performance.now() - start - 1;
}

if (import.meta.main) {
  const samples = Number(Deno.args[0] ?? 300);
  const loopers = 4;
  const capMs = 20;
  const cases: Array<[StrategyName | "plain setTimeout", number, number]> = [
    ["plain setTimeout", 0, samples],
    ["fair", 0, samples],
    ["fair", loopers, samples],
    ["shuffle", 0, samples],
    ["shuffle", loopers, samples],
    ["eager", 0, samples],
    ["eager", loopers, Math.min(samples, 30)],
  ];
  console.log(`| strategy | busy tasks | samples | mean | p50 | p90 | p99 | max |`);
  console.log(`|---|---|---|---|---|---|---|---|`);
  for (const [strategy, busy, n] of cases) {
    const sample = strategy === "plain setTimeout"
      ? timerLateness
      : () => sleepLateness(strategy, { loopers: busy, capMs });
    for (let i = 0; i < Math.min(20, n); i++) await sample();
    const values: number[] = [];
    for (let i = 0; i < n; i++) values.push(await sample());
    values.sort((a, b) => a - b);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const ms = (x: number) => `${x.toFixed(2)} ms`;
    console.log(
      `| ${strategy} | ${busy} | ${n} | ${ms(mean)} | ${ms(quantile(values, 0.5))} | ${
        ms(quantile(values, 0.9))
      } | ${ms(quantile(values, 0.99))} | ${ms(values[values.length - 1])} |`,
    );
  }
}
