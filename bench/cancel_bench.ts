/**
 * How soon a large operation stops once it is cancelled: the time from the
 * cancel to the rejection of an embedded node's `add` or `cat` of 100 MiB
 * cancelled half way, under each scheduling strategy. The figure the issue
 * set is 50 ms; `ipfs/embedded_cancel_test.ts` checks the behaviour (stops
 * within a chunk, keeps nothing, leaks nothing) and this file measures it,
 * so that a busy machine cannot fail the suite on a timing.
 *
 * - `add-abort`: `node.add(stream, { signal })` on a node that syncs every
 *   block (`sync: true`), aborted when 50 MiB have been read.
 * - `add-scope`: the same add in a cancel scope cancelled at 50 MiB.
 * - `cat-abort`: a reader of `node.cat(cid, { signal })` with a read
 *   pending after 50 MiB, aborted.
 *
 * Only the time from the cancel to the rejection is measured (`b.start()`
 * at the cancel, `b.end()` at the rejection). Each entry checks that the
 * operation did reject with the cancel's reason and read at most one more
 * chunk.
 *
 * ```sh
 * deno bench --allow-all bench/cancel_bench.ts
 * ```
 *
 * @module
 */

import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { run } from "../runtime/run.ts";
import type { StrategyName } from "../runtime/strategy.ts";
import { generated } from "../tests/_bytes.ts";

const MIB = 1_048_576;
const TOTAL = 100 * MIB;
const HALF = 50 * MIB;
const STRATEGIES: readonly StrategyName[] = ["eager", "fair", "shuffle"];
const ITERATIONS = { n: 8, warmup: 1 } as const;

const repo = await Deno.makeTempDir({ prefix: "ipfs-kit-cancel-bench-" });
const node = await EmbeddedNode.open({ repo, sync: true });
const { cid } = await node.add(generated(TOTAL, { chunkSize: MIB }), { pin: true, cidVersion: 1 });

addEventListener("unload", () => {
  void node.close();
  Deno.removeSync(repo, { recursive: true });
});

/** Fails the entry unless the operation stopped within one chunk of the cancel. */
function checkStopped(entry: string, pulled: number): void {
  if (pulled > HALF + MIB) throw new Error(`${entry}: read ${pulled} bytes after the cancel`);
}

for (const strategy of STRATEGIES) {
  const name = `ipfs-kit [${strategy}]`;
  const baseline = strategy === "eager";

  Deno.bench({
    name,
    group: "add-abort",
    baseline,
    ...ITERATIONS,
    async fn(b) {
      const controller = new AbortController();
      const reason = new Error("enough");
      let pulled = 0;
      const stream = generated(TOTAL, {
        chunkSize: MIB,
        onPull: (bytes) => {
          pulled = bytes;
          if (bytes === HALF) {
            queueMicrotask(() => {
              b.start();
              controller.abort(reason);
            });
          }
        },
      });
      const failure = await run(() => node.add(stream, { signal: controller.signal }), {
        strategy,
      }).then(() => undefined, (error) => error);
      b.end();
      if (failure !== reason) throw new Error(`add-abort: ended with ${failure}`);
      checkStopped("add-abort", pulled);
      await node.repo.gc();
    },
  });

  Deno.bench({
    name,
    group: "add-scope",
    baseline,
    ...ITERATIONS,
    async fn(b) {
      const scope = new CancelScope();
      let pulled = 0;
      const stream = generated(TOTAL, {
        chunkSize: MIB,
        onPull: (bytes) => {
          pulled = bytes;
          if (bytes === HALF) {
            queueMicrotask(() => {
              b.start();
              scope.cancel("enough");
            });
          }
        },
      });
      await run(() => scope.run(() => node.add(stream)), { strategy });
      b.end();
      if (!scope.cancelledCaught) throw new Error("add-scope: the scope caught no cancellation");
      checkStopped("add-scope", pulled);
      await node.repo.gc();
    },
  });

  Deno.bench({
    name,
    group: "cat-abort",
    baseline,
    ...ITERATIONS,
    async fn(b) {
      const controller = new AbortController();
      const reason = new Error("reader gone");
      await run(async () => {
        const reader = node.cat(cid, { signal: controller.signal }).getReader();
        let read = 0;
        while (read < HALF) read += (await reader.read()).value!.length;
        const pending = reader.read();
        b.start();
        controller.abort(reason);
        const failure = await pending.then(() => undefined, (error) => error);
        b.end();
        if (failure !== reason) throw new Error(`cat-abort: ended with ${failure}`);
        checkStopped("cat-abort", read);
      }, { strategy });
    },
  });
}
