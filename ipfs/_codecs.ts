/**
 * The IPLD codecs the kit reads and writes (raw, dag-pb, dag-cbor,
 * dag-json), and the links out of a block: what pins, garbage collection and
 * `dag` paths follow.
 *
 * @module
 */

import * as dagCbor from "npm:@ipld/dag-cbor@10.0.2";
import * as dagJson from "npm:@ipld/dag-json@11.0.1";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { messageOf } from "./_arguments.ts";
import type { BlockCodec } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";

/** A codec: its multicodec code and how to encode and decode a node. */
export interface Codec {
  name: BlockCodec;
  code: number;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** The codecs, by name. */
export const CODECS: Readonly<Record<BlockCodec, Codec>> = {
  "raw": {
    name: "raw",
    code: raw.code,
    encode: (value) => {
      if (!(value instanceof Uint8Array)) {
        throw new TypeError(`a raw block must be a Uint8Array: received ${describe(value)}`);
      }
      return raw.encode(value);
    },
    decode: (bytes) => raw.decode(bytes),
  },
  "dag-pb": {
    name: "dag-pb",
    code: dagPb.code,
    encode: (value) => dagPb.encode(dagPb.prepare(value as dagPb.PBNode)),
    decode: (bytes) => dagPb.decode(bytes),
  },
  "dag-cbor": {
    name: "dag-cbor",
    code: dagCbor.code,
    encode: (value) => dagCbor.encode(value),
    decode: (bytes) => dagCbor.decode(bytes),
  },
  "dag-json": {
    name: "dag-json",
    code: dagJson.code,
    encode: (value) => dagJson.encode(value),
    decode: (bytes) => dagJson.decode(bytes),
  },
};

const BY_CODE = new Map<number, Codec>(Object.values(CODECS).map((codec) => [codec.code, codec]));

/** The codec of a CID, or `undefined` if the node does not know it. */
export function codecOf(cid: CID): Codec | undefined {
  return BY_CODE.get(cid.code);
}

/**
 * Looks a codec name up.
 *
 * @throws {InvalidInputError} Not one of the four.
 */
export function codecNamed(name: unknown, what: string, option: string): Codec {
  if (typeof name === "string" && Object.hasOwn(CODECS, name)) return CODECS[name as BlockCodec];
  throw new InvalidInputError(
    `Cannot ${what}: ${option} must be one of ${Object.keys(CODECS).join(", ")}: received ${
      typeof name === "string" ? name : describe(name)
    }`,
  );
}

/**
 * Decodes a block with its CID's codec.
 *
 * @throws {InvalidInputError} The codec is unknown or the bytes do not decode.
 */
export function decodeBlock(cid: CID, bytes: Uint8Array, what: string): unknown {
  const codec = codecOf(cid);
  if (codec === undefined) {
    throw new InvalidInputError(
      `Cannot ${what}: unsupported codec 0x${cid.code.toString(16)} of ${cid}`,
    );
  }
  try {
    return codec.decode(bytes);
  } catch (error) {
    throw new InvalidInputError(
      `Cannot ${what}: ${cid} does not decode as ${codec.name}: ${messageOf(error)}`,
      { cause: error },
    );
  }
}

/**
 * The CIDs a block links to, in order. Raw blocks and unknown codecs have
 * none; dag-pb links are its `Links`; dag-cbor and dag-json links are the
 * CIDs anywhere in the value.
 */
export function linksOf(cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === raw.code || !BY_CODE.has(cid.code)) return [];
  if (cid.code === dagPb.code) return dagPb.decode(bytes).Links.map((link) => link.Hash);
  const links: CID[] = [];
  collect(decodeBlock(cid, bytes, "read links"), links);
  return links;
}

function collect(value: unknown, links: CID[]): void {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return;
  const cid = CID.asCID(value);
  if (cid !== null) {
    links.push(cid);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collect(item, links);
    return;
  }
  for (const key of Object.keys(value)) collect((value as Record<string, unknown>)[key], links);
}

/** A value's kind, for messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return "bytes";
  if (Array.isArray(value)) return "a list";
  if (CID.asCID(value) !== null) return "a link";
  if (typeof value !== "object") return typeof value;
  return value.constructor?.name ?? "object";
}
