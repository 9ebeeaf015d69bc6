import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { generateKeyPair, privateKeyToProtobuf } from "npm:@libp2p/crypto@5.1.23/keys";
import { CID } from "npm:multiformats@14.0.5/cid";
import { create as createDigest } from "npm:multiformats@14.0.5/hashes/digest";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { InvalidInputError, NotFoundError, UnreachableError } from "../ipfs/errors.ts";
import { Kit } from "../kit/kit.ts";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { sleep } from "../runtime/sleep.ts";
import { eventually, rejection } from "../tests/_async.ts";
import { concat, randomBytes, readAll } from "../tests/_bytes.ts";
import { withTempDir } from "../tests/_files.ts";
import { addressOf, firstLine, LOOPBACK, networkOf, withKits } from "../tests/_net.ts";
import { libp2pNetwork } from "./libp2p_network.ts";

const MiB = 1024 * 1024;

function digest(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

testEachStrategy("B fetches A's 64 MiB file and a directory over bitswap", async () => {
  await withKits(2, async ([a, b]) => {
    const data = randomBytes(64 * MiB);
    const { cid } = await a.add(data);
    const dir = (await a.addAll([
      { path: "site/index.html", content: "<h1>hi</h1>" },
      { path: "site/img/logo.bin", content: data.subarray(0, 300_000) },
    ])).at(-1)!.cid;
    const address = await addressOf(a);
    assert.match(address, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/);
    await b.swarm.connect(address);
    const peers = await b.swarm.peers();
    assert.deepEqual(peers.map((peer) => peer.peer), [(await a.id()).id]);

    // A range fetches the blocks of its range, not the file.
    const range = await readAll(b.cat(cid, { offset: 40 * MiB + 5, length: 1000 }));
    assert.deepEqual(range, data.subarray(40 * MiB + 5, 40 * MiB + 1005));
    const ranged = networkOf(b).stats().bytesFetched;
    assert(ranged < MiB, `a 1000-byte range fetched ${ranged} bytes`);
    // The first bytes come before the file is here; the read-ahead stays in its window.
    const reader = b.cat(cid).getReader();
    const first = await reader.read();
    assert.deepEqual(first.value, data.subarray(0, first.value!.length));
    const early = networkOf(b).stats().bytesFetched - ranged;
    // The window is 32 MiB.
    assert(early < 40 * MiB, `fetched ${early} bytes before the first chunk was taken`);
    const rest: Uint8Array[] = [first.value!];
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      rest.push(next.value);
    }
    assert.equal(digest(concat(rest)), digest(data));
    const names = (await b.ls(dir)).map((entry) => `${entry.name}:${entry.type}`);
    assert.deepEqual(names, ["img:directory", "index.html:file"]);
    assert.equal(await new Response(b.cat(`${dir}/index.html`)).text(), "<h1>hi</h1>");
    assert.equal(
      digest(await readAll(b.cat(`${dir}/img/logo.bin`))),
      digest(data.subarray(0, 300_000)),
    );
    assert.equal((await b.stat(`${dir}/img/logo.bin`)).size, 300_000);
    // Fetched blocks are stored unpinned: garbage collection takes them.
    assert(await b.block.has(cid));
    assert.deepEqual(await b.pin.ls(), []);
    await b.repo.gc();
    assert(!(await b.block.has(cid)));

    // Pinning a remote DAG fetches it; the pin keeps it through garbage collection.
    assert.equal((await b.pin.add(dir)).toString(), dir.toString());
    await b.repo.gc();

    await b.swarm.disconnect(address);
    await eventually(async () => (await b.swarm.peers()).length === 0, "B disconnected");
    assert.equal(
      digest(await readAll(b.cat(`${dir}/img/logo.bin`))),
      digest(data.subarray(0, 300_000)),
    );
    assert.equal(await new Response(b.cat(`${dir}/index.html`)).text(), "<h1>hi</h1>");
  });
});

testEachStrategy("cancelling B's cat half way stops the transfer on both sides", async () => {
  await withKits(2, async ([a, b]) => {
    const data = randomBytes(64 * MiB);
    const { cid } = await a.add(data);
    await b.swarm.connect(await addressOf(a));
    const controller = new AbortController();
    const reading = readAll(b.cat(cid, { signal: controller.signal }));
    await eventually(() => networkOf(b).stats().bytesFetched > 8 * MiB, "B fetched 8 MiB", {
      limitMs: 60_000,
    });
    controller.abort(new Error("stop"));
    assert.equal(((await rejection(reading)) as Error).message, "stop");
    const stopped = networkOf(b).stats().bytesFetched;
    await sleep(500);
    const after = networkOf(b).stats().bytesFetched;
    const served = networkOf(a).stats().bytesServed;
    // What was on the wire may land; nothing more is asked for or sent.
    assert(after < 64 * MiB, `B fetched everything: ${after}`);
    assert(served < 64 * MiB, `A served everything: ${served}`);
    await sleep(500);
    assert.equal(networkOf(b).stats().bytesFetched, after, `still fetching after ${stopped}`);
    assert.equal(networkOf(a).stats().bytesServed, served, "A still serving");

    // The same cat from the same peer completes: the peer was told of the cancel.
    assert.equal(digest(await readAll(b.cat(cid))), digest(data));
    assert(networkOf(a).stats().bytesServed >= 64 * MiB - after);
  });
}, { strategies: ["eager"] });

testEachStrategy("a CID nobody has ends with the call's timeout, not a hang", async () => {
  await withKits(2, async ([a, b]) => {
    await b.swarm.connect(await addressOf(a));
    const missing = CID.createV1(raw.code, await sha256.digest(randomBytes(64)));
    const error = await timedOut(300, (signal) => b.block.get(missing, { signal }));
    assert.equal((error as Error).name, "TimeoutError");
    const cat = await timedOut(300, (signal) => readAll(b.cat(missing, { signal })));
    assert.equal((cat as Error).name, "TimeoutError");
  });
  // A CID whose hash the node cannot check (blake2b-256 here) is refused at once.
  await withKits(1, async ([b]) => {
    const blake = CID.createV1(raw.code, createDigest(0xb220, randomBytes(32)));
    const error = await rejection(b.block.get(blake));
    assert(error instanceof InvalidInputError, String(error));
    assert.match(error.message, /unsupported hash 0xb220/);
  });
  // The network's own limit gives NotFoundError.
  await withKits(1, async ([b]) => {
    const missing = CID.createV1(raw.code, await sha256.digest(randomBytes(64)));
    const error = await rejection(b.block.get(missing));
    assert(error instanceof NotFoundError, String(error));
    assert.match(error.message, /no peer sent it within 300 ms/);
  }, { fetchTimeoutMs: 300 });
}, { strategies: ["eager"] });

testEachStrategy("unreachable and malformed multiaddresses are typed errors", async () => {
  await withKits(1, async ([a]) => {
    const id = (await a.id()).id;
    const unreachable = await rejection(a.swarm.connect(`/ip4/127.0.0.1/tcp/1/p2p/${id}x`));
    assert(unreachable instanceof InvalidInputError, String(unreachable)); // bad peer ID
    const other = (await generateKeyPair("Ed25519")).publicKey.toString();
    const refused = await rejection(
      a.swarm.connect(`/ip4/127.0.0.1/tcp/1/p2p/${other}`),
    );
    assert(refused instanceof UnreachableError, String(refused));
    assert.match(
      refused.message,
      /^Cannot connect: \/ip4\/127\.0\.0\.1\/tcp\/1\/p2p\/.* is unreachable/,
    );
    const malformed = await rejection(a.swarm.connect("/ip4/999.1.1.1/tcp/x"));
    assert(malformed instanceof InvalidInputError, String(malformed));
    assert.match(malformed.message, /malformed multiaddress/);
    const noPeer = await rejection(a.swarm.connect("/ip4/127.0.0.1/tcp/4001"));
    assert(noPeer instanceof InvalidInputError, String(noPeer));
    assert.throws(() => libp2pNetwork({ listen: ["nonsense"] }), InvalidInputError);
  });
}, { strategies: ["eager"] });

testEachStrategy("blocks that do not match their CIDs are refused and counted", async () => {
  await withKits(1, async ([b]) => {
    // A real libp2p bitswap peer whose blockstore lies: it claims every
    // block and sends other bytes.
    const key = await generateKeyPair("Ed25519");
    const lie = randomBytes(1000);
    const lifetime = new AbortController();
    const liar = await libp2pNetwork(LOOPBACK)({
      identity: {
        id: key.publicKey.toString(),
        publicKey: key.publicKey.raw,
        privateKey: privateKeyToProtobuf(key),
      },
      blocks: { get: () => Promise.resolve(lie), has: () => Promise.resolve(true) },
      signal: lifetime.signal,
    });
    try {
      await b.swarm.connect(liar.addresses()[0]);
      const wanted = CID.createV1(raw.code, await sha256.digest(randomBytes(64)));
      const error = await timedOut(2000, (signal) => b.block.get(wanted, { signal }));
      assert.equal((error as Error).name, "TimeoutError");
      assert(networkOf(b).stats().blocksRefused >= 1, "the lying block was not counted");
      assert.equal(networkOf(b).stats().blocksFetched, 0);
      assert(!(await b.block.has(wanted)));
    } finally {
      lifetime.abort();
      await liar.close();
    }
  });
}, { strategies: ["eager"] });

testEachStrategy("another process serves a file and a directory, and exits after", async () => {
  const script = new URL("../tests/_net_peer_child.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let status: Deno.CommandStatus | undefined;
  try {
    const peer = JSON.parse(await firstLine(child.stdout));
    await withKits(1, async ([b]) => {
      await b.swarm.connect(peer.address);
      assert.equal(digest(await readAll(b.cat(peer.cid))), peer.sha256);
      assert.equal(await new Response(b.cat(`${peer.dir}/notes.txt`)).text(), "two processes");
      assert.equal((await b.stat(`${peer.dir}/a/photo.jpg`)).size, 300_000);
    });
    await child.stdin.close();
    // The child closes its node and must exit by itself (no Deno.exit).
    status = await eventuallyExits(child, 30_000);
    assert.equal(status.code, 0);
  } finally {
    if (status === undefined) {
      child.kill("SIGKILL");
      await child.status;
    }
  }
}, { strategies: ["eager"] });

/**
 * How `call` fails when its signal aborts with a `TimeoutError` `ms` (of
 * the runtime's clock) after it started.
 */
async function timedOut(ms: number, call: (signal: AbortSignal) => Promise<unknown>) {
  const controller = new AbortController();
  const pending = rejection(call(controller.signal));
  await sleep(ms);
  controller.abort(new DOMException("timed out", "TimeoutError"));
  return await pending;
}

/** The child's status once it exits; fails (leaving it running) after `limitMs`. */
async function eventuallyExits(child: Deno.ChildProcess, limitMs: number) {
  let status: Deno.CommandStatus | undefined;
  const watch = child.status.then((s) => status = s);
  await eventually(() => status !== undefined, "the child exited", { limitMs, stepMs: 50 });
  await watch;
  return status!;
}

testEachStrategy(
  "connected kits closed in a cancelled scope close, and leave no timer",
  async () => {
    await withTempDir((first) =>
      withTempDir(async (second) => {
        const open = (repo: string) =>
          Kit.open({ repo, sync: false, cache: false, network: LOOPBACK });
        const a = await open(first);
        const b = await open(second);
        try {
          await b.swarm.connect(await addressOf(a));
          assert.deepEqual((await b.swarm.peers()).map((peer) => peer.peer), [(await a.id()).id]);
        } finally {
          // The sanitizers fail this test if either close leaves one of libp2p's timers.
          const scope = new CancelScope();
          await scope.run(async () => {
            scope.cancel("the test cancels");
            await b.close();
            await a.close();
          });
        }
      })
    );
  },
);
