// Access checks of the signaling route: bearer tokens compared in constant
// time, loopback peers and Host names (against DNS rebinding), and Origin
// headers (against cross-site pages). The same rules as the WAL's HTTP API
// (whose helpers are private to wal/, on a floor beside this one's).

import { createHash, timingSafeEqual } from "node:crypto";

/** The shortest token accepted. */
export const MIN_TOKEN_LENGTH = 16;
/** The longest token accepted. */
export const MAX_TOKEN_LENGTH = 1024;

/**
 * Checks a token option: 16 to 1024 visible ASCII characters.
 *
 * @throws {TypeError} Not a string of visible ASCII.
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
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new TypeError(`${what}: token must hold only visible ASCII characters`);
  }
  return token;
}

/** Compares candidates with a token in time independent of where they differ. */
export class TokenMatcher {
  readonly #digest: Uint8Array;

  constructor(token: string) {
    this.#digest = sha256(token);
  }

  matches(candidate: string | null | undefined): boolean {
    if (typeof candidate !== "string" || candidate.length > MAX_TOKEN_LENGTH * 4) return false;
    return timingSafeEqual(sha256(candidate), this.#digest);
  }
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | null): string | undefined {
  if (header === null) return undefined;
  return /^Bearer +([\x21-\x7e]+) *$/i.exec(header)?.[1];
}

/** Whether a hostname names this machine: `localhost`, `*.localhost`, 127.0.0.0/8, `::1`. */
export function isLoopbackHostname(hostname: string): boolean {
  let name = hostname.toLowerCase();
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (name === "::1" || name === "0:0:0:0:0:0:0:1") return true;
  const v4 = name.startsWith("::ffff:") ? name.slice(7) : name;
  const parts = v4.split(".");
  return parts.length === 4 && parts[0] === "127" &&
    parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

/** Whether a peer address is on this machine (Unix sockets are). */
export function isLoopbackPeer(addr: Deno.Addr | undefined): boolean {
  if (addr === undefined) return true;
  if (addr.transport === "unix" || addr.transport === "unixpacket") return true;
  if (addr.transport === "vsock") return false;
  return isLoopbackHostname((addr as Deno.NetAddr).hostname);
}

/** The origin of an `Origin` header, lower-cased; `undefined` for `null` and junk. */
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
