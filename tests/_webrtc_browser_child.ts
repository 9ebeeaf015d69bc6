// The browser test's child, run inside a network namespace of its own
// (tests/_browser.ts): an embedded node serves a file and a directory over
// WebRTC (an honest manager, and one whose store lies), a page loads the
// bundled receiver, and headless Chromium reads through it. Prints one JSON
// line: what the browser saw (SHA-256 of the bytes it was handed) and what
// the node holds, for the test to compare.
//
//   deno run -A tests/_webrtc_browser_child.ts <strategy> <receiver.js> [MiB]
//
// The file is 8 MiB unless told otherwise; `bench/README.md`'s Deno to
// Chromium figure is this child's `mbPerSecond` with 64.

import { createHash } from "node:crypto";
import { chromium } from "npm:playwright-core@1.65.2";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { serve } from "../http/server.ts";
import { run } from "../runtime/run.ts";
import type { StrategyName } from "../runtime/strategy.ts";
import { createSignalingHandler, StreamingManager } from "../webrtc/mod.ts";
import { seededBytes } from "./_bytes.ts";
import { CHROMIUM_FLAGS, chromiumPath } from "./_browser.ts";
import { withNode } from "./_node.ts";
import { lyingStore } from "./_webrtc.ts";

const [strategy, bundlePath, mib = "8"] = Deno.args as [StrategyName, string, string?];
const LEAF = 256 * 1024;
const FILE_BYTES = Number(mib) * 1024 * 1024 + 12_345;
const RANGE = { offset: 3 * LEAF - 100, length: 2 * LEAF + 200 };

const PAGE = `<!doctype html><meta charset="utf-8"><title>ipfs-kit receiver</title>
<script type="module">
import { connectBrowserReceiver } from "/receiver.js";
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
async function read(stream) {
  const chunks = [];
  let length = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
  }
  const all = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) { all.set(chunk, at); at += chunk.length; }
  return all;
}
window.runChecks = async ({ cid, dir, range, lyingCid }) => {
  const url = "ws://" + location.host;
  const connect = (path) => connectBrowserReceiver(url + path, { timeoutMs: 20000 }).catch((error) => {
    throw new Error(path + ": " + error.message);
  });
  const receiver = await connect("/webrtc/signaling");
  const started = performance.now();
  const whole = await read(receiver.open(cid));
  const seconds = (performance.now() - started) / 1000;
  const part = await read(receiver.open(cid, range));
  const text = new TextDecoder().decode(await read(receiver.open(dir, { path: "docs/readme.txt" })));
  const stats = receiver.stats();
  receiver.close();
  const liar = await connect("/lying/signaling");
  let lie;
  let handedOut = 0;
  try {
    const reader = liar.open(lyingCid).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      handedOut += value.length;
    }
    lie = { error: null };
  } catch (error) {
    lie = { error: error.name, reason: error.reason, cid: error.cid };
  }
  lie.handedOut = handedOut;
  liar.close();
  return {
    whole: { length: whole.length, sha256: hex(await crypto.subtle.digest("SHA-256", whole)) },
    range: { length: part.length, sha256: hex(await crypto.subtle.digest("SHA-256", part)) },
    text,
    stats,
    mbPerSecond: whole.length / 1e6 / seconds,
    lie,
  };
};
window.ready = true;
</script>`;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

await run(async () => {
  await withNode(async (node) => {
    const data = seededBytes(FILE_BYTES, 7);
    const { cid } = await node.add(data, { cidVersion: 1 });
    const added = await node.addAll([{
      path: "site/docs/readme.txt",
      content: "read me, verified",
    }]);
    const dir = added.at(-1)!.cid;
    // The fifth leaf comes with a flipped bit (past 174 leaves, below the first inner node).
    let links = ((await node.dag.get(cid)).value as { Links: { Hash: CID }[] }).Links;
    while (links[0].Hash.code !== 0x55) {
      links = ((await node.dag.get(links[0].Hash)).value as { Links: { Hash: CID }[] }).Links;
    }
    const damaged = links[4].Hash;
    const bundle = await Deno.readFile(bundlePath);
    // Every interface (no bindAddress): Chromium is on the namespace's veth addresses.
    // The honest server makes the offer (the default); with the liar, the browser offers.
    await using honest = new StreamingManager(node);
    await using liar = new StreamingManager(
      lyingStore(node, (cid, bytes) => {
        if (!cid.equals(damaged)) return bytes;
        const copy = bytes.slice();
        copy[77] ^= 0x04;
        return copy;
      }),
      { offerer: "client" },
    );
    await using honestRoute = createSignalingHandler(honest);
    await using lyingRoute = createSignalingHandler(liar, { path: "/lying/signaling" });
    await using server = serve((request, info) => {
      const path = new URL(request.url).pathname;
      if (path === "/webrtc/signaling") return honestRoute(request, info);
      if (path === "/lying/signaling") return lyingRoute(request, info);
      if (path === "/receiver.js") {
        return new Response(bundle, { headers: { "content-type": "text/javascript" } });
      }
      return new Response(PAGE, { headers: { "content-type": "text/html" } });
    });
    const browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: [...CHROMIUM_FLAGS],
    });
    try {
      const page = await browser.newPage();
      const console: string[] = [];
      page.on("console", (message) => console.push(message.text()));
      page.on("pageerror", (error) => console.push(`page error: ${error.message}`));
      await page.goto(`${server.url}/`);
      await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
      const seen = await page.evaluate(
        (params) =>
          (globalThis as unknown as { runChecks(p: unknown): Promise<unknown> }).runChecks(params),
        { cid: cid.toString(), dir: dir.toString(), range: RANGE, lyingCid: cid.toString() },
      );
      const expected = {
        whole: { length: data.length, sha256: sha256(data) },
        range: {
          length: RANGE.length,
          sha256: sha256(data.subarray(RANGE.offset, RANGE.offset + RANGE.length)),
        },
        text: "read me, verified",
        damagedCid: damaged.toString(),
        beforeDamage: 4 * LEAF,
      };
      Deno.stdout.writeSync(
        new TextEncoder().encode(JSON.stringify({ seen, expected, console }) + "\n"),
      );
    } finally {
      await browser.close();
    }
  });
}, { strategy });
// Everything is closed and joined; but node-datachannel may hold a callback
// of a peer connection whose browser went away for some 15 s more (until
// libdatachannel reports it closed), and that alone keeps a process alive.
Deno.exit(0);
