/**
 * The node's persistent peer identity: an Ed25519 key pair made with
 * WebCrypto, kept in the repository, and the libp2p peer ID derived from it.
 *
 * The key file (`keys/self.json`, mode 0600) has the shape of Kubo's
 * `Identity` config: `{ "PeerID": "12D3KooW...", "PrivKey": "<base64>" }`,
 * where `PrivKey` is the libp2p protobuf `PrivateKey` (type Ed25519, data
 * the 32-byte seed then the 32-byte public key), so a Kubo node could take
 * the same identity.
 *
 * The peer ID is the multihash of the protobuf `PublicKey` (identity hash
 * when it is at most 42 bytes, as an Ed25519 key is; sha2-256 otherwise), in
 * base58btc.
 *
 * @module
 */

import { base58btc } from "npm:multiformats@14.0.5/bases/base58";
import { base64pad } from "npm:multiformats@14.0.5/bases/base64";
import { identity } from "npm:multiformats@14.0.5/hashes/identity";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import { InvalidInputError } from "./errors.ts";
import { syncPath } from "../runtime/sync_path.ts";

/** libp2p's `KeyType.Ed25519`. */
const ED25519 = 1;
/** The PKCS #8 prefix of an Ed25519 private key; the 32-byte seed follows. */
const PKCS8_PREFIX = new Uint8Array([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
]);

/** The node's identity. */
export interface PeerIdentity {
  /** The peer ID, base58btc. */
  id: string;
  /** The protobuf-encoded public key. */
  publicKey: Uint8Array;
  /** The private key, for signing. */
  privateKey: CryptoKey;
  /** The libp2p protobuf `PrivateKey` (seed then public key), for a network to run a peer on. */
  privateKeyBytes: Uint8Array;
}

/**
 * Encodes a libp2p protobuf key message: `{ 1: type (varint), 2: data (bytes) }`.
 * Both fields are short, so each length fits one varint byte.
 */
export function encodeKey(type: number, data: Uint8Array): Uint8Array {
  if (data.length > 127) throw new RangeError(`Cannot encode key: too long: ${data.length}`);
  return new Uint8Array([0x08, type, 0x12, data.length, ...data]);
}

/** Decodes a protobuf key message made by {@linkcode encodeKey}. */
export function decodeKey(bytes: Uint8Array): { type: number; data: Uint8Array } {
  if (bytes.length < 4 || bytes[0] !== 0x08 || bytes[2] !== 0x12 || bytes[3] > 127) {
    throw new TypeError("not a libp2p key message");
  }
  const data = bytes.subarray(4);
  if (data.length !== bytes[3]) throw new TypeError("not a libp2p key message: bad length");
  return { type: bytes[1], data };
}

/**
 * The peer ID of a protobuf-encoded public key.
 *
 * @param publicKey The libp2p `PublicKey` message.
 * @returns The base58btc peer ID (`12D3KooW...` for Ed25519).
 */
export async function peerIdOf(publicKey: Uint8Array): Promise<string> {
  const digest = publicKey.length <= 42
    ? identity.digest(publicKey)
    : await sha256.digest(publicKey);
  return base58btc.baseEncode(digest.bytes);
}

/**
 * Loads the identity from `file`, or makes one and writes it there
 * (atomically, through `tmpDir`).
 *
 * @throws {InvalidInputError} The file is damaged or holds another kind of key.
 */
export async function loadIdentity(
  file: string,
  tmpDir: string,
  sync: boolean,
): Promise<PeerIdentity> {
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (text !== undefined) return await parseIdentity(text, file);
  const { identity: made, privKey } = await generateIdentity();
  const { id } = made;
  const tmp = `${tmpDir}/${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, JSON.stringify({ PeerID: id, PrivKey: privKey }) + "\n", {
    createNew: true,
    mode: 0o600,
  });
  try {
    if (sync) await syncPath(tmp);
    await Deno.rename(tmp, file);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  if (sync) await syncPath(file.slice(0, file.lastIndexOf("/")));
  return made;
}

/**
 * Makes a new identity in memory, and its `PrivKey` (base64 protobuf) for a
 * key file.
 */
export async function generateIdentity(): Promise<{ identity: PeerIdentity; privKey: string }> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const seed = pkcs8.subarray(PKCS8_PREFIX.length);
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const publicKey = encodeKey(ED25519, pub);
  const id = await peerIdOf(publicKey);
  const privateKeyBytes = encodeKey(ED25519, new Uint8Array([...seed, ...pub]));
  const privKey = base64pad.baseEncode(privateKeyBytes);
  return { identity: { id, publicKey, privateKey: pair.privateKey, privateKeyBytes }, privKey };
}

/**
 * Reads the identity kept in `file` (Kubo's `Identity` shape).
 *
 * @throws {InvalidInputError} The file is damaged or holds another kind of key.
 */
export async function parseIdentity(text: string, file: string): Promise<PeerIdentity> {
  const fail = (why: string, cause?: unknown): never => {
    throw new InvalidInputError(
      `Cannot open repository: the identity in ${file} is damaged: ${why}`,
      cause === undefined ? undefined : { cause },
    );
  };
  let stored: { PeerID?: unknown; PrivKey?: unknown } = {};
  try {
    stored = JSON.parse(text);
  } catch (error) {
    fail("not JSON", error);
  }
  if (typeof stored.PrivKey !== "string") fail("no PrivKey");
  let key: { type: number; data: Uint8Array } = { type: 0, data: new Uint8Array() };
  try {
    key = decodeKey(base64pad.baseDecode(stored.PrivKey as string));
  } catch (error) {
    fail("PrivKey does not decode", error);
  }
  if (key.type !== ED25519 || key.data.length !== 64) fail("PrivKey is not an Ed25519 key");
  const seed = key.data.subarray(0, 32);
  const pub = key.data.slice(32);
  let privateKey: CryptoKey | undefined;
  try {
    privateKey = await crypto.subtle.importKey(
      "pkcs8",
      new Uint8Array([...PKCS8_PREFIX, ...seed]),
      { name: "Ed25519" },
      false,
      ["sign"],
    );
  } catch (error) {
    fail("the private key does not import", error);
  }
  try {
    const verifier = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, [
      "verify",
    ]);
    const probe = new TextEncoder().encode("ipfs-kit identity check");
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, privateKey!, probe);
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, verifier, signature, probe))) {
      fail("the public key does not match the private key");
    }
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    fail("the public key does not import", error);
  }
  const publicKey = encodeKey(ED25519, pub);
  const id = await peerIdOf(publicKey);
  if (stored.PeerID !== id) fail(`PeerID ${String(stored.PeerID)} does not match the key (${id})`);
  return { id, publicKey, privateKey: privateKey!, privateKeyBytes: encodeKey(ED25519, key.data) };
}
