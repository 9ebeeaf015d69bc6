// The serving side of bench/network_processes_bench.ts, in a process of its
// own: a kit node (node A) and a Helia node on loopback. Prints one JSON line
// with their addresses, then answers one command a line on stdin with one
// JSON line on stdout:
//
//   add-kit      adds 64 MiB of fresh random bytes to node A: {"cid"}
//   add-helia    adds 64 MiB of fresh random bytes to the Helia node: {"cid"}
//   raw <peer>   sends 64 MiB over one libp2p stream from node A to <peer>: {}
//
// Ends when stdin closes.
//
//   deno run -A bench/_network_peer.ts

import { peerIdFromString } from "npm:@libp2p/peer-id@6.0.15";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { libp2pNetwork } from "../net/libp2p_network.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { tempDirRemovedAtExit } from "../tests/_files.ts";
import { startHelia } from "../tests/_helia.ts";
import { LOOPBACK } from "../tests/_net.ts";
import { addToHelia, libp2pOf, lines, sendRaw, TOTAL } from "./_bitswap.ts";

const a = await EmbeddedNode.open({
  repo: await tempDirRemovedAtExit(),
  sync: false,
  network: libp2pNetwork(LOOPBACK),
});
const helia = await startHelia(await tempDirRemovedAtExit());
const reply = (value: unknown) => console.log(JSON.stringify(value));
reply({
  kit: (await a.id()).addresses[0],
  helia: helia.libp2p.getMultiaddrs()[0].toString(),
});
for await (const line of lines(Deno.stdin.readable)) {
  const [command, argument] = line.split(" ");
  if (command === "add-kit") {
    reply({ cid: (await a.add(randomBytes(TOTAL), { pin: false })).cid.toString() });
  } else if (command === "add-helia") {
    reply({ cid: (await addToHelia(helia)).toString() });
  } else if (command === "raw") {
    await sendRaw(libp2pOf(a), peerIdFromString(argument));
    reply({});
  } else throw new Error(`unknown command: ${command}`);
}
await a.close();
await helia.stop();
Deno.exit(0);
