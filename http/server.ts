/**
 * The kit's HTTP/1.1 server ({@linkcode serve}): an accept loop over
 * `Deno.listen` with a connection cap, a deadline for every request head, an
 * idle timeout for kept-alive connections and for stalled body reads and
 * response writes, request bodies bounded as they are read, access rules
 * (loopback, token or public; Host, Origin, CORS), bounded WebSockets, and a
 * graceful shutdown: stop accepting, let what is in flight finish until a
 * deadline, then cancel it. Every connection is a task of one task group,
 * created in the caller's cancel scope.
 *
 * Why not `Deno.serve`: it has no header timeout, idle timeout or
 * connection cap, and its WebSockets buffer a message whole before any limit
 * applies. `bench/http_bench.ts` measures this server against it (see
 * `bench/README.md`, section HTTP).
 *
 * @module
 */

import { currentClock } from "../runtime/checkpoint.ts";
import { isCancellationError } from "../runtime/errors.ts";
import { Event } from "../runtime/event.ts";
import { sleep } from "../runtime/sleep.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import { type ConnectionHost, Http1Connection } from "./_http1_connection.ts";
import { type ServerConfig, serverConfig } from "./_server_config.ts";
import type { Handler, ServeOptions } from "./types.ts";

/** Counters of a server, from {@linkcode HttpServer.stats}. */
export interface HttpServerStats {
  /** Connections accepted and served. */
  accepted: number;
  /** Connections closed at once because `maxConnections` were open. */
  refused: number;
  /** Connections closed by a deadline (head, idle, stalled read or write). */
  timedOut: number;
  /** Connections open now (WebSockets included). */
  open: number;
}

/** A running server, from {@linkcode serve}; `await using` shuts it down. */
export interface HttpServer extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  /** `http://host:port`. */
  readonly url: string;
  /** Open connections, WebSockets included, until their socket is closed. */
  readonly connections: number;
  /** Settles once the server has shut down. */
  readonly finished: Promise<void>;
  /**
   * Its counters.
   *
   * @returns A snapshot.
   */
  stats(): HttpServerStats;
  /**
   * Shuts down: stops accepting, closes idle connections, tells WebSockets
   * the server goes away (1001), lets requests in flight finish for
   * `shutdownTimeoutMs`, then cancels them and closes every socket.
   * Idempotent.
   *
   * @returns A promise that settles once every connection's task has ended.
   */
  shutdown(): Promise<void>;
}

/**
 * Serves `handler` on loopback and a free port unless told otherwise. A
 * hostname that is not a loopback address needs a `token` (or `public:
 * true`, for a read-only server meant to face the world). The server's
 * tasks run in a task group created in the current cancel scope: shut it
 * down (`shutdown()`, `await using` or `signal`) before that scope ends.
 *
 * @param handler Answers each request; runs in the server's cancel scope.
 * @param options Where to listen, access rules, limits, a signal.
 * @returns The running server.
 * @throws {InsecureBindError} A non-loopback hostname without a token.
 * @throws {TypeError} An option has the wrong type.
 * @throws {RangeError} A number is out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@ipfs-kit/kit/http";
 *
 * await using server = serve((request, info) =>
 *   new Response(`${request.method} ${new URL(request.url).pathname} from ${info.remoteAddr.hostname}`)
 * );
 * const response = await fetch(`${server.url}/hello`);
 * assert.equal(await response.text(), "GET /hello from 127.0.0.1");
 * ```
 */
export function serve(handler: Handler, options: ServeOptions = {}): HttpServer {
  const what = "Cannot start server";
  if (typeof handler !== "function") {
    throw new TypeError(`${what}: handler must be a function: received ${typeof handler}`);
  }
  const config = serverConfig(options, what);
  const { signal, onListen } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${what}: signal must be an AbortSignal`);
  }
  if (onListen !== undefined && typeof onListen !== "function") {
    throw new TypeError(`${what}: onListen must be a function`);
  }
  if (signal?.aborted) throw signal.reason;
  const listener = Deno.listen({ hostname: config.hostname, port: config.port, transport: "tcp" });
  const server = new Server(listener, handler, config, signal);
  onListen?.(server.addr);
  return server;
}

/** A running server: see {@linkcode HttpServer}. */
class Server implements HttpServer, ConnectionHost {
  readonly config: ServerConfig;
  readonly handler: Handler;
  readonly #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>;
  readonly #group: TaskGroup;
  readonly #connections = new Set<Http1Connection>();
  readonly #clock = currentClock();
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;
  readonly #finished = Promise.withResolvers<void>();
  #empty = new Event();
  #draining = false;
  #shutdown: Promise<void> | undefined;
  #accepted = 0;
  #refused = 0;
  #timedOut = 0;

  constructor(
    listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>,
    handler: Handler,
    config: ServerConfig,
    signal: AbortSignal | undefined,
  ) {
    this.#listener = listener;
    this.handler = handler;
    this.config = config;
    this.#group = new TaskGroup();
    this.#group.spawn(() => this.#accept(), { name: "http accept" });
    this.#group.spawn(() => this.#watch(), { name: "http watchdog" });
    this.#signal = signal;
    if (signal !== undefined) {
      this.#onAbort = () => {
        // An abort listener cannot wait: the shutdown is awaited by `finished`.
        void this.shutdown().catch((error) => {
          if (!isCancellationError(error)) config.onError(error);
        });
      };
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  get url(): string {
    const { hostname, port } = this.addr;
    return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  }

  get connections(): number {
    return this.#connections.size;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  stats(): HttpServerStats {
    return {
      accepted: this.#accepted,
      refused: this.#refused,
      timedOut: this.#timedOut,
      open: this.#connections.size,
    };
  }

  now(): number {
    return this.#clock.now();
  }

  release(connection: Http1Connection): void {
    if (this.#connections.delete(connection) && this.#connections.size === 0) this.#empty.set();
  }

  shutdown(): Promise<void> {
    return this.#shutdown ??= this.#stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#draining || error instanceof Deno.errors.BadResource) return;
        // Out of descriptors or a transient failure: wait a little, as servers do.
        this.config.onError(error);
        await sleep(100);
        continue;
      }
      if (this.#draining || this.#connections.size >= this.config.maxConnections) {
        this.#refused++;
        try {
          conn.close();
        } catch {
          // gone already
        }
        continue;
      }
      this.#accepted++;
      const connection = new Http1Connection(conn, this);
      if (this.#connections.size === 0) this.#empty = new Event();
      this.#connections.add(connection);
      this.#group.spawn(() => connection.run(), { name: "http connection" });
    }
  }

  /** Closes every connection past its deadline, a few times per timeout. */
  async #watch(): Promise<void> {
    const { headersTimeoutMs, idleTimeoutMs } = this.config;
    const every = Math.max(
      5,
      Math.min(1000, Math.floor(Math.min(headersTimeoutMs, idleTimeoutMs) / 4)),
    );
    try {
      for (;;) {
        await sleep(every);
        const now = this.#clock.now();
        for (const connection of this.#connections) {
          if (connection.deadline <= now) {
            this.#timedOut++;
            connection.expire();
          }
        }
      }
    } finally {
      // Cancelled: the server's group ends. Nothing may stay blocked on a socket.
      this.#closeListener();
      for (const connection of [...this.#connections]) connection.destroy();
    }
  }

  #closeListener(): void {
    try {
      this.#listener.close();
    } catch {
      // closed already
    }
  }

  async #stop(): Promise<void> {
    this.#draining = true;
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener("abort", this.#onAbort);
    try {
      this.#closeListener();
      for (const connection of [...this.#connections]) connection.drain();
      if (this.#connections.size > 0) {
        await moveOnAfter(this.config.shutdownTimeoutMs, () => this.#empty.wait());
      }
      this.#group.cancelScope.cancel();
      await this.#group.join();
      this.#finished.resolve();
    } catch (error) {
      this.#finished.reject(error);
      void this.#finished.promise.catch(() => {}); // handled: it is the caller's to await
      throw error;
    }
  }
}
