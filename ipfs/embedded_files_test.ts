/**
 * The embedded node's file-system operations: `addPath` (a file or a
 * directory tree from disk), `get` (a tree back to disk), `ls` and `stat`.
 */

import assert from "node:assert/strict";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { UnixFS } from "npm:ipfs-unixfs@13.1.1";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { testEachStrategy } from "../runtime/testing.ts";
import type { AddAllEntry } from "./content_store.ts";
import type { EmbeddedNode } from "./embedded_node.ts";
import { InvalidCidError, InvalidInputError, NotFoundError } from "./errors.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { listNames } from "../tests/_files.ts";
import { withNode } from "../tests/_node.ts";

const encoder = new TextEncoder();

/** A tree on disk: path (relative) to content, or `null` for an empty directory. */
type Tree = Record<string, Uint8Array | null>;

async function writeTreeToDisk(root: string, tree: Tree): Promise<void> {
  await Deno.mkdir(root, { recursive: true });
  for (const [path, content] of Object.entries(tree)) {
    const full = `${root}/${path}`;
    if (content === null) await Deno.mkdir(full, { recursive: true });
    else {
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(full, content);
    }
  }
}

/** Reads a tree from disk: every file's bytes and every empty directory. */
async function readTreeFromDisk(root: string, prefix = ""): Promise<Tree> {
  const tree: Tree = {};
  let count = 0;
  for await (const entry of Deno.readDir(root)) {
    count++;
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) {
      Object.assign(tree, await readTreeFromDisk(`${root}/${entry.name}`, path));
    } else if (entry.isFile) tree[path] = await Deno.readFile(`${root}/${entry.name}`);
    else throw new Error(`unexpected entry ${path}`);
  }
  if (count === 0 && prefix !== "") tree[prefix] = null;
  return tree;
}

function sampleTree(): Tree {
  return {
    "readme.txt": encoder.encode("hello\n"),
    "empty.bin": new Uint8Array(0),
    "data/big.bin": randomBytes(600_000),
    "data/deeper/leaf.txt": encoder.encode("leaf"),
    "empty-dir": null,
    "\u00fcn\u00efcode name.txt": encoder.encode("names are UTF-8"),
  };
}

function asEntries(name: string, tree: Tree): AddAllEntry[] {
  return Object.entries(tree).map(([path, content]) =>
    content === null ? { path: `${name}/${path}` } : { path: `${name}/${path}`, content }
  );
}

testEachStrategy("addPath gives the CIDs addAll gives for the same tree", async () => {
  await withNode(async (node, _repo, scratch) => {
    const tree = sampleTree();
    await writeTreeToDisk(`${scratch}/site`, tree);
    for (const cidVersion of [0, 1] as const) {
      const fromDisk = await node.addPath(`${scratch}/site`, { cidVersion });
      const fromMemory = await node.addAll(asEntries("site", tree), { cidVersion });
      const byPath = (list: typeof fromDisk) =>
        new Map(list.map((entry) => [entry.path, entry.cid.toString()]));
      assert.deepEqual(byPath(fromDisk), byPath(fromMemory));
      assert.equal(fromDisk.at(-1)!.path, "site");
      assert.ok(fromDisk.some((entry) => entry.path === "site/empty-dir"));
      const pins = await node.pin.ls({ type: "recursive" });
      assert.ok(pins.some((pin) => pin.cid.equals(fromDisk.at(-1)!.cid)));
    }
  });
});

testEachStrategy("addPath adds a single file under its own name", async () => {
  await withNode(async (node, _repo, scratch) => {
    await Deno.writeTextFile(`${scratch}/note.txt`, "hello world\n");
    const [file] = await node.addPath(`${scratch}/note.txt`);
    assert.equal(file.path, "note.txt");
    assert.equal(file.cid.toString(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
    const wrapped = await node.addPath(`${scratch}/note.txt`, { wrapWithDirectory: true });
    assert.deepEqual(wrapped.map((entry) => entry.path), ["note.txt", ""]);
    assert.equal(
      await new Response(node.cat(`${wrapped[1].cid}/note.txt`)).text(),
      "hello world\n",
    );
  });
});

testEachStrategy("addPath skips hidden entries unless asked", async () => {
  await withNode(async (node, _repo, scratch) => {
    await writeTreeToDisk(`${scratch}/d`, {
      "shown.txt": encoder.encode("a"),
      ".hidden.txt": encoder.encode("b"),
      ".git/config": encoder.encode("c"),
    });
    const plain = await node.addPath(`${scratch}/d`);
    assert.deepEqual(plain.map((entry) => entry.path), ["d/shown.txt", "d"]);
    const all = await node.addPath(`${scratch}/d`, { hidden: true });
    assert.deepEqual(all.map((entry) => entry.path).sort(), [
      "d",
      "d/.git",
      "d/.git/config",
      "d/.hidden.txt",
      "d/shown.txt",
    ]);
  });
});

testEachStrategy("addPath reports progress per file", async () => {
  await withNode(async (node, _repo, scratch) => {
    await writeTreeToDisk(`${scratch}/d`, {
      "a.bin": new Uint8Array(300_000),
      "b.txt": encoder.encode("xyz"),
    });
    const seen: Array<[number, string]> = [];
    await node.addPath(`${scratch}/d`, { onProgress: (bytes, path) => seen.push([bytes, path]) });
    assert.deepEqual(seen, [[262_144, "d/a.bin"], [300_000, "d/a.bin"], [3, "d/b.txt"]]);
  });
});

testEachStrategy("addPath fails on bad paths with nothing stored", async () => {
  await withNode(async (node, _repo, scratch) => {
    await writeTreeToDisk(`${scratch}/d`, { "a.txt": encoder.encode("a"), "sub/b.txt": null });
    await assert.rejects(node.addPath(`${scratch}/missing`), (error) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.cid, `${scratch}/missing`);
      return true;
    });
    // A path through a file cannot be read.
    await assert.rejects(node.addPath(`${scratch}/d/a.txt/x`), InvalidInputError);
    // @ts-expect-error: testing a non-string path
    await assert.rejects(node.addPath(42), InvalidInputError);
    await assert.rejects(node.addPath(""), InvalidInputError);
    // A FIFO is neither a file nor a directory.
    const mkfifo = await new Deno.Command("mkfifo", { args: [`${scratch}/d/pipe`] }).output();
    assert.equal(mkfifo.code, 0);
    await assert.rejects(node.addPath(`${scratch}/d`), (error) => {
      assert.ok(error instanceof InvalidInputError);
      assert.match(error.message, /not a file or a directory/);
      return true;
    });
    assert.equal((await node.repo.stat()).numObjects, 0);
    assert.deepEqual(await node.pin.ls(), []);
  });
});

testEachStrategy(
  "addPath stores a symbolic link in the tree as a symlink node, as Kubo",
  async () => {
    await withNode(async (node, _repo, scratch) => {
      await writeTreeToDisk(`${scratch}/d`, { "a.txt": encoder.encode("a") });
      await Deno.symlink("a.txt", `${scratch}/d/link`);
      await Deno.symlink("/nowhere/at/all", `${scratch}/d/dangling`);
      const results = await node.addPath(`${scratch}/d`);
      const byPath = new Map(results.map((r) => [r.path, r.cid.toString()]));
      assert.deepEqual([...byPath.keys()].sort(), ["d", "d/a.txt", "d/dangling", "d/link"]);
      const listed = await node.ls(byPath.get("d")!);
      assert.deepEqual(
        listed.map((entry) => [entry.name, entry.type]).sort(),
        [["a.txt", "file"], ["dangling", "symlink"], ["link", "symlink"]],
      );
      await node.get(byPath.get("d")!, `${scratch}/back`);
      assert.equal(await Deno.readLink(`${scratch}/back/link`), "a.txt");
      assert.equal(await Deno.readLink(`${scratch}/back/dangling`), "/nowhere/at/all");
      // addAll takes links too; a link with content is refused.
      const [entry] = await node.addAll([{ path: "l", link: "a.txt" }]);
      assert.equal(entry.cid.toString(), byPath.get("d/link"));
      await assert.rejects(
        node.addAll([{ path: "l", link: "x", content: "y" }]),
        InvalidInputError,
      );
      await assert.rejects(node.addAll([{ path: "l", link: "" }]), InvalidInputError);
    });
  },
);

testEachStrategy("addPath follows symbolic links when asked, and stops at loops", async () => {
  await withNode(async (node, _repo, scratch) => {
    await writeTreeToDisk(`${scratch}/target`, { "t.txt": encoder.encode("target") });
    await writeTreeToDisk(`${scratch}/d`, { "a.txt": encoder.encode("a") });
    await Deno.symlink(`${scratch}/target`, `${scratch}/d/linked`);
    await Deno.symlink(`${scratch}/d/a.txt`, `${scratch}/d/alias.txt`);
    const results = await node.addPath(`${scratch}/d`, { followSymlinks: true });
    const root = results.at(-1)!.cid;
    assert.equal(await new Response(node.cat(`${root}/linked/t.txt`)).text(), "target");
    assert.equal(await new Response(node.cat(`${root}/alias.txt`)).text(), "a");
    await Deno.symlink(`${scratch}/d`, `${scratch}/d/loop`);
    await assert.rejects(
      node.addPath(`${scratch}/d`, { followSymlinks: true }),
      (error) => error instanceof InvalidInputError && /a loop/.test(error.message),
    );
  });
});

testEachStrategy("addPath names entries as given, and adds an empty directory", async () => {
  await withNode(async (node, _repo, scratch) => {
    await writeTreeToDisk(`${scratch}/real`, { "a.txt": encoder.encode("a") });
    await Deno.symlink(`${scratch}/real`, `${scratch}/alias`);
    const viaLink = await node.addPath(`${scratch}/alias/`);
    assert.deepEqual(viaLink.map((entry) => entry.path), ["alias/a.txt", "alias"]);
    const here = await node.addPath(`${scratch}/real/.`);
    assert.deepEqual(here.map((entry) => entry.path), ["real/a.txt", "real"]);
    assert.ok(here[1].cid.equals(viaLink[1].cid));
    await Deno.mkdir(`${scratch}/nothing`);
    const [empty] = await node.addPath(`${scratch}/nothing`);
    assert.deepEqual([empty.path, empty.cid.toString()], [
      "nothing",
      "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn",
    ]);
  });
});

testEachStrategy(
  "an addPath aborted mid-file stops, pins nothing and closes the file",
  async () => {
    await withNode(async (node, _repo, scratch) => {
      await writeTreeToDisk(`${scratch}/d`, {
        "a.bin": randomBytes(3_000_000),
        "b.bin": randomBytes(100),
      });
      const controller = new AbortController();
      const reason = new Error("stop");
      const seen: string[] = [];
      await assert.rejects(
        node.addPath(`${scratch}/d`, {
          signal: controller.signal,
          onProgress: (bytes, path) => {
            seen.push(path);
            if (bytes >= 1_000_000) controller.abort(reason);
          },
        }),
        (error) => error === reason,
      );
      assert.ok(seen.every((path) => path === "d/a.bin"), `read ${seen}`);
      assert.deepEqual(await node.pin.ls(), []);
      // The sanitizers check that the file was closed.
    });
  },
);

testEachStrategy("get writes a directory tree back as it was added", async () => {
  await withNode(async (node, _repo, scratch) => {
    const tree = sampleTree();
    await writeTreeToDisk(`${scratch}/in`, tree);
    for (const cidVersion of [0, 1] as const) {
      const root = (await node.addPath(`${scratch}/in`, { cidVersion })).at(-1)!;
      const out = `${scratch}/out-v${cidVersion}`;
      const result = await node.get(root.cid, out);
      assert.deepEqual(await readTreeFromDisk(out), await readTreeFromDisk(`${scratch}/in`));
      assert.ok(result.cid.equals(root.cid));
      assert.equal(result.files, 5);
      assert.equal(result.directories, 4); // the root, data, data/deeper, empty-dir
      const bytes = Object.values(tree).reduce((sum, content) => sum + (content?.length ?? 0), 0);
      assert.equal(result.bytes, bytes);
    }
    // Nothing but the outputs is left beside them.
    assert.deepEqual(await listNames(scratch), ["in", "out-v0", "out-v1"]);
  });
});

testEachStrategy("get writes a single file, and a path below a CID", async () => {
  await withNode(async (node, _repo, scratch) => {
    const big = randomBytes(700_000);
    const results = await node.addAll([{ path: "d/big.bin", content: big }]);
    const root = results.at(-1)!.cid;
    const result = await node.get(`/ipfs/${root}/big.bin`, `${scratch}/copy.bin`);
    assert.deepEqual([result.files, result.directories, result.bytes], [1, 0, big.length]);
    assert.deepEqual(await Deno.readFile(`${scratch}/copy.bin`), big);
  });
});

testEachStrategy("get refuses an existing target or a missing parent", async () => {
  await withNode(async (node, _repo, scratch) => {
    const { cid } = await node.add("x");
    await Deno.writeTextFile(`${scratch}/taken`, "mine");
    await assert.rejects(node.get(cid, `${scratch}/taken`), InvalidInputError);
    assert.equal(await Deno.readTextFile(`${scratch}/taken`), "mine");
    await assert.rejects(node.get(cid, `${scratch}/no/such/dir/file`), InvalidInputError);
    await assert.rejects(node.get(cid, ""), InvalidInputError);
    await assert.rejects(node.get("not-a-cid", `${scratch}/x`), InvalidCidError);
    assert.deepEqual(await listNames(scratch), ["taken"]);
  });
});

/** Stores a dag-pb directory whose links have the given names (all to one file). */
async function craftDirectory(node: EmbeddedNode, names: string[]): Promise<CID> {
  const { cid: file } = await node.add("payload", { pin: false });
  const links = names.map((name) => ({ Name: name, Hash: file, Tsize: 15 }));
  const data = new UnixFS({ type: "directory" }).marshal();
  const bytes = dagPb.encode(dagPb.prepare({ Data: data, Links: links }));
  return await node.block.put(bytes, { codec: "dag-pb", cidVersion: 0 });
}

testEachStrategy("get rejects names that would escape the target, writing nothing", async () => {
  await withNode(async (node, _repo, scratch) => {
    for (const bad of ["..", ".", "", "a/b", "../../etc", "x\\y", "nul\0"]) {
      const dir = await craftDirectory(node, ["fine.txt", bad]);
      await assert.rejects(node.get(dir, `${scratch}/out`), (error) => {
        assert.ok(error instanceof InvalidInputError, `${JSON.stringify(bad)}: ${error}`);
        assert.match(error.message, /unsafe name/);
        return true;
      });
      assert.deepEqual(await listNames(scratch), [], JSON.stringify(bad));
    }
    const twice = await craftDirectory(node, ["same", "same"]);
    await assert.rejects(node.get(twice, `${scratch}/out`), InvalidInputError);
    assert.deepEqual(await listNames(scratch), []);
  });
});

testEachStrategy("get fails on a missing block and leaves nothing behind", async () => {
  await withNode(async (node, _repo, scratch) => {
    const results = await node.addAll([
      { path: "d/a.txt", content: "a" },
      { path: "d/b.bin", content: randomBytes(600_000) },
    ], { cidVersion: 1, pin: false });
    const file = results.find((entry) => entry.path === "d/b.bin")!.cid;
    const leaf = dagPb.decode(await node.block.get(file)).Links[2].Hash;
    await node.block.rm(leaf);
    await assert.rejects(node.get(results.at(-1)!.cid, `${scratch}/out`), (error) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.cid, leaf.toString());
      return true;
    });
    assert.deepEqual(await listNames(scratch), []);
  });
});

testEachStrategy("an aborted get leaves nothing behind", async () => {
  await withNode(async (node, _repo, scratch) => {
    const { cid } = await node.add(randomBytes(3_000_000), { pin: false });
    const reason = new Error("stop");
    await assert.rejects(
      node.get(cid, `${scratch}/out`, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    assert.deepEqual(await listNames(scratch), []);
  });
});

testEachStrategy("ls lists a directory with types and sizes", async () => {
  await withNode(async (node) => {
    const results = await node.addAll([
      { path: "d/b.txt", content: "hello" },
      { path: "d/a.bin", content: new Uint8Array(300_000) },
      { path: "d/sub/c.txt", content: "c" },
      { path: "d/empty" },
    ]);
    const root = results.at(-1)!.cid;
    const cidOf = (path: string) => results.find((entry) => entry.path === path)!.cid;
    const entries = await node.ls(root);
    assert.deepEqual(
      entries.map((entry) => [entry.name, entry.type, entry.size, entry.cid.toString()]),
      [
        ["a.bin", "file", 300_000, cidOf("d/a.bin").toString()],
        ["b.txt", "file", 5, cidOf("d/b.txt").toString()],
        ["empty", "directory", 0, cidOf("d/empty").toString()],
        ["sub", "directory", 0, cidOf("d/sub").toString()],
      ],
    );
    assert.equal(entries[0].path, `${root}/a.bin`);
    const sub = await node.ls(`/ipfs/${root}/sub/`);
    assert.deepEqual(sub.map((entry) => [entry.name, entry.path]), [
      ["c.txt", `${root}/sub/c.txt`],
    ]);
    assert.deepEqual(await node.ls(`${root}/empty`), []);
    // A file lists as itself.
    const [file] = await node.ls(`${root}/b.txt`);
    assert.deepEqual([file.name, file.type, file.size], ["b.txt", "file", 5]);
  });
});

testEachStrategy("ls and stat reject what is not UnixFS, missing or invalid", async () => {
  await withNode(async (node) => {
    const cbor = await node.dag.put({ hello: "world" });
    await assert.rejects(node.ls(cbor), InvalidInputError);
    await assert.rejects(node.stat(cbor), InvalidInputError);
    const missing = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    await assert.rejects(node.ls(missing), NotFoundError);
    await assert.rejects(node.stat(missing), NotFoundError);
    await assert.rejects(node.ls("nope"), InvalidCidError);
    const [dir] = await node.addAll([{ path: "d" }]);
    await assert.rejects(node.ls(`${dir.cid}/nothing-here`), NotFoundError);
  });
});

testEachStrategy("stat gives type, size, cumulative size and link count", async () => {
  await withNode(async (node) => {
    const hello = await node.stat((await node.add("hello world\n")).cid);
    assert.deepEqual(
      [hello.type, hello.size, hello.cumulativeSize, hello.blocks],
      ["file", 12, 20, 0],
    );
    const rawLeaf = await node.stat((await node.add("hello world\n", { cidVersion: 1 })).cid);
    assert.deepEqual([rawLeaf.type, rawLeaf.size, rawLeaf.cumulativeSize], ["file", 12, 12]);

    const bytes = randomBytes(1_000_000);
    const added = await node.add(bytes, { chunkSize: 100_000 });
    const big = await node.stat(added.cid);
    assert.equal(big.type, "file");
    assert.equal(big.size, bytes.length);
    assert.equal(big.blocks, 10);
    // The cumulative size is every block's size: sum them independently.
    const links = dagPb.decode(await node.block.get(added.cid)).Links;
    let total = (await node.block.stat(added.cid)).size;
    for (const link of links) total += (await node.block.stat(link.Hash)).size;
    assert.equal(big.cumulativeSize, total);
    assert.equal(big.cumulativeSize, added.size);

    const results = await node.addAll([{ path: "d/x", content: "x" }, { path: "d/y" }]);
    const dir = await node.stat(results.at(-1)!.cid);
    assert.deepEqual([dir.type, dir.size, dir.blocks], ["directory", 0, 2]);
    assert.equal(dir.cumulativeSize, results.at(-1)!.size);
  });
});

testEachStrategy("a sharded directory lists, stats and writes out in full", async () => {
  await withNode(async (node, _repo, scratch) => {
    // Enough link bytes (over 256 KiB) that the importer shards the directory:
    // long names, few files. Most share one content (one block: creating
    // files is what costs here).
    const names = Array.from(
      { length: 1000 },
      (_, i) => `file-${String(i).padStart(5, "0")}-${"x".repeat(230)}.txt`,
    );
    const content = (i: number) => encoder.encode(i % 100 === 42 ? `marker ${i}` : "same");
    const results = await node.addAll(
      names.map((name, i) => ({ path: `big/${name}`, content: content(i) })),
      { cidVersion: 1 },
    );
    const root = results.at(-1)!.cid;
    const rootNode = UnixFS.unmarshal(dagPb.decode(await node.block.get(root)).Data!);
    assert.equal(rootNode.type, "hamt-sharded-directory");
    const entries = await node.ls(root);
    assert.deepEqual(entries.map((entry) => entry.name).sort(), names);
    assert.ok(entries.every((entry) => entry.type === "file"));
    assert.equal((await node.stat(root)).type, "directory");
    assert.equal(await new Response(node.cat(`${root}/${names[542]}`)).text(), "marker 542");
    const result = await node.get(root, `${scratch}/big`);
    assert.equal(result.files, names.length);
    assert.equal(await Deno.readTextFile(`${scratch}/big/${names[942]}`), "marker 942");
    assert.equal(await Deno.readTextFile(`${scratch}/big/${names[7]}`), "same");
  });
});
