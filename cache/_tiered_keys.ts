/**
 * Cache keys of the tiered cache: one for a raw block, one for a whole
 * UnixFS file read by `cat`. Both name immutable content (a CID, or a path
 * below one), so an entry never goes stale. Not part of the public API.
 *
 * @module
 */

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { parseCid } from "../ipfs/parse_cid.ts";
import { InvalidCidError } from "../ipfs/errors.ts";
import type { CidLike } from "../ipfs/content_store.ts";

/** The prefix of a block's key. */
export const BLOCK = "b:";
/** The prefix of a file's key. */
const OBJECT = "o:";

/**
 * A block's key: its CID in version 1 (a CIDv0 and the CIDv1 of the same
 * dag-pb block name the same bytes).
 */
export function blockKey(cid: CID): string {
  return BLOCK + (cid.version === 0 ? cid.toV1() : cid).toString();
}

/**
 * The block and file keys of every CID naming the same bytes as `cid`: its
 * multihash under the raw and the dag-pb codecs, besides `cid` itself.
 */
export function sameBytesKeys(cid: CID): string[] {
  const keys = new Set([blockKey(cid), OBJECT + (cid.version === 0 ? cid.toV1() : cid)]);
  for (const code of [raw.code, dagPb.code]) {
    const variant = CID.createV1(code, cid.multihash);
    keys.add(blockKey(variant));
    keys.add(OBJECT + variant.toString());
  }
  return [...keys];
}

/** The CID a block key names. */
export function cidOfBlockKey(key: string): CID {
  return CID.parse(key.slice(BLOCK.length));
}

/**
 * What `cat` reads: the file's canonical path (the root CID in version 1,
 * then the names below it, `/`-separated) and its key.
 *
 * @throws {InvalidCidError} The path does not start with a CID.
 */
export function objectPath(path: CidLike, what: string): { path: string; key: string } {
  const cid = CID.asCID(path);
  let canonical: string;
  if (cid !== null) canonical = (cid.version === 0 ? cid.toV1() : cid).toString();
  else if (typeof path === "string") {
    const parts = path.replace(/^\/ipfs\//, "").split("/").filter((part) => part !== "");
    if (parts.length === 0) {
      throw new InvalidCidError(`Cannot ${what}: the path has no CID: received ${path}`, path);
    }
    const root = parseCid(parts[0], what);
    parts[0] = (root.version === 0 ? root.toV1() : root).toString();
    canonical = parts.join("/");
  } else {
    throw new InvalidCidError(
      `Cannot ${what}: expected a CID or a path: received ${typeof path}`,
      path,
    );
  }
  return { path: canonical, key: OBJECT + canonical };
}

/** The path an object key names (for `cat` on the backend). */
export function pathOfObjectKey(key: string): string {
  return key.slice(OBJECT.length);
}
