/**
 * Peer discovery on the daemon's API port ({@linkcode discoveryExtension}):
 * the discovery server of `@ipfs-kit/kit/net` (`createDiscoveryHandler`)
 * mounted at {@linkcode DISCOVERY_PATH}, and discovery clients that
 * announce the daemon's node and connect it to the peers they learn of.
 * `deno task start` mounts it unless given `--no-discovery` (and with
 * `--discover <ws-url>` for a remote server).
 *
 * - **The server** (`server`, default on): peers announce their signed
 *   `PeerInfo` to it and ask for each other. It follows the API port's
 *   rules (the daemon checks them first, the handler again with the same
 *   token and origins): loopback only without a token.
 * - **The node's own record**: when the node is networked and the server
 *   is on, the daemon announces itself to its own server (a client over
 *   loopback, signed with the repository's key, its multiaddresses the
 *   node's swarm addresses, its role `role`), so the peers that come
 *   through the route find it, and it connects to each of them.
 * - **A remote server** (`connect`): the same announcement to another
 *   daemon's route (or any discovery server); the peers it names are
 *   connected to (auto-connect through the node's `swarm.connect`, a few at
 *   once, each peer's success rate kept).
 *
 * The page's Peers panel reads {@linkcode DISCOVERY_PEERS_PATH} (`GET`,
 * JSON, behind the API port's rules): the peers discovered, each with its
 * role, where it was learnt (`local`: announced to this daemon's server;
 * `remote`: from the `connect` server) and its connection success rate.
 *
 * Its metrics: the server's (`ipfs_kit_discovery_*`, see
 * `createDiscoveryHandler`) and the clients'
 * (`ipfs_kit_discovery_client_connected{server}`,
 * `ipfs_kit_discovery_client_peers{server}` and
 * `ipfs_kit_discovery_client_dials_total{server,outcome}`, `server` being
 * `local` or `remote`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Daemon, DISCOVERY_PEERS_PATH, discoveryExtension } from "@ipfs-kit/kit/kit";
 *
 * await using daemon = await Daemon.start({
 *   repo: await Deno.makeTempDir(),
 *   port: 0,
 *   gatewayPort: 0,
 *   extensions: [discoveryExtension()],
 * });
 * assert(daemon.features.includes("discovery"));
 * const peers = await (await fetch(`${daemon.apiUrl}${DISCOVERY_PEERS_PATH}`)).json();
 * assert.deepEqual(peers, { server: true, peers: [] });
 * ```
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import { loadPeerIdentity } from "../ipfs/peer_identity.ts";
import { InvalidInputError } from "../ipfs/errors.ts";
import { createDiscoveryHandler, type DiscoveryHandlerOptions } from "../net/discovery_server.ts";
import { DiscoveryClient, type PeerDialStats } from "../net/discovery_client.ts";
import { PEER_INFO_LIMITS, PEER_ROLES, type PeerInfo, type PeerRole } from "../net/peer_info.ts";
import type { DaemonExtension, DaemonExtensionFactory } from "./daemon.ts";
import type { Kit } from "./kit.ts";

/**
 * The extension's name: the daemon's feature (`/daemon/info`) and its page panel's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DISCOVERY_FEATURE } from "@ipfs-kit/kit/kit";
 *
 * assert.equal(DISCOVERY_FEATURE, "discovery");
 * ```
 */
export const DISCOVERY_FEATURE = "discovery";

/**
 * Where the daemon's API port answers peer discovery (a WebSocket upgrade):
 * the URL for `DiscoveryClient` or `--discover` is the API's, `ws:`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DISCOVERY_PATH } from "@ipfs-kit/kit/kit";
 *
 * assert.equal(`ws://127.0.0.1:5001${DISCOVERY_PATH}`, "ws://127.0.0.1:5001/api/v0/discovery");
 * ```
 */
export const DISCOVERY_PATH = "/api/v0/discovery";

/**
 * The read-only JSON route of the discovered peers (`GET`), for the page.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DISCOVERY_PEERS_PATH } from "@ipfs-kit/kit/kit";
 *
 * assert.equal(DISCOVERY_PEERS_PATH, "/api/v0/discovery/peers");
 * ```
 */
export const DISCOVERY_PEERS_PATH = "/api/v0/discovery/peers";

/** The server's options that the daemon does not set itself (limits, TTL). */
export type DiscoveryServerOptions = Omit<
  DiscoveryHandlerOptions,
  "path" | "token" | "allowedOrigins"
>;

/** Options for {@linkcode discoveryExtension}. */
export interface DiscoveryExtensionOptions {
  /** Serve the discovery route: `true` (the default), `false`, or the server's limits. */
  server?: boolean | DiscoveryServerOptions;
  /** The role the node announces. Default `"worker"`. */
  role?: PeerRole;
  /** The capabilities the node announces. Default `["bitswap"]`. */
  capabilities?: readonly string[];
  /**
   * A discovery server to announce the node to, whose peers it connects
   * to (`ws://host:port/api/v0/discovery`), and the server's token.
   * Needs the node's network.
   */
  connect?: { url: string; token?: string };
  /** Connect to the peers discovered. Default `true`. */
  autoConnect?: boolean;
  /** How often the clients ask their servers for peers again, in ms. Default 60 000. */
  refreshMs?: number;
}

/** A discovered peer, as {@linkcode DISCOVERY_PEERS_PATH} lists it. */
export interface DiscoveredPeer {
  /** The peer ID. */
  peerId: string;
  /** Its role. */
  role: PeerRole;
  /** Its multiaddresses. */
  multiaddrs: readonly string[];
  /** Its capabilities. */
  capabilities: readonly string[];
  /** Where it was learnt: this daemon's server (`local`) or the `connect` server (`remote`). */
  via: "local" | "remote";
  /** Dials ended that succeeded, over all ended (`null` before any dial ended). */
  successRate: number | null;
  /** Dials started. */
  attempts: number;
  /** Whether the last dial succeeded. */
  connected: boolean;
}

/** The most peers the JSON route lists. */
const MAX_LISTED = 200;

/**
 * A {@linkcode DaemonExtensionFactory} for peer discovery on the daemon:
 * see the module documentation.
 *
 * @param options The server's limits, the role, a remote server to announce to.
 * @returns The factory, for `DaemonOptions.extensions`.
 * @throws {TypeError} An option has the wrong type or `role` is not a role (when the daemon starts).
 * @throws {InvalidInputError} `connect` without the node's network (when the daemon starts).
 *
 * @example A daemon without a network cannot announce itself to another server
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidInputError } from "@ipfs-kit/kit/ipfs";
 * import { Daemon, discoveryExtension } from "@ipfs-kit/kit/kit";
 *
 * await assert.rejects(
 *   Daemon.start({
 *     repo: await Deno.makeTempDir(),
 *     port: 0,
 *     gatewayPort: 0,
 *     extensions: [discoveryExtension({ connect: { url: "ws://127.0.0.1:9/api/v0/discovery" } })],
 *   }),
 *   InvalidInputError,
 * );
 * ```
 */
export function discoveryExtension(
  options: DiscoveryExtensionOptions = {},
): DaemonExtensionFactory {
  return async (context): Promise<DaemonExtension> => {
    const what = "Cannot start discovery";
    const role = options.role ?? "worker";
    if (!PEER_ROLES.includes(role)) {
      throw new TypeError(
        `${what}: role must be one of ${PEER_ROLES.join(", ")}: received ${
          JSON.stringify(String(role).slice(0, 40))
        }`,
      );
    }
    if (options.connect !== undefined && typeof options.connect?.url !== "string") {
      throw new TypeError(`${what}: connect.url must be a ws: or wss: URL`);
    }
    const networked = context.swarmAddresses.length > 0;
    if (options.connect !== undefined && !networked) {
      throw new InvalidInputError(
        `${what}: announcing to ${
          String(options.connect.url).slice(0, 200)
        } needs the node's network (the daemon runs offline)`,
      );
    }
    const serverOptions = options.server ?? true;
    const handler = serverOptions === false ? undefined : createDiscoveryHandler({
      ...(serverOptions === true ? {} : serverOptions),
      path: DISCOVERY_PATH,
      ...(context.token === undefined ? {} : { token: context.token }),
      allowedOrigins: context.allowedOrigins,
    });
    const clients = new Map<"local" | "remote", DiscoveryClient>();
    const identity = networked ? await loadPeerIdentity(context.repo) : undefined;
    const announce = (via: "local" | "remote", url: string, token: string | undefined) => {
      if (identity === undefined) return;
      clients.set(
        via,
        new DiscoveryClient(url, {
          identity,
          info: {
            multiaddrs: announced(context.swarmAddresses),
            role,
            capabilities: options.capabilities ?? ["bitswap"],
          },
          ...(token === undefined ? {} : { token }),
          ...(options.refreshMs === undefined ? {} : { refreshMs: options.refreshMs }),
          ...(options.autoConnect === false ? {} : { dial: dialer(context.kit) }),
        }),
      );
    };
    const routes: Record<string, (request: Request) => Response | Promise<Response>> = {
      [DISCOVERY_PEERS_PATH]: (request) => {
        if (request.method !== "GET" && request.method !== "HEAD") {
          throw new HttpError(405, "method_not_allowed", "Use GET for the discovered peers", {
            headers: { allow: "GET, HEAD" },
          });
        }
        return Response.json({
          server: handler !== undefined,
          peers: discovered(clients).slice(0, MAX_LISTED),
        });
      },
    };
    if (handler !== undefined) routes[DISCOVERY_PATH] = handler;
    return {
      name: DISCOVERY_FEATURE,
      routes,
      metrics: () => (handler?.metrics() ?? "") + clientMetrics(clients),
      started: ({ apiUrl }) => {
        if (handler !== undefined) {
          announce("local", `${apiUrl.replace(/^http/, "ws")}${DISCOVERY_PATH}`, context.token);
        }
        if (options.connect !== undefined) {
          announce("remote", options.connect.url, options.connect.token);
        }
      },
      close: async () => {
        await Promise.all([...clients.values()].map((client) => client.close()));
        await handler?.close();
      },
    };
  };
}

/** The swarm addresses a record may hold (the limits of a `PeerInfo`). */
function announced(addresses: readonly string[]): string[] {
  return addresses.filter((address) => address.length <= PEER_INFO_LIMITS.maxMultiaddrLength)
    .slice(0, PEER_INFO_LIMITS.maxMultiaddrs);
}

/** Dials a discovered peer through the kit's swarm, trying its addresses in turn. */
function dialer(kit: Kit) {
  return async (peer: PeerInfo, { signal }: { signal: AbortSignal }): Promise<void> => {
    let last: unknown;
    for (const address of peer.multiaddrs) {
      const full = /\/p2p\/[^/]+$/.test(address) ? address : `${address}/p2p/${peer.peerId}`;
      try {
        await kit.swarm.connect(full, { signal });
        return;
      } catch (error) {
        signal.throwIfAborted();
        last = error;
      }
    }
    throw last ?? new InvalidInputError(`Cannot connect: ${peer.peerId} announced no address`);
  };
}

/** Every discovered peer, one entry each (the remote server's view first, then ours). */
function discovered(clients: Map<"local" | "remote", DiscoveryClient>): DiscoveredPeer[] {
  const peers = new Map<string, DiscoveredPeer>();
  for (const via of ["remote", "local"] as const) {
    const client = clients.get(via);
    if (client === undefined) continue;
    const stats = new Map<string, PeerDialStats>(
      client.dialStats().map((entry) => [entry.peerId, entry]),
    );
    for (const info of client.knownPeers()) {
      if (info.peerId === client.peerId || peers.has(info.peerId)) continue;
      const dials = stats.get(info.peerId);
      const ended = (dials?.successes ?? 0) + (dials?.failures ?? 0);
      peers.set(info.peerId, {
        peerId: info.peerId,
        role: info.role,
        multiaddrs: info.multiaddrs,
        capabilities: info.capabilities,
        via,
        successRate: ended === 0 ? null : dials!.successRate,
        attempts: dials?.attempts ?? 0,
        connected: dials?.connected ?? false,
      });
    }
  }
  return [...peers.values()];
}

function clientMetrics(clients: Map<"local" | "remote", DiscoveryClient>): string {
  if (clients.size === 0) return "";
  const lines = [
    "# HELP ipfs_kit_discovery_client_connected Whether the node is announced to the server now.",
    "# TYPE ipfs_kit_discovery_client_connected gauge",
  ];
  const peers = [
    "# HELP ipfs_kit_discovery_client_peers Peers learnt from the server.",
    "# TYPE ipfs_kit_discovery_client_peers gauge",
  ];
  const dials = [
    "# HELP ipfs_kit_discovery_client_dials_total Dials of discovered peers by outcome.",
    "# TYPE ipfs_kit_discovery_client_dials_total counter",
  ];
  for (const [via, client] of clients) {
    lines.push(`ipfs_kit_discovery_client_connected{server="${via}"} ${client.connected ? 1 : 0}`);
    peers.push(`ipfs_kit_discovery_client_peers{server="${via}"} ${client.knownPeers().length}`);
    let successes = 0;
    let failures = 0;
    for (const stats of client.dialStats()) {
      successes += stats.successes;
      failures += stats.failures;
    }
    dials.push(
      `ipfs_kit_discovery_client_dials_total{server="${via}",outcome="success"} ${successes}`,
      `ipfs_kit_discovery_client_dials_total{server="${via}",outcome="failure"} ${failures}`,
    );
  }
  return [...lines, ...peers, ...dials, ""].join("\n");
}
