/**
 * What `block.put` and `dag.put` store, on either backend: the arguments
 * checked, the node encoded, the size checked against `MAX_BLOCK_SIZE`, and
 * the CID (sha2-256) computed, before anything is stored or sent.
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import { checkFlag, messageOf } from "./_arguments.ts";
import { type Codec, codecNamed } from "./_codecs.ts";
import { type BlockPutOptions, type DagPutOptions, MAX_BLOCK_SIZE } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";

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
