/**
 * A CID, or a path of names below one, resolved to the CID it names
 * through UnixFS directories (plain or HAMT-sharded), by
 * `ipfs-unixfs-exporter`.
 *
 * @module
 */

import { exporter } from "npm:ipfs-unixfs-exporter@16.2.2";
import { CID } from "npm:multiformats@14.0.5/cid";
import type { CidLike } from "./content_store.ts";
import { InvalidCidError, NotFoundError } from "./errors.ts";
import { parseCid } from "./parse_cid.ts";
import type { GetBlock } from "./_dag_walk.ts";

/**
 * Resolves a CID or path (`"<cid>/a/b"`, with or without `/ipfs/`) to the
 * CID of what it names.
 *
 * @param get Reads a block.
 * @param path The CID or path.
 * @param what The operation, for "Cannot <what>: ...".
 * @param signal Aborts the resolution.
 * @returns The CID.
 * @throws {InvalidCidError} Not a CID or a path below one.
 * @throws {NotFoundError} A block is missing, or no entry has a name of the path.
 */
export async function resolveUnixFsPath(
  get: GetBlock,
  path: CidLike,
  what: string,
  signal?: AbortSignal,
): Promise<CID> {
  const cid = CID.asCID(path);
  if (cid !== null) return cid;
  if (typeof path !== "string") {
    throw new InvalidCidError(
      `Cannot ${what}: expected a CID or a path: received ${typeof path}`,
      path,
    );
  }
  const trimmed = path.replace(/^\/ipfs\//, "").replace(/\/+$/, "");
  const slash = trimmed.indexOf("/");
  const root = parseCid(slash === -1 ? trimmed : trimmed.slice(0, slash), what);
  if (slash === -1) return root;
  const storage = {
    async *get(cid: CID): AsyncGenerator<Uint8Array> {
      yield await get(cid);
    },
  };
  try {
    const wanted = `${root}/${
      trimmed.slice(slash).split("/").filter((name) => name !== "").join("/")
    }`;
    const entry = await exporter(wanted, storage, { signal });
    // The exporter ignores one name too many below a file: that path names nothing.
    if (entry.path !== wanted) {
      throw new NotFoundError(`Cannot ${what}: no such path: ${path}`, path);
    }
    return entry.cid;
  } catch (error) {
    if (error instanceof NotFoundError || !(error instanceof Error)) throw error;
    if (error.name === "NotFoundError") {
      throw new NotFoundError(`Cannot ${what}: no such path: ${path}`, path);
    }
    throw error;
  }
}
