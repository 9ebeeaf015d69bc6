/**
 * The network's part of the daemon's `/metrics`. Every label value comes
 * from a fixed set.
 *
 * @module
 */

import type { NodeNetworkStats } from "../ipfs/node_network.ts";

/** The network's figures for `/metrics`. */
export interface NetworkFigures {
  /** Peers connected at the last look. */
  peers: number;
  /** The block exchange's counters (fetched, served, refused). */
  stats: NodeNetworkStats;
}

/** The network's part of `/metrics`, in the Prometheus text format. */
export function networkText(figures: NetworkFigures): string {
  const { peers, stats } = figures;
  return [
    "# HELP ipfs_kit_network_peers Peers the node is connected to.",
    "# TYPE ipfs_kit_network_peers gauge",
    `ipfs_kit_network_peers ${peers}`,
    "# HELP ipfs_kit_bitswap_blocks_total Blocks fetched from peers and served to peers over bitswap.",
    "# TYPE ipfs_kit_bitswap_blocks_total counter",
    `ipfs_kit_bitswap_blocks_total{direction="fetched"} ${stats.blocksFetched}`,
    `ipfs_kit_bitswap_blocks_total{direction="served"} ${stats.blocksServed}`,
    "# HELP ipfs_kit_bitswap_bytes_total Bytes of the blocks fetched from and served to peers.",
    "# TYPE ipfs_kit_bitswap_bytes_total counter",
    `ipfs_kit_bitswap_bytes_total{direction="fetched"} ${stats.bytesFetched}`,
    `ipfs_kit_bitswap_bytes_total{direction="served"} ${stats.bytesServed}`,
    "# HELP ipfs_kit_bitswap_blocks_refused_total Blocks from peers refused: they did not match their CIDs.",
    "# TYPE ipfs_kit_bitswap_blocks_refused_total counter",
    `ipfs_kit_bitswap_blocks_refused_total ${stats.blocksRefused}`,
    "",
  ].join("\n");
}
