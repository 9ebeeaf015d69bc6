/**
 * `bitswap-64MiB` again with the serving nodes in another process (group
 * `bitswap-64MiB-two-processes`): the same three entries as
 * `network_bench.ts`, but A (the kit node that holds the file, the Helia node
 * that holds it, the raw stream's sender) runs in a child process,
 * `_network_peer.ts`, so that each side has an event loop of its own, as two
 * machines would. Data flows from the child to this process in every entry.
 *
 * - `ipfs-kit`: B's `cat` of a file A added, every block verified and stored.
 * - `helia`: B's `@helia/unixfs` `cat` of a file the child's Helia node added.
 * - `raw-stream`: 64 MiB in 64 KiB writes over one libp2p stream from A's
 *   libp2p node to B's, counted on arrival here.
 *
 * Adding the file (in the child) is outside the timed part. As in
 * `network_bench.ts`, nothing is garbage collected between iterations.
 *
 * ```sh
 * deno bench --allow-all bench/network_processes_bench.ts
 * ```
 *
 * @module
 */

import { unixfs } from "npm:@helia/unixfs@8.0.5";
import { multiaddr } from "npm:@multiformats/multiaddr@13.0.3";
import { CID } from "npm:multiformats@14.0.5/cid";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { libp2pNetwork } from "../net/libp2p_network.ts";
import { tempDirRemovedAtExit } from "../tests/_files.ts";
import { startHelia } from "../tests/_helia.ts";
import { LOOPBACK } from "../tests/_net.ts";
import { countRawArrivals, libp2pOf, lines, TOTAL } from "./_bitswap.ts";

const GROUP = "bitswap-64MiB-two-processes";

// --- the serving process -------------------------------------------------------
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-all", new URL("./_network_peer.ts", import.meta.url).pathname],
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const commands = child.stdin.getWriter();
const replies = lines(child.stdout)[Symbol.asyncIterator]();
async function nextLine(): Promise<string> {
  const { done, value } = await replies.next();
  if (done) throw new Error("the serving process ended");
  return value;
}
async function ask(command: string): Promise<{ cid?: string }> {
  await commands.write(new TextEncoder().encode(`${command}\n`));
  return JSON.parse(await nextLine());
}
const peers: { kit: string; helia: string } = JSON.parse(await nextLine());

// --- the fetching nodes --------------------------------------------------------
const b = await EmbeddedNode.open({
  repo: await tempDirRemovedAtExit(),
  network: libp2pNetwork(LOOPBACK),
});
await b.swarm.connect(peers.kit);
const hb = await startHelia(await tempDirRemovedAtExit());
await hb.libp2p.dial(multiaddr(peers.helia));

addEventListener("unload", () => {
  void commands.close();
  void b.close();
  void hb.stop();
});

Deno.bench({ name: "ipfs-kit", group: GROUP, n: 5, warmup: 1 }, async (t) => {
  const { cid } = await ask("add-kit");
  t.start();
  let received = 0;
  for await (const chunk of b.cat(cid!)) received += chunk.length;
  t.end();
  if (received !== TOTAL) throw new Error(`received ${received} of ${TOTAL} bytes`);
});

Deno.bench({ name: "helia", group: GROUP, n: 5, warmup: 1 }, async (t) => {
  const { cid } = await ask("add-helia");
  t.start();
  let received = 0;
  for await (const chunk of unixfs(hb).cat(CID.parse(cid!))) received += chunk.length;
  t.end();
  if (received !== TOTAL) throw new Error(`received ${received} of ${TOTAL} bytes`);
});

const receiver = libp2pOf(b);
const arrivals = await countRawArrivals(receiver);

Deno.bench({ name: "raw-stream", group: GROUP, baseline: true, n: 5, warmup: 1 }, async (t) => {
  arrivals.expect();
  t.start();
  await ask(`raw ${receiver.peerId}`);
  await arrivals.arrived();
  t.end();
});
