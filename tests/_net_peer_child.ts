// The two-process network test's serving peer: a kit node with the network
// on loopback, holding a 64 MiB file and a directory. Prints one JSON line
// (its address, the CIDs and the SHA-256 the reader must see), serves
// until its stdin closes, then closes the node and must exit on its own
// (libp2p's lock library leaves a BroadcastChannel open unless the node
// closes it).
//
//   deno run -A tests/_net_peer_child.ts

import { createHash } from "node:crypto";
import { Kit } from "../kit/kit.ts";
import { randomBytes } from "./_bytes.ts";
import { LOOPBACK } from "./_net.ts";

const repo = await Deno.makeTempDir({ prefix: "ipfs-kit-net-child-" });
try {
  await using kit = await Kit.open({ repo, sync: false, cache: false, network: LOOPBACK });
  const data = randomBytes(64 * 1024 * 1024);
  const { cid } = await kit.add(data);
  const added = await kit.addAll([
    { path: "album/a/photo.jpg", content: data.subarray(0, 300_000) },
    { path: "album/notes.txt", content: "two processes" },
  ]);
  console.log(JSON.stringify({
    address: (await kit.id()).addresses[0],
    cid: cid.toString(),
    dir: added.at(-1)!.cid.toString(),
    sha256: createHash("sha256").update(data).digest("hex"),
  }));
  // Serve until the parent closes stdin.
  for await (const _ of Deno.stdin.readable) { /* nothing to read */ }
} finally {
  await Deno.remove(repo, { recursive: true });
}
// No Deno.exit: the process must end by itself once the node is closed.
