/**
 * The peer discovery server: a WebSocket route on the kit's HTTP layer
 * ({@linkcode createDiscoveryHandler}, for `serve()` or a `Router` of
 * `@ipfs-kit/kit/http`, or the daemon's extension routes) or a server of its
 * own on loopback ({@linkcode serveDiscovery}). Peers announce a signed
 * {@linkcode PeerInfo}, keep it alive with heartbeats, and ask for the
 * others by role and capabilities; the server tells every connection when
 * a peer joins or leaves.
 *
 * ## Protocol
 * Every message is one JSON object in a text frame. On connecting, the
 * server sends `{"type":"welcome","version":1,"ttlMs","heartbeatMs","maxMessageBytes"}`.
 *
 * | message | from | meaning |
 * |---|---|---|
 * | `{"type":"announce","peer"}` | client | its signed `PeerInfo` (one peer ID per connection); answered `{"type":"announced","peerId","seq","ttlMs"}` |
 * | `{"type":"heartbeat"}` | client | still here; answered `{"type":"heartbeat_ack","ttlMs"}` |
 * | `{"type":"peer_request","id"?,"role"?,"capabilities"?,"excludeSelf"?,"limit"?}` | client | answered `{"type":"peers","id","peers"}`: signed records (check them: `verifyPeerInfo`), most recently heard from first; `excludeSelf` defaults to true |
 * | `{"type":"peer_joined","peer"}` | server | a new peer announced itself |
 * | `{"type":"peer_left","peerId","reason"}` | server | a peer left (`left`), went silent past `ttlMs` (`expired`) or was evicted for a newer one past `maxPeers` (`evicted`) |
 * | `{"type":"error","code","message","id"?}` | server | a refused message, or why the connection closes |
 *
 * Error codes: `bad_json`, `bad_message`, `unknown_type`,
 * `unsupported_data` (a binary frame), `not_announced` (a heartbeat before
 * an announce), `peer_mismatch` (a second peer ID on one connection), the
 * signature checks of {@linkcode PeerInfoError} (`malformed_peer_info`,
 * `bad_peer_id`, `bad_signature`, `stale`, `future`, `replayed`), and,
 * closing the connection, `rate_limited` (1008), `too_many_bad_messages`
 * (1008), `expired` (1008), `too_many_connections` (1013),
 * `shutting_down` (1001). A message larger than `maxMessageBytes` is
 * refused by the HTTP layer before it is read: close 1009, reason
 * `Message too big: the limit is N bytes`.
 *
 * ## Limits
 * Sessions at once (`maxConnections`; sockets past it plus 16 get 503),
 * peers held (`maxPeers`; past it the one heard from longest ago is
 * evicted), the sequence numbers remembered for replay checks
 * (`4 * maxPeers` peer IDs), messages per second per connection, the
 * message size, the peers in one answer, and the HTTP layer's bounded send
 * queue (a client too slow to read is closed with 1013).
 *
 * ## Security
 * The HTTP layer's `AccessPolicy`: without a token, only loopback peers and
 * `Host` names are served; {@linkcode serveDiscovery} refuses any other
 * address without a token. Records are signed by the peers, not the
 * server: clients check what they receive.
 *
 * @module
 */

import { AccessPolicy, checkToken, isLoopbackHostname } from "../http/access.ts";
import { errorResponse, HttpError } from "../http/errors.ts";
import { serve } from "../http/server.ts";
import type { RequestInfo } from "../http/types.ts";
import { requireWebSocketUpgrade } from "../http/websocket_route.ts";
import type { WebSocketSession } from "../http/websocket.ts";
import { currentClock } from "../runtime/checkpoint.ts";
import type { Clock } from "../runtime/clock.ts";
import { sleep } from "../runtime/sleep.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import { BadMessage, parseClientMessage } from "./_discovery_messages.ts";
import { PeerRegistry } from "./_peer_registry.ts";
import { PeerInfoError } from "./errors.ts";
import { type PeerInfo, type PeerRole, verifyPeerInfo } from "./peer_info.ts";

/** Options for {@linkcode createDiscoveryHandler}. */
export interface DiscoveryHandlerOptions {
  /** The route's path. Default `"/api/v0/discovery"`. */
  path?: string;
  /** The token every upgrade must carry (16 to 1024 visible ASCII characters). Without one, loopback only. */
  token?: string;
  /** Browser origins allowed besides the server's own. */
  allowedOrigins?: readonly string[];
  /** Sessions at once; more are told `too_many_connections` and closed (1013). Default 256. */
  maxConnections?: number;
  /** Peers held; past it the one heard from longest ago is evicted. Default 1024. */
  maxPeers?: number;
  /** A peer not heard from for this long expires, in ms. Default 90 000. */
  ttlMs?: number;
  /** The heartbeat interval the welcome suggests, in ms. Default `ttlMs / 3`. */
  heartbeatMs?: number;
  /** The largest message, in bytes. Default 16 KiB. */
  maxMessageBytes?: number;
  /** Messages per second per connection on average. Default 20. */
  ratePerSecond?: number;
  /** Messages at once above the rate. Default 40. */
  burst?: number;
  /** Refused messages before the connection is closed. Default 8. */
  maxBadMessages?: number;
  /** The most peers in one answer. Default 100. */
  maxPeersPerAnswer?: number;
  /** The oldest signature accepted, in ms. Default 600 000. */
  maxAgeMs?: number;
  /** How far ahead a signature may be dated, in ms. Default 60 000. */
  maxSkewMs?: number;
  /** Wall-clock time for signature ages, in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Told of unexpected errors. Default `console.error`. */
  onError?: (error: unknown) => void;
}

/** Counters of a discovery handler. */
export interface DiscoveryStats {
  /** Sessions open now. */
  connections: number;
  /** Peers held now. */
  peers: number;
  /** Peers held now, by role. */
  roles: Record<PeerRole, number>;
  /** Announces accepted. */
  announces: number;
  /** Peer requests answered. */
  requests: number;
  /** Messages refused, by error code (a bounded set). */
  refused: Record<string, number>;
  /** Peers expired (silent past `ttlMs`). */
  expired: number;
  /** Peers evicted (past `maxPeers`). */
  evicted: number;
}

/**
 * The discovery route's handler for the kit's HTTP layer: answers the
 * route's WebSocket upgrade (404 elsewhere), with the layer's access rules.
 * Its expiry task runs in the cancel scope it was created in: close it
 * before that scope ends.
 */
export interface DiscoveryHandler extends AsyncDisposable {
  /**
   * Answers a request.
   *
   * @param request The request.
   * @param info The connection's info, from the kit's HTTP layer.
   * @returns The response; never rejects.
   */
  (request: Request, info?: RequestInfo | Deno.ServeHandlerInfo): Promise<Response>;
  /** The route's path. */
  readonly path: string;
  /**
   * The peers held now.
   *
   * @returns Their signed records.
   */
  peers(): PeerInfo[];
  /**
   * Its counters.
   *
   * @returns A snapshot.
   */
  stats(): DiscoveryStats;
  /**
   * Prometheus text (bounded labels: roles and error codes), for `/metrics`.
   *
   * @returns The text.
   */
  metrics(): string;
  /** Closes every session (1001) and stops the expiry task. Idempotent. */
  close(): Promise<void>;
}

const REFUSAL_CODES = [
  "bad_json",
  "bad_message",
  "unknown_type",
  "unsupported_data",
  "not_announced",
  "peer_mismatch",
  "malformed_peer_info",
  "bad_peer_id",
  "bad_signature",
  "stale",
  "future",
  "replayed",
  "rate_limited",
  "too_many_bad_messages",
  "too_many_connections",
] as const;

/** One connection. */
class Session {
  readonly socket: WebSocketSession;
  peerId: string | undefined;
  tokens: number;
  refilledAt: number;
  bad = 0;
  constructor(socket: WebSocketSession, burst: number, now: number) {
    this.socket = socket;
    this.tokens = burst;
    this.refilledAt = now;
  }
  send(value: unknown): void {
    if (this.socket.state === "open") this.socket.send(JSON.stringify(value));
  }
}

/**
 * Makes the discovery route's handler; see the module documentation for
 * the protocol, the limits and the security rules.
 *
 * @param options The path, a token, limits, the TTL.
 * @returns The handler.
 * @throws {TypeError} An option has the wrong type.
 * @throws {RangeError} A number is out of range.
 *
 * @example Mount it beside routes of your own
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@ipfs-kit/kit/http";
 * import { createDiscoveryHandler } from "@ipfs-kit/kit/net";
 *
 * await using handler = createDiscoveryHandler({ path: "/discovery" });
 * await using server = serve((request, info) =>
 *   new URL(request.url).pathname === "/discovery" ? handler(request, info) : new Response("home")
 * );
 * const socket = new WebSocket(`${server.url.replace("http", "ws")}/discovery`);
 * const welcome = Promise.withResolvers<{ type: string }>();
 * socket.onmessage = (event) => welcome.resolve(JSON.parse(event.data));
 * assert.equal((await welcome.promise).type, "welcome");
 * const closed = Promise.withResolvers<void>();
 * socket.onclose = () => closed.resolve();
 * socket.close();
 * await closed.promise;
 * assert.equal(handler.stats().peers, 0);
 * ```
 */
export function createDiscoveryHandler(options: DiscoveryHandlerOptions = {}): DiscoveryHandler {
  const what = "Cannot create discovery handler";
  const path = options.path ?? "/api/v0/discovery";
  if (typeof path !== "string" || !/^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/.test(path)) {
    throw new TypeError(`${what}: path must be an absolute path such as "/api/v0/discovery"`);
  }
  const positive = (name: keyof DiscoveryHandlerOptions, fallback: number): number => {
    const value = options[name] ?? fallback;
    if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(`${what}: ${name} must be a positive number: received ${value}`);
    }
    return value;
  };
  const maxConnections = positive("maxConnections", 256);
  const maxPeers = positive("maxPeers", 1024);
  const ttlMs = positive("ttlMs", 90_000);
  const heartbeatMs = positive("heartbeatMs", Math.max(1, Math.floor(ttlMs / 3)));
  const maxMessageBytes = positive("maxMessageBytes", 16 * 1024);
  const ratePerSecond = positive("ratePerSecond", 20);
  const burst = positive("burst", 40);
  const maxBadMessages = positive("maxBadMessages", 8);
  const maxPeersPerAnswer = positive("maxPeersPerAnswer", 100);
  const maxAgeMs = positive("maxAgeMs", 600_000);
  const maxSkewMs = positive("maxSkewMs", 60_000);
  const wallNow = options.now ?? Date.now;
  if (typeof wallNow !== "function") throw new TypeError(`${what}: now must be a function`);
  const onError = options.onError ?? console.error;
  const access = new AccessPolicy({
    token: options.token,
    allowedOrigins: options.allowedOrigins,
    realm: "ipfs-kit-discovery",
  }, what);

  const clock: Clock = currentClock();
  const registry = new PeerRegistry<Session>(maxPeers, maxPeers * 4);
  const sessions = new Set<Session>();
  const refused: Record<string, number> = Object.fromEntries(REFUSAL_CODES.map((c) => [c, 0]));
  const counters = { announces: 0, requests: 0, expired: 0, evicted: 0 };
  let sockets = 0;
  let closing: Promise<void> | undefined;

  const broadcast = (message: unknown, except?: Session) => {
    const text = JSON.stringify(message);
    for (const session of sessions) {
      if (session !== except && session.socket.state === "open") session.socket.send(text);
    }
  };

  const peerLeft = (peerId: string, reason: "left" | "expired" | "evicted", owner?: Session) => {
    broadcast({ type: "peer_left", peerId, reason }, reason === "left" ? owner : undefined);
  };

  const refuse = (session: Session, code: string, message: string, id?: unknown) => {
    if (code in refused) refused[code]++;
    session.send({ type: "error", code, message, ...(id === undefined ? {} : { id }) });
    if (++session.bad > maxBadMessages) {
      refused.too_many_bad_messages++;
      session.send({
        type: "error",
        code: "too_many_bad_messages",
        message: `Closing: more than ${maxBadMessages} refused messages`,
      });
      session.socket.close(1008, "too_many_bad_messages");
    }
  };

  const announce = async (session: Session, peer: unknown) => {
    const claimed = (peer as { peerId?: unknown } | null)?.peerId;
    if (session.peerId !== undefined && claimed !== session.peerId) {
      return refuse(
        session,
        "peer_mismatch",
        `Cannot accept announce: this connection announced ${session.peerId}; one peer per connection`,
      );
    }
    const lastSeq = typeof claimed === "string" ? registry.lastSeq(claimed) : undefined;
    let info: PeerInfo;
    try {
      info = await verifyPeerInfo(peer, { now: wallNow(), maxAgeMs, maxSkewMs, lastSeq });
      const latest = registry.lastSeq(info.peerId);
      if (latest !== undefined && info.seq <= latest) {
        throw new PeerInfoError(
          `Cannot accept peer info: sequence number ${info.seq} of ${info.peerId} is not above ${latest}, the last one accepted (a replay)`,
          "replayed",
        );
      }
    } catch (error) {
      if (error instanceof PeerInfoError) return refuse(session, error.code, error.message);
      throw error;
    }
    if (session.socket.state !== "open" || closing !== undefined) return;
    const { added, previous, evicted } = registry.put(info, session, clock.now());
    counters.announces++;
    session.peerId = info.peerId;
    if (previous !== undefined && previous.owner !== session) previous.owner.peerId = undefined;
    if (evicted !== undefined) {
      counters.evicted++;
      evicted.owner.peerId = undefined;
      peerLeft(evicted.info.peerId, "evicted");
    }
    session.send({ type: "announced", peerId: info.peerId, seq: info.seq, ttlMs });
    if (added || previous?.info.multiaddrs.join() !== info.multiaddrs.join()) {
      broadcast({ type: "peer_joined", peer: info }, session);
    }
  };

  const handle = async (session: Session, data: unknown) => {
    let message;
    try {
      message = parseClientMessage(data);
    } catch (error) {
      if (error instanceof BadMessage) return refuse(session, error.code, error.message);
      throw error;
    }
    switch (message.type) {
      case "announce":
        return await announce(session, message.peer);
      case "heartbeat":
        if (session.peerId === undefined) {
          return refuse(
            session,
            "not_announced",
            "Cannot take heartbeat: announce first (or again: the peer expired or was evicted)",
          );
        }
        registry.touch(session.peerId, clock.now());
        session.send({ type: "heartbeat_ack", ttlMs });
        return;
      case "peer_request": {
        counters.requests++;
        if (session.peerId !== undefined) registry.touch(session.peerId, clock.now());
        const peers = registry.query(
          { role: message.role, capabilities: message.capabilities },
          message.excludeSelf ? session.peerId : undefined,
          Math.min(message.limit ?? maxPeersPerAnswer, maxPeersPerAnswer),
        );
        session.send({ type: "peers", id: message.id ?? null, peers });
        return;
      }
    }
  };

  const runSession = async (socket: WebSocketSession) => {
    const session = new Session(socket, burst, clock.now());
    if (closing !== undefined) {
      session.send({ type: "error", code: "shutting_down", message: "The server shuts down" });
      socket.close(1001, "shutting_down");
      return;
    }
    if (sessions.size >= maxConnections) {
      refused.too_many_connections++;
      session.send({
        type: "error",
        code: "too_many_connections",
        message: `Cannot connect: ${maxConnections} sessions are open; try again later`,
      });
      socket.close(1013, "too_many_connections");
      return;
    }
    sessions.add(session);
    try {
      session.send({ type: "welcome", version: 1, ttlMs, heartbeatMs, maxMessageBytes });
      for (;;) {
        const data = await socket.receive();
        if (data === undefined) return;
        const now = clock.now();
        session.tokens = Math.min(
          burst,
          session.tokens + ((now - session.refilledAt) / 1000) * ratePerSecond,
        );
        session.refilledAt = now;
        if (session.tokens < 1) {
          refused.rate_limited++;
          session.send({
            type: "error",
            code: "rate_limited",
            message: `Closing: more than ${ratePerSecond} messages a second`,
          });
          socket.close(1008, "rate_limited");
          return;
        }
        session.tokens -= 1;
        await handle(session, data);
      }
    } finally {
      sessions.delete(session);
      const peerId = session.peerId;
      if (peerId !== undefined && registry.get(peerId)?.owner === session) {
        registry.remove(peerId);
        peerLeft(peerId, "left", session);
      }
    }
  };

  const group = new TaskGroup();
  group.spawn(async () => {
    const every = Math.max(10, Math.min(ttlMs / 4, 5_000));
    for (;;) {
      await sleep(every);
      for (const entry of registry.expire(clock.now() - ttlMs)) {
        counters.expired++;
        const owner = entry.owner;
        owner.peerId = undefined;
        owner.send({
          type: "error",
          code: "expired",
          message: `Closing: no heartbeat within ${ttlMs} ms`,
        });
        owner.socket.close(1008, "expired");
        peerLeft(entry.info.peerId, "expired");
      }
    }
  }, { name: "discovery expiry" });

  const respond = (request: Request, info?: RequestInfo | Deno.ServeHandlerInfo): Response => {
    const url = new URL(request.url);
    if (url.pathname !== path) throw new HttpError(404, "not_found", "No such route");
    if (closing !== undefined) {
      throw new HttpError(503, "shutting_down", "The server is shutting down");
    }
    access.check(request, url, info);
    const kitInfo = requireWebSocketUpgrade(request, info, "Cannot connect", "discovery");
    if (sockets >= maxConnections + 16) {
      throw new HttpError(
        503,
        "too_many_connections",
        `Cannot connect: ${sockets} sockets are open`,
      );
    }
    const response = kitInfo.upgradeWebSocket({
      maxMessageBytes,
      maxQueuedMessages: 512,
      onSocket: async (socket) => {
        try {
          await runSession(socket);
        } catch (error) {
          onError(error);
          throw error;
        }
      },
      onClosed: () => {
        sockets--;
      },
    });
    sockets++;
    return response;
  };

  const handler = ((request: Request, info?: RequestInfo | Deno.ServeHandlerInfo) => {
    try {
      return Promise.resolve(respond(request, info));
    } catch (error) {
      if (error instanceof HttpError) return Promise.resolve(errorResponse(error));
      onError(error);
      return Promise.resolve(
        errorResponse(new HttpError(500, "internal_error", "Cannot connect: internal error")),
      );
    }
  }) as DiscoveryHandler;

  const stats = (): DiscoveryStats => ({
    connections: sessions.size,
    peers: registry.size,
    roles: registry.byRole(),
    ...counters,
    refused: { ...refused },
  });

  const metrics = (): string => {
    const s = stats();
    const p = "ipfs_kit_discovery_";
    const lines: string[] = [];
    const one = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${p}${name} ${help}`, `# TYPE ${p}${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${p}${name}${labels} ${value}`);
    };
    one("connections", "gauge", "Discovery sessions open.", [["", s.connections]]);
    one(
      "peers",
      "gauge",
      "Peers announced and held, by role.",
      Object.entries(s.roles).map(([role, n]) => [`{role="${role}"}`, n]),
    );
    one("announces_total", "counter", "Announces accepted.", [["", s.announces]]);
    one("requests_total", "counter", "Peer requests answered.", [["", s.requests]]);
    one("expired_total", "counter", "Peers expired for want of heartbeats.", [["", s.expired]]);
    one("evicted_total", "counter", "Peers evicted past max_peers.", [["", s.evicted]]);
    one(
      "refused_total",
      "counter",
      "Messages and connections refused, by error code.",
      Object.entries(s.refused).map(([code, n]) => [`{code="${code}"}`, n]),
    );
    return lines.join("\n") + "\n";
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const session of sessions) {
        session.send({ type: "error", code: "shutting_down", message: "The server shuts down" });
        session.socket.close(1001, "shutting_down");
      }
      group.cancelScope.cancel("the discovery handler closed");
      await group.join();
      for (const session of [...sessions]) await session.socket.closed();
    })();
    return closing;
  };

  Object.defineProperties(handler, {
    path: { value: path, enumerable: true },
    peers: { value: () => registry.all() },
    stats: { value: stats },
    metrics: { value: metrics },
    close: { value: close },
    [Symbol.asyncDispose]: { value: close },
  });
  return handler;
}

/** Options for {@linkcode serveDiscovery}. */
export interface ServeDiscoveryOptions extends DiscoveryHandlerOptions {
  /** The address to listen on. Default `"127.0.0.1"`; any other than loopback needs a `token`. */
  hostname?: string;
  /** The port; default 0, a free one. */
  port?: number;
}

/** A running discovery server, from {@linkcode serveDiscovery}; `await using` shuts it down. */
export interface DiscoveryServer extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  /** The discovery URL, such as `ws://127.0.0.1:41234/api/v0/discovery`. */
  readonly url: string;
  /** The handler it serves. */
  readonly handler: DiscoveryHandler;
  /** Ends every session, then stops listening. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Serves the discovery route with the kit's HTTP server, on 127.0.0.1 and
 * a free port unless told otherwise. A hostname that is not a loopback
 * address needs a `token`.
 *
 * @param options Where to listen, a token, the handler's options.
 * @returns The running server.
 * @throws {TypeError} The hostname is not loopback and no token is set, or an option has the wrong type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveDiscovery } from "@ipfs-kit/kit/net";
 *
 * assert.throws(() => serveDiscovery({ hostname: "0.0.0.0" }), TypeError);
 * await using server = serveDiscovery();
 * assert.match(server.url, /^ws:\/\/127\.0\.0\.1:\d+\/api\/v0\/discovery$/);
 * ```
 */
export function serveDiscovery(options: ServeDiscoveryOptions = {}): DiscoveryServer {
  const what = "Cannot serve discovery";
  const { hostname = "127.0.0.1", port = 0, ...handlerOptions } = options;
  if (typeof hostname !== "string" || hostname.length === 0) {
    throw new TypeError(`${what}: hostname must be a non-empty string`);
  }
  checkToken(handlerOptions.token, what);
  if (handlerOptions.token === undefined && !isLoopbackHostname(hostname)) {
    throw new TypeError(
      `${what}: hostname ${
        JSON.stringify(hostname)
      } is not a loopback address: set a token to serve beyond this machine`,
    );
  }
  const handler = createDiscoveryHandler(handlerOptions);
  let server;
  try {
    server = serve(handler, {
      hostname,
      port,
      token: handlerOptions.token,
      allowedOrigins: handlerOptions.allowedOrigins,
      realm: "ipfs-kit-discovery",
      onError: handlerOptions.onError,
      maxConnections: (handlerOptions.maxConnections ?? 256) + 32,
    });
  } catch (error) {
    void handler.close();
    throw error;
  }
  const started = server;
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      await handler.close();
      await started.shutdown();
    })();
    return stopping;
  };
  return {
    addr: server.addr,
    url: `${server.url.replace(/^http/, "ws")}${handler.path}`,
    handler,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
