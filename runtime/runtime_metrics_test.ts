import assert from "node:assert/strict";
import { checkpoint } from "./checkpoint.ts";
import { run } from "./run.ts";
import { makeFairStrategy } from "./fair_strategy.ts";
import { runtimeMetrics, runtimeMetricsText, type StrategyMetrics } from "./runtime_metrics.ts";
import { sleep, sleepForever } from "./sleep.ts";
import type { StrategyFactory } from "./strategy.ts";
import { taskGroup } from "./task_group.ts";
import { moveOnAfter } from "./timeouts.ts";

function metricsOf(strategy: string): StrategyMetrics | undefined {
  return runtimeMetrics().find((m) => m.strategy === strategy);
}

/** A strategy factory named `name` that behaves as the fair one. */
function named(name: string): StrategyFactory {
  const fair = makeFairStrategy();
  return (context) => ({ ...fair(context), name });
}

Deno.test("runtimeMetrics sums finished and live runs per strategy", async () => {
  const name = "metrics-sum";
  assert.equal(metricsOf(name), undefined);
  for (let i = 0; i < 3; i++) {
    await run(() =>
      taskGroup((tg) => {
        for (let t = 0; t < 4; t++) tg.spawn(() => checkpoint());
      }), { strategy: named(name) });
  }
  let during: StrategyMetrics | undefined;
  await run(async () => {
    await taskGroup((tg) => {
      tg.spawn(() => sleep(5));
      tg.spawn(async () => {
        await checkpoint();
        during = metricsOf(name);
      });
    });
  }, { strategy: named(name) });
  const after = metricsOf(name)!;
  assert.equal(during!.runs, 4);
  assert.equal(during!.runsLive, 1);
  assert.equal(during!.tasksLive, 2);
  assert.equal(after.runs, 4);
  assert.equal(after.runsLive, 0);
  assert.equal(after.tasksSpawned, 14);
  assert.equal(after.tasksFinished, 14);
  assert.equal(after.tasksLive, 0);
  assert.ok(after.checkpoints >= 14);
});

Deno.test("runtimeMetrics counts expired deadlines and scheduling delays as a histogram", async () => {
  const name = "metrics-deadlines";
  await run(async () => {
    await moveOnAfter(1, () => sleepForever());
    await moveOnAfter(1_000, () => sleep(1)); // does not expire
    const end = performance.now() + 20;
    while (performance.now() < end) await checkpoint(); // fair: macrotask waits, measured
  }, { strategy: named(name) });
  const m = metricsOf(name)!;
  assert.equal(m.deadlinesExpired, 1);
  assert.equal(m.scopesCancelled, 1);
  assert.ok(m.deadlineLatenessMaxMs >= 0);
  const { buckets, count, sumMs, maxMs } = m.schedulingDelay;
  assert.ok(count > 0);
  assert.equal(buckets.at(-1)!.le, Infinity);
  assert.equal(buckets.at(-1)!.count, count);
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(buckets[i].count >= buckets[i - 1].count, "cumulative");
    assert.ok(buckets[i].le > buckets[i - 1].le);
  }
  assert.ok(sumMs >= maxMs && maxMs >= 0);
});

Deno.test("runtimeMetricsText is Prometheus text, one series per strategy, labels bounded", async () => {
  for (let i = 0; i < 20; i++) await run(() => checkpoint(), { strategy: named(`flood-${i} "x"`) });
  const text = runtimeMetricsText();
  assert.ok(text.endsWith("\n"));
  const strategies = new Set(
    [...text.matchAll(/^ipfs_kit_runtime_runs_total\{strategy="((?:[^"\\]|\\.)*)"\} \d+$/gm)].map(
      (m) => m[1],
    ),
  );
  assert.ok(strategies.size <= 17, `${strategies.size} strategy labels`);
  assert.ok(strategies.has("other"));
  assert.ok([...strategies].some((s) => s.includes('\\"x\\"')), "quotes escaped");
  for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
    assert.match(line, /^ipfs_kit_runtime_[a-z_]+(\{[^}]*\})? (\d+(\.\d+)?(e-?\d+)?|\+Inf)$/, line);
  }
  assert.match(
    text,
    /^ipfs_kit_runtime_scheduling_delay_seconds_bucket\{strategy="eager",le="\+Inf"\} \d+$/m,
  );
});
