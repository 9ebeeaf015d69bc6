import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { identity } from "npm:multiformats@14.0.5/hashes/identity";
import { ClosedResourceError } from "../runtime/errors.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { FsBlockstore } from "./_fs_blockstore.ts";
import { NotFoundError } from "./errors.ts";
import { exists } from "./_fs.ts";
import { filesUnder, withTempDir } from "../tests/_files.ts";
import { BOOT_ID, sha256Cid } from "../tests/_node.ts";

async function withStore(
  fn: (store: FsBlockstore, dir: string) => Promise<void>,
  sync = true,
): Promise<void> {
  await withTempDir(async (dir) => {
    const store = await FsBlockstore.open({ dir: `${dir}/blocks`, sync });
    try {
      await fn(store, dir);
    } finally {
      store.close();
    }
  });
}

testEachStrategy("blocks go to <shard>/<base32 multihash>.data, one file each", async () => {
  await withStore(async (store, dir) => {
    const bytes = new TextEncoder().encode("block");
    const cid = sha256Cid(raw.code, bytes);
    await store.put(cid, bytes);
    await store.flush();
    const key = store.path(cid).split("/").at(-1)!.replace(/\.data$/, "");
    assert.match(key, /^[A-Z2-7]+$/);
    assert.equal(key.startsWith("CIQ"), true, "sha2-256 multihashes start with CIQ in base32");
    assert.deepEqual(await filesUnder(`${dir}/blocks`), [`${key.slice(-3, -1)}/${key}.data`]);
    assert.deepEqual(await store.get(cid), bytes);
    assert.equal(await store.size(cid), bytes.length);
  });
});

testEachStrategy("the same multihash under two codecs is one file", async () => {
  await withStore(async (store, dir) => {
    const bytes = new Uint8Array([1, 2, 3]);
    const asRaw = sha256Cid(raw.code, bytes);
    const asCbor = CID.createV1(0x71, asRaw.multihash);
    await store.put(asRaw, bytes);
    await store.put(asCbor, bytes);
    assert.equal(store.path(asRaw), store.path(asCbor));
    assert.equal((await filesUnder(`${dir}/blocks`)).length, 1);
    assert.equal(await store.has(asCbor), true);
  }, false);
});

testEachStrategy("a block already stored is not rewritten", async () => {
  await withStore(async (store) => {
    const bytes = new Uint8Array([9, 9, 9]);
    const cid = sha256Cid(raw.code, bytes);
    await store.put(cid, bytes);
    const before = await Deno.stat(store.path(cid));
    await store.put(cid, bytes);
    const after = await Deno.stat(store.path(cid));
    assert.equal(after.ino, before.ino);
  });
});

testEachStrategy(
  "missing blocks: get and size throw NotFoundError, has and delete say no",
  async () => {
    await withStore(async (store) => {
      const cid = sha256Cid(raw.code, new Uint8Array([7]));
      await assert.rejects(store.get(cid), NotFoundError);
      await assert.rejects(store.size(cid), NotFoundError);
      assert.equal(await store.has(cid), false);
      assert.equal(await store.delete(cid), false);
      await store.put(cid, new Uint8Array([7]));
      assert.equal(await store.delete(cid), true);
      assert.equal(await store.has(cid), false);
      await store.flush();
    });
  },
);

testEachStrategy("identity CIDs are answered from the CID and never stored", async () => {
  await withStore(async (store, dir) => {
    const bytes = new TextEncoder().encode("inline");
    const cid = CID.createV1(raw.code, identity.digest(bytes));
    await store.put(cid, bytes);
    assert.deepEqual(await store.get(cid), bytes);
    assert.equal(await store.has(cid), true);
    assert.equal(await store.size(cid), bytes.length);
    assert.deepEqual(await filesUnder(`${dir}/blocks`), []);
  });
});

testEachStrategy(
  "sweep deletes the temporary files a crash left; entries never lists them",
  async () => {
    await withStore(async (store, dir) => {
      const bytes = new TextEncoder().encode("kept");
      const cid = sha256Cid(raw.code, bytes);
      await store.put(cid, bytes);
      const shard = store.path(cid).split("/").at(-2)!;
      // What a process killed between create and rename leaves behind.
      const leftover = `.put-${crypto.randomUUID()}.tmp`;
      await Deno.writeTextFile(`${dir}/blocks/${shard}/${leftover}`, "half-writ");
      await Deno.writeTextFile(`${dir}/blocks/${shard}/notes.txt`, "not ours");
      const listed = [];
      for await (const entry of store.entries()) listed.push(entry.key);
      assert.equal(listed.length, 1);
      assert.equal(await store.sweep(), 1);
      await store.flush();
      assert.deepEqual(
        (await filesUnder(`${dir}/blocks`)).sort(),
        [
          store.path(cid).slice(`${dir}/blocks/`.length),
          `${shard}/notes.txt`,
        ].sort(),
      );
      assert.deepEqual(await store.get(cid), bytes);
    });
  },
);

testEachStrategy("a put that fails half way leaves no temporary file", async () => {
  await withStore(async (store, dir) => {
    const bytes = new Uint8Array([4, 2]);
    const cid = sha256Cid(raw.code, bytes);
    // Fails once the temporary file exists: the write asks for the bytes to go.
    const failing = bytes.slice();
    const reason = new Error("disk gone");
    Object.defineProperty(failing, "subarray", {
      value: () => {
        throw reason;
      },
    });
    await assert.rejects(store.put(cid, failing), (error) => error === reason);
    const shard = store.path(cid).split("/").at(-2)!;
    assert.deepEqual(await filesUnder(`${dir}/blocks/${shard}`), []);
    await store.put(cid, bytes);
    assert.deepEqual(await store.get(cid), bytes);
  });
});

testEachStrategy("an aborted signal stops put before it writes", async () => {
  await withStore(async (store, dir) => {
    const bytes = new Uint8Array([5]);
    const reason = new Error("stop");
    await assert.rejects(
      store.put(sha256Cid(raw.code, bytes), bytes, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    assert.deepEqual(await filesUnder(`${dir}/blocks`), []);
  });
});

testEachStrategy("a closed store throws ClosedResourceError", async () => {
  await withStore(async (store) => {
    const cid = sha256Cid(raw.code, new Uint8Array([1]));
    store.close();
    await assert.rejects(store.get(cid), ClosedResourceError);
    await assert.rejects(store.put(cid, new Uint8Array([1])), ClosedResourceError);
  });
});

testEachStrategy("blocks written unsynced are marked, and synced when pinned", async () => {
  await withStore(async (store, dir) => {
    const durable = new TextEncoder().encode("added");
    const fetched = new TextEncoder().encode("fetched");
    const durableCid = sha256Cid(raw.code, durable);
    const fetchedCid = sha256Cid(raw.code, fetched);
    await store.put(durableCid, durable);
    assert.deepEqual(await filesUnder(`${dir}/blocks`), [
      store.path(durableCid).slice(`${dir}/blocks/`.length),
    ]);
    await store.put(fetchedCid, fetched, { durable: false });
    // The marker comes before the first unsynced block, so a later process knows.
    assert(await Deno.stat(`${dir}/blocks/.unsynced`).then(() => true));
    // This process knows which blocks it left unsynced: the durable one is not opened.
    await store.delete(durableCid);
    await store.syncBlocks([durableCid, fetchedCid]);
    // A later process does not: it syncs every block it is asked to.
    const later = await FsBlockstore.open({ dir: `${dir}/blocks`, sync: true });
    try {
      await later.syncBlocks([fetchedCid]);
      const error = await later.syncBlocks([durableCid]).catch((e) => e);
      assert(error instanceof NotFoundError, String(error));
    } finally {
      later.close();
    }
  });
});

const needsBootId = { ignore: BOOT_ID === undefined };

/** A block written unsynced, then its file cut short, as a power loss can leave it. */
async function tornBlock(store: FsBlockstore, text: string): Promise<CID> {
  const bytes = new TextEncoder().encode(text);
  const cid = sha256Cid(raw.code, bytes);
  await store.put(cid, bytes, { durable: false });
  await Deno.writeFile(store.path(cid), bytes.subarray(0, 3));
  return cid;
}

/** Closes `store` and opens its directory again as after a reboot: the marker names `marker`. */
async function reopenAfterReboot(
  store: FsBlockstore,
  dir: string,
  marker = "an-earlier-boot",
): Promise<FsBlockstore> {
  store.close();
  await Deno.writeTextFile(`${dir}/blocks/.unsynced`, marker);
  return await FsBlockstore.open({ dir: `${dir}/blocks`, sync: true });
}

testEachStrategy(
  "the marker names the boot that wrote unsynced blocks; a restart does not verify reads",
  async () => {
    await withStore(async (store, dir) => {
      const torn = await tornBlock(store, "fetched before a restart");
      assert.equal(await Deno.readTextFile(`${dir}/blocks/.unsynced`), BOOT_ID);
      const later = await FsBlockstore.open({ dir: `${dir}/blocks`, sync: true });
      try {
        // The same boot: a process crash cannot tear a block, so reads are not hashed.
        assert.equal(later.verifiesReads, false);
        assert.equal((await later.get(torn)).length, 3);
      } finally {
        later.close();
      }
    });
  },
  needsBootId,
);

testEachStrategy(
  "after a reboot, a torn block is deleted on read and reported missing",
  async () => {
    await withStore(async (store, dir) => {
      const torn = await tornBlock(store, "fetched before a power loss");
      const intactBytes = new TextEncoder().encode("intact");
      const intact = sha256Cid(raw.code, intactBytes);
      await store.put(intact, intactBytes, { durable: false });
      const later = await reopenAfterReboot(store, dir);
      try {
        assert.equal(later.verifiesReads, true);
        assert.deepEqual(await later.get(intact), intactBytes);
        const error = await later.get(torn).catch((e) => e);
        assert(error instanceof NotFoundError, String(error));
        assert.match(error.message, /did not match its CID .* and was deleted/);
        assert.equal(await exists(later.path(torn)), false);
        // Now missing, it can be stored again (fetched again, on a networked node).
        await later.put(torn, new TextEncoder().encode("fetched before a power loss"));
        assert.equal((await later.get(torn)).length, 27);
      } finally {
        later.close();
      }
    });
  },
  needsBootId,
);

testEachStrategy("after a reboot, has and put do not trust a torn file either", async () => {
  await withStore(async (store, dir) => {
    const text = "a torn leaf";
    const torn = await tornBlock(store, text);
    const again = await tornBlock(store, "torn, then stored again");
    const later = await reopenAfterReboot(store, dir);
    try {
      assert.equal(await later.has(torn), false);
      assert.equal(await exists(later.path(torn)), false);
      // A put of the right bytes replaces a torn file instead of keeping it.
      const bytes = new TextEncoder().encode("torn, then stored again");
      await later.put(again, bytes);
      assert.deepEqual(await Deno.readFile(later.path(again)), bytes);
    } finally {
      later.close();
    }
  });
}, needsBootId);

testEachStrategy(
  "suspicion outlives the process until verifyAll, which deletes torn blocks",
  async () => {
    await withStore(async (store, dir) => {
      const torn = await tornBlock(store, "torn");
      const intactBytes = new TextEncoder().encode("kept");
      const intact = sha256Cid(raw.code, intactBytes);
      await store.put(intact, intactBytes);
      // A marker of an earlier version (empty) counts as another boot.
      const first = await reopenAfterReboot(store, dir, "");
      first.close();
      const second = await FsBlockstore.open({ dir: `${dir}/blocks`, sync: true });
      try {
        assert.equal(second.verifiesReads, true, "a second process of this boot verifies too");
        const deleted = await second.verifyAll();
        assert.deepEqual(deleted, [torn.multihash.bytes]);
        assert.equal(second.verifiesReads, false);
        assert.deepEqual(await second.get(intact), intactBytes);
        assert.equal(await Deno.readTextFile(`${dir}/blocks/.unsynced`), BOOT_ID);
      } finally {
        second.close();
      }
      const third = await FsBlockstore.open({ dir: `${dir}/blocks`, sync: true });
      try {
        assert.equal(third.verifiesReads, false);
      } finally {
        third.close();
      }
    });
  },
  needsBootId,
);
