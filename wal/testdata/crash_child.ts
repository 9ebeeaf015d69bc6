// The child process of wal/crash_test.ts: opens the log, appends from several
// concurrent writers until it is killed, and prints one line per event on
// stdout, each written (synchronously, in one write) only after the event:
//   ready              the log is open
//   a <id> <lsn>       append of record <id> resolved with <lsn>
//   c <lsn>            about to compact below <lsn>
//
// deno run --allow-read --allow-write crash_child.ts <dir> <policy> <strategy> <writers> <firstId>

import { run } from "../../runtime/run.ts";
import { sleep } from "../../runtime/sleep.ts";
import { taskGroup } from "../../runtime/task_group.ts";
import type { StrategyName } from "../../runtime/strategy.ts";
import { SegmentLog } from "../segment_log.ts";
import type { SyncPolicy } from "../types.ts";
import { crashPayload, crashType } from "./crash_payload.ts";
import { say } from "../../tests/_crash_child.ts";

const [dir, policy, strategy, writers, firstId] = Deno.args;

await run(async () => {
  const log = await SegmentLog.open(dir, {
    syncPolicy: policy as SyncPolicy,
    segmentSize: 8 * 1024,
  });
  say("ready");
  let next = Number(firstId);
  await taskGroup((tg) => {
    for (let w = 0; w < Number(writers); w++) {
      tg.spawn(async () => {
        for (;;) {
          const id = next++;
          const { lsn } = await log.append(crashType(id), crashPayload(id));
          say(`a ${id} ${lsn}`);
        }
      });
    }
    tg.spawn(async () => {
      for (;;) {
        await sleep(3);
        const upTo = log.nextLsn - 40;
        if (upTo <= log.firstLsn) continue;
        say(`c ${upTo}`);
        await log.compact(upTo);
      }
    });
  });
}, { strategy: strategy as StrategyName });
