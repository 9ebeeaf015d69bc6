/**
 * The write-ahead log's HTTP API: a `Deno.serve` handler to mount in a
 * server of your own ({@linkcode createWalHandler}), or a server of its own
 * on loopback ({@linkcode serveWal}), with a live WebSocket feed (see
 * `ws_feed.ts` for its protocol).
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
 * | `GET /feed` | WebSocket upgrade: the live feed |
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
 * 503 `closed`, `failed`, `shutting_down`, `too_many_connections`; 504
 * `timeout`; 507 `disk_full`; 500 `internal_error` (the error goes to
 * `onError`, not to the client).
 *
 * ## Security
 * Without a `token`, the handler serves only this machine: requests from a
 * peer that is not on a loopback address get 403 `forbidden_peer`, and
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
 * message is checked.
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

import { CancelScope } from "../runtime/cancel_scope.ts";
import { isCancellationError } from "../runtime/errors.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import type { WriteAheadLog } from "./operation_log.ts";
import type { OperationState } from "./operation_log.ts";
import type { HealthState } from "./processor.ts";
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
import {
  bearerToken,
  checkToken,
  isLoopbackHostname,
  isLoopbackPeer,
  originHost,
  originOf,
  TokenMatcher,
} from "./_http_security.ts";
import { EventMemo, type FeedConfig, FeedConnection } from "./_ws_connection.ts";
import { type WalEventSource, walEventSource } from "./ws_feed.ts";

/** An operation as the API sends it. Times are ms since the epoch; `null` stands for unset. */
export interface OperationJson {
  /** Its id. */
  id: string;
  /** Its type. */
  type: string;
  /** Its state. */
  state: OperationState;
  /** Handler attempts so far. */
  attempts: number;
  /** The most attempts. */
  maxAttempts: number;
  /** When it is retried next (state `retrying`). */
  nextRetryAt: number | null;
  /** The last attempt's error. */
  lastError: string | null;
  /** What the handler returned (state `completed`), in JSON (DAG-JSON for bytes and CIDs). */
  result: unknown;
  /** When it was submitted. */
  createdAt: number;
  /** When its state last changed. */
  updatedAt: number;
  /** When it finished. */
  completedAt: number | null;
  /** Its parameters in JSON (DAG-JSON for bytes and CIDs), when asked for. */
  params?: unknown;
}

/** The log's health, as `GET /health` and the feed's `health` topic report it. */
export interface WalHealth {
  /** `unavailable` once the log is closed; `degraded` while the backend is degraded or offline; else `ok`. */
  status: "ok" | "degraded" | "unavailable";
  /** Whether the log is closed. */
  closed: boolean;
  /** The backend's health as the running processor sees it; `null` when none runs. */
  backend: HealthState | null;
}

/** Options for {@linkcode createWalHandler}. */
export interface WalHandlerOptions {
  /** Where the routes are: a path starting with `/`. Default `"/api/v0/wal"`. */
  basePath?: string;
  /**
   * The bearer token every request must carry (16 to 1024 visible ASCII
   * characters). Without one, only loopback peers and `Host` names are
   * served.
   */
  token?: string;
  /** The largest request body read, in bytes. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Browser origins (`"https://dashboard.example"`) allowed besides the server's own; they get CORS headers. */
  allowedOrigins?: readonly string[];
  /**
   * What feeds the feed's live topics; default the log itself once it has a
   * `watch()` method. `null`: none (the live topics answer `unavailable`).
   */
  events?: WalEventSource | null;
  /** How long a submission, retry or cancellation may wait, in ms. Default 30 000. */
  requestTimeoutMs?: number;
  /** WebSocket connections at once; more get 503. Default 64. */
  maxConnections?: number;
  /** Messages waiting to be sent to one feed client; one more disconnects it (1013). Default 256. */
  maxQueuedMessages?: number;
  /** Unsent bytes a feed socket may hold before its messages wait in the queue. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** The largest message a feed client may send; a larger one closes the connection (1009). Default 16 KiB. */
  maxMessageBytes?: number;
  /** Subscriptions one feed connection may hold. Default 64. */
  maxSubscriptions?: number;
  /** How long closing a feed socket waits for the client's answer, in ms. Default 1000. */
  closeTimeoutMs?: number;
  /** Told of unexpected errors (500s, failed feed connections). Default `console.error`. */
  onError?: (error: unknown) => void;
}

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
   * @param info The connection's info (its `remoteAddr` is checked when no token is set).
   * @returns The response; never rejects.
   */
  (request: Request, info?: Deno.ServeHandlerInfo): Promise<Response>;
  /** Where the routes are. */
  readonly basePath: string;
  /** Open feed connections. */
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

/** Options for {@linkcode serveWal}. */
export interface ServeWalOptions extends WalHandlerOptions {
  /** The address to listen on. Default `"127.0.0.1"`; any other than loopback needs a `token`. */
  hostname?: string;
  /** The port; default 0, a free one. */
  port?: number;
  /** Shuts the server down when aborted. */
  signal?: AbortSignal;
  /** Called once the server listens. Default: nothing (no log line). */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** A running API server, from {@linkcode serveWal}; `await using` shuts it down. */
export interface WalServer extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  /** The API's base URL, such as `http://127.0.0.1:41234/api/v0/wal`. */
  readonly url: string;
  /** The handler it serves. */
  readonly handler: WalHandler;
  /** Settles once the server has shut down. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting connections, closes the feed's sockets, cancels and
   * then waits for the requests in flight. Idempotent.
   *
   * @returns A promise that settles once the server has shut down.
   */
  shutdown(): Promise<void>;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const DEFAULT_BASE_PATH = "/api/v0/wal";
const MAX_URL_LENGTH = 8 * KIB;
const BASE_PATH = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/;
const WS_KEY_HEADER = "sec-websocket-key";

interface Config {
  basePath: string;
  token: TokenMatcher | undefined;
  maxBodyBytes: number;
  allowedOrigins: ReadonlySet<string>;
  requestTimeoutMs: number;
  maxConnections: number;
  events: WalEventSource | undefined;
  feed: FeedConfig;
  onError: (error: unknown) => void;
}

type Route =
  | { name: "list" | "submit" | "stats" | "health" | "metrics" | "feed" }
  | { name: "get" | "retry" | "cancel"; id: string };

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
    throw new TypeError(`${what}: wal must be a WriteAheadLog: received ${describe(wal)}`);
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${what}: options must be an object: received ${describe(options)}`);
  }
  const api = new WalApi(wal, configure(wal, options, what));
  const handler =
    ((request: Request, info?: Deno.ServeHandlerInfo) => api.handle(request, info)) as WalHandler;
  Object.defineProperties(handler, {
    basePath: { get: () => api.basePath, enumerable: true },
    connections: { get: () => api.connections, enumerable: true },
    closed: { get: () => api.closed, enumerable: true },
    close: { value: () => api.close() },
    [Symbol.asyncDispose]: { value: () => api.close() },
  });
  return handler;
}

/**
 * Serves the API for `wal` with `Deno.serve`, on 127.0.0.1 and a free port
 * unless told otherwise; see the module documentation. A hostname that is
 * not a loopback address needs a `token`. Shut it down with `shutdown()`,
 * `await using`, or `signal`.
 *
 * @param wal The log to serve.
 * @param options Where to listen, a token, the handler's options, a signal.
 * @returns The running server.
 * @throws {TypeError} The hostname is not a loopback address and no token is set, or an option has the wrong type.
 * @throws {RangeError} The port or another number is out of range.
 *
 * @example With a token
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveWal, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using wal = await WriteAheadLog.open(dir);
 * const token = crypto.randomUUID();
 * {
 *   await using server = serveWal(wal, { token });
 *   const denied = await fetch(`${server.url}/stats`);
 *   await denied.body?.cancel();
 *   const stats = await fetch(`${server.url}/stats`, { headers: { authorization: `Bearer ${token}` } });
 *   assert(denied.status === 401 && (await stats.json()).queue.pending === 0);
 * }
 * await wal.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function serveWal(wal: WriteAheadLog, options: ServeWalOptions = {}): WalServer {
  const what = "Cannot serve WAL API";
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${what}: options must be an object: received ${describe(options)}`);
  }
  const { hostname = "127.0.0.1", port = 0, signal, onListen, ...handlerOptions } = options;
  if (typeof hostname !== "string" || hostname.length === 0 || hostname.length > 253) {
    throw new TypeError(
      `${what}: hostname must be a non-empty string: received ${describe(hostname)}`,
    );
  }
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${what}: port must be an integer from 0 to 65535: received ${port}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${what}: signal must be an AbortSignal: received ${describe(signal)}`);
  }
  if (onListen !== undefined && typeof onListen !== "function") {
    throw new TypeError(`${what}: onListen must be a function: received ${describe(onListen)}`);
  }
  checkToken(handlerOptions.token, what);
  if (handlerOptions.token === undefined && !isLoopbackHostname(hostname)) {
    throw new TypeError(
      `${what}: hostname ${
        JSON.stringify(hostname)
      } is not a loopback address: set a token to serve beyond this machine`,
    );
  }
  if (signal?.aborted) throw signal.reason;
  const handler = createWalHandler(wal, handlerOptions);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port,
      onListen: (addr) => onListen?.(addr),
      onError: (error) => {
        // The handler answers every error itself: this is a last resort.
        (handlerOptions.onError ?? console.error)(error);
        return new Response("Internal error", { status: 500 });
      },
    }, handler);
  } catch (error) {
    // Nothing runs in it yet: closing only ends its task group.
    handler.close().catch(() => {});
    throw error;
  }
  return new ApiServer(server, handler, signal, handlerOptions.onError ?? console.error);
}

// ---- the server --------------------------------------------------------------------

class ApiServer implements WalServer {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly handler: WalHandler;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;
  readonly #finished = Promise.withResolvers<void>();
  #shutdown: Promise<void> | undefined;

  constructor(
    server: Deno.HttpServer<Deno.NetAddr>,
    handler: WalHandler,
    signal: AbortSignal | undefined,
    onError: (error: unknown) => void,
  ) {
    this.#server = server;
    this.handler = handler;
    this.#signal = signal;
    if (signal !== undefined) {
      this.#onAbort = () => {
        this.shutdown().catch((error) => {
          if (!isCancellationError(error)) onError(error);
        });
      };
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  get url(): string {
    const { hostname, port } = this.#server.addr;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    return `http://${host}:${port}${this.handler.basePath}`;
  }

  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  shutdown(): Promise<void> {
    return this.#shutdown ??= this.#stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #stop(): Promise<void> {
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener("abort", this.#onAbort);
    try {
      const results = await Promise.allSettled([this.handler.close(), this.#server.shutdown()]);
      await this.#server.finished;
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      this.#finished.resolve();
    } catch (error) {
      this.#finished.reject(error);
      this.#finished.promise.catch(() => {});
      throw error;
    }
  }
}

// ---- the handler -------------------------------------------------------------------

class WalApi {
  readonly #wal: WriteAheadLog;
  readonly #config: Config;
  readonly #group: TaskGroup;
  readonly #closing = new AbortController();
  readonly #connections = new Set<FeedConnection>();
  readonly #watch: Disposable | undefined;
  #closePromise: Promise<void> | undefined;

  constructor(wal: WriteAheadLog, config: Config) {
    this.#wal = wal;
    this.#config = config;
    this.#watch = this.#startWatching(config);
    this.#group = new TaskGroup();
  }

  #startWatching(config: Config): Disposable | undefined {
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
    return this.#connections.size;
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  handle(request: Request, info?: Deno.ServeHandlerInfo): Promise<Response> {
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
    try {
      await this.#group.join();
    } catch (error) {
      if (isCancellationError(error)) throw error;
      this.#config.onError(error);
    }
  }

  // ---- routing ---------------------------------------------------------------------

  async #respond(request: Request, info: Deno.ServeHandlerInfo | undefined): Promise<Response> {
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
      const path = this.#subPath(url.pathname);
      if (path === undefined) {
        throw new HttpError(404, "not_found", `No such route: ${url.pathname.slice(0, 200)}`);
      }
      this.#checkAccess(request, info, url, path, headers);
      if (request.method === "OPTIONS") return this.#preflight(headers);
      const route = this.#route(path, request.method);
      return await this.#serve(route, request, url, headers);
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

  /** The path below the base path (`""` or `"/..."`), or `undefined` outside it. */
  #subPath(pathname: string): string | undefined {
    const base = this.#config.basePath;
    if (base === "") return pathname;
    if (pathname === base) return "";
    return pathname.startsWith(base + "/") ? pathname.slice(base.length) : undefined;
  }

  #route(path: string, method: string): Route {
    const parts = path.split("/").slice(1);
    if (parts.includes("")) {
      throw new HttpError(404, "not_found", `No such route: ${path.slice(0, 200)}`);
    }
    const allow = (methods: string, route: Route): Route => {
      if (methods.split(", ").includes(method)) return route;
      throw new HttpError(
        405,
        "method_not_allowed",
        `Cannot ${method} ${path.slice(0, 200)}: allowed: ${methods}`,
        { headers: { allow: methods } },
      );
    };
    if (parts.length === 1) {
      switch (parts[0]) {
        case "operations":
          return allow("GET, POST", { name: method === "POST" ? "submit" : "list" });
        case "stats":
        case "health":
        case "metrics":
        case "feed":
          return allow("GET", { name: parts[0] });
      }
    } else if (parts[0] === "operations" && parts.length === 2) {
      return allow("GET", { name: "get", id: parts[1] });
    } else if (parts[0] === "operations" && parts.length === 3) {
      if (parts[2] === "retry" || parts[2] === "cancel") {
        return allow("POST", { name: parts[2], id: parts[1] });
      }
    }
    throw new HttpError(404, "not_found", `No such route: ${path.slice(0, 200)}`);
  }

  // ---- access ----------------------------------------------------------------------

  #checkAccess(
    request: Request,
    info: Deno.ServeHandlerInfo | undefined,
    url: URL,
    path: string,
    headers: Headers,
  ): void {
    const config = this.#config;
    if (config.token === undefined) {
      if (!isLoopbackPeer(info?.remoteAddr)) {
        throw new HttpError(
          403,
          "forbidden_peer",
          "Cannot serve request: without a token only this machine is served",
        );
      }
      // Deno.serve builds the URL from the Host header (or :authority).
      if (!isLoopbackHostname(url.hostname)) {
        throw new HttpError(
          403,
          "forbidden_host",
          "Cannot serve request: without a token only loopback host names are served",
        );
      }
    }
    const originHeader = request.headers.get("origin");
    if (originHeader !== null) {
      const origin = originOf(originHeader);
      const own = origin !== undefined &&
        originHost(origin) === url.host.toLowerCase();
      const allowed = origin !== undefined && config.allowedOrigins.has(origin);
      if (!own && !allowed) {
        throw new HttpError(
          403,
          "forbidden_origin",
          `Cannot serve request: origin not allowed: ${JSON.stringify(originHeader.slice(0, 200))}`,
        );
      }
      if (allowed) {
        headers.set("access-control-allow-origin", origin!);
        headers.append("vary", "Origin");
      }
    }
    if (config.token === undefined || request.method === "OPTIONS") return;
    let candidate = bearerToken(request.headers.get("authorization"));
    if (candidate === undefined && path === "/feed") {
      const values = url.searchParams.getAll("token");
      if (values.length === 1) candidate = values[0];
    }
    if (!config.token.matches(candidate)) {
      throw new HttpError(
        401,
        "unauthorized",
        "Cannot serve request: a valid bearer token is required",
        {
          headers: { "www-authenticate": 'Bearer realm="ipfs-kit-wal"' },
        },
      );
    }
  }

  #preflight(headers: Headers): Response {
    if (!headers.has("access-control-allow-origin")) {
      throw new HttpError(
        405,
        "method_not_allowed",
        "Cannot serve OPTIONS: no cross-origin access is allowed",
        {
          headers: { allow: "GET, POST" },
        },
      );
    }
    headers.set("access-control-allow-methods", "GET, POST");
    headers.set("access-control-allow-headers", "authorization, content-type");
    headers.set("access-control-max-age", "600");
    return new Response(null, { status: 204, headers });
  }

  // ---- routes ----------------------------------------------------------------------

  async #serve(route: Route, request: Request, url: URL, headers: Headers): Promise<Response> {
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
        checkKeys(query, this.#config.token === undefined ? [] : ["token"], "Cannot open feed");
        return this.#upgrade(request);
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
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        if (value.length > 0) {
          await reader.cancel().catch(() => {});
          throw new HttpError(400, "unexpected_body", `${what}: the request must have no body`);
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  #upgrade(request: Request): Response {
    const what = "Cannot open feed";
    if (
      request.headers.get("upgrade")?.toLowerCase() !== "websocket" ||
      !request.headers.has(WS_KEY_HEADER)
    ) {
      throw new HttpError(426, "upgrade_required", `${what}: a WebSocket upgrade is required`, {
        headers: { upgrade: "websocket" },
      });
    }
    if (this.#connections.size >= this.#config.maxConnections) {
      throw new HttpError(
        503,
        "too_many_connections",
        `${what}: ${this.#config.maxConnections} connections are open`,
      );
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(request);
    } catch (error) {
      throw new HttpError(400, "invalid_request", `${what}: ${describe(error)}`);
    }
    const connection = new FeedConnection(upgraded.socket, this.#config.feed);
    this.#connections.add(connection);
    this.#group.spawn(async () => {
      try {
        await connection.run();
      } catch (error) {
        if (!isCancellationError(error)) this.#config.onError(error);
      } finally {
        this.#connections.delete(connection);
      }
    }, { name: "wal feed connection" });
    return upgraded.response;
  }
}

function shuttingDown(): Response {
  return errorResponse(
    new HttpError(503, "shutting_down", "Cannot serve request: the server is shutting down"),
  );
}

// ---- options -----------------------------------------------------------------------

function configure(wal: WriteAheadLog, options: WalHandlerOptions, what: string): Config {
  const basePath = options.basePath ?? DEFAULT_BASE_PATH;
  if (typeof basePath !== "string" || (basePath !== "/" && !BASE_PATH.test(basePath))) {
    throw new TypeError(
      `${what}: basePath must be "/" or a path such as "/api/v0/wal" (no trailing slash): received ${
        describe(basePath)
      }`,
    );
  }
  const token = checkToken(options.token, what);
  const allowedOrigins = new Set<string>();
  if (options.allowedOrigins !== undefined) {
    if (!Array.isArray(options.allowedOrigins)) {
      throw new TypeError(`${what}: allowedOrigins must be an array of origins`);
    }
    for (const entry of options.allowedOrigins) {
      const origin = typeof entry === "string" ? originOf(entry) : undefined;
      if (origin === undefined || origin !== entry.toLowerCase().replace(/\/$/, "")) {
        throw new TypeError(
          `${what}: allowedOrigins must hold origins such as "https://example.com": received ${
            describe(entry)
          }`,
        );
      }
      allowedOrigins.add(origin);
    }
  }
  const events = options.events === null ? undefined : options.events ?? walEventSource(wal);
  if (events !== undefined && typeof events?.watch !== "function") {
    throw new TypeError(`${what}: events must have a watch() method: received ${describe(events)}`);
  }
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  if (typeof onError !== "function") {
    throw new TypeError(`${what}: onError must be a function: received ${describe(onError)}`);
  }
  const health = (): WalHealth => {
    const closed = wal.closed;
    const backend = closed ? undefined : wal.telemetry.snapshot().health.state;
    return {
      status: closed
        ? "unavailable"
        : backend === "degraded" || backend === "offline"
        ? "degraded"
        : "ok",
      closed,
      backend: backend ?? null,
    };
  };
  const config: Config = {
    basePath: basePath === "/" ? "" : basePath,
    token: token === undefined ? undefined : new TokenMatcher(token),
    maxBodyBytes: integer("maxBodyBytes", options.maxBodyBytes, 64 * KIB, 1, 64 * MIB, what),
    allowedOrigins,
    requestTimeoutMs: integer(
      "requestTimeoutMs",
      options.requestTimeoutMs,
      30_000,
      1,
      3_600_000,
      what,
    ),
    maxConnections: integer("maxConnections", options.maxConnections, 64, 1, 100_000, what),
    events,
    onError,
    feed: {
      wal,
      live: events !== undefined,
      maxQueuedMessages: integer(
        "maxQueuedMessages",
        options.maxQueuedMessages,
        256,
        1,
        1_000_000,
        what,
      ),
      maxBufferedBytes: integer(
        "maxBufferedBytes",
        options.maxBufferedBytes,
        MIB,
        0,
        1024 * MIB,
        what,
      ),
      maxMessageBytes: integer(
        "maxMessageBytes",
        options.maxMessageBytes,
        16 * KIB,
        64,
        16 * MIB,
        what,
      ),
      maxSubscriptions: integer("maxSubscriptions", options.maxSubscriptions, 64, 1, 10_000, what),
      closeTimeoutMs: integer("closeTimeoutMs", options.closeTimeoutMs, 1000, 0, 60_000, what),
      health,
      onError,
    },
  };
  return config;
}

function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  what: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${what}: ${name} must be an integer from ${min} to ${max}: received ${describe(value)}`,
    );
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.slice(0, 64));
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value;
}
