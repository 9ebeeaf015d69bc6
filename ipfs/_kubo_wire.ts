/**
 * The Kubo daemon's wire forms: paths as it takes them (`/ipfs/<cid>/...`,
 * checked here first), its own `timeout` parameter, bytes in multibase, and
 * the checks of what it answers.
 *
 * @module
 */

import { base64url } from "npm:multiformats@14.0.5/bases/base64";
import { equals } from "npm:multiformats@14.0.5/bytes";
import type { CID, CidLike } from "./content_store.ts";
import { pathString } from "./_arguments.ts";
import { splitPath } from "./_dag_path.ts";

/** A CID or path as the daemon takes it (`/ipfs/<cid>/...`), checked here first. */
export function ipfsPath(path: CidLike, what: string): { arg: string; subject: string } {
  const { root, segments } = splitPath(path, undefined, what);
  return { arg: `/ipfs/${[root.toString(), ...segments].join("/")}`, subject: pathString(path) };
}

/** `{ timeout }` for the typed client when a deadline is set: the daemon's own timeout. */
export function clientTimeout(left: number | undefined): { timeout?: number } {
  return left === undefined ? {} : { timeout: left };
}

/**
 * `{ timeout }` for a raw command: Kubo reads it as a Go duration, so it
 * needs its unit (the typed client adds it itself).
 */
export function rpcTimeout(left: number | undefined): { timeout?: string } {
  return left === undefined ? {} : { timeout: `${left}ms` };
}

/** Text as a raw command's argument in Kubo's multibase form (`u...`, base64url). */
export function toRpc(text: string): string {
  return base64url.encode(new TextEncoder().encode(text));
}

/** Bytes in Kubo's RPC wire form: multibase base64url (`u...`). */
export function fromRpc(value: unknown): Uint8Array {
  if (typeof value !== "string" || value === "" || value === "u") return new Uint8Array();
  return base64url.decode(value.startsWith("u") ? value : `u${value}`);
}

/** The daemon stored what was sent: the same multihash (versions may differ). */
export function checkSameBlock(stored: CID, expected: CID, what: string): void {
  if (!equals(stored.multihash.bytes, expected.multihash.bytes)) {
    throw new Error(
      `Cannot ${what}: the daemon stored ${stored}, expected ${expected} (a hash mismatch)`,
    );
  }
}

/** An answer of the daemon's that is not what its command gives. */
export function malformed(command: string, value: unknown): Error {
  return new Error(
    `Cannot read the daemon's ${command} answer: unexpected ${
      JSON.stringify(value)?.slice(0, 200)
    }`,
  );
}
