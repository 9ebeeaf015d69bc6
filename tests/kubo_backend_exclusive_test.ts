/**
 * The Kubo backend's tests that would disturb other tests sharing the
 * daemon, or that hold a wall-clock bound. `deno task test` runs this file
 * alone, after the parallel pass of every other file against one daemon:
 * - garbage collection removes every unpinned block, also those another
 *   test just added with `pin: false` and is about to read back;
 * - a 100 MiB add cancelled half way, and inputs failing half way through an
 *   upload: js-ipfs 0.66 never releases its garbage-collection lock when an
 *   add request is aborted (the connection is closed promptly; the daemon's
 *   add never ends), so every later `block rm` or `repo gc` on it waits
 *   forever, and every add queued behind them too. Kubo releases the lock
 *   with the request;
 * - a 100 MiB cat cancelled half way (the shared daemon, read only): held to
 *   50 ms, which the parallel pass's load alone can exceed.
 *
 * Needs a Kubo-compatible daemon at `IPFS_KIT_KUBO_API` (see
 * `tests/_services.ts`); skipped without one, a failure under
 * `IPFS_KIT_REQUIRE_SERVICES=1`. When it is js-ipfs, each test starts a
 * private js-ipfs daemon of its own (`tools/start_js_ipfs.sh`) and throws it
 * away afterwards. Against Kubo they use the shared daemon: run this file
 * alone (not with `--parallel`) if other tests read back unpinned content.
 *
 * Every test also runs against the kit's own RPC handler over an embedded
 * node (`tests/_kubo_targets.ts`): a private server of its own per test
 * where the daemon would be disturbed.
 */

import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { testEachStrategy as testEachStrategyOf } from "../runtime/testing.ts";
import { TimeoutError } from "../runtime/errors.ts";
import { InvalidInputError, NotFoundError } from "../ipfs/errors.ts";
import { KuboBackend } from "../ipfs/kubo_backend.ts";
import { recursivePins, withPrivateJsIpfs } from "./_kubo_daemon.ts";
import { startDaemonProcess } from "./_daemon_process.ts";
import { type KuboTarget, kuboTargets } from "./_kubo_targets.ts";
import { generated, randomBytes } from "./_bytes.ts";

const MIB = 1024 * 1024;

const targets = await kuboTargets();
for (const target of targets) suite(target);

/** Every test of the suite, against one target (its label in the test names). */
function suite(target: KuboTarget): void {
  const kubo = target;
  const ignore = target.ignore;
  const isJsIpfs = target.kind === "js-ipfs";
  const testEachStrategy = (
    name: string,
    fn: Parameters<typeof testEachStrategyOf>[1],
    options?: Parameters<typeof testEachStrategyOf>[2],
  ) =>
    testEachStrategyOf(
      name.replace(/^Kubo backend: /, `Kubo backend [${target.label}]: `),
      fn,
      options,
    );

  /** A backend on a daemon these tests may disturb: a private js-ipfs, a private kit daemon. */
  async function withExclusiveDaemon(
    fn: (backend: KuboBackend) => Promise<void>,
  ): Promise<void> {
    const run = async (url: string) => {
      await using backend = await KuboBackend.connect({ api: url, timeoutMs: 120_000 });
      await fn(backend);
    };
    if (isJsIpfs) await withPrivateJsIpfs(run);
    else if (target.kind === "kit") {
      await using daemon = await startDaemonProcess();
      await run(daemon.url);
    } else await run(kubo.url);
  }

  testEachStrategy(
    "Kubo backend: a 100 MiB add cancelled half way stops at once and pins nothing",
    () =>
      withExclusiveDaemon(async (backend) => {
        const pinsBefore = await recursivePins(backend);
        let cancelled = false;
        const controller = new AbortController();
        const half = Promise.withResolvers<void>();
        const adding = backend.add(generated(100 * MIB, { onCancel: () => (cancelled = true) }), {
          signal: controller.signal,
          onProgress: (bytes) => {
            if (bytes >= 50 * MIB) half.resolve();
          },
        });
        await Promise.race([half.promise, adding]);
        const start = performance.now();
        const reason = new Error("enough");
        controller.abort(reason);
        await assert.rejects(adding, (error) => error === reason);
        const elapsed = performance.now() - start;
        assert.ok(elapsed < 50, `stopped after ${elapsed.toFixed(1)} ms`);
        assert.ok(cancelled, "the input stream was cancelled");
        assert.deepEqual(await recursivePins(backend), pinsBefore);
        assert.equal((await backend.version()).backend, "kubo"); // the daemon still answers
      }),
    { ignore },
  );

  // Not exclusive (it pins nothing and collects nothing), but held to a 50 ms bound: it runs in
  // the serial pass with this file, on the shared daemon.
  testEachStrategy("Kubo backend: a 100 MiB cat cancelled half way stops at once", async () => {
    await using backend = await KuboBackend.connect({ api: kubo.url, timeoutMs: 120_000 });
    const { cid } = await backend.add(generated(100 * MIB), { pin: false });
    for (const how of ["signal", "cancel"] as const) {
      const controller = new AbortController();
      const reader = backend.cat(cid, { signal: controller.signal }).getReader();
      let read = 0;
      while (read < 50 * MIB) {
        const { value, done } = await reader.read();
        assert.ok(!done);
        read += value.length;
      }
      const start = performance.now();
      if (how === "signal") {
        const reason = new Error("enough");
        controller.abort(reason);
        await assert.rejects(reader.read(), (error) => error === reason);
      } else {
        await reader.cancel();
        assert.deepEqual(await reader.read(), { done: true, value: undefined });
      }
      const elapsed = performance.now() - start;
      assert.ok(elapsed < 50, `${how}: stopped after ${elapsed.toFixed(1)} ms`);
      reader.releaseLock();
    }
  }, { ignore });

  testEachStrategy(
    "Kubo backend: an input failing half way fails the add with its own error, pinning nothing",
    () =>
      withExclusiveDaemon(async (backend) => {
        const pinsBefore = await recursivePins(backend);
        const broken = new Error("the disk went away");
        let sent = 0;
        const failing = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent >= 5 * MIB) {
              controller.error(broken);
              return;
            }
            sent += 262_144;
            controller.enqueue(randomBytes(262_144));
          },
        });
        await assert.rejects(backend.add(failing), (error) => error === broken);

        const chunks = (async function* () {
          yield randomBytes(3 * MIB);
          yield "not bytes" as unknown as Uint8Array;
        })();
        await assert.rejects(backend.add(chunks), (error) => {
          assert.ok(error instanceof InvalidInputError);
          assert.match(error.message, /content chunks must be Uint8Arrays: received string/);
          return true;
        });

        const entries = (async function* () {
          yield { path: "dir/a.bin", content: randomBytes(2 * MIB) };
          yield { path: "dir/../escape", content: "x" };
        })();
        await assert.rejects(backend.addAll(entries), /must not hold \. or \.\./);
        assert.deepEqual(await recursivePins(backend), pinsBefore);
      }),
    { ignore },
  );

  testEachStrategy(
    "Kubo backend: garbage collection removes unpinned blocks only",
    () =>
      withExclusiveDaemon(async (backend) => {
        const kept = await backend.add(randomBytes(300_000));
        const dropped = await backend.block.put(randomBytes(1000));
        const before = await backend.repo.stat();
        assert.ok(before.numObjects > 0 && before.repoSize > 0 && before.repoPath !== "");
        const removed = (await backend.repo.gc()).map((cid) => cid.toString());
        assert.ok(removed.includes(CID.createV1(raw.code, dropped.multihash).toString()));
        // Blocks are stored by multihash: the daemon names removed ones as raw CIDv1.
        assert.ok(
          removed.every((cid) => CID.parse(cid).version === 1 && CID.parse(cid).code === raw.code),
        );
        assert.ok(!removed.includes(CID.createV1(raw.code, kept.cid.multihash).toString()));
        const back = await new Response(backend.cat(kept.cid)).arrayBuffer();
        assert.equal(back.byteLength, 300_000);
        assert.ok((await backend.repo.stat()).repoSize < before.repoSize);
        // Gone: the daemon no longer has it (js-ipfs waits for it from the network).
        await assert.rejects(
          backend.block.stat(dropped, { timeoutMs: 500 }),
          (error) => error instanceof NotFoundError || error instanceof TimeoutError,
        );
        await backend.pin.rm(kept.cid);
      }),
    { ignore },
  );
}
