/// <reference lib="dom" />
/**
 * The page's Peers panel (feature `network`: shown only when the daemon's
 * node answers `swarm.peers`): the peers the node is connected to, through
 * Kubo's `swarm/peers` command, refreshed on demand.
 *
 * @module
 */

import { type PageContext, UnauthorizedError } from "./_page_client.ts";
import { byId, el, messageOf, show } from "./_page_dom.ts";

interface SwarmPeers {
  Peers: { Peer: string; Addr: string; Latency?: string; Direction?: number }[] | null;
}

/** Wires the Peers panel. */
export function mountPeers(context: PageContext): void {
  const status = byId("peers-status");
  const list = byId("peers-list");
  const refresh = async () => {
    try {
      const { Peers } = await context.client.rpc<SwarmPeers>("swarm/peers");
      const peers = Peers ?? [];
      show(status, `${peers.length} connected`);
      show(
        list,
        ...peers.slice(0, 200).map((peer) =>
          el("li", {}, el("code", { class: "cid" }, peer.Peer), " ", el("code", {}, peer.Addr))
        ),
      );
    } catch (error) {
      if (error instanceof UnauthorizedError) context.unauthorized();
      show(status, el("span", { class: "error" }, messageOf(error)));
    }
  };
  byId("peers-refresh").addEventListener("click", () => void refresh());
  void refresh();
}
