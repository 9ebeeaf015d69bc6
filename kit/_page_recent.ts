/// <reference lib="dom" />
/**
 * The page's Recent panel: the daemon's latest adds and pin changes
 * (`/daemon/recent`: through the RPC API, the WAL, this page), newest first,
 * refreshed after every change the page makes and on demand.
 *
 * @module
 */

import { type PageContext, UnauthorizedError } from "./_page_client.ts";
import { byId, el, formatBytes, messageOf, show } from "./_page_dom.ts";

interface RecentEntry {
  kind: "add" | "pin" | "unpin";
  cid: string;
  name: string;
  size?: number;
  pinned?: boolean;
  at: number;
}

/** Wires the Recent panel. */
export function mountRecent(context: PageContext): void {
  const list = byId("recent-list");
  const refresh = async () => {
    try {
      const { entries } = await context.client.json<{ entries: RecentEntry[] }>("/daemon/recent");
      show(list, ...entries.slice(0, 30).map((entry) => item(context, entry)));
      if (entries.length === 0) show(list, el("li", {}, "Nothing yet: add a file."));
    } catch (error) {
      if (error instanceof UnauthorizedError) context.unauthorized();
      show(list, el("li", { class: "error" }, messageOf(error)));
    }
  };
  byId("recent-refresh").addEventListener("click", () => void refresh());
  context.onChange(() => void refresh());
  void refresh();
}

function item(context: PageContext, entry: RecentEntry): HTMLElement {
  const when = new Date(entry.at).toLocaleTimeString();
  const what = entry.kind === "add"
    ? `added${entry.name === "" ? "" : ` ${entry.name}`}${
      entry.size === undefined ? "" : ` (${formatBytes(entry.size)})`
    }${entry.pinned === false ? ", not pinned" : ""}`
    : entry.kind === "pin"
    ? "pinned"
    : "unpinned";
  return el(
    "li",
    { "data-kind": entry.kind },
    `${when} ${what}: `,
    el("a", {
      href: `${context.info.gateway}/ipfs/${entry.cid}`,
      target: "_blank",
      rel: "noopener",
    }, el("code", { class: "cid" }, entry.cid)),
  );
}
