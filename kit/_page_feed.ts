/// <reference lib="dom" />
/**
 * The page's WAL panel: the daemon's write-ahead log live, over its
 * WebSocket feed (topic `operations`): every operation as it is submitted,
 * processed, retried, completed or failed; the latest 50, newest first,
 * after the 20 latest from before the page was opened. A closed feed says
 * so and offers to reconnect (a button, no timer).
 *
 * @module
 */

import { submitted } from "./_page_add.ts";
import type { PageContext } from "./_page_client.ts";
import { byId, el, messageOf, show } from "./_page_dom.ts";

interface Operation {
  id: string;
  type: string;
  state: string;
  attempts: number;
  lastError: string | null;
  result: unknown;
  updatedAt: number;
}

const KEEP = 50;

/** Wires the WAL panel. */
export function mountFeed(context: PageContext): void {
  const status = byId("wal-status");
  const list = byId("wal-list");
  const reconnect = byId<HTMLButtonElement>("wal-reconnect");
  const items = new Map<string, HTMLElement>();

  const render = (operation: Operation) => {
    const known = submitted.get(operation.id);
    const cid = known?.cid ?? cidOf(operation.result);
    const item = el(
      "li",
      { "data-operation": operation.id, "data-state": operation.state, "data-cid": cid },
      el("code", {}, operation.type),
      cid === undefined ? "" : " ",
      cid === undefined ? "" : el("code", { class: "cid" }, cid),
      known === undefined ? "" : ` (${known.name})`,
      " ",
      el("span", { class: `state state-${operation.state}` }, operation.state),
      operation.attempts > 1 ? ` after ${operation.attempts} attempts` : "",
      operation.lastError === null ? "" : el("span", { class: "error" }, ` ${operation.lastError}`),
    );
    const old = items.get(operation.id);
    if (old !== undefined) old.replaceWith(item);
    else list.prepend(item);
    items.set(operation.id, item);
    while (items.size > KEEP) {
      const [first] = items.keys();
      items.get(first)?.remove();
      items.delete(first);
    }
  };

  const connect = async () => {
    reconnect.hidden = true;
    show(status, "Connecting...");
    try {
      const { operations } = await context.client.json<{ operations: Operation[] }>(
        `${context.info.wal}/operations?order=desc&limit=20`,
      );
      for (const operation of operations.toReversed()) render(operation);
    } catch (error) {
      show(status, el("span", { class: "error" }, messageOf(error)));
    }
    const socket = new WebSocket(context.client.feedUrl(context.info.feed));
    socket.onopen = () => {
      socket.send(JSON.stringify({ op: "subscribe", id: 1, topic: "operations" }));
      show(status, "Live");
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as {
        type: string;
        data?: { operation?: Operation };
        message?: string;
      };
      if (message.type === "event" && message.data?.operation !== undefined) {
        render(message.data.operation);
        if (message.data.operation.state === "completed") context.changed();
      } else if (message.type === "error") {
        show(status, el("span", { class: "error" }, message.message ?? "feed error"));
      }
    };
    socket.onclose = (event) => {
      show(status, `Feed closed (${event.code}${event.reason === "" ? "" : `: ${event.reason}`})`);
      reconnect.hidden = false;
    };
  };

  reconnect.addEventListener("click", () => void connect());
  void connect();
}

/** The CID of a built-in operation's result (`{ cid: {"/": "..."} }`), if it has one. */
function cidOf(result: unknown): string | undefined {
  const cid = (result as { cid?: unknown } | null)?.cid;
  if (typeof cid === "string") return cid;
  const link = (cid as { "/"?: unknown } | undefined)?.["/"];
  return typeof link === "string" ? link : undefined;
}
