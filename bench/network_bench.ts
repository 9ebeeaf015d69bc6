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
 * (`b.start()`/`b.end()`), so nothing is local to B. Nothing is garbage
 * collected between iterations: on a file system that keeps recently
 * deleted inodes from reuse (ext4 without a journal, as on the machines
 * here), deleting the last iteration's 512 block files made the files and
 * shard directories the next one created cost 0.13 and 0.46 ms of kernel
 * time each on average (bench/README.md, "The file system"). Each entry
 * checks that every byte arrived.
 *
 * ```sh
 * deno bench --allow-all bench/network_bench.ts
 * ```
 *
 * @module
 */

import { unixfs } from "npm:@helia/unixfs@8.0.5";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { libp2pNetwork } from "../net/libp2p_network.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { tempDirRemovedAtExit } from "../tests/_files.ts";
import { startHelia } from "../tests/_helia.ts";
import { LOOPBACK } from "../tests/_net.ts";
import { addToHelia, countRawArrivals, libp2pOf, sendRaw, TOTAL } from "./_bitswap.ts";

const GROUP = "bitswap-64MiB";

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
});

Deno.bench({ name: "helia", group: GROUP, n: 5, warmup: 1 }, async (t) => {
  const cid = await addToHelia(ha);
  t.start();
  let received = 0;
  for await (const chunk of unixfs(hb).cat(cid)) received += chunk.length;
  t.end();
  if (received !== TOTAL) throw new Error(`received ${received} of ${TOTAL} bytes`);
});

const sender = libp2pOf(b);
const receiver = libp2pOf(a);
const arrivals = await countRawArrivals(receiver);

Deno.bench({ name: "raw-stream", group: GROUP, baseline: true, n: 5, warmup: 1 }, async (t) => {
  arrivals.expect();
  t.start();
  await sendRaw(sender, receiver.peerId);
  await arrivals.arrived();
  t.end();
});
