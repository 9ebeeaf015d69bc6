import assert from "node:assert/strict";
import {
  DirectoryError,
  ensureDirectory,
  isNotWritable,
  lockDirectory,
  LockedError,
} from "./directory.ts";
import { withTempDir } from "../tests/_files.ts";
import { mountTmpfs, unmount } from "../tests/_tmpfs.ts";

Deno.test("ensureDirectory: creates parents; a file or a path under one is a DirectoryError", async () => {
  await withTempDir(async (dir) => {
    await ensureDirectory(`${dir}/a/b/c`, "open store");
    assert.ok((await Deno.stat(`${dir}/a/b/c`)).isDirectory);
    await ensureDirectory(`${dir}/a/b/c`, "open store"); // exists: fine
    await Deno.writeTextFile(`${dir}/file`, "x");
    for (
      const [path, pattern] of [
        [`${dir}/file`, /Cannot open store: \S+\/file is a file, not a directory$/],
        [
          `${dir}/file/sub`,
          /Cannot open store: \S+\/file\/sub is under \S+\/file, which is a file, not a directory$/,
        ],
      ] as const
    ) {
      await assert.rejects(ensureDirectory(path, "open store"), (error) => {
        assert.ok(error instanceof DirectoryError);
        assert.equal(error.problem, "not-a-directory");
        assert.equal(error.path, path);
        assert.match(error.message, pattern);
        return true;
      });
    }
    assert.equal(await Deno.readTextFile(`${dir}/file`), "x");
  });
});

Deno.test("lockDirectory: one holder; a second gets LockedError; a read-only directory is not-writable", async () => {
  await withTempDir(async (dir) => {
    const held = await lockDirectory(dir, "open store");
    await assert.rejects(lockDirectory(dir, "open store"), (error) => {
      assert.ok(error instanceof LockedError);
      assert.equal(error.path, dir);
      assert.match(error.message, /^Cannot open store: \S+ is in use by another process/);
      return true;
    });
    held.close();
    (await lockDirectory(dir, "open store")).close();
    await Deno.mkdir(`${dir}/ro`);
    if (!(await mountTmpfs(`${dir}/ro`, { readOnly: true }))) return; // needs root: the rest skips
    try {
      await assert.rejects(lockDirectory(`${dir}/ro`, "open store"), (error) => {
        assert.ok(error instanceof DirectoryError);
        assert.equal(error.problem, "not-writable");
        return true;
      });
      await assert.rejects(ensureDirectory(`${dir}/ro/sub`, "open store"), DirectoryError);
    } finally {
      await unmount(`${dir}/ro`);
    }
  });
});

Deno.test("isNotWritable: permission and read-only file system errors", () => {
  assert.ok(isNotWritable(new Deno.errors.PermissionDenied("no")));
  assert.ok(isNotWritable(Object.assign(new Error("Read-only file system"), { code: "EROFS" })));
  assert.ok(!isNotWritable(new Deno.errors.NotFound("no")));
});
