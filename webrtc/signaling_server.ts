/**
 * Signaling over WebSocket: a route to mount in a server of your own
 * ({@linkcode createSignalingHandler}; the daemon mounts it) or a server of
 * its own on loopback ({@linkcode serveSignaling}), handing each session to
 * a {@linkcode StreamingManager}.
 *
 * ## Protocol
 * Every message is one JSON object in a text frame. On connecting, the
 * server sends `{"type":"welcome","version":1,"connectionId","offerer"}`;
 * `offerer` says who makes the offer (`"server"`, the default, or
 * `"client"`). Then, either way:
 *
 * | message | from | meaning |
 * |---|---|---|
 * | `{"type":"offer","sdp"}` | the offerer | its session description |
 * | `{"type":"answer","sdp"}` | the other side | its answer |
 * | `{"type":"candidate","candidate","sdpMid"}` | both | a trickled ICE candidate (`""`: no more); held until the remote description is set (at most `maxQueuedCandidates`) |
 * | `{"type":"stats_request","id"}` | the client | answered `{"type":"stats","id","stats"}` with the connection's {@linkcode ConnectionStats} |
 * | `{"type":"close","reason"?}` | both | closes the connection |
 * | `{"type":"error","code","message"}` | the server | a refused message or a failure |
 *
 * Error codes: `bad_json`, `bad_message` (a missing, mistyped or unknown
 * field), `unknown_type`, `unsupported_data` (a binary frame),
 * `out_of_order` (an offer to the offerer, an answer with no offer, a
 * second one), `bad_sdp`, `bad_candidate`, `too_many_candidates`,
 * `timeout` (not connected within `negotiationTimeoutMs`),
 * `too_many_connections`, `shutting_down`, `message_too_large`,
 * `rate_limited`, `too_many_messages`. After `maxBadMessages` refused
 * messages, and on `bad_sdp`, `too_many_candidates` and `timeout`, the
 * server closes the connection. The socket closes with 1009 for a message
 * over `maxSignalingMessageBytes`, 1008 for a flood beyond
 * `signalingRatePerSecond` and for a failed negotiation, 1013 when the
 * manager is full, 1001 when it shuts down. The socket and the connection
 * live and die together.
 *
 * ## Security
 * As the WAL's HTTP API: without a `token`, only loopback peers and
 * loopback `Host` names are served (no DNS rebinding); {@linkcode serveSignaling}
 * listens on 127.0.0.1 and refuses any other address without a token. With
 * a token, the upgrade needs `Authorization: Bearer <token>` or, for a
 * browser's `WebSocket`, `?token=<token>` (compared in constant time). A
 * request with an `Origin` (a browser's) is refused unless the origin is
 * the server's own or one of `allowedOrigins`.
 *
 * @module
 */

import { isCancellationError } from "../runtime/errors.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import type { StreamingManager } from "./streaming_manager.ts";
import {
  bearerToken,
  checkToken,
  isLoopbackHostname,
  isLoopbackPeer,
  originOf,
  TokenMatcher,
} from "./_security.ts";

/** Options for {@linkcode createSignalingHandler}. */
export interface SignalingHandlerOptions {
  /** The route's path. Default `"/webrtc/signaling"`. */
  path?: string;
  /**
   * The token every upgrade must carry (16 to 1024 visible ASCII
   * characters). Without one, only loopback peers and `Host` names are served.
   */
  token?: string;
  /** Browser origins (`"https://app.example"`) allowed besides the server's own. */
  allowedOrigins?: readonly string[];
  /** Sockets at once, sessions being refused included; more get 503. Default the manager's `maxConnections` + 8. */
  maxSockets?: number;
  /** Told of unexpected errors of a session. Default `console.error`. */
  onError?: (error: unknown) => void;
}

/**
 * A request handler for `Deno.serve`: answers the signaling route's
 * WebSocket upgrade (404 elsewhere) and runs each session in a task group
 * of its own, made in the cancel scope the handler was made in. Close it
 * before that scope ends.
 */
export interface SignalingHandler extends AsyncDisposable {
  /**
   * Answers a request.
   *
   * @param request The request.
   * @param info The connection's info (its `remoteAddr` is checked when no token is set).
   * @returns The response; never rejects.
   */
  (request: Request, info?: Deno.ServeHandlerInfo): Promise<Response>;
  /** The route's path. */
  readonly path: string;
  /** Sockets open now. */
  readonly sockets: number;
  /** Ends every session (the manager's connections with them) and waits for them. Idempotent. */
  close(): Promise<void>;
}

/**
 * Makes the signaling route's handler for `manager`; see the module
 * documentation for the protocol and the security rules.
 *
 * @param manager Where the sessions go.
 * @param options The path, a token, allowed origins, limits.
 * @returns The handler.
 * @throws {TypeError} An option has the wrong type.
 * @throws {RangeError} The token's length or a number is out of range.
 *
 * @example Mount it beside routes of your own
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { connectWebRtc, createSignalingHandler, StreamingManager } from "@ipfs-kit/kit/webrtc";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add("mounted");
 * await using manager = new StreamingManager(node, { bindAddress: "127.0.0.1" });
 * await using handler = createSignalingHandler(manager, { path: "/rtc" });
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request, info) =>
 *   new URL(request.url).pathname === "/rtc" ? handler(request, info) : new Response("home"));
 * const url = `ws://127.0.0.1:${server.addr.port}/rtc`;
 * await using connection = await connectWebRtc(url, { bindAddress: "127.0.0.1" });
 * assert.equal(await new Response(connection.open(cid)).text(), "mounted");
 * ```
 */
export function createSignalingHandler(
  manager: StreamingManager,
  options: SignalingHandlerOptions = {},
): SignalingHandler {
  const what = "Cannot create signaling handler";
  if (manager === null || typeof manager !== "object" || typeof manager.accept !== "function") {
    throw new TypeError(`${what}: manager must be a StreamingManager`);
  }
  const path = options.path ?? "/webrtc/signaling";
  if (typeof path !== "string" || !/^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/.test(path)) {
    throw new TypeError(`${what}: path must be an absolute path such as "/webrtc/signaling"`);
  }
  const token = checkToken(options.token, what);
  const matcher = token === undefined ? undefined : new TokenMatcher(token);
  const allowed = new Set<string>();
  for (const entry of options.allowedOrigins ?? []) {
    const origin = typeof entry === "string" ? originOf(entry) : undefined;
    if (origin === undefined || origin !== entry.toLowerCase().replace(/\/$/, "")) {
      throw new TypeError(
        `${what}: allowedOrigins must hold origins such as "https://example.com"`,
      );
    }
    allowed.add(origin);
  }
  const maxSockets = options.maxSockets ?? manager.maxConnections + 8;
  if (!Number.isSafeInteger(maxSockets) || maxSockets < 1) {
    throw new RangeError(`${what}: maxSockets must be a positive integer`);
  }
  const onError = options.onError ?? console.error;
  const group = new TaskGroup();
  let sockets = 0;
  let closing: Promise<void> | undefined;

  const refuse = (status: number, code: string, message: string, headers: HeadersInit = {}) =>
    Response.json({ error: { code, message } }, { status, headers });

  const handle = (request: Request, info?: Deno.ServeHandlerInfo): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname !== path) return Promise.resolve(refuse(404, "not_found", "No such route"));
    if (closing !== undefined) {
      return Promise.resolve(refuse(503, "shutting_down", "The server is shutting down"));
    }
    if (request.method !== "GET") {
      return Promise.resolve(refuse(405, "method_not_allowed", "Only GET", { allow: "GET" }));
    }
    if (matcher === undefined) {
      if (!isLoopbackPeer(info?.remoteAddr)) {
        return Promise.resolve(
          refuse(
            403,
            "forbidden_peer",
            "Cannot connect: without a token only this machine is served",
          ),
        );
      }
      if (!isLoopbackHostname(url.hostname)) {
        return Promise.resolve(
          refuse(
            403,
            "forbidden_host",
            "Cannot connect: without a token only loopback host names are served",
          ),
        );
      }
    }
    const originHeader = request.headers.get("origin");
    if (originHeader !== null) {
      const origin = originOf(originHeader);
      const own = origin !== undefined && new URL(origin).host === url.host.toLowerCase();
      if (!own && !(origin !== undefined && allowed.has(origin))) {
        return Promise.resolve(
          refuse(
            403,
            "forbidden_origin",
            `Cannot connect: origin not allowed: ${originHeader.slice(0, 200)}`,
          ),
        );
      }
    }
    if (matcher !== undefined) {
      let candidate = bearerToken(request.headers.get("authorization"));
      if (candidate === undefined) {
        const values = url.searchParams.getAll("token");
        if (values.length === 1) candidate = values[0];
      }
      if (!matcher.matches(candidate)) {
        return Promise.resolve(
          refuse(401, "unauthorized", "Cannot connect: a valid bearer token is required", {
            "www-authenticate": 'Bearer realm="ipfs-kit-webrtc"',
          }),
        );
      }
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Promise.resolve(
        refuse(426, "upgrade_required", "Cannot connect: a WebSocket upgrade is required", {
          upgrade: "websocket",
        }),
      );
    }
    if (sockets >= maxSockets) {
      return Promise.resolve(
        refuse(503, "too_many_connections", `Cannot connect: ${maxSockets} sockets are open`),
      );
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(request);
    } catch (error) {
      return Promise.resolve(
        refuse(400, "invalid_request", `Cannot connect: ${(error as Error).message}`),
      );
    }
    sockets++;
    group.spawn(async () => {
      try {
        await manager.accept(upgraded.socket);
      } catch (error) {
        if (isCancellationError(error)) throw error;
        onError(error);
      } finally {
        sockets--;
      }
    }, { name: "webrtc signaling session" });
    return Promise.resolve(upgraded.response);
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      group.cancelScope.cancel("the signaling handler closed");
      await group.join();
    })();
    return closing;
  };

  const handler = handle as SignalingHandler;
  Object.defineProperties(handler, {
    path: { value: path, enumerable: true },
    sockets: { get: () => sockets, enumerable: true },
    close: { value: close },
    [Symbol.asyncDispose]: { value: close },
  });
  return handler;
}

/** Options for {@linkcode serveSignaling}. */
export interface ServeSignalingOptions extends SignalingHandlerOptions {
  /** The address to listen on. Default `"127.0.0.1"`; any other than loopback needs a `token`. */
  hostname?: string;
  /** The port; default 0, a free one. */
  port?: number;
}

/** A running signaling server, from {@linkcode serveSignaling}; `await using` shuts it down. */
export interface SignalingServer extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  /** The signaling URL, such as `ws://127.0.0.1:41234/webrtc/signaling`. */
  readonly url: string;
  /** The handler it serves. */
  readonly handler: SignalingHandler;
  /** Closes every session, then stops listening. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Serves the signaling route for `manager` with `Deno.serve`, on 127.0.0.1
 * and a free port unless told otherwise. A hostname that is not a loopback
 * address needs a `token`.
 *
 * @param manager Where the sessions go.
 * @param options Where to listen, a token, the handler's options.
 * @returns The running server.
 * @throws {TypeError} The hostname is not loopback and no token is set, or an option has the wrong type.
 *
 * @example A token is needed beyond loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { serveSignaling, StreamingManager } from "@ipfs-kit/kit/webrtc";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * await using manager = new StreamingManager(node);
 * assert.throws(() => serveSignaling(manager, { hostname: "0.0.0.0" }), TypeError);
 * await using server = serveSignaling(manager);
 * assert.match(server.url, /^ws:\/\/127\.0\.0\.1:\d+\/webrtc\/signaling$/);
 * ```
 */
export function serveSignaling(
  manager: StreamingManager,
  options: ServeSignalingOptions = {},
): SignalingServer {
  const what = "Cannot serve signaling";
  const { hostname = "127.0.0.1", port = 0, ...handlerOptions } = options;
  if (typeof hostname !== "string" || hostname.length === 0) {
    throw new TypeError(`${what}: hostname must be a non-empty string`);
  }
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${what}: port must be an integer from 0 to 65535: received ${port}`);
  }
  checkToken(handlerOptions.token, what);
  if (handlerOptions.token === undefined && !isLoopbackHostname(hostname)) {
    throw new TypeError(
      `${what}: hostname ${
        JSON.stringify(hostname)
      } is not a loopback address: set a token to serve beyond this machine`,
    );
  }
  // Requests come only once Deno.serve returned: the handler is made then,
  // so that a failed listen leaves nothing to close.
  let handler: SignalingHandler | undefined;
  const server = Deno.serve(
    { hostname, port, onListen() {} },
    (request, info) => handler!(request, info),
  );
  try {
    handler = createSignalingHandler(manager, handlerOptions);
  } catch (error) {
    void server.shutdown();
    throw error;
  }
  const routes = handler;
  const host = server.addr.hostname.includes(":")
    ? `[${server.addr.hostname}]`
    : server.addr.hostname;
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      await routes.close();
      await server.shutdown();
    })();
    return stopping;
  };
  return {
    addr: server.addr,
    url: `ws://${host}:${server.addr.port}${routes.path}`,
    handler: routes,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
