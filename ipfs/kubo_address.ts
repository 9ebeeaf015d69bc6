/**
 * Where a Kubo daemon's RPC API is: an `http(s)` URL, a multiaddress, or the
 * `api` file Kubo writes into its repository (`$IPFS_PATH/api`) while the
 * daemon runs.
 *
 * Every form is checked and turned into the API's base URL, ending in
 * `/api/v0`. Any host is accepted (the backend is a client), but malformed
 * addresses fail with {@linkcode InvalidInputError} saying what is wrong.
 *
 * @module
 */

import { InvalidInputError, UnreachableError } from "./errors.ts";

/** The RPC API's path below the daemon's address. */
const API_PATH = "/api/v0";

/**
 * Turns a Kubo RPC API address into the API's base URL (ending in
 * `/api/v0`).
 *
 * Accepted forms:
 * - `http://host:port` or `https://host:port`, optionally with a path
 *   prefix (a reverse proxy's; `/api/v0` is appended unless it is there);
 * - a multiaddress: `/ip4/<address>/tcp/<port>`, `/ip6/<address>/tcp/<port>`,
 *   `/dns/<host>/tcp/<port>`, `/dns4/...` or `/dns6/...`, optionally followed
 *   by `/http`, `/https` or `/tls/http`. The unspecified addresses
 *   `0.0.0.0` and `::` (a daemon listening on every interface) become the
 *   loopback address.
 *
 * @param address The address.
 * @returns The base URL of the RPC API.
 * @throws {InvalidInputError} The address is malformed or of an unsupported kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseKuboApiAddress } from "@ipfs-kit/kit/ipfs";
 *
 * assert(
 *   parseKuboApiAddress("/ip4/127.0.0.1/tcp/5001").href === "http://127.0.0.1:5001/api/v0",
 * );
 * assert(
 *   parseKuboApiAddress("http://localhost:5001").href === "http://localhost:5001/api/v0",
 * );
 * ```
 */
export function parseKuboApiAddress(address: string | URL): URL {
  if (address instanceof URL) return fromUrl(new URL(address.href), address.href);
  if (typeof address !== "string") {
    throw new InvalidInputError(
      `Cannot parse Kubo API address: expected a string or a URL: received ${
        address === null ? "null" : typeof address
      }`,
    );
  }
  const text = address.trim();
  if (text === "") {
    throw new InvalidInputError("Cannot parse Kubo API address: it is empty");
  }
  if (text.startsWith("/")) return fromMultiaddr(text);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new InvalidInputError(
      `Cannot parse Kubo API address: expected an http(s) URL or a multiaddress: received ${
        JSON.stringify(address)
      }`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new InvalidInputError(
      `Cannot parse Kubo API address: not a valid URL: received ${JSON.stringify(address)}`,
      { cause: error },
    );
  }
  return fromUrl(url, address);
}

function fromUrl(url: URL, given: string): URL {
  const fail = (why: string): never => {
    throw new InvalidInputError(
      `Cannot parse Kubo API address: ${why}: received ${JSON.stringify(given)}`,
    );
  };
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    fail(`the scheme must be http or https, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.hostname === "") fail("the URL has no host");
  if (url.username !== "" || url.password !== "") {
    fail("credentials in the URL are not supported (pass an Authorization header instead)");
  }
  if (url.search !== "" || url.hash !== "") fail("the URL must not have a query or a fragment");
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.endsWith(API_PATH) ? path : `${path}${API_PATH}`;
  return url;
}

function fromMultiaddr(text: string): URL {
  const fail = (why: string): never => {
    throw new InvalidInputError(
      `Cannot parse Kubo API address: ${why}: received ${JSON.stringify(text)}`,
    );
  };
  const parts = text.split("/").slice(1);
  if (parts.some((part) => part === "")) fail("a multiaddress has no empty components");
  const [proto, host, tcp, port, ...rest] = parts;
  let hostname: string;
  switch (proto) {
    case "ip4":
      if (host === undefined || !isIPv4(host)) fail("/ip4 needs an IPv4 address");
      hostname = host === "0.0.0.0" ? "127.0.0.1" : host;
      break;
    case "ip6": {
      if (host === undefined || !isIPv6(host)) fail("/ip6 needs an IPv6 address");
      const ip = host.toLowerCase();
      hostname = `[${ip === "::" || /^(0*:)+:?0*$/.test(ip) ? "::1" : ip}]`;
      break;
    }
    case "dns":
    case "dns4":
    case "dns6":
      if (host === undefined || !isHostname(host)) fail(`/${proto} needs a host name`);
      hostname = host.toLowerCase();
      break;
    case "unix":
      return fail("Unix socket API addresses are not supported (use a TCP address)");
    default:
      return fail(`expected /ip4, /ip6, /dns, /dns4 or /dns6 first, not /${proto}`);
  }
  if (tcp !== "tcp") fail("the address must go on with /tcp/<port>");
  if (port === undefined || !/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) {
    fail("/tcp needs a port from 0 to 65535");
  }
  const suffix = rest.join("/");
  let scheme: string;
  if (suffix === "" || suffix === "http") scheme = "http";
  else if (suffix === "https" || suffix === "tls/http") scheme = "https";
  else return fail(`unsupported protocols after the port: /${suffix}`);
  return new URL(`${scheme}://${hostname}:${Number(port)}${API_PATH}`);
}

function isIPv4(text: string): boolean {
  const octets = text.split(".");
  return octets.length === 4 &&
    octets.every((octet) => /^(0|[1-9][0-9]{0,2})$/.test(octet) && Number(octet) <= 255);
}

function isIPv6(text: string): boolean {
  if (!/^[0-9a-f:.]+$/i.test(text) || !text.includes(":")) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

function isHostname(text: string): boolean {
  return text.length <= 253 &&
    text.split(".").every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}

/** Options for {@linkcode readKuboApiFile}. */
export interface ReadKuboApiFileOptions {
  /**
   * The Kubo repository. Default: `$IPFS_PATH`, else `~/.ipfs` (as Kubo's
   * command line).
   */
  ipfsPath?: string;
}

/**
 * Reads the address a running Kubo daemon wrote to `<repo>/api` and turns it
 * into the RPC API's base URL.
 *
 * @param options The repository path.
 * @returns The base URL of the RPC API.
 * @throws {UnreachableError} There is no `api` file: no daemon runs on that repository.
 * @throws {InvalidInputError} The file does not hold a valid address, or no
 * repository path is known.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readKuboApiFile } from "@ipfs-kit/kit/ipfs";
 *
 * const repo = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${repo}/api`, "/ip4/127.0.0.1/tcp/5001\n");
 * const url = await readKuboApiFile({ ipfsPath: repo });
 * assert.equal(url.href, "http://127.0.0.1:5001/api/v0");
 * ```
 */
export async function readKuboApiFile(options?: ReadKuboApiFileOptions): Promise<URL> {
  const repo = (options ?? {}).ipfsPath ?? defaultIpfsPath();
  if (typeof repo !== "string" || repo === "") {
    throw new InvalidInputError(
      `Cannot read Kubo API file: ipfsPath must be a non-empty path: received ${typeof repo}`,
    );
  }
  const file = `${repo.replace(/\/+$/, "")}/api`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UnreachableError(
        `Cannot read Kubo API file: ${file} does not exist (is the daemon running?)`,
        file,
        { cause: error },
      );
    }
    throw new InvalidInputError(
      `Cannot read Kubo API file: ${file}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  const line = text.split("\n").map((part) => part.trim()).find((part) => part !== "");
  if (line === undefined) {
    throw new InvalidInputError(`Cannot read Kubo API file: ${file} is empty`);
  }
  try {
    return parseKuboApiAddress(line);
  } catch (error) {
    throw new InvalidInputError(
      `Cannot read Kubo API file: ${file}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
}

function defaultIpfsPath(): string | undefined {
  const fromEnv = Deno.env.get("IPFS_PATH");
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const home = Deno.env.get("HOME");
  if (home === undefined || home === "") {
    throw new InvalidInputError(
      "Cannot read Kubo API file: neither ipfsPath nor IPFS_PATH nor HOME is set",
    );
  }
  return `${home}/.ipfs`;
}
