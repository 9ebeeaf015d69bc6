/**
 * The Kubo backend's content and peer routing (the DHT): Kubo's
 * `ipfs routing` commands, read as the query events the daemon streams.
 *
 * @module
 */

import type { KuboCallOptions } from "./kubo_options.ts";
import type { PeerInfo, RoutingApi } from "./content_store.ts";
import { InvalidInputError, NotFoundError } from "./errors.ts";
import type { KuboConnection } from "./_kubo_connection.ts";
import { clientTimeout, rpcTimeout } from "./_kubo_wire.ts";
import { parseCid } from "./parse_cid.ts";

/** Kubo's routing query events (`routing.QueryEventType`). */
const ROUTING_FINAL_PEER = 2;
const ROUTING_QUERY_ERROR = 3;
const ROUTING_PROVIDER = 4;
const ROUTING_VALUE = 5;

/** One query event of a routing command. */
interface RoutingEvent {
  Type?: number;
  Extra?: unknown;
  Responses?: Array<{ ID?: unknown; Addrs?: unknown }> | null;
}

/**
 * The `routing` API of a Kubo backend.
 *
 * @param kubo The backend's connection.
 * @returns The API.
 */
export function kuboRoutingApi(kubo: KuboConnection): RoutingApi<KuboCallOptions> {
  const events = async (
    command: string,
    args: string[],
    params: Record<string, string | number | undefined>,
    signal: AbortSignal,
    left: number | undefined,
  ): Promise<RoutingEvent[]> => {
    const response = await kubo.rpc.post(`routing/${command}`, {
      args,
      params: { ...params, ...rpcTimeout(left) },
      signal,
    });
    const out: RoutingEvent[] = [];
    for await (const event of response.ndjson()) out.push(event as RoutingEvent);
    return out;
  };
  return {
    async findProvs(cid, options = {}): Promise<PeerInfo[]> {
      const what = "find providers";
      const parsed = parseCid(cid, what);
      const count = options.numProviders ?? 20;
      if (!Number.isSafeInteger(count) || count < 1) {
        throw new InvalidInputError(
          `Cannot ${what}: numProviders must be an integer >= 1: received ${String(count)}`,
        );
      }
      return await kubo.call(
        { what, command: "routing/findprovs", subject: parsed.toString() },
        options,
        async (signal, left) => {
          const found = new Map<string, PeerInfo>();
          const params = { "num-providers": count };
          for (
            const event of await events("findprovs", [parsed.toString()], params, signal, left)
          ) {
            if (event.Type !== ROUTING_PROVIDER) continue;
            for (const peer of responses(event)) found.set(peer.id, peer);
          }
          return [...found.values()];
        },
      );
    },

    async findPeer(peerId, options = {}): Promise<PeerInfo> {
      const what = "find peer";
      checkPeerId(peerId, what);
      return await kubo.call(
        { what, command: "routing/findpeer", subject: peerId },
        options,
        async (signal, left) => {
          for (const event of await events("findpeer", [peerId], {}, signal, left)) {
            if (event.Type !== ROUTING_FINAL_PEER) continue;
            const [peer] = responses(event);
            if (peer !== undefined) return peer;
          }
          throw new NotFoundError(
            `Cannot ${what}: the daemon found no addresses for ${peerId}`,
            peerId,
          );
        },
      );
    },

    async provide(cid, options = {}): Promise<void> {
      const what = "provide";
      const parsed = parseCid(cid, what);
      await kubo.call(
        { what, command: "routing/provide", subject: parsed.toString() },
        options,
        async (signal, left) => {
          for (const event of await events("provide", [parsed.toString()], {}, signal, left)) {
            if (event.Type === ROUTING_QUERY_ERROR) {
              throw new Error(`Cannot ${what}: ${String(event.Extra ?? "query error")}`);
            }
          }
        },
      );
    },

    async get(key, options = {}): Promise<Uint8Array> {
      const what = "get routing value";
      checkKey(key, what);
      return await kubo.call(
        { what, command: "routing/get", subject: key },
        options,
        async (signal, left) => {
          for (const event of await events("get", [key], {}, signal, left)) {
            if (event.Type === ROUTING_VALUE && typeof event.Extra === "string") {
              return Uint8Array.from(atob(event.Extra), (char) => char.charCodeAt(0));
            }
          }
          throw new NotFoundError(`Cannot ${what}: no value for ${key}`, key);
        },
      );
    },

    async put(key, value, options = {}): Promise<void> {
      const what = "put routing value";
      checkKey(key, what);
      if (!(value instanceof Uint8Array)) {
        throw new InvalidInputError(
          `Cannot ${what}: value must be a Uint8Array: received ${typeof value}`,
        );
      }
      await kubo.call(
        { what, command: "routing/put", subject: key },
        options,
        async (signal, left) => {
          for await (
            const _ of kubo.rpc.client.routing.put(key, value, { signal, ...clientTimeout(left) })
          ) { /* the daemon reports progress; the call's end is what counts */ }
        },
      );
    },
  };
}

/** The peers of an event. */
function responses(event: RoutingEvent): PeerInfo[] {
  return (event.Responses ?? []).map((peer) => ({
    id: String(peer.ID),
    addrs: Array.isArray(peer.Addrs) ? peer.Addrs.map(String) : [],
  }));
}

function checkKey(key: unknown, what: string): void {
  if (typeof key !== "string" || !/^\/[^/]+\/./.test(key)) {
    throw new InvalidInputError(
      `Cannot ${what}: key must be a routing key such as /ipns/<name>: received ${
        typeof key === "string" ? JSON.stringify(key) : typeof key
      }`,
    );
  }
}

function checkPeerId(peerId: unknown, what: string): void {
  if (
    typeof peerId !== "string" || !/^[1-9A-HJ-NP-Za-km-z]{40,100}$|^[a-z2-7]{50,100}$/.test(peerId)
  ) {
    throw new InvalidInputError(
      `Cannot ${what}: not a peer ID: received ${
        typeof peerId === "string" ? JSON.stringify(peerId) : typeof peerId
      }`,
    );
  }
}
