/**
 * `deno run --allow-read --allow-write --allow-env examples/runtime_tour.ts`: a
 * short tour of the ipfs-kit runtime.
 *
 * A producer feeds a bounded channel; three consumers hash each chunk in a
 * worker pool; a flaky step is retried with backoff; a slow step is cut off
 * by a deadline; and the run ends with the runtime's own counters.
 *
 * Pass `--strategy fair` (or `eager`, the default) to pick the scheduling
 * strategy.
 *
 * @module
 */

import {
  createMemoryChannel,
  failAfter,
  moveOnAfter,
  retry,
  run,
  runtimeStats,
  sleep,
  sleepForever,
  type StrategyName,
  taskGroup,
  TimeoutError,
  WorkerPool,
} from "../mod.ts";

const strategy = (Deno.args[Deno.args.indexOf("--strategy") + 1] ?? "eager") as StrategyName;
const CHUNKS = 12;
const CHUNK_SIZE = 256 * 1024;

await run(async () => {
  console.log(`ipfs-kit runtime tour (strategy: ${strategy})\n`);

  // 1. A pipeline: producer -> bounded channel -> 3 consumers -> worker pool.
  await using pool = new WorkerPool({ maxWorkers: 2 });
  const [send, receive] = createMemoryChannel<{ index: number; bytes: Uint8Array }>(4);
  const digests = new Array<string>(CHUNKS);
  const started = performance.now();
  await taskGroup((tg) => {
    tg.spawn(async () => {
      using _send = send;
      for (let index = 0; index < CHUNKS; index++) {
        const bytes = new Uint8Array(CHUNK_SIZE);
        crypto.getRandomValues(bytes.subarray(0, 65536));
        await send.send({ index, bytes });
      }
    });
    for (let worker = 0; worker < 3; worker++) {
      const mine = receive.clone();
      tg.spawn(async () => {
        using _receive = mine;
        for await (const { index, bytes } of mine) {
          digests[index] = await pool.run(fnv1a, [bytes]);
        }
      });
    }
    receive.close();
  });
  console.log(
    `1. hashed ${CHUNKS} chunks of ${CHUNK_SIZE / 1024} KiB in worker threads in ${
      (performance.now() - started).toFixed(1)
    } ms`,
  );
  console.log(`   first digests: ${digests.slice(0, 3).join(", ")}`);

  // 2. Retry with exponential backoff and jitter.
  let attempts = 0;
  const answer = await retry(async () => {
    attempts++;
    await sleep(1);
    if (attempts < 3) throw new Error(`flaky failure #${attempts}`);
    return 42;
  }, { attempts: 5, baseDelayMs: 5 });
  console.log(`2. a flaky step succeeded with ${answer} after ${attempts} attempts`);

  // 3. Deadlines: give up quietly, or fail loudly.
  const quiet = await moveOnAfter(20, () => sleepForever());
  console.log(`3. moveOnAfter(20 ms) gave up quietly: result ${quiet}`);
  try {
    await failAfter(20, () => sleep(1_000));
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
    console.log(`   failAfter(20 ms) threw ${error.name}: ${error.message}`);
  }

  // 4. The first failure in a group cancels its siblings; errors come out together.
  const failure = await taskGroup((tg) => {
    tg.spawn(() => sleepForever());
    tg.spawn(async () => {
      await sleep(5);
      throw new RangeError("a child failed");
    });
  }).catch((error: AggregateError) => error);
  console.log(`4. ${failure}`);

  const stats = runtimeStats();
  console.log(
    `\nruntime: ${stats.tasksSpawned} tasks spawned, ${stats.tasksLive} live, ` +
      `${stats.scopesCancelled} scopes cancelled, ${stats.checkpoints} checkpoints`,
  );
  console.log("\nNext: `deno task test` runs the suite; `deno task bench` the benchmarks.");
}, { strategy });

/** FNV-1a over the bytes: CPU-bound, self-contained, so it can run in a worker. */
function fnv1a(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i];
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}
