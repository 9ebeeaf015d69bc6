/**
 * On-disk format of the disk cache: entry headers, file names, the recency
 * snapshot, and the digests they use. Private to the cache; the layout is
 * described in disk_cache.ts.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";

/** `IKDC`: the first four bytes of every entry file. */
const ENTRY_MAGIC = 0x4344_4b49;
/** `IKDI`: the first four bytes of the recency snapshot. */
const SNAPSHOT_MAGIC = 0x4944_4b49;
const FORMAT_VERSION = 1;
/**
 * The fixed part of an entry header: magic 4, version 4, payload length 8,
 * key length 4, reserved 4 (zero), SHA-256 of the payload 32. The key's
 * UTF-8 bytes follow, then the payload.
 */
export const HEADER_SIZE = 56;
/** The longest key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 4096;
const DIGEST_SIZE = 32;
const NAME = /^[0-9a-f]{64}$/;

const encoder = new TextEncoder();

/** An incremental SHA-256 (node:crypto: WebCrypto's `digest` cannot stream). */
export function sha256(): Hash {
  return createHash("sha256");
}

/** A key, checked, as UTF-8 bytes and the entry name (SHA-256 hex) it maps to. */
export interface KeyInfo {
  bytes: Uint8Array;
  name: string;
}

/**
 * Checks `key` and maps it to a file name: the SHA-256 of its UTF-8 bytes in
 * hex. A name is 64 hex digits whatever the key holds (`..`, `/`, NUL), so no
 * key can name a file outside the cache. Keys with lone surrogates are
 * refused: UTF-8 cannot encode them, and two such keys could share a name.
 */
export function keyInfo(key: string, what: string): KeyInfo {
  if (typeof key !== "string") {
    throw new TypeError(`Cannot ${what}: key must be a string: received ${typeof key}`);
  }
  if (key.length === 0) throw new TypeError(`Cannot ${what}: key must not be empty`);
  if (!key.isWellFormed()) {
    throw new TypeError(`Cannot ${what}: key must be well-formed Unicode (no lone surrogates)`);
  }
  const bytes = encoder.encode(key);
  if (bytes.length > MAX_KEY_BYTES) {
    throw new RangeError(
      `Cannot ${what}: key exceeds ${MAX_KEY_BYTES} bytes in UTF-8: received ${bytes.length}`,
    );
  }
  return { bytes, name: sha256().update(bytes).digest("hex") };
}

/** Whether `name` is an entry name (64 lowercase hex digits). */
export function isEntryName(name: string): boolean {
  return NAME.test(name);
}

/** The header of an entry with this key, payload length and payload digest. */
export function encodeHeader(
  key: Uint8Array,
  payloadLength: number,
  digest: Uint8Array,
): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE + key.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, ENTRY_MAGIC, true);
  view.setUint32(4, FORMAT_VERSION, true);
  view.setBigUint64(8, BigInt(payloadLength), true);
  view.setUint32(16, key.length, true);
  view.setUint32(20, 0, true);
  bytes.set(digest, 24);
  bytes.set(key, HEADER_SIZE);
  return bytes;
}

/**
 * Checks the header in `head` (the first `HEADER_SIZE + key.length` bytes of a
 * file of `fileSize` bytes) against the key asked for. Returns the payload's
 * digest, or a string that says why the entry is corrupt.
 */
export function checkHeader(
  head: Uint8Array,
  key: Uint8Array,
  fileSize: number,
): Uint8Array | string {
  if (head.length < HEADER_SIZE + key.length) return `truncated header: ${fileSize} bytes`;
  const view = new DataView(head.buffer, head.byteOffset, HEADER_SIZE);
  if (view.getUint32(0, true) !== ENTRY_MAGIC) return "bad magic";
  const version = view.getUint32(4, true);
  if (version !== FORMAT_VERSION) return `unsupported format version ${version}`;
  if (view.getUint32(20, true) !== 0) return "reserved header bytes are not zero";
  const keyLength = view.getUint32(16, true);
  if (keyLength !== key.length) return `key length ${keyLength} does not match the key's`;
  for (let i = 0; i < key.length; i++) {
    if (head[HEADER_SIZE + i] !== key[i]) return "the entry holds another key";
  }
  const payloadLength = view.getBigUint64(8, true);
  const expected = fileSize - HEADER_SIZE - key.length;
  if (payloadLength !== BigInt(expected)) {
    return `payload length ${payloadLength} does not match the file (${expected} bytes)`;
  }
  return head.subarray(24, 24 + DIGEST_SIZE);
}

/** Whether two digests are equal. */
export function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The recency snapshot: entry names grouped in lists, each from least to most
 * recently used. Layout: magic 4, version 4, list count 4, each list's length
 * 4, then every name as 32 raw bytes, then the SHA-256 of all that.
 */
export function encodeSnapshot(lists: string[][]): Uint8Array {
  let names = 0;
  for (const list of lists) names += list.length;
  const head = 12 + 4 * lists.length;
  const bytes = new Uint8Array(head + DIGEST_SIZE * names + DIGEST_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, SNAPSHOT_MAGIC, true);
  view.setUint32(4, FORMAT_VERSION, true);
  view.setUint32(8, lists.length, true);
  let at = head;
  lists.forEach((list, i) => {
    view.setUint32(12 + 4 * i, list.length, true);
    for (const name of list) {
      for (let j = 0; j < DIGEST_SIZE; j++) {
        bytes[at++] = parseInt(name.slice(2 * j, 2 * j + 2), 16);
      }
    }
  });
  bytes.set(sha256().update(bytes.subarray(0, at)).digest(), at);
  return bytes;
}

/** Decodes a snapshot; `undefined` when it is damaged or of another version. */
export function decodeSnapshot(bytes: Uint8Array): string[][] | undefined {
  if (bytes.length < 12 + DIGEST_SIZE) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint32(0, true) !== SNAPSHOT_MAGIC) return undefined;
  if (view.getUint32(4, true) !== FORMAT_VERSION) return undefined;
  const count = view.getUint32(8, true);
  const head = 12 + 4 * count;
  if (count > 16 || bytes.length < head + DIGEST_SIZE) return undefined;
  const body = bytes.length - DIGEST_SIZE;
  const digest = sha256().update(bytes.subarray(0, body)).digest();
  if (!sameDigest(digest, bytes.subarray(body))) return undefined;
  const lengths: number[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) total += lengths[i] = view.getUint32(12 + 4 * i, true);
  if (head + DIGEST_SIZE * total !== body) return undefined;
  const lists: string[][] = [];
  let at = head;
  for (const length of lengths) {
    const list: string[] = [];
    for (let n = 0; n < length; n++, at += DIGEST_SIZE) list.push(hex(bytes, at, DIGEST_SIZE));
    lists.push(list);
  }
  return lists;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex(bytes: Uint8Array, start: number, length: number): string {
  let text = "";
  for (let i = start; i < start + length; i++) text += HEX[bytes[i]];
  return text;
}

/** A random file name for a temporary file. */
export function tempName(): string {
  return hex(crypto.getRandomValues(new Uint8Array(16)), 0, 16) + ".tmp";
}
