/**
 * The seam between the embedded node and a network: what an
 * {@linkcode EmbeddedNode} may be given at open time to become a peer.
 *
 * `ipfs/` knows nothing of libp2p: it declares {@linkcode NodeNetwork} (fetch
 * a block that is not local, provide a CID, the listen addresses, and the
 * `swarm`, `routing`, `pubsub` and `name` APIs) and
 * {@linkcode NodeNetworkFactory}, which the node calls with its identity and
 * its own blocks (to serve to peers). `net/` implements it with libp2p
 * (`libp2pNetwork` of `@ipfs-kit/kit/net`). Without a network, nothing
 * changes: the node is offline.
 *
 * Every fetched block is verified against its CID before it is stored: by
 * the node, unless the network says it hashed the bytes itself
 * ({@linkcode FetchedBlock.verified}; bitswap does, to match a block to its
 * want), so a block is never hashed twice. A block that does not match is refused and reported back with
 * {@linkcode NodeNetwork.refuseBlock}, so the network can count it and score
 * its sender down.
 *
 * @module
 */

import type {
  CID,
  NameApi,
  PubsubApi,
  RoutingApi,
  SignalOptions,
  SwarmApi,
} from "./content_store.ts";

/** The node's identity, as a network needs it to run a peer. */
export interface NodeIdentity {
  /** The peer ID, base58btc (`12D3KooW...`). */
  id: string;
  /** The libp2p protobuf `PublicKey`. */
  publicKey: Uint8Array;
  /**
   * The libp2p protobuf `PrivateKey` (Ed25519: the 32-byte seed then the
   * 32-byte public key), as in the repository's `keys/self.json`. It signs
   * the transport handshake and IPNS records.
   */
  privateKey: Uint8Array;
}

/** The node's own blocks, read-only, for a network to serve to peers. */
export interface NodeBlocks {
  /**
   * Reads a local block (never from the network).
   *
   * @throws {NotFoundError} The block is not in the repository.
   */
  get(cid: CID, options?: SignalOptions): Promise<Uint8Array>;
  /** Whether a block is in the repository (never asks the network). */
  has(cid: CID, options?: SignalOptions): Promise<boolean>;
}

/** What a {@linkcode NodeNetworkFactory} is given. */
export interface NodeNetworkContext {
  /** The node's persistent identity. */
  identity: NodeIdentity;
  /** The node's own blocks, to serve. */
  blocks: NodeBlocks;
  /** Aborted when the node closes (or its open fails). */
  signal: AbortSignal;
}

/** A block a network fetched, not yet verified. */
export interface FetchedBlock {
  /** The bytes received. */
  bytes: Uint8Array;
  /** The peer ID of the sender, when known. */
  from?: string;
  /**
   * The network hashed the bytes and they match the CID's multihash (the
   * node does not hash them again). Unset: the node verifies them.
   */
  verified?: boolean;
}

/** Counters of a network's block exchange. */
export interface NodeNetworkStats {
  /** Blocks fetched from peers. */
  blocksFetched: number;
  /** Bytes of the blocks fetched from peers. */
  bytesFetched: number;
  /** Blocks refused because they did not match their CIDs. */
  blocksRefused: number;
  /** Blocks read from the repository to send to peers that wanted them. */
  blocksServed: number;
  /** Bytes of the blocks served. */
  bytesServed: number;
  /**
   * CIDs the node added or pinned whose provider record reached at least one
   * peer (a provide that reached none is tried again when a peer joins).
   */
  provided: number;
}

/** A running network, given to an {@linkcode EmbeddedNode} at open time. */
export interface NodeNetwork {
  /** Connections. */
  readonly swarm: SwarmApi;
  /** Content and peer routing (the DHT). */
  readonly routing: RoutingApi;
  /** Publish/subscribe. */
  readonly pubsub: PubsubApi;
  /** IPNS, records signed with the node's key. */
  readonly name: NameApi;
  /**
   * Fetches a block the node does not hold from connected peers and
   * providers. Rejects with the signal's reason when it aborts, and with a
   * `NotFoundError` when no peer sent it in the network's own time limit.
   */
  fetchBlock(cid: CID, options?: SignalOptions): Promise<FetchedBlock>;
  /** Reports a fetched block that did not match its CID: counted, its sender scored down. */
  refuseBlock(cid: CID, from: string | undefined): void;
  /** Announces that the node provides `cid` (in the background: never fails the caller). */
  provide(cid: CID): void;
  /** The listen addresses, each with `/p2p/<id>`. */
  addresses(): string[];
  /** The protocols the node speaks. */
  protocols(): string[];
  /** Counters of the block exchange. */
  stats(): NodeNetworkStats;
  /** Stops the network: every connection, listener and task it started. */
  close(): Promise<void>;
}

/**
 * Starts a network for a node; {@linkcode EmbeddedNodeOptions.network} takes
 * one. `libp2pNetwork(options)` of `@ipfs-kit/kit/net` makes one.
 */
export type NodeNetworkFactory = (context: NodeNetworkContext) => Promise<NodeNetwork>;
