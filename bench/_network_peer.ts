// The serving side of bench/network_processes_bench.ts, in a process of its
// own: a kit node (node A) and a Helia node on loopback. Prints one JSON line
// with their addresses, then answers one command a line on stdin with one
// JSON line on stdout:
//
//   add-kit      adds 64 MiB of fresh random bytes to node A: {"cid"}
//   gc-kit       collects node A's unpinned blocks: {}
//   add-helia    adds 64 MiB of fresh random bytes to the Helia node: {"cid"}
//   raw <peer>   sends 64 MiB over one libp2p stream from node A to <peer>: {}
//
// Ends when stdin closes.
//
//   deno run -A bench/_network_peer.ts

import { unixfs } from "npm:@helia/unixfs@8.0.5";
import { fixedSize } from "npm:ipfs-unixfs-importer@17.1.1/chunker";
import { balanced } from "npm:ipfs-unixfs-importer@17.1.1/layout";
import { peerIdFromString } from "npm:@libp2p/peer-id@6.0.15";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { libp2pNetwork } from "../net/libp2p_network.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { tempDirRemovedAtExit } from "../tests/_files.ts";
import { startHelia } from "../tests/_helia.ts";
import { LOOPBACK } from "../tests/_net.ts";

export const TOTAL = 64 * 1024 * 1024;
export const RAW_PROTOCOL = "/ipfs-kit/bench/raw/1.0.0";
const WRITE = 64 * 1024;

if (import.meta.main) {
  const a = await EmbeddedNode.open({
    repo: await tempDirRemovedAtExit(),
    sync: false,
    network: libp2pNetwork(LOOPBACK),
  });
  const helia = await startHelia(await tempDirRemovedAtExit());
  // deno-lint-ignore no-explicit-any
  const libp2p = (a.network as any).libp2p as typeof helia.libp2p;
  const reply = (value: unknown) => console.log(JSON.stringify(value));
  reply({
    kit: (await a.id()).addresses[0],
    helia: helia.libp2p.getMultiaddrs()[0].toString(),
  });
  const chunk = randomBytes(WRITE);
  let buffered = "";
  for await (const bytes of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buffered += bytes;
    for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
      const [command, argument] = buffered.slice(0, end).split(" ");
      buffered = buffered.slice(end + 1);
      if (command === "add-kit") {
        reply({ cid: (await a.add(randomBytes(TOTAL), { pin: false })).cid.toString() });
      } else if (command === "gc-kit") {
        await a.repo.gc();
        reply({});
      } else if (command === "add-helia") {
        const cid = await unixfs(helia).addBytes(randomBytes(TOTAL), {
          cidVersion: 0,
          rawLeaves: false,
          chunker: fixedSize({ chunkSize: 262_144 }),
          layout: balanced({ maxChildrenPerNode: 174 }),
        });
        reply({ cid: cid.toString() });
      } else if (command === "raw") {
        const stream = await libp2p.dialProtocol(peerIdFromString(argument), RAW_PROTOCOL);
        for (let sent = 0; sent < TOTAL; sent += WRITE) {
          if (!stream.send(chunk)) await stream.onDrain();
        }
        await stream.close();
        reply({});
      } else throw new Error(`unknown command: ${command}`);
    }
  }
  await a.close();
  await helia.stop();
  Deno.exit(0);
}
