/**
 * The write-ahead log across a real backend outage: a js-ipfs daemon of the
 * test's own is stopped while operations are submitted, and started again
 * on the same repository and the same API port. While it is down the
 * operations wait (pending, or retrying without using up attempts) and the
 * health monitor reports `offline`; once it is back every operation
 * completes, each applied exactly once, with the CIDs an embedded node
 * computes for the same input, and the daemon holds the blocks and pins.
 *
 * One run per scheduling strategy; they stop the daemon differently: the
 * `eager` run with SIGTERM (a clean shutdown), the `fair` run with SIGKILL (a
 * crash: the daemon leaves its repository lock behind).
 *
 * Needs the pinned js-ipfs (`tools/js-ipfs`, installed with `npm ci`):
 * skipped without it, a failure under `IPFS_KIT_REQUIRE_SERVICES=1`. Each
 * run starts and stops its daemon with `tools/start_js_ipfs.sh` (`restart`
 * for the second start), so it needs no `IPFS_KIT_KUBO_API`.
 */

import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { KuboBackend } from "../ipfs/kubo_backend.ts";
import { TimeoutError } from "../runtime/errors.ts";
import { sleep } from "../runtime/sleep.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { failAfter } from "../runtime/timeouts.ts";
import { OperationProcessor } from "../wal/processor.ts";
import type { HealthState, Operation } from "../wal/types.ts";
import { WriteAheadLog } from "../wal/write_ahead_log.ts";
import { randomBytes, readAll } from "./_bytes.ts";
import { eventually } from "./_async.ts";
import { JsIpfsDaemon } from "./_kubo_daemon.ts";
import { countingHandlers } from "./_wal.ts";

const JSIPFS = new URL("../tools/js-ipfs/node_modules/.bin/jsipfs", import.meta.url).pathname;

/** Why the test cannot run here, if it cannot. */
const missing = await Deno.stat(JSIPFS).then(
  () => undefined,
  () => `js-ipfs is not installed at ${JSIPFS} (install it with: cd tools/js-ipfs && npm ci)`,
);
if (missing !== undefined) {
  if (Deno.env.get("IPFS_KIT_REQUIRE_SERVICES") === "1") {
    Deno.test("js-ipfs is installed for the WAL outage test", () => {
      throw new Error(`${missing}; IPFS_KIT_REQUIRE_SERVICES=1 makes this a failure`);
    });
  } else console.warn(`${missing}: skipping the WAL outage test`);
}

/** How long the outage lasts once the monitor says offline, in ms of real time. */
const OUTAGE_MS = 2_500;

/** The sum of a map's counts. */
function total(counts: Map<string, number>): number {
  let sum = 0;
  for (const count of counts.values()) sum += count;
  return sum;
}

/** Waits for an operation to finish, at most `limitMs`; fails with its state if it does not. */
async function finished(wal: WriteAheadLog, id: string, limitMs: number): Promise<Operation> {
  try {
    return await failAfter(limitMs, () => wal.wait(id));
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
    const op = wal.get(id);
    assert.fail(
      `operation ${op?.type} ${id} did not finish within ${limitMs} ms: ${op?.state}, ` +
        `attempts ${op?.attempts}, last error ${op?.lastError}`,
    );
  }
}

testEachStrategy(
  "WAL backend outage: with the daemon stopped, operations wait; when it returns they complete, each exactly once",
  async ({ strategy }) => {
    const signal = strategy === "eager" ? "SIGTERM" : "SIGKILL";
    const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-wal-outage-" });
    const daemon = new JsIpfsDaemon(`${dir}/daemon`);
    try {
      await daemon.launch("start");
      const url = daemon.url;
      await using backend = await KuboBackend.connect({ api: url, timeoutMs: 30_000 });
      // The CIDs to expect, from another implementation: the embedded node.
      await using node = await EmbeddedNode.open({ repo: `${dir}/expected`, sync: false });
      await using wal = await WriteAheadLog.open(`${dir}/wal`);

      const calls = new Map<string, number>();
      const applied = new Map<string, number>();
      const states: HealthState[] = [];
      const processor = new OperationProcessor(wal, {
        store: backend,
        handlers: countingHandlers(applied, calls),
        concurrency: 4,
        // Retries after an unreachable backend are at least 30 s away: only the monitor's
        // resume, when the daemon is back, runs them within the test's time.
        backoff: { baseDelayMs: 60_000, maxDelayMs: 600_000, jitter: "equal" },
        health: {
          intervalMs: 200,
          offlineAfter: 2,
          timeoutMs: 5_000,
          onChange: (state) => states.push(state),
        },
      });

      const toPin = randomBytes(50_000);
      const toUnpin = randomBytes(20_000);
      const small = new TextEncoder().encode(
        "the write-ahead log outlives the daemon\n".repeat(20),
      );
      const large = randomBytes(600_000); // three chunks: a balanced DAG
      const v1 = randomBytes(100_000);
      const block = randomBytes(1_000);
      const blockCid = CID.parse((await node.block.put(block)).toString());
      const dagValue = { note: "written during an outage", block: blockCid };

      const ids: string[] = [];
      let retryAt = new Map<string, number | undefined>();
      let callsBefore = new Map<string, number>();
      await taskGroup(async (tg) => {
        tg.spawn(() => processor.run());

        // Before the outage: the processor applies operations to the live daemon.
        const before = [
          await wal.submit("add", { content: toPin, pin: false }),
          await wal.submit("add", { content: toUnpin }),
        ];
        const [addedToPin, addedToUnpin] = await Promise.all(
          before.map((op) => finished(wal, op.id, 30_000)),
        );
        for (const op of [addedToPin, addedToUnpin]) assert.equal(op.state, "completed");
        assert.equal(processor.health, "online");
        const pinCid = (addedToPin.result as { cid: string }).cid;
        const unpinCid = (addedToUnpin.result as { cid: string }).cid;
        ids.push(addedToPin.id, addedToUnpin.id);

        await daemon.kill(signal);
        ids.push(
          (await wal.submit("add", { content: small })).id,
          (await wal.submit("add", { content: large })).id,
          (await wal.submit("add", { content: v1, cidVersion: 1 })).id,
          (await wal.submit("pin", { cid: pinCid })).id,
          (await wal.submit("unpin", { cid: unpinCid })).id,
          (await wal.submit("blockPut", { bytes: block, pin: true })).id,
          (await wal.submit("dagPut", { value: dagValue, pin: true })).id,
        );
        const during = ids.slice(2);

        await eventually(
          () => processor.health === "offline" && processor.running === 0,
          "the monitor says offline and the attempts made before are over",
          { limitMs: 15_000, stepMs: 50 },
        );
        const callsWhenOffline = new Map(calls);
        const end = performance.now() + OUTAGE_MS;
        let samples = 0;
        while (performance.now() < end) {
          assert.equal(processor.health, "offline");
          for (const id of during) {
            const op = wal.get(id)!;
            assert.ok(op.state === "pending" || op.state === "retrying", `${op.type}: ${op.state}`);
            assert.equal(op.attempts, 0, "an unreachable backend does not use up attempts");
            // Attempted before the monitor said offline: failed as unreachable, waits for it.
            if (op.state === "retrying") assert.match(op.lastError!, /^UnreachableError: /);
          }
          samples++;
          await sleep(100);
        }
        assert.ok(samples > 1, `sampled ${samples} times`);
        // Paused: nothing reached for the daemon while it was known to be offline.
        assert.equal(total(calls), total(callsWhenOffline), "no attempts while offline");
        assert.equal(applied.size, 2, "only the operations before the outage were applied");
        assert.ok(wal.telemetry.snapshot().health.checksFailed >= 2);
        retryAt = new Map(during.map((id) => [id, wal.get(id)!.nextRetryAt]));
        callsBefore = callsWhenOffline;

        await daemon.launch("restart");
        assert.equal(daemon.url, url, "the daemon is back on the same port");
        for (const id of during) {
          const op = await finished(wal, id, 30_000);
          assert.equal(op.state, "completed", `${op.type}: ${op.lastError}`);
        }
        assert.equal(processor.health, "online");
        tg.cancelScope.cancel(); // stops the processor
      });

      // Each operation was applied exactly once, in one counted attempt, with the right result.
      for (const id of ids) {
        const op = wal.get(id)!;
        assert.equal(op.state, "completed", `${op.type} ${id}`);
        assert.equal(applied.get(id), 1, `${op.type} ${id} applied once`);
        if (retryAt.has(id)) {
          const after = calls.get(id)! - (callsBefore.get(id) ?? 0);
          assert.equal(after, 1, `${op.type} ${id}: called once after the daemon returned`);
        }
        assert.equal(op.attempts, 1, `${op.type} ${id}: no attempt used up`);
        const due = retryAt.get(id);
        if (due !== undefined) {
          assert.ok(op.completedAt! < due, "run once the daemon was back, not after its backoff");
        }
      }
      const [, , addSmall, addLarge, addV1, pin, unpin, put, dag] = ids.map((id) => wal.get(id)!);
      const expected = async (content: Uint8Array, cidVersion?: 0 | 1) => {
        const { cid, size } = await node.add(content, { cidVersion, pin: false });
        return { cid: cid.toString(), size };
      };
      const pinCid = (wal.get(ids[0])!.result as { cid: string }).cid;
      const unpinCid = (wal.get(ids[1])!.result as { cid: string }).cid;
      assert.deepEqual(wal.get(ids[0])!.result, await expected(toPin));
      assert.deepEqual(wal.get(ids[1])!.result, await expected(toUnpin));
      assert.deepEqual(addSmall.result, await expected(small));
      assert.deepEqual(addLarge.result, await expected(large));
      assert.deepEqual(addV1.result, await expected(v1, 1));
      assert.deepEqual(pin.result, { cid: pinCid });
      assert.deepEqual(unpin.result, { cid: unpinCid, unpinned: true });
      assert.deepEqual(put.result, { cid: blockCid.toString(), size: block.length });
      const dagCid = (await node.dag.put(dagValue)).toString();
      assert.deepEqual(dag.result, { cid: dagCid });

      // The daemon (restarted: what it holds is on its disk) has the content and the pins.
      const pins = new Map(
        (await backend.pin.ls({ timeoutMs: 10_000 })).map((p) => [p.cid.toString(), p.type]),
      );
      for (const op of [addSmall, addLarge, addV1, pin, put, dag]) {
        const cid = (op.result as { cid: string }).cid;
        // The kit's block put pins directly (Kubo's `block put --pin` would pin recursively).
        const type = op.type === "blockPut" ? "direct" : "recursive";
        assert.equal(pins.get(cid), type, `pin of ${op.type} ${cid}`);
      }
      assert.ok(!pins.has(unpinCid), "the unpinned CID is not pinned");
      const read = { timeoutMs: 10_000 };
      for (const [op, content] of [[addSmall, small], [addLarge, large], [addV1, v1]] as const) {
        const cid = (op.result as { cid: string }).cid;
        assert.deepEqual(await readAll(backend.cat(cid, read)), content, `content of ${cid}`);
      }
      assert.deepEqual(await readAll(backend.cat(pinCid, read)), toPin, "the content pinned");
      assert.deepEqual(await backend.block.get(blockCid, read), block);
      assert.equal((await backend.block.stat(blockCid, read)).size, block.length);
      const dagNode = (await backend.dag.get(dagCid, read)).value as typeof dagValue;
      assert.equal(dagNode.note, dagValue.note);
      assert.equal(dagNode.block.toString(), blockCid.toString());

      const health = wal.telemetry.snapshot().health;
      assert.ok(health.checksFailed >= 2 && health.checksOk >= 1);
      assert.ok(states.includes("offline"), `states: ${states.join()}`);
      assert.equal(states.at(-1), "online");
    } finally {
      await daemon.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
  { ignore: missing !== undefined },
);
