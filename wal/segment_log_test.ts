import assert from "node:assert/strict";
import { CancelledError } from "../runtime/errors.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { faults } from "./_faults.ts";
import { RECORD_OVERHEAD } from "./_frame.ts";
import {
  WalClosedError,
  WalDiskFullError,
  WalError,
  WalFailedError,
  WalLockedError,
} from "./errors.ts";
import { SegmentLog } from "./segment_log.ts";
import type { SyncPolicy } from "./types.ts";
import { mountTmpfs, unmount } from "../tests/_tmpfs.ts";
import {
  idOf,
  idsInFrames,
  ioError,
  payloadFor,
  readRecords,
  segmentFiles,
  withWalDir,
} from "../tests/_wal.ts";

const POLICIES: SyncPolicy[] = ["always", "group", "none"];

testEachStrategy(
  "records round-trip across segments and reopening, under each policy",
  async () => {
    for (const syncPolicy of POLICIES) {
      await withWalDir(async (dir) => {
        const written: Uint8Array[] = [];
        {
          await using log = await SegmentLog.open(dir, { syncPolicy, segmentSize: 512 });
          for (let id = 1; id <= 60; id++) {
            const payload = payloadFor(id);
            written.push(payload);
            const { lsn } = await log.append(1 + (id % 255), payload);
            assert.equal(lsn, id);
          }
          assert.ok(log.segmentCount > 3, `expected rotation, got ${log.segmentCount} segments`);
          assert.equal(log.nextLsn, 61);
          const records = await readRecords(log);
          assert.deepEqual(records.map((r) => r.lsn), written.map((_, i) => i + 1));
        }
        await using log = await SegmentLog.open(dir, { syncPolicy });
        assert.equal(log.recovery.damage, undefined);
        assert.equal(log.recovery.records, 60);
        const records = await readRecords(log);
        assert.equal(records.length, 60);
        for (const [i, record] of records.entries()) {
          assert.equal(record.lsn, i + 1);
          assert.equal(record.type, 1 + ((i + 1) % 255));
          assert.deepEqual(record.payload, written[i]);
        }
        assert.deepEqual((await readRecords(log, 58)).map((r) => r.lsn), [58, 59, 60]);
        assert.equal((await log.append(9, payloadFor(61))).lsn, 61);
        assert.equal((await readRecords(log, 61))[0].type, 9);
      });
    }
  },
);

testEachStrategy("LSNs follow the order of the calls under concurrency", async () => {
  await withWalDir(async (dir) => {
    await using log = await SegmentLog.open(dir, { segmentSize: 2048 });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => log.append(1, payloadFor(i))),
    );
    assert.deepEqual(results.map((r) => r.lsn), results.map((_, i) => i + 1));
    const records = await readRecords(log);
    assert.deepEqual(records.map((r) => idOf(r.payload)), results.map((_, i) => i));
  });
});

testEachStrategy("group commit: concurrent appends share one fdatasync", async () => {
  await withWalDir(async (dir) => {
    await using log = await SegmentLog.open(dir, { syncPolicy: "group" });
    await Promise.all(Array.from({ length: 64 }, (_, i) => log.append(1, payloadFor(i))));
    const stats = log.stats;
    assert.equal(stats.records, 64);
    // Appends made in one turn of the event loop go in one group.
    assert.equal(stats.groups, 1);
    assert.equal(stats.syncs, 1);
    // Appends made while a group is written go in the next one.
    const first = log.append(1, payloadFor(100));
    const wave = Promise.withResolvers<void>();
    faults.beforeWrite = () => {
      faults.beforeWrite = undefined;
      wave.resolve();
    };
    await wave.promise;
    const rest = Array.from({ length: 10 }, (_, i) => log.append(1, payloadFor(101 + i)));
    await Promise.all([first, ...rest]);
    assert.equal(log.stats.groups, 3);
    assert.equal(log.stats.syncs, 3);
  });
});

testEachStrategy("always: one write and one fdatasync per append; none: no fdatasync", async () => {
  await withWalDir(async (dir) => {
    {
      await using log = await SegmentLog.open(`${dir}/always`, { syncPolicy: "always" });
      await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(1, payloadFor(i))));
      assert.equal(log.stats.groups, 20);
      assert.equal(log.stats.syncs, 20);
    }
    {
      await using log = await SegmentLog.open(`${dir}/none`, { syncPolicy: "none" });
      await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(1, payloadFor(i))));
      assert.equal(log.stats.records, 20);
      assert.equal(log.stats.syncs, 0);
    }
  });
});

testEachStrategy("a durable append never rides in an unsynced group", async () => {
  await withWalDir(async (dir) => {
    const events: string[] = [];
    faults.beforeWrite = (_path, data) => {
      events.push(`write ${idsInFrames(data).join(",")}`);
    };
    faults.beforeSync = () => {
      events.push("sync");
    };
    await using log = await SegmentLog.open(dir, { syncPolicy: "group" });
    events.length = 0;
    let id = 0;
    const appendOne = async (durable: boolean) => {
      const mine = id++;
      await log.append(1, payloadFor(mine), { durable });
      events.push(`done ${mine} ${durable ? "durable" : "lazy"}`);
    };
    // Waves: mixed, only lazy, only durable, mixed again.
    for (const pattern of [[true, false, true], [false, false], [true, true], [false, true]]) {
      await Promise.all(
        Array.from({ length: 24 }, (_, i) => appendOne(pattern[i % pattern.length])),
      );
    }
    let lazyOnlyGroups = 0;
    for (const [index, event] of events.entries()) {
      if (event.startsWith("write")) {
        const ids = event.slice(6).split(",").map(Number);
        const durable = ids.some((i) => events.includes(`done ${i} durable`));
        // The next I/O after this write (acknowledgements of earlier groups may come between).
        const next = events.slice(index + 1).find((e) => e === "sync" || e.startsWith("write"));
        if (durable) assert.equal(next, "sync", `group ${ids} with durable records not synced`);
        else if (next !== "sync") lazyOnlyGroups++;
      }
      const match = /^done (\d+) (durable|lazy)$/.exec(event);
      if (match === null) continue;
      const writeIndex = events.findIndex((e) =>
        e.startsWith("write") && e.slice(6).split(",").includes(match[1])
      );
      assert.ok(writeIndex >= 0 && writeIndex < index, `record ${match[1]} done before written`);
      if (match[2] === "durable") {
        const syncIndex = events.indexOf("sync", writeIndex);
        assert.ok(
          syncIndex > writeIndex && syncIndex < index,
          `durable record ${match[1]} acknowledged without a sync after its write`,
        );
      }
    }
    assert.ok(lazyOnlyGroups > 0, "expected groups of lazy records to skip the sync");
    assert.equal((await readRecords(log)).length, 96);
  });
});

/** Waits a few real milliseconds: several turns of the event loop. */
function realPause(): Promise<void> {
  // deno-lint-ignore ipfs-kit/no-bare-timer -- real time, which the virtual clock must not move
  return new Promise((resolve) => setTimeout(resolve, 15));
}

testEachStrategy("maxGroupDelayMs gathers records until the delay passes", async ({ clock }) => {
  await withWalDir(async (dir) => {
    {
      await using log = await SegmentLog.open(`${dir}/delay`, { maxGroupDelayMs: 10 });
      const pending = [log.append(1, payloadFor(1))];
      // The leader waits on the (virtual) clock; nothing is written before it moves.
      await realPause();
      pending.push(log.append(1, payloadFor(2)));
      await realPause();
      pending.push(log.append(1, payloadFor(3)));
      await realPause();
      assert.equal(log.stats.groups, 0);
      clock!.advance(10);
      assert.deepEqual((await Promise.all(pending)).map((r) => r.lsn), [1, 2, 3]);
      assert.equal(log.stats.groups, 1);
      assert.equal(log.stats.syncs, 1);
    }
    {
      // Without a delay the leader writes at once: the clock (which only moves by hand here) stays.
      await using log = await SegmentLog.open(`${dir}/nodelay`);
      assert.deepEqual(await log.append(1, payloadFor(1)), { lsn: 1 });
      assert.equal(log.stats.groups, 1);
      assert.equal(clock!.now(), 10);
    }
  });
}, { virtualClock: 60_000 });

testEachStrategy("maxGroupBytes cuts the delay short", async ({ clock }) => {
  await withWalDir(async (dir) => {
    const frame = payloadFor(1, 20).length + RECORD_OVERHEAD;
    await using log = await SegmentLog.open(dir, {
      maxGroupDelayMs: 1_000,
      maxGroupBytes: 3 * frame,
    });
    const results = await Promise.all(
      [1, 2, 3].map((id) => log.append(1, payloadFor(id, 20))),
    );
    assert.deepEqual(results.map((r) => r.lsn), [1, 2, 3]);
    assert.equal(clock!.now(), 0, "the leader waited for the clock instead of the byte cap");
    assert.equal(log.stats.groups, 1);
  });
}, { virtualClock: 60_000 });

testEachStrategy("a cancelled queued append is dropped; a taken one completes", async () => {
  await withWalDir(async (dir) => {
    await using log = await SegmentLog.open(dir);
    const gates = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
    const started = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
    let writes = 0;
    faults.beforeWrite = async () => {
      const n = writes++;
      if (n < 2) {
        started[n].resolve();
        await gates[n].promise;
      }
    };
    const controllers = Array.from({ length: 4 }, () => new AbortController());
    const append = (id: number) =>
      log.append(1, payloadFor(id), { signal: controllers[id].signal });
    const a = append(0);
    await started[0].promise; // A is being written, alone.
    const [b, c, e] = [append(1), append(2), append(3)]; // queued
    controllers[0].abort(new Error("too late for A"));
    controllers[2].abort(new Error("drop C"));
    await assert.rejects(c, (error: Error) => error.message === "drop C");
    gates[0].resolve();
    await started[1].promise; // B leads the group of B and E.
    controllers[3].abort(new Error("too late for E"));
    gates[1].resolve();
    assert.deepEqual(await a, { lsn: 1 });
    assert.deepEqual(await b, { lsn: 2 });
    assert.deepEqual(await e, { lsn: 3 });
    const records = await readRecords(log);
    assert.deepEqual(records.map((r) => idOf(r.payload)), [0, 1, 3]);
    // An already-aborted signal never queues anything.
    const aborted = AbortSignal.abort(new Error("before"));
    await assert.rejects(log.append(1, payloadFor(9), { signal: aborted }), /before/);
    assert.equal(log.nextLsn, 4);
  });
});

testEachStrategy("an fdatasync error is fatal and never retried", async () => {
  await withWalDir(async (dir) => {
    const log = await SegmentLog.open(dir, { syncPolicy: "group" });
    for (let id = 0; id < 5; id++) await log.append(1, payloadFor(id));
    const injected = ioError("EIO", "Input/output error (os error 5)");
    let syncs = 0;
    const syncing = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    faults.beforeSync = async () => {
      syncs++;
      syncing.resolve();
      await release.promise;
      throw injected;
    };
    const inGroup = Array.from({ length: 10 }, (_, i) => log.append(1, payloadFor(5 + i)));
    await syncing.promise;
    const queued = Array.from({ length: 5 }, (_, i) => log.append(1, payloadFor(15 + i)));
    release.resolve();
    const results = await Promise.allSettled([...inGroup, ...queued]);
    for (const result of results) {
      assert.equal(result.status, "rejected");
      const reason = (result as PromiseRejectedResult).reason;
      assert.ok(reason instanceof WalFailedError, String(reason));
      assert.equal(reason.cause, injected);
      assert.match(reason.message, /fdatasync .* Input\/output error/);
    }
    assert.equal(syncs, 1, "the failed sync was retried");
    assert.ok(log.failure instanceof WalFailedError);
    await assert.rejects(log.append(1, payloadFor(99)), WalFailedError);
    await log.close(); // no sync attempted on a failed log
    assert.equal(syncs, 1);
    faults.beforeSync = undefined;
    await using reopened = await SegmentLog.open(dir);
    const ids = (await readRecords(reopened)).map((r) => idOf(r.payload));
    assert.deepEqual(ids.slice(0, 5), [0, 1, 2, 3, 4]);
  });
});

testEachStrategy("an fsync error while rotating is fatal too", async () => {
  await withWalDir(async (dir) => {
    await using log = await SegmentLog.open(dir, { syncPolicy: "group", segmentSize: 256 });
    faults.beforeSync = (path) => {
      if (path.endsWith(".tmp")) throw ioError("EIO", "Input/output error (os error 5)");
    };
    let failure: unknown;
    for (let id = 0; id < 100 && failure === undefined; id++) {
      await log.append(1, payloadFor(id, 40)).catch((error) => failure = error);
    }
    assert.ok(failure instanceof WalFailedError, String(failure));
    assert.match(failure.message, /fsync of .*\.tmp/);
    await assert.rejects(log.append(1, payloadFor(1)), WalFailedError);
    assert.equal(log.segmentCount, 1);
  });
});

testEachStrategy("a write error other than a full disk is fatal", async () => {
  await withWalDir(async (dir) => {
    await using log = await SegmentLog.open(dir);
    faults.beforeWrite = () => {
      throw ioError("EIO", "Input/output error (os error 5)");
    };
    await assert.rejects(log.append(1, payloadFor(1)), WalFailedError);
    faults.beforeWrite = undefined;
    await assert.rejects(log.append(1, payloadFor(2)), WalFailedError);
  });
});

testEachStrategy("an injected full disk fails the group only; the log goes on", async () => {
  await withWalDir(async (dir) => {
    await using log = await SegmentLog.open(dir);
    await log.append(1, payloadFor(1));
    let fail = true;
    faults.beforeWrite = () => {
      if (fail) {
        fail = false;
        throw ioError("ENOSPC", "No space left on device (os error 28)");
      }
    };
    const error = await log.append(1, payloadFor(2)).catch((e) => e);
    assert.ok(error instanceof WalDiskFullError, String(error));
    assert.match(error.message, /^Cannot append record: the disk is full: write to .*No space/);
    assert.equal(log.failure, undefined);
    assert.deepEqual(await log.append(1, payloadFor(3)), { lsn: 2 });
    assert.deepEqual((await readRecords(log)).map((r) => idOf(r.payload)), [1, 3]);
  });
});

testEachStrategy(
  "a real full disk (1 MiB tmpfs): clear error, nothing acknowledged lost",
  async () => {
    await withWalDir(async (dir) => {
      if (!(await mountTmpfs(dir))) {
        console.warn("tmpfs mount not permitted here: the injected full-disk tests cover it");
        return;
      }
      try {
        const acknowledged = new Map<number, number>();
        let failure: unknown;
        {
          await using log = await SegmentLog.open(`${dir}/log`, { segmentSize: 96 * 1024 });
          let id = 0;
          // Groups of concurrent 3 KiB appends until the disk is full.
          while (failure === undefined && id < 2000) {
            const batch = Array.from({ length: 8 }, () => id++);
            const results = await Promise.allSettled(
              batch.map((i) => log.append(1, payloadFor(i, 3000))),
            );
            for (const [k, result] of results.entries()) {
              if (result.status === "fulfilled") acknowledged.set(batch[k], result.value.lsn);
              else failure ??= result.reason;
            }
          }
          assert.ok(failure instanceof WalDiskFullError, String(failure));
          assert.match(failure.message, /disk is full.*No space left on device/);
          assert.equal(log.failure, undefined, "a full disk must not fail the log");
          assert.ok(acknowledged.size > 100);
        }
        await using log = await SegmentLog.open(`${dir}/log`);
        assert.equal(log.recovery.damage, undefined);
        const records = await readRecords(log);
        const byLsn = new Map(records.map((r) => [r.lsn, r]));
        for (const [i, lsn] of acknowledged) {
          assert.deepEqual(byLsn.get(lsn)?.payload, payloadFor(i, 3000), `record ${i} lost`);
        }
        assert.equal(records.length, acknowledged.size);
        // Freeing space makes appends work again.
        const removed = await log.compact(log.nextLsn);
        assert.ok(removed > 0);
        assert.equal((await log.append(1, payloadFor(1, 3000))).lsn, records.at(-1)!.lsn + 1);
      } finally {
        await unmount(dir);
      }
    });
  },
);

testEachStrategy(
  "compaction removes whole segments below the LSN, never the active one",
  async () => {
    await withWalDir(async (dir) => {
      {
        await using log = await SegmentLog.open(dir, { segmentSize: 512 });
        for (let id = 1; id <= 100; id++) await log.append(1, payloadFor(id, 40));
        const before = await segmentFiles(dir);
        assert.equal(await log.compact(1), 0);
        const removed = await log.compact(50);
        const after = await segmentFiles(dir);
        assert.equal(after.length, before.length - removed);
        assert.ok(removed > 0);
        assert.ok(log.firstLsn <= 50, `record 50 was removed: first is ${log.firstLsn}`);
        const records = await readRecords(log);
        assert.equal(records[0].lsn, log.firstLsn);
        assert.equal(records.at(-1)!.lsn, 100);
        // Every segment it could remove is gone: the second one left starts above 50.
        assert.ok(Number(after[1].slice(0, 20)) > 50);
        await log.compact(10_000);
        assert.equal(log.segmentCount, 1);
        assert.deepEqual(await segmentFiles(dir), after.slice(-1));
      }
      await using log = await SegmentLog.open(dir);
      const firstLsn = log.firstLsn;
      assert.ok(firstLsn > 50);
      assert.equal(log.nextLsn, 101);
      assert.equal((await readRecords(log))[0].lsn, firstLsn);
      assert.equal((await log.append(1, payloadFor(101))).lsn, 101);
    });
  },
);

testEachStrategy("a log is locked against a second open", async () => {
  await withWalDir(async (dir) => {
    const log = await SegmentLog.open(dir);
    await assert.rejects(SegmentLog.open(dir), WalLockedError);
    await log.close();
    const again = await SegmentLog.open(dir);
    await again.close();
  });
});

testEachStrategy("close waits for queued appends, then refuses new ones", async () => {
  await withWalDir(async (dir) => {
    const log = await SegmentLog.open(dir, { syncPolicy: "none" });
    const pending = Array.from({ length: 10 }, (_, i) => log.append(1, payloadFor(i)));
    const closing = log.close();
    assert.equal(log.closed, true);
    await assert.rejects(log.append(1, payloadFor(99)), WalClosedError);
    assert.deepEqual((await Promise.all(pending)).map((r) => r.lsn), pending.map((_, i) => i + 1));
    await closing;
    await log.close();
    await assert.rejects(log.compact(1), WalClosedError);
    await assert.rejects(readRecords(log), WalClosedError);
    await using reopened = await SegmentLog.open(dir);
    assert.equal(reopened.nextLsn, 11);
  });
});

testEachStrategy("arguments are validated", async () => {
  await withWalDir(async (dir) => {
    await assert.rejects(
      SegmentLog.open(dir, { syncPolicy: "sometimes" as SyncPolicy }),
      /Cannot open log: syncPolicy must be one of always, group, none: received "sometimes"/,
    );
    await assert.rejects(SegmentLog.open(dir, { segmentSize: 10 }), RangeError);
    await assert.rejects(SegmentLog.open(dir, { maxGroupDelayMs: -1 }), RangeError);
    await assert.rejects(SegmentLog.open(""), TypeError);
    await using log = await SegmentLog.open(dir, { maxPayloadSize: 16 });
    for (const type of [0, 256, 1.5, NaN]) {
      await assert.rejects(log.append(type, new Uint8Array(1)), RangeError);
    }
    await assert.rejects(
      log.append(1, "text" as unknown as Uint8Array),
      /Cannot append record: payload must be a Uint8Array: received string/,
    );
    await assert.rejects(log.append(1, new Uint8Array(17)), {
      name: "RangeError",
      message: "Cannot append record: payload exceeds 16 bytes: received 17",
    });
    assert.equal((await log.append(255, new Uint8Array(16))).lsn, 1);
    assert.equal((await log.append(1, new Uint8Array(0))).lsn, 2);
    await assert.rejects(log.compact(-1), RangeError);
    await assert.rejects(readRecords(log, -1), RangeError);
    assert.ok(new WalDiskFullError("x") instanceof WalError);
    assert.ok(!(new CancelledError() instanceof WalError));
  });
});

/**
 * Appends 300 records from concurrent callers, then one whose payload is a
 * length-tracking view, `change`s that payload's buffer while the record is
 * queued, appends 300 more, and checks after reopening that every record
 * (the changed one as it was at its call) is there.
 */
async function appendThenChange(
  dir: string,
  policy: SyncPolicy,
  payload: Uint8Array,
  change: () => void,
): Promise<void> {
  const expected = payload.slice();
  const ids = Array.from({ length: 600 }, (_, i) => i);
  {
    await using log = await SegmentLog.open(dir, { syncPolicy: policy, segmentSize: 16 * 1024 });
    const before = ids.slice(0, 300).map((id) => log.append(1, payloadFor(id)));
    const changed = log.append(2, payload);
    change();
    const after = ids.slice(300).map((id) => log.append(1, payloadFor(id)));
    const results = await Promise.all([...before, changed, ...after]);
    assert.deepEqual(results.map((r) => r.lsn), results.map((_, i) => i + 1));
    assert.equal(log.failure, undefined);
  }
  await using log = await SegmentLog.open(dir);
  assert.equal(log.recovery.damage, undefined);
  const records = await readRecords(log);
  assert.equal(records.length, 601, "acknowledged records lost");
  for (const record of records) {
    if (record.lsn === 301) {
      assert.equal(record.type, 2);
      assert.deepEqual(record.payload, expected, "the payload as it was at the call");
    } else {
      const id = record.lsn <= 300 ? record.lsn - 1 : record.lsn - 2;
      assert.deepEqual(record.payload, payloadFor(id), `record ${id}`);
    }
  }
}

testEachStrategy(
  "a payload resized after append() (a length-tracking view) changes nothing: no record lost",
  async () => {
    for (const policy of POLICIES) {
      for (const newLength of [5000, 3, 0]) {
        await withWalDir(async (dir) => {
          const buffer = new ArrayBuffer(100, { maxByteLength: 10_000 });
          const payload = new Uint8Array(buffer);
          payload.forEach((_, i) => payload[i] = i + 1);
          await appendThenChange(dir, policy, payload, () => {
            buffer.resize(newLength);
            assert.equal(payload.length, newLength); // it tracks the buffer
            payload.fill(0xee);
          });
        });
      }
      await withWalDir(async (dir) => {
        const shared = new SharedArrayBuffer(64, { maxByteLength: 4096 });
        const payload = new Uint8Array(shared);
        payload.forEach((_, i) => payload[i] = 255 - i);
        await appendThenChange(dir, policy, payload, () => {
          shared.grow(4096);
          assert.equal(payload.length, 4096);
        });
      });
    }
  },
);

testEachStrategy(
  "a payload whose buffer is transferred after append() is written as it was; the log goes on",
  async () => {
    for (const policy of POLICIES) {
      await withWalDir(async (dir) => {
        const buffer = new ArrayBuffer(300);
        const payload = new Uint8Array(buffer);
        payload.forEach((_, i) => payload[i] = i * 7);
        await appendThenChange(dir, policy, payload, () => {
          buffer.transfer();
          assert.equal(payload.length, 0); // detached
        });
      });
    }
    await withWalDir(async (dir) => {
      await using log = await SegmentLog.open(dir);
      const detached = new Uint8Array(new ArrayBuffer(8));
      detached.buffer.transfer();
      const shrunk = new ArrayBuffer(8, { maxByteLength: 8 });
      const outOfBounds = new Uint8Array(shrunk, 0, 8);
      shrunk.resize(4);
      for (const payload of [detached, outOfBounds]) {
        await assert.rejects(log.append(1, payload), {
          name: "TypeError",
          message:
            /^Cannot append record: payload cannot be read \(its buffer is detached or out of bounds\)/,
        });
      }
      assert.equal((await log.append(1, payloadFor(1))).lsn, 1);
      // A subclass that lies about its length: its own bytes are taken, no more, no fewer.
      class Liar extends Uint8Array {
        override get length(): number {
          return 1000;
        }
      }
      const liar = new Liar(10).fill(9);
      assert.equal((await log.append(2, liar)).lsn, 2);
      assert.equal((await log.append(3, payloadFor(3))).lsn, 3);
      const records = await readRecords(log);
      assert.deepEqual(records[1].payload, new Uint8Array(10).fill(9));
      assert.deepEqual(records[2].payload, payloadFor(3));
    });
  },
);

testEachStrategy("a big record gets a segment of its own", async () => {
  await withWalDir(async (dir) => {
    await using log = await SegmentLog.open(dir, { segmentSize: 256 });
    await log.append(1, payloadFor(1, 10));
    await log.append(1, payloadFor(2, 1000));
    await log.append(1, payloadFor(3, 10));
    assert.equal(log.segmentCount, 3);
    const records = await readRecords(log);
    assert.deepEqual(records.map((r) => r.payload.length), [10, 1000, 10]);
  });
});

testEachStrategy("the observer hears of every group and every timed fdatasync", async () => {
  await withWalDir(async (dir) => {
    const groups: Array<[number, number]> = [];
    const syncs: number[] = [];
    let beforeClose = 0;
    let log: SegmentLog;
    {
      await using opened = await SegmentLog.open(dir, {
        syncPolicy: "group",
        segmentSize: 2048,
        observer: {
          group: (records, bytes) => groups.push([records, bytes]),
          sync: (seconds) => syncs.push(seconds),
        },
      });
      log = opened;
      await Promise.all(Array.from({ length: 64 }, (_, i) => log.append(1, payloadFor(i, 20))));
      for (let i = 0; i < 30; i++) await log.append(1, payloadFor(i, 40));
      await log.append(1, payloadFor(99, 10), { durable: false });
      const stats = log.stats;
      assert.ok(stats.rotations > 0, "rotation syncs are timed too");
      assert.equal(groups.length, stats.groups);
      assert.equal(groups.reduce((sum, [records]) => sum + records, 0), stats.records);
      assert.equal(groups.reduce((sum, [, bytes]) => sum + bytes, 0), stats.bytes);
      assert.deepEqual(groups[0], [64, 64 * (20 + RECORD_OVERHEAD)]);
      assert.equal(syncs.length, stats.syncs);
      assert.ok(syncs.every((seconds) => seconds >= 0 && seconds < 60), syncs.join());
      beforeClose = syncs.length;
    }
    // The last append asked for no sync: closing syncs it, timed as well.
    assert.equal(syncs.length, beforeClose + 1);
    assert.equal(syncs.length, log.stats.syncs);
  });
});

testEachStrategy("an observer that throws is reported, and the log goes on", async () => {
  await withWalDir(async (dir) => {
    const reported: unknown[] = [];
    const onError = (event: ErrorEvent) => {
      reported.push(event.error);
      event.preventDefault();
    };
    globalThis.addEventListener("error", onError);
    try {
      await using log = await SegmentLog.open(dir, {
        observer: {
          group: () => {
            throw new Error("observer failed");
          },
        },
      });
      assert.equal((await log.append(1, payloadFor(1))).lsn, 1);
      assert.equal((await log.append(1, payloadFor(2))).lsn, 2);
      assert.equal(log.failure, undefined);
      assert.equal(reported.length, 2);
      assert.match(String(reported[0]), /observer failed/);
      await assert.rejects(SegmentLog.open(`${dir}/x`, { observer: 1 as never }), TypeError);
    } finally {
      globalThis.removeEventListener("error", onError);
    }
  });
});
