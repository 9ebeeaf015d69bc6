/**
 * Waiting until every other task is blocked: Trio's `wait_all_tasks_blocked`,
 * for tests that must act once the code under test has gone as far as it can.
 *
 * @module
 */

// deno-lint-ignore-file ipfs-kit/no-bare-timer
// The cushion is real time, outside the run's clock, by definition.

import { currentRuntime } from "./cancel_scope.ts";
import { checkpoint } from "./checkpoint.ts";
import { macrotaskYield } from "./macrotask.ts";

/** Options for {@linkcode waitAllTasksBlocked}. */
export interface WaitAllTasksBlockedOptions {
  /**
   * How long, in real milliseconds, every task must have stayed blocked.
   * Default 0: return as soon as one whole turn of the event loop passes in
   * which no task of the run did anything.
   */
  cushionMs?: number;
}

/**
 * Returns once every other task of the current run is blocked: parked on a
 * lock, event, channel or sleep, or awaiting I/O or a timer; none is ready to
 * run. "Did anything" means a checkpoint, a spawn or a finish in the run; the
 * wait itself is none of these. On the virtual clock it returns before an
 * autojump, so a test can look at the state just before time moves.
 *
 * It never returns while a task loops on checkpoints (that task is not
 * blocked). It is a checkpoint: in a cancelled scope it throws
 * `CancelledError`.
 *
 * @param options The cushion.
 * @returns A promise that settles once every other task is blocked.
 *
 * @example A test sees where a consumer stopped
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMemoryChannel, run, taskGroup } from "@ipfs-kit/kit/runtime";
 * import { waitAllTasksBlocked } from "@ipfs-kit/kit/runtime/testing";
 *
 * await run(async () => {
 *   const [send, receive] = createMemoryChannel<number>(0);
 *   const got: number[] = [];
 *   await taskGroup(async (tg) => {
 *     tg.spawn(async () => {
 *       for await (const value of receive) got.push(value);
 *     });
 *     await send.send(1);
 *     await waitAllTasksBlocked(); // the consumer took 1 and waits for more
 *     assert.deepEqual(got, [1]);
 *     send.close();
 *   });
 * });
 * ```
 */
export async function waitAllTasksBlocked(options: WaitAllTasksBlockedOptions = {}): Promise<void> {
  const cushionMs = options.cushionMs ?? 0;
  if (!(cushionMs >= 0)) {
    throw new RangeError(
      `Cannot wait for all tasks to block: cushionMs must be >= 0: received ${cushionMs}`,
    );
  }
  await checkpoint();
  const runtime = currentRuntime();
  const activity = () => runtime.checkpoints + runtime.tasksSpawned + runtime.tasksFinished;
  for (;;) {
    const before = activity();
    // A macrotask turn runs once every microtask has run: a task still going
    // on microtask hops shows up as activity.
    await macrotaskYield();
    if (activity() !== before) continue;
    if (cushionMs === 0) break;
    const quiet = activity();
    await new Promise((resolve) => setTimeout(resolve, cushionMs));
    await macrotaskYield();
    if (activity() === quiet) break;
  }
  await checkpoint();
}
