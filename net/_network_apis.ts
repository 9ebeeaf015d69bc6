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
import type { CID } from "npm:multiformats@14.0.5/cid";
import type {
  NameApi,
  PeerInfo,
  PubsubApi,
  PubsubMessage,
  RoutingApi,
  SwarmApi,
} from "../ipfs/content_store.ts";
import {
  InvalidInputError,
  NotFoundError,
  NotSupportedError,
  UnreachableError,
} from "../ipfs/errors.ts";
import { parseCid } from "../ipfs/parse_cid.ts";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { Event } from "../runtime/event.ts";

/** The services the kit's libp2p node runs. */
export interface KitServices {
  dht?: KitDht;
  pubsub?: GossipSub;
  // deno-lint-ignore no-explicit-any
  [name: string]: any;
}

/** What the kit uses of `@libp2p/kad-dht`'s service. */
export interface KitDht {
  provide(cid: CID, options?: { signal?: AbortSignal }): AsyncIterable<{ name: string }>;
  put(
    key: Uint8Array,
    value: Uint8Array,
    options?: { signal?: AbortSignal },
  ): AsyncIterable<{ name: string }>;
  validators: Record<string, (key: Uint8Array, value: Uint8Array) => Promise<void>>;
  routingTable: EventTarget & { size: number };
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

/**
 * The DHT key of a routing key as Kubo names it: `/ipns/<peer ID>` (an IPNS
 * record) or `/pk/<peer ID>` (a public key), the peer ID in text, base58btc or
 * a CID (`k51...`); the DHT keys them by the peer ID's multihash bytes.
 *
 * @throws {InvalidInputError} Another namespace, or not a peer ID.
 */
export function dhtKey(routingKey: unknown, what: string): Uint8Array {
  const match = /^\/(ipns|pk)\/([^/]+)$/.exec(String(routingKey));
  if (match === null) {
    throw new InvalidInputError(
      `Cannot ${what}: the key must be /ipns/<peer ID> or /pk/<peer ID>: received ${
        JSON.stringify(routingKey)
      }`,
    );
  }
  const multihash = parsePeerId(match[2], what).toMultihash();
  if (match[1] === "ipns") return multihashToIPNSRoutingKey(multihash);
  const prefix = new TextEncoder().encode("/pk/");
  const key = new Uint8Array(prefix.length + multihash.bytes.length);
  key.set(prefix);
  key.set(multihash.bytes, prefix.length);
  return key;
}

/**
 * How long a DHT call waits for a connected peer to join the routing table
 * (identify runs after the connection is up) before it queries without one.
 */
const DHT_JOIN_MS = 10_000;

/**
 * The node's DHT, once it can query: at once when it knows a DHT peer or is
 * connected to none (a query then ends at once, as on Kubo), else once a
 * connected peer joins its routing table, within {@linkcode DHT_JOIN_MS}
 * (`swarm.connect` then `routing.findProvs` would otherwise find nothing).
 */
async function readyDht(
  node: KitLibp2p,
  what: string,
  signal: AbortSignal | undefined,
): Promise<KitDht> {
  const dht = dhtOf(node, what);
  if (dht.routingTable.size > 0 || node.getConnections().length === 0) return dht;
  const joined = new Event();
  const onJoin = () => joined.set();
  dht.routingTable.addEventListener("peer:add", onJoin);
  try {
    await new CancelScope({ timeout: DHT_JOIN_MS, signal }).run(() => joined.wait());
  } finally {
    dht.routingTable.removeEventListener("peer:add", onJoin);
  }
  signal?.throwIfAborted();
  return dht;
}

function dhtOf(node: KitLibp2p, what: string): KitDht {
  const dht = node.services.dht as KitDht | undefined;
  if (dht === undefined) {
    throw new NotSupportedError(
      `Cannot ${what}: the node runs without a DHT (network.dht: false)`,
      what,
      "embedded",
    );
  }
  return dht;
}

/**
 * Runs a DHT operation's queries and counts the peers that answered it (a
 * put or a provide stored on them).
 */
async function peersReached(events: AsyncIterable<{ name: string }>): Promise<number> {
  let reached = 0;
  for await (const event of events) {
    if (event.name === "PEER_RESPONSE") reached++;
  }
  return reached;
}

/**
 * Announces on the DHT that the node provides `cid`.
 *
 * @returns How many peers stored the provider record (0: none was reachable;
 *   the record is only in the node's own store).
 */
export async function provideCid(
  node: KitLibp2p,
  cid: CID,
  signal?: AbortSignal,
): Promise<number> {
  return await peersReached((await readyDht(node, "provide", signal)).provide(cid, { signal }));
}

/** The routing API, over the DHT. */
export function routingApi(node: KitLibp2p): RoutingApi {
  return {
    async findProvs(cid, options = {}) {
      const parsed = parseCid(cid, "find providers");
      const limit = options.numProviders ?? 20;
      await readyDht(node, "find providers", options.signal);
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
      await readyDht(node, "find peer", options.signal);
      try {
        return info(await node.peerRouting.findPeer(peerId, { signal: options.signal }));
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        throw new NotFoundError(`Cannot find peer: ${id}: ${(error as Error).message}`, id);
      }
    },
    async provide(cid, options = {}) {
      const reached = await provideCid(node, parseCid(cid, "provide"), options.signal);
      if (reached === 0) {
        throw new NotFoundError(
          `Cannot provide: no DHT peer stored the provider record of ${cid}: connect to a peer first`,
          String(cid),
        );
      }
    },
    async get(routingKey, options = {}) {
      const key = dhtKey(routingKey, "get routing value");
      await readyDht(node, "get routing value", options.signal);
      try {
        return await node.contentRouting.get(key, { signal: options.signal });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        throw new NotFoundError(
          `Cannot get routing value: ${routingKey}: ${(error as Error).message}`,
          routingKey,
        );
      }
    },
    async put(routingKey, value, options = {}) {
      const key = dhtKey(routingKey, "put routing value");
      if (!(value instanceof Uint8Array)) {
        throw new InvalidInputError(
          `Cannot put routing value: the value must be a Uint8Array: received ${typeof value}`,
        );
      }
      await putRecord(node, key, value, String(routingKey), options.signal);
    },
  };
}

/**
 * Stores a record on the DHT (the node's own store, then the closest peers),
 * checked by the DHT's validator for its namespace first.
 *
 * @throws {InvalidInputError} The validator refuses it.
 * @throws {NotFoundError} No peer stored it.
 */
async function putRecord(
  node: KitLibp2p,
  key: Uint8Array,
  value: Uint8Array,
  what: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const dht = await readyDht(node, "put routing value", signal);
  const namespace = new TextDecoder().decode(key.subarray(1, key.indexOf(47, 1)));
  try {
    await dht.validators[namespace]?.(key, value);
  } catch (error) {
    throw new InvalidInputError(
      `Cannot put routing value: ${what}: the record is not valid: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const reached = await peersReached(dht.put(key, value, { signal }));
  if (reached === 0) {
    throw new NotFoundError(
      `Cannot put routing value: ${what}: no DHT peer stored it: connect to a peer first`,
      what,
    );
  }
}

/** The pubsub API, and what closes its subscriptions when the node stops. */
export interface KitPubsubApi extends PubsubApi {
  /** Ends every subscription's stream (the node is stopping). */
  closeAll(): void;
}

/** How many messages a subscription holds for a slow reader before it drops new ones. */
const SUBSCRIPTION_BUFFER = 256;

/**
 * The pubsub API, over gossipsub. Each topic is subscribed once on the
 * network however many streams read it, and unsubscribed when the last one
 * ends (cancelled, or its signal aborted).
 */
export function pubsubApi(node: KitLibp2p): KitPubsubApi {
  const pubsub = (what: string): GossipSub => {
    const service = node.services.pubsub;
    if (service === undefined) {
      throw new NotSupportedError(
        `Cannot ${what}: the node runs without pubsub (network.pubsub: false)`,
        what,
        "embedded",
      );
    }
    return service;
  };
  const readers = new Map<string, number>();
  const open = new Set<() => void>();
  return {
    async publish(topic, data, options = {}) {
      options.signal?.throwIfAborted();
      if (typeof topic !== "string" || topic === "") {
        throw new InvalidInputError(`Cannot publish: the topic must be a non-empty string`);
      }
      await pubsub("pubsub publish").publish(topic, data);
    },
    subscribe(topic, options = {}) {
      const service = pubsub("pubsub subscribe");
      if (typeof topic !== "string" || topic === "") {
        throw new InvalidInputError(`Cannot subscribe: the topic must be a non-empty string`);
      }
      options.signal?.throwIfAborted();
      let listener: ((event: CustomEvent) => void) | undefined;
      let onAbort: (() => void) | undefined;
      const stop = () => {
        if (listener === undefined) return;
        service.removeEventListener("message", listener);
        listener = undefined;
        open.delete(close);
        if (onAbort !== undefined) options.signal?.removeEventListener("abort", onAbort);
        const left = (readers.get(topic) ?? 1) - 1;
        if (left > 0) {
          readers.set(topic, left);
        } else {
          readers.delete(topic);
          service.unsubscribe(topic);
        }
      };
      let close = () => {};
      return new ReadableStream<PubsubMessage>({
        start(controller) {
          listener = (event: CustomEvent) => {
            const message = event.detail;
            if (message.topic !== topic) return;
            // A reader that does not keep up loses messages, as on Kubo.
            if ((controller.desiredSize ?? 0) <= 0) return;
            controller.enqueue({
              from: message.type === "signed" ? message.from.toString() : "",
              topic,
              data: message.data,
              ...(message.type === "signed" ? { sequenceNumber: message.sequenceNumber } : {}),
            });
          };
          close = () => {
            stop();
            controller.close();
          };
          open.add(close);
          service.addEventListener("message", listener);
          readers.set(topic, (readers.get(topic) ?? 0) + 1);
          if (readers.get(topic) === 1) service.subscribe(topic);
          onAbort = () => {
            stop();
            controller.error(options.signal!.reason);
          };
          options.signal?.addEventListener("abort", onAbort, { once: true });
        },
        cancel: stop,
      }, { highWaterMark: SUBSCRIPTION_BUFFER });
    },
    // deno-lint-ignore require-await
    async ls(options = {}) {
      options.signal?.throwIfAborted();
      return pubsub("pubsub ls").getTopics();
    },
    // deno-lint-ignore require-await
    async peers(topic, options = {}) {
      options.signal?.throwIfAborted();
      const service = pubsub("pubsub peers");
      const peers = topic === undefined ? service.getPeers() : service.getSubscribers(topic);
      return peers.map((peer) => peer.toString());
    },
    closeAll() {
      for (const close of [...open]) close();
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
  /** Resolves the name `/ipns/<name>[/path]` starts with; the path is kept. */
  const resolveOnce = async (path: string, signal: AbortSignal | undefined): Promise<string> => {
    const [name = "", ...rest] = String(path).replace(/^\/ipns\//, "").split("/");
    const key = dhtKey(`/ipns/${name}`, "resolve name");
    await readyDht(node, "resolve name", signal);
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
    // The DHT checked it against the name's key already; a record from a
    // peer is checked again here, as Kubo does, before it is trusted.
    await ipnsValidator(key, bytes);
    return [unmarshalIPNSRecord(bytes).value, ...rest].join("/");
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
      const value = `/ipfs/${cid}`;
      const lifetime = duration(options.lifetime, 24 * 3_600_000, "publish name");
      const ttlMs = duration(options.ttl, 60_000, "publish name");
      // Each record must outrank the last one: the sequence number grows
      // (from the clock, so a restarted node outranks its old records too).
      sequence = sequence + 1n > BigInt(Date.now()) ? sequence + 1n : BigInt(Date.now());
      const record = await createIPNSRecord(privateKey, value, sequence, lifetime, {
        ttlNs: BigInt(ttlMs) * 1_000_000n,
      });
      const bytes = marshalIPNSRecord(record);
      const key = multihashToIPNSRoutingKey(self.toMultihash());
      try {
        await putRecord(node, key, bytes, `/ipns/${self}`, options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (!options.allowOffline || !(error instanceof NotFoundError)) throw error;
      }
      return { name: self.toString(), value };
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
