import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as Digest from "npm:multiformats@14.0.5/hashes/digest";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { ClosedResourceError } from "../runtime/errors.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { type AddInput, MAX_BLOCK_SIZE } from "./content_store.ts";
import { EmbeddedNode } from "./embedded_node.ts";
import {
  InvalidCidError,
  InvalidInputError,
  NotFoundError,
  NotSupportedError,
  PinnedError,
  RepoLockedError,
} from "./errors.ts";
import { decodeKey, peerIdOf } from "./_identity.ts";
import { blockKey } from "./_fs_blockstore.ts";
import { base64pad } from "npm:multiformats@14.0.5/bases/base64";
import { sha256Cid, temporaries, withNode } from "../tests/_node.ts";
import { randomBytes, readAll } from "../tests/_bytes.ts";
import { withTempDir } from "../tests/_files.ts";

const encoder = new TextEncoder();

// Published Kubo CIDs (`ipfs add`, `ipfs add --cid-version=1`, `ipfs object new unixfs-dir`).
const KUBO = {
  empty: [
    "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
    "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
  ],
  hello: [
    "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
    "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
  ],
  emptyDir: [
    "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn",
    "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354",
  ],
} as const;

testEachStrategy("add gives Kubo's published CIDs under both CID versions", async () => {
  await withNode(async (node) => {
    for (const version of [0, 1] as const) {
      const empty = await node.add(new Uint8Array(0), { cidVersion: version });
      assert.equal(empty.cid.toString(), KUBO.empty[version]);
      const hello = await node.add("hello world\n", { cidVersion: version });
      assert.equal(hello.cid.toString(), KUBO.hello[version]);
      assert.equal(hello.size, version === 0 ? 20 : 12);
      const [dir] = await node.addAll([{ path: "empty" }], { cidVersion: version });
      assert.deepEqual([dir.path, dir.cid.toString()], ["empty", KUBO.emptyDir[version]]);
    }
  }, { sync: true });
});

testEachStrategy("add accepts every input type and gives one CID for the same bytes", async () => {
  await withNode(async (node) => {
    const bytes = randomBytes(300_000);
    const chunks =
      () => [bytes.subarray(0, 1000), bytes.subarray(1000, 200_000), bytes.subarray(200_000)];
    const inputs: Array<[string, () => AddInput]> = [
      ["Uint8Array", () => bytes],
      ["Blob", () => new Blob([bytes.slice()])],
      ["ReadableStream", () => ReadableStream.from(chunks())],
      ["Iterable", () => chunks()],
      ["AsyncIterable", () =>
        (async function* () {
          yield* chunks();
        })()],
    ];
    const cids = new Set<string>();
    for (const [label, input] of inputs) {
      const { cid } = await node.add(input(), { pin: false });
      cids.add(cid.toString());
      assert.deepEqual(await readAll(node.cat(cid)), bytes, label);
    }
    assert.equal(cids.size, 1);
    const text = "h\u00e9llo w\u00f6rld \u{1f600}";
    const fromString = await node.add(text);
    assert.equal((await node.add(encoder.encode(text))).cid.toString(), fromString.cid.toString());
  }, { sync: true });
});

testEachStrategy("add and cat round-trip sizes around the chunk boundaries", async () => {
  await withNode(async (node) => {
    for (const size of [0, 1, 262_143, 262_144, 262_145, 800_000]) {
      for (const cidVersion of [0, 1] as const) {
        const bytes = randomBytes(size);
        const { cid, size: dagSize } = await node.add(bytes, { cidVersion });
        assert.equal(cid.version, cidVersion);
        assert.ok(dagSize >= size, `cumulative size ${dagSize} < ${size}`);
        assert.deepEqual(await readAll(node.cat(cid)), bytes, `${size} bytes, v${cidVersion}`);
      }
    }
  });
});

testEachStrategy("cat reads byte ranges across chunk boundaries", async () => {
  await withNode(async (node) => {
    const bytes = randomBytes(700_000);
    const { cid } = await node.add(bytes, { chunkSize: 100_000 });
    const ranges: Array<[number, number | undefined]> = [
      [0, 10],
      [99_990, 20],
      [100_000, 100_000],
      [150_000, 400_001],
      [699_999, undefined],
      [500_000, 1_000_000],
      [700_000, 5],
      [9_999_999, undefined],
      [5, 0],
    ];
    for (const [offset, length] of ranges) {
      const end = length === undefined ? bytes.length : Math.min(bytes.length, offset + length);
      const expected = bytes.subarray(Math.min(offset, bytes.length), end);
      const got = await readAll(
        node.cat(cid, length === undefined ? { offset } : { offset, length }),
      );
      assert.deepEqual(got, expected, `offset ${offset} length ${length}`);
    }
  });
});

testEachStrategy(
  "cat streams block by block and reads a block only when it is reached",
  async () => {
    await withNode(async (node) => {
      const bytes = randomBytes(3 * 262_144);
      const { cid } = await node.add(bytes, { cidVersion: 1, pin: false });
      const leaves = dagPb.decode(await node.block.get(cid)).Links.map((link) => link.Hash);
      assert.equal(leaves.length, 3);
      // Remove the last leaf: the first two chunks still stream, then the read fails.
      await node.block.rm(leaves[2]);
      const reader = node.cat(cid).getReader();
      const first = await reader.read();
      assert.deepEqual(first.value, bytes.subarray(0, 262_144));
      const second = await reader.read();
      assert.deepEqual(second.value, bytes.subarray(262_144, 524_288));
      await assert.rejects(reader.read(), (error) => {
        assert.ok(error instanceof NotFoundError);
        assert.equal(error.cid, leaves[2].toString());
        return true;
      });
    });
  },
);

testEachStrategy("cancelling a cat stream after the first chunk stops the walk", async () => {
  await withNode(async (node) => {
    const bytes = randomBytes(5 * 262_144);
    const { cid } = await node.add(bytes, { pin: false });
    const reader = node.cat(cid).getReader();
    const { value } = await reader.read();
    assert.equal(value?.length, 262_144);
    await reader.cancel();
    // Nothing reads on in the background: the op sanitizer would fail the test.
  });
});

testEachStrategy("blocks are stored one file each in Kubo's flatfs layout", async () => {
  await withNode(async (node, repo) => {
    const [dir] = await node.addAll([{ path: "empty" }]);
    assert.equal(dir.cid.toString(), KUBO.emptyDir[0]);
    // Every Kubo repository holds this file for the empty directory.
    const file = `${repo}/blocks/X3/CIQFTFEEHEDF6KLBT32BFAGLXEZL4UWFNWM4LFTLMXQBCERZ6CMLX3Y.data`;
    assert.deepEqual(await Deno.readFile(file), await node.block.get(dir.cid));
    assert.deepEqual(await temporaries(repo), []);
  }, { sync: true });
});

testEachStrategy("a repository keeps its blocks and pins across reopening", async () => {
  await withTempDir(async (repo) => {
    const bytes = randomBytes(600_000);
    let cid: CID;
    {
      await using node = await EmbeddedNode.open({ repo });
      cid = (await node.add(bytes)).cid;
    }
    await using node = await EmbeddedNode.open({ repo });
    assert.deepEqual(await readAll(node.cat(cid)), bytes);
    assert.equal(await node.block.has(cid), true);
    await assert.rejects(node.block.rm(cid), PinnedError);
  });
});

testEachStrategy("a repository opens in one node at a time", async () => {
  await withTempDir(async (repo) => {
    const first = await EmbeddedNode.open({ repo });
    await assert.rejects(EmbeddedNode.open({ repo }), (error) => {
      assert.ok(error instanceof RepoLockedError);
      assert.equal(error.path, repo);
      return true;
    });
    await first.close();
    await first.close(); // idempotent
    assert.equal(first.closed, true);
    await using second = await EmbeddedNode.open({ repo });
    assert.equal(await second.block.has(KUBO.empty[0]), false);
  });
});

testEachStrategy("a closed node throws ClosedResourceError", async () => {
  await withTempDir(async (repo) => {
    const node = await EmbeddedNode.open({ repo });
    const { cid } = await node.add("x");
    await node.close();
    await assert.rejects(node.add("y"), ClosedResourceError);
    await assert.rejects(node.block.get(cid), ClosedResourceError);
    assert.throws(() => node.cat(cid), ClosedResourceError);
  });
});

testEachStrategy("block put, get, has, stat and rm", async () => {
  await withNode(async (node) => {
    const bytes = encoder.encode("a raw block");
    const cid = await node.block.put(bytes);
    assert.ok(cid.equals(sha256Cid(0x55, bytes)));
    assert.deepEqual(await node.block.get(cid), bytes);
    assert.deepEqual(await node.block.get(cid.toString()), bytes);
    assert.equal(await node.block.has(cid), true);
    const stat = await node.block.stat(cid);
    assert.deepEqual([stat.cid.toString(), stat.size], [cid.toString(), bytes.length]);

    const cbor = await node.block.put(bytes, { codec: "dag-cbor" });
    assert.ok(cbor.equals(sha256Cid(0x71, bytes)));
    // The same bytes under a v0 dag-pb CID: Kubo's `--format=v0`.
    const { cid: hello } = await node.add("hello world\n", { pin: false });
    const node0 = await node.block.get(hello);
    const v0 = await node.block.put(node0, { codec: "dag-pb", cidVersion: 0 });
    assert.equal(v0.toString(), KUBO.hello[0]);

    await node.block.rm(cid);
    assert.equal(await node.block.has(cid), false);
    await assert.rejects(node.block.get(cid), NotFoundError);
    await assert.rejects(node.block.stat(cid), NotFoundError);
    await assert.rejects(node.block.rm(cid), NotFoundError);
    await node.block.rm(cid, { force: true });
  }, { sync: true });
});

testEachStrategy("block put rejects big blocks and bad options", async () => {
  await withNode(async (node) => {
    await assert.rejects(node.block.put(new Uint8Array(MAX_BLOCK_SIZE + 1)), {
      name: "RangeError",
      message: `Cannot put block: size exceeds 1 MiB limit: received ${MAX_BLOCK_SIZE + 1}`,
    });
    const cid = await node.block.put(new Uint8Array(MAX_BLOCK_SIZE));
    assert.equal((await node.block.stat(cid)).size, MAX_BLOCK_SIZE);
    await assert.rejects(node.block.put(new Uint8Array(1), { cidVersion: 0 }), InvalidInputError);
    await assert.rejects(
      // @ts-expect-error: testing a codec the types exclude
      node.block.put(new Uint8Array(1), { codec: "git-raw" }),
      InvalidInputError,
    );
  });
});

testEachStrategy("pins hold roots and the blocks inside them", async () => {
  await withNode(async (node) => {
    const pinned = await node.add(randomBytes(600_000), { cidVersion: 1 });
    const inner = dagPb.decode(await node.block.get(pinned.cid)).Links[1].Hash;
    await assert.rejects(node.block.rm(pinned.cid), (error) => {
      assert.ok(error instanceof PinnedError);
      assert.equal(error.cid, pinned.cid.toString());
      return true;
    });
    await assert.rejects(node.block.rm(inner), PinnedError);
    // Pinned under v1 is pinned under v0 too.
    await assert.rejects(node.block.rm(pinned.cid.toV1().toString()), PinnedError);

    const loose = await node.add(randomBytes(1000), { pin: false });
    await node.block.rm(loose.cid);
    assert.equal(await node.block.has(loose.cid), false);

    const [file, dir] = await node.addAll([{ path: "d/f", content: "f" }]);
    assert.equal(dir.path, "d");
    await assert.rejects(node.block.rm(file.cid), PinnedError);
  }, { sync: true });
});

testEachStrategy("addAll builds nested directories that cat resolves by path", async () => {
  await withNode(async (node) => {
    const big = randomBytes(300_000);
    const results = await node.addAll([
      { path: "/site/index.html", content: "<h1>hi</h1>" },
      { path: "site/assets/big.bin", content: big },
      { path: "site//assets/empty" },
      { path: "site/notes/a/b/c.txt", content: "deep" },
    ], { cidVersion: 1 });
    const paths = results.map((entry) => entry.path);
    assert.equal(paths.at(-1), "site");
    for (const path of ["site/index.html", "site/assets/empty", "site/notes/a/b", "site/notes"]) {
      assert.ok(paths.includes(path), `missing ${path} in ${paths}`);
    }
    // Parents come after their children.
    assert.ok(paths.indexOf("site/assets/big.bin") < paths.indexOf("site/assets"));
    assert.ok(paths.indexOf("site/assets/empty") < paths.indexOf("site/assets"));
    const empty = results.find((entry) => entry.path === "site/assets/empty")!;
    assert.equal(empty.cid.toString(), KUBO.emptyDir[1]);

    const root = results.at(-1)!.cid;
    assert.equal(await new Response(node.cat(`${root}/index.html`)).text(), "<h1>hi</h1>");
    assert.equal(await new Response(node.cat(`/ipfs/${root}/notes/a/b/c.txt`)).text(), "deep");
    assert.deepEqual(await readAll(node.cat(`${root}/assets/big.bin`)), big);
    await assert.rejects(readAll(node.cat(`${root}/nope.txt`)), NotFoundError);
    await assert.rejects(readAll(node.cat(`${root}/assets`)), InvalidInputError);
    await assert.rejects(readAll(node.cat(root)), (error) => {
      assert.ok(error instanceof InvalidInputError);
      assert.match(error.message, /is a directory, not a file/);
      return true;
    });
  }, { sync: true });
});

testEachStrategy("addAll wraps entries in a directory", async () => {
  await withNode(async (node) => {
    const results = await node.addAll(
      (async function* () {
        yield { path: "a.txt", content: "a" };
        yield { path: "b.txt", content: "b" };
      })(),
      { wrapWithDirectory: true },
    );
    assert.deepEqual(results.map((entry) => entry.path), ["a.txt", "b.txt", ""]);
    const root = results[2].cid;
    assert.equal(await new Response(node.cat(`${root}/b.txt`)).text(), "b");
    const links = dagPb.decode(await node.block.get(root)).Links;
    assert.deepEqual(links.map((link) => link.Name), ["a.txt", "b.txt"]);
  }, { sync: true });
});

testEachStrategy("addAll rejects bad paths", async () => {
  await withNode(async (node) => {
    for (const path of ["", "/", "a/../b", "./a"]) {
      await assert.rejects(node.addAll([{ path, content: "x" }]), InvalidInputError, path);
    }
    // @ts-expect-error: testing a missing path
    await assert.rejects(node.addAll([{ content: "x" }]), InvalidInputError);
    // @ts-expect-error: testing a non-iterable
    await assert.rejects(node.addAll(42), InvalidInputError);
  }, { sync: true });
});

testEachStrategy("add reports progress per chunk read", async () => {
  await withNode(async (node) => {
    const seen: Array<[number, string]> = [];
    const chunks = [new Uint8Array(1000), new Uint8Array(0), new Uint8Array(2500)];
    await node.add(chunks, { onProgress: (bytes, path) => seen.push([bytes, path]) });
    assert.deepEqual(seen, [[1000, ""], [3500, ""]]);
    const perFile: Array<[number, string]> = [];
    await node.addAll([{ path: "d/x", content: "xyz" }, { path: "d/y", content: "" }], {
      onProgress: (bytes, path) => perFile.push([bytes, path]),
    });
    assert.deepEqual(perFile, [[3, "d/x"]]);
  });
});

testEachStrategy("invalid input gives typed errors", async () => {
  await withNode(async (node) => {
    await assert.rejects(node.add("x", { chunkSize: 0 }), InvalidInputError);
    await assert.rejects(node.add("x", { chunkSize: 1_048_577 }), InvalidInputError);
    // @ts-expect-error: testing a bad CID version
    await assert.rejects(node.add("x", { cidVersion: 2 }), InvalidInputError);
    // @ts-expect-error: testing a bad input type
    await assert.rejects(node.add(42), InvalidInputError);
    // @ts-expect-error: testing a bad chunk type
    await assert.rejects(node.add([new Uint8Array(1), "text"]), InvalidInputError);
    await assert.rejects(node.block.get("not-a-cid"), (error) => {
      assert.ok(error instanceof InvalidCidError);
      assert.equal(error.input, "not-a-cid");
      return true;
    });
    assert.throws(() => node.cat(KUBO.hello[0], { offset: -1 }), InvalidInputError);
    assert.throws(() => node.cat(KUBO.hello[0], { length: 1.5 }), InvalidInputError);
    await assert.rejects(readAll(node.cat("nope")), InvalidCidError);
    await assert.rejects(readAll(node.cat(KUBO.hello[1])), NotFoundError);
    const cbor = await node.block.put(encoder.encode("{}"), { codec: "dag-cbor" });
    await assert.rejects(readAll(node.cat(cbor)), InvalidInputError);
  }, { sync: true });
});

testEachStrategy("an aborted signal stops add, block calls and cat", async () => {
  await withNode(async (node) => {
    const reason = new Error("stop");
    const aborted = AbortSignal.abort(reason);
    await assert.rejects(node.add("x", { signal: aborted }), (error) => error === reason);
    await assert.rejects(
      node.block.put(new Uint8Array(1), { signal: aborted }),
      (e) => e === reason,
    );
    await assert.rejects(node.block.has(KUBO.empty[0], { signal: aborted }), (e) => e === reason);
    await assert.rejects(
      readAll(node.cat(KUBO.empty[0], { signal: aborted })),
      (e) => e === reason,
    );
    assert.equal(await node.block.has(KUBO.hello[0]), false);
  }, { sync: true });
});

testEachStrategy("aborting add interrupts a stalled stream input and cancels it", async () => {
  await withNode(async (node, repo) => {
    const controller = new AbortController();
    const reason = new Error("enough");
    let pulls = 0;
    let cancelled: unknown;
    const input = new ReadableStream<Uint8Array>({
      pull(stream) {
        pulls++;
        if (pulls <= 3) {
          stream.enqueue(randomBytes(100_000));
          return;
        }
        // Stall for ever; abort once the importer is waiting on this read.
        queueMicrotask(() => controller.abort(reason));
        return new Promise<void>(() => {});
      },
      cancel(why) {
        cancelled = why;
      },
    }, { highWaterMark: 0 });
    await assert.rejects(node.add(input, { signal: controller.signal }), (e) => e === reason);
    // The stream was cancelled (with the scope's cancellation as the reason).
    assert.notEqual(cancelled, undefined);
    assert.equal(pulls, 4);
    assert.deepEqual(await temporaries(repo), []);
  }, { sync: true });
});

testEachStrategy("cancelling an enclosing scope cancels a pending add", async () => {
  await withNode(async (node) => {
    let cancelled = false;
    const scope = new CancelScope();
    const input = new ReadableStream<Uint8Array>({
      pull(stream) {
        if (!cancelled) queueMicrotask(() => scope.cancel("no more"));
        stream.enqueue(new Uint8Array(10));
        return new Promise<void>(() => {});
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    const result = await scope.run(() => node.add(input));
    assert.equal(result, undefined);
    assert.equal(scope.cancelledCaught, true);
    assert.equal(cancelled, true);
  }, { sync: true });
});

testEachStrategy("aborting a cat mid-stream errors the stream with the reason", async () => {
  await withNode(async (node) => {
    const { cid } = await node.add(randomBytes(4 * 262_144), { pin: false });
    const controller = new AbortController();
    const reader = node.cat(cid, { signal: controller.signal }).getReader();
    assert.equal((await reader.read()).value?.length, 262_144);
    const reason = new Error("reader gone");
    controller.abort(reason);
    await assert.rejects(reader.read(), (error) => error === reason);
  });
});

testEachStrategy("a failing input fails add and joins every block write", async () => {
  await withNode(async (node, repo) => {
    const failure = new Error("source broke");
    async function* broken() {
      for (let i = 0; i < 6; i++) yield randomBytes(262_144);
      throw failure;
    }
    await assert.rejects(node.add(broken()), (error) => error === failure);
    assert.deepEqual(await temporaries(repo), []);
    // The node still works.
    const { cid } = await node.add("after");
    assert.equal(await new Response(node.cat(cid)).text(), "after");
  }, { sync: true });
});

testEachStrategy("a stream input is cancelled when add fails before reading it", async () => {
  await withNode(async (node) => {
    let cancelled = false;
    const input = new ReadableStream<Uint8Array>({
      cancel() {
        cancelled = true;
      },
    });
    await assert.rejects(node.add(input, { chunkSize: -1 }), InvalidInputError);
    assert.equal(cancelled, true);
  }, { sync: true });
});

testEachStrategy("id is a persistent Ed25519 peer identity", async () => {
  await withTempDir(async (repo) => {
    let first: Awaited<ReturnType<EmbeddedNode["id"]>>;
    {
      await using node = await EmbeddedNode.open({ repo });
      first = await node.id();
      assert.match(first.id, /^12D3KooW[1-9A-HJ-NP-Za-km-z]+$/);
      const publicKey = base64pad.baseDecode(first.publicKey);
      assert.equal(decodeKey(publicKey).type, 1);
      assert.equal(await peerIdOf(publicKey), first.id);
      assert.deepEqual([first.addresses, first.protocols], [[], []]);
      assert.match(first.agentVersion, /^ipfs-kit\//);
    }
    {
      await using node = await EmbeddedNode.open({ repo });
      assert.deepEqual(await node.id(), first);
    }
    // Another repository is another peer.
    await withNode(async (other) => assert.notEqual((await other.id()).id, first.id));
    // A damaged key file stops the repository from opening.
    await Deno.writeTextFile(`${repo}/keys/self.json`, "{}");
    await assert.rejects(EmbeddedNode.open({ repo }), InvalidInputError);
    // ...and releases the repository lock.
    await Deno.remove(`${repo}/keys/self.json`);
    await using node = await EmbeddedNode.open({ repo });
    assert.notEqual((await node.id()).id, first.id);
  });
});

testEachStrategy("version, repoPath and repo stat", async () => {
  await withNode(async (node, repo) => {
    const version = await node.version();
    assert.equal(version.backend, "embedded");
    assert.match(version.version, /^\d+\.\d+\.\d+/);
    assert.equal(version.repo, "1");
    assert.ok(version.system.includes(Deno.build.os));
    assert.equal(node.repoPath, repo);
    assert.deepEqual(await node.repo.stat(), { numObjects: 0, repoSize: 0, repoPath: repo });
    const a = await node.block.put(encoder.encode("12345"));
    await node.block.put(encoder.encode("123"));
    // The same multihash under another codec is the same stored block.
    await node.block.put(encoder.encode("12345"), { codec: "dag-cbor" });
    assert.deepEqual(await node.repo.stat(), { numObjects: 2, repoSize: 8, repoPath: repo });
    await node.block.rm(a);
    assert.equal((await node.repo.stat()).numObjects, 1);
  }, { sync: true });
});

testEachStrategy("health checks the repository and never throws for a broken node", async () => {
  await withTempDir(async (repo) => {
    const node = await EmbeddedNode.open({ repo });
    const healthy = await node.health();
    assert.equal(healthy.ok, true);
    assert.equal(healthy.backend, "embedded");
    assert.equal(healthy.reason, undefined);
    assert.ok(healthy.latencyMs >= 0);
    // Break the repository: its temporary directory is gone.
    await Deno.remove(`${repo}/tmp`, { recursive: true });
    const broken = await node.health();
    assert.equal(broken.ok, false);
    assert.match(broken.reason!, /the repository does not work/);
    await Deno.mkdir(`${repo}/tmp`);
    assert.equal((await node.health()).ok, true);
    const reason = new Error("stop");
    await assert.rejects(node.health({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    await node.close();
    const closed = await node.health();
    assert.deepEqual([closed.ok, closed.reason], [false, "the node is closed"]);
  });
});

testEachStrategy("network operations are not supported by the embedded node", async () => {
  await withNode(async (node) => {
    const { cid } = await node.add("x");
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["name publish", () => node.name.publish(cid)],
      ["name resolve", () => node.name.resolve("/ipns/k51")],
      ["pubsub publish", () => node.pubsub.publish("t", new Uint8Array(1))],
      ["pubsub ls", () => node.pubsub.ls()],
      ["pubsub peers", () => node.pubsub.peers("t")],
      ["swarm peers", () => node.swarm.peers()],
      ["swarm connect", () => node.swarm.connect("/ip4/127.0.0.1/tcp/4001")],
      ["swarm disconnect", () => node.swarm.disconnect("/ip4/127.0.0.1/tcp/4001")],
      ["routing findprovs", () => node.routing.findProvs(cid)],
      ["routing findpeer", () => node.routing.findPeer("12D3KooW")],
      ["routing provide", () => node.routing.provide(cid)],
      ["routing get", () => node.routing.get("/ipns/x")],
      ["routing put", () => node.routing.put("/ipns/x", new Uint8Array(1))],
    ];
    for (const [operation, call] of calls) {
      await assert.rejects(call(), (error) => {
        assert.ok(error instanceof NotSupportedError, operation);
        assert.equal(error.operation, operation);
        assert.equal(error.backend, "embedded");
        assert.match(error.message, /not supported by the embedded node .*open it with `network`/);
        return true;
      });
    }
    assert.throws(() => node.pubsub.subscribe("t"), NotSupportedError);
  }, { sync: true });
});

testEachStrategy(
  "a block write that fails fails the add with its error and pins nothing",
  async () => {
    await withNode(async (node, repo) => {
      const chunks = Array.from({ length: 40 }, () => randomBytes(1024));
      const content = new Uint8Array(40 * 1024);
      chunks.forEach((chunk, i) => content.set(chunk, i * 1024));
      // The 31st leaf's shard is taken by a file: its write fails (not a directory).
      const leaf = CID.createV1(
        0x55,
        Digest.create(0x12, createHash("sha256").update(chunks[30]).digest()),
      );
      const key = blockKey(leaf);
      await Deno.mkdir(`${repo}/blocks`, { recursive: true });
      const shard = `${repo}/blocks/${key.slice(-3, -1)}`;
      await Deno.remove(shard, { recursive: true }).catch(() => {});
      await Deno.writeTextFile(shard, "in the way");
      await assert.rejects(
        node.add(content, { cidVersion: 1, chunkSize: 1024 }),
        Deno.errors.NotADirectory,
      );
      assert.deepEqual(await node.pin.ls(), []);
      await Deno.remove(shard);
      assert.deepEqual(await temporaries(repo), []);
      const { cid } = await node.add(content, { cidVersion: 1, chunkSize: 1024 });
      assert.deepEqual(new Uint8Array(await new Response(node.cat(cid)).arrayBuffer()), content);
    }, { sync: true });
  },
);
