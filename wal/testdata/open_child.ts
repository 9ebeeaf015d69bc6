// The child of the unwritable-directory tests in ../_log_directory_test.ts:
// opens a log in a directory, and prints on stdout one JSON line with the
// error it threw (name, problem, message), or `{"opened":true}`.
//
// deno run --allow-read --allow-write open_child.ts <dir> <segment|operation>

import { SegmentLog } from "../segment_log.ts";
import { WriteAheadLog } from "../write_ahead_log.ts";

const [dir, kind] = Deno.args;
try {
  const log = kind === "operation" ? await WriteAheadLog.open(dir) : await SegmentLog.open(dir);
  await log.close();
  console.log(JSON.stringify({ opened: true }));
} catch (error) {
  const { name, message } = error as Error;
  const problem = (error as { problem?: string }).problem;
  console.log(JSON.stringify({ name, problem, message }));
}
