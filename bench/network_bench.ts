/**
 * Bitswap over loopback TCP, group `bitswap-64MiB`: B reads a 64 MiB file
 * (random bytes, Kubo's layout: 256 KiB dag-pb leaves under CIDv0 nodes of
 * up to 174 links) that only A holds.
 *
 * - `ipfs-kit`: two embedded nodes with `libp2pNetwork` (TCP, noise, yamux),
 *   B's `cat` of A's file, every block verified and stored (on disk,
 *   unsynced: fetched blocks can be fetched again).
 * - `helia`: two Helia 7.1.15 nodes (`createHeliaLight`, `withLibp2pLight`
 *   with TCP, noise, yamux and identify, `withBitswap`), on-disk blockstores
 *   (`blockstore-fs` 4.0.1), B's `@helia/unixfs` `cat` of A's file.
 * - `raw-stream` (the baseline): 64 MiB in 64 KiB writes over one libp2p
 *   stream between the two kit nodes' libp2p nodes, counted on arrival:
 *   the transport's limit.
 *
 * Each iteration adds fresh random bytes to A outside the timed part
 * (`b.start()`/`b.end()`), so nothing is local to B; B's fetched blocks are
 * collected after. Each entry checks that every byte arrived.
 *
 * ```sh
 * deno bench --allow-all bench/network_bench.ts
 * ```
 *
 * @module
 */

import { unixfs } from "npm:@helia/unixfs@8.0.5";
import { fixedSize } from "npm:ipfs-unixfs-importer@17.1.1/chunker";
import { balanced } from "npm:ipfs-unixfs-importer@17.1.1/layout";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import type { NodeNetwork } from "../ipfs/node_network.ts";
import { libp2pNetwork } from "../net/libp2p_network.ts";
import { Event } from "../runtime/event.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { tempDirRemovedAtExit } from "../tests/_files.ts";
import { startHelia } from "../tests/_helia.ts";
import { LOOPBACK } from "../tests/_net.ts";

const MIB = 1024 * 1024;
const TOTAL = 64 * MIB;
const WRITE = 64 * 1024;
const GROUP = "bitswap-64MiB";
const RAW_PROTOCOL = "/ipfs-kit/bench/raw/1.0.0";

// --- two kit nodes -----------------------------------------------------------
const a = await EmbeddedNode.open({
  repo: await tempDirRemovedAtExit(),
  sync: false,
  network: libp2pNetwork(LOOPBACK),
});
const b = await EmbeddedNode.open({
  repo: await tempDirRemovedAtExit(),
  network: libp2pNetwork(LOOPBACK),
});
await b.swarm.connect((await a.id()).addresses[0]);

// --- two Helia nodes -----------------------------------------------------------
const ha = await startHelia(await tempDirRemovedAtExit());
const hb = await startHelia(await tempDirRemovedAtExit());
await hb.libp2p.dial(ha.libp2p.getMultiaddrs()[0]);

addEventListener("unload", () => {
  void a.close();
  void b.close();
  void ha.stop();
  void hb.stop();
});

Deno.bench({ name: "ipfs-kit", group: GROUP, n: 5, warmup: 1 }, async (t) => {
  const { cid } = await a.add(randomBytes(TOTAL), { pin: false });
  t.start();
  let received = 0;
  for await (const chunk of b.cat(cid)) received += chunk.length;
  t.end();
  if (received !== TOTAL) throw new Error(`received ${received} of ${TOTAL} bytes`);
  await b.repo.gc();
  await a.repo.gc();
});

Deno.bench({ name: "helia", group: GROUP, n: 5, warmup: 1 }, async (t) => {
  const cid = await unixfs(ha).addBytes(randomBytes(TOTAL), {
    cidVersion: 0,
    rawLeaves: false,
    chunker: fixedSize({ chunkSize: 262_144 }),
    layout: balanced({ maxChildrenPerNode: 174 }),
  });
  t.start();
  let received = 0;
  for await (const chunk of unixfs(hb).cat(cid)) received += chunk.length;
  t.end();
  if (received !== TOTAL) throw new Error(`received ${received} of ${TOTAL} bytes`);
});

/** The libp2p node of a kit node's network. */
function libp2pOf(network: NodeNetwork | undefined) {
  return (network as unknown as { libp2p: typeof ha.libp2p }).libp2p;
}

const sender = libp2pOf(b.network);
const receiver = libp2pOf(a.network);
let arrived: { bytes: number; done: Event } = { bytes: 0, done: new Event() };
await receiver.handle(RAW_PROTOCOL, (stream) => {
  const counting = arrived;
  stream.addEventListener("message", (event) => {
    counting.bytes += event.data.byteLength;
    if (counting.bytes >= TOTAL) counting.done.set();
  });
});

Deno.bench({ name: "raw-stream", group: GROUP, baseline: true, n: 5, warmup: 1 }, async (t) => {
  const chunk = randomBytes(WRITE);
  arrived = { bytes: 0, done: new Event() };
  t.start();
  const stream = await sender.dialProtocol(receiver.peerId, RAW_PROTOCOL);
  for (let sent = 0; sent < TOTAL; sent += WRITE) {
    if (!stream.send(chunk)) await stream.onDrain();
  }
  await stream.close();
  const done = await moveOnAfter(60_000, () => arrived.done.wait().then(() => true));
  t.end();
  if (done !== true) throw new Error(`received ${arrived.bytes} of ${TOTAL} bytes`);
});
