/**
 * Who a server (or a handler) serves: {@linkcode AccessPolicy}, built from
 * {@linkcode AccessOptions}. Without a token only this machine is served:
 * peers on a loopback address whose `Host` is a loopback name (so a web page
 * cannot reach the server through DNS rebinding). With a token every request
 * needs `Authorization: Bearer <token>` (compared in constant time; a
 * WebSocket upgrade may pass `?token=` instead, as a browser cannot set
 * headers on one). A request with an `Origin` header (a browser's) is
 * refused unless the origin is the server's own or an allowed one, which
 * also gets CORS headers. A `public` policy serves anyone: for a read-only
 * server meant to face the world, such as the gateway. `openPaths` names the
 * few paths whose `GET` and `HEAD` need no token: a static web page that
 * holds no secret and asks its user for the token (the peer, `Host` and
 * `Origin` rules still apply to them).
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "./errors.ts";

/**
 * The shortest token accepted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MIN_TOKEN_LENGTH } from "@ipfs-kit/kit/http";
 *
 * assert.equal(MIN_TOKEN_LENGTH, 16);
 * ```
 */
export const MIN_TOKEN_LENGTH = 16;
/**
 * The longest token accepted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_TOKEN_LENGTH } from "@ipfs-kit/kit/http";
 *
 * assert.equal(MAX_TOKEN_LENGTH, 1024);
 * ```
 */
export const MAX_TOKEN_LENGTH = 1024;
const TOKEN = /^[\x21-\x7e]+$/;

/** Options of an {@linkcode AccessPolicy}. */
export interface AccessOptions {
  /** The token every request must carry: 16 to 1024 visible ASCII characters. None: only this machine is served (unless `public`). */
  token?: string;
  /** Origins (`https://example.com`) allowed besides the server's own; they get CORS headers. `"*"` allows any (public servers). */
  allowedOrigins?: readonly string[];
  /** Serve anyone, with no token, from any address and any `Host`: a read-only server meant to face the world. Default `false`. */
  public?: boolean;
  /** The realm of `WWW-Authenticate` on a 401. Default `"ipfs-kit"`. */
  realm?: string;
  /**
   * Exact paths (`"/"`, `"/page.js"`) whose `GET` and `HEAD` requests need no
   * token: static assets with no secret in them, such as a web page that asks
   * for the token. At most 64. Default none.
   */
  openPaths?: readonly string[];
}

/** What the server passes on about a request's connection. */
export interface AccessInfo {
  /** The peer. `undefined`: not known, and so not trusted as this machine. */
  readonly remoteAddr?: Deno.Addr;
  /** Whether a server in front already verified a token for this request. */
  readonly authenticated?: boolean;
}

/** What {@linkcode AccessPolicy.check} found: the origin to send CORS headers to, and whether a token was verified. */
export interface AccessGrant {
  /** An allowed cross origin (it gets CORS headers), or `undefined`. */
  readonly corsOrigin: string | undefined;
  /** Whether this policy verified a token, or was told a server in front did. */
  readonly authenticated: boolean;
}

/**
 * Checks a `token` option: visible ASCII (it travels in a header), 16 to
 * 1024 characters.
 *
 * @param token The option.
 * @param what How the error messages start, such as `"Cannot start server"`.
 * @returns The token, or `undefined` when unset.
 * @throws {TypeError} Not a string, or not visible ASCII.
 * @throws {RangeError} Too short or too long.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkToken } from "@ipfs-kit/kit/http";
 *
 * assert.throws(() => checkToken("short", "Cannot start server"), RangeError);
 * assert.equal(checkToken(undefined, "Cannot start server"), undefined);
 * ```
 */
export function checkToken(token: unknown, what: string): string | undefined {
  if (token === undefined) return undefined;
  if (typeof token !== "string") {
    throw new TypeError(`${what}: token must be a string: received ${typeof token}`);
  }
  if (token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH) {
    throw new RangeError(
      `${what}: token must have ${MIN_TOKEN_LENGTH} to ${MAX_TOKEN_LENGTH} characters: received ${token.length}`,
    );
  }
  if (!TOKEN.test(token)) {
    throw new TypeError(`${what}: token must hold only visible ASCII characters`);
  }
  return token;
}

/**
 * Whether a hostname (or address) names this machine: `localhost`,
 * `*.localhost`, 127.0.0.0/8, `::1`.
 *
 * @param hostname A hostname, an IPv4 address or an IPv6 address (bracketed or not).
 * @returns Whether it is a loopback name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopbackHostname } from "@ipfs-kit/kit/http";
 *
 * assert(isLoopbackHostname("127.0.0.1") && isLoopbackHostname("[::1]"));
 * assert(!isLoopbackHostname("0.0.0.0") && !isLoopbackHostname("example.com"));
 * ```
 */
export function isLoopbackHostname(hostname: string): boolean {
  let name = hostname.toLowerCase();
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (name === "::1" || name === "0:0:0:0:0:0:0:1") return true;
  const v4 = name.startsWith("::ffff:") ? name.slice(7) : name;
  const parts = v4.split(".");
  if (parts.length !== 4) return false;
  if (!parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) return false;
  return parts[0] === "127";
}

/**
 * Whether a peer address is on this machine (Unix sockets are). An unknown
 * peer (`undefined`) is not: the checks fail closed.
 *
 * @param addr The peer's address.
 * @returns Whether it is on this machine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopbackPeer } from "@ipfs-kit/kit/http";
 *
 * assert(isLoopbackPeer({ transport: "tcp", hostname: "127.0.0.1", port: 4000 }));
 * assert(!isLoopbackPeer(undefined));
 * ```
 */
export function isLoopbackPeer(addr: Deno.Addr | undefined): boolean {
  if (addr === undefined || addr === null || typeof addr !== "object") return false;
  if (addr.transport === "unix" || addr.transport === "unixpacket") return true;
  if (addr.transport !== "tcp" && addr.transport !== "udp") return false;
  return isLoopbackHostname((addr as Deno.NetAddr).hostname);
}

/** The origin (`scheme://host[:port]`) of an `Origin` header, lower-cased, or `undefined` (`null` and junk). */
function originOf(header: string): string | undefined {
  if (header === "null" || header.length > 2048) return undefined;
  try {
    const url = new URL(header);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return url.origin.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The token of an `Authorization: Bearer <token>` header, if it has that form. */
function bearerToken(header: string | null): string | undefined {
  if (header === null) return undefined;
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  return match?.[1];
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * The access rules of a server or a handler; see the module documentation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AccessPolicy, HttpError } from "@ipfs-kit/kit/http";
 *
 * const policy = new AccessPolicy({ token: "0123456789abcdef-token" });
 * const request = new Request("http://wal.example/", {
 *   headers: { authorization: "Bearer 0123456789abcdef-token" },
 * });
 * assert.equal(policy.check(request, new URL(request.url)).authenticated, true);
 * assert.throws(() => policy.check(new Request("http://wal.example/"), new URL("http://wal.example/")), HttpError);
 * ```
 */
export class AccessPolicy {
  readonly #digest: Uint8Array | undefined;
  readonly #origins: ReadonlySet<string>;
  readonly #anyOrigin: boolean;
  readonly #public: boolean;
  readonly #realm: string;
  readonly #openPaths: ReadonlySet<string>;

  /**
   * Checks the options and builds the policy.
   *
   * @param options The token, the allowed origins, whether it is public.
   * @param what How the error messages start.
   * @throws {TypeError} An option has the wrong type, a token and `public` together.
   * @throws {RangeError} The token's length is out of range.
   */
  constructor(options: AccessOptions = {}, what = "Cannot create access policy") {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`${what}: access options must be an object`);
    }
    const token = checkToken(options.token, what);
    if (options.public !== undefined && typeof options.public !== "boolean") {
      throw new TypeError(`${what}: public must be a boolean`);
    }
    if (options.public === true && token !== undefined) {
      throw new TypeError(`${what}: a public policy takes no token`);
    }
    const origins = new Set<string>();
    let any = false;
    if (options.allowedOrigins !== undefined) {
      if (!Array.isArray(options.allowedOrigins)) {
        throw new TypeError(`${what}: allowedOrigins must be an array of origins`);
      }
      for (const entry of options.allowedOrigins) {
        if (entry === "*") {
          any = true;
          continue;
        }
        const origin = typeof entry === "string" ? originOf(entry) : undefined;
        if (origin === undefined || origin !== entry.toLowerCase().replace(/\/$/, "")) {
          throw new TypeError(
            `${what}: allowedOrigins must hold origins such as "https://example.com": received ${
              typeof entry === "string" ? JSON.stringify(entry.slice(0, 64)) : typeof entry
            }`,
          );
        }
        origins.add(origin);
      }
    }
    const realm = options.realm ?? "ipfs-kit";
    if (typeof realm !== "string" || !/^[\x20\x21\x23-\x7e]{1,64}$/.test(realm)) {
      throw new TypeError(`${what}: realm must be 1 to 64 visible ASCII characters, no quotes`);
    }
    const openPaths = options.openPaths ?? [];
    if (
      !Array.isArray(openPaths) || openPaths.length > 64 ||
      openPaths.some((path) => typeof path !== "string" || !/^\/[\x21-\x7e]{0,255}$/.test(path))
    ) {
      throw new TypeError(`${what}: openPaths must be at most 64 paths such as "/page.js"`);
    }
    this.#openPaths = new Set(openPaths);
    this.#digest = token === undefined ? undefined : sha256(token);
    this.#origins = origins;
    this.#anyOrigin = any;
    this.#public = options.public === true;
    this.#realm = realm;
  }

  /** Whether a token is required. */
  get requiresToken(): boolean {
    return this.#digest !== undefined;
  }

  /** Whether anyone is served (a public policy). */
  get isPublic(): boolean {
    return this.#public;
  }

  /**
   * Whether a server with this policy may listen on `hostname`: loopback
   * addresses always; any other only with a token or when public.
   *
   * @param hostname The address to listen on.
   * @returns Whether it may.
   */
  mayBind(hostname: string): boolean {
    return this.#public || this.#digest !== undefined || isLoopbackHostname(hostname);
  }

  /**
   * Checks that the request may be served: its peer and `Host` (no token,
   * not public), its `Origin`, its token.
   *
   * @param request The request.
   * @param url Its URL, parsed (the `Host` header is its host).
   * @param info Its connection; without it the peer counts as remote.
   * @returns The CORS origin to answer, and whether a token was verified.
   * @throws {HttpError} 403 `forbidden_peer`, `forbidden_host`, `forbidden_origin`; 401 `unauthorized`.
   */
  check(request: Request, url: URL, info?: AccessInfo): AccessGrant {
    const vouched = info?.authenticated === true;
    if (this.#digest === undefined && !this.#public && !vouched) {
      if (!isLoopbackPeer(info?.remoteAddr)) {
        throw new HttpError(
          403,
          "forbidden_peer",
          "Cannot serve request: without a token only this machine is served",
        );
      }
      if (!isLoopbackHostname(url.hostname)) {
        throw new HttpError(
          403,
          "forbidden_host",
          "Cannot serve request: without a token only loopback host names are served",
        );
      }
    }
    let corsOrigin: string | undefined;
    const originHeader = request.headers.get("origin");
    if (originHeader !== null) {
      const origin = originOf(originHeader);
      const own = origin !== undefined && new URL(origin).host === url.host.toLowerCase();
      const allowed = origin !== undefined && (this.#anyOrigin || this.#origins.has(origin));
      if (!own && !allowed && !this.#public) {
        throw new HttpError(
          403,
          "forbidden_origin",
          `Cannot serve request: origin not allowed: ${JSON.stringify(originHeader.slice(0, 200))}`,
        );
      }
      if (allowed && !own) corsOrigin = origin;
    }
    if (
      this.#digest === undefined || request.method === "OPTIONS" ||
      (this.#openPaths.has(url.pathname) && (request.method === "GET" || request.method === "HEAD"))
    ) {
      return { corsOrigin, authenticated: vouched };
    }
    let candidate = bearerToken(request.headers.get("authorization"));
    if (candidate === undefined && request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const values = url.searchParams.getAll("token");
      if (values.length === 1) candidate = values[0];
    }
    if (!this.#matches(candidate)) {
      throw new HttpError(
        401,
        "unauthorized",
        "Cannot serve request: a valid bearer token is required",
        { headers: { "www-authenticate": `Bearer realm="${this.#realm}"` } },
      );
    }
    return { corsOrigin, authenticated: true };
  }

  /**
   * Sets the CORS headers of an allowed cross origin in `headers`.
   *
   * @param grant What {@linkcode AccessPolicy.check} returned.
   * @param headers The response's headers.
   */
  applyCors(grant: AccessGrant, headers: Headers): void {
    if (grant.corsOrigin === undefined) return;
    headers.set("access-control-allow-origin", grant.corsOrigin);
    const vary = headers.get("vary");
    if (vary === null) headers.set("vary", "Origin");
    else if (!/(^|,)\s*origin\s*(,|$)/i.test(vary)) headers.set("vary", `${vary}, Origin`);
  }

  /**
   * The answer to a CORS preflight (`OPTIONS`): 204 with the allowed methods
   * and headers for an allowed cross origin.
   *
   * @param grant What {@linkcode AccessPolicy.check} returned for the preflight.
   * @param methods The methods to allow, such as `"GET, HEAD, POST"`.
   * @param headers Headers to start from.
   * @returns The response.
   * @throws {HttpError} 405 the origin is not allowed cross-origin access.
   */
  preflight(grant: AccessGrant, methods: string, headers: Headers = new Headers()): Response {
    if (grant.corsOrigin === undefined) {
      throw new HttpError(
        405,
        "method_not_allowed",
        "Cannot serve OPTIONS: no cross-origin access is allowed",
        { headers: { allow: methods } },
      );
    }
    this.applyCors(grant, headers);
    headers.set("access-control-allow-methods", methods);
    headers.set("access-control-allow-headers", "authorization, content-type");
    headers.set("access-control-max-age", "600");
    return new Response(null, { status: 204, headers });
  }

  /** Whether `candidate` is the token, in time independent of where they differ and of its length. */
  #matches(candidate: string | undefined): boolean {
    if (typeof candidate !== "string" || candidate.length > MAX_TOKEN_LENGTH * 4) return false;
    return timingSafeEqual(sha256(candidate), this.#digest!);
  }
}
