/**
 * The IPLD codecs the embedded node reads and writes (raw, dag-pb, dag-cbor,
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
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import { checkFlag, messageOf } from "./_arguments.ts";
import {
  type BlockCodec,
  type BlockPutOptions,
  type DagPutOptions,
  MAX_BLOCK_SIZE,
} from "./content_store.ts";
import { InvalidInputError, NotFoundError } from "./errors.ts";

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

/** Reads one block (throws `NotFoundError` when it is missing). */
export type ReadBlock = (cid: CID) => Promise<Uint8Array>;

/** How {@linkcode walkDag} reads the store. */
export interface DagWalk {
  /** Reads a block; throws `NotFoundError` when it is missing. */
  read: ReadBlock;
  /** Whether a block is present: raw blocks are checked with it, not read. Unset: not checked. */
  has?: (cid: CID) => Promise<boolean>;
  /** Called once per block reached; returns whether to go on into it (false: seen already). */
  visit: (cid: CID) => boolean;
  /** Called before each block: a cancellation check. */
  checkpoint: () => void;
  /** Treat a missing block as a leaf instead of failing. Default `false`. */
  skipMissing?: boolean;
}

/**
 * Visits every block of the DAG below `root`, depth first, the root first.
 * Raw blocks have no links: they are not read.
 *
 * @throws {NotFoundError} A block of the DAG is missing.
 */
export async function walkDag(root: CID, walk: DagWalk): Promise<void> {
  const stack: CID[] = [root];
  while (stack.length > 0) {
    const cid = stack.pop()!;
    walk.checkpoint();
    if (!walk.visit(cid)) continue;
    if (cid.code === raw.code || !BY_CODE.has(cid.code)) {
      if (walk.has !== undefined && !(await walk.has(cid))) {
        throw new NotFoundError(`Cannot get block: not found: ${cid}`, cid.toString());
      }
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = await walk.read(cid);
    } catch (error) {
      if (walk.skipMissing && error instanceof NotFoundError) continue;
      throw error;
    }
    const links = linksOf(cid, bytes);
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i]);
  }
}

/** A `NotFoundError` for a block missing from a DAG. */
export function missingFrom(what: string, root: CID, error: NotFoundError): NotFoundError {
  return new NotFoundError(
    `Cannot ${what}: the DAG of ${root} is incomplete: missing ${error.cid}`,
    error.cid,
  );
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

/**
 * Checks a block's size against {@linkcode MAX_BLOCK_SIZE}.
 *
 * @throws {RangeError} It is larger.
 */
export function checkBlockSize(size: number, what: string): void {
  if (size > MAX_BLOCK_SIZE) {
    throw new RangeError(`Cannot ${what}: size exceeds 1 MiB limit: received ${size}`);
  }
}

/** A `block.put` checked: the block's CID (sha2-256), its codec and whether to pin it. */
export interface BlockToPut {
  cid: CID;
  codec: Codec;
  pin: boolean;
}

/**
 * Checks the arguments of `block.put` and computes the block's CID.
 *
 * @throws {InvalidInputError} Not bytes, an unknown codec, a bad CID version or flag.
 * @throws {RangeError} Larger than {@linkcode MAX_BLOCK_SIZE}.
 */
export async function blockToPut(
  bytes: unknown,
  options: BlockPutOptions,
  what: string,
): Promise<BlockToPut> {
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidInputError(
      `Cannot ${what}: bytes must be a Uint8Array: received ${typeof bytes}`,
    );
  }
  checkBlockSize(bytes.length, what);
  const codec = codecNamed(options.codec ?? "raw", what, "codec");
  const version = options.cidVersion ?? 1;
  if (version !== 0 && version !== 1) {
    throw new InvalidInputError(
      `Cannot ${what}: cidVersion must be 0 or 1: received ${String(version)}`,
    );
  }
  if (version === 0 && codec.name !== "dag-pb") {
    throw new InvalidInputError(`Cannot ${what}: CIDv0 needs codec dag-pb: received ${codec.name}`);
  }
  const pin = checkFlag(options.pin, false, what, "pin");
  return { cid: CID.create(version, codec.code, await sha256.digest(bytes)), codec, pin };
}

/** A `dag.put` checked: the node's encoded bytes, its CIDv1 (sha2-256), codec and pin flag. */
export interface DagNodeToPut extends BlockToPut {
  bytes: Uint8Array;
}

/**
 * Checks the arguments of `dag.put`, decodes the value with `inputCodec`
 * when given, encodes it with `storeCodec` and computes its CID.
 *
 * @throws {InvalidInputError} An unknown codec, a value that does not decode or encode, a bad flag.
 * @throws {RangeError} The encoded node is larger than {@linkcode MAX_BLOCK_SIZE}.
 */
export async function dagNodeToPut(
  value: unknown,
  options: DagPutOptions,
  what: string,
): Promise<DagNodeToPut> {
  const codec = codecNamed(options.storeCodec ?? "dag-cbor", what, "storeCodec");
  const pin = checkFlag(options.pin, false, what, "pin");
  let node = value;
  if (options.inputCodec !== undefined) {
    const input = codecNamed(options.inputCodec, what, "inputCodec");
    if (!(value instanceof Uint8Array)) {
      throw new InvalidInputError(
        `Cannot ${what}: with inputCodec the value must be a Uint8Array: received ${typeof value}`,
      );
    }
    try {
      node = input.decode(value);
    } catch (error) {
      throw new InvalidInputError(
        `Cannot ${what}: the value does not decode as ${input.name}: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = codec.encode(node);
  } catch (error) {
    throw new InvalidInputError(
      `Cannot ${what}: the value cannot be encoded as ${codec.name}: ${messageOf(error)}`,
      { cause: error },
    );
  }
  checkBlockSize(bytes.length, what);
  return { cid: CID.createV1(codec.code, await sha256.digest(bytes)), bytes, codec, pin };
}
