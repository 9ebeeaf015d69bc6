// The two-process WebRTC test's serving peer: an embedded node with a
// 64 MiB file and a directory, served by a streaming manager over
// signaling on loopback. Prints one JSON line (the URL, the CIDs and the
// SHA-256 the reader must see), then serves until its stdin closes.
//
//   deno run -A tests/_webrtc_peer_child.ts <strategy>

import { createHash } from "node:crypto";
import { run } from "../runtime/run.ts";
import type { StrategyName } from "../runtime/strategy.ts";
import { serveSignaling, StreamingManager } from "../webrtc/mod.ts";
import { randomBytes } from "./_bytes.ts";
import { withNode } from "./_node.ts";

const [strategy] = Deno.args as [StrategyName];
const RANGE = { offset: 10 * 262_144 - 1, length: 262_146 };

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

await run(async () => {
  await withNode(async (node) => {
    const data = randomBytes(64 * 1024 * 1024);
    const { cid } = await node.add(data);
    const added = await node.addAll([
      { path: "album/a/b/photo.jpg", content: data.subarray(0, 300_000) },
      { path: "album/notes.txt", content: "two processes" },
    ]);
    await using manager = new StreamingManager(node, { bindAddress: "127.0.0.1" });
    await using server = serveSignaling(manager);
    const line = JSON.stringify({
      url: server.url,
      cid: cid.toString(),
      dir: added.at(-1)!.cid.toString(),
      sha256: sha256(data),
      range: RANGE,
      rangeSha256: sha256(data.subarray(RANGE.offset, RANGE.offset + RANGE.length)),
      photoSha256: sha256(data.subarray(0, 300_000)),
    });
    await Deno.stdout.write(new TextEncoder().encode(line + "\n"));
    for await (const _ of Deno.stdin.readable) {
      // Serve until the test closes stdin.
    }
  });
}, { strategy });
