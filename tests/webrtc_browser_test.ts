// A real browser: headless Chromium (Debian's package, driven by
// playwright-core) loads a page with the bundled receiver, streams a file, a
// range and a directory's file from a Deno sender, verifies them and reports
// the bytes' SHA-256; and refuses a lying block. Everything runs inside a
// network namespace the test makes (Chromium gathers no ICE candidates on
// loopback alone); see tests/_browser.ts.

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { bundleBrowserReceiver, probeBrowserSandbox, runInNetworkNamespace } from "./_browser.ts";
import { withTempDir } from "./_files.ts";
import { requireTool } from "./_services.ts";

const browser = await requireTool("chromium", probeBrowserSandbox);
const child = new URL("./_webrtc_browser_child.ts", import.meta.url).pathname;

testEachStrategy(
  "Chromium streams from a Deno sender and verifies every block",
  async ({ strategy }) => {
    await withTempDir(async (dir) => {
      const bundle = await bundleBrowserReceiver(dir);
      const out = await runInNetworkNamespace(child, [strategy, bundle], 120_000);
      const { seen, expected, console: pageLog } = JSON.parse(out.trim().split("\n").at(-1)!);
      assert.deepEqual(seen.whole, expected.whole, pageLog.join("\n"));
      assert.deepEqual(seen.range, expected.range);
      assert.equal(seen.text, expected.text);
      assert.equal(seen.stats.blocksRefused, 0);
      assert(
        seen.stats.blocksVerified > 32,
        `the browser verified ${seen.stats.blocksVerified} blocks`,
      );
      assert.equal(seen.lie.error, "VerificationError");
      assert.equal(seen.lie.reason, "hash-mismatch");
      assert.equal(seen.lie.cid, expected.damagedCid);
      assert.equal(
        seen.lie.handedOut,
        expected.beforeDamage,
        "no byte of the lying block was handed out",
      );
      console.log(`Deno to Chromium [${strategy}]: ${seen.mbPerSecond.toFixed(1)} MB/s`);
    });
  },
  { ignore: browser.ignore },
);
