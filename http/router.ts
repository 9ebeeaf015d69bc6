/**
 * Several handlers on one listener ({@linkcode Router}): handlers mounted
 * under path prefixes (the daemon mounts the RPC API, the WAL API and feed,
 * discovery and signaling on one port) and single routes by method and path.
 * A `HEAD` request reaches a handler as `GET` (the server sends the head
 * only), so every GET route answers HEAD.
 *
 * @module
 */

import { errorResponse, HttpError } from "./errors.ts";
import type { Handler, RequestInfo } from "./types.ts";

const PREFIX = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/;

interface Route {
  readonly methods: Map<string, Handler>;
}

/**
 * Routes requests to handlers by path: exact routes first, then the
 * longest mounted prefix, then the fallback (404 by default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Router, serve } from "@ipfs-kit/kit/http";
 *
 * const router = new Router()
 *   .route("GET", "/health", () => new Response("ok"))
 *   .mount("/api/v0/echo", (request) => new Response(new URL(request.url).pathname));
 * await using server = serve(router.handler);
 * assert.equal(await (await fetch(`${server.url}/health`)).text(), "ok");
 * assert.equal(await (await fetch(`${server.url}/api/v0/echo/x`)).text(), "/api/v0/echo/x");
 * const head = await fetch(`${server.url}/health`, { method: "HEAD" });
 * assert.equal(head.status, 200);
 * const wrong = await fetch(`${server.url}/health`, { method: "POST" });
 * assert.equal(wrong.status, 405);
 * assert.equal(wrong.headers.get("allow"), "GET, HEAD");
 * await wrong.body?.cancel();
 * ```
 */
export class Router {
  readonly #routes = new Map<string, Route>();
  readonly #mounts: { prefix: string; handler: Handler }[] = [];
  #fallback: Handler = (request) => {
    throw new HttpError(
      404,
      "not_found",
      `No such route: ${new URL(request.url).pathname.slice(0, 200)}`,
    );
  };

  /** The handler to serve: `serve(router.handler)`. */
  readonly handler: Handler = (request, info) => this.#handle(request, info);

  /**
   * Adds a route: `method` on exactly `path`. A `GET` route answers `HEAD`.
   *
   * @param method `GET`, `POST`, ...
   * @param path The path, such as `/health`.
   * @param handler Its handler.
   * @returns The router.
   */
  route(method: string, path: string, handler: Handler): this {
    if (typeof method !== "string" || !/^[A-Z]+$/.test(method)) {
      throw new TypeError(
        `Cannot add route: method must be upper-case letters: received ${method}`,
      );
    }
    if (path !== "/" && !PREFIX.test(path)) {
      throw new TypeError(`Cannot add route: path must be "/" or a path such as "/health"`);
    }
    if (typeof handler !== "function") {
      throw new TypeError("Cannot add route: handler must be a function");
    }
    let route = this.#routes.get(path);
    if (route === undefined) this.#routes.set(path, route = { methods: new Map() });
    if (route.methods.has(method)) {
      throw new TypeError(`Cannot add route: ${method} ${path} exists`);
    }
    route.methods.set(method, handler);
    return this;
  }

  /**
   * Mounts `handler` under `prefix`: it gets the requests for `prefix` and
   * every path below it, with their full path.
   *
   * @param prefix A path such as `/api/v0/wal` (no trailing slash).
   * @param handler The handler.
   * @returns The router.
   */
  mount(prefix: string, handler: Handler): this {
    if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
      throw new TypeError(`Cannot mount handler: prefix must be a path such as "/api/v0/wal"`);
    }
    if (typeof handler !== "function") {
      throw new TypeError("Cannot mount handler: handler must be a function");
    }
    if (this.#mounts.some((mount) => mount.prefix === prefix)) {
      throw new TypeError(`Cannot mount handler: ${prefix} is mounted already`);
    }
    this.#mounts.push({ prefix, handler });
    this.#mounts.sort((a, b) => b.prefix.length - a.prefix.length);
    return this;
  }

  /**
   * Sets what answers requests no route or mount takes (default: 404).
   *
   * @param handler The handler.
   * @returns The router.
   */
  fallback(handler: Handler): this {
    if (typeof handler !== "function") {
      throw new TypeError("Cannot set fallback: handler must be a function");
    }
    this.#fallback = handler;
    return this;
  }

  async #handle(request: Request, info: RequestInfo): Promise<Response> {
    try {
      const path = new URL(request.url).pathname;
      const route = this.#routes.get(path);
      if (route !== undefined) {
        const handler = route.methods.get(request.method);
        if (handler !== undefined) return await handler(request, info);
        const methods = [...route.methods.keys()];
        if (methods.includes("GET")) methods.splice(methods.indexOf("GET") + 1, 0, "HEAD");
        throw new HttpError(
          405,
          "method_not_allowed",
          `Cannot ${request.method} ${path.slice(0, 200)}: allowed: ${methods.join(", ")}`,
          { headers: { allow: methods.join(", ") } },
        );
      }
      for (const { prefix, handler } of this.#mounts) {
        if (path === prefix || path.startsWith(prefix + "/")) return await handler(request, info);
      }
      return await this.#fallback(request, info);
    } catch (error) {
      if (error instanceof HttpError) return errorResponse(error);
      throw error;
    }
  }
}
