// The daemon's page streams over WebRTC in a real browser: a file added
// through the page is streamed from the daemon in the page's WebRTC panel
// (the CID typed with the keyboard; the daemon has a token, which the page
// hands the signaling route), every block verified, and what the
// panel offers (its SHA-256, its download) equals the file. Headless
// Chromium and the daemon run in a child inside a network namespace of its
// own (see tests/_browser.ts); the child keeps a screenshot in
// test-artifacts/daemon-page-webrtc.png. Skipped with a message where no
// Chromium or no namespace is to be had.

import assert from "node:assert/strict";
import { probeBrowserSandbox, runInNetworkNamespace } from "./_browser.ts";
import { requireTool } from "./_services.ts";

const browser = await requireTool("chromium", probeBrowserSandbox);
const child = new URL("./_webrtc_daemon_page_child.ts", import.meta.url).pathname;

Deno.test({
  name: "daemon page: a file added through the page streams over WebRTC, verified, bytes equal",
  ignore: browser.ignore,
  async fn() {
    const out = await runInNetworkNamespace(child, [], 180_000);
    const seen = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.deepEqual(seen.errors, []);
    assert.equal(seen.cid, seen.expectedCid);
    assert.match(seen.shown.status, /^Verified: 1\.\d MiB in 6 blocks, every block checked/);
    assert.equal(seen.shown.sha256, seen.expected.sha256);
    assert.equal(seen.download.sha256, seen.expected.sha256, "the downloaded bytes");
    assert.equal(seen.download.name, "streamed.txt", "named as it was added");
    assert.match(seen.shown.verified, /^6 \(/);
    assert.equal(seen.shown.refused, "0");
    assert.match(seen.shown.throughput, /\/s$/);
    assert.ok(seen.shown.preview.startsWith("streamed line 0\nstreamed line 1\n"));
    const sample = (name: string) => {
      const line = seen.metrics.find((line: string) => line.startsWith(`${name} `));
      assert.ok(line !== undefined, `${name} in /metrics`);
      return Number(line.slice(name.length + 1));
    };
    assert.equal(sample('ipfs_kit_webrtc_connections_total{outcome="opened"}'), 1);
    assert.equal(sample('ipfs_kit_webrtc_streams_total{outcome="opened"}'), 1);
    assert.ok(sample('ipfs_kit_webrtc_bytes_total{direction="sent"}') >= seen.expected.length);
    assert.equal(sample("ipfs_kit_webrtc_verification_failures_total"), 0);
  },
});
