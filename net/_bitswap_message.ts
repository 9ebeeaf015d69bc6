/**
 * The bitswap wire format (`/ipfs/bitswap/1.2.0`, `1.1.0`, `1.0.0`): the
 * protobuf `Message` of the bitswap spec, length-prefixed with an unsigned
 * varint, as Kubo, Helia and js-ipfs frame it.
 *
 * ```protobuf
 * message Message {
 *   message Wantlist {
 *     message Entry { bytes block = 1; int32 priority = 2; bool cancel = 3;
 *                     WantType wantType = 4; bool sendDontHave = 5; }
 *     repeated Entry entries = 1; bool full = 2;
 *   }
 *   message Block { bytes prefix = 1; bytes data = 2; }
 *   message BlockPresence { bytes cid = 1; BlockPresenceType type = 2; }
 *   Wantlist wantlist = 1;
 *   repeated bytes blocks = 2;                  // 1.0.0: CIDv0 blocks
 *   repeated Block payload = 3;                 // 1.1.0 and later
 *   repeated BlockPresence blockPresences = 4;  // 1.2.0
 *   int32 pendingBytes = 5;
 * }
 * ```
 *
 * Written by hand: encoding computes the size first and writes the framed
 * message into one buffer (a block's bytes are copied once); decoding
 * returns subarrays of the message (no copies).
 *
 * @module
 */

export const BITSWAP_120 = "/ipfs/bitswap/1.2.0";
export const BITSWAP_110 = "/ipfs/bitswap/1.1.0";
export const BITSWAP_100 = "/ipfs/bitswap/1.0.0";
/** Every version, newest first (the order an outbound stream proposes them). */
export const BITSWAP_PROTOCOLS: readonly string[] = [BITSWAP_120, BITSWAP_110, BITSWAP_100];

/** The largest message read or written (Kubo's and Helia's limit). */
export const MAX_MESSAGE_SIZE = 4 * 1024 * 1024;

/** A want list entry. */
export interface WireEntry {
  /** The CID's bytes. */
  cid: Uint8Array;
  priority: number;
  cancel: boolean;
  /** `0` want the block, `1` want to know whether the peer has it. */
  wantType: 0 | 1;
  sendDontHave: boolean;
}

/** A block: `prefix` is the CID's (version, codec, hash, length); absent in 1.0.0 (CIDv0). */
export interface WireBlock {
  prefix?: Uint8Array;
  data: Uint8Array;
}

/** `0` have, `1` don't have. */
export interface WirePresence {
  cid: Uint8Array;
  type: 0 | 1;
}

/** A decoded or to-be-encoded message. */
export interface WireMessage {
  entries: WireEntry[];
  full: boolean;
  blocks: WireBlock[];
  presences: WirePresence[];
}

/** A message with nothing in it, to fill. */
export function emptyMessage(): WireMessage {
  return { entries: [], full: false, blocks: [], presences: [] };
}

/** The CID prefix of a 1.1.0 block: version, codec, hash code, digest length, as varints. */
export function cidPrefix(
  cid: { version: number; code: number; multihash: { code: number; size: number } },
): Uint8Array {
  const parts = [cid.version, cid.code, cid.multihash.code, cid.multihash.size];
  const out = new Uint8Array(parts.reduce((sum, n) => sum + varintSize(n), 0));
  let at = 0;
  for (const n of parts) at = writeVarint(out, at, n);
  return out;
}

/** Reads a CID prefix: `[version, codec, hash code, digest length]`. */
export function readPrefix(prefix: Uint8Array): [number, number, number, number] {
  const out: number[] = [];
  let at = 0;
  for (let i = 0; i < 4; i++) {
    const [value, next] = readVarint(prefix, at);
    out.push(value);
    at = next;
  }
  return out as [number, number, number, number];
}

/**
 * Encodes `message` for a peer speaking `protocol`, length prefix included,
 * as one buffer.
 */
export function encodeMessage(message: WireMessage, protocol: string): Uint8Array {
  const parts = encodeMessageParts(message, protocol);
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Encodes `message` for a peer speaking `protocol`, length prefix included,
 * as parts to write in order: the blocks' bytes are parts of their own (not
 * copied). 1.0.0 carries blocks bare and no presences; 1.1.0 no presences.
 */
export function encodeMessageParts(message: WireMessage, protocol: string): Uint8Array[] {
  const v100 = protocol === BITSWAP_100;
  const presences = protocol === BITSWAP_120 ? message.presences : [];
  // Sizes first.
  const entrySizes = message.entries.map(entrySize);
  let wantlistSize = 0;
  for (const size of entrySizes) wantlistSize += 1 + varintSize(size) + size;
  if (message.full) wantlistSize += 2;
  let size = 0;
  if (message.entries.length > 0 || message.full) {
    size += 1 + varintSize(wantlistSize) + wantlistSize;
  }
  const blockSizes = message.blocks.map((block) => v100 ? block.data.length : payloadSize(block));
  let data = 0;
  for (const blockSize of blockSizes) size += 1 + varintSize(blockSize) + blockSize;
  for (const block of message.blocks) data += block.data.length;
  const presenceSizes = presences.map((p) => 1 + varintSize(p.cid.length) + p.cid.length + 2);
  for (const presenceSize of presenceSizes) {
    size += 1 + varintSize(presenceSize) + presenceSize;
  }
  const out = new Uint8Array(varintSize(size) + size - data);
  const parts: Uint8Array[] = [];
  let from = 0;
  let at = writeVarint(out, 0, size);
  if (message.entries.length > 0 || message.full) {
    out[at++] = (1 << 3) | 2;
    at = writeVarint(out, at, wantlistSize);
    message.entries.forEach((entry, i) => {
      out[at++] = (1 << 3) | 2;
      at = writeVarint(out, at, entrySizes[i]);
      at = writeBytesField(out, at, 1, entry.cid);
      if (entry.priority !== 0) {
        out[at++] = 2 << 3;
        at = writeVarint(out, at, entry.priority);
      }
      if (entry.cancel) at = writeVarintField(out, at, 3, 1);
      if (entry.wantType !== 0) at = writeVarintField(out, at, 4, entry.wantType);
      if (entry.sendDontHave) at = writeVarintField(out, at, 5, 1);
    });
    if (message.full) at = writeVarintField(out, at, 2, 1);
  }
  /** The block's bytes go as a part of their own, after what is written so far. */
  const dataField = (field: number, bytes: Uint8Array) => {
    out[at++] = (field << 3) | 2;
    at = writeVarint(out, at, bytes.length);
    parts.push(out.subarray(from, at), bytes);
    from = at;
  };
  message.blocks.forEach((block, i) => {
    if (v100) {
      dataField(2, block.data);
      return;
    }
    out[at++] = (3 << 3) | 2;
    at = writeVarint(out, at, blockSizes[i]);
    if (block.prefix !== undefined) at = writeBytesField(out, at, 1, block.prefix);
    dataField(2, block.data);
  });
  presences.forEach((presence, i) => {
    out[at++] = (4 << 3) | 2;
    at = writeVarint(out, at, presenceSizes[i]);
    at = writeBytesField(out, at, 1, presence.cid);
    out[at++] = 2 << 3;
    out[at++] = presence.type;
  });
  if (at !== out.length) throw new Error(`bitswap encoder: wrote ${at} of ${out.length} bytes`);
  if (from < at) parts.push(out.subarray(from, at));
  return parts;
}

function entrySize(entry: WireEntry): number {
  let size = 1 + varintSize(entry.cid.length) + entry.cid.length;
  if (entry.priority !== 0) size += 1 + varintSize(entry.priority);
  if (entry.cancel) size += 2;
  if (entry.wantType !== 0) size += 2;
  if (entry.sendDontHave) size += 2;
  return size;
}

function payloadSize(block: WireBlock): number {
  let size = 1 + varintSize(block.data.length) + block.data.length;
  if (block.prefix !== undefined) size += 1 + varintSize(block.prefix.length) + block.prefix.length;
  return size;
}

/** Thrown on a malformed message. */
export class MalformedMessageError extends Error {
  override name = "MalformedMessageError";
}

/** Decodes one message (without its length prefix). Unknown fields are skipped. */
export function decodeMessage(bytes: Uint8Array): WireMessage {
  const message = emptyMessage();
  for (const [field, value] of fields(bytes, 0, bytes.length)) {
    if (field === 1 && value instanceof Uint8Array) decodeWantlist(value, message);
    else if (field === 2 && value instanceof Uint8Array) message.blocks.push({ data: value });
    else if (field === 3 && value instanceof Uint8Array) {
      let prefix: Uint8Array | undefined;
      let data: Uint8Array | undefined;
      for (const [f, v] of fields(value, 0, value.length)) {
        if (f === 1 && v instanceof Uint8Array) prefix = v;
        else if (f === 2 && v instanceof Uint8Array) data = v;
      }
      if (prefix === undefined || data === undefined) {
        throw new MalformedMessageError("Cannot read bitswap message: a block lacks its prefix");
      }
      message.blocks.push({ prefix, data });
    } else if (field === 4 && value instanceof Uint8Array) {
      let cid: Uint8Array | undefined;
      let type = 0;
      for (const [f, v] of fields(value, 0, value.length)) {
        if (f === 1 && v instanceof Uint8Array) cid = v;
        else if (f === 2 && typeof v === "number") type = v;
      }
      if (cid !== undefined) message.presences.push({ cid, type: type === 1 ? 1 : 0 });
    }
  }
  return message;
}

function decodeWantlist(bytes: Uint8Array, message: WireMessage): void {
  for (const [field, value] of fields(bytes, 0, bytes.length)) {
    if (field === 2 && typeof value === "number") message.full = value !== 0;
    else if (field === 1 && value instanceof Uint8Array) {
      const entry: WireEntry = {
        cid: new Uint8Array(0),
        priority: 0,
        cancel: false,
        wantType: 0,
        sendDontHave: false,
      };
      for (const [f, v] of fields(value, 0, value.length)) {
        if (f === 1 && v instanceof Uint8Array) entry.cid = v;
        else if (f === 2 && typeof v === "number") entry.priority = v;
        else if (f === 3 && typeof v === "number") entry.cancel = v !== 0;
        else if (f === 4 && typeof v === "number") entry.wantType = v === 1 ? 1 : 0;
        else if (f === 5 && typeof v === "number") entry.sendDontHave = v !== 0;
      }
      message.entries.push(entry);
    }
  }
}

/** The fields of a protobuf message: `[number, varint value or bytes]` (fixed-width ones skipped). */
function* fields(
  bytes: Uint8Array,
  start: number,
  end: number,
): Generator<[number, number | Uint8Array]> {
  let at = start;
  while (at < end) {
    const [tag, afterTag] = readVarint(bytes, at);
    at = afterTag;
    const field = Math.floor(tag / 8);
    const type = tag & 7;
    if (type === 0) {
      const [value, next] = readVarint(bytes, at);
      at = next;
      yield [field, value];
    } else if (type === 2) {
      const [length, next] = readVarint(bytes, at);
      if (next + length > end) {
        throw new MalformedMessageError("Cannot read bitswap message: a field overruns it");
      }
      at = next + length;
      yield [field, bytes.subarray(next, at)];
    } else if (type === 1) at += 8;
    else if (type === 5) at += 4;
    else throw new MalformedMessageError(`Cannot read bitswap message: wire type ${type}`);
  }
  if (at !== end) throw new MalformedMessageError("Cannot read bitswap message: truncated");
}

/** Reads an unsigned varint (up to 2^53) at `at`: `[value, next offset]`. */
export function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (at >= bytes.length) throw new MalformedMessageError("Cannot read varint: truncated");
    const byte = bytes[at++];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, at];
    scale *= 128;
  }
  throw new MalformedMessageError("Cannot read varint: too long");
}

export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

function writeVarintField(out: Uint8Array, at: number, field: number, value: number): number {
  out[at++] = field << 3;
  return writeVarint(out, at, value);
}

function writeBytesField(out: Uint8Array, at: number, field: number, bytes: Uint8Array): number {
  out[at++] = (field << 3) | 2;
  at = writeVarint(out, at, bytes.length);
  out.set(bytes, at);
  return at + bytes.length;
}

/**
 * Splits a stream's bytes into length-prefixed messages. Chunks are kept as
 * they come; a message that spans several is copied once into its own buffer.
 */
export class MessageReader {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #need = -1;

  /** Bytes held, not yet returned as messages. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Adds bytes; returns the messages they complete. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.#need < 0) {
        const header = this.#peekVarint();
        if (header === undefined) return out;
        const [length, headerSize] = header;
        if (length > MAX_MESSAGE_SIZE) {
          throw new MalformedMessageError(
            `Cannot read bitswap message: size exceeds ${MAX_MESSAGE_SIZE} bytes: received ${length}`,
          );
        }
        this.#take(headerSize);
        this.#need = length;
      }
      if (this.#buffered < this.#need) return out;
      out.push(this.#take(this.#need));
      this.#need = -1;
    }
  }

  #peekVarint(): [number, number] | undefined {
    let value = 0;
    let scale = 1;
    let size = 0;
    for (const chunk of this.#chunks) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i];
        value += (byte & 0x7f) * scale;
        size++;
        if (byte < 0x80) return [value, size];
        if (size >= 8) throw new MalformedMessageError("Cannot read bitswap message: bad length");
        scale *= 128;
      }
    }
    return undefined;
  }

  /** Removes and returns the first `n` buffered bytes. */
  #take(n: number): Uint8Array {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0];
      const part = Math.min(chunk.length, n - at);
      out.set(chunk.subarray(0, part), at);
      at += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    return out;
  }
}
