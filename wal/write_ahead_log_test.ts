import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import { testEachStrategy } from "../runtime/testing.ts";
import { faults } from "./_faults.ts";
import { HEADER_SIZE } from "./_frame.ts";
import { SUBMIT } from "./_records.ts";
import {
  OperationNotFoundError,
  OperationStateError,
  WalBusyError,
  WalClosedError,
  WalDamagedError,
  WalDiskFullError,
} from "./errors.ts";
import { SegmentLog } from "./segment_log.ts";
import {
  type Operation,
  OPERATION_STATES,
  type OperationChange,
  type SyncPolicy,
} from "./types.ts";
import { WriteAheadLog } from "./write_ahead_log.ts";
import { mountTmpfs, unmount } from "../tests/_tmpfs.ts";
import {
  copyDirectory,
  frameEnds,
  ioError,
  readRecords,
  segmentFiles,
  withWalDir,
} from "../tests/_wal.ts";

const POLICIES: SyncPolicy[] = ["always", "group", "none"];
const SOME_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

/** Bytes derived from `seed`, `length` long. */
function bytesFor(seed: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

/** Every operation, oldest first. */
function all(wal: WriteAheadLog): Operation[] {
  return wal.list({ limit: 10_000 }).operations;
}

/** Operations without their volatile fields, to compare across reopening. */
function stable(operations: Operation[]): unknown[] {
  return operations.map((op) => ({ ...op }));
}

testEachStrategy(
  "submitted operations survive reopening with their parameters, under each policy",
  async () => {
    for (const syncPolicy of POLICIES) {
      await withWalDir(async (dir) => {
        const submitted: Operation[] = [];
        {
          await using wal = await WriteAheadLog.open(dir, { syncPolicy, segmentSize: 4096 });
          for (let i = 0; i < 40; i++) {
            submitted.push(
              await wal.submit("add", { content: bytesFor(i, 10 + i * 37), cidVersion: 1 }),
            );
          }
          submitted.push(
            await wal.submit("custom", {
              nested: { list: [1, "two", null, true, { deep: bytesFor(99, 5) }] },
              link: CID.parse(SOME_CID),
              $dollar: { $bytes: 3, $cid: "not a tag" },
              __proto__x: 1,
              empty: new Uint8Array(0),
            }),
          );
          assert.equal(wal.size, 41);
          // Ids sort by submission.
          const ids = submitted.map((op) => op.id);
          assert.deepEqual([...ids].sort(), ids);
          assert.equal(new Set(ids).size, ids.length);
        }
        await using wal = await WriteAheadLog.open(dir, { syncPolicy });
        assert.equal(wal.recovery.operations, 41);
        assert.equal(wal.recovery.requeued, 0);
        const reopened = all(wal);
        assert.deepEqual(reopened.map((op) => op.id), submitted.map((op) => op.id));
        for (const [i, op] of reopened.entries()) {
          assert.equal(op.state, "pending");
          assert.equal(op.type, submitted[i].type);
          assert.equal(op.createdAt, submitted[i].createdAt);
          assert.deepEqual(op.params, submitted[i].params, `params of operation ${i}`);
        }
        const custom = reopened.at(-1)!.params as Record<string, unknown>;
        assert.ok(CID.asCID(custom.link)?.equals(CID.parse(SOME_CID)));
        assert.deepEqual(custom.$dollar, { $bytes: 3, $cid: "not a tag" });
        assert.deepEqual((reopened[7].params as { content: Uint8Array }).content, bytesFor(7, 269));
      });
    }
  },
);

testEachStrategy(
  "parameters that cannot be stored are refused before anything is written",
  async () => {
    await withWalDir(async (dir) => {
      await using wal = await WriteAheadLog.open(dir, { maxOperationBytes: 1024 });
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const bad: Array<[unknown, RegExp]> = [
        [{ when: new Date() }, /params\.when .*received Date/],
        [{ f: () => 1 }, /received function/],
        [{ n: NaN }, /received NaN/],
        [{ big: 1n }, /received bigint/],
        [cyclic, /cycle/],
        [{ words: new Uint16Array(2) }, /received Uint16Array/],
      ];
      for (const [params, message] of bad) {
        await assert.rejects(wal.submit("custom", params), (error: Error) => {
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, /^Cannot submit operation: /);
          assert.match(error.message, message);
          return true;
        });
      }
      await assert.rejects(
        wal.submit("custom", { bytes: new Uint8Array(2000) }),
        /Cannot submit operation: encoded parameters exceed 1024 bytes: received \d+/,
      );
      await assert.rejects(wal.submit("", {}), TypeError);
      await assert.rejects(wal.submit("x".repeat(300), {}), TypeError);
      await assert.rejects(wal.submit("custom", {}, { maxAttempts: 0 }), RangeError);
      assert.equal(wal.size, 0);
      assert.equal(wal.telemetry.snapshot().log.records, 0);
    });
  },
);

testEachStrategy(
  "parameters are taken at the call: a buffer resized or transferred afterwards changes nothing",
  async () => {
    await withWalDir(async (dir) => {
      const resizable = new ArrayBuffer(64, { maxByteLength: 4096 });
      const tracking = new Uint8Array(resizable);
      tracking.set(bytesFor(1, 64));
      const transferable = new ArrayBuffer(100);
      const plain = new Uint8Array(transferable);
      plain.set(bytesFor(2, 100));
      let ids: string[];
      {
        await using wal = await WriteAheadLog.open(dir, { syncPolicy: "group" });
        const first = wal.submit("blockPut", { bytes: tracking });
        resizable.resize(4096);
        tracking.fill(0xee);
        const second = wal.submit("blockPut", { bytes: plain });
        transferable.transfer();
        const others = Array.from({ length: 50 }, (_, i) => wal.submit("custom", { i }));
        ids = (await Promise.all([first, second, ...others])).map((op) => op.id);
      }
      await using wal = await WriteAheadLog.open(dir);
      assert.equal(wal.size, 52);
      assert.deepEqual((wal.get(ids[0])!.params as { bytes: Uint8Array }).bytes, bytesFor(1, 64));
      assert.deepEqual((wal.get(ids[1])!.params as { bytes: Uint8Array }).bytes, bytesFor(2, 100));
    });
  },
);

testEachStrategy("list filters by state and type, pages in both orders", async () => {
  await withWalDir(async (dir) => {
    await using wal = await WriteAheadLog.open(dir);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push((await wal.submit(i % 3 === 0 ? "pin" : "custom", { i, cid: SOME_CID })).id);
    }
    for (let i = 0; i < 30; i += 5) await wal.cancel(ids[i]);

    const walk = (options: Parameters<WriteAheadLog["list"]>[0]) => {
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const page = wal.list({ ...options, after });
        seen.push(...page.operations.map((op) => op.id));
        after = page.next;
        pages++;
      } while (after !== undefined);
      return { seen, pages };
    };
    const asc = walk({ limit: 7 });
    assert.deepEqual(asc.seen, ids);
    assert.equal(asc.pages, 5);
    const desc = walk({ limit: 4, order: "desc" });
    assert.deepEqual(desc.seen, [...ids].reverse());
    const pins = walk({ type: "pin", limit: 3 }).seen;
    assert.deepEqual(pins, ids.filter((_, i) => i % 3 === 0));
    const cancelled = walk({ state: "cancelled" }).seen;
    assert.deepEqual(cancelled, ids.filter((_, i) => i % 5 === 0));
    const pendingCustom = walk({ state: ["pending"], type: ["custom"] }).seen;
    assert.deepEqual(pendingCustom, ids.filter((_, i) => i % 3 !== 0 && i % 5 !== 0));
    assert.deepEqual(wal.list({ state: "completed" }), { operations: [], next: undefined });
    assert.deepEqual(wal.counts(), {
      pending: 24,
      processing: 0,
      retrying: 0,
      completed: 0,
      failed: 0,
      cancelled: 6,
    });
    assert.throws(() => wal.list({ state: "done" as never }), TypeError);
    assert.throws(() => wal.list({ limit: 0 }), RangeError);
    assert.throws(() => wal.list({ order: "up" as never }), TypeError);
    assert.equal(wal.get("missing"), undefined);
    assert.equal(wal.get(ids[3])?.id, ids[3]);
  });
});

testEachStrategy("cancel and retry move operations between states, durably", async () => {
  await withWalDir(async (dir) => {
    let a: string;
    let b: string;
    {
      await using wal = await WriteAheadLog.open(dir, { syncPolicy: "always" });
      a = (await wal.submit("custom", { n: 1 })).id;
      b = (await wal.submit("custom", { n: 2 })).id;
      const cancelled = await wal.cancel(a);
      assert.equal(cancelled.state, "cancelled");
      assert.ok(cancelled.completedAt !== undefined);
      assert.equal((await wal.cancel(a)).state, "cancelled", "cancelling twice is harmless");
      const retried = await wal.retry(a);
      assert.equal(retried.state, "pending");
      assert.equal(retried.attempts, 0);
      assert.equal(retried.completedAt, undefined);
      assert.equal(
        (await wal.retry(b)).state,
        "pending",
        "retrying a pending operation is a no-op",
      );
      await wal.cancel(b);
      await assert.rejects(wal.cancel("nope"), OperationNotFoundError);
      await assert.rejects(wal.retry("nope"), OperationNotFoundError);
      await assert.rejects(
        wal.wait("nope"),
        (error: OperationNotFoundError) => error.id === "nope",
      );
    }
    await using wal = await WriteAheadLog.open(dir);
    assert.equal(wal.get(a)?.state, "pending");
    assert.equal(wal.get(b)?.state, "cancelled");
    assert.equal((await wal.wait(b)).state, "cancelled");
  });
});

testEachStrategy("retry refuses a completed operation", async () => {
  await withWalDir(async (dir) => {
    const repo = `${dir}/unused`;
    await using wal = await WriteAheadLog.open(`${dir}/wal`);
    const { id } = await wal.submit("noop", {});
    await wal.process({
      store: {} as never,
      builtinHandlers: false,
      handlers: { noop: () => repo.length },
      health: false,
      untilIdle: true,
    });
    const done = wal.get(id)!;
    assert.equal(done.state, "completed");
    assert.equal(done.result, repo.length);
    await assert.rejects(wal.retry(id), (error: OperationStateError) => {
      assert.ok(error instanceof OperationStateError);
      assert.equal(error.state, "completed");
      assert.match(error.message, /^Cannot retry operation: it is completed: /);
      return true;
    });
  });
});

testEachStrategy("wait honours its signal and the log closing", async () => {
  await withWalDir(async (dir) => {
    const wal = await WriteAheadLog.open(dir);
    const { id } = await wal.submit("custom", {});
    const controller = new AbortController();
    const aborted = wal.wait(id, { signal: controller.signal });
    controller.abort(new Error("gave up"));
    await assert.rejects(aborted, /gave up/);
    const waiting = wal.wait(id);
    await wal.close();
    await assert.rejects(waiting, WalClosedError);
    await assert.rejects(wal.submit("custom", {}), WalClosedError);
    await assert.rejects(wal.checkpoint(), WalClosedError);
  });
});

testEachStrategy("a full disk fails submit clearly and loses nothing acknowledged", async () => {
  for (const syncPolicy of POLICIES) {
    await withWalDir(async (dir) => {
      const acknowledged: Operation[] = [];
      {
        await using wal = await WriteAheadLog.open(dir, { syncPolicy });
        for (let i = 0; i < 5; i++) {
          acknowledged.push(await wal.submit("add", { content: `x${i}` }));
        }
        faults.beforeWrite = () => {
          throw ioError("ENOSPC", "No space left on device (os error 28)");
        };
        const failures = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => wal.submit("add", { content: `lost${i}` })),
        );
        for (const failure of failures) {
          assert.equal(failure.status, "rejected");
          const error = (failure as PromiseRejectedResult).reason;
          assert.ok(error instanceof WalDiskFullError, String(error));
          assert.match(error.message, /^Cannot submit operation "add": the disk is full/);
        }
        assert.equal(wal.size, 5, "a failed submit leaves no operation behind");
        // A cancel that cannot be written changes nothing.
        await assert.rejects(wal.cancel(acknowledged[0].id), WalDiskFullError);
        assert.equal(wal.get(acknowledged[0].id)?.state, "pending");
        await assert.rejects(wal.checkpoint(), WalDiskFullError);
        faults.beforeWrite = undefined;
        acknowledged.push(await wal.submit("add", { content: "after" }));
      }
      await using wal = await WriteAheadLog.open(dir, { syncPolicy });
      assert.deepEqual(stable(all(wal)), stable(acknowledged));
    });
  }
});

testEachStrategy(
  "checkpoints drop expired finished operations and compact the log",
  async ({ clock }) => {
    await withWalDir(async (dir) => {
      let before: Operation[];
      {
        await using wal = await WriteAheadLog.open(dir, {
          segmentSize: 2048,
          retainMs: 60_000,
          retainCount: 5,
        });
        const ids: string[] = [];
        for (let i = 0; i < 60; i++) {
          ids.push((await wal.submit("custom", { i, data: bytesFor(i, 50) })).id);
        }
        for (let i = 0; i < 20; i++) await wal.cancel(ids[i]);
        const segments = wal.telemetry.snapshot().log.segments;
        const result = await wal.checkpoint();
        assert.equal(result.dropped, 15, "only the 5 most recent finished operations are kept");
        assert.equal(result.operations, 45);
        assert.ok(result.segmentsRemoved > 0, "segments before the checkpoint are removed");
        assert.ok(wal.telemetry.snapshot().log.segments < segments);
        assert.equal(wal.get(ids[0]), undefined);
        assert.equal(wal.get(ids[19])?.state, "cancelled");
        await wal.submit("custom", { after: true });
        await wal.cancel(ids[20]);
        // Retention by age: the clock moves past retainMs.
        clock!.advance(120_000);
        const second = await wal.checkpoint();
        assert.equal(second.dropped, 6);
        before = all(wal);
        assert.equal(before.length, 40);
        assert.equal(wal.telemetry.snapshot().checkpoints.count, 2);
      }
      await using wal = await WriteAheadLog.open(dir);
      assert.ok(wal.recovery.checkpointLsn !== undefined);
      assert.equal(wal.recovery.incompleteCheckpoints, 0);
      assert.deepEqual(stable(all(wal)), stable(before));
    });
  },
  { virtualClock: 0 },
);

testEachStrategy("a checkpoint cut short by a full disk is ignored on replay", async () => {
  // Under "always" every record is a write of its own: let the checkpoint's
  // first records through and fail one in the middle (or all the rest).
  for (const failRest of [false, true]) {
    await withWalDir(async (dir) => {
      let expected: Operation[];
      {
        await using wal = await WriteAheadLog.open(dir, { syncPolicy: "always", retainCount: 0 });
        const ids: string[] = [];
        for (let i = 0; i < 12; i++) ids.push((await wal.submit("custom", { i })).id);
        for (let i = 0; i < 4; i++) await wal.cancel(ids[i]);
        expected = all(wal);
        let writes = 0;
        faults.beforeWrite = () => {
          writes++;
          if (writes === 4 || (failRest && writes > 4)) {
            throw ioError("ENOSPC", "No space left on device (os error 28)");
          }
        };
        await assert.rejects(wal.checkpoint(), WalDiskFullError);
        faults.beforeWrite = undefined;
        assert.ok(writes >= 4);
        assert.equal(wal.telemetry.snapshot().checkpoints.failures, 1);
      }
      await using wal = await WriteAheadLog.open(dir);
      assert.equal(wal.recovery.checkpointLsn, undefined);
      assert.equal(wal.recovery.incompleteCheckpoints, 1);
      // The cancelled operations were to be dropped by the checkpoint: they are still there.
      assert.deepEqual(stable(all(wal)), stable(expected));
    });
  }
});

testEachStrategy("checkpoints and submits interleave without losing a submit", async () => {
  await withWalDir(async (dir) => {
    const pending = new Set<string>();
    const cancelled = new Set<string>();
    {
      await using wal = await WriteAheadLog.open(dir, { segmentSize: 1024, retainCount: 0 });
      const submits = Array.from({ length: 200 }, async (_, i) => {
        const op = await wal.submit("custom", { i, data: bytesFor(i, 20) });
        if (i % 3 === 0) {
          await wal.cancel(op.id);
          cancelled.add(op.id);
        } else pending.add(op.id);
      });
      const checkpoints = Array.from({ length: 5 }, () => wal.checkpoint());
      await Promise.all([...submits, ...checkpoints]);
      await wal.checkpoint();
    }
    await using wal = await WriteAheadLog.open(dir);
    assert.equal(pending.size, 133);
    for (const id of pending) assert.equal(wal.get(id)?.state, "pending", id);
    // Cancelled ones are dropped by the last checkpoint (retainCount 0).
    for (const id of cancelled) assert.equal(wal.get(id), undefined, id);
    assert.equal(wal.size, pending.size);
    assert.equal(wal.recovery.incompleteCheckpoints, 0);
  });
});

testEachStrategy(
  "a real full disk (1 MiB tmpfs): submit fails clearly, nothing acknowledged is lost",
  async () => {
    await withWalDir(async (dir) => {
      if (!(await mountTmpfs(dir))) {
        console.warn("tmpfs mount not permitted here: the injected full-disk tests cover it");
        return;
      }
      try {
        const acknowledged = new Map<string, number>();
        let failure: unknown;
        {
          await using wal = await WriteAheadLog.open(`${dir}/wal`, { segmentSize: 96 * 1024 });
          let seed = 0;
          while (failure === undefined && seed < 2000) {
            const batch = Array.from({ length: 8 }, () => seed++);
            const results = await Promise.allSettled(
              batch.map((i) => wal.submit("blob", { seed: i, bytes: bytesFor(i, 3000) })),
            );
            for (const [k, result] of results.entries()) {
              if (result.status === "fulfilled") acknowledged.set(result.value.id, batch[k]);
              else failure ??= result.reason;
            }
          }
          assert.ok(failure instanceof WalDiskFullError, String(failure));
          assert.match(failure.message, /^Cannot submit operation "blob": the disk is full/);
          assert.match(String((failure.cause as Error).message), /No space left on device/);
          assert.ok(acknowledged.size > 100, `${acknowledged.size} acknowledged`);
          assert.equal(wal.size, acknowledged.size);
          // A checkpoint needs room for every payload again: it fails and removes nothing.
          await assert.rejects(wal.checkpoint(), WalDiskFullError);
        }
        await using wal = await WriteAheadLog.open(`${dir}/wal`);
        assert.equal(wal.size, acknowledged.size);
        for (const [id, seed] of acknowledged) {
          const op = wal.get(id);
          assert.ok(op !== undefined, `acknowledged operation ${seed} lost`);
          assert.deepEqual(op.params, { seed, bytes: bytesFor(seed, 3000) });
        }
      } finally {
        await unmount(dir);
      }
    });
  },
);

testEachStrategy(
  "an operation interrupted while processing is pending again after reopening",
  async () => {
    await withWalDir(async (dir) => {
      let id: string;
      {
        const wal = await WriteAheadLog.open(`${dir}/wal`);
        id = (await wal.submit("slow", { n: 1 })).id;
        const started = Promise.withResolvers<void>();
        const processing = wal.process({
          store: {} as never,
          builtinHandlers: false,
          handlers: {
            slow: async ({ signal }) => {
              started.resolve();
              await new Promise((_, reject) =>
                signal.addEventListener("abort", () => reject(signal.reason))
              );
            },
          },
          health: false,
        });
        await started.promise;
        assert.equal(wal.get(id)?.state, "processing");
        assert.equal(wal.get(id)?.attempts, 1);
        // Closing stops the processor; the operation goes back to pending in memory.
        await wal.close();
        await processing;
        assert.equal(wal.get(id)?.state, "pending");
      }
      await using wal = await WriteAheadLog.open(`${dir}/wal`);
      assert.equal(wal.recovery.requeued, 1, "found processing on disk");
      const op = wal.get(id)!;
      assert.equal(op.state, "pending");
      assert.equal(op.attempts, 1);
    });
  },
);

testEachStrategy("options are validated", async () => {
  await withWalDir(async (dir) => {
    await assert.rejects(WriteAheadLog.open(dir, { maxAttempts: 0 }), RangeError);
    await assert.rejects(WriteAheadLog.open(dir, { retainMs: -1 }), RangeError);
    await assert.rejects(WriteAheadLog.open(dir, { maxOperationBytes: 1.5 }), RangeError);
    await assert.rejects(WriteAheadLog.open(dir, { syncPolicy: "sometimes" as never }), TypeError);
    await using wal = await WriteAheadLog.open(dir, { retainMs: Infinity, retainCount: Infinity });
    assert.deepEqual(Object.keys(wal.counts()), [...OPERATION_STATES]);
  });
});

testEachStrategy("subscribe reports submissions, changes and removals, in order", async () => {
  await withWalDir(async (dir) => {
    await using wal = await WriteAheadLog.open(`${dir}/wal`, { retainCount: 0 });
    const changes: OperationChange[] = [];
    const unsubscribe = wal.subscribe((change) => changes.push(change));
    const a = await wal.submit("custom", { n: 1 });
    const b = await wal.submit("noop", { n: 2 });
    assert.deepEqual(changes.map((c) => [c.kind, c.operation.id, c.previousState]), [
      ["submitted", a.id, undefined],
      ["submitted", b.id, undefined],
    ]);
    assert.deepEqual(changes[0].operation, a, "the operation as submit() returned it");
    assert.ok(Object.isFrozen(changes[0]));
    await wal.cancel(a.id);
    assert.deepEqual(changes.at(-1)!.kind, "updated");
    assert.equal(changes.at(-1)!.operation.state, "cancelled");
    assert.equal(changes.at(-1)!.previousState, "pending");
    await wal.retry(a.id);
    assert.equal(changes.at(-1)!.operation.state, "pending");
    assert.equal(changes.at(-1)!.previousState, "cancelled");
    changes.length = 0;
    await wal.process({
      store: {} as never,
      builtinHandlers: false,
      handlers: { noop: () => "done" },
      health: false,
      untilIdle: true,
    });
    assert.deepEqual(changes.map((c) => [c.operation.id, c.previousState, c.operation.state]), [
      [b.id, "pending", "processing"],
      [b.id, "processing", "completed"],
    ]);
    assert.equal(changes[1].operation.result, "done");
    changes.length = 0;
    await wal.checkpoint();
    assert.deepEqual(changes.map((c) => [c.kind, c.operation.id, c.previousState]), [
      ["removed", b.id, "completed"],
    ]);
    unsubscribe();
    unsubscribe();
    await wal.cancel(a.id);
    assert.equal(changes.length, 1, "no calls after unsubscribing");
  });
});

testEachStrategy(
  "subscribers: a signal unsubscribes, a throwing listener is reported",
  async () => {
    await withWalDir(async (dir) => {
      const reported: unknown[] = [];
      const onError = (event: ErrorEvent) => {
        reported.push(event.error);
        event.preventDefault();
      };
      globalThis.addEventListener("error", onError);
      try {
        const wal = await WriteAheadLog.open(dir);
        const controller = new AbortController();
        const seen: string[] = [];
        wal.subscribe(() => {
          throw new Error("listener failed");
        });
        wal.subscribe((change) => seen.push(`first ${change.kind}`), { signal: controller.signal });
        const listener = (change: OperationChange) => seen.push(`twice ${change.kind}`);
        const unsubscribeOne = wal.subscribe(listener);
        wal.subscribe(listener);
        const op = await wal.submit("custom", {});
        assert.deepEqual(seen, ["first submitted", "twice submitted", "twice submitted"]);
        assert.equal(reported.length, 1);
        assert.match(String(reported[0]), /listener failed/);
        controller.abort();
        unsubscribeOne();
        await wal.cancel(op.id);
        assert.deepEqual(seen.slice(3), ["twice updated"]);
        assert.throws(() => wal.subscribe("no" as never), TypeError);
        const aborted = AbortSignal.abort();
        wal.subscribe(() => seen.push("never"), { signal: aborted })();
        await wal.close();
        assert.throws(() => wal.subscribe(() => {}), WalClosedError);
        assert.ok(!seen.includes("never"));
      } finally {
        globalThis.removeEventListener("error", onError);
      }
    });
  },
);

testEachStrategy(
  "maxPending and maxPendingBytes refuse submissions with WalBusyError",
  async () => {
    await withWalDir(async (dir) => {
      await using wal = await WriteAheadLog.open(dir, { syncPolicy: "none", maxPending: 2 });
      const a = await wal.submit("custom", {});
      await wal.submit("custom", {});
      await assert.rejects(wal.submit("custom", {}), (error: unknown) => {
        assert(error instanceof WalBusyError);
        assert.match(error.message, /2 operations are unfinished \(maxPending 2\)/);
        return true;
      });
      await wal.cancel(a.id);
      await wal.submit("custom", {});
      await wal.close();
    });
    await withWalDir(async (dir) => {
      await using wal = await WriteAheadLog.open(dir, {
        syncPolicy: "none",
        maxPendingBytes: 3000,
      });
      const big = { s: "x".repeat(1000) };
      const first = await wal.submit("custom", big);
      await wal.submit("custom", big);
      await assert.rejects(wal.submit("custom", big), WalBusyError);
      // Small ones still fit; a cancelled one gives its bytes back.
      await wal.submit("custom", {});
      await wal.cancel(first.id);
      await wal.submit("custom", big);
      await wal.close();
    });
  },
);

testEachStrategy(
  "list pages come from the id index, also after pruning and reopening",
  async () => {
    await withWalDir(async (dir) => {
      {
        await using wal = await WriteAheadLog.open(dir, { syncPolicy: "none", retainCount: 5 });
        const ids: string[] = [];
        for (let i = 0; i < 300; i++) ids.push((await wal.submit(i % 3 === 0 ? "a" : "b", {})).id);
        for (const id of ids.slice(0, 30)) await wal.cancel(id);
        // Retention keeps 5 finished operations: the checkpoint drops 25 from the table and index.
        await wal.checkpoint();
        const all: string[] = [];
        let after: string | undefined;
        do {
          const page = wal.list({ limit: 7, after });
          all.push(...page.operations.map((op) => op.id));
          after = page.next;
        } while (after !== undefined);
        assert.deepEqual(all, ids.slice(25));
        const newest = wal.list({ order: "desc", limit: 2, type: "a", state: "pending" });
        assert.deepEqual(newest.operations.map((op) => op.id), [ids[297], ids[294]]);
        const before = wal.list({ order: "desc", limit: 2, after: ids[294], type: "a" });
        assert.deepEqual(before.operations.map((op) => op.id), [ids[291], ids[288]]);
        assert.equal(wal.list({ after: ids[299] }).operations.length, 0);
        await wal.close();
      }
      await using reopened = await WriteAheadLog.open(dir, { syncPolicy: "none", retainCount: 5 });
      const first = reopened.list({ limit: 3 });
      assert.equal(first.operations.length, 3);
      assert.equal(reopened.list({ limit: 10_000 }).operations.length, 275);
      const sorted = reopened.list({ limit: 10_000 }).operations.map((op) => op.id);
      assert.deepEqual(sorted, [...sorted].sort());
      await reopened.close();
    });
  },
);

// ---- damage -------------------------------------------------------------------------

testEachStrategy(
  "damage in the log under it is refused; point-in-time recovery keeps the operations before it",
  async () => {
    await withWalDir(async (dir) => {
      const ids: string[] = [];
      {
        await using wal = await WriteAheadLog.open(dir, { segmentSize: 1024 });
        for (let i = 0; i < 40; i++) ids.push((await wal.submit("custom", { i })).id);
      }
      const names = await segmentFiles(dir);
      assert.ok(names.length >= 4);
      const second = `${dir}/${names[1]}`;
      const bytes = await Deno.readFile(second);
      const offset = frameEnds(bytes, HEADER_SIZE)[1];
      bytes[offset + 20] ^= 0x04; // in the third record of the second segment
      await Deno.writeFile(second, bytes);
      const error = await WriteAheadLog.open(dir).catch((error) => error);
      assert.ok(error instanceof WalDamagedError, String(error));
      assert.deepEqual([error.segment, error.offset, error.kind], [names[1], offset, "corrupt"]);
      const kept = error.lsn - 1;
      let dropped: { from: number; to: number };
      {
        await using wal = await WriteAheadLog.open(dir, { recovery: "point-in-time" });
        assert.deepEqual(all(wal).map((op) => op.id), ids.slice(0, kept));
        assert.equal(wal.recovery.log.damage?.lsn, kept + 1);
        dropped = wal.recovery.log.droppedLsns!;
        assert.equal(dropped.from, kept + 1);
        assert.ok(dropped.to > 40, "LSNs up to 40 were handed out");
        const op = await wal.submit("custom", { i: 40 });
        assert.ok(!ids.includes(op.id));
        assert.ok((await wal.checkpoint()).lsn > dropped.to, "a dropped LSN handed out again");
      }
      await using wal = await WriteAheadLog.open(dir);
      assert.equal(wal.recovery.log.damage, undefined);
      assert.equal(wal.size, kept + 1);
    });
  },
);

/**
 * A log of five operations, then a record that passes its checksum but does
 * not decode (LSN 6), then the submit records of three more operations.
 * Returns the ids of the five and of the three.
 */
async function logWithUndecodableRecord(
  dir: string,
): Promise<{ before: string[]; after: string[] }> {
  const before: string[] = [];
  const after: string[] = [];
  {
    await using wal = await WriteAheadLog.open(`${dir}/wal`);
    for (let i = 0; i < 5; i++) before.push((await wal.submit("custom", { i })).id);
  }
  {
    await using scratch = await WriteAheadLog.open(`${dir}/scratch`);
    for (let i = 5; i < 8; i++) after.push((await scratch.submit("custom", { i })).id);
  }
  const records = await (async () => {
    await using scratch = await SegmentLog.open(`${dir}/scratch`);
    return await readRecords(scratch);
  })();
  await using log = await SegmentLog.open(`${dir}/wal`);
  assert.equal((await log.append(SUBMIT, new Uint8Array([0xff, 0xfe, 0xfd]))).lsn, 6);
  for (const record of records) await log.append(record.type, record.payload);
  return { before, after };
}

testEachStrategy(
  "a record that passes its checksum but cannot be decoded is refused, naming its segment and offset; point-in-time recovery opens to it",
  async () => {
    await withWalDir(async (dir) => {
      const { before, after } = await logWithUndecodableRecord(dir);
      const [name] = await segmentFiles(`${dir}/wal`);
      const offset = frameEnds(await Deno.readFile(`${dir}/wal/${name}`), HEADER_SIZE)[4];
      const error = await WriteAheadLog.open(`${dir}/wal`).catch((error) => error);
      assert.ok(error instanceof WalDamagedError, String(error));
      assert.deepEqual([error.segment, error.offset, error.kind, error.lsn], [
        name,
        offset,
        "undecodable",
        6,
      ]);
      assert.match(
        error.message,
        new RegExp(
          `^Cannot open WAL: segment ${name} is damaged at offset ${offset}: record 6 \\(type 1\\) cannot be decoded`,
        ),
      );
      {
        await using wal = await WriteAheadLog.open(`${dir}/wal`, { recovery: "point-in-time" });
        assert.deepEqual(all(wal).map((op) => op.id), before);
        assert.equal(wal.recovery.log.damage?.kind, "undecodable");
        assert.deepEqual(wal.recovery.log.droppedLsns?.from, 6);
        assert.ok(wal.recovery.log.droppedLsns!.to > 9);
        for (const id of after) assert.equal(wal.get(id), undefined);
      }
      await using wal = await WriteAheadLog.open(`${dir}/wal`);
      assert.deepEqual(all(wal).map((op) => op.id), before);
    });
  },
);

testEachStrategy(
  "a point-in-time recovery to an undecodable record cut short at any step is finished by the next open",
  async () => {
    await withWalDir(async (dir) => {
      const { before } = await logWithUndecodableRecord(dir);
      let expected: number;
      {
        await copyDirectory(`${dir}/wal`, `${dir}/clean`);
        await using wal = await WriteAheadLog.open(`${dir}/clean`, { recovery: "point-in-time" });
        expected = wal.recovery.log.droppedLsns!.to;
      }
      let finished = 0;
      for (let crashAt = 1;; crashAt++) {
        const target = `${dir}/crash-${crashAt}`;
        await copyDirectory(`${dir}/wal`, target);
        let count = 0;
        faults.beforeSync = () => {
          if (++count === crashAt) throw ioError("EIO", "crash");
        };
        const opened = await WriteAheadLog.open(target, { recovery: "point-in-time" })
          .catch(() => undefined);
        faults.beforeSync = undefined;
        if (opened !== undefined) {
          await opened.close();
          assert.ok(crashAt > 5, `the recovery made ${crashAt - 1} syncs`);
          break;
        }
        let wal = await WriteAheadLog.open(target).catch((error) => error);
        if (wal instanceof WalDamagedError) {
          // Cut short before its new segment existed: nothing was given up yet.
          wal = await WriteAheadLog.open(target, { recovery: "point-in-time" });
        } else {
          // It finished the recovery, or found it done (cut short after its last change).
          const damage = wal.recovery?.log.damage;
          assert.ok(damage === undefined || damage.resumed, `crash at sync ${crashAt}`);
          if (damage !== undefined) finished++;
        }
        assert.ok(wal instanceof WriteAheadLog, String(wal));
        try {
          assert.deepEqual(all(wal).map((op) => op.id), before, `crash at sync ${crashAt}`);
          assert.ok((await wal.checkpoint()).lsn >= expected, `crash at sync ${crashAt}`);
        } finally {
          await wal.close();
        }
      }
      assert.ok(finished >= 2, `${finished} strict opens finished the recovery`);
    });
  },
);
