/**
 * The daemon's side of the node's network: the factory it opens the kit
 * with (libp2p, with the blocks it serves to peers counted), and the
 * network's part of `/metrics`. Every label value comes from a fixed set.
 *
 * @module
 */

import type { NodeBlocks, NodeNetworkFactory, NodeNetworkStats } from "../ipfs/node_network.ts";
import type { Libp2pNetworkOptions } from "../net/libp2p_network.ts";

/** Blocks the node's network served to peers (read from the repository for them). */
export class ServedBlocks {
  /** Blocks read for peers. */
  blocks = 0;
  /** Their bytes. */
  bytes = 0;

  /**
   * The factory the daemon opens its kit with: `network` as `Kit.open`
   * takes it (libp2p's options, `true`, or a factory), its blocks counted
   * as they are served. libp2p is loaded only here, so an offline daemon
   * never loads it.
   *
   * @param network The kit's `network` option.
   * @returns The factory.
   */
  async factory(
    network: Libp2pNetworkOptions | true | NodeNetworkFactory,
  ): Promise<NodeNetworkFactory> {
    const inner = typeof network === "function"
      ? network
      : (await import("../net/libp2p_network.ts")).libp2pNetwork(network === true ? {} : network);
    return (context) => inner({ ...context, blocks: this.#counting(context.blocks) });
  }

  #counting(blocks: NodeBlocks): NodeBlocks {
    return {
      has: (cid, options) => blocks.has(cid, options),
      get: async (cid, options) => {
        const bytes = await blocks.get(cid, options);
        this.blocks++;
        this.bytes += bytes.length;
        return bytes;
      },
    };
  }
}

/** The network's figures for `/metrics`. */
export interface NetworkFigures {
  /** Peers connected at the last look. */
  peers: number;
  /** The block exchange's counters (fetched, refused). */
  stats: NodeNetworkStats;
  /** Blocks served to peers. */
  served: ServedBlocks;
}

/** The network's part of `/metrics`, in the Prometheus text format. */
export function networkText(figures: NetworkFigures): string {
  const { peers, stats, served } = figures;
  return [
    "# HELP ipfs_kit_network_peers Peers the node is connected to.",
    "# TYPE ipfs_kit_network_peers gauge",
    `ipfs_kit_network_peers ${peers}`,
    "# HELP ipfs_kit_bitswap_blocks_total Blocks fetched from peers and served to peers over bitswap.",
    "# TYPE ipfs_kit_bitswap_blocks_total counter",
    `ipfs_kit_bitswap_blocks_total{direction="fetched"} ${stats.blocksFetched}`,
    `ipfs_kit_bitswap_blocks_total{direction="served"} ${served.blocks}`,
    "# HELP ipfs_kit_bitswap_bytes_total Bytes of the blocks fetched from and served to peers.",
    "# TYPE ipfs_kit_bitswap_bytes_total counter",
    `ipfs_kit_bitswap_bytes_total{direction="fetched"} ${stats.bytesFetched}`,
    `ipfs_kit_bitswap_bytes_total{direction="served"} ${served.bytes}`,
    "# HELP ipfs_kit_bitswap_blocks_refused_total Blocks from peers refused: they did not match their CIDs.",
    "# TYPE ipfs_kit_bitswap_blocks_refused_total counter",
    `ipfs_kit_bitswap_blocks_refused_total ${stats.blocksRefused}`,
    "",
  ].join("\n");
}
