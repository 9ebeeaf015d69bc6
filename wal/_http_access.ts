// Access checks of the WAL's HTTP API: bearer tokens compared in constant
// time, loopback addresses and Host headers (against DNS rebinding), and
// Origin headers (against cross-site requests from browsers), with the
// answer to a CORS preflight. Private to the WAL; the rules are described
// under "Security" in http_handler.ts.

import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "./_http_response.ts";

/** The shortest token accepted. */
export const MIN_TOKEN_LENGTH = 16;
/** The longest token accepted. */
export const MAX_TOKEN_LENGTH = 1024;
const TOKEN = /^[\x21-\x7e]+$/;

/**
 * Checks a token option: visible ASCII (it travels in a header), 16 to
 * 1024 characters.
 *
 * @throws {TypeError} Not a string, or not visible ASCII.
 * @throws {RangeError} Too short or too long.
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

/** Compares candidates with a token in time independent of where they differ, and of their length. */
export class TokenMatcher {
  readonly #digest: Uint8Array;

  /** Keeps the token's digest only. */
  constructor(token: string) {
    this.#digest = sha256(token);
  }

  /** Whether `candidate` is the token. */
  matches(candidate: string | null | undefined): boolean {
    if (typeof candidate !== "string" || candidate.length > MAX_TOKEN_LENGTH * 4) return false;
    return timingSafeEqual(sha256(candidate), this.#digest);
  }
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

/** The token of an `Authorization: Bearer <token>` header, if it has that form. */
export function bearerToken(header: string | null): string | undefined {
  if (header === null) return undefined;
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  return match?.[1];
}

/** Whether a hostname (or address) names this machine: `localhost`, `*.localhost`, 127.0.0.0/8, `::1`. */
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

/** Whether a peer address is on this machine (Unix sockets are). */
export function isLoopbackPeer(addr: Deno.Addr | undefined): boolean {
  if (addr === undefined) return true;
  if (addr.transport === "unix" || addr.transport === "unixpacket") return true;
  if (addr.transport === "vsock") return false;
  return isLoopbackHostname((addr as Deno.NetAddr).hostname);
}

/** The origin (`scheme://host[:port]`) of an `Origin` header, lower-cased, or `undefined` (`null` and junk). */
export function originOf(header: string): string | undefined {
  if (header === "null" || header.length > 2048) return undefined;
  try {
    const url = new URL(header);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return url.origin.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The `host[:port]` of an origin. */
export function originHost(origin: string): string {
  return new URL(origin).host;
}

/** Who may be served: see "Security" in http_handler.ts. */
export interface AccessRules {
  /** The token every request must carry; none: only this machine is served. */
  readonly token: TokenMatcher | undefined;
  /** Origins allowed besides the server's own; they get CORS headers. */
  readonly allowedOrigins: ReadonlySet<string>;
}

/** A request, as the access checks see it. */
export interface AccessRequest {
  readonly request: Request;
  /** Its connection. */
  readonly info: Deno.ServeHandlerInfo | undefined;
  /** Its URL, parsed. */
  readonly url: URL;
  /** Its path below the base path. */
  readonly path: string;
  /** The response's headers: an allowed origin's CORS headers are set in them. */
  readonly headers: Headers;
}

/**
 * Checks that `rules` let the request be served: its peer and `Host` (no
 * token), its `Origin`, its token.
 *
 * @throws {HttpError} 403 a peer, host or origin not allowed, 401 no valid token.
 */
export function checkAccess(rules: AccessRules, access: AccessRequest): void {
  const { request, info, url, path, headers } = access;
  if (rules.token === undefined) {
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
    const allowed = origin !== undefined && rules.allowedOrigins.has(origin);
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
  if (rules.token === undefined || request.method === "OPTIONS") return;
  let candidate = bearerToken(request.headers.get("authorization"));
  if (candidate === undefined && path === "/feed") {
    const values = url.searchParams.getAll("token");
    if (values.length === 1) candidate = values[0];
  }
  if (!rules.token.matches(candidate)) {
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

/**
 * The answer to a CORS preflight (`OPTIONS`): 204 with the allowed methods
 * and headers, for an allowed origin (whose headers `checkAccess` set).
 *
 * @throws {HttpError} 405 the origin is not allowed cross-origin access.
 */
export function preflight(headers: Headers): Response {
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
