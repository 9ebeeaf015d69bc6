// One HTTP/1.1 connection of the kit's server: reads request heads under a
// deadline, gives each request to the handler with a body that reads the
// socket only when pulled, writes the response, keeps the connection alive
// or closes it, and hands an upgraded socket to a WebSocket session. Its
// `deadline` is what the server's watchdog closes it by. Private to the
// HTTP layer.

import { isCancellationError } from "../runtime/errors.ts";
import { ConnReader } from "./_conn_reader.ts";
import { headEnd, parseHead, type RequestHead } from "./_http1_head.ts";
import { RequestBody } from "./_request_body.ts";
import { latin1Bytes, writeResponse } from "./_response_writer.ts";
import type { ServerConfig } from "./_server_config.ts";
import { ServerWebSocket } from "./_websocket_session.ts";
import { acceptKey } from "./_ws_frames.ts";
import { integer } from "./_server_config.ts";
import type { AccessGrant } from "./access.ts";
import { errorResponse, HttpError } from "./errors.ts";
import type { Handler, RequestInfo } from "./types.ts";
import { WEBSOCKET_DEFAULTS, type WebSocketUpgradeOptions } from "./websocket.ts";

const BUFFER = 64 * 1024;
/** An unread body up to this size is read and dropped to keep the connection. */
const DRAIN_LIMIT = 64 * 1024;
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
const CORS_METHODS = "GET, HEAD, POST, PUT, DELETE";
/** How long a lingering close reads on, at most, in ms. */
const LINGER_MS = 2000;
/** How many bytes a lingering close drops, at most. */
const LINGER_BYTES = 64 * 1024 * 1024;

/** What a connection needs of its server. */
export interface ConnectionHost {
  readonly config: ServerConfig;
  readonly handler: Handler;
  /** Whether the server is shutting down: no request after the current one. */
  readonly draining: boolean;
  /** The clock's time in ms. */
  now(): number;
  /** The connection's socket is closed. */
  release(connection: Http1Connection): void;
}

/** An accepted upgrade waiting for its handshake. */
interface PendingUpgrade {
  readonly options: WebSocketUpgradeOptions;
  readonly accept: string;
  readonly protocol: string;
}

const upgrades = new WeakMap<Response, PendingUpgrade>();

/** One connection; see the file's header. */
export class Http1Connection {
  /** When the watchdog closes it (clock ms), but for a write in flight; `Infinity` while a handler runs. */
  #deadline: number;
  /** When a write in flight counts as stalled. */
  #writeDeadline = Infinity;
  #inflight: Promise<void> | undefined;
  #writeFailed: unknown;
  readonly #conn: Deno.Conn;
  readonly #host: ConnectionHost;
  readonly #reader: ConnReader;
  readonly #remoteAddr: Deno.NetAddr;
  readonly #localAddr: Deno.NetAddr;
  #closed = false;
  /** Waiting for a head of which no byte came yet. */
  #idle = true;
  #headStarted = false;
  #session: ServerWebSocket | undefined;
  /** Close lingering: request bytes may be left unread. */
  #linger = false;

  constructor(conn: Deno.Conn, host: ConnectionHost) {
    this.#conn = conn;
    this.#host = host;
    this.#reader = new ConnReader(conn, BUFFER);
    this.#remoteAddr = conn.remoteAddr as Deno.NetAddr;
    this.#localAddr = conn.localAddr as Deno.NetAddr;
    this.#deadline = host.now() + host.config.headersTimeoutMs;
    try {
      (conn as Deno.TcpConn).setNoDelay?.(true);
    } catch {
      // not a TCP socket
    }
  }

  /** When the watchdog closes it, in the clock's ms. */
  get deadline(): number {
    return this.#deadline < this.#writeDeadline ? this.#deadline : this.#writeDeadline;
  }

  set deadline(value: number) {
    this.#deadline = value;
  }

  /** Whether it is a WebSocket now. */
  get isWebSocket(): boolean {
    return this.#session !== undefined;
  }

  /** The watchdog: the deadline passed. */
  expire(): void {
    this.destroy();
  }

  /** Shutdown: close now if idle; a WebSocket is told the server goes away; else close after the answer. */
  drain(): void {
    if (this.#session !== undefined) this.#session.close(1001, "The server is shutting down");
    else if (this.#idle && !this.#headStarted) this.destroy();
  }

  /** Closes the socket. Idempotent. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // closed already
    }
    this.#host.release(this);
  }

  /** Serves requests until the connection ends. */
  async run(): Promise<void> {
    const host = this.#host;
    const config = host.config;
    this.#reader.onRead = () => {
      if (this.#idle && !this.#headStarted) {
        this.#headStarted = true;
        this.#deadline = Math.min(this.#deadline, host.now() + config.headersTimeoutMs);
      }
    };
    try {
      for (;;) {
        let head: RequestHead | null;
        try {
          head = await this.#readHead();
        } catch (error) {
          if (error instanceof HttpError) await this.#refuse(error);
          return;
        }
        if (head === null) return;
        this.#idle = false;
        this.#headStarted = false;
        this.deadline = Infinity;
        const keepAlive = await this.#serve(head);
        if (!keepAlive || host.draining || this.#closed) return;
        this.#idle = true;
        this.deadline = host.now() + config.idleTimeoutMs;
        if (this.#reader.buffered > 0) this.#reader.onRead!();
      }
      // reached only by return
    } catch (error) {
      if (isCancellationError(error)) throw error;
      // The socket broke or was closed (the watchdog, a reset): nothing to answer.
    } finally {
      if (this.#inflight !== undefined) await this.#inflight;
      if (this.#linger && !this.#closed) await this.#lingeringClose();
      this.destroy();
    }
  }

  /** The next head, `null` at a clean end of the stream. */
  async #readHead(): Promise<RequestHead | null> {
    const reader = this.#reader;
    const config = this.#host.config;
    let scanned = 0;
    for (;;) {
      const view = reader.view();
      const end = headEnd(view, scanned);
      if (end > config.maxHeaderBytes || (end === -1 && view.length >= config.maxHeaderBytes)) {
        throw new HttpError(
          431,
          "request_header_fields_too_large",
          `Cannot read request: its head exceeds ${config.maxHeaderBytes} bytes`,
        );
      }
      if (end !== -1) {
        const head = parseHead(view.subarray(0, end), config.maxUrlLength, config.maxHeaderFields);
        reader.consume(end);
        return head;
      }
      scanned = Math.max(0, view.length - 3);
      if ((await reader.fill()) === 0) {
        if (reader.buffered === 0) return null;
        throw new HttpError(400, "bad_request", "Cannot read request: the head ended early");
      }
    }
  }

  /**
   * After an answer that left request bytes unread: stop writing, then read
   * and drop what the client still sends for a while, so that it reads the
   * answer instead of a reset (closing with unread bytes resets the
   * connection, and a client still writing its body would see a broken pipe).
   */
  async #lingeringClose(): Promise<void> {
    this.#deadline = this.#host.now() + LINGER_MS;
    try {
      this.#conn.closeWrite();
      const scratch = new Uint8Array(BUFFER);
      let dropped = 0;
      while (dropped < LINGER_BYTES) {
        const n = await this.#conn.read(scratch);
        if (n === null) return;
        dropped += n;
      }
    } catch {
      // closed by the watchdog, or reset: done either way
    }
  }

  /** Answers a request the server could not read, and closes. */
  async #refuse(error: HttpError): Promise<void> {
    this.#linger = true;
    this.deadline = this.#host.now() + this.#host.config.idleTimeoutMs;
    await writeResponse(this.#write, errorResponse(error), { head: false, close: true })
      .catch(() => {});
  }

  /** Serves one request; whether the connection may carry another. */
  async #serve(head: RequestHead): Promise<boolean> {
    const host = this.#host;
    const config = host.config;
    let url: URL;
    let target = head.target;
    if (target === "*" && head.method === "OPTIONS") target = "/";
    try {
      if (/^https?:\/\//i.test(target)) {
        const absolute = new URL(target);
        target = absolute.pathname + absolute.search;
      }
      if (!target.startsWith("/")) throw new TypeError("not origin-form");
      url = new URL(`http://${head.host}${target}`);
    } catch {
      await this.#refuse(
        new HttpError(400, "bad_request", "Cannot read request: malformed target or Host"),
      );
      return false;
    }
    const isHead = head.method === "HEAD";
    const bodyless = head.method === "GET" || isHead;
    const hasBody = head.chunked || (head.contentLength ?? 0) > 0;
    if (bodyless && hasBody) {
      await this.#refuse(
        new HttpError(
          400,
          "bad_request",
          `Cannot read request: a ${head.method} request must have no body`,
        ),
      );
      return false;
    }
    if ((head.contentLength ?? 0) > config.maxBodyBytes) {
      await this.#refuse(
        new HttpError(
          413,
          "body_too_large",
          `Cannot read request body: it exceeds ${config.maxBodyBytes} bytes: received ${head.contentLength}`,
          { details: { limit: config.maxBodyBytes } },
        ),
      );
      return false;
    }
    let sentContinue = false;
    const body = hasBody
      ? new RequestBody(
        this.#reader,
        head.contentLength,
        head.chunked,
        config.maxBodyBytes,
        head.expectContinue
          ? async () => {
            if (sentContinue) return;
            sentContinue = true;
            await this.#write(CONTINUE);
          }
          : undefined,
        this.#stallGuard,
      )
      : undefined;
    let request: Request;
    try {
      request = new Request(url, {
        method: isHead ? "GET" : head.method,
        headers: head.headers,
        body: body?.stream ?? null,
        // @ts-ignore: `duplex` is in the Fetch standard, not yet in every lib.
        duplex: "half",
      });
    } catch (error) {
      await this.#refuse(
        new HttpError(
          head.method === "CONNECT" || head.method === "TRACE" || head.method === "TRACK"
            ? 405
            : 400,
          head.method === "CONNECT" || head.method === "TRACE" || head.method === "TRACK"
            ? "method_not_allowed"
            : "bad_request",
          `Cannot read request: ${error instanceof Error ? error.message : String(error)}`,
        ),
      );
      return false;
    }
    let grant: AccessGrant = { corsOrigin: undefined, authenticated: false };
    let response: Response;
    const info = this.#info(head, isHead, () => grant.authenticated);
    try {
      grant = config.access.check(request, url, info);
      if (
        head.method === "OPTIONS" && grant.corsOrigin !== undefined &&
        request.headers.has("access-control-request-method")
      ) {
        response = config.access.preflight(grant, CORS_METHODS);
      } else {
        response = await host.handler(request, info);
        if (!(response instanceof Response)) {
          throw new TypeError("Cannot answer request: the handler did not return a Response");
        }
      }
    } catch (error) {
      if (isCancellationError(error)) throw error;
      if (error instanceof HttpError) response = errorResponse(error);
      else {
        config.onError(error);
        response = errorResponse(
          new HttpError(500, "internal_error", "Cannot serve request: internal error"),
        );
      }
    }
    const upgrade = upgrades.get(response);
    if (upgrade !== undefined) {
      upgrades.delete(response);
      await this.#upgrade(upgrade, grant);
      return false;
    }
    const extra: [string, string][] = [];
    if (grant.corsOrigin !== undefined && !response.headers.has("access-control-allow-origin")) {
      extra.push(["access-control-allow-origin", grant.corsOrigin]);
      if (!response.headers.has("vary")) extra.push(["vary", "Origin"]);
    }
    const close = head.close || host.draining || /(^|,)\s*close\s*(,|$)/i.test(
      response.headers.get("connection") ?? "",
    ) || (body !== undefined && !body.canDrain(DRAIN_LIMIT));
    await writeResponse(this.#write, response, {
      head: isHead,
      close,
      extra,
      last: close ? undefined : this.#writeBehind,
    })
      .catch((error) => {
        if (error instanceof TypeError || error instanceof RangeError) config.onError(error);
        throw error;
      });
    if (close) {
      if (body !== undefined && !body.complete) this.#linger = true;
      return false;
    }
    if (body !== undefined && !body.complete) {
      this.deadline = host.now() + config.idleTimeoutMs;
      return await body.drain(DRAIN_LIMIT);
    }
    return true;
  }

  #info(head: RequestHead, isHead: boolean, authenticated: () => boolean): RequestInfo {
    return {
      remoteAddr: this.#remoteAddr,
      localAddr: this.#localAddr,
      get authenticated() {
        return authenticated();
      },
      head: isHead,
      upgradeWebSocket: (options) => upgradeResponse(head, options),
    };
  }

  /** Writes the handshake and runs the session until its socket is gone. */
  async #upgrade(upgrade: PendingUpgrade, grant: AccessGrant): Promise<void> {
    const host = this.#host;
    let text = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
      `sec-websocket-accept: ${upgrade.accept}\r\n`;
    if (upgrade.protocol !== "") text += `sec-websocket-protocol: ${upgrade.protocol}\r\n`;
    if (grant.corsOrigin !== undefined) {
      text += `access-control-allow-origin: ${grant.corsOrigin}\r\n`;
    }
    const options = upgrade.options;
    try {
      await this.#write(latin1Bytes(text + "\r\n"));
      await this.#runSession(upgrade);
    } finally {
      this.destroy();
      if (options.onClosed !== undefined) {
        try {
          options.onClosed();
        } catch (error) {
          host.config.onError(error);
        }
      }
    }
  }

  async #runSession(upgrade: PendingUpgrade): Promise<void> {
    const host = this.#host;
    const options = upgrade.options;
    const what = "Cannot upgrade to WebSocket";
    const session = new ServerWebSocket({
      reader: this.#reader,
      write: this.#write,
      destroy: () => this.destroy(),
      remoteAddr: this.#remoteAddr,
    }, {
      maxMessageBytes: integer(
        "maxMessageBytes",
        options.maxMessageBytes,
        WEBSOCKET_DEFAULTS.maxMessageBytes,
        1,
        1 << 30,
        what,
      ),
      maxQueuedBytes: integer(
        "maxQueuedBytes",
        options.maxQueuedBytes,
        WEBSOCKET_DEFAULTS.maxQueuedBytes,
        0,
        1 << 30,
        what,
      ),
      maxQueuedMessages: integer(
        "maxQueuedMessages",
        options.maxQueuedMessages,
        WEBSOCKET_DEFAULTS.maxQueuedMessages,
        1,
        10_000_000,
        what,
      ),
      closeTimeoutMs: integer(
        "closeTimeoutMs",
        options.closeTimeoutMs,
        WEBSOCKET_DEFAULTS.closeTimeoutMs,
        0,
        3_600_000,
        what,
      ),
    }, upgrade.protocol);
    this.#session = session;
    this.#idle = false;
    this.deadline = Infinity;
    if (host.draining) session.close(1001, "The server is shutting down");
    await session.run(options.onSocket, host.config.onError);
  }

  /** Around one socket read of a body: a read that stalls past the idle timeout closes the connection. */
  readonly #stallGuard = async <T>(read: () => Promise<T>): Promise<T> => {
    const previous = this.#deadline;
    this.#deadline = Math.min(previous, this.#host.now() + this.#host.config.idleTimeoutMs);
    try {
      return await read();
    } finally {
      this.#deadline = previous;
    }
  };

  /** Writes all of `bytes` after what is in flight; a write that stalls past the idle timeout closes the connection. */
  readonly #write = async (bytes: Uint8Array): Promise<void> => {
    if (this.#inflight !== undefined) await this.#inflight;
    if (this.#writeFailed !== undefined) throw this.#writeFailed;
    const host = this.#host;
    this.#writeDeadline = host.now() + host.config.idleTimeoutMs;
    try {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await this.#conn.write(offset === 0 ? bytes : bytes.subarray(offset));
      }
    } finally {
      this.#writeDeadline = Infinity;
    }
  };

  /**
   * Starts the last write of a response without waiting for it: the next
   * head is read meanwhile (its completion costs an event-loop turn). A
   * later write waits for it; a failure closes the connection.
   */
  readonly #writeBehind = (bytes: Uint8Array): Promise<void> => {
    const started = this.#write(bytes).catch((error) => {
      this.#writeFailed ??= error;
      this.destroy();
    }).finally(() => {
      if (this.#inflight === started) this.#inflight = undefined;
    });
    this.#inflight = started;
    return Promise.resolve();
  };
}

/**
 * The response that accepts the WebSocket upgrade of `head` (checked here):
 * the connection recognises it and writes the handshake.
 */
function upgradeResponse(head: RequestHead, options: WebSocketUpgradeOptions): Response {
  const what = "Cannot upgrade to WebSocket";
  if (options === null || typeof options !== "object" || typeof options.onSocket !== "function") {
    throw new TypeError(`${what}: options.onSocket must be a function`);
  }
  const get = (name: string) => {
    const found = head.headers.filter(([key]) => key.toLowerCase() === name);
    return found.length === 1 ? found[0][1] : undefined;
  };
  if (!head.upgrade || head.method !== "GET") {
    throw new HttpError(426, "upgrade_required", `${what}: a WebSocket upgrade is required`, {
      headers: { upgrade: "websocket" },
    });
  }
  if (get("sec-websocket-version") !== "13") {
    throw new HttpError(400, "bad_request", `${what}: Sec-WebSocket-Version must be 13`, {
      headers: { "sec-websocket-version": "13" },
    });
  }
  const key = get("sec-websocket-key");
  if (key === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    throw new HttpError(400, "bad_request", `${what}: malformed Sec-WebSocket-Key`);
  }
  const protocol = options.protocol ?? "";
  if (protocol !== "") {
    const offered = (get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    if (!offered.includes(protocol)) {
      throw new TypeError(`${what}: the client did not offer the protocol ${protocol}`);
    }
  }
  const response = new Response(null, { status: 200 });
  upgrades.set(response, { options, accept: acceptKey(key), protocol });
  return response;
}
