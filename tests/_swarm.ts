/**
 * A stand-in for a networked node in tests: a kit layer whose swarm has two
 * peers (the embedded node has no network yet), so that what the daemon
 * and its page do for a networked node can be seen.
 *
 * @module
 */

import type { ContentStore, SwarmApi, SwarmPeer } from "../ipfs/content_store.ts";
import { ForwardingStore } from "../ipfs/forwarding_store.ts";

/** The two peers {@linkcode TwoPeers} is connected to. */
export const PEERS: readonly SwarmPeer[] = [
  { peer: "12D3KooWPeerOne", addr: "/ip4/10.0.0.1/tcp/4001" },
  { peer: "12D3KooWPeerTwo", addr: "/ip4/10.0.0.2/tcp/4001" },
];

/** A layer whose `swarm.peers` answers {@linkcode PEERS}; the rest is the store below. */
export class TwoPeers extends ForwardingStore {
  override readonly swarm: SwarmApi;

  constructor(below: ContentStore) {
    super(below);
    this.swarm = { ...below.swarm, peers: () => Promise.resolve([...PEERS]) };
  }
}
