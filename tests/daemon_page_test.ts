/// <reference lib="dom" />
/**
 * The daemon's web page in a real browser (headless Chromium through
 * `playwright-core`, see `_browser.ts`): a file dropped on the page is
 * added (its CID shown), opened through the gateway, and its pin goes by on
 * the WAL feed; a file chosen with the keyboard alone; the browse panel;
 * the recent list; the Peers panel hidden without a network and shown with
 * one; the token asked for when the daemon has one. A screenshot is kept
 * in `test-artifacts/daemon-page.png`.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { FileChooser, Page } from "npm:playwright-core@1.65.2";
import { Daemon, type DaemonOptions } from "../kit/daemon.ts";
import { ARTIFACTS, launchChromium, requireChromium } from "./_browser.ts";
import { withTempDir } from "./_files.ts";
import { DISCOVERY_PATH, discoveryExtension } from "../kit/discovery_extension.ts";
import { eventually } from "./_async.ts";
import { LOOPBACK } from "./_net.ts";

const chromium = await requireChromium();
const TOKEN = "page-token-0123456789abcdef";
const free = { port: 0, gatewayPort: 0 } as const;

async function withDaemon(
  options: DaemonOptions,
  fn: (daemon: Daemon) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    await using daemon = await Daemon.start({ repo: dir, ...free, ...options });
    await fn(daemon);
  });
}

/** Drops a text file named `name` on the page's drop zone, as a user's drag and drop does. */
async function dropFile(page: Page, name: string, text: string): Promise<void> {
  const transfer = await page.evaluateHandle(([name, text]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], name, { type: "text/plain" }));
    return transfer;
  }, [name, text]);
  await page.dispatchEvent("#drop-zone", "dragover", { dataTransfer: transfer });
  await page.dispatchEvent("#drop-zone", "drop", { dataTransfer: transfer });
}

Deno.test({
  name:
    "daemon page: add by drag and drop, see the CID, open it through the gateway, watch its pin on the WAL feed",
  ignore: chromium.ignore,
  async fn() {
    const browser = await launchChromium(chromium.url);
    try {
      await withDaemon({}, async (daemon) => {
        const page = await browser.newPage();
        // Listened for from the start: Chromium's file chooser is intercepted once this is on.
        const chooser = Promise.withResolvers<FileChooser>();
        page.on("filechooser", (opened) => chooser.resolve(opened));
        const errors: string[] = [];
        page.on("pageerror", (error) => errors.push(error.message));
        page.on("console", (message) => {
          if (message.type() === "error") errors.push(message.text());
        });
        await page.goto(`${daemon.apiUrl}/`);
        await page.waitForSelector("#panels:not([hidden])");
        assert.match(
          await page.textContent("#status") ?? "",
          new RegExp(daemon.peerId.slice(0, 16)),
        );
        await page.waitForSelector("#wal-status:text('Live')");
        // No network on the embedded node yet: its panel stays hidden.
        assert.equal(await page.isHidden("#peers"), true);

        // 1. Drag and drop a file of 1.5 MiB: it is added, with a progress bar, and its CID shown.
        const text = Array.from({ length: 60_000 }, (_, i) => `line ${i} of the dropped file\n`)
          .join("").slice(0, 1_572_864);
        await dropFile(page, "dropped.txt", text);
        const item = await page.waitForSelector("#add-results li.added");
        const cid = await item.getAttribute("data-cid");
        assert.ok(cid !== null);
        const expected = (await daemon.kit.store.add(text, { pin: false })).cid.toString();
        assert.equal(cid, expected);
        assert.match(await item.textContent() ?? "", new RegExp(`dropped\\.txt .*${cid}`));
        assert.match(await page.textContent("#add-status") ?? "", /Added 1 file/);

        // 2. Its pin, an operation of the WAL, goes by on the live feed until it completes.
        await page.waitForSelector(
          `#wal-list li[data-cid="${cid}"][data-state="completed"]`,
          { timeout: 15_000 },
        );
        const pins = await daemon.kit.pin.ls({ type: "recursive" });
        assert.ok(pins.some((pin) => pin.cid.toString() === cid), "pinned by the WAL");

        // 3. Opened through the gateway: a new tab with the file's bytes.
        const [tab] = await Promise.all([
          page.waitForEvent("popup"),
          page.click("#add-results a.gateway-link"),
        ]);
        await tab.waitForLoadState();
        assert.equal(tab.url(), `${daemon.gatewayUrl}/ipfs/${cid}`);
        const shown = await tab.evaluate(() => document.body.innerText);
        assert.ok(shown.startsWith("line 0 of the dropped file\nline 1 of"), shown.slice(0, 80));
        await tab.close();

        // 4. The recent list shows the add and the pin.
        await page.waitForSelector(`#recent-list li[data-kind="add"] >> text=${cid}`);
        await page.waitForSelector(`#recent-list li[data-kind="pin"] >> text=${cid}`);

        // 5. By keyboard alone: Tab to the drop zone, Enter opens the file chooser.
        await page.focus("#status");
        let focused = "";
        for (let i = 0; i < 10 && focused !== "drop-zone"; i++) {
          await page.keyboard.press("Tab");
          focused = await page.evaluate(() => document.activeElement?.id ?? "");
        }
        assert.equal(focused, "drop-zone");
        await page.keyboard.press("Enter");
        await (await chooser.promise).setFiles({
          name: "typed.txt",
          mimeType: "text/plain",
          buffer: Buffer.from("chosen with the keyboard\n"),
        });
        await page.waitForSelector("#add-results li.added >> text=typed.txt");

        // 6. Browse the first CID: its type, size and a preview through the gateway.
        await page.fill("#browse-path", cid);
        await page.press("#browse-path", "Enter");
        const preview = await page.waitForSelector("#browse-result pre.preview");
        assert.match(await preview.textContent() ?? "", /^line 0 of the dropped file/);
        assert.match(await page.textContent("#browse-result") ?? "", /file of 1\.5 MiB/);

        await Deno.mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: `${ARTIFACTS}daemon-page.png`, fullPage: true });
        assert.deepEqual(errors, []);
        await page.close();
      });
    } finally {
      await browser.close();
    }
  },
});

Deno.test({
  name:
    "daemon page: the Peers panel shows a networked node's peers; a token is asked for when the daemon has one",
  ignore: chromium.ignore,
  async fn() {
    const browser = await launchChromium(chromium.url);
    try {
      // A real networked daemon (B) that discovered another (A) through A's route and connected.
      await withDaemon({
        kit: { network: LOOPBACK },
        extensions: [discoveryExtension({ role: "master" })],
      }, async (a) => {
        await withDaemon({
          kit: { network: LOOPBACK },
          extensions: [discoveryExtension({
            server: false,
            connect: { url: `${a.apiUrl.replace(/^http/, "ws")}${DISCOVERY_PATH}` },
          })],
        }, async (b) => {
          await eventually(
            async () => (await b.kit.swarm.peers()).some((peer) => peer.peer === a.peerId),
            "B connected to A",
            { limitMs: 30_000, stepMs: 100 },
          );
          const page = await browser.newPage();
          await page.goto(`${b.apiUrl}/`);
          await page.waitForSelector("#peers:not([hidden])");
          await page.waitForSelector(`#swarm-addresses:has-text('${b.swarmAddresses[0]}')`);
          await page.waitForSelector("#peers-status:text('1 connected')");
          const listed = await page.$$eval(
            "#peers-list li",
            (items) => items.map((li) => li.textContent ?? ""),
          );
          assert.equal(listed.length, 1);
          assert.match(listed[0], new RegExp(`^${a.peerId} /ip4/127\\.0\\.0\\.1/tcp/\\d+`));
          await page.waitForSelector("#discovered:not([hidden])");
          await page.waitForSelector("#discovered-status:text('1 discovered')");
          const discovered = await page.$$eval(
            "#discovered-list li",
            (items) => items.map((li) => li.textContent ?? ""),
          );
          assert.equal(discovered.length, 1);
          assert.match(
            discovered[0],
            new RegExp(`^${a.peerId} master, 100% of \\d+ dials?, connected$`),
          );
          await page.screenshot({ path: `${ARTIFACTS}daemon-page-peers.png`, fullPage: true });
          await page.close();
        });
      });
      await withDaemon({ token: TOKEN }, async (daemon) => {
        const page = await browser.newPage();
        await page.goto(`${daemon.apiUrl}/`);
        // The page itself loads without the token, then asks for it.
        await page.waitForSelector("#token-form:not([hidden])");
        assert.equal(await page.isHidden("#panels"), true);
        await page.fill("#token-input", TOKEN);
        await page.press("#token-input", "Enter");
        await page.waitForSelector("#panels:not([hidden])");
        await page.waitForSelector("#wal-status:text('Live')");
        // Or given in the URL's fragment, which no server sees.
        const other = await browser.newPage();
        await other.goto(`${daemon.apiUrl}/#token=${TOKEN}`);
        await other.waitForSelector("#panels:not([hidden])");
        assert.equal(new URL(other.url()).hash, "");
        await other.close();
        await page.close();
      });
    } finally {
      await browser.close();
    }
  },
});
