/**
 * The Kubo backend against a real daemon, every operation, under every
 * scheduling strategy.
 *
 * Needs a Kubo-compatible daemon at `IPFS_KIT_KUBO_API` (see
 * `tests/_services.ts`; `eval "$(tools/start_js_ipfs.sh)"` starts js-ipfs);
 * skipped without one, a failure under `IPFS_KIT_REQUIRE_SERVICES=1`.
 *
 * js-ipfs stands in for Kubo here. Where it lacks what Kubo has, the test
 * is skipped on it and its name says why ("Kubo only: ...").
 */

import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { sha256 as sha256Hasher } from "npm:multiformats@14.0.5/hashes/sha2";
import { base36 } from "npm:multiformats@14.0.5/bases/base36";
import { base58btc } from "npm:multiformats@14.0.5/bases/base58";
import { currentTime } from "../runtime/checkpoint.ts";
import { ClosedResourceError, TimeoutError } from "../runtime/errors.ts";
import { sleep } from "../runtime/sleep.ts";
import { testEachStrategy as testEachStrategyOf } from "../runtime/testing.ts";
import {
  InvalidCidError,
  InvalidInputError,
  NotFoundError,
  NotSupportedError,
  PinnedError,
} from "../ipfs/errors.ts";
import { KuboBackend } from "../ipfs/kubo_backend.ts";
import type { KuboBackendOptions } from "../ipfs/kubo_options.ts";
import { UnreachableError } from "../ipfs/errors.ts";
import { recursivePins } from "./_kubo_daemon.ts";
import { type KuboTarget, kuboTargets } from "./_kubo_targets.ts";
import { generated, randomBytes, readAll } from "./_bytes.ts";

const targets = await kuboTargets();
const jsIpfs = targets.find((target) => target.kind === "js-ipfs");
if (jsIpfs !== undefined && !jsIpfs.ignore) {
  console.warn(
    `Kubo backend tests: the daemon is ${jsIpfs.agent}; tests named "Kubo only" are skipped on it`,
  );
}

const KIB = 1024;
const MIB = 1024 * KIB;
/** A CID nothing holds: js-ipfs (and an online Kubo) would wait for it forever. */
/**
 * A CID no test ever adds: the raw CID of 32 random bytes. (A fixed CID is
 * not safe: test files run in parallel against one daemon, and the empty
 * file's raw CID, for one, is added by the CID parity suite.)
 */
const MISSING = CID.createV1(
  raw.code,
  await sha256Hasher.digest(crypto.getRandomValues(new Uint8Array(32))),
).toString();
const encoder = new TextEncoder();

/**
 * Whether two peer IDs name the same key: `12D3KooW...`/`Qm...` (base58btc
 * multihash), or the `k51...` CID form newer Kubo prints for IPNS names.
 */
function samePeer(a: string, b: string): boolean {
  const multihash = (id: string) =>
    /^[1Q]/.test(id)
      ? base58btc.baseDecode(id)
      : CID.parse(id, id.startsWith("k") ? base36 : undefined).multihash.bytes;
  const [x, y] = [multihash(a), multihash(b)];
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

for (const target of targets) suite(target);

/** Every test of the suite, against one target (its label in the test names). */
function suite(target: KuboTarget): void {
  const kubo = target;
  const ignore = target.ignore;
  /** Which daemon answers: js-ipfs lacks a few of Kubo's endpoints and flags. */
  const agent = target.agent;
  const isJsIpfs = target.kind === "js-ipfs";
  const isKit = target.kind === "kit";
  const kuboOnly = ignore || isJsIpfs;
  /**
   * The network-bound APIs (IPNS, pubsub, swarm) and what needs a network
   * (a block that never arrives): the embedded node behind the kit's handler
   * has none until the networking work lands, and answers NotSupportedError
   * or NotFoundError at once.
   */
  const networked = ignore || isKit;
  const testEachStrategy = (
    name: string,
    fn: Parameters<typeof testEachStrategyOf>[1],
    options?: Parameters<typeof testEachStrategyOf>[2],
  ) =>
    testEachStrategyOf(
      name.replace(/^Kubo backend: /, `Kubo backend [${target.label}]: `),
      fn,
      options,
    );

  function connect(options: KuboBackendOptions = {}): Promise<KuboBackend> {
    return KuboBackend.connect({ api: kubo.url, timeoutMs: 30_000, ...options });
  }

  // Adding and reading

  testEachStrategy(
    "Kubo backend: add takes bytes, strings, Blobs, streams and iterables alike",
    async () => {
      await using backend = await connect();
      const bytes = randomBytes(700_000);
      const results = [
        await backend.add(bytes, { pin: false }),
        await backend.add(new Blob([bytes.subarray(0, 1000), bytes.subarray(1000)]), {
          pin: false,
        }),
        await backend.add(
          ReadableStream.from([bytes.subarray(0, 300_000), bytes.subarray(300_000)]),
          {
            pin: false,
          },
        ),
        await backend.add([bytes.subarray(0, 5), bytes.subarray(5)], { pin: false }),
        await backend.add(
          (async function* () {
            yield bytes.subarray(0, 262_144);
            yield bytes.subarray(262_144);
          })(),
          { pin: false },
        ),
      ];
      for (const result of results) {
        assert.equal(result.cid.toString(), results[0].cid.toString());
        assert.equal(result.size, results[0].size);
      }
      assert.equal(results[0].cid.version, 0);
      assert.ok(results[0].size > bytes.length); // cumulative: content plus dag-pb encoding
      assert.deepEqual(await readAll(backend.cat(results[0].cid)), bytes);

      const text = await backend.add("hello world\n", { pin: false });
      assert.equal(text.cid.toString(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
      assert.equal(await new Response(backend.cat(text.cid)).text(), "hello world\n");
    },
    { ignore },
  );

  testEachStrategy(
    "Kubo backend: add honours cidVersion, rawLeaves, chunkSize and pin",
    async () => {
      await using backend = await connect();
      const bytes = randomBytes(600_000);
      const v0 = await backend.add(bytes, { pin: false });
      const v1 = await backend.add(bytes, { cidVersion: 1, pin: false });
      const v1NoRaw = await backend.add(bytes, { cidVersion: 1, rawLeaves: false, pin: false });
      const small = await backend.add(bytes, { chunkSize: 65_536, pin: false });
      assert.equal(v1.cid.version, 1);
      assert.equal(v1.cid.toV0().toString() === v0.cid.toString(), false); // other leaves: other DAG
      assert.notEqual(v1NoRaw.cid.toString(), v1.cid.toString());
      // Leaves as dag-pb nodes, or as raw blocks:
      const leafCodec = async (cid: CID) =>
        ((await backend.dag.get(cid)).value as { Links: Array<{ Hash: CID }> }).Links[0].Hash.code;
      assert.equal(await leafCodec(v1NoRaw.cid), 0x70);
      assert.equal(await leafCodec(v1.cid), raw.code);
      assert.equal(await leafCodec(v0.cid), 0x70);
      assert.notEqual(small.cid.toString(), v0.cid.toString());
      assert.equal((await backend.stat(small.cid)).blocks, Math.ceil(600_000 / 65_536));
      assert.equal((await backend.stat(v0.cid)).blocks, Math.ceil(600_000 / 262_144));

      const before = await recursivePins(backend);
      assert.ok(!before.includes(v0.cid.toString()));
      const pinned = await backend.add(bytes); // pin defaults to true
      assert.ok((await recursivePins(backend)).includes(pinned.cid.toString()));
      await backend.pin.rm(pinned.cid);
      await assert.rejects(backend.add(bytes, { chunkSize: 0 }), InvalidInputError);
      await assert.rejects(
        backend.add(bytes, { cidVersion: 2 as 1 }),
        /cidVersion must be 0 or 1/,
      );
    },
    { ignore },
  );

  testEachStrategy("Kubo backend: add reports progress as the content is read", async () => {
    await using backend = await connect();
    const calls: Array<[number, string]> = [];
    const bytes = randomBytes(3 * MIB);
    await backend.add(ReadableStream.from([bytes.subarray(0, MIB), bytes.subarray(MIB)]), {
      pin: false,
      onProgress: (count, path) => calls.push([count, path]),
    });
    assert.ok(calls.length >= 2);
    assert.deepEqual(calls.at(-1), [bytes.length, ""]);
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i][0] > calls[i - 1][0]);
  }, { ignore });

  testEachStrategy("Kubo backend: a 64 MiB upload streams through intact", async () => {
    await using backend = await connect({ timeoutMs: 120_000 });
    const bytes = randomBytes(64 * MIB);
    const { cid } = await backend.add(bytes, { cidVersion: 1, pin: false });
    const back = await readAll(backend.cat(cid));
    assert.equal(back.length, bytes.length);
    assert.equal(await sha256(back), await sha256(bytes));
    // A generated stream of the same size: nothing holds it whole on this side.
    const streamed = await backend.add(generated(64 * MIB), { cidVersion: 1, pin: false });
    assert.equal((await backend.stat(streamed.cid)).size, 64 * MIB);
  }, { ignore });

  testEachStrategy("Kubo backend: addAll builds directories, wrapped or not", async () => {
    await using backend = await connect();
    const tree = [
      { path: "site/index.html", content: "<h1>hi</h1>" },
      { path: "/site//css/main.css", content: encoder.encode("body{}") },
      { path: "site/data/blob.bin", content: randomBytes(300_000) },
    ];
    const results = await backend.addAll(tree, { cidVersion: 1, pin: false });
    const root = results.at(-1)!;
    assert.equal(root.path, "site");
    const paths = results.map((entry) => entry.path);
    assert.ok(paths.includes("site/css/main.css"));
    assert.ok(paths.indexOf("site/css/main.css") < paths.indexOf("site/css"));
    assert.equal(await new Response(backend.cat(`${root.cid}/index.html`)).text(), "<h1>hi</h1>");
    assert.equal(
      await new Response(backend.cat(`/ipfs/${root.cid}/css/main.css`)).text(),
      "body{}",
    );

    const wrapped = await backend.addAll(tree.slice(0, 1), { wrapWithDirectory: true, pin: false });
    assert.equal(wrapped.at(-1)!.path, "");
    const listing = await backend.ls(wrapped.at(-1)!.cid);
    assert.deepEqual(listing.map((entry) => [entry.name, entry.type]), [["site", "directory"]]);

    await assert.rejects(
      backend.addAll([{ path: "a/../b", content: "x" }]),
      /must not hold \. or \.\./,
    );
    await assert.rejects(backend.addAll([]), /nothing to add/);
    await assert.rejects(backend.addAll(42 as unknown as []), InvalidInputError);
  }, { ignore });

  testEachStrategy("Kubo backend: addPath adds files and trees from disk", async () => {
    await using backend = await connect();
    const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-kubo-addpath-" });
    try {
      await Deno.mkdir(`${dir}/photos/2024`, { recursive: true });
      await Deno.writeTextFile(`${dir}/photos/2024/a.txt`, "a");
      await Deno.writeTextFile(`${dir}/photos/b.txt`, "bb");
      await Deno.writeTextFile(`${dir}/photos/.hidden`, "secret");
      const results = await backend.addPath(`${dir}/photos`, { pin: false });
      assert.equal(results.at(-1)!.path, "photos");
      assert.deepEqual(
        results.map((entry) => entry.path).filter((path) => path.endsWith(".txt")).sort(),
        ["photos/2024/a.txt", "photos/b.txt"],
      );
      const names = (await backend.ls(results.at(-1)!.cid)).map((entry) => entry.name);
      assert.deepEqual(names, ["2024", "b.txt"]);
      const withHidden = await backend.addPath(`${dir}/photos`, { hidden: true, pin: false });
      assert.ok(withHidden.some((entry) => entry.path === "photos/.hidden"));

      const file = await backend.addPath(`${dir}/photos/b.txt`, { pin: false });
      assert.deepEqual(file.map((entry) => entry.path), ["b.txt"]);
      assert.equal(
        file[0].cid.toString(),
        (await backend.add("bb", { pin: false })).cid.toString(),
      );

      await Deno.symlink(`${dir}/photos/b.txt`, `${dir}/photos/link`);
      const pinsBefore = await recursivePins(backend);
      await assert.rejects(backend.addPath(`${dir}/photos`), (error) => {
        assert.ok(error instanceof InvalidInputError);
        assert.match(error.message, /photos\/link is a symbolic link.*followSymlinks/);
        return true;
      });
      const followed = await backend.addPath(`${dir}/photos`, { followSymlinks: true, pin: false });
      assert.ok(followed.some((entry) => entry.path === "photos/link"));
      await assert.rejects(backend.addPath(`${dir}/nope`), NotFoundError);
      await Deno.remove(`${dir}/photos/link`);
      const fifo = await new Deno.Command("mkfifo", { args: [`${dir}/photos/2024/pipe`] }).output();
      assert.ok(fifo.success);
      await assert.rejects(backend.addPath(`${dir}/photos`), /not a file or a directory: .*pipe/);
      await assert.rejects(
        backend.addPath(`${dir}/photos`, { hidden: "yes" as unknown as boolean }),
        InvalidInputError,
      );
      assert.deepEqual(await recursivePins(backend), pinsBefore); // failed adds pinned nothing
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, { ignore });

  testEachStrategy(
    "Kubo backend: cat reads ranges and reports failures on the stream",
    async () => {
      await using backend = await connect();
      const bytes = randomBytes(900_000);
      const { cid } = await backend.add(bytes, { pin: false });
      assert.deepEqual(
        await readAll(backend.cat(cid, { offset: 262_000, length: 5_000 })),
        bytes.subarray(262_000, 267_000),
      );
      assert.deepEqual(
        await readAll(backend.cat(cid, { offset: 899_990 })),
        bytes.subarray(899_990),
      );
      assert.equal((await readAll(backend.cat(cid, { offset: 2_000_000 }))).length, 0);
      assert.equal((await readAll(backend.cat(cid, { length: 0 }))).length, 0);

      const [dir] = (await backend.addAll([{ path: "d/f", content: "f" }], { pin: false })).slice(
        -1,
      );
      await assert.rejects(readAll(backend.cat(dir.cid)), InvalidInputError);
      await assert.rejects(readAll(backend.cat(`${dir.cid}/nope`)), NotFoundError);
      assert.throws(() => backend.cat("not-a-cid"), InvalidCidError);
      assert.throws(() => backend.cat(cid, { offset: -1 }), InvalidInputError);
      assert.throws(() => backend.cat(cid, { length: 1.5 }), InvalidInputError);
    },
    { ignore },
  );

  testEachStrategy("Kubo backend: get writes files and trees, atomically", async () => {
    await using backend = await connect();
    const out = await Deno.makeTempDir({ prefix: "ipfs-kit-kubo-get-" });
    try {
      const big = randomBytes(700_000);
      const results = await backend.addAll([
        { path: "tree/a.txt", content: "alpha" },
        { path: "tree/sub/big.bin", content: big },
        { path: "tree/sub/deeper/c.txt", content: "gamma" },
      ], { pin: false });
      const root = results.at(-1)!;
      const got = await backend.get(root.cid, `${out}/tree`);
      assert.equal(got.cid.toString(), root.cid.toString());
      assert.deepEqual({ files: got.files, directories: got.directories, bytes: got.bytes }, {
        files: 3,
        directories: 3, // tree, sub, sub/deeper
        bytes: 5 + big.length + 5,
      });
      assert.equal(await Deno.readTextFile(`${out}/tree/a.txt`), "alpha");
      assert.deepEqual(await Deno.readFile(`${out}/tree/sub/big.bin`), big);
      assert.equal(await Deno.readTextFile(`${out}/tree/sub/deeper/c.txt`), "gamma");

      const file = await backend.get(`${root.cid}/sub/big.bin`, `${out}/big.bin`);
      assert.equal(file.files, 1);
      assert.deepEqual(await Deno.readFile(`${out}/big.bin`), big);

      await assert.rejects(backend.get(root.cid, `${out}/tree`), /target already exists/);
      await assert.rejects(backend.get(root.cid, `${out}/missing/dir`), /directory does not exist/);
      await assert.rejects(backend.get(`${root.cid}/nope`, `${out}/nope`), NotFoundError);
      const names: string[] = [];
      for await (const entry of Deno.readDir(out)) names.push(entry.name);
      assert.deepEqual(names.sort(), ["big.bin", "tree"]); // no temporary trees left
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  }, { ignore });

  testEachStrategy("Kubo backend: ls and stat describe files and directories", async () => {
    await using backend = await connect();
    const results = await backend.addAll([
      { path: "d/a.txt", content: "abc" },
      { path: "d/sub/b.txt", content: "b" },
    ], { pin: false });
    const root = results.at(-1)!;
    const entries = await backend.ls(root.cid);
    assert.deepEqual(
      entries.map((entry) => [entry.name, entry.type, entry.size, entry.path]),
      [
        ["a.txt", "file", 3, `${root.cid}/a.txt`],
        ["sub", "directory", 0, `${root.cid}/sub`],
      ],
    );
    const a = results.find((entry) => entry.path === "d/a.txt")!;
    assert.equal(entries[0].cid.toString(), a.cid.toString());
    const single = await backend.ls(`/ipfs/${root.cid}/a.txt`);
    assert.deepEqual(single.map((entry) => [entry.name, entry.type, entry.size]), [[
      "a.txt",
      "file",
      3,
    ]]);

    const dirStat = await backend.stat(root.cid);
    assert.equal(dirStat.type, "directory");
    assert.equal(dirStat.size, 0);
    assert.equal(dirStat.blocks, 2);
    assert.equal(dirStat.cumulativeSize, root.size);
    const fileStat = await backend.stat(`${root.cid}/a.txt`);
    assert.deepEqual(
      [fileStat.type, fileStat.size, fileStat.cid.toString()],
      ["file", 3, a.cid.toString()],
    );
    await assert.rejects(backend.ls(`${root.cid}/missing`), NotFoundError);
    await assert.rejects(backend.stat(`${root.cid}/missing`), NotFoundError);
    await assert.rejects(backend.stat("Qm-not-a-cid"), InvalidCidError);
  }, { ignore });

  // MFS

  testEachStrategy("Kubo backend: files (MFS) write, read, ls, stat, cp, mv, rm", async () => {
    await using backend = await connect();
    const base = `/ipfs-kit-test-${crypto.randomUUID()}`;
    try {
      await backend.files.mkdir(`${base}/docs`, { parents: true });
      await backend.files.write(`${base}/docs/hello.txt`, "hello world\n", { create: true });
      const stat = await backend.files.stat(`${base}/docs/hello.txt`);
      // Kubo's `files write` lays the file out as `add` does; js-ipfs's MFS does not.
      if (!isJsIpfs) {
        assert.equal(stat.cid.toString(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
      }
      assert.deepEqual([stat.type, stat.size], ["file", 12]);
      assert.equal(
        await new Response(backend.files.read(`${base}/docs/hello.txt`)).text(),
        "hello world\n",
      );
      assert.equal(
        await new Response(backend.files.read(`${base}/docs/hello.txt`, { offset: 6, length: 5 }))
          .text(),
        "world",
      );
      await backend.files.write(`${base}/docs/hello.txt`, "HELLO", { offset: 0 });
      assert.equal(
        await new Response(backend.files.read(`${base}/docs/hello.txt`)).text(),
        "HELLO world\n",
      );
      const { cid } = await backend.add(randomBytes(300_000), { pin: false });
      await backend.files.cp(`/ipfs/${cid}`, `${base}/docs/big.bin`);
      assert.ok((await backend.files.stat(`${base}/docs/big.bin`)).cid.equals(cid));
      await backend.files.mv(`${base}/docs/big.bin`, `${base}/moved.bin`);
      const listing = await backend.files.ls(base);
      assert.deepEqual(
        listing.map((entry) => [entry.name, entry.type]),
        [["docs", "directory"], ["moved.bin", "file"]],
      );
      assert.equal(listing[1].size, 300_000);
      assert.equal((await backend.files.stat(`${base}/docs`)).type, "directory");
      const flushed = await backend.files.flush(base);
      assert.ok(flushed.equals((await backend.files.stat(base)).cid));
      await assert.rejects(backend.files.stat(`${base}/missing`), NotFoundError);
      await assert.rejects(
        backend.files.write(`${base}/nope/x`, "x", { create: true }),
        NotFoundError,
      );
      await assert.rejects(backend.files.mkdir(`${base}/docs`), InvalidInputError);
      await assert.rejects(backend.files.ls("relative"), InvalidInputError);
      await backend.files.rm(`${base}/moved.bin`);
      assert.deepEqual((await backend.files.ls(base)).map((entry) => entry.name), ["docs"]);
    } finally {
      await backend.files.rm(base, { recursive: true }).catch(() => {});
    }
  }, { ignore });

  // Pins

  testEachStrategy("Kubo backend: pins, recursive and direct", async () => {
    await using backend = await connect();
    const results = await backend.addAll([{ path: "p/x.txt", content: randomBytes(10) }], {
      pin: false,
    });
    const root = results.at(-1)!.cid;
    const leaf = results[0].cid;
    assert.equal((await backend.pin.add(root)).toString(), root.toString());
    const listed = await backend.pin.ls({ paths: [root, leaf] });
    assert.deepEqual(listed.map((pin) => pin.type), ["recursive", "indirect"]);
    assert.ok(
      (await backend.pin.ls({ type: "indirect" })).some((pin) => pin.cid.equals(leaf)),
    );
    await assert.rejects(backend.pin.add(root, { recursive: false }), PinnedError);
    await assert.rejects(backend.pin.rm(root, { recursive: false }), PinnedError);
    await assert.rejects(backend.pin.rm(leaf), NotFoundError); // pinned only indirectly
    assert.equal((await backend.pin.rm(root)).toString(), root.toString());
    await assert.rejects(backend.pin.ls({ paths: [root] }), NotFoundError);

    const block = await backend.block.put(randomBytes(100));
    await backend.pin.add(block, { recursive: false });
    assert.deepEqual(
      (await backend.pin.ls({ paths: [block] })).map((pin) => pin.type),
      ["direct"],
    );
    assert.ok((await backend.pin.ls({ type: "direct" })).some((pin) => pin.cid.equals(block)));
    await backend.pin.rm(block, { recursive: false });
    await assert.rejects(backend.pin.rm(block), NotFoundError);
    await assert.rejects(backend.pin.ls({ type: "sideways" as "all" }), InvalidInputError);
    await assert.rejects(backend.pin.add("nope"), InvalidCidError);
  }, { ignore });

  // Blocks

  testEachStrategy("Kubo backend: block put, get, stat, has and rm", async () => {
    await using backend = await connect();
    const bytes = randomBytes(5000);
    const cid = await backend.block.put(bytes);
    assert.equal(cid.version, 1);
    assert.equal(cid.code, raw.code);
    assert.deepEqual(await backend.block.get(cid), bytes);
    assert.deepEqual(await backend.block.stat(cid.toString()), { cid, size: 5000 });
    assert.equal(await backend.block.has(cid), true);

    const node = (await backend.add("a dag-pb node", { pin: false })).cid;
    const pbBytes = await backend.block.get(node);
    const v0 = await backend.block.put(pbBytes, { codec: "dag-pb", cidVersion: 0 });
    assert.equal(v0.toString(), node.toString());

    const pinned = await backend.block.put(randomBytes(64), { pin: true });
    assert.deepEqual((await backend.pin.ls({ paths: [pinned] })).map((pin) => pin.type), [
      "direct",
    ]);
    await assert.rejects(backend.block.rm(pinned), PinnedError);
    await backend.pin.rm(pinned);

    await backend.block.rm(cid);
    await assert.rejects(backend.block.rm(cid), NotFoundError);
    await backend.block.rm(cid, { force: true });

    await assert.rejects(backend.block.put(new Uint8Array(MIB + 1)), RangeError);
    await assert.rejects(backend.block.put(bytes, { cidVersion: 0 }), /CIDv0 needs codec dag-pb/);
    await assert.rejects(backend.block.put("text" as unknown as Uint8Array), InvalidInputError);
    await assert.rejects(backend.block.get("bafy-nope"), InvalidCidError);
    await assert.rejects(backend.block.stat(42 as unknown as string), InvalidCidError);
  }, { ignore });

  testEachStrategy(
    "Kubo backend: block has is false for a block the daemon lacks (Kubo only: js-ipfs ignores offline=true and waits for the block)",
    async () => {
      await using backend = await connect({ timeoutMs: 10_000 });
      assert.equal(await backend.block.has(MISSING), false);
    },
    { ignore: kuboOnly },
  );

  // DAG

  testEachStrategy("Kubo backend: dag put, get and resolve across links", async () => {
    await using backend = await connect();
    const file = (await backend.add("linked file", { pin: false })).cid;
    const inner = await backend.dag.put({
      list: [1, 2, { deep: "value" }],
      bytes: new Uint8Array([1, 2]),
    });
    assert.equal(inner.version, 1);
    const outer = await backend.dag.put({ inner, file, name: "outer" }, { storeCodec: "dag-json" });

    assert.deepEqual((await backend.dag.get(outer)).value, { inner, file, name: "outer" });
    assert.equal((await backend.dag.get(outer, { path: "inner/list/2/deep" })).value, "value");
    assert.equal((await backend.dag.get(`${outer}/inner/list/0`)).value, 1);
    assert.deepEqual((await backend.dag.get(`${outer}/inner/bytes`)).value, new Uint8Array([1, 2]));
    const pbNode = (await backend.dag.get(`${outer}/file`)).value as { Links: unknown[] };
    assert.deepEqual(pbNode.Links, []);

    const resolved = await backend.dag.resolve(`${outer}/inner/list/2/deep`);
    assert.equal(resolved.cid.toString(), inner.toString());
    assert.equal(resolved.remainderPath, "list/2/deep");
    const atLink = await backend.dag.resolve(`/ipfs/${outer}/file`);
    assert.deepEqual([atLink.cid.toString(), atLink.remainderPath], [file.toString(), ""]);

    // UnixFS names through dag-pb nodes.
    const dir = (await backend.addAll([{ path: "n/x.txt", content: "x" }], { pin: false })).at(-1)!;
    const named = await backend.dag.resolve(`${dir.cid}/x.txt`);
    assert.equal(named.remainderPath, "");
    assert.equal(
      named.cid.toString(),
      (await backend.stat(`${dir.cid}/x.txt`)).cid.toString(),
    );

    const fromJson = await backend.dag.put(encoder.encode(`{"a":{"/":"${file}"}}`), {
      inputCodec: "dag-json",
    });
    assert.equal(fromJson.code, 0x71); // stored as dag-cbor, the default
    const decoded = (await backend.dag.get(fromJson)).value as { a: unknown };
    assert.ok(CID.asCID(decoded.a)?.equals(file));
    const pinned = await backend.dag.put({ keep: inner }, { pin: true });
    assert.deepEqual((await backend.pin.ls({ paths: [pinned] })).map((pin) => pin.type), [
      "recursive",
    ]);
    await backend.pin.rm(pinned);
  }, { ignore });

  testEachStrategy(
    "Kubo backend: bad dag paths and values fail typed, writing nothing",
    async () => {
      await using backend = await connect();
      const node = await backend.dag.put({ a: { b: 1 }, list: [0] });
      await assert.rejects(backend.dag.get(`${node}/missing`), NotFoundError);
      await assert.rejects(backend.dag.get(`${node}/a/b/c`), InvalidInputError); // into a number
      await assert.rejects(backend.dag.get(`${node}/list/x`), InvalidInputError);
      await assert.rejects(backend.dag.get(`${node}/list/7`), NotFoundError);
      await assert.rejects(backend.dag.resolve(`${node}/a/b/c`), InvalidInputError);
      await assert.rejects(backend.dag.get("zzz/a"), InvalidCidError);
      await assert.rejects(backend.dag.put({ f: () => 1 }), InvalidInputError);
      await assert.rejects(
        backend.dag.put(new Uint8Array(2 * MIB), { storeCodec: "raw" }),
        RangeError,
      );
      await assert.rejects(
        backend.dag.put("x", { storeCodec: "dag-yaml" as "raw" }),
        InvalidInputError,
      );
      await assert.rejects(
        backend.dag.put(encoder.encode("{not json"), { inputCodec: "dag-json" }),
        InvalidInputError,
      );
    },
    { ignore },
  );

  // Repository

  // Garbage collection: see kubo_backend_exclusive_test.ts (it would collect
  // the unpinned blocks of other test files sharing the daemon).

  const stateDir = Deno.env.get("IPFS_KIT_JS_IPFS_DIR");

  testEachStrategy(
    "Kubo backend: connects through the repository's api file (needs IPFS_KIT_JS_IPFS_DIR; no daemon writes the kit's api file yet)",
    async () => {
      await using backend = await KuboBackend.connect({
        ipfsPath: `${stateDir}/repo`,
        timeoutMs: 30_000,
      });
      assert.equal(backend.url.href, `${kubo.url}/api/v0`);
      assert.equal((await backend.id()).agentVersion, agent);
    },
    { ignore: ignore || isKit || stateDir === undefined },
  );

  testEachStrategy("Kubo backend: id, version and health", async () => {
    const backend = await connect();
    const id = await backend.id();
    assert.match(id.id, /^(12D3KooW|Qm)/);
    assert.ok(id.publicKey.length > 0);
    assert.ok(Array.isArray(id.addresses) && Array.isArray(id.protocols));
    assert.equal(id.agentVersion, agent);
    const version = await backend.version();
    assert.equal(version.backend, "kubo");
    assert.match(version.version, /^\d+\.\d+\.\d+/);
    assert.ok(version.repo !== "");
    const health = await backend.health();
    assert.equal(health.ok, true, health.reason);
    assert.equal(health.backend, "kubo");
    assert.ok(health.latencyMs >= 0);
    await backend.close();
    await backend.close(); // idempotent
    const closed = await backend.health();
    assert.deepEqual([closed.ok, closed.reason], [false, "the backend is closed"]);
    await assert.rejects(backend.version(), ClosedResourceError);
    assert.throws(() => backend.cat(MISSING), ClosedResourceError);
  }, { ignore });

  // The network-bound APIs

  testEachStrategy(
    "Kubo backend: name publish and resolve (offline) (network: the kit's embedded node has none yet)",
    async () => {
      await using backend = await connect();
      const { cid } = await backend.add(`ipns ${crypto.randomUUID()}`, { pin: false });
      const published = await backend.name.publish(cid, { allowOffline: true, lifetime: "1h" });
      assert.equal(published.value, `/ipfs/${cid}`);
      assert.ok(samePeer(published.name, (await backend.id()).id), published.name);
      assert.equal(await backend.name.resolve(published.name), `/ipfs/${cid}`);
      assert.equal(await backend.name.resolve(`/ipns/${published.name}`), `/ipfs/${cid}`);
      await assert.rejects(backend.name.resolve(""), InvalidInputError);
      await assert.rejects(
        backend.name.publish(cid, { key: 7 as unknown as string }),
        InvalidInputError,
      );
    },
    { ignore: networked },
  );

  testEachStrategy(
    "Kubo backend: pubsub delivers published messages to a subscription (network: the kit's embedded node has none yet)",
    async () => {
      await using backend = await connect();
      const topic = `ipfs-kit-${crypto.randomUUID()}`;
      const stream = backend.pubsub.subscribe(topic);
      const reader = stream.getReader();
      try {
        // The subscription starts with the first read; publish until it sees one.
        const first = reader.read();
        let received: Awaited<typeof first> | undefined;
        for (let attempt = 0; attempt < 50 && received === undefined; attempt++) {
          await backend.pubsub.publish(topic, encoder.encode("hello"));
          let timer: ReturnType<typeof setTimeout> | undefined;
          // A stream read is no checkpoint, so no scope can bound it: race it, then cancel the
          // reader below. Test code only.
          // deno-lint-ignore ipfs-kit/no-promise-race-timeout
          received = await Promise.race([
            first,
            // deno-lint-ignore ipfs-kit/no-bare-timer
            new Promise<undefined>((resolve) => (timer = setTimeout(resolve, 100, undefined))),
          ]);
          clearTimeout(timer);
        }
        assert.ok(received !== undefined && !received.done, "a message arrived");
        assert.equal(new TextDecoder().decode(received.value.data), "hello");
        assert.equal(received.value.topic, topic);
        assert.equal(received.value.from, (await backend.id()).id);
        assert.ok((await backend.pubsub.ls()).includes(topic));
        assert.ok(Array.isArray(await backend.pubsub.peers(topic)));
        // Kubo lists the peers of every topic without one; js-ipfs requires a topic.
        if (!isJsIpfs) assert.ok(Array.isArray(await backend.pubsub.peers()));
      } finally {
        await reader.cancel();
      }
      // Cancelling the stream unsubscribed.
      for (let attempt = 0; attempt < 50; attempt++) {
        if (!(await backend.pubsub.ls()).includes(topic)) break;
        await sleep(20);
      }
      assert.ok(!(await backend.pubsub.ls()).includes(topic));
      assert.throws(() => backend.pubsub.subscribe(""), InvalidInputError);
    },
    { ignore: networked },
  );

  testEachStrategy(
    "Kubo backend: swarm lists peers and refuses bad addresses (network: the kit's embedded node has none yet)",
    async () => {
      await using backend = await connect();
      const peers = await backend.swarm.peers();
      assert.ok(Array.isArray(peers));
      for (const peer of peers) assert.ok(peer.addr.startsWith("/") && peer.peer.length > 0);
      await assert.rejects(backend.swarm.connect("not-a-multiaddr"), InvalidInputError);
      await assert.rejects(backend.swarm.disconnect(42 as unknown as string), InvalidInputError);
    },
    { ignore: networked },
  );

  testEachStrategy(
    "Kubo backend: routing provide and find providers (Kubo only: js-ipfs has no routing endpoints)",
    async () => {
      await using backend = await connect({ timeoutMs: 30_000 });
      const { cid } = await backend.add(`routed ${crypto.randomUUID()}`, { pin: false });
      // An offline or peerless Kubo may refuse to provide; either way the call is typed.
      try {
        await backend.routing.provide(cid);
        assert.ok(Array.isArray(await backend.routing.findProvs(cid, { numProviders: 1 })));
      } catch (error) {
        assert.ok(error instanceof Error && error.name !== "TypeError", String(error));
      }
    },
    { ignore: kuboOnly },
  );

  testEachStrategy(
    "Kubo backend: a command the daemon lacks is NotSupportedError (js-ipfs and the kit's embedded node: Kubo has them all)",
    async () => {
      await using backend = await connect();
      await assert.rejects(backend.routing.findProvs(MISSING), NotSupportedError);
    },
    { ignore: ignore || !(isJsIpfs || isKit) },
  );

  // Cancellation, timeouts and an unreachable daemon

  // The 100 MiB add and cat cancelled half way, and inputs failing mid-upload:
  // see kubo_backend_exclusive_test.ts (run alone, after the parallel pass).

  testEachStrategy(
    "Kubo backend: a call for a CID nobody has times out, typed (waits for the network: the kit's embedded node is offline and answers NotFoundError at once)",
    async () => {
      await using backend = await connect({ timeoutMs: 400 });
      const start = currentTime();
      await assert.rejects(backend.block.get(MISSING), TimeoutError);
      const elapsed = currentTime() - start;
      assert.ok(elapsed >= 390 && elapsed < 3000, `timed out after ${elapsed} ms`);
      await assert.rejects(readAll(backend.cat(MISSING, { timeoutMs: 200 })), TimeoutError);
      await assert.rejects(backend.dag.get(MISSING, { timeoutMs: 200 }), TimeoutError);
      await assert.rejects(backend.version({ timeoutMs: -1 }), InvalidInputError);
    },
    { ignore: networked },
  );

  testEachStrategy(
    "Kubo backend: an unreachable daemon fails typed within the timeout",
    async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = listener.addr.port;
      listener.close(); // nothing listens there now
      await using backend = await KuboBackend.connect({
        api: `/ip4/127.0.0.1/tcp/${port}`,
        retry: { attempts: 3, baseDelayMs: 10 },
      });
      const start = currentTime();
      const error = await backend.version({ timeoutMs: 1000 }).catch((error) => error);
      assert.ok(error instanceof UnreachableError, String(error));
      assert.equal(error.address, `http://127.0.0.1:${port}/api/v0`);
      assert.ok(currentTime() - start < 1000);
      await assert.rejects(backend.add("x", { timeoutMs: 1000 }), UnreachableError);
      await assert.rejects(readAll(backend.cat(MISSING, { timeoutMs: 1000 })), UnreachableError);
      const health = await backend.health({ timeoutMs: 1000 });
      assert.equal(health.ok, false);
      assert.match(health.reason!, /unreachable/);
    },
    { ignore },
  );

  testEachStrategy(
    "Kubo backend: a daemon that never answers times out within the timeout",
    async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const connections: Deno.Conn[] = [];
      const accepting = (async () => {
        try {
          for await (const connection of listener) connections.push(connection);
        } catch { /* closed */ }
      })();
      try {
        await using backend = await KuboBackend.connect({
          api: `http://127.0.0.1:${listener.addr.port}`,
        });
        const start = currentTime();
        await assert.rejects(backend.id({ timeoutMs: 300 }), TimeoutError);
        const elapsed = currentTime() - start;
        assert.ok(elapsed >= 290 && elapsed < 2000, `timed out after ${elapsed} ms`);
      } finally {
        listener.close();
        await accepting;
        for (const connection of connections) connection.close();
      }
    },
    { ignore },
  );

  testEachStrategy(
    "Kubo backend: close aborts calls in flight (a call that waits for the network: the kit's embedded node is offline and answers NotFoundError at once)",
    async () => {
      const backend = await connect({ timeoutMs: 10_000 });
      const pending = backend.block.get(MISSING).catch((error) => error);
      await sleep(50);
      await backend.close();
      assert.ok((await pending) instanceof ClosedResourceError);
    },
    { ignore: networked },
  );
}
