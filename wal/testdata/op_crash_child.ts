// The child process of wal/op_crash_test.ts: opens a WriteAheadLog, submits
// operations from concurrent writers (cancelling some), processes them
// (the first attempt of some fails and is retried) and writes checkpoints,
// until it is killed. One line per event on stdout, each written
// synchronously in one write only after the event:
//   ready                   the log is open
//   a <seq> <id>            submit of operation <seq> resolved with <id>
//   x <seq> <state>         cancel of operation <seq> resolved in <state>
//   c <lsn>                 a checkpoint at <lsn> was written and compacted
//
// deno run --allow-read --allow-write op_crash_child.ts <dir> <policy> <strategy> <writers> <firstSeq> <count>

import { run } from "../../runtime/run.ts";
import { sleep } from "../../runtime/sleep.ts";
import { taskGroup } from "../../runtime/task_group.ts";
import type { StrategyName } from "../../runtime/strategy.ts";
import type { HandlerContext, SyncPolicy } from "../types.ts";
import { WriteAheadLog } from "../write_ahead_log.ts";
import {
  crashOpCancelled,
  crashOpFailsOnce,
  crashOpParams,
  crashOpResult,
  crashOpType,
} from "./op_crash_ops.ts";
import { say } from "../../tests/_crash_child.ts";

const [dir, policy, strategy, writers, firstSeq, count] = Deno.args;

await run(async () => {
  const wal = await WriteAheadLog.open(dir, {
    syncPolicy: policy as SyncPolicy,
    segmentSize: 16 * 1024,
    retainMs: Infinity,
    retainCount: Infinity,
  });
  say("ready");
  let next = Number(firstSeq);
  const end = next + Number(count);
  await taskGroup((tg) => {
    tg.spawn(() =>
      wal.process({
        store: {} as never,
        builtinHandlers: false,
        handlers: {
          apply: ({ params, attempt }: HandlerContext<{ seq: number }>) => {
            if (attempt === 1 && crashOpFailsOnce(params.seq)) throw new Error("first attempt");
            return crashOpResult(params.seq);
          },
        },
        concurrency: 4,
        health: false,
        backoff: { baseDelayMs: 2, maxDelayMs: 20 },
        autoCheckpoint: false,
      })
    );
    for (let w = 0; w < Number(writers); w++) {
      tg.spawn(async () => {
        while (next < end) {
          const seq = next++;
          const op = await wal.submit(crashOpType(seq), crashOpParams(seq));
          say(`a ${seq} ${op.id}`);
          if (crashOpCancelled(seq)) {
            const after = await wal.cancel(op.id);
            say(`x ${seq} ${after.state}`);
          }
        }
      });
    }
    tg.spawn(async () => {
      for (;;) {
        await sleep(10);
        const { lsn } = await wal.checkpoint();
        say(`c ${lsn}`);
      }
    });
  });
}, { strategy: strategy as StrategyName });
