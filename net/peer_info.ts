/**
 * {@linkcode PeerInfo}: what a peer announces to the discovery server (its
 * peer ID, multiaddresses, role, capabilities, resources and metadata),
 * signed with the peer's libp2p key.
 *
 * The signature is Ed25519 over a canonical encoding: the line
 * `ipfs-kit-peer-info/1\n` then the record without its signature as JSON
 * with every object's keys sorted and no spaces. Verification takes the
 * public key from the peer ID itself (an Ed25519 peer ID is the identity
 * multihash of its protobuf key), so nobody can announce another peer's ID,
 * and any field changed after signing breaks the signature. Each record
 * carries a sequence number and the time it was signed: a record signed
 * longer ago than `maxAgeMs` (or further than `maxSkewMs` ahead) is refused,
 * and so is one whose sequence number is not above the last one accepted
 * for that peer (a replay).
 *
 * Every field is bounded ({@linkcode PEER_INFO_LIMITS}), so a record fits a
 * discovery message.
 *
 * @module
 */

import { base64url } from "npm:multiformats@14.0.5/bases/base64";
import type { PeerIdentity } from "../ipfs/peer_identity.ts";
import { publicKeyOfPeerId } from "../ipfs/peer_identity.ts";
import { PeerInfoError } from "./errors.ts";

/** A peer's role in a cluster, as the Python IPFS Kit names them. */
export type PeerRole = "master" | "worker" | "leecher" | "gateway";

/**
 * The roles a peer may take.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PEER_ROLES } from "@ipfs-kit/kit/net";
 *
 * assert(PEER_ROLES.includes("worker"));
 * ```
 */
export const PEER_ROLES: readonly PeerRole[] = Object.freeze([
  "master",
  "worker",
  "leecher",
  "gateway",
]);

/**
 * The bounds of a {@linkcode PeerInfo}'s fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PEER_INFO_LIMITS } from "@ipfs-kit/kit/net";
 *
 * assert.equal(PEER_INFO_LIMITS.maxMultiaddrs, 16);
 * ```
 */
export const PEER_INFO_LIMITS: {
  /** Multiaddresses at most. */
  readonly maxMultiaddrs: number;
  /** The longest multiaddress, in characters. */
  readonly maxMultiaddrLength: number;
  /** Capabilities at most. */
  readonly maxCapabilities: number;
  /** The longest capability, in characters (`[A-Za-z0-9._:/-]`). */
  readonly maxCapabilityLength: number;
  /** Entries of `resources` and of `metadata`, each, at most. */
  readonly maxEntries: number;
  /** The longest key of `resources` or `metadata`. */
  readonly maxKeyLength: number;
  /** The longest value of `metadata`. */
  readonly maxValueLength: number;
} = Object.freeze({
  maxMultiaddrs: 16,
  maxMultiaddrLength: 256,
  maxCapabilities: 32,
  maxCapabilityLength: 64,
  maxEntries: 16,
  maxKeyLength: 64,
  maxValueLength: 256,
});

/** What a peer says about itself, before it is signed. */
export interface PeerInfoFields {
  /** Where it listens, as multiaddresses (`/ip4/127.0.0.1/tcp/4001`). */
  multiaddrs: readonly string[];
  /** Its role. */
  role: PeerRole;
  /** What it offers (`"bitswap"`, `"gateway"`, `"storage"`...). Default none. */
  capabilities?: readonly string[];
  /** Numbers it shares (`{ "cpu_cores": 4, "disk_free_bytes": 1e12 }`). Default none. */
  resources?: Readonly<Record<string, number>>;
  /** Strings it shares (`{ "version": "0.1.0" }`). Default none. */
  metadata?: Readonly<Record<string, string>>;
}

/** A signed peer record, as announced and as answered to `peer_request`. */
export interface PeerInfo {
  /** The peer ID (Ed25519, `12D3KooW...`); the signature is checked against the key it holds. */
  readonly peerId: string;
  /** Its multiaddresses. */
  readonly multiaddrs: readonly string[];
  /** Its role. */
  readonly role: PeerRole;
  /** Its capabilities. */
  readonly capabilities: readonly string[];
  /** Its resources. */
  readonly resources: Readonly<Record<string, number>>;
  /** Its metadata. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Rises with every record the peer signs; a record not above the last one seen is a replay. */
  readonly seq: number;
  /** When it was signed, in ms since the epoch. */
  readonly timestamp: number;
  /** The Ed25519 signature over the canonical encoding, base64url. */
  readonly signature: string;
}

/** Options for {@linkcode signPeerInfo}. */
export interface SignPeerInfoOptions {
  /** The sequence number. Default: the signing time, so a restarted peer still rises. */
  seq?: number;
  /** The signing time, in ms since the epoch. Default `Date.now()`. */
  timestamp?: number;
}

/** Options for {@linkcode verifyPeerInfo}. */
export interface VerifyPeerInfoOptions {
  /** Now, in ms since the epoch. Default `Date.now()`. */
  now?: number;
  /** The oldest signature accepted, in ms. Default 600 000 (10 minutes). */
  maxAgeMs?: number;
  /** How far ahead of `now` a signature may be dated (clock skew), in ms. Default 60 000. */
  maxSkewMs?: number;
  /** The last sequence number accepted for this peer: the record's must be above it. */
  lastSeq?: number;
}

const DOMAIN = "ipfs-kit-peer-info/1\n";
const CAPABILITY = /^[A-Za-z0-9._:/-]+$/;
const KEY = /^[A-Za-z0-9._:-]+$/;
const SIGNATURE_CHARS = 86; // 64 bytes in unpadded base64url
const encoder = new TextEncoder();

/**
 * Signs `fields` with `identity`'s key: the record's `peerId` is the
 * identity's.
 *
 * @param identity The peer's identity (`loadPeerIdentity`, `createPeerIdentity` of `@ipfs-kit/kit/ipfs`).
 * @param fields Its addresses, role, capabilities, resources and metadata.
 * @param options The sequence number and time, when not now.
 * @returns The signed record.
 * @throws {PeerInfoError} A field is malformed or past {@linkcode PEER_INFO_LIMITS} (`malformed_peer_info`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPeerIdentity } from "@ipfs-kit/kit/ipfs";
 * import { signPeerInfo, verifyPeerInfo } from "@ipfs-kit/kit/net";
 *
 * const identity = await createPeerIdentity();
 * const info = await signPeerInfo(identity, {
 *   multiaddrs: ["/ip4/127.0.0.1/tcp/4001"],
 *   role: "worker",
 *   capabilities: ["bitswap"],
 * });
 * assert.equal(info.peerId, identity.id);
 * assert.equal((await verifyPeerInfo(info)).role, "worker");
 * ```
 */
export async function signPeerInfo(
  identity: PeerIdentity,
  fields: PeerInfoFields,
  options: SignPeerInfoOptions = {},
): Promise<PeerInfo> {
  if (identity === null || typeof identity !== "object" || typeof identity.id !== "string") {
    throw new TypeError("Cannot sign peer info: identity must be a PeerIdentity");
  }
  const timestamp = options.timestamp ?? Date.now();
  const unsigned = parseFields({
    peerId: identity.id,
    multiaddrs: fields?.multiaddrs,
    role: fields?.role,
    capabilities: fields?.capabilities ?? [],
    resources: fields?.resources ?? {},
    metadata: fields?.metadata ?? {},
    seq: options.seq ?? timestamp,
    timestamp,
  }, "Cannot sign peer info");
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "Ed25519" }, identity.privateKey, canonicalBytes(unsigned)),
  );
  return Object.freeze({ ...unsigned, signature: base64url.baseEncode(signature) });
}

/**
 * Checks a record received from elsewhere: its shape and bounds, its
 * signature against the key its peer ID holds, its age, and (given
 * `lastSeq`) that it is newer than the last one accepted.
 *
 * @param value The record, as parsed from JSON.
 * @param options The clock, the age bounds, the last sequence number seen.
 * @returns The record, copied and frozen.
 * @throws {PeerInfoError} `malformed_peer_info`, `bad_peer_id`, `bad_signature`, `stale`, `future` or `replayed`.
 *
 * @example A changed address breaks the signature
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPeerIdentity } from "@ipfs-kit/kit/ipfs";
 * import { PeerInfoError, signPeerInfo, verifyPeerInfo } from "@ipfs-kit/kit/net";
 *
 * const info = await signPeerInfo(await createPeerIdentity(), {
 *   multiaddrs: ["/ip4/127.0.0.1/tcp/4001"],
 *   role: "master",
 * });
 * const moved = { ...info, multiaddrs: ["/ip4/127.0.0.1/tcp/6666"] };
 * await assert.rejects(
 *   verifyPeerInfo(moved),
 *   (error) => error instanceof PeerInfoError && error.code === "bad_signature",
 * );
 * await assert.rejects(
 *   verifyPeerInfo(info, { lastSeq: info.seq }),
 *   (error) => error instanceof PeerInfoError && error.code === "replayed",
 * );
 * ```
 */
export async function verifyPeerInfo(
  value: unknown,
  options: VerifyPeerInfoOptions = {},
): Promise<PeerInfo> {
  const what = "Cannot accept peer info";
  const { now = Date.now(), maxAgeMs = 600_000, maxSkewMs = 60_000, lastSeq } = options;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new PeerInfoError(`${what}: expected an object`, "malformed_peer_info");
  }
  const record = value as Record<string, unknown>;
  const signature = record.signature;
  if (
    typeof signature !== "string" || signature.length !== SIGNATURE_CHARS ||
    !/^[A-Za-z0-9_-]+$/.test(signature)
  ) {
    throw new PeerInfoError(
      `${what}: signature must be 64 bytes in base64url`,
      "malformed_peer_info",
    );
  }
  const unsigned = parseFields(record, what);
  let rawKey: Uint8Array;
  try {
    rawKey = publicKeyOfPeerId(unsigned.peerId);
  } catch (cause) {
    throw new PeerInfoError(`${what}: ${(cause as Error).message}`, "bad_peer_id", { cause });
  }
  const key = await crypto.subtle.importKey(
    "raw",
    rawKey as Uint8Array<ArrayBuffer>,
    { name: "Ed25519" },
    false,
    [
      "verify",
    ],
  );
  const valid = await crypto.subtle.verify(
    { name: "Ed25519" },
    key,
    base64url.baseDecode(signature) as Uint8Array<ArrayBuffer>,
    canonicalBytes(unsigned),
  );
  if (!valid) {
    throw new PeerInfoError(
      `${what}: the signature of ${unsigned.peerId} does not verify against its peer ID's key`,
      "bad_signature",
    );
  }
  if (unsigned.timestamp < now - maxAgeMs) {
    throw new PeerInfoError(
      `${what}: signed ${now - unsigned.timestamp} ms ago, limit ${maxAgeMs} ms`,
      "stale",
    );
  }
  if (unsigned.timestamp > now + maxSkewMs) {
    throw new PeerInfoError(
      `${what}: signed ${unsigned.timestamp - now} ms in the future, limit ${maxSkewMs} ms`,
      "future",
    );
  }
  if (lastSeq !== undefined && unsigned.seq <= lastSeq) {
    throw new PeerInfoError(
      `${what}: sequence number ${unsigned.seq} of ${unsigned.peerId} is not above ${lastSeq}, the last one accepted (a replay)`,
      "replayed",
    );
  }
  return Object.freeze({ ...unsigned, signature });
}

/** Which peers a `peer_request` (or auto-connect) wants. */
export interface PeerFilter {
  /** Only peers of this role. */
  role?: PeerRole;
  /** Only peers with every one of these capabilities. */
  capabilities?: readonly string[];
}

/**
 * Whether `info` passes `filter`.
 *
 * @param info A record.
 * @param filter The role and capabilities wanted.
 * @returns Whether it matches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPeerIdentity } from "@ipfs-kit/kit/ipfs";
 * import { matchesPeerFilter, signPeerInfo } from "@ipfs-kit/kit/net";
 *
 * const info = await signPeerInfo(await createPeerIdentity(), {
 *   multiaddrs: [],
 *   role: "worker",
 *   capabilities: ["bitswap", "storage"],
 * });
 * assert(matchesPeerFilter(info, { role: "worker", capabilities: ["storage"] }));
 * assert(!matchesPeerFilter(info, { capabilities: ["gateway"] }));
 * ```
 */
export function matchesPeerFilter(info: PeerInfo, filter: PeerFilter): boolean {
  if (filter.role !== undefined && info.role !== filter.role) return false;
  for (const capability of filter.capabilities ?? []) {
    if (!info.capabilities.includes(capability)) return false;
  }
  return true;
}

type Unsigned = Omit<PeerInfo, "signature">;

function parseFields(record: Record<string, unknown>, what: string): Unsigned {
  const fail = (why: string): never => {
    throw new PeerInfoError(`${what}: ${why}`, "malformed_peer_info");
  };
  const L = PEER_INFO_LIMITS;
  const { peerId, multiaddrs, role, capabilities, resources, metadata, seq, timestamp } = record;
  if (typeof peerId !== "string" || peerId.length === 0 || peerId.length > 128) {
    fail("peerId must be a string of 1 to 128 characters");
  }
  const addresses = stringList(multiaddrs, "multiaddrs", L.maxMultiaddrs, fail);
  for (const address of addresses) {
    if (!address.startsWith("/") || address.length > L.maxMultiaddrLength || /\s/.test(address)) {
      fail(
        `multiaddrs must be multiaddresses (/ip4/...) of at most ${L.maxMultiaddrLength} characters: received ${
          JSON.stringify(address.slice(0, 80))
        }`,
      );
    }
  }
  if (typeof role !== "string" || !PEER_ROLES.includes(role as PeerRole)) {
    fail(`role must be one of ${PEER_ROLES.join(", ")}: received ${JSON.stringify(role)}`);
  }
  const caps = stringList(capabilities, "capabilities", L.maxCapabilities, fail);
  for (const capability of caps) {
    if (capability.length > L.maxCapabilityLength || !CAPABILITY.test(capability)) {
      fail(
        `capabilities must be at most ${L.maxCapabilityLength} characters of [A-Za-z0-9._:/-]`,
      );
    }
  }
  const numbers = entries(resources, "resources", fail);
  for (const [key, number] of numbers) {
    if (typeof number !== "number" || !Number.isFinite(number)) {
      fail(`resources.${key} must be a finite number`);
    }
  }
  const strings = entries(metadata, "metadata", fail);
  for (const [key, text] of strings) {
    if (typeof text !== "string" || text.length > L.maxValueLength) {
      fail(`metadata.${key} must be a string of at most ${L.maxValueLength} characters`);
    }
  }
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) {
    fail("seq must be a non-negative safe integer");
  }
  if (!Number.isSafeInteger(timestamp) || (timestamp as number) < 0) {
    fail("timestamp must be a non-negative safe integer (ms since the epoch)");
  }
  return {
    peerId: peerId as string,
    multiaddrs: Object.freeze(addresses),
    role: role as PeerRole,
    capabilities: Object.freeze(caps),
    resources: Object.freeze(Object.fromEntries(numbers)) as Record<string, number>,
    metadata: Object.freeze(Object.fromEntries(strings)) as Record<string, string>,
    seq: seq as number,
    timestamp: timestamp as number,
  };
}

function stringList(
  value: unknown,
  name: string,
  max: number,
  fail: (why: string) => never,
): string[] {
  if (!Array.isArray(value) || value.length > max) {
    fail(`${name} must be an array of at most ${max} strings`);
  }
  const list = value as unknown[];
  if (list.some((item) => typeof item !== "string")) fail(`${name} must hold strings only`);
  return [...list] as string[];
}

function entries(
  value: unknown,
  name: string,
  fail: (why: string) => never,
): [string, unknown][] {
  const L = PEER_INFO_LIMITS;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(`${name} must be an object`);
  }
  const list = Object.entries(value as object);
  if (list.length > L.maxEntries) fail(`${name} must have at most ${L.maxEntries} entries`);
  for (const [key] of list) {
    if (key.length > L.maxKeyLength || !KEY.test(key)) {
      fail(`${name} keys must be at most ${L.maxKeyLength} characters of [A-Za-z0-9._:-]`);
    }
  }
  return list;
}

/** The bytes signed: the domain line, then canonical JSON (sorted keys, no spaces). */
function canonicalBytes(unsigned: Unsigned): Uint8Array<ArrayBuffer> {
  return encoder.encode(DOMAIN + canonicalJson(unsigned));
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${
      keys.map((key) =>
        `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(value);
}
