// The value codec of the operation log's records: JSON values plus
// `Uint8Array`s (stored as raw bytes after the JSON, never as text) and
// CIDs. Private to the WAL.
//
// Layout: [u8 version 1][u32 JSON length][JSON][u32 blob count]
//         [u32 length of each blob]...[blob bytes, back to back]
// In the JSON a blob is {"$bytes": index} and a CID is {"$cid": "<string>"};
// a key of the value that starts with "$" gets one more "$" in front, so
// the tags are never confused with the value's own objects.

import { CID } from "npm:multiformats@14.0.5/cid";

const VERSION = 1;
const MAX_DEPTH = 128;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** An encoded value, and a copy of it whose byte arrays are views of `bytes`. */
export interface Encoded {
  bytes: Uint8Array;
  value: unknown;
}

/**
 * Encodes `value`. `what` names it in errors ("Cannot submit operation:
 * params ...").
 *
 * @throws {TypeError} The value holds something other than JSON values,
 * `Uint8Array`s and CIDs, or a cycle.
 */
export function encodeValue(value: unknown, what: string, context: string): Encoded {
  const blobs: Uint8Array[] = [];
  const tree = toTree(value, blobs, what, context, 0, new Set());
  const json = encoder.encode(JSON.stringify(tree));
  let size = 1 + 4 + json.length + 4 + 4 * blobs.length;
  for (const blob of blobs) size += blob.length;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes[0] = VERSION;
  view.setUint32(1, json.length, true);
  bytes.set(json, 5);
  let offset = 5 + json.length;
  view.setUint32(offset, blobs.length, true);
  offset += 4;
  for (const blob of blobs) {
    view.setUint32(offset, blob.length, true);
    offset += 4;
  }
  const views: Uint8Array[] = [];
  for (const blob of blobs) {
    bytes.set(blob, offset);
    views.push(bytes.subarray(offset, offset + blob.length));
    offset += blob.length;
  }
  return { bytes, value: fromTree(tree, views) };
}

/**
 * Decodes what {@linkcode encodeValue} wrote. Byte arrays in the result are
 * views of `bytes`.
 *
 * @throws {Error} The bytes are not an encoded value.
 */
export function decodeValue(bytes: Uint8Array): unknown {
  if (bytes.length < 9 || bytes[0] !== VERSION) {
    throw new Error(`not an encoded value (version ${bytes[0]}, ${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(1, true);
  let offset = 5 + jsonLength;
  if (offset + 4 > bytes.length) throw new Error("encoded value is truncated");
  const tree = JSON.parse(decoder.decode(bytes.subarray(5, offset)));
  const count = view.getUint32(offset, true);
  offset += 4;
  if (offset + 4 * count > bytes.length) throw new Error("encoded value is truncated");
  const lengths: number[] = [];
  for (let i = 0; i < count; i++) lengths.push(view.getUint32(offset + 4 * i, true));
  offset += 4 * count;
  const views: Uint8Array[] = [];
  for (const length of lengths) {
    if (offset + length > bytes.length) throw new Error("encoded value is truncated");
    views.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== bytes.length) throw new Error("encoded value has trailing bytes");
  return fromTree(tree, views);
}

function toTree(
  value: unknown,
  blobs: Uint8Array[],
  what: string,
  path: string,
  depth: number,
  ancestors: Set<object>,
): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw invalid(what, path, String(value));
      return value;
    case "undefined":
      return null;
    case "object":
      break;
    default:
      throw invalid(what, path, typeof value);
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) {
    blobs.push(value);
    return { $bytes: blobs.length - 1 };
  }
  const cid = CID.asCID(value);
  if (cid !== null) return { $cid: cid.toString() };
  if (depth >= MAX_DEPTH) {
    throw new TypeError(`${what}: ${path} is nested more than ${MAX_DEPTH} levels deep`);
  }
  if (ancestors.has(value)) throw new TypeError(`${what}: ${path} holds a cycle`);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      return value.map((item, i) =>
        toTree(item, blobs, what, `${path}[${i}]`, depth + 1, ancestors)
      );
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw invalid(what, path, (value as object).constructor?.name ?? "object");
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      const tree = toTree(item, blobs, what, `${path}.${key}`, depth + 1, ancestors);
      setKey(out, key.startsWith("$") ? "$" + key : key, tree);
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}

function fromTree(tree: unknown, views: Uint8Array[]): unknown {
  if (tree === null || typeof tree !== "object") return tree;
  if (Array.isArray(tree)) return tree.map((item) => fromTree(item, views));
  const keys = Object.keys(tree);
  const record = tree as Record<string, unknown>;
  if (keys.length === 1) {
    if (keys[0] === "$bytes") {
      const index = record.$bytes;
      if (typeof index !== "number" || !(index >= 0 && index < views.length)) {
        throw new Error(`encoded value names a missing byte array: ${index}`);
      }
      return views[index];
    }
    if (keys[0] === "$cid") return CID.parse(String(record.$cid));
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    setKey(out, key.startsWith("$") ? key.slice(1) : key, fromTree(record[key], views));
  }
  return out;
}

/** Sets an own property, also for the key `__proto__`. */
function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else target[key] = value;
}

function invalid(what: string, path: string, received: string): TypeError {
  return new TypeError(
    `${what}: ${path} must hold only JSON values, Uint8Array and CID: received ${received}`,
  );
}
