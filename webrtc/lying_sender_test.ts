// A sender that lies: a block whose bytes do not match its CID (a store
// that hands out damaged bytes), and a header that names a block the
// verified parent does not link to next (a sender that rewrites its own
// messages on the wire). The receiver refuses with a VerificationError and
// hands out no byte of the lying block.

import assert from "node:assert/strict";
import { equals } from "npm:multiformats@14.0.5/bytes";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { testEachStrategy } from "../runtime/testing.ts";
import { concat, seededBytes } from "../tests/_bytes.ts";
import { lyingStore, readUntilFailure, rewriteBinarySends, withWebRtc } from "../tests/_webrtc.ts";
import { VerificationError } from "./errors.ts";

const LEAF = 256 * 1024;
const data = seededBytes(8 * LEAF + 100, 5);
let leaves: CID[] = [];

async function leavesOf(node: { dag: { get(cid: CID): Promise<{ value: unknown }> } }, root: CID) {
  const value = (await node.dag.get(root)).value as { Links: { Hash: CID }[] };
  return value.Links.map((link) => link.Hash);
}

testEachStrategy(
  "a block whose bytes do not match its CID is refused, none of it handed out",
  async () => {
    await withWebRtc(async ({ node, connection }) => {
      const { cid } = await node.add(data, { cidVersion: 1 });
      leaves = await leavesOf(node, cid);
      const { chunks, error } = await readUntilFailure(connection.open(cid));
      assert(error instanceof VerificationError, String(error));
      assert.equal(error.reason, "hash-mismatch");
      assert.equal(error.cid, leaves[5].toString());
      // Exactly the five blocks before it came out, true to the byte.
      assert(equals(concat(chunks), data.subarray(0, 5 * LEAF)));
      assert.equal(connection.stats().blocksRefused, 1);
    }, {
      store: (node) =>
        lyingStore(node, (cid, bytes) => {
          if (leaves.length === 0 || !cid.equals(leaves[5])) return bytes;
          const damaged = bytes.slice();
          damaged[1000] ^= 0x01;
          return damaged;
        }),
    });
  },
);

testEachStrategy("a damaged root is refused before any byte, dag-pb leaves too", async () => {
  let root: CID | undefined;
  await withWebRtc(async ({ node, connection }) => {
    root = (await node.add(data)).cid; // CIDv0: dag-pb root and leaves
    const { bytes, error } = await readUntilFailure(connection.open(root, { offset: 3 * LEAF }));
    assert(error instanceof VerificationError, String(error));
    assert.equal(error.reason, "hash-mismatch");
    assert.equal(error.cid, root.toString());
    assert.equal(bytes, 0);
  }, {
    store: (node) =>
      lyingStore(node, (cid, bytes) => {
        if (root === undefined || !cid.equals(root)) return bytes;
        // A byte inside the first link's hash: the node still decodes (the
        // sender reads it as is), and now links elsewhere.
        const damaged = bytes.slice();
        damaged[12] ^= 0x80;
        return damaged;
      }),
  });
});

testEachStrategy("a header naming a block the DAG does not link to next is refused", async () => {
  await withWebRtc(async ({ node, connection }) => {
    const { cid } = await node.add(data, { cidVersion: 1 });
    leaves = await leavesOf(node, cid);
    const [wanted, other] = [leaves[2].bytes, leaves[7].bytes];
    // The sender announces leaf 7 (a real block of this very DAG) where leaf 2 is due.
    const restore = await rewriteBinarySends((message) => {
      if (message[0] !== 0x01 || !equals(message.subarray(5), wanted)) return message;
      const lie = message.slice();
      lie.set(other, 5);
      return lie;
    });
    try {
      const { chunks, error } = await readUntilFailure(connection.open(cid));
      assert(error instanceof VerificationError, String(error));
      assert.equal(error.reason, "unexpected-block");
      assert.equal(error.cid, leaves[7].toString());
      assert.match(error.message, new RegExp(`links to ${leaves[2]} next`));
      assert(equals(concat(chunks), data.subarray(0, 2 * LEAF)));
    } finally {
      restore();
    }
  });
});
