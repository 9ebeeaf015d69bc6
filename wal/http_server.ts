/**
 * A server of its own for the write-ahead log's HTTP API
 * ({@linkcode serveWal}): the kit's HTTP server (`serve()` of
 * `@ipfs-kit/kit/http`: connection cap, header deadline, idle timeout,
 * bounded bodies and WebSockets) on loopback and a free port unless told
 * otherwise, serving the handler of {@linkcode createWalHandler}. The
 * routes, the values and the security rules are described in
 * `http_handler.ts`.
 *
 * @module
 */

import { serve } from "../http/server.ts";
import type { HttpServer } from "../http/server.ts";
import type { ServeOptions } from "../http/types.ts";
import { isCancellationError } from "../runtime/errors.ts";
import { describeValue } from "./_http_config.ts";
import { createWalHandler, type WalHandler } from "./http_handler.ts";
import type { WalHandlerOptions } from "./types.ts";
import type { WriteAheadLog } from "./write_ahead_log.ts";

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
  /**
   * The listener's bounds (see `ServeOptions` of `@ipfs-kit/kit/http`):
   * open connections (default 1024), head deadline (10 s), idle timeout
   * (30 s), head size, shutdown deadline.
   */
  server?: Pick<
    ServeOptions,
    | "maxConnections"
    | "headersTimeoutMs"
    | "idleTimeoutMs"
    | "maxHeaderBytes"
    | "maxHeaderFields"
    | "shutdownTimeoutMs"
  >;
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

/**
 * Serves the API for `wal` with `Deno.serve`, on 127.0.0.1 and a free port
 * unless told otherwise; see the module documentation of `http_handler.ts`
 * for the routes, the values and the security rules. A hostname that is
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
    throw new TypeError(`${what}: options must be an object: received ${describeValue(options)}`);
  }
  const { hostname = "127.0.0.1", port = 0, signal, onListen, server: bounds, ...handlerOptions } =
    options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${what}: signal must be an AbortSignal: received ${describeValue(signal)}`,
    );
  }
  if (signal?.aborted) throw signal.reason;
  const handler = createWalHandler(wal, handlerOptions);
  const onError = handlerOptions.onError ?? console.error;
  let server: HttpServer;
  try {
    server = serve(handler, {
      ...bounds,
      hostname,
      port,
      onListen,
      onError,
      token: handlerOptions.token,
      allowedOrigins: handlerOptions.allowedOrigins,
      realm: "ipfs-kit-wal",
      // The handler reads its bodies up to its own limit (413 as it reads).
      maxBodyBytes: handlerOptions.maxBodyBytes ?? 64 * 1024,
    });
  } catch (error) {
    // Nothing runs in it yet: closing only ends its task group, at once.
    void handler.close().catch(() => {});
    if (error instanceof TypeError && /needs a token/.test(error.message)) {
      throw new TypeError(
        `${what}: hostname ${
          JSON.stringify(hostname)
        } is not a loopback address: set a token to serve beyond this machine`,
        { cause: error },
      );
    }
    throw error;
  }
  return new ApiServer(server, handler, signal, onError);
}

/** A running server: see {@linkcode WalServer}. */
class ApiServer implements WalServer {
  readonly #server: HttpServer;
  readonly handler: WalHandler;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;
  readonly #finished = Promise.withResolvers<void>();
  #shutdown: Promise<void> | undefined;

  constructor(
    server: HttpServer,
    handler: WalHandler,
    signal: AbortSignal | undefined,
    onError: (error: unknown) => void,
  ) {
    this.#server = server;
    this.handler = handler;
    this.#signal = signal;
    if (signal !== undefined) {
      this.#onAbort = () => {
        // An abort listener cannot wait: the shutdown is this server's own, awaited by `finished`.
        void this.shutdown().catch((error) => {
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
    return `${this.#server.url}${this.handler.basePath}`;
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
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      this.#finished.resolve();
    } catch (error) {
      this.#finished.reject(error);
      void this.#finished.promise.catch(() => {}); // handled: it is the caller's to await
      throw error;
    }
  }
}
