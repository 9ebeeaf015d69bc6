/**
 * The daemon ({@linkcode Daemon}): one process that owns the embedded node
 * and serves it, as Kubo's `ipfs daemon` does. `deno task start` runs it
 * (`kit daemon` on the command line).
 *
 * Two listeners, both the kit's hardened HTTP layer (`@ipfs-kit/kit/http`:
 * connection caps, head and idle deadlines, bounded bodies and WebSocket
 * messages):
 *
 * - **the API port** (default `127.0.0.1:5001`; any other address than
 *   loopback needs a `token`; `Host` and `Origin` checked, no CORS unless
 *   `allowedOrigins` says so):
 *   - `/api/v0/*`: Kubo's RPC API (`createRpcHandler`) over the daemon's
 *     {@linkcode Kit}, so over its tiered cache; what `kubo-rpc-client`, the
 *     kit's Kubo backend and `kit --repo <dir> ...` use;
 *   - `/api/v0/wal/*`: the write-ahead log's API and its WebSocket feed
 *     (`/api/v0/wal/feed`) over the daemon's log in `<repo>/wal`, whose
 *     processor applies the operations to the same kit;
 *   - `/metrics`: Prometheus text: the runtime per scheduling strategy, the
 *     cache tiers, the WAL's telemetry, the HTTP requests by listener, route
 *     and status with a latency histogram, the listeners' connections, and
 *     what the extensions add; every label set bounded;
 *   - `/daemon/info` (where everything listens, the features) and
 *     `/daemon/recent` (recent adds and pins), both JSON, for the page;
 *   - `/`, `/page.js`, `/page.css`: the web page (served without a token: it
 *     holds no secret and asks for the token when the daemon has one);
 *   - what each extension mounts ({@linkcode DaemonExtension}).
 * - **the gateway port** (default `127.0.0.1:8080`): the read-only
 *   path and trustless gateway (`createGatewayHandler`) over the same kit,
 *   public (no token, any `Host`, CORS for any origin): safe to expose.
 *
 * RPC adds go straight to the node (which has synced every block and the pin
 * before it answers 200): the WAL is not in front of them, so a 64 MiB add
 * is streamed rather than held in the log. The log takes operations
 * submitted to its API (the page pins what it adds that way) and applies
 * them with its processor.
 *
 * While it runs the daemon writes its RPC API's multiaddress to
 * `<repo>/api` and the gateway's URL to `<repo>/gateway` (Kubo's files:
 * clients find the daemon through them) and removes them when it stops. A
 * crashed daemon leaves them behind; the repository's lock, which the
 * kernel releases with the process, tells them stale, and the next daemon
 * replaces them.
 *
 * Everything runs in one task group: the listeners and their connections,
 * the WAL's processor, the extensions. Stopping (`stop()`, the `signal`,
 * `await using`) stops accepting, lets requests in flight finish until
 * `shutdownTimeoutMs` and cancels the rest (an add cancelled pins nothing),
 * closes the feed, stops the processor, flushes and closes the log, removes
 * the files and closes the repository.
 *
 * ## The network and the extensions
 * - The node's network: the `kit` option's `network` (libp2p's options,
 *   as `Kit.open` takes them; `kit daemon` gives loopback TCP 4001 unless
 *   `--no-network`). Its swarm addresses are in
 *   {@linkcode Daemon.swarmAddresses} and `/daemon/info`; `/metrics` adds
 *   the connected peers and bitswap's blocks and bytes fetched, served and
 *   refused; the page's Peers panel shows (feature `network`). It stops
 *   with the kit, after the listeners and before the repository. Without
 *   it the daemon's node is offline (the default of `Daemon.start`).
 * - Servers of their own on the API port (peer discovery, WebRTC
 *   signaling): an {@linkcode DaemonExtensionFactory} in `extensions`; its
 *   routes are mounted, its metrics appended to `/metrics`, its name listed
 *   in the features, so a page panel marked with that name shows.
 *   `webrtcExtension()` (`kit/webrtc_extension.ts`) and
 *   `discoveryExtension()` (`kit/discovery_extension.ts`) are two, which
 *   `kit daemon` mounts unless given `--no-webrtc` or `--no-discovery`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Daemon } from "@ipfs-kit/kit/kit";
 *
 * const repo = await Deno.makeTempDir();
 * await using daemon = await Daemon.start({ repo, port: 0, gatewayPort: 0 });
 * const added = await fetch(`${daemon.apiUrl}/api/v0/add`, {
 *   method: "POST",
 *   body: (() => {
 *     const form = new FormData();
 *     form.append("file", new Blob(["hello world\n"]));
 *     return form;
 *   })(),
 * });
 * const { Hash } = await added.json();
 * assert.equal(Hash, "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
 * const read = await fetch(`${daemon.gatewayUrl}/ipfs/${Hash}`);
 * assert.equal(await read.text(), "hello world\n");
 * assert.equal(await Deno.readTextFile(`${repo}/api`), daemon.apiMultiaddr);
 * ```
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { Event } from "../runtime/event.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import { runtimeMetricsText } from "../runtime/runtime_metrics.ts";
import { AccessPolicy } from "../http/access.ts";
import { HttpError } from "../http/errors.ts";
import { Router } from "../http/router.ts";
import { type HttpServer, serve } from "../http/server.ts";
import type { Handler } from "../http/types.ts";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { NotSupportedError, RepoLockedError } from "../ipfs/errors.ts";
import type { NodeNetwork } from "../ipfs/node_network.ts";
import { createWalHandler, type WalHandler } from "../wal/http_handler.ts";
import { WriteAheadLog, type WriteAheadLogOptions } from "../wal/write_ahead_log.ts";
import { createGatewayHandler } from "./gateway.ts";
import { Kit, type KitOptions } from "./kit.ts";
import { createRpcHandler } from "./rpc_api.ts";
import { RPC_COMMANDS } from "./_rpc_commands.ts";
import {
  API_FILE,
  findDaemon,
  GATEWAY_FILE,
  multiaddrOf,
  removeDaemonFiles,
  urlOf,
  writeFileAtomic,
} from "./_daemon_files.ts";
import { cacheText, HttpMetrics, listenerText } from "./_daemon_metrics.ts";
import { PAGE_PATHS, PageAssets } from "./_daemon_page.ts";
import { RecentActivity } from "./_daemon_recent.ts";
import { DaemonError } from "./daemon_errors.ts";
import { networkText } from "./_daemon_network.ts";

/** What an extension is given: the daemon's kit and log, and when to stop. */
export interface DaemonExtensionContext {
  /** The daemon's kit (its tiered cache and layers included). */
  readonly kit: Kit;
  /** The repository (its identity is `loadPeerIdentity(repo)`). */
  readonly repo: string;
  /** The node's swarm addresses (each with `/p2p/<id>`); none when the node is offline. */
  readonly swarmAddresses: readonly string[];
  /** The daemon's write-ahead log. */
  readonly wal: WriteAheadLog;
  /** Aborts when the daemon stops. */
  readonly signal: AbortSignal;
  /**
   * The API port's token, if it has one: a route that checks access again
   * (a WebSocket route of its own, such as signaling) checks it with the
   * same rules.
   */
  readonly token?: string;
  /** The browser origins the API port allows besides its own page. */
  readonly allowedOrigins: readonly string[];
}

/**
 * A feature served on the daemon's API port by code of its own: peer
 * discovery, WebRTC signaling. Created by a {@linkcode DaemonExtensionFactory}
 * once the kit is open, in the daemon's task group; closed after the
 * listeners have stopped.
 */
export interface DaemonExtension {
  /**
   * Its name: lower-case letters, digits and `-`, at most 32. Listed in the
   * daemon's features (`/daemon/info`), so the page shows the panels marked
   * with it (`data-feature`), and used as the `route` label of its requests.
   */
  readonly name: string;
  /**
   * Handlers to mount on the API port, by path prefix (such as
   * `/api/v0/signaling`): each gets the requests for its prefix and the paths
   * below it, after the port's access rules (token, `Host`, `Origin`).
   */
  readonly routes?: Readonly<Record<string, Handler>>;
  /** Prometheus text appended to `/metrics` (bounded label sets). */
  metrics?(): string;
  /**
   * Called once both ports listen, before `Daemon.start` returns (a
   * failure fails the start): what needs the daemon's own URLs, such as a
   * client of one of its routes, starts here.
   */
  started?(urls: DaemonUrls): void | Promise<void>;
  /** Releases what it holds; the daemon waits for it. */
  close?(): Promise<void>;
}

/** Where a started daemon listens, as {@linkcode DaemonExtension.started} is told. */
export interface DaemonUrls {
  /** The API port's URL (`http://127.0.0.1:5001`), reachable from this machine. */
  readonly apiUrl: string;
  /** The gateway's URL. */
  readonly gatewayUrl: string;
}

/** Creates an extension over the daemon's kit (it may be async). */
export type DaemonExtensionFactory = (
  context: DaemonExtensionContext,
) => DaemonExtension | Promise<DaemonExtension>;

/** Options for {@linkcode Daemon.start}. */
export interface DaemonOptions {
  /** The embedded node's repository; created if missing or empty. Default: `Kit.defaultRepo()`. */
  repo?: string;
  /** The API port's address. Default `"127.0.0.1"`; any other than loopback needs `token`. */
  hostname?: string;
  /** The API port. Default 5001 (Kubo's); 0 picks a free one. */
  port?: number;
  /** The gateway's address. Default `"127.0.0.1"`; it is public, so any address may be given. */
  gatewayHostname?: string;
  /** The gateway's port. Default 8080 (Kubo's); 0 picks a free one. */
  gatewayPort?: number;
  /** The token every request to the API port must carry (`Authorization: Bearer`), 16 to 1024 visible ASCII characters. */
  token?: string;
  /** Browser origins allowed to call the API port besides its own page; they get CORS headers. Default none. */
  allowedOrigins?: readonly string[];
  /** What the daemon gives `Kit.open` besides the repository: the cache, layers, and the node's network options. */
  kit?: Omit<KitOptions, "repo" | "api" | "create" | "signal">;
  /** The write-ahead log's options (in `<repo>/wal`). */
  wal?: WriteAheadLogOptions;
  /** Features served on the API port by code of their own. */
  extensions?: readonly DaemonExtensionFactory[];
  /** How long a stop lets requests in flight finish before it cancels them, in ms. Default 5000. */
  shutdownTimeoutMs?: number;
  /** Limits of the two listeners (see `ServeOptions`); the defaults are the HTTP layer's. */
  limits?: {
    /** Open connections per listener, WebSockets included. Default 1024. */
    maxConnections?: number;
    /** How long a request's head may take to arrive, in ms. Default 10 000. */
    headersTimeoutMs?: number;
    /** How long a connection may sit idle or a body read or write stall, in ms. Default 30 000. */
    idleTimeoutMs?: number;
    /** The largest request body on the API port. Default none (adds are streamed to disk). */
    maxBodyBytes?: number;
  };
  /** Stops the daemon when aborted. */
  signal?: AbortSignal;
  /** Told of unexpected errors (500s of a handler, a failed connection). Default `console.error`. */
  onError?: (error: unknown) => void;
}

interface Config {
  repo: string;
  hostname: string;
  port: number;
  gatewayHostname: string;
  gatewayPort: number;
  token: string | undefined;
  allowedOrigins: readonly string[];
  kit: Omit<KitOptions, "repo" | "api" | "create" | "signal">;
  wal: WriteAheadLogOptions;
  extensions: readonly DaemonExtensionFactory[];
  shutdownTimeoutMs: number;
  limits: NonNullable<DaemonOptions["limits"]>;
  onError: (error: unknown) => void;
}

const WAL_BASE = "/api/v0/wal";
const WAL_ROUTES = new Set(["operations", "stats", "health", "metrics", "feed"]);
const EXTENSION_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * A running daemon; see the module documentation. Start one with
 * {@linkcode Daemon.start}; stop it with `stop()`, its `signal` or `await
 * using`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Daemon } from "@ipfs-kit/kit/kit";
 *
 * const repo = await Deno.makeTempDir();
 * const daemon = await Daemon.start({ repo, port: 0, gatewayPort: 0 });
 * const metrics = await (await fetch(`${daemon.apiUrl}/metrics`)).text();
 * assert.match(metrics, /^ipfs_kit_runtime_runs_total\{strategy="eager"\} \d+$/m);
 * await daemon.stop();
 * await assert.rejects(Deno.stat(`${repo}/api`), Deno.errors.NotFound);
 * ```
 */
export class Daemon implements AsyncDisposable {
  readonly #config: Config;
  readonly #kit: Kit;
  readonly #wal: WriteAheadLog;
  readonly #recent: RecentActivity;
  readonly #metrics = new HttpMetrics();
  readonly #group: TaskGroup;
  readonly #page: PageAssets;
  readonly #features: string[];
  readonly #stopRequested = new Event();
  readonly #serversDown = new Event();
  readonly #finished = Promise.withResolvers<void>();
  readonly #extensions: DaemonExtension[] = [];
  readonly #peerId: string;
  readonly #version: string;
  readonly #network: NodeNetwork | undefined;
  readonly #swarm: readonly string[];
  #peers = 0;
  readonly #staleReplaced: boolean;
  #api: HttpServer | undefined;
  #gateway: HttpServer | undefined;
  #stopping: Promise<void> | undefined;
  /** Removes the listener of the `signal` option. */
  #onAbort: (() => void) | undefined;

  private constructor(
    config: Config,
    parts: {
      kit: Kit;
      wal: WriteAheadLog;
      recent: RecentActivity;
      features: string[];
      peerId: string;
      version: string;
      staleReplaced: boolean;
      network: NodeNetwork | undefined;
      swarm: readonly string[];
    },
  ) {
    this.#config = config;
    this.#kit = parts.kit;
    this.#wal = parts.wal;
    this.#recent = parts.recent;
    this.#features = parts.features;
    this.#peerId = parts.peerId;
    this.#version = parts.version;
    this.#staleReplaced = parts.staleReplaced;
    this.#network = parts.network;
    this.#swarm = Object.freeze([...parts.swarm]);
    this.#group = new TaskGroup();
    this.#page = new PageAssets(this.#group.signal);
    void this.#finished.promise.catch(() => {}); // the caller's to await
  }

  /**
   * Starts a daemon on `repo` (created if missing): opens the kit and the
   * log, listens, writes `<repo>/api` and `<repo>/gateway`, and returns once
   * both ports accept connections. A stale `api` file (its daemon is gone:
   * the repository was not locked) is replaced.
   *
   * @param options Where to listen, the token, the kit's and the log's options, extensions.
   * @returns The running daemon.
   * @throws {DaemonError} A port is in use (`port_in_use`), another process
   * has the repository open (`repo_in_use`), a non-loopback API address
   * without a token (`insecure_bind`), a bad option (`invalid_option`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Daemon, DaemonError } from "@ipfs-kit/kit/kit";
   *
   * await using first = await Daemon.start({ repo: await Deno.makeTempDir(), port: 0, gatewayPort: 0 });
   * const busy = await Daemon.start({
   *   repo: await Deno.makeTempDir(),
   *   port: first.apiAddr.port,
   *   gatewayPort: 0,
   * }).catch((e) => e);
   * assert(busy instanceof DaemonError && busy.reason === "port_in_use");
   * assert.match(busy.message, /pass --port 0 for a free one/);
   * ```
   */
  static async start(options: DaemonOptions = {}): Promise<Daemon> {
    const config = configure(options);
    options.signal?.throwIfAborted();
    const recent = new RecentActivity();
    let kit: Kit;
    try {
      kit = await Kit.open({
        ...config.kit,
        repo: config.repo,
        create: "if-empty",
        layers: [...(config.kit.layers ?? []), (below) => recent.layer(below)],
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      if (error instanceof RepoLockedError) {
        const found = await findDaemon(config.repo).catch(() => ({ state: "none" as const }));
        throw new DaemonError(
          "repo_in_use",
          found.state === "running"
            ? `Cannot start daemon: a daemon already runs on ${config.repo} (its RPC API: ${found.api})`
            : `Cannot start daemon: another process has the repository open: ${config.repo}`,
          { cause: error },
        );
      }
      throw swarmError(error);
    }
    let wal: WriteAheadLog | undefined;
    let daemon: Daemon | undefined;
    try {
      // We hold the repository's lock: an api file left there is a crashed daemon's.
      const staleReplaced = await Deno.stat(`${config.repo}/${API_FILE}`).then(
        () => true,
        () => false,
      );
      await removeDaemonFiles(config.repo);
      wal = await WriteAheadLog.open(`${config.repo}/wal`, config.wal);
      const network = kit.store instanceof EmbeddedNode ? kit.store.network : undefined;
      const features = network !== undefined
        ? ["network"]
        : await kit.swarm.peers({ signal: AbortSignal.timeout(5000) }).then(
          () => ["network"],
          (error) => error instanceof NotSupportedError ? [] : ["network"],
        );
      const { id, addresses } = await kit.id();
      const { version } = await kit.version();
      daemon = new Daemon(config, {
        kit,
        wal,
        recent,
        features,
        peerId: id,
        version,
        staleReplaced,
        network,
        swarm: network === undefined ? [] : addresses,
      });
      await daemon.#serve();
      await writeFileAtomic(`${config.repo}/${API_FILE}`, daemon.apiMultiaddr);
      await writeFileAtomic(`${config.repo}/${GATEWAY_FILE}`, daemon.gatewayUrl);
      if (options.signal !== undefined) {
        const signal = options.signal;
        const started = daemon;
        const onAbort = () => void started.stop().catch(() => {});
        signal.addEventListener("abort", onAbort, { once: true });
        started.#onAbort = () => signal.removeEventListener("abort", onAbort);
        if (signal.aborted) await started.stop();
      }
      return daemon;
    } catch (error) {
      if (daemon !== undefined) await daemon.stop().catch(() => {});
      else {
        await wal?.close().catch(() => {});
        await kit.close().catch(() => {});
      }
      throw error;
    }
  }

  /** The repository. */
  get repo(): string {
    return this.#config.repo;
  }

  /** The daemon's kit: the embedded node under the tiered cache (and the layers given). */
  get kit(): Kit {
    return this.#kit;
  }

  /** The daemon's write-ahead log. */
  get wal(): WriteAheadLog {
    return this.#wal;
  }

  /** The node's peer ID. */
  get peerId(): string {
    return this.#peerId;
  }

  /**
   * The node's swarm addresses, each with `/p2p/<id>` (where peers reach it
   * over libp2p); none when the node is offline.
   */
  get swarmAddresses(): readonly string[] {
    return this.#swarm;
  }

  /** Where the API port listens. */
  get apiAddr(): Deno.NetAddr {
    return this.#api!.addr;
  }

  /** Where the gateway listens. */
  get gatewayAddr(): Deno.NetAddr {
    return this.#gateway!.addr;
  }

  /** The API port's URL, `http://127.0.0.1:5001` (the page is at `/`, the RPC API under `/api/v0/`). */
  get apiUrl(): string {
    return urlOf(this.apiAddr);
  }

  /** The API port's multiaddress, as in `<repo>/api`: `/ip4/127.0.0.1/tcp/5001`. */
  get apiMultiaddr(): string {
    return multiaddrOf(this.apiAddr);
  }

  /** The gateway's URL, as in `<repo>/gateway`: `http://127.0.0.1:8080`. */
  get gatewayUrl(): string {
    return urlOf(this.gatewayAddr);
  }

  /** The features served: `network` when the node has peers, and each extension's name. */
  get features(): readonly string[] {
    return [...this.#features];
  }

  /** Whether `start` found and replaced a crashed daemon's `api` file. */
  get replacedStaleFiles(): boolean {
    return this.#staleReplaced;
  }

  /** Settles once the daemon has stopped; rejects with what stopped it when that was a failure. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /**
   * The daemon's metrics in the Prometheus text format: see the module
   * documentation. The connected peers are as counted at the last `/metrics`
   * request.
   *
   * @returns The exposition text.
   */
  metrics(): string {
    const listeners: Record<string, ReturnType<HttpServer["stats"]>> = {};
    if (this.#api !== undefined) listeners.api = this.#api.stats();
    if (this.#gateway !== undefined) listeners.gateway = this.#gateway.stats();
    return [
      runtimeMetricsText(),
      cacheText(this.#kit.cache?.statistics()),
      this.#wal.closed ? "" : this.#wal.telemetry.toPrometheus(),
      this.#metrics.text(),
      listenerText(listeners),
      this.#network === undefined ? "" : networkText({
        peers: this.#peers,
        stats: this.#network.stats(),
      }),
      ...this.#extensions.map((extension) => extension.metrics?.() ?? ""),
    ].filter((text) => text !== "").join("");
  }

  /**
   * Stops the daemon (see the module documentation). Idempotent.
   *
   * @returns A promise that settles once everything is closed.
   */
  stop(): Promise<void> {
    return this.#stopping ??= this.#stop();
  }

  /** Stops the daemon: see {@linkcode Daemon.stop}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** Starts the listeners in the daemon's task group; returns once both listen. */
  async #serve(): Promise<void> {
    const ready = Promise.withResolvers<void>();
    this.#group.spawn(() => this.#runServers(ready), { name: "daemon listeners" });
    this.#group.spawn(() => this.#wal.process({ store: this.#kit }), { name: "daemon wal" });
    await ready.promise;
  }

  async #runServers(ready: PromiseWithResolvers<void>): Promise<void> {
    const config = this.#config;
    let walHandler: WalHandler | undefined;
    let listening = false;
    try {
      walHandler = createWalHandler(this.#wal, {
        basePath: WAL_BASE,
        ...(config.token === undefined ? {} : { token: config.token }),
        allowedOrigins: config.allowedOrigins,
        onError: config.onError,
      });
      for (const factory of config.extensions) {
        const extension = await factory({
          kit: this.#kit,
          repo: config.repo,
          swarmAddresses: this.#swarm,
          wal: this.#wal,
          signal: this.#group.signal,
          ...(config.token === undefined ? {} : { token: config.token }),
          allowedOrigins: config.allowedOrigins,
        });
        checkExtension(extension, this.#extensions);
        this.#extensions.push(extension);
        this.#features.push(extension.name);
      }
      const limits = {
        ...(config.limits.maxConnections === undefined
          ? {}
          : { maxConnections: config.limits.maxConnections }),
        ...(config.limits.headersTimeoutMs === undefined
          ? {}
          : { headersTimeoutMs: config.limits.headersTimeoutMs }),
        ...(config.limits.idleTimeoutMs === undefined
          ? {}
          : { idleTimeoutMs: config.limits.idleTimeoutMs }),
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        onError: config.onError,
      };
      this.#api = listen(
        "RPC API",
        "--port",
        config.port,
        () =>
          serve(this.#apiRouter(walHandler!).handler, {
            ...limits,
            hostname: config.hostname,
            port: config.port,
            ...(config.token === undefined ? {} : { token: config.token }),
            allowedOrigins: config.allowedOrigins,
            openPaths: PAGE_PATHS,
            maxBodyBytes: config.limits.maxBodyBytes ?? Infinity,
          }),
      );
      const gateway = createGatewayHandler(this.#kit);
      this.#gateway = listen(
        "gateway",
        "--gateway-port",
        config.gatewayPort,
        () =>
          serve(this.#observe("gateway", (request) => gatewayRoute(request), gateway), {
            ...limits,
            hostname: config.gatewayHostname,
            port: config.gatewayPort,
            public: true,
            allowedOrigins: ["*"],
            maxBodyBytes: 0,
          }),
      );
      for (const extension of this.#extensions) {
        await extension.started?.({ apiUrl: this.apiUrl, gatewayUrl: this.gatewayUrl });
      }
      listening = true;
      ready.resolve();
      await this.#stopRequested.wait();
    } catch (error) {
      if (!listening) ready.reject(error);
      else throw error;
    } finally {
      // Shielded: a cancelled group still shuts its listeners down with their deadline.
      await new CancelScope({ shield: true }).run(async () => {
        const servers = [this.#api, this.#gateway].filter((server) => server !== undefined);
        await Promise.all(servers.map((server) => server.shutdown()));
        await walHandler?.close();
        for (const extension of this.#extensions.toReversed()) {
          await extension.close?.().catch(config.onError);
        }
        await this.#page.close();
      });
      this.#serversDown.set();
      // Stopped by a failure of the group rather than by stop(): stop the rest too.
      if (listening && this.#stopping === undefined) void this.stop();
    }
  }

  #apiRouter(walHandler: WalHandler): Router {
    const rpc = createRpcHandler(this.#kit);
    const router = new Router();
    const api = (route: string, handler: Handler) => this.#observe("api", () => route, handler);
    router.route(
      "GET",
      "/",
      api("page", (request) => {
        return this.#page.document(new URL(request.url), this.gatewayUrl);
      }),
    );
    router.route("GET", "/page.css", api("page", () => this.#page.styles()));
    router.route("GET", "/page.js", api("page", (request) => this.#page.script(request)));
    router.route(
      "GET",
      "/metrics",
      api("metrics", async (request) => {
        await this.#countPeers(request.signal);
        return new Response(this.metrics(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      }),
    );
    router.route("GET", "/daemon/info", api("daemon_info", () => Response.json(this.#info())));
    router.route(
      "GET",
      "/daemon/recent",
      api("daemon_recent", () => Response.json({ entries: this.#recent.list() })),
    );
    router.mount(
      "/api/v0",
      this.#observe("api", (request) => rpcRoute(request), (request, info) => rpc(request, info)),
    );
    router.mount(WAL_BASE, this.#observe("api", (request) => walRoute(request), walHandler));
    for (const extension of this.#extensions) {
      for (const [prefix, handler] of Object.entries(extension.routes ?? {})) {
        router.mount(prefix, api(extension.name, handler));
      }
    }
    router.fallback(api("not_found", (request) => {
      throw new HttpError(
        404,
        "not_found",
        `No such route: ${new URL(request.url).pathname.slice(0, 200)}`,
      );
    }));
    return router;
  }

  /** Wraps a handler to count its requests under `route(request)`. */
  #observe(listener: string, route: (request: Request) => string, handler: Handler): Handler {
    return async (request, info) => {
      const started = performance.now();
      let status = 500;
      try {
        const response = await handler(request, info);
        status = response.status;
        return response;
      } catch (error) {
        if (error instanceof HttpError) status = error.status;
        throw error;
      } finally {
        this.#metrics.observe(
          listener,
          route(request),
          status,
          (performance.now() - started) / 1000,
        );
      }
    };
  }

  /** Counts the peers connected now, for `/metrics`. */
  async #countPeers(signal: AbortSignal): Promise<void> {
    if (this.#network === undefined) return;
    const peers = await this.#network.swarm.peers({ signal });
    this.#peers = new Set(peers.map((peer) => peer.peer)).size;
  }

  #info() {
    return {
      version: this.#version,
      peerId: this.#peerId,
      repo: this.#config.repo,
      api: this.apiMultiaddr,
      apiUrl: this.apiUrl,
      gateway: this.gatewayUrl,
      wal: WAL_BASE,
      feed: `${WAL_BASE}/feed`,
      features: this.features,
      swarm: this.swarmAddresses,
    };
  }

  async #stop(): Promise<void> {
    this.#onAbort?.();
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        errors.push(error);
      }
    };
    this.#stopRequested.set();
    await attempt(() => this.#serversDown.wait());
    this.#group.cancelScope.cancel();
    await attempt(() => this.#group.join());
    await attempt(() => this.#wal.close());
    await attempt(() => removeDaemonFiles(this.#config.repo));
    await attempt(() => this.#kit.close());
    if (errors.length === 0) this.#finished.resolve();
    else {
      this.#finished.reject(errors.length === 1 ? errors[0] : new AggregateError(errors));
      throw errors[0];
    }
  }
}

/** libp2p's failure to listen on a swarm address, as a {@linkcode DaemonError}; other errors as they are. */
function swarmError(error: unknown): unknown {
  const message = error instanceof Error ? error.message : "";
  if (!/EADDRINUSE/.test(message)) return error;
  const address = /(\/[^\s:]+): Error: listen EADDRINUSE/.exec(message)?.[1];
  return new DaemonError(
    "port_in_use",
    `Cannot start daemon: the swarm address ${address ?? "asked for"} is in use ` +
      "(pass --listen /ip4/127.0.0.1/tcp/0 for a free port)",
    { cause: error },
  );
}

/** Binds one listener; a busy port is a {@linkcode DaemonError} that names the option. */
function listen(what: string, flag: string, port: number, bind: () => HttpServer): HttpServer {
  try {
    return bind();
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new DaemonError(
        "port_in_use",
        `Cannot start daemon: the ${what}'s port ${port} is in use (pass ${flag} 0 for a free one)`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** The RPC command of a request under `/api/v0/` (a known one, else `rpc:unknown`). */
function rpcRoute(request: Request): string {
  const command = new URL(request.url).pathname.slice("/api/v0/".length).replace(/\/+$/, "");
  return RPC_COMMANDS.has(command) ? `rpc:${command}` : "rpc:unknown";
}

/** The WAL route of a request under `/api/v0/wal` (its first name, from a fixed set). */
function walRoute(request: Request): string {
  const first = new URL(request.url).pathname.slice(WAL_BASE.length + 1).split("/")[0];
  return WAL_ROUTES.has(first) ? `wal:${first}` : "wal:other";
}

/** The gateway's route: `ipfs`, `ipns` or `other`. */
function gatewayRoute(request: Request): string {
  const first = new URL(request.url).pathname.split("/")[1];
  return first === "ipfs" || first === "ipns" ? first : "other";
}

function checkExtension(extension: DaemonExtension, others: readonly DaemonExtension[]): void {
  const what = "Cannot start daemon: an extension";
  if (extension === null || typeof extension !== "object") {
    throw new DaemonError("invalid_option", `${what} factory returned no extension`);
  }
  if (typeof extension.name !== "string" || !EXTENSION_NAME.test(extension.name)) {
    throw new DaemonError(
      "invalid_option",
      `${what}'s name must be lower-case letters, digits and -: received ${
        JSON.stringify(String(extension.name).slice(0, 40))
      }`,
    );
  }
  if (extension.name === "network" || others.some((other) => other.name === extension.name)) {
    throw new DaemonError("invalid_option", `${what} named ${extension.name} exists already`);
  }
}

function configure(options: DaemonOptions): Config {
  const what = "Cannot start daemon";
  if (options === null || typeof options !== "object") {
    throw new DaemonError("invalid_option", `${what}: options must be an object`);
  }
  const port = (name: string, value: number | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < 0 || value > 65535) {
      throw new DaemonError(
        "invalid_option",
        `${what}: ${name} must be an integer from 0 to 65535: received ${value}`,
      );
    }
    return value;
  };
  const hostname = options.hostname ?? "127.0.0.1";
  let policy: AccessPolicy;
  try {
    policy = new AccessPolicy({
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.allowedOrigins === undefined ? {} : { allowedOrigins: options.allowedOrigins }),
    }, what);
  } catch (error) {
    throw new DaemonError(
      "invalid_option",
      error instanceof Error ? error.message : String(error),
      { cause: error },
    );
  }
  if (!policy.mayBind(hostname)) {
    throw new DaemonError(
      "insecure_bind",
      `${what}: the RPC API would listen on ${hostname}, beyond this machine, without a token ` +
        "(set IPFS_KIT_API_TOKEN, or listen on 127.0.0.1)",
    );
  }
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5000;
  if (!Number.isSafeInteger(shutdownTimeoutMs) || shutdownTimeoutMs < 0) {
    throw new DaemonError(
      "invalid_option",
      `${what}: shutdownTimeoutMs must be a non-negative integer: received ${shutdownTimeoutMs}`,
    );
  }
  const extensions = options.extensions ?? [];
  if (!Array.isArray(extensions) || extensions.some((factory) => typeof factory !== "function")) {
    throw new DaemonError("invalid_option", `${what}: extensions must be an array of functions`);
  }
  return {
    repo: options.repo ?? Kit.defaultRepo(),
    hostname,
    port: port("port", options.port, 5001),
    gatewayHostname: options.gatewayHostname ?? "127.0.0.1",
    gatewayPort: port("gatewayPort", options.gatewayPort, 8080),
    token: options.token,
    allowedOrigins: options.allowedOrigins ?? [],
    kit: options.kit ?? {},
    wal: options.wal ?? {},
    extensions,
    shutdownTimeoutMs,
    limits: options.limits ?? {},
    onError: options.onError ?? ((error) => console.error(error)),
  };
}
