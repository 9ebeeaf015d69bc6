/// <reference lib="dom" />
/**
 * The page's WebRTC panel (shown when the daemon serves the `webrtc`
 * feature): a CID, or a path below one, typed or picked from the recent
 * adds, is streamed from the daemon over a WebRTC data channel by the kit's
 * browser receiver (`webrtc/browser_receiver.ts`), which checks every block
 * against its CID before it hands out a byte. The panel shows the progress,
 * the blocks verified and the throughput, then offers the bytes (a download
 * link, and a preview of text or an image) with their SHA-256; a file over
 * 512 MiB is streamed and verified but not kept. A stream can
 * be cancelled; everything works from the keyboard (the form, its buttons).
 *
 * @module
 */

import {
  type BrowserReceiver,
  type BrowserReceiverStats,
  connectBrowserReceiver,
  VerificationError,
} from "../webrtc/browser_receiver.ts";
import { type PageContext, UnauthorizedError } from "./_page_client.ts";
import { byId, el, formatBytes, messageOf, show } from "./_page_dom.ts";
import { SIGNALING_PATH } from "./_webrtc_paths.ts";

interface Stat {
  Hash: string;
  Size: number;
  Type: "file" | "directory" | "symlink";
}

const PREVIEW_BYTES = 4096;
/** The largest file the page keeps to offer (a larger one is streamed and verified, not kept). */
const KEEP_BYTES = 512 * 1024 * 1024;
const RECENT_CHOICES = 20;

/** Wires the WebRTC panel. */
export function mountWebRtc(context: PageContext): void {
  const form = byId<HTMLFormElement>("webrtc-form");
  const input = byId<HTMLInputElement>("webrtc-cid");
  const choices = byId<HTMLDataListElement>("webrtc-recent");
  const start = byId<HTMLButtonElement>("webrtc-start");
  const cancel = byId<HTMLButtonElement>("webrtc-cancel");
  const progress = byId<HTMLProgressElement>("webrtc-progress");
  const status = byId("webrtc-status");
  const figures = byId("webrtc-stats");
  const result = byId("webrtc-result");
  let running: AbortController | undefined;
  let objectUrl: string | undefined;
  /** The names the recent adds gave their CIDs, for the download's name. */
  const names = new Map<string, string>();

  const refreshChoices = async () => {
    try {
      const { entries } = await context.client.json<
        { entries: { kind: string; cid: string; name: string }[] }
      >(
        "/daemon/recent",
      );
      const seen = new Set<string>();
      const options = [];
      for (const entry of entries) {
        if (entry.kind !== "add" || seen.has(entry.cid)) continue;
        seen.add(entry.cid);
        if (entry.name !== "" && names.size < 1000) names.set(entry.cid, entry.name);
        options.push(
          el("option", { value: entry.cid }, entry.name === "" ? entry.cid : entry.name),
        );
        if (options.length === RECENT_CHOICES) break;
      }
      show(choices, ...options);
    } catch {
      // The Recent panel says why; the choices stay as they were.
    }
  };

  const stream = async (target: string) => {
    const clean = target.trim().replace(/^\/ipfs\//, "").replace(/\/+$/, "");
    if (clean === "" || running !== undefined) return;
    const [cid, ...below] = clean.split("/");
    const path = below.join("/");
    const controller = new AbortController();
    running = controller;
    start.disabled = true;
    cancel.hidden = false;
    progress.hidden = false;
    progress.value = 0;
    result.removeAttribute("data-sha256");
    show(result);
    show(figures);
    if (objectUrl !== undefined) URL.revokeObjectURL(objectUrl);
    objectUrl = undefined;
    show(status, "Looking up its size...");
    let receiver: BrowserReceiver | undefined;
    try {
      const stat = await context.client.rpc<Stat>("files/stat", { arg: `/ipfs/${clean}` });
      if (stat.Type !== "file") throw new Error(`Cannot stream a ${stat.Type}: give a file's path`);
      show(status, "Connecting over WebRTC...");
      receiver = await connectBrowserReceiver(context.client.feedUrl(SIGNALING_PATH), {
        timeoutMs: 20_000,
        signal: controller.signal,
      });
      const connected = receiver.stats();
      show(status, `Connected in ${Math.round(connected.connectMs ?? 0)} ms; streaming...`);
      const started = performance.now();
      const keep = stat.Size <= KEEP_BYTES;
      const chunks: Uint8Array<ArrayBuffer>[] = [];
      let received = 0;
      const reader = receiver.open(cid, {
        ...(path === "" ? {} : { path }),
        signal: controller.signal,
      }).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (keep) chunks.push(value as Uint8Array<ArrayBuffer>);
        received += value.length;
        progress.value = stat.Size === 0 ? 1 : received / stat.Size;
        renderFigures(figures, receiver.stats(), received, stat.Size, performance.now() - started);
      }
      const seconds = (performance.now() - started) / 1000;
      const stats = receiver.stats();
      renderFigures(figures, stats, received, stat.Size, seconds * 1000);
      progress.value = 1;
      show(
        status,
        el("span", { class: "verified" }, "Verified"),
        `: ${formatBytes(received)} in ${stats.blocksVerified} blocks, every block checked ` +
          `against its CID (${stats.blocksRefused} refused)`,
      );
      if (!keep) {
        show(result, `Not kept: over ${formatBytes(KEEP_BYTES)}; open it through the gateway.`);
        return;
      }
      const blob = new Blob(chunks);
      const digest = hex(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
      objectUrl = URL.createObjectURL(blob);
      const name = below.at(-1) ?? names.get(cid) ?? cid;
      result.dataset.sha256 = digest;
      show(
        result,
        el("p", {}, "SHA-256 ", el("code", { class: "sha256" }, digest)),
        el(
          "p",
          {},
          el("a", { href: objectUrl, download: name, class: "download" }, `Save ${name}`),
        ),
        await preview(blob, name, objectUrl),
      );
    } catch (error) {
      if (error instanceof UnauthorizedError) context.unauthorized();
      const message = controller.signal.aborted
        ? "Cancelled"
        : error instanceof VerificationError
        ? `Refused: ${error.message} (block ${error.cid}, ${error.reason}); no byte of it was kept`
        : messageOf(error);
      show(status, el("span", { class: "error" }, message));
      if (receiver !== undefined) {
        renderFigures(figures, receiver.stats(), Number.NaN, Number.NaN, Number.NaN);
      }
    } finally {
      receiver?.close();
      running = undefined;
      start.disabled = false;
      cancel.hidden = true;
      progress.hidden = true;
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void stream(input.value);
  });
  cancel.addEventListener(
    "click",
    () => running?.abort(new DOMException("cancelled", "AbortError")),
  );
  context.onChange(() => void refreshChoices());
  void refreshChoices();
}

/** The stream's figures: bytes, blocks verified and refused, throughput, connect time. */
function renderFigures(
  list: HTMLElement,
  stats: BrowserReceiverStats,
  received: number,
  size: number,
  elapsedMs: number,
): void {
  const rows: [string, string, string][] = [];
  if (Number.isFinite(received)) {
    rows.push(["received", "Received", `${formatBytes(received)} of ${formatBytes(size)}`]);
  }
  rows.push([
    "verified",
    "Blocks verified",
    `${stats.blocksVerified} (${formatBytes(stats.bytesVerified)})`,
  ]);
  rows.push(["refused", "Blocks refused", String(stats.blocksRefused)]);
  if (Number.isFinite(elapsedMs) && elapsedMs > 0) {
    rows.push(["throughput", "Throughput", `${formatBytes(received / (elapsedMs / 1000))}/s`]);
  }
  if (stats.timeToFirstByteMs !== null) {
    rows.push(["first-byte", "First byte after", `${Math.round(stats.timeToFirstByteMs)} ms`]);
  }
  show(
    list,
    ...rows.flatMap(([key, label, value]) => [
      el("dt", {}, label),
      el("dd", { "data-figure": key }, value),
    ]),
  );
}

/** A preview of the bytes: an image, or the first bytes of text. */
async function preview(blob: Blob, name: string, url: string): Promise<HTMLElement | string> {
  if (/\.(png|jpe?g|gif|webp|avif)$/i.test(name)) {
    return el("img", { src: url, alt: `preview of ${name}`, class: "preview" });
  }
  const head = new Uint8Array(await blob.slice(0, PREVIEW_BYTES).arrayBuffer());
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(0, textEnd(head)));
    return el("pre", { class: "preview" }, text);
  } catch {
    return "(binary: no preview)";
  }
}

/** Where the last whole UTF-8 character of `bytes` ends (a preview may cut one). */
function textEnd(bytes: Uint8Array): number {
  let end = bytes.length;
  for (let back = 1; back <= 3 && end - back >= 0; back++) {
    const byte = bytes[end - back];
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      if (back < length) end -= back;
    }
    break;
  }
  return end;
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
