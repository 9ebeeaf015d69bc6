/**
 * The write-ahead log's HTTP API: a handler to mount in a server of the
 * kit's HTTP layer ({@linkcode createWalHandler}; `serve()` or a `Router` of
 * `@ipfs-kit/kit/http`, or `Deno.serve` for the routes other than the
 * feed), or a server of its own on loopback ({@linkcode serveWal}, in
 * `http_server.ts`), with a live WebSocket feed (see `ws_feed.ts` for its
 * protocol).
 *
 * ## Routes
 * Under `basePath` (default `/api/v0/wal`); bodies and answers are JSON.
 *
 * | route | answer |
 * |---|---|
 * | `GET /operations?state=&type=&limit=&after=&order=&params=` | `{ operations, next }`: a page, as {@linkcode WriteAheadLog.list} |
 * | `POST /operations` `{ type, params, maxAttempts? }` | 201 and the operation, `pending` |
 * | `GET /operations/:id?params=` | the operation |
 * | `POST /operations/:id/retry` | the operation, `pending` (409 when it completed or runs) |
 * | `POST /operations/:id/cancel` | the operation, `cancelled` (409 when it finished otherwise; 202 when it still runs after `requestTimeoutMs`) |
 * | `GET /stats` | the telemetry snapshot ({@linkcode WalTelemetrySnapshot}) |
 * | `GET /health` | {@linkcode WalHealth}; 503 once the log is closed |
 * | `GET /metrics` | Prometheus text, `text/plain; version=0.0.4` |
 * | `GET /feed` | WebSocket upgrade: the live feed (on the kit's HTTP server only) |
 *
 * Every `GET` route answers `HEAD` with its head alone.
 *
 * List queries: `state` (repeatable, or comma-separated), `type`
 * (repeatable), `limit` (1 to 10 000, default 100), `after` (the `next`
 * of the previous page), `order` (`asc`, the default, or `desc`), `params`
 * (`true` to include each operation's parameters; default `false`).
 * `GET /operations/:id` includes them unless `params=false`. Unknown query
 * parameters are refused.
 *
 * ## Values
 * Operations are {@linkcode OperationJson}. Parameters and results are
 * JSON with byte arrays and CIDs in their DAG-JSON forms:
 * `{"/": {"bytes": "<base64>"}}` (standard alphabet; padding optional on
 * input, left out on output) and `{"/": "<cid>"}`. Any other object with
 * the key `"/"` is refused. So a block is submitted as
 * `{"type": "blockPut", "params": {"bytes": {"/": {"bytes": "AQID"}}}}`,
 * and text to add as `{"type": "add", "params": {"content": "hello"}}`.
 * The parameters of the built-in types are checked on submission.
 *
 * ## Errors
 * Every error is `{ "error": { "code", "message", ... } }` with a 4xx or
 * 5xx status: 400 `bad_json`, `invalid_request`, `invalid_parameter`,
 * `invalid_id`, `unexpected_body`; 401 `unauthorized`; 403
 * `forbidden_peer`, `forbidden_host`, `forbidden_origin`; 404 `not_found`;
 * 405 `method_not_allowed`; 409 `invalid_state`; 413 `body_too_large`; 414
 * `uri_too_long`; 415 `unsupported_media_type`; 426 `upgrade_required`;
 * 501 `not_implemented` (the feed outside the kit's HTTP server); 503
 * `closed`, `failed`, `shutting_down`, `too_many_connections`, `busy` (the
 * log holds `maxPending` unfinished operations, or `maxPendingBytes` of
 * them: with `Retry-After`); 504 `timeout`; 507 `disk_full`; 500
 * `internal_error` (the error goes to `onError`, not to the client). The
 * server itself answers malformed requests (400, 414, 431, 501, 505) and
 * closes their connections.
 *
 * ## Security
 * The rules are the HTTP layer's `AccessPolicy`, checked by the server for
 * every request and again by the handler (which may be mounted elsewhere).
 * Without a `token`, the handler serves only this machine: requests from a
 * peer that is not on a loopback address get 403 `forbidden_peer` (so do
 * requests without connection info: the check fails closed), and
 * requests whose `Host` is not a loopback name (`localhost`, `127.0.0.1`,
 * `[::1]`) get 403 `forbidden_host`, so a web page cannot reach the API
 * through DNS rebinding. With a `token`, every route, the feed's upgrade
 * included, needs `Authorization: Bearer <token>` (compared in constant
 * time); a browser's `WebSocket`, which cannot set headers, may pass
 * `?token=<token>` on `/feed` instead (it may then show in logs of proxies
 * on the way). A request with an `Origin` header (a browser's) is refused
 * unless the origin is the server's own or one of `allowedOrigins`, which
 * also get CORS headers. Bodies are read up to `maxBodyBytes` and no
 * further (413); every path segment, query parameter, body field and feed
 * message is checked. The listener of {@linkcode serveWal} bounds open
 * connections, the time a request's head may take and idle connections;
 * feed messages are refused past `maxMessageBytes` before they are read.
 *
 * @example Serve a log on loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveWal, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using wal = await WriteAheadLog.open(dir);
 * {
 *   await using server = serveWal(wal); // 127.0.0.1, a free port
 *   const response = await fetch(`${server.url}/operations`, {
 *     method: "POST",
 *     headers: { "content-type": "application/json" },
 *     body: JSON.stringify({ type: "pin", params: { cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" } }),
 *   });
 *   const operation = await response.json();
 *   assert(response.status === 201 && operation.state === "pending");
 * }
 * await wal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import type { RequestInfo } from "../http/types.ts";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { isCancellationError } from "../runtime/errors.ts";
import { Event } from "../runtime/event.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import { configure, describeValue, type HandlerConfig } from "./_http_config.ts";
import { operationJson } from "./_http_json.ts";
import {
  checkId,
  checkKeys,
  parseBoolean,
  parseListQuery,
  parseSubmission,
} from "./_http_params.ts";
import {
  baseHeaders,
  errorResponse,
  HttpError,
  jsonResponse,
  readJsonBody,
  walHttpError,
} from "./_http_response.ts";
import { findRoute, type Route, subPath } from "./_http_router.ts";
import { EventMemo, FeedConnection } from "./_ws_connection.ts";
import { FEED_CLOSE_CODES } from "./ws_feed.ts";
import type { WalHandlerOptions } from "./types.ts";
import type { WriteAheadLog } from "./write_ahead_log.ts";

const MAX_URL_LENGTH = 8 * 1024;
const WS_KEY_HEADER = "sec-websocket-key";

/**
 * A request handler for `Deno.serve` (call it with the request and the
 * handler info), plus what it owns: the feed's connections, which live in
 * a task group of the handler. Requests outside `basePath` get 404, so a
 * parent router should send it only the requests under `basePath` (or
 * fall through on a 404). Close it when the server stops: feed sockets
 * are closed (1001) and work in flight is cancelled.
 */
export interface WalHandler extends AsyncDisposable {
  /**
   * Answers a request.
   *
   * @param request The request.
   * @param info The connection's info: its `remoteAddr` is checked when no
   * token is set, and without it the peer counts as remote (403). The feed
   * needs the info of the kit's server (`serve()` of `@ipfs-kit/kit/http`).
   * @returns The response; never rejects.
   */
  (request: Request, info?: RequestInfo | Deno.ServeHandlerInfo): Promise<Response>;
  /** Where the routes are. */
  readonly basePath: string;
  /** Feed connections, each counted from its upgrade until its socket is closed. */
  readonly connections: number;
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /**
   * Closes every feed connection, cancels requests in flight, and makes
   * later requests get 503. Idempotent.
   *
   * @returns A promise that settles once every connection's task has ended.
   */
  close(): Promise<void>;
}

/**
 * Creates the API's request handler for `wal`; see the module
 * documentation for the routes, the values and the security rules. The
 * handler's feed connections run in a task group created here, in the
 * current cancel scope; close the handler (`close()` or `await using`)
 * before that scope ends.
 *
 * @param wal The log to serve.
 * @param options The base path, a token, limits, the event source.
 * @returns The handler.
 * @throws {TypeError} An option has the wrong type (a token that is not visible ASCII, say).
 * @throws {RangeError} A number or the token's length is out of range.
 *
 * @example Mount it in a server of your own
 * ```ts
 * import assert from "node:assert/strict";
 * import { createWalHandler, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using wal = await WriteAheadLog.open(dir);
 * await using handler = createWalHandler(wal, { basePath: "/wal" });
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request, info) =>
 *   new URL(request.url).pathname.startsWith("/wal/")
 *     ? handler(request, info)
 *     : new Response("home"));
 * const health = await (await fetch(`http://127.0.0.1:${server.addr.port}/wal/health`)).json();
 * assert.equal(health.status, "ok");
 * await handler.close();
 * await server.shutdown();
 * await wal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function createWalHandler(wal: WriteAheadLog, options: WalHandlerOptions = {}): WalHandler {
  const what = "Cannot create WAL handler";
  if (wal === null || typeof wal !== "object" || typeof wal.list !== "function") {
    throw new TypeError(`${what}: wal must be a WriteAheadLog: received ${describeValue(wal)}`);
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${what}: options must be an object: received ${describeValue(options)}`);
  }
  const api = new WalApi(wal, configure(wal, options, what));
  const handler =
    ((request: Request, info?: RequestInfo | Deno.ServeHandlerInfo) =>
      api.handle(request, info)) as WalHandler;
  Object.defineProperties(handler, {
    basePath: { get: () => api.basePath, enumerable: true },
    connections: { get: () => api.connections, enumerable: true },
    closed: { get: () => api.closed, enumerable: true },
    close: { value: () => api.close() },
    [Symbol.asyncDispose]: { value: () => api.close() },
  });
  return handler;
}

/** The handler's requests, feed connections and closing. */
class WalApi {
  readonly #wal: WriteAheadLog;
  readonly #config: HandlerConfig;
  readonly #group: TaskGroup;
  readonly #closing = new AbortController();
  readonly #connections = new Set<FeedConnection>();
  /** Feeds upgraded and not yet gone (their sockets still open). */
  #feeds = 0;
  #feedsGone = new Event();
  readonly #watch: Disposable | undefined;
  #closePromise: Promise<void> | undefined;

  constructor(wal: WriteAheadLog, config: HandlerConfig) {
    this.#wal = wal;
    this.#config = config;
    this.#watch = this.#startWatching(config);
    this.#group = new TaskGroup();
  }

  #startWatching(config: HandlerConfig): Disposable | undefined {
    if (config.events === undefined || this.#wal.closed) return undefined;
    return config.events.watch((event) => {
      try {
        if (this.#connections.size === 0) return;
        if (event.kind === "health") {
          for (const connection of this.#connections) connection.healthChanged();
          return;
        }
        const memo = new EventMemo(event);
        for (const connection of this.#connections) connection.deliver(memo);
      } catch (error) {
        config.onError(error);
      }
    });
  }

  get basePath(): string {
    return this.#config.basePath;
  }

  get connections(): number {
    return this.#feeds;
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  handle(request: Request, info?: RequestInfo | Deno.ServeHandlerInfo): Promise<Response> {
    if (this.closed) return Promise.resolve(shuttingDown());
    const { promise, resolve } = Promise.withResolvers<Response>();
    try {
      this.#group.spawn(async () => {
        let answered = false;
        try {
          resolve(await this.#respond(request, info));
          answered = true;
        } finally {
          if (!answered) resolve(shuttingDown());
        }
      }, { name: "wal api request" });
    } catch {
      resolve(shuttingDown());
    }
    return promise;
  }

  close(): Promise<void> {
    return this.#closePromise ??= this.#close();
  }

  async #close(): Promise<void> {
    this.#closing.abort(new HttpError(503, "shutting_down", "The server is shutting down"));
    this.#watch?.[Symbol.dispose]();
    this.#group.cancelScope.cancel();
    // Feeds run in the server's tasks: tell them the server goes away, and wait
    // (a close handshake at most, with a margin) until their sockets are closed.
    for (const connection of this.#connections) {
      connection.end(FEED_CLOSE_CODES.goingAway, "The server is shutting down");
    }
    if (this.#feeds > 0) {
      await moveOnAfter(this.#config.feed.closeTimeoutMs + 1000, () => this.#feedsGone.wait());
    }
    try {
      await this.#group.join();
    } catch (error) {
      if (isCancellationError(error)) throw error;
      this.#config.onError(error);
    }
  }

  // ---- requests --------------------------------------------------------------------

  async #respond(
    request: Request,
    info: RequestInfo | Deno.ServeHandlerInfo | undefined,
  ): Promise<Response> {
    const headers = baseHeaders();
    try {
      if (request.url.length > MAX_URL_LENGTH) {
        throw new HttpError(
          414,
          "uri_too_long",
          `Cannot serve request: the URL exceeds ${MAX_URL_LENGTH} characters`,
        );
      }
      const url = new URL(request.url);
      const path = subPath(url.pathname, this.#config.basePath);
      if (path === undefined) {
        throw new HttpError(404, "not_found", `No such route: ${url.pathname.slice(0, 200)}`);
      }
      const access = this.#config.access;
      const grant = access.check(request, url, info);
      access.applyCors(grant, headers);
      if (request.method === "OPTIONS") return access.preflight(grant, "GET, HEAD, POST", headers);
      if (request.method === "HEAD") {
        // Mounted in a server other than the kit's (which sends HEAD as GET): the head only.
        const answer = await this.#serve(findRoute(path, "GET"), request, url, headers, info);
        await answer.body?.cancel();
        return new Response(null, { status: answer.status, headers: answer.headers });
      }
      return await this.#serve(findRoute(path, request.method), request, url, headers, info);
    } catch (error) {
      return this.#errorResponse(error, headers);
    }
  }

  #errorResponse(error: unknown, headers: Headers): Response {
    const known = walHttpError(error);
    if (known !== undefined) return errorResponse(known, headers);
    if (isCancellationError(error)) {
      return errorResponse(
        new HttpError(503, "shutting_down", "Cannot serve request: the server is shutting down"),
        headers,
      );
    }
    this.#config.onError(error);
    return errorResponse(
      new HttpError(500, "internal_error", "Cannot serve request: internal error"),
      headers,
    );
  }

  // ---- routes ----------------------------------------------------------------------

  async #serve(
    route: Route,
    request: Request,
    url: URL,
    headers: Headers,
    info: RequestInfo | Deno.ServeHandlerInfo | undefined,
  ): Promise<Response> {
    const wal = this.#wal;
    const query = url.searchParams;
    switch (route.name) {
      case "list": {
        const options = parseListQuery(query);
        const page = wal.list(options);
        return jsonResponse(200, {
          operations: page.operations.map((op) => operationJson(op, options.params)),
          next: page.next ?? null,
        }, headers);
      }
      case "submit": {
        checkKeys(query, [], "Cannot submit operation");
        const body = await readJsonBody(
          request,
          this.#config.maxBodyBytes,
          "Cannot submit operation",
        );
        const { type, params, maxAttempts } = parseSubmission(body);
        const operation = await this.#bounded(
          "Cannot submit operation",
          () => wal.submit(type, params as never, { maxAttempts }),
        );
        headers.set("location", `${this.#config.basePath}/operations/${operation.id}`);
        return jsonResponse(201, operationJson(operation, true), headers);
      }
      case "get": {
        const what = "Cannot get operation";
        checkKeys(query, ["params"], what);
        const params = parseBoolean(query, "params", true, what);
        const operation = wal.get(checkId(route.id, what));
        if (operation === undefined) {
          throw new HttpError(404, "not_found", `${what}: not found: ${route.id}`, {
            details: { id: route.id },
          });
        }
        return jsonResponse(200, operationJson(operation, params), headers);
      }
      case "retry": {
        const what = "Cannot retry operation";
        checkKeys(query, [], what);
        const id = checkId(route.id, what);
        await this.#noBody(request, what);
        const operation = await this.#bounded(what, () => wal.retry(id));
        return jsonResponse(200, operationJson(operation, false), headers);
      }
      case "cancel": {
        const what = "Cannot cancel operation";
        checkKeys(query, [], what);
        const id = checkId(route.id, what);
        await this.#noBody(request, what);
        const operation = await this.#bounded(what, () => wal.cancel(id), true);
        if (operation === undefined) {
          // Still running after requestTimeoutMs: the cancellation stands, and ends it later.
          const now = wal.get(id);
          if (now === undefined) throw new HttpError(404, "not_found", `${what}: not found: ${id}`);
          return jsonResponse(202, operationJson(now, false), headers);
        }
        if (operation.state !== "cancelled") {
          throw new HttpError(
            409,
            "invalid_state",
            `${what}: it is ${operation.state}: ${id}`,
            { details: { id, state: operation.state } },
          );
        }
        return jsonResponse(200, operationJson(operation, false), headers);
      }
      case "stats":
        checkKeys(query, [], "Cannot get stats");
        return jsonResponse(200, wal.telemetry.snapshot(), headers);
      case "health": {
        checkKeys(query, [], "Cannot get health");
        const health = this.#config.feed.health();
        return jsonResponse(health.status === "unavailable" ? 503 : 200, health, headers);
      }
      case "metrics": {
        checkKeys(query, [], "Cannot get metrics");
        headers.set("content-type", "text/plain; version=0.0.4; charset=utf-8");
        return new Response(wal.telemetry.toPrometheus(), { status: 200, headers });
      }
      case "feed":
        checkKeys(query, this.#config.access.requiresToken ? ["token"] : [], "Cannot open feed");
        return this.#upgrade(request, info);
    }
  }

  /**
   * Runs a call of the log within `requestTimeoutMs`, cancelled when the
   * handler closes. On timeout: 504, or `undefined` when `tolerateTimeout`.
   * (`request.signal` is left alone: in Deno 2 merely reading it makes
   * `Deno.serve` print a warning about its legacy abort behaviour.)
   */
  async #bounded<T>(
    what: string,
    fn: () => Promise<T>,
    tolerateTimeout = false,
  ): Promise<T> {
    const timeout = this.#config.requestTimeoutMs;
    const scope = new CancelScope({
      timeout,
      signal: this.#closing.signal,
      name: "wal api call",
    });
    const result = await scope.run(fn);
    if (!scope.cancelledCaught) return result as T;
    if (this.#closing.signal.aborted) {
      throw new HttpError(503, "shutting_down", `${what}: the server is shutting down`);
    }
    if (tolerateTimeout) return undefined as T;
    throw new HttpError(504, "timeout", `${what}: no answer within ${timeout} ms`);
  }

  async #noBody(request: Request, what: string): Promise<void> {
    if (request.body === null) return;
    const reader = request.body.getReader();
    // No releaseLock(): the body is not read again, and in Deno releasing builds an Error.
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value.length > 0) {
        await reader.cancel().catch(() => {});
        throw new HttpError(400, "unexpected_body", `${what}: the request must have no body`);
      }
    }
  }

  #upgrade(request: Request, info: RequestInfo | Deno.ServeHandlerInfo | undefined): Response {
    const what = "Cannot open feed";
    if (
      request.headers.get("upgrade")?.toLowerCase() !== "websocket" ||
      !request.headers.has(WS_KEY_HEADER)
    ) {
      throw new HttpError(426, "upgrade_required", `${what}: a WebSocket upgrade is required`, {
        headers: { upgrade: "websocket" },
      });
    }
    if (info === undefined || !("upgradeWebSocket" in info)) {
      throw new HttpError(
        501,
        "not_implemented",
        `${what}: the feed needs the kit's HTTP server (serve() of @ipfs-kit/kit/http), whose WebSockets are bounded`,
      );
    }
    const config = this.#config;
    if (this.#feeds >= config.maxConnections) {
      throw new HttpError(
        503,
        "too_many_connections",
        `${what}: ${config.maxConnections} connections are open`,
      );
    }
    const feed = config.feed;
    const response = info.upgradeWebSocket({
      maxMessageBytes: feed.maxMessageBytes,
      maxQueuedMessages: feed.maxQueuedMessages,
      maxQueuedBytes: feed.maxBufferedBytes,
      closeTimeoutMs: feed.closeTimeoutMs,
      onSocket: async (socket) => {
        const connection = new FeedConnection(socket, feed);
        if (this.closed) {
          connection.end(FEED_CLOSE_CODES.goingAway, "The server is shutting down");
          return;
        }
        this.#connections.add(connection);
        try {
          await connection.run();
        } finally {
          this.#connections.delete(connection);
        }
      },
      // Counted until the socket is gone, not until the close frame went.
      onClosed: () => {
        if (--this.#feeds === 0) this.#feedsGone.set();
      },
    });
    if (this.#feeds++ === 0) this.#feedsGone = new Event();
    return response;
  }
}

function shuttingDown(): Response {
  return errorResponse(
    new HttpError(503, "shutting_down", "Cannot serve request: the server is shutting down"),
  );
}
