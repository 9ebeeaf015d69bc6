/**
 * The embedded node's network on libp2p: TCP and WebSockets, noise, yamux
 * and mplex, identify, ping, bitswap (the kit's engine, `_bitswap_engine.ts`,
 * speaking the standard protocol) over the node's own blockstore, the
 * Kademlia DHT and gossipsub, on the repository's identity.
 *
 * @module
 */

import { noise } from "npm:@chainsafe/libp2p-noise@17.0.0";
import { yamux } from "npm:@chainsafe/libp2p-yamux@8.0.1";
import { privateKeyFromProtobuf } from "npm:@libp2p/crypto@5.1.23/keys";
import { identify } from "npm:@libp2p/identify@4.1.14";
import {
  kadDHT,
  removePrivateAddressesMapper,
  removePublicAddressesMapper,
} from "npm:@libp2p/kad-dht@16.4.5";
import { mplex } from "npm:@libp2p/mplex@12.0.32";
import { ping } from "npm:@libp2p/ping@3.1.13";
import { tcp } from "npm:@libp2p/tcp@11.0.28";
import { webSockets } from "npm:@libp2p/websockets@10.1.21";
import { ipnsSelector } from "npm:ipns@10.1.6/selector";
import { ipnsValidator } from "npm:ipns@10.1.6/validator";
import { createLibp2p } from "npm:libp2p@3.3.11";
import type { CID } from "npm:multiformats@14.0.5/cid";
import type { NameApi, RoutingApi, SwarmApi } from "../ipfs/content_store.ts";
import { InvalidInputError, NotFoundError } from "../ipfs/errors.ts";
import type {
  FetchedBlock,
  NodeNetwork,
  NodeNetworkContext,
  NodeNetworkFactory,
  NodeNetworkStats,
} from "../ipfs/node_network.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import { realClock } from "../runtime/clock.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import { BitswapEngine } from "./_bitswap_engine.ts";
import { trackBroadcastChannels } from "./_broadcast_channels.ts";
import { stoppableGossipsub } from "./_gossipsub.ts";
import { ProviderQueue } from "./_provider_queue.ts";
import {
  type KitLibp2p,
  type KitPubsubApi,
  nameApi,
  parseMultiaddr,
  provideCid,
  pubsubApi,
  routingApi,
  swarmApi,
} from "./_network_apis.ts";

/**
 * Kubo's default listen addresses (its `Addresses.Swarm`, TCP and
 * WebSockets parts): every interface, port 4001. Pass them as `listen` to
 * listen as Kubo does; the kit's default is loopback only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KUBO_LISTEN, libp2pNetwork } from "@ipfs-kit/kit/net";
 *
 * assert(KUBO_LISTEN.includes("/ip4/0.0.0.0/tcp/4001"));
 * assert.equal(typeof libp2pNetwork({ listen: KUBO_LISTEN }), "function");
 * ```
 */
export const KUBO_LISTEN: readonly string[] = Object.freeze([
  "/ip4/0.0.0.0/tcp/4001",
  "/ip6/::/tcp/4001",
  "/ip4/0.0.0.0/tcp/4002/ws",
]);

/**
 * Kubo's default bootstrap peers (`bootstrap: "default"`): the public IPFS
 * network's entry points.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KUBO_BOOTSTRAP } from "@ipfs-kit/kit/net";
 *
 * assert(KUBO_BOOTSTRAP.every((addr) => addr.includes("/p2p/")));
 * ```
 */
export const KUBO_BOOTSTRAP: readonly string[] = Object.freeze([
  "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
  "/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa",
  "/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb",
  "/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt",
  "/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
]);

/** Options for {@linkcode libp2pNetwork}. */
export interface Libp2pNetworkOptions {
  /**
   * Listen addresses. Default `["/ip4/127.0.0.1/tcp/0"]` (loopback, a free
   * port); {@linkcode KUBO_LISTEN} listens as Kubo does.
   */
  listen?: readonly string[];
  /**
   * Peers dialled at start: none by default; `"default"` is
   * {@linkcode KUBO_BOOTSTRAP}, Kubo's public list.
   */
  bootstrap?: readonly string[] | "default";
  /**
   * The DHT: `"lan"` (the `/ipfs/lan/kad/1.0.0` protocol, private addresses
   * only: what loopback and LAN tests use), `"wan"` (the public
   * `/ipfs/kad/1.0.0`, public addresses only), `"client"` (queries the
   * public DHT, serves none), or `false` (no DHT). Default `"wan"`. While
   * the node knows no DHT peer, queries end at once with nothing found, and
   * what it adds or pins is provided once a peer joins.
   */
  dht?: "lan" | "wan" | "client" | false;
  /** Run gossipsub (`pubsub`; messages signed with the node's key). Default `true`. */
  pubsub?: boolean;
  /** The most connections kept open. Default 300. */
  maxConnections?: number;
  /** The most inbound and outbound streams per connection and protocol. Default 128. */
  maxStreams?: number;
  /**
   * How long a block fetch may wait for peers, in ms, when the caller's
   * signal does not end it first. Default 120000.
   */
  fetchTimeoutMs?: number;
}

/** How many refused blocks from one peer before it is disconnected. */
const REFUSED_LIMIT = 3;

/**
 * Makes the factory an {@linkcode EmbeddedNode} (or `Kit.open({ network })`)
 * starts its network with.
 *
 * @param options Listen addresses, bootstrap peers, DHT mode, limits.
 * @returns The factory.
 *
 * A node opened with it listens on loopback by default; two of them, once
 * connected (`b.swarm.connect((await a.id()).addresses[0])`), read each
 * other's content by CID (`net/libp2p_network_test.ts` does it with 64 MiB).
 *
 * @example Options are checked when the factory is made
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidInputError } from "@ipfs-kit/kit/ipfs";
 * import { libp2pNetwork } from "@ipfs-kit/kit/net";
 *
 * const network = libp2pNetwork({ dht: "lan", bootstrap: [] });
 * assert.equal(typeof network, "function");
 * assert.throws(() => libp2pNetwork({ listen: ["not an address"] }), InvalidInputError);
 * ```
 */
export function libp2pNetwork(options: Libp2pNetworkOptions = {}): NodeNetworkFactory {
  const listen = options.listen ?? ["/ip4/127.0.0.1/tcp/0"];
  for (const addr of listen) parseMultiaddr(addr, "start network");
  const bootstrap = options.bootstrap === "default" ? KUBO_BOOTSTRAP : options.bootstrap ?? [];
  for (const addr of bootstrap) parseMultiaddr(addr, "start network");
  const dht = options.dht ?? "wan";
  if (dht !== false && dht !== "lan" && dht !== "wan" && dht !== "client") {
    throw new InvalidInputError(
      `Cannot start network: dht must be "lan", "wan", "client" or false: received ${
        JSON.stringify(dht)
      }`,
    );
  }
  return (context) => Libp2pNetwork.start(context, { ...options, listen, bootstrap, dht });
}

/** The libp2p node of an embedded node. */
class Libp2pNetwork implements NodeNetwork {
  readonly swarm: SwarmApi;
  readonly routing: RoutingApi;
  readonly pubsub: KitPubsubApi;
  readonly name: NameApi;
  #node: KitLibp2p;
  #bitswap: BitswapEngine;
  #channels: BroadcastChannel[];
  #fetchTimeoutMs: number;
  #refusedBy = new Map<string, number>();
  #stats: Omit<NodeNetworkStats, "provided">;
  /** Background work (provides, bootstrap dials, cancels, hang-ups): cancelled and joined at close. */
  #group: TaskGroup;
  #providers: ProviderQueue;
  #closed = false;

  private constructor(
    node: KitLibp2p,
    bitswap: BitswapEngine,
    channels: BroadcastChannel[],
    privateKey: Parameters<typeof nameApi>[1],
    options: {
      fetchTimeoutMs: number;
      stats: Omit<NodeNetworkStats, "provided">;
      group: TaskGroup;
    },
  ) {
    const { fetchTimeoutMs, stats, group } = options;
    this.#group = group;
    this.#stats = stats;
    this.#node = node;
    this.#bitswap = bitswap;
    this.#channels = channels;
    this.#fetchTimeoutMs = fetchTimeoutMs;
    this.swarm = swarmApi(node);
    this.routing = routingApi(node);
    this.pubsub = pubsubApi(node);
    this.name = nameApi(node, privateKey);
    this.#providers = new ProviderQueue({
      provide: (cid, signal) => provideCid(node, cid, signal),
      background: (task) => this.#background(task, "provide"),
    });
    node.services.dht?.routingTable.addEventListener("peer:add", () => {
      this.#providers.peerJoined();
    });
  }

  static async start(
    context: NodeNetworkContext,
    options: Libp2pNetworkOptions & {
      listen: readonly string[];
      bootstrap: readonly string[];
      dht: "lan" | "wan" | "client" | false;
    },
  ): Promise<Libp2pNetwork> {
    context.signal.throwIfAborted();
    const privateKey = privateKeyFromProtobuf(context.identity.privateKey);
    const maxStreams = options.maxStreams ?? 128;
    const services: Record<string, unknown> = {
      identify: identify(),
      ping: ping(),
    };
    if (options.dht !== false) {
      const lan = options.dht === "lan";
      services.dht = kadDHT({
        protocol: lan ? "/ipfs/lan/kad/1.0.0" : "/ipfs/kad/1.0.0",
        peerInfoMapper: lan ? removePublicAddressesMapper : removePrivateAddressesMapper,
        clientMode: options.dht === "client",
        // Alone, a query ends at once with nothing found (kad-dht would wait
        // up to 180 s for a first peer): routing calls fail fast as on Kubo,
        // and a provide that reached no one is made again when a peer joins.
        allowQueryWithZeroPeers: true,
        validators: { ipns: ipnsValidator },
        selectors: { ipns: ipnsSelector },
      });
    }
    if (options.pubsub !== false) {
      services.pubsub = stoppableGossipsub({
        emitSelf: false,
        allowPublishToZeroTopicPeers: true,
      });
    }
    const { value: node, channels } = await trackBroadcastChannels(() =>
      createLibp2p({
        privateKey,
        addresses: { listen: [...options.listen] },
        transports: [tcp(), webSockets()],
        connectionEncrypters: [noise()],
        // js-ipfs speaks only mplex, and opens a stream per bitswap message:
        // mplex's default limit of 5 new streams a second drops it.
        streamMuxers: [yamux(), mplex({ disconnectThreshold: 10_000 })],
        connectionManager: { maxConnections: options.maxConnections ?? 300 },
        // deno-lint-ignore no-explicit-any
        services: services as any,
      }) as Promise<KitLibp2p>
    );
    let bitswap: BitswapEngine | undefined;
    let network: Libp2pNetwork | undefined;
    const stats: Omit<NodeNetworkStats, "provided"> = {
      blocksFetched: 0,
      bytesFetched: 0,
      blocksRefused: 0,
      blocksServed: 0,
      bytesServed: 0,
    };
    const group = new TaskGroup();
    try {
      // A block that hashes to no CID this node asked for is a lie (the peer
      // sent other bytes for a CID it was asked for): counted, the peer scored down.
      bitswap = await BitswapEngine.start(node, {
        blocks: context.blocks,
        stats,
        group,
        maxStreams,
        onRefused: (from) => network?.refuseBlock(undefined, from),
      });
      const started = new Libp2pNetwork(
        node,
        bitswap,
        channels,
        privateKey,
        { fetchTimeoutMs: options.fetchTimeoutMs ?? 120_000, stats, group },
      );
      network = started;
      for (const addr of options.bootstrap) {
        started.#background((signal) => started.swarm.connect(addr, { signal }), "bootstrap dial");
      }
      return started;
    } catch (error) {
      group.cancelScope.cancel("the network failed to start");
      await group.join().catch(() => {});
      await bitswap?.stop();
      await stopNode(node);
      for (const channel of channels) channel.close();
      throw error;
    }
  }

  async fetchBlock(cid: CID, options: { signal?: AbortSignal } = {}): Promise<FetchedBlock> {
    let block: Awaited<ReturnType<BitswapEngine["want"]>> | undefined;
    try {
      block = await moveOnAfter(this.#fetchTimeoutMs, (scope) =>
        this.#bitswap.want(
          cid,
          options.signal === undefined
            ? scope.signal
            : AbortSignal.any([options.signal, scope.signal]),
        ));
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw error;
    }
    options.signal?.throwIfAborted();
    if (block === undefined) {
      throw new NotFoundError(
        `Cannot get block: no peer sent it within ${this.#fetchTimeoutMs} ms: ${cid}`,
        cid.toString(),
      );
    }
    this.#stats.blocksFetched++;
    this.#stats.bytesFetched += block.bytes.length;
    // The engine hashed it (SHA-256) and matched the digest to this want's: verified.
    return { bytes: block.bytes, from: block.from, verified: true };
  }

  refuseBlock(_cid: CID | undefined, from: string | undefined): void {
    this.#stats.blocksRefused++;
    if (from === undefined) return;
    const count = (this.#refusedBy.get(from) ?? 0) + 1;
    this.#refusedBy.delete(from);
    this.#refusedBy.set(from, count);
    if (this.#refusedBy.size > 1024) this.#refusedBy.delete(this.#refusedBy.keys().next().value!);
    if (count >= REFUSED_LIMIT) {
      const peer = this.#node.getConnections().find((c) => c.remotePeer.toString() === from);
      if (peer !== undefined) {
        this.#background((signal) => this.#node.hangUp(peer.remotePeer, { signal }), "hang up");
      }
    }
  }

  /** How many blocks a peer sent that did not match their CIDs. */
  refusedFrom(peer: string): number {
    return this.#refusedBy.get(peer) ?? 0;
  }

  provide(cid: CID): void {
    if (this.#closed || this.#node.services.dht === undefined) return;
    this.#providers.add(cid);
  }

  /** The libp2p node (not part of `NodeNetwork`: for benchmarks that measure its raw streams). */
  get libp2p(): KitLibp2p {
    return this.#node;
  }

  addresses(): string[] {
    return this.#node.getMultiaddrs().map((ma) => ma.toString());
  }

  protocols(): string[] {
    return this.#node.getProtocols();
  }

  stats(): NodeNetworkStats {
    return { ...this.#stats, provided: this.#providers.provided };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.pubsub.closeAll();
    this.#providers.close();
    try {
      this.#group.cancelScope.cancel("the network closed");
      await this.#group.join();
      await this.#bitswap.stop();
      await stopNode(this.#node);
    } finally {
      for (const channel of this.#channels) channel.close();
    }
  }

  /**
   * Runs a best-effort task (a provide, a bootstrap dial, a hang-up) in the
   * network's task group: its failure is dropped, close cancels and joins it.
   */
  #background(task: (signal: AbortSignal) => Promise<unknown>, name: string): void {
    if (this.#group.cancelScope.cancelCalled) return;
    this.#group.spawn(async () => {
      try {
        await task(this.#group.signal);
      } catch {
        // best effort
      }
    }, { name });
  }
}

/**
 * Stops a libp2p node and the timers libp2p 3.3.11 leaves running after
 * `stop()`, so that closing a networked kit leaves none behind (`deno test`'s
 * sanitizers fail a test that leaves one): the debounced address update its
 * stop schedules (a second), its inbound connection rate limiter's windows
 * (a second each, one per remote host), and its job queues' "empty" and
 * "idle" events, debounced by 1 ms after the last job, which the wait at the
 * end lets fire.
 */
async function stopNode(node: KitLibp2p): Promise<void> {
  await node.stop();
  // deno-lint-ignore no-explicit-any
  const components = (node as any).components;
  components?.addressManager?._updatePeerStoreAddresses?.stop?.();
  const windows: Map<string, { timeoutId?: number }> | undefined = components
    ?.connectionManager?.inboundConnectionRateLimiter?.memoryStorage?.storage;
  for (const window of windows?.values() ?? []) clearTimeout(window.timeoutId);
  windows?.clear();
  // On the real clock and not cancellable: the timers waited for are
  // libp2p's own, and a close in a cancelled scope must still wait them out.
  await new Promise<void>((resolve) => {
    realClock.setTimer(realClock.now() + QUEUE_DEBOUNCE_WAIT_MS, resolve);
  });
}

/** Longer than it-queue's 1 ms debounce of a queue's "empty" and "idle" events. */
const QUEUE_DEBOUNCE_WAIT_MS = 5;
