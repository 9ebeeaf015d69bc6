/**
 * The embedded node's pins (recursive, direct, indirect) and garbage
 * collection, including GC running while an add is in progress.
 */

import assert from "node:assert/strict";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { checkpoint } from "../runtime/checkpoint.ts";
import { sleep } from "../runtime/sleep.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import type { PinEntry } from "./content_store.ts";
import { blockKey } from "./_fs_blockstore.ts";
import { BLOCK_WRITE_CONCURRENCY } from "./_importer_options.ts";
import { BOOT_ID, temporaries, withNode } from "../tests/_node.ts";
import { EmbeddedNode } from "./embedded_node.ts";
import { InvalidInputError, NotFoundError, PinnedError } from "./errors.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { filesUnder, withTempDir } from "../tests/_files.ts";

const encoder = new TextEncoder();

function summary(pins: PinEntry[]): string[] {
  return pins.map((pin) => `${pin.type} ${pin.cid}`).sort();
}

/** The CIDs of a file's leaves (one level). */
async function leavesOf(node: EmbeddedNode, cid: CID): Promise<CID[]> {
  return dagPb.decode(await node.block.get(cid)).Links.map((link) => link.Hash);
}

testEachStrategy("pin add, ls and rm: recursive, direct and indirect", async () => {
  await withNode(async (node) => {
    const file = await node.add(randomBytes(600_000), { cidVersion: 1, pin: false });
    const leaves = await leavesOf(node, file.cid);
    assert.equal(leaves.length, 3);
    assert.deepEqual(await node.pin.ls(), []);

    assert.ok((await node.pin.add(file.cid)).equals(file.cid));
    assert.deepEqual(summary(await node.pin.ls({ type: "recursive" })), [`recursive ${file.cid}`]);
    assert.deepEqual(
      summary(await node.pin.ls({ type: "indirect" })),
      leaves.map((leaf) => `indirect ${leaf}`).sort(),
    );
    assert.equal((await node.pin.ls()).length, 4);
    assert.deepEqual(summary(await node.pin.ls({ paths: [leaves[1]] })), [`indirect ${leaves[1]}`]);

    const loose = await node.block.put(encoder.encode("loose"));
    await node.pin.add(loose, { recursive: false });
    assert.deepEqual(summary(await node.pin.ls({ type: "direct" })), [`direct ${loose}`]);
    // Recursive replaces direct; direct on a recursive pin is refused.
    await node.pin.add(loose);
    assert.deepEqual(summary(await node.pin.ls({ paths: [loose] })), [`recursive ${loose}`]);
    await assert.rejects(node.pin.add(file.cid, { recursive: false }), PinnedError);
    await assert.rejects(node.pin.rm(file.cid, { recursive: false }), PinnedError);

    assert.ok((await node.pin.rm(file.cid)).equals(file.cid));
    await assert.rejects(node.pin.rm(file.cid), NotFoundError);
    await assert.rejects(node.pin.rm(leaves[0]), NotFoundError);
    await assert.rejects(node.pin.ls({ paths: [file.cid] }), NotFoundError);
    assert.deepEqual(summary(await node.pin.ls()), [`recursive ${loose}`]);
    // Unpinning leaves the blocks until garbage collection.
    assert.equal(await node.block.has(file.cid), true);
  });
});

testEachStrategy("pins by path, and a v0 pin is the v1 pin", async () => {
  await withNode(async (node) => {
    const results = await node.addAll([{ path: "d/f.txt", content: "f" }], { pin: false });
    const [file, dir] = results;
    const pinned = await node.pin.add(`/ipfs/${dir.cid}/f.txt`);
    assert.ok(pinned.equals(file.cid));
    assert.deepEqual(summary(await node.pin.ls()), [`recursive ${file.cid}`]);
    assert.equal(file.cid.version, 0);
    // The same pin, named by its v1 form.
    await node.pin.rm(file.cid.toV1());
    assert.deepEqual(await node.pin.ls(), []);
  });
});

testEachStrategy("a recursive pin needs the whole DAG; nothing is pinned otherwise", async () => {
  await withNode(async (node) => {
    const file = await node.add(randomBytes(600_000), { cidVersion: 1, pin: false });
    const leaves = await leavesOf(node, file.cid);
    await node.block.rm(leaves[1]);
    await assert.rejects(node.pin.add(file.cid), (error) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.cid, leaves[1].toString());
      return true;
    });
    assert.deepEqual(await node.pin.ls(), []);
    // A direct pin needs only the block.
    await node.pin.add(file.cid, { recursive: false });
    assert.deepEqual(summary(await node.pin.ls()), [`direct ${file.cid}`]);
    await assert.rejects(node.pin.add(leaves[1], { recursive: false }), NotFoundError);
    // @ts-expect-error: testing a bad option
    await assert.rejects(node.pin.ls({ type: "sideways" }), InvalidInputError);
    // @ts-expect-error: testing a bad option
    await assert.rejects(node.pin.add(file.cid, { recursive: "yes" }), InvalidInputError);
  });
});

testEachStrategy("pins of both types survive reopening", async () => {
  await withTempDir(async (repo) => {
    let expected: string[];
    {
      await using node = await EmbeddedNode.open({ repo });
      const a = await node.add("recursive one");
      const b = await node.block.put(encoder.encode("direct one"), { pin: true });
      expected = [`direct ${b}`, `recursive ${a.cid}`];
      assert.deepEqual(summary(await node.pin.ls()), expected);
    }
    await using node = await EmbeddedNode.open({ repo });
    assert.deepEqual(summary(await node.pin.ls()), expected);
  });
});

testEachStrategy("gc removes what no pin holds and keeps what pins hold", async () => {
  await withNode(async (node) => {
    const kept = await node.add(randomBytes(600_000), { cidVersion: 1 });
    const keptLeaves = await leavesOf(node, kept.cid);
    const dropped = await node.add(randomBytes(600_000), { cidVersion: 1, pin: false });
    const droppedLeaves = await leavesOf(node, dropped.cid);
    // A direct pin holds its block, not the blocks below it.
    const direct = await node.add(randomBytes(600_000), { cidVersion: 1, pin: false });
    const directLeaves = await leavesOf(node, direct.cid);
    await node.pin.add(direct.cid, { recursive: false });
    const loose = await node.block.put(encoder.encode("loose"));

    const before = (await node.repo.stat()).numObjects;
    assert.equal(before, 13);
    const removed = await node.repo.gc();
    const removedKeys = new Set(removed.map((cid) => cid.multihash.bytes.join()));
    const gone = [dropped.cid, ...droppedLeaves, ...directLeaves, loose];
    assert.equal(removed.length, gone.length);
    for (const cid of gone) {
      assert.ok(removedKeys.has(cid.multihash.bytes.join()), `${cid} was not removed`);
      assert.equal(await node.block.has(cid), false);
    }
    // Removed blocks are reported as raw CIDv1 of their multihash.
    assert.ok(removed.every((cid) => cid.version === 1 && cid.code === 0x55));
    for (const cid of [kept.cid, ...keptLeaves, direct.cid]) {
      assert.equal(await node.block.has(cid), true);
    }
    assert.equal((await node.repo.stat()).numObjects, before - gone.length);
    assert.deepEqual(await node.repo.gc(), []);
  });
});

testEachStrategy("gc follows dag-cbor and dag-json links under a recursive pin", async () => {
  await withNode(async (node) => {
    const file = await node.add("a file below a cbor node", { pin: false });
    const leaf = await node.dag.put({ note: "leaf" }, { storeCodec: "dag-json" });
    const root = await node.dag.put({ file: file.cid, nested: { list: [leaf] } }, { pin: true });
    const stray = await node.dag.put({ stray: true });
    const removed = await node.repo.gc();
    assert.deepEqual(removed.map((cid) => cid.multihash.bytes.join()), [
      stray.multihash.bytes.join(),
    ]);
    for (const cid of [root, leaf, file.cid]) assert.equal(await node.block.has(cid), true);
  });
});

testEachStrategy("gc stops before deleting anything when a pinned DAG is incomplete", async () => {
  await withNode(async (node, repo) => {
    const file = await node.add(randomBytes(600_000), { cidVersion: 1 });
    const leaves = await leavesOf(node, file.cid);
    await node.add("unpinned", { pin: false });
    const before = (await node.repo.stat()).numObjects;
    // Damage the repository behind the node's back: delete a leaf's file.
    const victim = leaves[0];
    const key = blockKey(victim);
    await Deno.remove(`${repo}/blocks/${key.slice(-3, -1)}/${key}.data`);
    assert.equal(await node.block.has(victim), false);
    await assert.rejects(node.repo.gc(), (error) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.cid, victim.toString());
      return true;
    });
    assert.equal((await node.repo.stat()).numObjects, before - 1);
  });
});

testEachStrategy("gc waits for an add in progress and keeps its blocks", async () => {
  await withNode(async (node) => {
    // The importer writes leaves in batches of BLOCK_WRITE_CONCURRENCY: pause after one batch and a half.
    const batch = BLOCK_WRITE_CONCURRENCY;
    const chunks = Array.from({ length: 2 * batch }, () => randomBytes(65_536));
    const halfway = Promise.withResolvers<void>();
    const resume = Promise.withResolvers<void>();
    let sent = 0;
    const input = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === chunks.length) {
          controller.close();
          return;
        }
        if (sent === batch + batch / 2) {
          halfway.resolve();
          await resume.promise;
        }
        controller.enqueue(chunks[sent++]);
      },
    }, { highWaterMark: 0 });
    let gcDone = false;
    let removed: CID[] = [];
    let added: CID | undefined;
    await taskGroup(async (tg) => {
      tg.spawn(async () => {
        added = (await node.add(input, { cidVersion: 1, chunkSize: 65_536 })).cid;
      });
      await halfway.promise;
      // Wait for the add to write its first blocks (the leaves are written as they are made).
      for (let i = 0; i < 500 && (await node.repo.stat()).numObjects < batch; i++) await sleep(2);
      assert.ok((await node.repo.stat()).numObjects >= batch);
      assert.deepEqual(await node.pin.ls(), []);
      tg.spawn(async () => {
        removed = await node.repo.gc();
        gcDone = true;
      });
      for (let i = 0; i < 100; i++) await checkpoint();
      assert.equal(gcDone, false, "gc ran while the add was in progress");
      resume.resolve();
    });
    assert.equal(gcDone, true);
    assert.deepEqual(removed, []);
    const bytes = new Uint8Array(await new Response(node.cat(added!)).arrayBuffer());
    assert.equal(bytes.length, chunks.length * 65_536);
    assert.deepEqual(bytes.subarray(0, 65_536), chunks[0]);
    assert.deepEqual(bytes.subarray((chunks.length - 1) * 65_536), chunks.at(-1));
  });
});

testEachStrategy("an add beside a gc keeps its block, whichever starts first", async () => {
  await withNode(async (node) => {
    for (let i = 0; i < 20; i++) await node.block.put(randomBytes(1000));
    let added: string | undefined;
    let removed = -1;
    await taskGroup((tg) => {
      // Which task reaches the repository first is the strategy's choice (the shuffle
      // strategy draws it): the add either waits for the gc or the gc for the add.
      tg.spawn(async () => {
        removed = (await node.repo.gc()).length;
      });
      tg.spawn(async () => {
        added = (await node.add("added during gc")).cid.toString();
      });
    });
    assert.equal(removed, 20, "the gc removed the unpinned blocks and nothing else");
    assert.equal((await node.repo.stat()).numObjects, 1);
    assert.equal(await new Response(node.cat(added!)).text(), "added during gc");
  });
});

testEachStrategy("block put with pin, and block rm of pinned blocks", async () => {
  await withNode(async (node) => {
    const cid = await node.block.put(encoder.encode("direct"), { pin: true });
    assert.deepEqual(summary(await node.pin.ls()), [`direct ${cid}`]);
    await assert.rejects(node.block.rm(cid), PinnedError);
    assert.deepEqual(await node.repo.gc(), []);
    await node.pin.rm(cid);
    await node.block.rm(cid);
    assert.equal(await node.block.has(cid), false);
    // @ts-expect-error: testing a bad option
    await assert.rejects(node.block.put(new Uint8Array(1), { pin: 1 }), InvalidInputError);
  });
});

testEachStrategy("block rm refuses a block inside a recursively pinned cbor DAG", async () => {
  await withNode(async (node) => {
    const leaf = await node.dag.put({ leaf: 1 });
    const root = await node.dag.put({ child: leaf }, { pin: true });
    await assert.rejects(node.block.rm(leaf), (error) => {
      assert.ok(error instanceof PinnedError);
      assert.match(error.message, new RegExp(`inside pinned ${root}`));
      return true;
    });
  });
});

testEachStrategy("gc deletes the temporary files a crashed add left in the shards", async () => {
  await withNode(async (node, repo) => {
    const { cid } = await node.add("survives");
    const shard = blockKey(cid).slice(-3, -1);
    const leftover = `${repo}/blocks/${shard}/.put-${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(leftover, randomBytes(1000));
    assert.equal((await node.repo.stat()).numObjects, 1, "a temporary file is not a block");
    assert.deepEqual(await node.repo.gc(), []);
    assert.deepEqual(await temporaries(repo), []);
    assert.equal(await new Response(node.cat(cid)).text(), "survives");
  }, { sync: true });
});

testEachStrategy(
  "after a reboot, a torn block is never read back, and garbage collection ends the checking",
  async () => {
    await withTempDir(async (repo) => {
      const bytes = randomBytes(600_000);
      {
        await using node = await EmbeddedNode.open({ repo });
        await node.files.write("/kept.bin", bytes, { create: true });
      }
      // A power loss tore one of its 256 KiB blocks, and the machine rebooted.
      let largest = { path: "", size: 0 };
      for (const name of await filesUnder(`${repo}/blocks`)) {
        const path = `${repo}/blocks/${name}`;
        const { size } = await Deno.stat(path);
        if (size > largest.size) largest = { path, size };
      }
      assert.equal(largest.size > 200_000, true);
      await Deno.writeFile(largest.path, new Uint8Array(10));
      await Deno.writeTextFile(`${repo}/blocks/.unsynced`, "an-earlier-boot");

      await using node = await EmbeddedNode.open({ repo });
      const read = async () => {
        for await (const _ of node.files.read("/kept.bin")) { /* drain */ }
      };
      await assert.rejects(read, NotFoundError);
      await node.repo.gc();
      assert.equal(await Deno.readTextFile(`${repo}/blocks/.unsynced`), BOOT_ID);
      await assert.rejects(Deno.stat(largest.path), Deno.errors.NotFound);
      await assert.rejects(read, NotFoundError);
    });
  },
  { ignore: BOOT_ID === undefined }, // not Linux: no boot ID to tell a reboot by
);
