/**
 * A node's libp2p identity, for the floors above that sign with it (peer
 * discovery, the libp2p node): an Ed25519 key pair made with WebCrypto and
 * the peer ID derived from it.
 *
 * The embedded node keeps its identity in `<repo>/keys/self.json`, in the
 * shape of Kubo's `Identity` config; {@linkcode loadPeerIdentity} reads it
 * (read only: a running node may hold the repository).
 * {@linkcode createPeerIdentity} makes a throwaway one in memory.
 * {@linkcode publicKeyOfPeerId} recovers the public key an Ed25519 peer ID
 * carries (its identity multihash holds the protobuf key), so a signature
 * can be checked against the peer ID alone.
 *
 * @module
 */

import { base58btc } from "npm:multiformats@14.0.5/bases/base58";
import { InvalidInputError } from "./errors.ts";
import {
  decodeKey,
  generateIdentity,
  parseIdentity,
  type PeerIdentity as StoredIdentity,
  peerIdOf as derivePeerId,
} from "./_identity.ts";

/**
 * A node's identity: its peer ID, its public key as libp2p encodes it (the
 * protobuf `PublicKey`), and its private key for signing.
 */
export interface PeerIdentity {
  /** The peer ID, base58btc (`12D3KooW...`). */
  readonly id: string;
  /** The protobuf-encoded public key (type Ed25519). */
  readonly publicKey: Uint8Array;
  /** The Ed25519 private key, usable with `crypto.subtle.sign` only. */
  readonly privateKey: CryptoKey;
}

const ED25519 = 1;

/**
 * Makes a new Ed25519 identity in memory (nothing is written).
 *
 * @returns The identity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPeerIdentity, peerIdOf } from "@ipfs-kit/kit/ipfs";
 *
 * const identity = await createPeerIdentity();
 * assert.match(identity.id, /^12D3KooW/);
 * assert.equal(await peerIdOf(identity.publicKey), identity.id);
 * ```
 */
export async function createPeerIdentity(): Promise<PeerIdentity> {
  const { identity } = await generateIdentity();
  return freeze(identity);
}

/**
 * Reads the identity of the embedded node whose repository is `repo`
 * (`<repo>/keys/self.json`). Reading only: it works while a node or the
 * daemon holds the repository.
 *
 * @param repo The repository's folder.
 * @returns The identity.
 * @throws {InvalidInputError} The key file is damaged or holds another kind of key.
 * @throws {Deno.errors.NotFound} The repository has no identity (not initialised).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode, loadPeerIdentity } from "@ipfs-kit/kit/ipfs";
 *
 * const repo = await Deno.makeTempDir();
 * await using node = await EmbeddedNode.open({ repo });
 * const identity = await loadPeerIdentity(repo);
 * assert.equal(identity.id, (await node.id()).id);
 * ```
 */
export async function loadPeerIdentity(repo: string): Promise<PeerIdentity> {
  if (typeof repo !== "string" || repo.length === 0) {
    throw new TypeError("Cannot load identity: repo must be a non-empty string");
  }
  const file = `${repo}/keys/self.json`;
  return freeze(await parseIdentity(await Deno.readTextFile(file), file));
}

/**
 * The peer ID of a protobuf-encoded public key: its identity multihash when
 * the key is at most 42 bytes (Ed25519 keys are), else its sha2-256, in
 * base58btc.
 *
 * @param publicKey The libp2p `PublicKey` message.
 * @returns The peer ID.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPeerIdentity, peerIdOf } from "@ipfs-kit/kit/ipfs";
 *
 * const { id, publicKey } = await createPeerIdentity();
 * assert.equal(await peerIdOf(publicKey), id);
 * ```
 */
export function peerIdOf(publicKey: Uint8Array): Promise<string> {
  return derivePeerId(publicKey);
}

/**
 * The raw 32-byte Ed25519 public key an Ed25519 peer ID carries (its
 * identity multihash holds the protobuf key).
 *
 * @param peerId A base58btc peer ID (`12D3KooW...`).
 * @returns The raw public key, for `crypto.subtle.importKey("raw", ...)`.
 * @throws {InvalidInputError} The peer ID is malformed, or is not an Ed25519 key's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPeerIdentity, InvalidInputError, publicKeyOfPeerId } from "@ipfs-kit/kit/ipfs";
 *
 * const { id, publicKey } = await createPeerIdentity();
 * assert.deepEqual(publicKeyOfPeerId(id), publicKey.subarray(4));
 * assert.throws(() => publicKeyOfPeerId("QmNotAPeer"), InvalidInputError);
 * ```
 */
export function publicKeyOfPeerId(peerId: string): Uint8Array {
  const what = "Cannot read peer ID";
  if (typeof peerId !== "string" || peerId.length === 0 || peerId.length > 128) {
    throw new InvalidInputError(`${what}: expected a base58btc peer ID of at most 128 characters`);
  }
  let bytes: Uint8Array;
  try {
    bytes = base58btc.baseDecode(peerId);
  } catch (cause) {
    throw new InvalidInputError(`${what}: ${JSON.stringify(peerId)} is not base58btc`, { cause });
  }
  // An identity multihash: code 0x00, then its length (one varint byte here).
  if (bytes.length < 2 || bytes[0] !== 0x00 || bytes[1] !== bytes.length - 2) {
    throw new InvalidInputError(
      `${what}: ${JSON.stringify(peerId)} does not embed its public key (not an Ed25519 peer ID)`,
    );
  }
  let key: { type: number; data: Uint8Array };
  try {
    key = decodeKey(bytes.subarray(2));
  } catch (cause) {
    throw new InvalidInputError(`${what}: ${JSON.stringify(peerId)} holds no libp2p key`, {
      cause,
    });
  }
  if (key.type !== ED25519 || key.data.length !== 32) {
    throw new InvalidInputError(`${what}: ${JSON.stringify(peerId)} is not an Ed25519 key's`);
  }
  return key.data.slice();
}

function freeze(identity: StoredIdentity): PeerIdentity {
  return Object.freeze({ ...identity });
}
