import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { sleep } from "../runtime/sleep.ts";
import { Histogram } from "./histogram.ts";
import { OTHER_OPERATION_TYPE, WalTelemetry } from "./telemetry.ts";
import { WriteAheadLog } from "./write_ahead_log.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * A strict reader of the Prometheus text format (0.0.4): fails on any line
 * that is not a HELP, TYPE or sample line, on samples before their TYPE,
 * on repeated HELP/TYPE lines and on malformed labels or values.
 */
function parseExposition(text: string): Exposition {
  assert.ok(text.endsWith("\n"), "the exposition ends with a newline");
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      const parts = line.split(" ");
      const family = parts[2];
      assert.match(family, NAME);
      assert.ok(!help.has(family), `HELP repeated for ${family}`);
      assert.ok(parts.length > 3, `empty HELP for ${family}`);
      help.set(family, parts.slice(3).join(" "));
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [, , family, type, ...extra] = line.split(" ");
      assert.equal(extra.length, 0, line);
      assert.match(family, NAME);
      assert.ok(["counter", "gauge", "histogram", "summary", "untyped"].includes(type), line);
      assert.ok(!types.has(family), `TYPE repeated for ${family}`);
      types.set(family, type);
      continue;
    }
    assert.ok(!line.startsWith("#"), `unexpected comment: ${line}`);
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `malformed sample line: ${JSON.stringify(line)}`);
    const [, name, , labelText, valueText] = match;
    const labels: Record<string, string> = {};
    if (labelText !== undefined) {
      const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
      let at = 0;
      while (at < labelText.length) {
        label.lastIndex = at;
        const found = label.exec(labelText);
        assert.ok(found, `malformed labels: ${labelText}`);
        labels[found[1]] = found[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
        at = label.lastIndex;
      }
    }
    const value = valueText === "+Inf"
      ? Infinity
      : valueText === "-Inf"
      ? -Infinity
      : valueText === "NaN"
      ? NaN
      : Number(valueText);
    assert.ok(valueText === "NaN" || !Number.isNaN(value), `bad value: ${line}`);
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(family), `sample before its TYPE line: ${line}`);
    if (family !== name) assert.equal(types.get(family), "histogram", line);
    samples.push({ name, labels, value });
  }
  return { types, help, samples };
}

/** Checks every histogram: buckets ascend, counts are cumulative, `+Inf` equals `_count`. */
function checkHistograms(exposition: Exposition): number {
  let checked = 0;
  for (const [family, type] of exposition.types) {
    if (type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const sample of exposition.samples) {
      if (sample.name !== `${family}_bucket`) continue;
      const { le: _, ...rest } = sample.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      const les = buckets.map((b) => Number(b.labels.le === "+Inf" ? Infinity : b.labels.le));
      assert.deepEqual([...les].sort((a, b) => a - b), les, `${family}${key}: le ascends`);
      assert.equal(les.at(-1), Infinity, `${family}${key}: ends with +Inf`);
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i].value >= buckets[i - 1].value, `${family}${key}: cumulative`);
      }
      const labels = JSON.parse(key);
      const count = exposition.samples.find((s) =>
        s.name === `${family}_count` && JSON.stringify(s.labels) === JSON.stringify(labels)
      );
      const sum = exposition.samples.find((s) =>
        s.name === `${family}_sum` && JSON.stringify(s.labels) === JSON.stringify(labels)
      );
      assert.ok(count && sum, `${family}${key}: _sum and _count present`);
      assert.equal(buckets.at(-1)!.value, count.value, `${family}${key}: +Inf equals _count`);
      checked++;
    }
  }
  return checked;
}

Deno.test("a histogram counts values into cumulative buckets", () => {
  const histogram = new Histogram([1, 2, 5]);
  for (const value of [0.5, 1, 1.5, 2, 3, 5, 8, NaN]) histogram.observe(value);
  const snapshot = histogram.snapshot();
  assert.deepEqual(snapshot.buckets, [
    { le: 1, count: 2 },
    { le: 2, count: 4 },
    { le: 5, count: 6 },
    { le: Infinity, count: 7 },
  ]);
  assert.equal(snapshot.count, 7);
  assert.equal(snapshot.sum, 21);
  assert.deepEqual(histogram.bounds, [1, 2, 5]);
  assert.throws(() => new Histogram([]), RangeError);
  assert.throws(() => new Histogram([2, 1]), RangeError);
  assert.throws(() => new Histogram([1, Infinity]), RangeError);
});

testEachStrategy("the log's telemetry counts appends, groups, operations and health", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wal-telemetry-test-" });
  try {
    // Autojump moves the virtual clock on while tasks wait for real I/O: on a slow disk,
    // more than the default day of retention could pass before the checkpoint below.
    await using wal = await WriteAheadLog.open(dir, { syncPolicy: "group", retainMs: Infinity });
    // 64 concurrent submits: group commit puts several in one group.
    const ops = await Promise.all(
      Array.from({ length: 64 }, (_, i) => wal.submit(i % 4 ? "good" : "bad", { i })),
    );
    let before = wal.telemetry.snapshot();
    assert.equal(before.append.durable.count, 64);
    assert.equal(before.append.buffered.count, 0);
    assert.equal(before.log.records, 64);
    assert.ok(before.log.groups < 64, `${before.log.groups} groups for 64 records`);
    assert.ok(Math.abs(before.groupSize.sum - before.log.records) < 1e-6);
    assert.equal(before.groupSize.count, before.log.groups);
    assert.equal(before.queue.pending, 64);
    assert.equal(before.operations.good.submitted, 48);
    assert.equal(before.health.state, undefined);

    let healthSeen: string | undefined;
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        wal.process({
          store: { health: () => Promise.resolve({ ok: true }) } as never,
          builtinHandlers: false,
          handlers: {
            good: () => sleep(5),
            bad: () => {
              throw new RangeError("bad by design");
            },
          },
        })
      );
      for (const op of ops) await wal.wait(op.id);
      healthSeen = wal.telemetry.snapshot().health.state;
      tg.cancelScope.cancel();
    });
    assert.equal(healthSeen, "online");
    before = wal.telemetry.snapshot();
    assert.deepEqual(before.queue, {
      pending: 0,
      processing: 0,
      retrying: 0,
      completed: 48,
      failed: 16,
      cancelled: 0,
    });
    assert.equal(before.operations.good.completed, 48);
    assert.equal(before.operations.good.latency.count, 48);
    assert.equal(before.operations.good.handler.count, 48);
    assert.equal(before.operations.bad.failed, 16);
    assert.equal(before.operations.bad.started, 16);
    assert.ok(before.append.buffered.count >= 64, "processing records are not synced");
    assert.ok(before.health.checksOk >= 1);
    assert.equal(before.health.state, undefined, "no processor runs now");
    await wal.checkpoint();
    const after = wal.telemetry.snapshot();
    assert.equal(after.checkpoints.count, 1);
    assert.equal(after.checkpoints.lastOperations, 64);
    assert.equal(after.checkpoints.duration.count, 1);

    const text = wal.telemetry.toPrometheus();
    const exposition = parseExposition(text);
    assert.ok(checkHistograms(exposition) >= 8);
    const value = (name: string, labels: Record<string, string> = {}) =>
      exposition.samples.find((s) =>
        s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)
      )?.value;
    assert.equal(value("ipfs_kit_wal_operations", { state: "completed" }), 48);
    assert.equal(value("ipfs_kit_wal_operations_failed_total", { type: "bad" }), 16);
    assert.equal(value("ipfs_kit_wal_operation_seconds_count", { type: "good" }), 48);
    assert.equal(
      value("ipfs_kit_wal_append_seconds_count", { durable: "true" }),
      after.append.durable.count,
    );
    assert.equal(value("ipfs_kit_wal_records_total"), after.log.records);
    assert.equal(value("ipfs_kit_wal_checkpoints_total"), 1);
    assert.equal(value("ipfs_kit_wal_health", { state: "online" }), 0);
    for (const family of exposition.types.keys()) {
      assert.ok(family.startsWith("ipfs_kit_wal_"), family);
      assert.ok(exposition.help.has(family), `HELP for ${family}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}, { virtualClock: 0 });

Deno.test("label values are escaped in the exposition", () => {
  const telemetry = new WalTelemetry(() => ({
    log: {
      records: 0,
      groups: 0,
      syncs: 0,
      rotations: 0,
      bytes: 0,
      segments: 1,
      firstLsn: 1,
      nextLsn: 1,
    },
    queue: { pending: 0, processing: 0, retrying: 0, completed: 0, failed: 0, cancelled: 0 },
    health: "degraded",
  }));
  const odd = 'we"ird\\type\nname';
  telemetry.record(odd, "submitted");
  telemetry.record(odd, "completed", 0.25);
  const exposition = parseExposition(telemetry.toPrometheus());
  checkHistograms(exposition);
  const submitted = exposition.samples.find((s) =>
    s.name === "ipfs_kit_wal_operations_submitted_total"
  );
  assert.deepEqual(submitted, {
    name: "ipfs_kit_wal_operations_submitted_total",
    labels: { type: odd },
    value: 1,
  });
  const health = exposition.samples.filter((s) => s.name === "ipfs_kit_wal_health");
  assert.deepEqual(health.map((s) => [s.labels.state, s.value]), [
    ["online", 0],
    ["degraded", 1],
    ["offline", 0],
  ]);
  const bucket = exposition.samples.find((s) =>
    s.name === "ipfs_kit_wal_operation_seconds_bucket" && s.labels.le === "0.5"
  );
  assert.equal(bucket?.value, 1);
  assert.throws(() => new WalTelemetry(1 as never), TypeError);
});

testEachStrategy(
  "fdatasync latency: one observation per sync, in the snapshot and the exposition",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "wal-telemetry-test-" });
    try {
      await using wal = await WriteAheadLog.open(dir, { syncPolicy: "group", segmentSize: 4096 });
      const empty = wal.telemetry.snapshot();
      assert.equal(empty.fsync.count, 0);
      assert.equal(empty.fsync.buckets.at(-1)!.count, 0);
      await Promise.all(Array.from({ length: 40 }, (_, i) => wal.submit("custom", { i })));
      for (let i = 0; i < 20; i++) await wal.submit("custom", { i, pad: "x".repeat(100) });
      const s = wal.telemetry.snapshot();
      assert.ok(s.log.rotations > 0);
      assert.ok(s.log.syncs >= 21, `${s.log.syncs} syncs`);
      assert.equal(s.fsync.count, s.log.syncs);
      assert.ok(s.fsync.sum > 0 && s.fsync.sum < 60 * s.fsync.count);
      assert.equal(s.fsync.buckets.at(-1)!.count, s.fsync.count);
      // Groups are recorded one by one, exactly.
      assert.equal(s.groupSize.count, s.log.groups);
      assert.equal(s.groupSize.sum, s.log.records);
      const exposition = parseExposition(wal.telemetry.toPrometheus());
      checkHistograms(exposition);
      assert.equal(exposition.types.get("ipfs_kit_wal_fsync_seconds"), "histogram");
      const count = exposition.samples.find((x) => x.name === "ipfs_kit_wal_fsync_seconds_count");
      assert.equal(count?.value, s.fsync.count);
      const sum = exposition.samples.find((x) => x.name === "ipfs_kit_wal_fsync_seconds_sum");
      assert.equal(sum?.value, s.fsync.sum);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("recordSync and recordGroup feed their histograms", () => {
  const telemetry = new WalTelemetry(() => ({
    log: {
      records: 0,
      groups: 0,
      syncs: 0,
      rotations: 0,
      bytes: 0,
      segments: 1,
      firstLsn: 1,
      nextLsn: 1,
    },
    queue: { pending: 0, processing: 0, retrying: 0, completed: 0, failed: 0, cancelled: 0 },
    health: undefined,
  }));
  for (const seconds of [0.00004, 0.0003, 0.0003, 0.004, 20]) telemetry.recordSync(seconds);
  for (const records of [1, 64, 64, 3]) telemetry.recordGroup(records);
  const s = telemetry.snapshot();
  const count = (h: typeof s.fsync, le: number) => h.buckets.find((b) => b.le === le)?.count;
  assert.equal(s.fsync.count, 5);
  assert.equal(count(s.fsync, 0.00005), 1);
  assert.equal(count(s.fsync, 0.0005), 3);
  assert.equal(count(s.fsync, 0.005), 4);
  assert.equal(count(s.fsync, 10), 4);
  assert.equal(count(s.fsync, Infinity), 5);
  assert.equal(s.groupSize.count, 4);
  assert.equal(s.groupSize.sum, 132);
  assert.equal(count(s.groupSize, 2), 1);
  assert.equal(count(s.groupSize, 4), 2);
  assert.equal(count(s.groupSize, 64), 4);
});

testEachStrategy("operation types from users are bounded as label values", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using wal = await WriteAheadLog.open(dir, { syncPolicy: "none" });
    // 5,000 types made /metrics 57 MB when every one got its labels.
    for (let i = 0; i < 5000; i++) await wal.submit(`type-${i}`, {});
    const snapshot = wal.telemetry.snapshot();
    const types = Object.keys(snapshot.operations);
    assert.equal(types.length, 65);
    assert(types.includes(OTHER_OPERATION_TYPE));
    assert.equal(snapshot.operations[OTHER_OPERATION_TYPE].submitted, 5000 - 64);
    assert.equal(snapshot.operations["type-0"].submitted, 1);
    const text = wal.telemetry.toPrometheus();
    assert(text.length < 200_000, `${text.length} bytes of metrics`);
    const submitted = parseExposition(text).samples.filter((s) =>
      s.name === "ipfs_kit_wal_operations_submitted_total"
    );
    assert.equal(submitted.length, 65);
    assert.equal(submitted.reduce((sum, s) => sum + s.value, 0), 5000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("maxTypes is checked", () => {
  const gauges = () => ({
    log: {
      records: 0,
      groups: 0,
      syncs: 0,
      rotations: 0,
      bytes: 0,
      segments: 1,
      firstLsn: 1,
      nextLsn: 1,
    },
    queue: { pending: 0, processing: 0, retrying: 0, completed: 0, failed: 0, cancelled: 0 },
    health: undefined,
  });
  assert.throws(() => new WalTelemetry(gauges, { maxTypes: 0 }), RangeError);
  const telemetry = new WalTelemetry(gauges, { maxTypes: 1 });
  telemetry.record("a", "submitted");
  telemetry.record("b", "submitted");
  telemetry.record("c", "submitted");
  assert.deepEqual(Object.keys(telemetry.snapshot().operations), [
    OTHER_OPERATION_TYPE,
    "a",
  ]);
});
