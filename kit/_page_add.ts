/// <reference lib="dom" />
/**
 * The page's Add panel: files dropped on the zone (or chosen with the
 * keyboard: Enter or Space on the zone opens the file chooser) are added
 * through the RPC API with a progress bar, then pinned by an operation
 * submitted to the WAL, which the daemon's processor applies (the WAL panel
 * shows it go by).
 *
 * @module
 */

import { type PageContext, UnauthorizedError } from "./_page_client.ts";
import { byId, el, formatBytes, messageOf, show } from "./_page_dom.ts";

/** Operations the page submitted: their id and what they pin, for the WAL panel. */
export const submitted: Map<string, { cid: string; name: string }> = new Map();

/** Wires the Add panel. */
export function mountAdd(context: PageContext): void {
  const zone = byId("drop-zone");
  const input = byId<HTMLInputElement>("file-input");
  const progress = byId<HTMLProgressElement>("add-progress");
  const status = byId("add-status");
  const results = byId("add-results");
  let busy = false;

  const add = async (files: File[]) => {
    if (files.length === 0 || busy) return;
    busy = true;
    zone.setAttribute("aria-disabled", "true");
    const total = files.reduce((sum, file) => sum + file.size, 0);
    progress.hidden = false;
    progress.value = 0;
    show(
      status,
      `Adding ${files.length} file${files.length === 1 ? "" : "s"} (${formatBytes(total)})...`,
    );
    try {
      const added = await context.client.upload(files, (sent, of) => {
        progress.value = of === 0 ? 1 : sent / of;
        show(status, `Adding... ${formatBytes(sent)} of ${formatBytes(of)}`);
      }, new AbortController().signal);
      progress.value = 1;
      for (const entry of added) {
        const operation = await context.client.submit("pin", { cid: entry.Hash });
        submitted.set(operation.id, { cid: entry.Hash, name: entry.Name });
        results.prepend(
          addedItem(context, entry.Name, entry.Hash, Number(entry.Size), operation.id),
        );
      }
      show(
        status,
        `Added ${added.length} file${added.length === 1 ? "" : "s"}; pins queued in the WAL`,
      );
      context.changed();
    } catch (error) {
      if (error instanceof UnauthorizedError) context.unauthorized();
      show(status, el("span", { class: "error" }, messageOf(error)));
    } finally {
      busy = false;
      zone.removeAttribute("aria-disabled");
      progress.hidden = true;
    }
  };

  zone.addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      input.click();
    }
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    void add([...(event.dataTransfer?.files ?? [])]);
  });
  input.addEventListener("change", () => {
    const files = [...(input.files ?? [])];
    input.value = "";
    void add(files);
  });
}

function addedItem(
  context: PageContext,
  name: string,
  cid: string,
  size: number,
  operation: string,
): HTMLElement {
  return el(
    "li",
    { class: "added", "data-cid": cid },
    el("strong", {}, name),
    ` (${formatBytes(size)}): `,
    el("code", { class: "cid" }, cid),
    " | ",
    el("a", {
      href: `${context.info.gateway}/ipfs/${cid}`,
      target: "_blank",
      rel: "noopener",
      class: "gateway-link",
    }, "open through the gateway"),
    " | pin: WAL operation ",
    el("code", {}, operation),
  );
}
