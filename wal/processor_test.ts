import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import type {
  BlockApi,
  DagApi,
  HealthResult,
  PinApi,
  SignalOptions,
} from "../ipfs/content_store.ts";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { UnreachableError } from "../ipfs/errors.ts";
import { currentTime } from "../runtime/checkpoint.ts";
import { sleep, sleepForever } from "../runtime/sleep.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { WalError } from "./errors.ts";
import { isRetriableError, isUnavailableError } from "./handler_errors.ts";
import { HealthMonitor } from "./health_monitor.ts";
import { OperationProcessor } from "./processor.ts";
import type { HandlerContext, HealthState, Operation, OperationStore } from "./types.ts";
import { WriteAheadLog } from "./write_ahead_log.ts";
import { withTempDir } from "../tests/_files.ts";
import { countingHandlers, NO_STORE } from "../tests/_wal.ts";

/** Waits (on the runtime clock) until `condition` holds. */
async function until(condition: () => boolean, what: string, stepMs = 10): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (condition()) return;
    await sleep(stepMs);
  }
  assert.fail(`timed out waiting until ${what}`);
}

/**
 * A real embedded node behind a switch: while `down`, every call fails with
 * the Kubo backend's UnreachableError before reaching the node, and health
 * checks report not ok. Counts the calls that reached the node and succeeded.
 */
class SwitchableStore implements OperationStore {
  down = false;
  refused = 0;
  readonly node: EmbeddedNode;
  readonly block: BlockApi;
  readonly pin: PinApi;
  readonly dag: DagApi;

  constructor(node: EmbeddedNode) {
    this.node = node;
    this.block = {
      get: (cid, options) => this.#call(() => node.block.get(cid, options)),
      put: (bytes, options) => this.#call(() => node.block.put(bytes, options)),
      has: (cid, options) => this.#call(() => node.block.has(cid, options)),
      stat: (cid, options) => this.#call(() => node.block.stat(cid, options)),
      rm: (cid, options) => this.#call(() => node.block.rm(cid, options)),
    };
    this.pin = {
      add: (path, options) => this.#call(() => node.pin.add(path, options)),
      rm: (path, options) => this.#call(() => node.pin.rm(path, options)),
      ls: (options) => this.#call(() => node.pin.ls(options)),
    };
    this.dag = {
      put: (value, options) => this.#call(() => node.dag.put(value, options)),
      get: (path, options) => this.#call(() => node.dag.get(path, options)),
      resolve: (path, options) => this.#call(() => node.dag.resolve(path, options)),
    };
  }

  add: OperationStore["add"] = (input, options) => this.#call(() => this.node.add(input, options));

  async health(options?: SignalOptions): Promise<HealthResult> {
    if (this.down) {
      return { ok: false, backend: "kubo", latencyMs: 0, reason: "the daemon is unreachable" };
    }
    return await this.node.health(options);
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.down) {
      this.refused++;
      return Promise.reject(
        new UnreachableError(
          "Cannot call daemon: the daemon at http://127.0.0.1:5001 is unreachable: connection refused",
          "http://127.0.0.1:5001",
        ),
      );
    }
    return fn();
  }
}

testEachStrategy("the built-in handlers apply operations to a real embedded node", async () => {
  await withTempDir(async (dir) => {
    await using node = await EmbeddedNode.open({ repo: `${dir}/repo`, sync: false });
    await using wal = await WriteAheadLog.open(`${dir}/wal`);
    const content = new TextEncoder().encode("write-ahead hello\n".repeat(100));
    const add = await wal.submit("add", { content, cidVersion: 1 });
    const block = await wal.submit("blockPut", { bytes: new Uint8Array([1, 2, 3]) });
    const leaf = await wal.submit("dagPut", { value: { leaf: true } });
    await wal.process({ store: node, untilIdle: true, health: false });
    const added = wal.get(add.id)!;
    assert.equal(added.state, "completed", added.lastError);
    const expected = await node.add(content, { cidVersion: 1, pin: false });
    assert.deepEqual(added.result, { cid: expected.cid.toString(), size: expected.size });
    const blockCid = (wal.get(block.id)!.result as { cid: string }).cid;
    assert.ok(await node.block.has(blockCid));
    assert.deepEqual(await node.block.get(blockCid), new Uint8Array([1, 2, 3]));
    const leafCid = (wal.get(leaf.id)!.result as { cid: string }).cid;

    // Second phase: operations on what the first phase stored; a DAG link as a CID object.
    const root = await wal.submit("dagPut", {
      value: { child: CID.parse(leafCid), data: new Uint8Array([9]) },
      pin: true,
    });
    const pin = await wal.submit("pin", { cid: blockCid });
    const unpin1 = await wal.submit("unpin", { cid: expected.cid.toString() });
    const unpin2 = await wal.submit("unpin", { cid: expected.cid.toString() });
    const bad = await wal.submit("blockPut", { bytes: "not bytes" as never });
    await wal.process({ store: node, untilIdle: true, health: false, concurrency: 1 });
    const rootCid = (wal.get(root.id)!.result as { cid: string }).cid;
    const fetched = await node.dag.get(`${rootCid}/child/leaf`);
    assert.equal(fetched.value, true);
    assert.deepEqual(wal.get(pin.id)!.result, { cid: blockCid });
    assert.deepEqual(wal.get(unpin1.id)!.result, { cid: expected.cid.toString(), unpinned: true });
    // Unpinning again succeeds: replaying an unpin gives the same outcome.
    assert.deepEqual(wal.get(unpin2.id)!.result, {
      cid: expected.cid.toString(),
      unpinned: false,
    });
    const pins = (await node.pin.ls({ type: "recursive" })).map((entry) => entry.cid.toString());
    assert.ok(pins.includes(rootCid) && pins.includes(blockCid));
    assert.ok(!pins.includes(expected.cid.toString()));
    const failed = wal.get(bad.id)!;
    assert.equal(failed.state, "failed");
    assert.equal(failed.attempts, 1, "a TypeError is not retried");
    assert.match(failed.lastError!, /^TypeError: Cannot put block: bytes must be a Uint8Array/);
  });
});

testEachStrategy(
  "failed attempts are retried with exponential backoff on the runtime clock",
  async () => {
    await withTempDir(async (dir) => {
      await using wal = await WriteAheadLog.open(dir);
      const times: number[] = [];
      const flaky = await wal.submit("flaky", { failures: 3 });
      const hopeless = await wal.submit("hopeless", {}, { maxAttempts: 3 });
      const invalid = await wal.submit("invalid", {});
      await wal.process({
        store: NO_STORE,
        builtinHandlers: false,
        handlers: {
          flaky: ({ params, attempt }: HandlerContext<{ failures: number }>) => {
            times.push(currentTime());
            if (attempt <= params.failures) throw new Error(`flaky ${attempt}`);
            return { attempt };
          },
          hopeless: () => {
            throw new Error("always");
          },
          invalid: () => {
            throw new RangeError("out of range");
          },
        },
        backoff: { baseDelayMs: 1000, factor: 2, jitter: "none" },
        health: false,
        untilIdle: true,
      });
      const done = wal.get(flaky.id)!;
      assert.equal(done.state, "completed");
      assert.equal(done.attempts, 4);
      assert.deepEqual(done.result, { attempt: 4 });
      assert.equal(done.lastError, "Error: flaky 3");
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      assert.equal(gaps.length, 3);
      for (const [i, gap] of gaps.entries()) {
        assert.ok(Math.abs(gap - 1000 * 2 ** i) < 1, `gap ${i} was ${gap} ms`);
      }
      const gaveUp = wal.get(hopeless.id)!;
      assert.equal(gaveUp.state, "failed");
      assert.equal(gaveUp.attempts, 3);
      assert.equal(gaveUp.lastError, "Error: always");
      assert.equal(wal.get(invalid.id)!.attempts, 1);
      assert.equal(wal.get(invalid.id)!.state, "failed");
      const metrics = wal.telemetry.snapshot().operations;
      assert.equal(metrics.flaky.retried, 3);
      assert.equal(metrics.flaky.started, 4);
      assert.equal(metrics.flaky.completed, 1);
      assert.equal(metrics.hopeless.failed, 1);
      assert.equal(metrics.hopeless.retried, 2);
      assert.equal(metrics.flaky.latency.count, 1);
      assert.ok(metrics.flaky.latency.sum >= 7, "latency covers the backoff");
    });
  },
  { virtualClock: 0 },
);

testEachStrategy("concurrency is bounded, and reached", async () => {
  await withTempDir(async (dir) => {
    await using wal = await WriteAheadLog.open(dir);
    for (let i = 0; i < 24; i++) await wal.submit(i % 2 ? "a" : "b", { i });
    let running = 0;
    let peak = 0;
    const handler = async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(50);
      running--;
    };
    const processor = new OperationProcessor(wal, {
      store: NO_STORE,
      builtinHandlers: false,
      handlers: { a: handler, b: handler },
      concurrency: 5,
      health: false,
      untilIdle: true,
    });
    assert.deepEqual(processor.types.sort(), ["a", "b"]);
    await processor.run();
    assert.equal(peak, 5);
    assert.equal(wal.counts().completed, 24);
    await assert.rejects(processor.run(), /started already/);
  });
}, { virtualClock: 0 });

testEachStrategy("cancel stops a running attempt; attempts time out", async () => {
  await withTempDir(async (dir) => {
    await using wal = await WriteAheadLog.open(dir);
    const stuck = await wal.submit("stuck", {});
    const slow = await wal.submit("slow", {});
    let aborted = false;
    let running = false;
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        wal.process({
          store: NO_STORE,
          builtinHandlers: false,
          handlers: {
            stuck: async ({ signal }) => {
              running = true;
              signal.addEventListener("abort", () => aborted = true);
              await sleepForever();
            },
            slow: async ({ attempt }) => {
              if (attempt === 1) await sleep(10_000);
              return attempt;
            },
          },
          attemptTimeoutMs: 1000,
          backoff: { baseDelayMs: 10, jitter: "none" },
          health: false,
        })
      );
      await until(() => running, "stuck runs");
      const cancelled = await wal.cancel(stuck.id);
      assert.equal(cancelled.state, "cancelled");
      assert.ok(aborted, "the handler's signal aborted");
      const done = await wal.wait(slow.id);
      assert.equal(done.state, "completed");
      assert.equal(done.attempts, 2);
      assert.match(done.lastError!, /^TimeoutError: .*timed out after 1000 ms/);
      tg.cancelScope.cancel();
    });
  });
}, { virtualClock: 0 });

testEachStrategy(
  "backend outage: operations wait, then complete exactly once",
  async ({ clock }) => {
    await withTempDir(async (dir) => {
      await using node = await EmbeddedNode.open({ repo: `${dir}/repo`, sync: false });
      await using wal = await WriteAheadLog.open(`${dir}/wal`);
      const store = new SwitchableStore(node);
      store.down = true;
      const submitted: Operation[] = [];
      for (let i = 0; i < 12; i++) {
        const bytes = new TextEncoder().encode(`outage block ${i}`);
        submitted.push(
          await wal.submit(i % 2 ? "blockPut" : "add", {
            ...(i % 2 ? { bytes, pin: true } : { content: bytes, cidVersion: 1 }),
          }),
        );
      }
      const applied = new Map<string, number>();
      const states: HealthState[] = [];
      const processor = new OperationProcessor(wal, {
        store,
        handlers: countingHandlers(applied),
        concurrency: 3,
        // Retries after an unreachable backend are hours away: only the monitor's resume runs them.
        backoff: { baseDelayMs: 3_600_000, maxDelayMs: 36_000_000, jitter: "equal" },
        health: { intervalMs: 1000, offlineAfter: 3, onChange: (state) => states.push(state) },
      });
      await taskGroup(async (tg) => {
        tg.spawn(() => processor.run());
        await until(
          () => processor.health === "offline" && processor.running === 0,
          "the backend is offline and the attempts made before are over",
        );
        const offlineAt = clock!.now();
        const refusedWhenOffline = store.refused;
        await sleep(30_000);
        // Paused: nothing new reached the backend while it was offline.
        assert.equal(store.refused, refusedWhenOffline, "no calls while offline");
        assert.ok(clock!.now() - offlineAt >= 30_000);
        for (const op of submitted) {
          const now = wal.get(op.id)!;
          assert.ok(now.state === "pending" || now.state === "retrying", now.state);
          assert.equal(now.attempts, 0, "an unreachable backend does not use up attempts");
        }
        assert.equal(applied.size, 0);
        const retryAt = new Map(submitted.map((op) => [op.id, wal.get(op.id)!.nextRetryAt]));
        assert.ok([...retryAt.values()].some((at) => at !== undefined), "some attempts failed");
        store.down = false;
        for (const op of submitted) {
          const done = await wal.wait(op.id);
          assert.equal(done.state, "completed", done.lastError);
          const due = retryAt.get(op.id);
          if (due !== undefined) {
            assert.ok(
              done.completedAt! < due,
              "retried once the backend was back, not after backoff",
            );
          }
        }
        tg.cancelScope.cancel();
      });
      for (const op of submitted) assert.equal(applied.get(op.id), 1, `operation ${op.id}`);
      assert.deepEqual(states.slice(0, 2), ["degraded", "offline"]);
      assert.equal(states.at(-1), "online");
      const pins = new Set((await node.pin.ls()).map((entry) => entry.cid.toString()));
      for (const op of submitted) {
        const cid = (wal.get(op.id)!.result as { cid: string }).cid;
        assert.ok(await node.block.has(cid), `block of ${op.type} ${op.id}`);
        assert.ok(pins.has(cid), `pin of ${op.type} ${op.id}`);
      }
      const health = wal.telemetry.snapshot().health;
      assert.ok(health.checksFailed >= 3 && health.checksOk >= 1);
      assert.ok(health.transitions >= 3);
    });
  },
  { virtualClock: 0 },
);

testEachStrategy(
  "a stopped processor leaves its operations pending; the next one completes each once",
  async () => {
    await withTempDir(async (dir) => {
      const applied = new Map<string, number>();
      const started = new Set<string>();
      const handlers = {
        work: async ({ id }: HandlerContext) => {
          started.add(id);
          await sleep(100);
          applied.set(id, (applied.get(id) ?? 0) + 1);
        },
      };
      const ids: string[] = [];
      {
        await using wal = await WriteAheadLog.open(dir);
        for (let i = 0; i < 20; i++) ids.push((await wal.submit("work", { i })).id);
        const controller = new AbortController();
        await taskGroup(async (tg) => {
          tg.spawn(async () => {
            const stopped = wal.process({
              store: NO_STORE,
              handlers,
              concurrency: 4,
              health: false,
              signal: controller.signal,
            });
            await assert.rejects(stopped, /stop now/);
          });
          await until(
            () => applied.size >= 6 && started.size > applied.size,
            "some operations ran and others run",
          );
          controller.abort(new Error("stop now"));
        });
        assert.equal(wal.counts().processing, 0, "running operations went back to pending");
        assert.ok(wal.counts().pending > 0);
        assert.ok(started.size > applied.size, "some attempts were interrupted");
      }
      await using wal = await WriteAheadLog.open(dir);
      await wal.process({ store: NO_STORE, handlers, health: false, untilIdle: true });
      for (const id of ids) {
        assert.equal(wal.get(id)!.state, "completed");
        assert.equal(applied.get(id), 1, `operation ${id} applied once`);
      }
    });
  },
  { virtualClock: 0 },
);

testEachStrategy("operations without a handler stay pending; one processor per log", async () => {
  await withTempDir(async (dir) => {
    await using wal = await WriteAheadLog.open(dir);
    const mystery = await wal.submit("mystery", {});
    const known = await wal.submit("known", {});
    await taskGroup(async (tg) => {
      tg.spawn(() => wal.process({ store: NO_STORE, handlers: { known: () => 1 }, health: false }));
      await wal.wait(known.id);
      await assert.rejects(
        wal.process({ store: NO_STORE, health: false, untilIdle: true }),
        (error: Error) => error instanceof WalError && /another processor/.test(error.message),
      );
      tg.cancelScope.cancel();
    });
    assert.equal(wal.get(mystery.id)!.state, "pending");
    assert.equal(wal.get(known.id)!.state, "completed");
    assert.throws(
      () => new OperationProcessor(wal, { store: NO_STORE, concurrency: 0 }),
      RangeError,
    );
    assert.throws(
      () => new OperationProcessor(wal, { store: NO_STORE, handlers: { x: 1 as never } }),
      TypeError,
    );
  });
}, { virtualClock: 0 });

testEachStrategy("a running processor writes checkpoints as they fall due", async () => {
  await withTempDir(async (dir) => {
    {
      await using wal = await WriteAheadLog.open(dir, {
        segmentSize: 1024,
        checkpointBytes: 4096,
        retainCount: 0,
      });
      for (let i = 0; i < 150; i++) await wal.submit("noop", { i, pad: "x".repeat(40) });
      await wal.process({
        store: NO_STORE,
        handlers: { noop: () => undefined },
        health: false,
        untilIdle: true,
      });
      const { checkpoints } = wal.telemetry.snapshot();
      assert.ok(checkpoints.count >= 1, "no checkpoint was written");
      assert.ok(checkpoints.segmentsRemoved > 0);
      assert.equal(wal.counts().completed, 150);
      // The last checkpoint held the pending operations: the next falls due after twice as much.
      const manual = await wal.checkpoint();
      assert.equal(manual.dropped, 150);
      assert.ok(wal.telemetry.snapshot().log.segments <= 2);
    }
    await using wal = await WriteAheadLog.open(dir);
    assert.ok(wal.recovery.checkpointLsn !== undefined);
    assert.equal(wal.size, 0, "finished operations were dropped");
  });
}, { virtualClock: 0 });

testEachStrategy("the health monitor goes degraded, offline and back online", async ({ clock }) => {
  let up = true;
  let hang = false;
  const changes: string[] = [];
  const monitor = new HealthMonitor({
    probe: async () => {
      if (hang) await sleepForever();
      return up ? { ok: true } : { ok: false, reason: "down" };
    },
    intervalMs: 1000,
    offlineAfter: 3,
    timeoutMs: 500,
    onChange: (state, previous) => changes.push(`${previous}->${state}`),
  });
  assert.equal(await monitor.check(), "online");
  up = false;
  assert.equal(await monitor.check(), "degraded");
  assert.equal(monitor.lastError, "down");
  hang = true;
  const before = clock!.now();
  assert.equal(await monitor.check(), "degraded");
  assert.equal(clock!.now() - before, 500, "the probe timed out");
  assert.match(monitor.lastError!, /timed out after 500 ms/);
  hang = false;
  monitor.reportFailure(new Error("refused"));
  assert.equal(monitor.state, "offline");
  assert.equal(monitor.consecutiveFailures, 3);
  await taskGroup(async (tg) => {
    tg.spawn(() => monitor.run());
    let available = false;
    tg.spawn(async () => {
      await monitor.waitUntilAvailable();
      available = true;
    });
    await sleep(5000);
    assert.equal(available, false, "waits while offline");
    up = true;
    await sleep(1000);
    assert.equal(available, true);
    assert.equal(monitor.state, "online");
    tg.cancelScope.cancel();
  });
  assert.deepEqual(changes, ["online->degraded", "degraded->offline", "offline->online"]);
  assert.throws(() => new HealthMonitor({ probe: 1 as never }), TypeError);
  assert.throws(() => new HealthMonitor({ probe: () => true, offlineAfter: 0 }), RangeError);
}, { virtualClock: 0 });

Deno.test("error predicates sort unreachable, retriable and permanent errors", () => {
  const refused = new UnreachableError("Cannot add: unreachable", "http://127.0.0.1:1");
  assert.ok(isUnavailableError(refused));
  assert.ok(isUnavailableError(new Deno.errors.ConnectionRefused("refused")));
  assert.ok(isUnavailableError(new TypeError("fetch failed")));
  assert.ok(isUnavailableError(new Error("wrapped", { cause: { code: "ECONNRESET" } })));
  assert.ok(!isUnavailableError(new Error("other")));
  assert.ok(!isUnavailableError("text"));
  assert.ok(isRetriableError(new Error("flaky")));
  assert.ok(!isRetriableError(new TypeError("bad")));
  assert.ok(!isRetriableError(Object.assign(new Error("pinned"), { name: "PinnedError" })));
});
