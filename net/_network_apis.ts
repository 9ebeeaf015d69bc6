/**
 * The `swarm`, `routing`, `pubsub` and `name` APIs of the content interface
 * over a running libp2p node.
 *
 * @module
 */

import type { Libp2p, PeerId, PrivateKey } from "npm:@libp2p/interface@3.3.0";
import type { GossipSub } from "npm:@libp2p/gossipsub@17.1.1";
import { peerIdFromString } from "npm:@libp2p/peer-id@6.0.15";
import { type Multiaddr, multiaddr } from "npm:@multiformats/multiaddr@13.0.3";
import {
  createIPNSRecord,
  marshalIPNSRecord,
  multihashToIPNSRoutingKey,
  unmarshalIPNSRecord,
} from "npm:ipns@10.1.6";
import { ipnsValidator } from "npm:ipns@10.1.6/validator";
import { CID } from "npm:multiformats@14.0.5/cid";
import type {
  NameApi,
  PeerInfo,
  PubsubApi,
  PubsubMessage,
  RoutingApi,
  SwarmApi,
} from "../ipfs/content_store.ts";
import { InvalidInputError, NotFoundError, UnreachableError } from "../ipfs/errors.ts";
import { parseCid } from "../ipfs/parse_cid.ts";

/** The services the kit's libp2p node runs. */
export interface KitServices {
  // deno-lint-ignore no-explicit-any
  dht?: any;
  pubsub?: GossipSub;
  // deno-lint-ignore no-explicit-any
  [name: string]: any;
}

/** A node of the kit. */
export type KitLibp2p = Libp2p<KitServices>;

/**
 * Parses a multiaddress.
 *
 * @throws {InvalidInputError} It is malformed.
 */
export function parseMultiaddr(addr: unknown, what: string): Multiaddr {
  if (typeof addr !== "string" || addr === "") {
    throw new InvalidInputError(
      `Cannot ${what}: the address must be a non-empty multiaddress string: received ${typeof addr}`,
    );
  }
  try {
    return multiaddr(addr);
  } catch (error) {
    throw new InvalidInputError(
      `Cannot ${what}: malformed multiaddress: ${JSON.stringify(addr)}`,
      { cause: error },
    );
  }
}

function parsePeerId(id: unknown, what: string): PeerId {
  try {
    return peerIdFromString(String(id));
  } catch (error) {
    throw new InvalidInputError(`Cannot ${what}: not a peer ID: ${JSON.stringify(id)}`, {
      cause: error,
    });
  }
}

function peerIdOf(ma: Multiaddr, what: string): PeerId {
  const id = ma.getComponents().findLast((c) => c.name === "p2p")?.value;
  if (id === undefined) {
    throw new InvalidInputError(`Cannot ${what}: the address has no /p2p/<peer ID>: ${ma}`);
  }
  return parsePeerId(id, what);
}

/** The swarm API. */
export function swarmApi(node: KitLibp2p): SwarmApi {
  return {
    peers(options = {}) {
      options.signal?.throwIfAborted();
      return Promise.resolve(
        node.getConnections().map((connection) => ({
          peer: connection.remotePeer.toString(),
          addr: connection.remoteAddr.toString(),
        })),
      );
    },
    async connect(addr, options = {}) {
      const ma = parseMultiaddr(addr, "connect");
      peerIdOf(ma, "connect");
      try {
        await node.dial(ma, { signal: options.signal });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        throw new UnreachableError(
          `Cannot connect: ${addr} is unreachable: ${(error as Error).message}`,
          addr,
          { cause: error },
        );
      }
    },
    async disconnect(addr, options = {}) {
      const ma = parseMultiaddr(addr, "disconnect");
      await node.hangUp(peerIdOf(ma, "disconnect"), { signal: options.signal });
    },
  };
}

function info(peer: { id: PeerId; multiaddrs: Multiaddr[] }): PeerInfo {
  return { id: peer.id.toString(), addrs: peer.multiaddrs.map((ma) => ma.toString()) };
}

/** The routing API, over the DHT. */
export function routingApi(node: KitLibp2p): RoutingApi {
  const key = (k: string) => new TextEncoder().encode(k);
  return {
    async findProvs(cid, options = {}) {
      const parsed = parseCid(cid, "find providers");
      const limit = options.numProviders ?? 20;
      const found = new Map<string, PeerInfo>();
      for await (
        const provider of node.contentRouting.findProviders(parsed, { signal: options.signal })
      ) {
        found.set(provider.id.toString(), info(provider));
        if (found.size >= limit) break;
      }
      return [...found.values()];
    },
    async findPeer(id, options = {}) {
      const peerId = parsePeerId(id, "find peer");
      try {
        return info(await node.peerRouting.findPeer(peerId, { signal: options.signal }));
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        throw new NotFoundError(`Cannot find peer: ${id}: ${(error as Error).message}`, id);
      }
    },
    async provide(cid, options = {}) {
      await node.contentRouting.provide(parseCid(cid, "provide"), { signal: options.signal });
    },
    async get(routingKey, options = {}) {
      try {
        return await node.contentRouting.get(key(routingKey), { signal: options.signal });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        throw new NotFoundError(
          `Cannot get routing value: ${routingKey}: ${(error as Error).message}`,
          routingKey,
        );
      }
    },
    async put(routingKey, value, options = {}) {
      await node.contentRouting.put(key(routingKey), value, { signal: options.signal });
    },
  };
}

/** The pubsub API, over gossipsub. */
export function pubsubApi(node: KitLibp2p): PubsubApi {
  const pubsub = (what: string): GossipSub => {
    const service = node.services.pubsub;
    if (service === undefined) {
      throw new InvalidInputError(`Cannot ${what}: the node runs without pubsub`);
    }
    return service;
  };
  return {
    async publish(topic, data, options = {}) {
      options.signal?.throwIfAborted();
      await pubsub("publish").publish(topic, data);
    },
    subscribe(topic, options = {}) {
      const service = pubsub("subscribe");
      let listener: ((event: CustomEvent) => void) | undefined;
      const stop = () => {
        if (listener === undefined) return;
        service.removeEventListener("message", listener);
        listener = undefined;
        service.unsubscribe(topic);
      };
      return new ReadableStream<PubsubMessage>({
        start(controller) {
          options.signal?.throwIfAborted();
          listener = (event: CustomEvent) => {
            const message = event.detail;
            if (message.topic !== topic) return;
            controller.enqueue({
              from: message.type === "signed" ? message.from.toString() : "",
              topic,
              data: message.data,
              ...(message.type === "signed" ? { sequenceNumber: message.sequenceNumber } : {}),
            });
          };
          service.addEventListener("message", listener);
          service.subscribe(topic);
          options.signal?.addEventListener("abort", () => {
            stop();
            controller.error(options.signal!.reason);
          }, { once: true });
        },
        cancel: stop,
      }, { highWaterMark: 256 });
    },
    ls(options = {}) {
      options.signal?.throwIfAborted();
      return Promise.resolve(pubsub("list topics").getTopics());
    },
    peers(topic, options = {}) {
      options.signal?.throwIfAborted();
      const service = pubsub("list peers");
      const peers = topic === undefined ? service.getPeers() : service.getSubscribers(topic);
      return Promise.resolve(peers.map((peer) => peer.toString()));
    },
  };
}

/** Parses Kubo's durations (`"24h"`, `"1m"`, `"30s"`) into milliseconds. */
function duration(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const match = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (match === null) {
    throw new InvalidInputError(`Cannot ${what}: not a duration: ${JSON.stringify(text)}`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
  return Number(match[1]) * unit;
}

/** The name API: IPNS records signed with the node's key, kept in the DHT. */
export function nameApi(node: KitLibp2p, privateKey: PrivateKey): NameApi {
  let sequence = 0n;
  const self = node.peerId;
  const routingKey = (peer: PeerId) => multihashToIPNSRoutingKey(peer.toMultihash());
  const resolveOnce = async (name: string, signal: AbortSignal | undefined): Promise<string> => {
    const peer = parsePeerId(name.replace(/^\/ipns\//, ""), "resolve name");
    const key = routingKey(peer);
    let bytes: Uint8Array;
    try {
      bytes = await node.contentRouting.get(key, { signal });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new NotFoundError(
        `Cannot resolve name: no record for ${name}: ${(error as Error).message}`,
        name,
      );
    }
    await ipnsValidator(key, bytes);
    return unmarshalIPNSRecord(bytes).value;
  };
  return {
    async publish(path, options = {}) {
      if (options.key !== undefined && options.key !== "self") {
        throw new InvalidInputError(
          `Cannot publish name: only the node's own key ("self") is supported: received ${options.key}`,
        );
      }
      const text = typeof path === "string" ? path : path.toString();
      const cid = parseCid(text, "publish name");
      const lifetime = duration(options.lifetime, 24 * 3_600_000, "publish name");
      const ttlMs = duration(options.ttl, 60_000, "publish name");
      sequence = sequence + 1n > BigInt(Date.now()) ? sequence + 1n : BigInt(Date.now());
      const record = await createIPNSRecord(privateKey, CID.asCID(cid) ?? cid, sequence, lifetime, {
        ttlNs: BigInt(ttlMs) * 1_000_000n,
      });
      const bytes = marshalIPNSRecord(record);
      const key = routingKey(self);
      try {
        await node.contentRouting.put(key, bytes, { signal: options.signal });
      } catch (error) {
        if (!options.allowOffline) throw error;
      }
      return { name: self.toString(), value: `/ipfs/${cid}` };
    },
    async resolve(name, options = {}) {
      let value = await resolveOnce(name, options.signal);
      for (let depth = 0; options.recursive !== false && value.startsWith("/ipns/"); depth++) {
        if (depth >= 32) {
          throw new InvalidInputError(`Cannot resolve name: ${name}: more than 32 hops`);
        }
        value = await resolveOnce(value, options.signal);
      }
      return value;
    },
  };
}
