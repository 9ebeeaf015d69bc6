// The daemon page's WebRTC test child, run inside a network namespace of its
// own (tests/_browser.ts; Chromium gathers no ICE candidates on loopback
// alone): a daemon with a token and its WebRTC extension (every interface:
// Chromium is on the namespace's veth addresses), headless Chromium on its
// page (the token given in the URL's fragment). A file is
// added through the page, then streamed over WebRTC in the page's panel,
// typed with the keyboard; the panel's figures, its SHA-256 and the bytes
// of its download link are printed as one JSON line for the test to compare
// with the file. Keeps a screenshot in test-artifacts/daemon-page-webrtc.png.
//
//   deno run -A tests/_webrtc_daemon_page_child.ts

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { chromium } from "npm:playwright-core@1.65.2";
import { Daemon } from "../kit/daemon.ts";
import { webrtcExtension } from "../kit/webrtc_extension.ts";
import { ARTIFACTS, CHROMIUM_FLAGS, chromiumPath } from "./_browser.ts";
import { withTempDir } from "./_files.ts";

/** 1.1 MiB of text: five leaves of the default chunker and a root, and a text preview. */
const TEXT = Array.from({ length: 60_000 }, (_, i) => `streamed line ${i}\n`).join("");

const TOKEN = "page-webrtc-token-0123456789";

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

await withTempDir(async (repo) => {
  await using daemon = await Daemon.start({
    repo,
    port: 0,
    gatewayPort: 0,
    // With a token: the page passes it to the signaling route as a browser can (`?token=`).
    token: TOKEN,
    extensions: [webrtcExtension()],
  });
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: [...CHROMIUM_FLAGS],
  });
  try {
    const page = await browser.newPage({ acceptDownloads: true });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(`${daemon.apiUrl}/#token=${TOKEN}`);
    await page.waitForSelector("#webrtc:not([hidden])");

    // Added through the page (its file chooser's input).
    await page.setInputFiles("#file-input", {
      name: "streamed.txt",
      mimeType: "text/plain",
      buffer: Buffer.from(TEXT),
    });
    const item = await page.waitForSelector("#add-results li.added");
    const cid = await item.getAttribute("data-cid") ?? "";
    // The recent adds are offered as choices once the page refreshed them.
    await page.waitForSelector(`#webrtc-recent option[value="${cid}"]`, { state: "attached" });

    // By keyboard: focus the field, type the CID, Enter.
    await page.focus("#webrtc-cid");
    await page.keyboard.type(cid);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#webrtc-status .verified", { timeout: 60_000 });
    await page.waitForSelector("#webrtc-result a.download");
    const figure = async (name: string) =>
      await page.textContent(`#webrtc-stats dd[data-figure="${name}"]`) ?? "";
    const shown = {
      status: await page.textContent("#webrtc-status") ?? "",
      sha256: await page.getAttribute("#webrtc-result", "data-sha256") ?? "",
      verified: await figure("verified"),
      refused: await figure("refused"),
      throughput: await figure("throughput"),
      preview: (await page.textContent("#webrtc-result pre.preview") ?? "").slice(0, 40),
    };
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click("#webrtc-result a.download"),
    ]);
    const saved = await Deno.readFile(await download.path());
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}daemon-page-webrtc.png`, fullPage: true });
    const metrics = daemon.metrics();
    const expected = new TextEncoder().encode(TEXT);
    Deno.stdout.writeSync(
      new TextEncoder().encode(
        JSON.stringify({
          cid,
          expectedCid: (await daemon.kit.store.add(TEXT, { pin: false })).cid.toString(),
          shown,
          download: { name: download.suggestedFilename(), sha256: sha256(saved) },
          expected: { sha256: sha256(expected), length: expected.length },
          metrics: metrics.split("\n").filter((line) => line.startsWith("ipfs_kit_webrtc_")),
          errors,
        }) + "\n",
      ),
    );
    await page.close();
  } finally {
    await browser.close();
  }
});
// Everything is closed; node-datachannel may still hold a callback of the
// browser's peer connection for some 15 s (see _webrtc_browser_child.ts).
Deno.exit(0);
