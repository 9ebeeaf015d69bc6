// Deno to Deno in one process, over loopback: whole files, directory paths,
// ranges at and inside block edges, streams at once, both offerers.

import assert from "node:assert/strict";
import { equals } from "npm:multiformats@14.0.5/bytes";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { importer } from "npm:ipfs-unixfs-importer@17.1.1";
import { InvalidInputError, NotFoundError } from "../ipfs/errors.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { randomBytes, readAll, seededBytes } from "../tests/_bytes.ts";
import { rejection } from "../tests/_async.ts";
import { sha256Hex, withWebRtc } from "../tests/_webrtc.ts";
import { WebRtcLimitError } from "./errors.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

testEachStrategy("a 64 MiB file streams whole and verified", async () => {
  await withWebRtc(async ({ node, connection }) => {
    const data = randomBytes(64 * MIB);
    const { cid } = await node.add(data);
    const received = await readAll(connection.open(cid));
    assert.equal(received.length, data.length);
    assert.equal(sha256Hex(received), sha256Hex(data));
    const stats = connection.stats();
    // 256 blocks of 256 KiB and the nodes above them, every one checked.
    assert(stats.blocksVerified >= 257, `verified ${stats.blocksVerified} blocks`);
    assert.equal(stats.blocksRefused, 0);
    assert.equal(stats.bytesDelivered, 64 * MIB);
    assert(stats.timeToFirstByteMs !== null && stats.receiveThroughput > 0);
  });
});

testEachStrategy("ranges at block edges and inside blocks read what cat reads", async () => {
  await withWebRtc(async ({ node, connection }) => {
    const data = seededBytes(3 * MIB + 12_345, 11);
    for (const options of [{}, { cidVersion: 1 as const }, { chunkSize: 100_000 }]) {
      const { cid } = await node.add(data, options);
      const block = options.chunkSize ?? 256 * KIB;
      const ranges: [number, number | undefined][] = [
        [0, block], // exactly the first block
        [block, block], // exactly the second
        [block - 1, 2], // across an edge
        [block + 17, 100], // inside a block
        [2 * block - 5, block + 10], // across two edges
        [data.length - 3, undefined], // the tail, to the end
        [data.length - 3, 1_000], // a length past the end
        [data.length, 10], // at the end: nothing
        [data.length + 10, 10], // past the end: nothing
        [5, 0], // an empty range
      ];
      for (const [offset, length] of ranges) {
        const got = await readAll(connection.open(cid, { offset, length }));
        const want = data.subarray(offset, length === undefined ? undefined : offset + length);
        assert(equals(got, want), `range ${offset}+${length} of ${JSON.stringify(options)}`);
      }
    }
  });
});

testEachStrategy("a path below a directory, and what a path cannot name", async () => {
  await withWebRtc(async ({ node, connection }) => {
    const big = randomBytes(MIB + 3);
    const added = await node.addAll([
      { path: "site/index.html", content: "<h1>hi</h1>" },
      { path: "site/media/big.bin", content: big },
      { path: "site/empty.txt", content: new Uint8Array(0) },
    ]);
    const root = added.at(-1)!.cid;
    assert.equal(
      new TextDecoder().decode(await readAll(connection.open(root, { path: "index.html" }))),
      "<h1>hi</h1>",
    );
    const part = await readAll(connection.open(root, { path: "/media/big.bin", offset: MIB - 2 }));
    assert(equals(part, big.subarray(MIB - 2)));
    assert.equal((await readAll(connection.open(root, { path: "empty.txt" }))).length, 0);
    assert(
      await rejection(readAll(connection.open(root, { path: "media/none" }))) instanceof
        NotFoundError,
    );
    assert(
      await rejection(readAll(connection.open(root, { path: "index.html/x" }))) instanceof
        NotFoundError,
    );
    assert(
      await rejection(readAll(connection.open(root, { path: "media" }))) instanceof
        InvalidInputError,
    );
    assert(await rejection(readAll(connection.open(root))) instanceof InvalidInputError);
    assert.throws(() => connection.open(root, { path: "../etc" }), InvalidInputError);
  });
});

testEachStrategy("a path through a HAMT-sharded directory", async () => {
  await withWebRtc(async ({ node, connection }) => {
    // The importer shards a directory past a threshold of link bytes (Kubo's is
    // 256 KiB); a low one makes a shard of a few levels from 300 small files.
    const blocks: [CID, Uint8Array][] = [];
    const entries = Array.from({ length: 300 }, (_, i) => ({
      path: `big/entry-${i}.txt`,
      content: new TextEncoder().encode(`file ${i}`),
    }));
    let root: CID | undefined;
    for await (
      const entry of importer(
        entries,
        {
          put: (cid: CID, bytes: Uint8Array) => {
            blocks.push([cid, bytes]);
            return cid;
          },
        } as unknown as Parameters<typeof importer>[1],
        { shardSplitThresholdBytes: 1000, cidVersion: 1 },
      )
    ) root = entry.cid;
    for (const [cid, bytes] of blocks) {
      const stored = await node.block.put(bytes, { codec: cid.code === 0x70 ? "dag-pb" : "raw" });
      assert(stored.equals(cid));
    }
    const data = ((await node.dag.get(root!)).value as { Data: Uint8Array }).Data;
    assert.equal(data[1], 5, "the directory is a HAMT shard");
    for (const i of [0, 123, 299]) {
      const text = new TextDecoder().decode(
        await readAll(connection.open(root!, { path: `entry-${i}.txt` })),
      );
      assert.equal(text, `file ${i}`);
    }
    assert(
      await rejection(readAll(connection.open(root!, { path: "entry-300.txt" }))) instanceof
        NotFoundError,
    );
  });
});

testEachStrategy("8 streams at once on one connection; a ninth is refused", async () => {
  await withWebRtc(async ({ node, connection }) => {
    const files = await Promise.all(
      Array.from({ length: 8 }, (_, i) => seededBytes(700 * KIB + i, i)).map(async (data) => ({
        data,
        cid: (await node.add(data, { cidVersion: 1 })).cid,
      })),
    );
    const streams = files.map(({ cid }) => connection.open(cid));
    assert.equal(connection.streams().filter((s) => s.direction === "receiving").length, 8);
    const error = await rejection(Promise.resolve().then(() => connection.open(files[0].cid)));
    assert(error instanceof WebRtcLimitError);
    assert.equal(error.message, "Cannot open stream: limit of 8 streams per connection reached");
    const received = await Promise.all(streams.map((stream) => readAll(stream)));
    received.forEach((bytes, i) => assert(equals(bytes, files[i].data), `stream ${i}`));
    assert.equal(connection.streams().length, 0);
    assert.equal(connection.stats().streams.refused, 1);
  });
});

testEachStrategy("the client may make the offer, and may serve too", async () => {
  await withWebRtc(async ({ node, manager, connection }) => {
    const data = seededBytes(300 * KIB, 3);
    const { cid } = await node.add(data);
    assert(equals(await readAll(connection.open(cid, { offset: 1000 })), data.subarray(1000)));
    // The server's end reads from the client, which serves the same node.
    const serverEnd = manager.connection(connection.id)!;
    assert(equals(await readAll(serverEnd.open(cid, { length: 10 })), data.subarray(0, 10)));
    assert.equal(serverEnd.stats().connectionState, "connected");
  }, { manager: { offerer: "client" }, clientServes: true });
});
