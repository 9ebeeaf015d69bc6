// Bad directories give typed errors, not raw operating system errors: a path
// that is a file, a path under a file, a read-only file system, a directory
// that cannot be written or read (for the segment log and the operation log
// above it); and a second opener gets WalLockedError. Both are also the
// runtime's DirectoryError and LockedError, which every store throws.

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { DirectoryError, LockedError } from "../runtime/directory.ts";
import { WalDirectoryError, WalError, WalLockedError } from "./errors.ts";
import { SegmentLog } from "./segment_log.ts";
import { WriteAheadLog } from "./write_ahead_log.ts";
import { mountTmpfs, remountReadOnly, unmount } from "../tests/_tmpfs.ts";
import { runWithoutFileCapabilities } from "../tests/_unprivileged.ts";
import { payloadFor, withWalDir } from "../tests/_wal.ts";

const CHILD = new URL("./testdata/open_child.ts", import.meta.url).pathname;

/** Both logs: opening one in `dir` and closing it again. */
const OPENERS = {
  SegmentLog: (dir: string) => SegmentLog.open(dir).then((log) => log.close()),
  WriteAheadLog: (dir: string) => WriteAheadLog.open(dir).then((wal) => wal.close()),
};

/** Opening a log in `dir` rejects with a `WalDirectoryError` for `problem`, naming `dir`. */
async function assertDirectoryError(
  open: (dir: string) => Promise<void>,
  dir: string,
  problem: string,
  message: RegExp,
): Promise<void> {
  const error = await open(dir).then(() => assert.fail(`${dir} opened`), (error) => error);
  assert.ok(error instanceof WalDirectoryError, `${error?.name}: ${error?.message}`);
  assert.ok(error instanceof DirectoryError && error instanceof WalError);
  assert.equal(error.problem, problem);
  assert.equal(error.path, dir);
  assert.match(error.message, message);
}

testEachStrategy("a path that is a file, or lies under one, is a WalDirectoryError", async () => {
  await withWalDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "not a directory");
    for (const open of Object.values(OPENERS)) {
      await assertDirectoryError(
        open,
        `${dir}/file`,
        "not-a-directory",
        /^Cannot open WAL: .*\/file is a file, not a directory$/,
      );
      for (const path of [`${dir}/file/wal`, `${dir}/file/a/b/wal`]) {
        await assertDirectoryError(
          open,
          path,
          "not-a-directory",
          new RegExp(`^Cannot open WAL: ${path} is under ${dir}/file, which is a file`),
        );
      }
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["file"]);
  });
});

testEachStrategy(
  "a read-only file system is a WalDirectoryError, for a new log and an existing one",
  async () => {
    await withWalDir(async (dir) => {
      if (!(await mountTmpfs(dir))) {
        console.warn("tmpfs mount not permitted here: read-only file system not tested");
        return;
      }
      try {
        {
          await using log = await SegmentLog.open(`${dir}/segments`);
          await log.append(1, payloadFor(1));
        }
        await (await WriteAheadLog.open(`${dir}/operations`)).close();
        assert.ok(await remountReadOnly(dir), "remount read-only");
        const readOnly = /is not writable: Read-only file system/;
        for (const open of Object.values(OPENERS)) {
          await assertDirectoryError(open, `${dir}/new`, "not-writable", readOnly);
        }
        await assertDirectoryError(OPENERS.SegmentLog, `${dir}/segments`, "not-writable", readOnly);
        await assertDirectoryError(
          OPENERS.WriteAheadLog,
          `${dir}/operations`,
          "not-writable",
          readOnly,
        );
        const error = await SegmentLog.open(`${dir}/segments`).catch((error) => error);
        assert.equal((error.cause as { code?: string }).code, "EROFS");
      } finally {
        await unmount(dir);
      }
    });
  },
);

testEachStrategy(
  "a directory the process may not write or read is a WalDirectoryError",
  async () => {
    await withWalDir(async (dir) => {
      await Deno.mkdir(`${dir}/readonly`, { mode: 0o555 });
      await Deno.chmod(`${dir}/readonly`, 0o555);
      await Deno.mkdir(`${dir}/unlisted`);
      await Deno.chmod(`${dir}/unlisted`, 0o333); // may be written and entered, not listed
      // Logs that became unwritable: their files still are, the directory is not.
      for (const kind of ["segment", "operation"]) {
        const path = `${dir}/existing-${kind}`;
        if (kind === "segment") await (await SegmentLog.open(path)).close();
        else await (await WriteAheadLog.open(path)).close();
        await Deno.chmod(path, 0o555);
      }
      const cases = [
        {
          path: `${dir}/readonly`,
          problem: "not-writable",
          message: /is not writable: Permission denied/,
        },
        {
          path: `${dir}/readonly/wal`,
          problem: "not-writable",
          message: /is not writable: Permission denied/,
        },
        {
          path: `${dir}/unlisted`,
          problem: "not-writable",
          message: /cannot be read: Permission denied/,
        },
      ];
      for (const kind of ["segment", "operation"]) {
        const existing = {
          path: `${dir}/existing-${kind}`,
          problem: "not-writable",
          message: /is not writable: Permission denied/,
        };
        for (const { path, problem, message } of [...cases, existing]) {
          const output = await runWithoutFileCapabilities(CHILD, [path, kind]);
          if (output === undefined) {
            console.warn("cannot drop file capabilities here: permissions not tested");
            return;
          }
          assert.equal(output.code, 0, output.stderr);
          const result = JSON.parse(output.stdout);
          assert.equal(
            result.name,
            "WalDirectoryError",
            `${kind} log in ${path}: ${output.stdout}`,
          );
          assert.equal(result.problem, problem, `${kind} log in ${path}`);
          assert.match(result.message, message);
          assert.ok(result.message.startsWith(`Cannot open WAL: ${path} `), result.message);
        }
      }
    });
  },
);

testEachStrategy("a second opener gets WalLockedError, naming the directory", async () => {
  await withWalDir(async (dir) => {
    for (const open of Object.values(OPENERS)) {
      const first = await SegmentLog.open(`${dir}/log`);
      const error = await open(`${dir}/log`).catch((error) => error);
      assert.ok(error instanceof WalLockedError, String(error));
      assert.ok(error instanceof LockedError && error instanceof WalError);
      assert.equal(error.path, `${dir}/log`);
      assert.match(
        error.message,
        /^Cannot open WAL: .* is in use by another process or another open handle$/,
      );
      await first.close();
    }
  });
});
