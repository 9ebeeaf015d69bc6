// The value codec of the operation log's records: JSON values plus
// `Uint8Array`s (stored as raw bytes after the JSON, never as text) and
// CIDs. Private to the WAL.
//
// Layout: [u8 version 1][u32 JSON length][JSON][u32 blob count]
//         [u32 length of each blob]...[blob bytes, back to back]
// In the JSON a blob is {"$bytes": index} and a CID is {"$cid": "<string>"};
// a key of the value that starts with "$" gets one more "$" in front, so
// the tags are never confused with the value's own objects.
//
// Encoding is on the submit path, where allocating a typed array costs from
// one to ten microseconds, and every object and string allocated costs
// garbage collection later. So one pass writes the JSON as UTF-8 straight
// into the record (no strings built on the way) and builds the value's copy
// at once; records are encoded into staging chunks of 256 KiB that are
// reused once the log has written them (see `Encoded.release()`); and the
// copy's small byte arrays are carved out of shared 64 KiB chunks (a chunk
// lives as long as one of them does).

import { CID } from "npm:multiformats@14.0.5/cid";

const VERSION = 1;
const MAX_DEPTH = 128;
/** Records of up to this many bytes are encoded into a staging chunk. */
const STAGED_RECORD = 16 * 1024;
/** A staging chunk with less room left than this is retired. */
const MIN_STAGING_ROOM = 4096;
const STAGING_SIZE = 256 * 1024;
/** Staging chunks kept for reuse. */
const SPARE_STAGING = 4;
/** Byte arrays of the copy up to this size share chunks. */
const SMALL_BYTES = 1024;
const BYTES_CHUNK_SIZE = 64 * 1024;
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A chunk that records are encoded into, reused once none of them is needed. */
interface Staging {
  readonly bytes: Uint8Array;
  used: number;
  /** Records in it not released yet. */
  outstanding: number;
  /** Full: no more records go into it. */
  retired: boolean;
}

/**
 * An encoded value (`bytes`) and a copy of the value (`value`) whose byte
 * arrays are copies of the original's.
 */
export class Encoded {
  /** The record. It may live in a staging chunk: see {@linkcode Encoded.release}. */
  readonly bytes: Uint8Array;
  /** The copy of the value. It shares nothing with `bytes`. */
  readonly value: unknown;
  #staging: Staging | undefined;

  constructor(bytes: Uint8Array, value: unknown, staging: Staging | undefined) {
    this.bytes = bytes;
    this.value = value;
    this.#staging = staging;
  }

  /**
   * Lets later records reuse the memory of `bytes`: call it once nothing
   * reads `bytes` any more (the append of the record settled). Without a
   * call the memory is never reused, only collected. Idempotent.
   */
  release(): void {
    const staging = this.#staging;
    if (staging === undefined) return;
    this.#staging = undefined;
    if (--staging.outstanding === 0 && staging.retired) recycle(staging);
  }
}

const NO_FIELDS: readonly (string | number)[] = Object.freeze([]);

/**
 * Encodes `value`. `what` names it in errors ("Cannot submit operation:
 * params ..."). With `copyBytes` false, the copy's byte arrays are the
 * value's own (for a record whose copy is not kept).
 *
 * @throws {TypeError} The value holds something other than JSON values,
 * `Uint8Array`s and CIDs, or a cycle.
 */
export function encodeValue(
  value: unknown,
  what: string,
  context: string,
  copyBytes = true,
): Encoded {
  return encode(NO_FIELDS, "", value, what, context, copyBytes);
}

/**
 * Encodes the object `{ ...fields, [last]: value }`. `fields` alternates
 * names and values of the caller's own: names are plain ASCII (written as
 * they are, so no `$` in front), values strings or finite numbers. The
 * result's `value` is the copy of `value` alone. It spares the submit path
 * building an object only to take it apart.
 *
 * @throws {TypeError} As {@linkcode encodeValue}.
 */
export function encodeFields(
  fields: readonly (string | number)[],
  last: string,
  value: unknown,
  what: string,
  context: string,
  copyBytes = true,
): Encoded {
  return encode(fields, last, value, what, context, copyBytes);
}

function encode(
  fields: readonly (string | number)[],
  last: string,
  value: unknown,
  what: string,
  context: string,
  copyBytes: boolean,
): Encoded {
  // One writer serves every call. A call made while it is busy (from a getter of the
  // value) gets its own, and never the staging chunk, whose free space the busy one uses.
  const nested = shared.busy;
  const writer = nested ? new Writer() : shared;
  let chunk: Staging | undefined;
  let target: Uint8Array;
  let start: number;
  let limit: number;
  if (nested) {
    target = new Uint8Array(4096);
    start = 0;
    limit = target.length;
  } else {
    chunk = staging;
    if (STAGING_SIZE - chunk.used < MIN_STAGING_ROOM) chunk = staging = nextStaging(chunk);
    target = chunk.bytes;
    start = chunk.used;
    limit = Math.min(STAGING_SIZE, start + STAGED_RECORD);
  }
  let end: number;
  for (;;) {
    writer.begin(what, context, target, start + 5, limit);
    try {
      writer.writeRecord(fields, last, value);
      end = writer.pos;
      break;
    } catch (error) {
      const needed = writer.needed;
      writer.end();
      if (error !== OVERFLOW) throw error;
      // Too big for the space at hand: again, in a buffer of its own, with room to spare.
      chunk = undefined;
      target = new Uint8Array(Math.max(2 * (limit - start), needed - start + 5 + 4096));
      start = 0;
      limit = target.length;
    }
  }
  const blobs = writer.blobs;
  const count = writer.blobCount;
  let tail = 4 + 4 * count;
  for (let i = 0; i < count; i++) tail += blobs[i].length;
  if (end + tail > limit) {
    // The byte arrays do not fit after the JSON: move the record to a buffer of its own.
    const own = new Uint8Array(end - start + tail);
    own.set(target.subarray(start, end));
    chunk = undefined;
    end -= start;
    target = own;
    start = 0;
  }
  target[start] = VERSION;
  setUint32(target, start + 1, end - start - 5);
  let offset = end;
  setUint32(target, offset, count);
  offset += 4;
  for (let i = 0; i < count; i++) {
    setUint32(target, offset, blobs[i].length);
    offset += 4;
  }
  let copy = writer.copy;
  for (let i = 0; i < count; i++) {
    const blob = blobs[i];
    target.set(blob, offset);
    offset += blob.length;
    const stored = copyBytes ? storeBytes(blob) : blob;
    const holder = writer.holders[i];
    if (holder === undefined) copy = stored; // `value` itself is the byte array
    else if (Array.isArray(holder)) holder[writer.slots[i] as number] = stored;
    else setKey(holder, writer.slots[i] as string, stored);
  }
  writer.end();
  const bytes = target.subarray(start, offset);
  if (chunk !== undefined) {
    chunk.used = offset;
    chunk.outstanding++;
  }
  return new Encoded(bytes, copy, chunk);
}

let staging: Staging = newStaging();
const spareStaging: Staging[] = [];

function newStaging(): Staging {
  return { bytes: new Uint8Array(STAGING_SIZE), used: 0, outstanding: 0, retired: false };
}

/** Retires a full staging chunk and returns the one to use next. */
function nextStaging(full: Staging): Staging {
  full.retired = true;
  if (full.outstanding === 0) recycle(full);
  return spareStaging.pop() ?? newStaging();
}

function recycle(chunk: Staging): void {
  if (spareStaging.length >= SPARE_STAGING) return;
  chunk.used = 0;
  chunk.retired = false;
  spareStaging.push(chunk);
}

let bytesChunk = new Uint8Array(0);
let bytesChunkUsed = 0;

/** A copy of `bytes` that shares nothing with records (small ones share a chunk). */
function storeBytes(bytes: Uint8Array): Uint8Array {
  const length = bytes.length;
  if (length > SMALL_BYTES) {
    const copy = new Uint8Array(length);
    copy.set(bytes);
    return copy;
  }
  if (bytesChunkUsed + length > bytesChunk.length) {
    bytesChunk = new Uint8Array(BYTES_CHUNK_SIZE);
    bytesChunkUsed = 0;
  }
  const copy = bytesChunk.subarray(bytesChunkUsed, bytesChunkUsed + length);
  copy.set(bytes);
  bytesChunkUsed += length;
  return copy;
}

function setUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value;
  bytes[offset + 1] = value >>> 8;
  bytes[offset + 2] = value >>> 16;
  bytes[offset + 3] = value >>> 24;
}

/** Thrown by a {@linkcode Writer} that ran out of room: not an error, a signal to retry. */
const OVERFLOW = Object.freeze({ overflow: true });
const EMPTY = new Uint8Array(0);
const HEX = "0123456789abcdef";

/**
 * One pass over a value: writes its JSON as UTF-8 straight into the record
 * (no strings built on the way) and builds its copy at once. The copy's byte
 * arrays are put in after the pass: `holders` and `slots` say where each
 * goes.
 */
class Writer {
  what = "";
  context = "";
  busy = false;
  target: Uint8Array = EMPTY;
  pos = 0;
  limit = 0;
  /** After an overflow: how far the record had to reach, at least. */
  needed = 0;
  /**
   * The value's byte arrays, in the order of their `$bytes` index: the first
   * `blobCount` entries (the arrays are reused from value to value).
   */
  readonly blobs: Uint8Array[] = [];
  blobCount = 0;
  /** The object or array of the copy that holds each byte array (`undefined`: the value is one). */
  readonly holders: Array<Record<string, unknown> | unknown[] | undefined> = [];
  readonly slots: Array<string | number> = [];
  /** The copy of the value last written. */
  copy: unknown = undefined;
  /** The objects and arrays being written, outermost first, to find cycles. */
  readonly #ancestors: object[] = [];
  /** The keys and indexes being written, for error messages. */
  readonly #path: Array<string | number> = [];

  begin(what: string, context: string, target: Uint8Array, pos: number, limit: number): void {
    this.busy = true;
    this.what = what;
    this.context = context;
    this.target = target;
    this.pos = pos;
    this.limit = limit;
    this.needed = 0;
  }

  /** Forgets the last value (its byte arrays and objects are not kept alive). */
  end(): void {
    this.busy = false;
    this.target = EMPTY;
    for (let i = 0; i < this.blobCount; i++) {
      this.blobs[i] = EMPTY;
      this.holders[i] = undefined;
    }
    this.blobCount = 0;
    // After an error: balanced on success.
    if (this.#path.length > 0) this.#path.length = 0;
    if (this.#ancestors.length > 0) this.#ancestors.length = 0;
    this.copy = undefined;
  }

  /** Writes `{...fields, [last]: value}`, or `value` alone when there are no fields. */
  writeRecord(fields: readonly (string | number)[], last: string, value: unknown): void {
    if (fields.length === 0) {
      this.#value(value, 0);
      return;
    }
    this.#byte(123); // {
    for (let i = 0; i < fields.length; i += 2) {
      this.#string(fields[i] as string, false);
      this.#byte(58); // :
      const field = fields[i + 1];
      if (typeof field === "number") this.#ascii(String(field));
      else this.#string(field, false);
      this.#byte(44); // ,
    }
    this.#string(last, false);
    this.#byte(58);
    this.#value(value, 0);
    this.#byte(125); // }
  }

  /** Writes the JSON of `value`; its copy goes to `copy`. `undefined` is written as `null`. */
  #value(value: unknown, depth: number): void {
    switch (typeof value) {
      case "string":
        this.copy = value;
        this.#string(value, false);
        return;
      case "boolean":
        this.copy = value;
        this.#ascii(value ? "true" : "false");
        return;
      case "number":
        if (!Number.isFinite(value)) throw this.#invalid(String(value));
        this.copy = value;
        this.#ascii(String(value));
        return;
      case "undefined":
        this.copy = null;
        this.#ascii("null");
        return;
      case "object":
        break;
      default:
        throw this.#invalid(typeof value);
    }
    if (value === null) {
      this.copy = null;
      this.#ascii("null");
      return;
    }
    if (value instanceof Uint8Array) {
      this.#ascii('{"$bytes":');
      const index = this.blobCount++;
      this.#ascii(String(index));
      this.#byte(125);
      this.blobs[index] = value;
      this.holders[index] = undefined;
      this.slots[index] = 0;
      this.copy = BLOB;
      return;
    }
    if (Array.isArray(value)) {
      this.#array(value, depth);
      return;
    }
    const cid = CID.asCID(value);
    if (cid !== null) {
      this.#ascii('{"$cid":');
      this.#string(cid.toString(), false);
      this.#byte(125);
      this.copy = cid;
      return;
    }
    this.#enter(value, depth);
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw this.#invalid((value as object).constructor?.name ?? "object");
    }
    const record = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    this.#byte(123); // {
    let first = true;
    // for-in, not Object.keys: no array per object (own keys in the same order).
    for (const key in record) {
      if (!Object.hasOwn(record, key)) continue;
      const item = record[key];
      if (item === undefined) continue;
      if (first) first = false;
      else this.#byte(44);
      this.#string(key, key.charCodeAt(0) === 36);
      this.#byte(58);
      this.#path.push(key);
      this.#value(item, depth + 1);
      this.#path.pop();
      if (this.copy === BLOB) {
        this.holders[this.blobCount - 1] = out;
        this.slots[this.blobCount - 1] = key;
      }
      setKey(out, key, this.copy);
    }
    this.#byte(125); // }
    this.#ancestors.pop();
    this.copy = out;
  }

  #array(value: unknown[], depth: number): void {
    this.#enter(value, depth);
    const length = value.length;
    const out = new Array<unknown>(length);
    this.#byte(91); // [
    for (let i = 0; i < length; i++) {
      if (i > 0) this.#byte(44);
      this.#path.push(i);
      this.#value(value[i], depth + 1);
      this.#path.pop();
      if (this.copy === BLOB) {
        this.holders[this.blobCount - 1] = out;
        this.slots[this.blobCount - 1] = i;
      }
      out[i] = this.copy;
    }
    this.#byte(93); // ]
    this.#ancestors.pop();
    this.copy = out;
  }

  /** Makes room for `bytes` more bytes, or signals an overflow. */
  #room(bytes: number): void {
    if (this.pos + bytes > this.limit) {
      this.needed = this.pos + bytes;
      throw OVERFLOW;
    }
  }

  #byte(byte: number): void {
    if (this.pos >= this.limit) this.#room(1);
    this.target[this.pos++] = byte;
  }

  /** Writes text known to be ASCII and free of characters JSON escapes (numbers, literals). */
  #ascii(text: string): void {
    const length = text.length;
    this.#room(length);
    const target = this.target;
    let pos = this.pos;
    for (let i = 0; i < length; i++) target[pos++] = text.charCodeAt(i);
    this.pos = pos;
  }

  /** Writes `text` as a JSON string, in UTF-8; `dollar` puts one more `$` in front. */
  #string(text: string, dollar: boolean): void {
    const length = text.length;
    // A UTF-16 unit takes at most 6 bytes (an escape); a long string that may not fit is
    // measured first.
    if (this.pos + 6 * length + 3 > this.limit) this.#room(jsonLength(text) + 3);
    const target = this.target;
    let pos = this.pos;
    target[pos++] = 34; // "
    if (dollar) target[pos++] = 36;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) {
        if (c >= 0x20 && c !== 34 && c !== 92) {
          target[pos++] = c;
        } else {
          target[pos++] = 92; // \
          const short = c === 34 ? 34 : c === 92 ? 92 : SHORT_ESCAPES[c];
          if (short !== 0) {
            target[pos++] = short;
          } else {
            pos = writeUnicodeEscape(target, pos, c);
          }
        }
      } else if (c < 0x800) {
        target[pos++] = 0xc0 | (c >> 6);
        target[pos++] = 0x80 | (c & 63);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < length ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          const point = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          target[pos++] = 0xf0 | (point >> 18);
          target[pos++] = 0x80 | ((point >> 12) & 63);
          target[pos++] = 0x80 | ((point >> 6) & 63);
          target[pos++] = 0x80 | (point & 63);
          i++;
        } else {
          // A lone surrogate: escaped, as JSON.stringify does (UTF-8 cannot hold it).
          target[pos++] = 92;
          pos = writeUnicodeEscape(target, pos, c);
        }
      } else {
        target[pos++] = 0xe0 | (c >> 12);
        target[pos++] = 0x80 | ((c >> 6) & 63);
        target[pos++] = 0x80 | (c & 63);
      }
    }
    target[pos++] = 34;
    this.pos = pos;
  }

  /** Checks depth and cycles before writing an object's or array's contents. */
  #enter(value: object, depth: number): void {
    if (depth >= MAX_DEPTH) {
      throw new TypeError(
        `${this.what}: ${this.#where()} is nested more than ${MAX_DEPTH} levels deep`,
      );
    }
    if (this.#ancestors.includes(value)) {
      throw new TypeError(`${this.what}: ${this.#where()} holds a cycle`);
    }
    this.#ancestors.push(value);
  }

  #where(): string {
    let path = this.context;
    for (const step of this.#path) path += typeof step === "number" ? `[${step}]` : `.${step}`;
    return path;
  }

  #invalid(received: string): TypeError {
    return new TypeError(
      `${this.what}: ${this.#where()} must hold only JSON values, Uint8Array and CID: received ${received}`,
    );
  }
}

/** The letter of a two-character escape (`\n`) per control character, 0 for `\u00XX`. */
const SHORT_ESCAPES: Uint8Array = (() => {
  const table = new Uint8Array(32);
  table[8] = 98; // \b
  table[9] = 116; // \t
  table[10] = 110; // \n
  table[12] = 102; // \f
  table[13] = 114; // \r
  return table;
})();

/** Writes `uXXXX` (the backslash is written); returns the new position. */
function writeUnicodeEscape(target: Uint8Array, pos: number, unit: number): number {
  target[pos++] = 117; // u
  target[pos++] = HEX.charCodeAt(unit >> 12);
  target[pos++] = HEX.charCodeAt((unit >> 8) & 15);
  target[pos++] = HEX.charCodeAt((unit >> 4) & 15);
  target[pos++] = HEX.charCodeAt(unit & 15);
  return pos;
}

/** The bytes `text` takes as a JSON string without its quotes (as `Writer` writes it). */
function jsonLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes += c >= 0x20 && c !== 34 && c !== 92
        ? 1
        : c === 34 || c === 92 || SHORT_ESCAPES[c]
        ? 2
        : 6;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 6;
    } else bytes += 3;
  }
  return bytes;
}

/** Stands for a byte array in the copy until it is stored. */
const BLOB: unique symbol = Symbol("blob");
const shared = new Writer();

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
