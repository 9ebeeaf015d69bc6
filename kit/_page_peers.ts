/// <reference lib="dom" />
/**
 * The page's Peers panel (feature `network`: shown only when the daemon's
 * node answers `swarm.peers`): where the node listens, the peers it is
 * connected to (Kubo's `swarm/peers` command, one line per peer), and,
 * with the `discovery` feature, the peers discovery found
 * (`/api/v0/discovery/peers`) with each one's role and connection success
 * rate. Refreshed on demand.
 *
 * @module
 */

import { type PageContext, UnauthorizedError } from "./_page_client.ts";
import { byId, el, messageOf, show } from "./_page_dom.ts";

interface SwarmPeers {
  Peers: { Peer: string; Addr: string; Latency?: string; Direction?: number }[] | null;
}

interface DiscoveredPeers {
  server: boolean;
  peers: {
    peerId: string;
    role: string;
    via: "local" | "remote";
    successRate: number | null;
    attempts: number;
    connected: boolean;
  }[];
}

/** The most peers a list shows. */
const SHOWN = 200;

/** Wires the Peers panel's connected peers. */
export function mountPeers(context: PageContext): void {
  const status = byId("peers-status");
  const list = byId("peers-list");
  const swarm = context.info.swarm ?? [];
  show(
    byId("swarm-addresses"),
    swarm.length === 0 ? "This node listens nowhere" : "This node listens on ",
    ...swarm.slice(0, 16).flatMap((addr, i) => [i === 0 ? "" : ", ", el("code", {}, addr)]),
  );
  const refresh = async () => {
    try {
      const { Peers } = await context.client.rpc<SwarmPeers>("swarm/peers");
      // One line per peer (a peer may have more than one connection).
      const peers = new Map<string, string>();
      for (const peer of Peers ?? []) if (!peers.has(peer.Peer)) peers.set(peer.Peer, peer.Addr);
      show(status, `${peers.size} connected`);
      show(
        list,
        ...[...peers].slice(0, SHOWN).map(([peer, addr]) =>
          el("li", {}, el("code", { class: "cid" }, peer), " ", el("code", {}, addr))
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

/** Wires the Peers panel's discovered peers. */
export function mountDiscovered(context: PageContext): void {
  const status = byId("discovered-status");
  const list = byId("discovered-list");
  const refresh = async () => {
    try {
      const { peers } = await context.client.json<DiscoveredPeers>("/api/v0/discovery/peers");
      show(status, `${peers.length} discovered`);
      show(
        list,
        ...peers.slice(0, SHOWN).map((peer) =>
          el(
            "li",
            {},
            el("code", { class: "cid" }, peer.peerId),
            ` ${peer.role}, ${
              peer.successRate === null
                ? "not dialed yet"
                : `${Math.round(peer.successRate * 100)}% of ${peer.attempts} dial${
                  peer.attempts === 1 ? "" : "s"
                }`
            }${peer.connected ? ", connected" : ""}`,
          )
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
