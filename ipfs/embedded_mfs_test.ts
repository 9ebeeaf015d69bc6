/**
 * The embedded node's MFS (`files`): every command, Kubo's CIDs and
 * errors, the root across restarts and SIGKILL, and garbage collection
 * keeping what the tree references.
 */

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { withNode } from "../tests/_node.ts";
import { randomBytes, readAll } from "../tests/_bytes.ts";
import { runAndKill } from "../tests/_crash.ts";
import { EmbeddedNode } from "./embedded_node.ts";
import { InvalidInputError, NotFoundError } from "./errors.ts";
import { MFS_ROOT_FILE } from "./_mfs_root.ts";

const CHILD = new URL("./testdata/mfs_crash_child.ts", import.meta.url).pathname;
/** Kubo's empty MFS root (an empty UnixFS directory, CIDv0). */
const EMPTY_DIR = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";

const text = (stream: ReadableStream<Uint8Array>) => new Response(stream).text();

testEachStrategy("files: mkdir, write, read, ls and stat as Kubo's files commands", async () => {
  await withNode(async (node) => {
    assert.equal((await node.files.stat("/")).cid.toString(), EMPTY_DIR);
    assert.deepEqual(await node.files.ls(), []);
    await node.files.mkdir("/docs");
    await node.files.write("/docs/hello.txt", "hello world\n", { create: true });
    const stat = await node.files.stat("/docs/hello.txt");
    // The CID `ipfs add` (and Kubo's `files write`) gives the same bytes.
    assert.equal(stat.cid.toString(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
    assert.deepEqual([stat.type, stat.size, stat.cumulativeSize], ["file", 12, 20]);
    assert.equal(await text(node.files.read("/docs/hello.txt")), "hello world\n");
    assert.equal(await text(node.files.read("/docs/hello.txt", { offset: 6, length: 5 })), "world");
    const big = randomBytes(700_000);
    await node.files.write("/docs/big.bin", big, { create: true, cidVersion: 1 });
    assert.deepEqual(await readAll(node.files.read("/docs/big.bin")), big);
    const added = await node.add(big, { cidVersion: 1, pin: false });
    assert.ok((await node.files.stat("/docs/big.bin")).cid.equals(added.cid));
    const listing = await node.files.ls("/docs");
    assert.deepEqual(
      listing.map((entry) => [entry.name, entry.type, entry.size]),
      [["big.bin", "file", 700_000], ["hello.txt", "file", 12]],
    );
    assert.deepEqual((await node.files.ls("/")).map((entry) => [entry.name, entry.type]), [[
      "docs",
      "directory",
    ]]);
    assert.deepEqual((await node.files.ls("/docs/hello.txt")).map((entry) => entry.name), [
      "hello.txt",
    ]);
    const dir = await node.files.stat("/docs");
    assert.equal(dir.type, "directory");
    assert.equal(dir.blocks, 2);
    // The tree is UnixFS: the kit's read API sees the same files under the root's CID.
    const root = await node.files.flush();
    assert.equal(await text(node.cat(`${root}/docs/hello.txt`)), "hello world\n");
  });
});

testEachStrategy("files: write at an offset, truncate, count, and past the end", async () => {
  await withNode(async (node) => {
    await node.files.write("/f", "0123456789", { create: true });
    await node.files.write("/f", "ab", { offset: 3 });
    assert.equal(await text(node.files.read("/f")), "012ab56789");
    await node.files.write("/f", "XYZ", { truncate: true, offset: 2 });
    assert.equal(await text(node.files.read("/f")), "01XYZ");
    await node.files.write("/f", "long content", { length: 4 });
    assert.equal(await text(node.files.read("/f")), "longZ");
    await node.files.write("/f", "!", { offset: 8 });
    assert.equal(await text(node.files.read("/f")), "longZ\0\0\0!");
    // A stream is written as it is read.
    await node.files.write(
      "/s",
      ReadableStream.from([new Uint8Array([1, 2]), new Uint8Array([3])]),
      { create: true },
    );
    assert.deepEqual(await readAll(node.files.read("/s")), new Uint8Array([1, 2, 3]));
  });
});

testEachStrategy("files: cp from MFS and /ipfs/, mv, rm, chcid", async () => {
  await withNode(async (node) => {
    const added = await node.addAll([{ path: "site/index.html", content: "<h1>hi</h1>" }]);
    const site = added.at(-1)!.cid;
    await node.files.cp(`/ipfs/${site}`, "/site");
    assert.equal(await text(node.files.read("/site/index.html")), "<h1>hi</h1>");
    assert.ok((await node.files.stat("/site")).cid.equals(site));
    await node.files.cp("/site/index.html", "/copies/a.html", { parents: true });
    await node.files.mv("/copies/a.html", "/copies/b.html");
    assert.deepEqual((await node.files.ls("/copies")).map((entry) => entry.name), ["b.html"]);
    await node.files.mkdir("/into");
    await node.files.mv("/copies/b.html", "/into"); // into an existing directory
    assert.deepEqual((await node.files.ls("/into")).map((entry) => entry.name), ["b.html"]);
    await assert.rejects(node.files.mv("/into", "/into/deeper"), /into itself/);
    await assert.rejects(node.files.rm("/into"), /is a directory, use -r/);
    await node.files.rm("/into", { recursive: true });
    await node.files.rm("/nothing", { force: true });
    assert.deepEqual((await node.files.ls()).map((entry) => entry.name), ["copies", "site"]);

    const before = (await node.files.stat("/")).cid;
    assert.equal(before.version, 0);
    await node.files.chcid("/", { cidVersion: 1 });
    const after = (await node.files.stat("/")).cid;
    assert.equal(after.version, 1);
    assert.ok(after.multihash.bytes.every((byte, i) => byte === before.multihash.bytes[i]));
    await node.files.mkdir("/v1");
    assert.equal((await node.files.stat("/v1")).cid.version, 1); // new directories follow the parent
    await node.files.mkdir("/a/b/c", { parents: true });
    await node.files.mkdir("/a/b", { parents: true }); // -p: no error when it exists
    assert.equal((await node.files.stat("/a/b/c")).type, "directory");
  });
});

testEachStrategy("files: typed errors with the path, the tree unchanged", async () => {
  await withNode(async (node) => {
    await node.files.write("/file", "x", { create: true });
    const root = (await node.files.stat("/")).cid.toString();
    const expect = async (promise: Promise<unknown>, type: unknown, message: RegExp) => {
      await assert.rejects(promise, (error) => {
        assert.ok(error instanceof (type as typeof Error), String(error));
        assert.match((error as Error).message, message);
        return true;
      });
    };
    await expect(
      node.files.write("/a/b", "x", { create: true }),
      NotFoundError,
      /^Cannot write file: \/a\/b: parent directory \/a does not exist$/,
    );
    await expect(node.files.write("/new", "x"), NotFoundError, /\/new: file does not exist/);
    await expect(node.files.stat("/missing"), NotFoundError, /\/missing: file does not exist/);
    await expect(node.files.mkdir("/file"), InvalidInputError, /\/file: file already exists/);
    await expect(
      node.files.cp("/file", "/file"),
      InvalidInputError,
      /directory already has entry by that name/,
    );
    await expect(node.files.mkdir("/file/sub"), InvalidInputError, /\/file is not a directory/);
    await expect(node.files.rm("/"), InvalidInputError, /cannot delete root/);
    await expect(node.files.rm("/gone"), NotFoundError, /\/gone: file does not exist/);
    await expect(node.files.ls("relative"), InvalidInputError, /leading slash/);
    await expect(node.files.mkdir("/a/../b"), InvalidInputError, /must not hold \. or \.\./);
    await expect(readAll(node.files.read("/")), InvalidInputError, /not a file/);
    await expect(
      node.files.cp("/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "/x"),
      NotFoundError,
      /./,
    );
    await expect(
      node.files.write("/file", "x", { offset: -1 }),
      InvalidInputError,
      /offset must be a non-negative integer/,
    );
    assert.equal((await node.files.stat("/")).cid.toString(), root);
  });
});

testEachStrategy(
  "files: garbage collection keeps the tree and removes what it dropped",
  async () => {
    await withNode(async (node) => {
      const kept = randomBytes(600_000);
      await node.files.write("/keep.bin", kept, { create: true });
      await node.files.write("/drop.bin", randomBytes(300_000), { create: true });
      const dropped = (await node.files.stat("/drop.bin")).cid;
      await node.files.rm("/drop.bin");
      const removed = (await node.repo.gc()).map((cid) => cid.multihash.bytes.join());
      assert.ok(removed.includes(dropped.multihash.bytes.join()));
      assert.deepEqual(await readAll(node.files.read("/keep.bin")), kept);
      assert.deepEqual(await node.pin.ls(), []); // MFS is no pin
    });
  },
);

testEachStrategy("files: concurrent writes all land", async () => {
  await withNode(async (node) => {
    await taskGroup((tg) => {
      for (let i = 0; i < 8; i++) {
        tg.spawn(() =>
          node.files.write(`/d${i % 2}/f${i}`, `${i}`, { create: true, parents: true })
        );
      }
    });
    const names = [
      ...(await node.files.ls("/d0")).map((entry) => entry.name),
      ...(await node.files.ls("/d1")).map((entry) => entry.name),
    ].sort();
    assert.deepEqual(names, ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"]);
  });
});

testEachStrategy(
  "files: the root survives a restart, and a cancelled write changes nothing",
  async () => {
    const repo = await Deno.makeTempDir({ prefix: "ipfs-kit-mfs-" });
    try {
      {
        await using node = await EmbeddedNode.open({ repo });
        await node.files.write("/a/b.txt", "persisted", { create: true, parents: true });
        const controller = new AbortController();
        const reason = new Error("stop");
        const writing = node.files.write(
          "/cancelled",
          new ReadableStream({
            pull(stream) {
              stream.enqueue(randomBytes(65_536));
              controller.abort(reason);
            },
          }),
          { create: true, signal: controller.signal },
        );
        await assert.rejects(writing, (error) => error === reason);
      }
      await using node = await EmbeddedNode.open({ repo });
      assert.equal(await text(node.files.read("/a/b.txt")), "persisted");
      assert.deepEqual((await node.files.ls()).map((entry) => entry.name), ["a"]);
      const file = (await Deno.readTextFile(`${repo}/${MFS_ROOT_FILE}`)).trim();
      assert.equal(file, (await node.files.stat("/")).cid.toString());
    } finally {
      await Deno.remove(repo, { recursive: true });
    }
  },
);

testEachStrategy(
  "files: SIGKILL while writing loses no acknowledged write and leaves a readable tree",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-mfs-crash-" });
    try {
      const acknowledged: number[] = [];
      let next = 0;
      for (let trial = 0; trial < 4; trial++) {
        const lines = await runAndKill({
          script: CHILD,
          dir,
          args: [String(next)],
          // `@helia/unixfs` reads the environment and the CPU count when it loads.
          allow: ["--allow-env", "--allow-sys"],
          earlyKillMs: 400,
          lateKillMs: 300,
        });
        for (const line of lines) {
          const match = /^a (\d+)$/.exec(line);
          if (match !== null) acknowledged.push(Number(match[1]));
        }
        next += 1000;
        await using node = await EmbeddedNode.open({ repo: `${dir}/repo` });
        for (const i of acknowledged) {
          assert.equal(await text(node.files.read(`/d${i % 4}/f${i}`)), `file ${i}`);
        }
        // Every entry of the tree reads back whole (written or not acknowledged yet).
        for (const top of await node.files.ls()) {
          if (top.type !== "directory") continue; // the child's warm-up file
          for (const entry of await node.files.ls(`/${top.name}`)) {
            assert.match(await text(node.files.read(`/${top.name}/${entry.name}`)), /^file \d+$/);
          }
        }
      }
      assert.ok(acknowledged.length > 0, "some writes were acknowledged before a kill");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
