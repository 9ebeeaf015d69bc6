/**
 * The measured characteristics of each scheduling strategy, for the
 * "Choosing a strategy" section of `bench/README.md`: what a task pays per
 * checkpoint and per spawn, how late a 1 ms timer fires while other tasks
 * loop on checkpoints, how evenly looping tasks share the CPU, and how much
 * memory parked tasks hold.
 *
 * ```sh
 * deno run --allow-all --v8-flags=--expose-gc bench/strategies.ts
 * ```
 *
 * Throughput of the kit's modules under each strategy is in the benches
 * themselves (`ipfs-kit embedded [fair]`, `memory hit [shuffle]`, ...).
 *
 * @module
 */

import { checkpoint, Event, run, type StrategyName, taskGroup } from "../runtime/mod.ts";
import { sleepLateness } from "./fairness.ts";
import { quantile } from "../tests/_stats.ts";

const STRATEGIES: readonly StrategyName[] = ["eager", "fair", "shuffle"];

/** Nanoseconds per checkpoint of one task looping 200,000 times. */
async function checkpointNs(strategy: StrategyName): Promise<number> {
  const n = 200_000;
  const start = performance.now();
  await run(async () => {
    for (let i = 0; i < n; i++) await checkpoint();
  }, { strategy });
  return ((performance.now() - start) * 1e6) / n;
}

/** Nanoseconds per task to spawn, run one checkpoint and join 10,000 tasks. */
async function spawnNs(strategy: StrategyName): Promise<number> {
  const n = 10_000;
  const start = performance.now();
  await run(() =>
    taskGroup((tg) => {
      for (let i = 0; i < n; i++) tg.spawn(() => checkpoint());
    }), { strategy });
  return ((performance.now() - start) * 1e6) / n;
}

/**
 * How evenly 4 tasks looping on checkpoints for 50 ms share the time: the
 * fewest iterations of a task divided by the most (1 = perfectly even).
 */
async function evenness(strategy: StrategyName): Promise<number> {
  const counts = [0, 0, 0, 0];
  const end = performance.now() + 50;
  await run(() =>
    taskGroup((tg) => {
      for (let t = 0; t < counts.length; t++) {
        tg.spawn(async () => {
          while (performance.now() < end) {
            counts[t]++;
            await checkpoint();
          }
        });
      }
    }), { strategy });
  return Math.min(...counts) / Math.max(...counts);
}

/** Bytes of heap per task parked on an event, over 20,000 tasks. */
async function parkedBytes(strategy: StrategyName): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const n = 20_000;
  const release = new Event();
  let perTask = NaN;
  await run(() =>
    taskGroup(async (tg) => {
      gc?.();
      const before = Deno.memoryUsage().heapUsed;
      for (let i = 0; i < n; i++) tg.spawn(() => release.wait());
      await checkpoint();
      while (release.statistics().tasksWaiting < n) await checkpoint();
      gc?.();
      perTask = (Deno.memoryUsage().heapUsed - before) / n;
      release.set();
    }), { strategy });
  return perTask;
}

if (import.meta.main) {
  const rounds = 5;
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  console.log(
    "| strategy | checkpoint | spawn + join | 1 ms timer beside 4 looping tasks: p50 / p99 / max | " +
      "evenness of 4 looping tasks | heap per parked task |",
  );
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const strategy of STRATEGIES) {
    const checkpoints: number[] = [];
    const spawns: number[] = [];
    const even: number[] = [];
    const memory: number[] = [];
    for (let r = 0; r < rounds; r++) {
      checkpoints.push(await checkpointNs(strategy));
      spawns.push(await spawnNs(strategy));
      even.push(await evenness(strategy));
      memory.push(await parkedBytes(strategy));
    }
    const late: number[] = [];
    const samples = strategy === "eager" ? 20 : 200;
    for (let i = 0; i < samples; i++) {
      late.push(await sleepLateness(strategy, { loopers: 4, capMs: 20 }));
    }
    late.sort((a, b) => a - b);
    const median = (values: number[]) => quantile(values.toSorted((a, b) => a - b), 0.5);
    console.log(
      `| ${strategy} | ${median(checkpoints).toFixed(0)} ns | ${median(spawns).toFixed(0)} ns | ${
        ms(quantile(late, 0.5))
      } / ${ms(quantile(late, 0.99))} / ${ms(late[late.length - 1])} | ${
        median(even).toFixed(2)
      } | ${median(memory).toFixed(0)} B |`,
    );
  }
}
