/**
 * What a UnixFS node is (file, directory, symlink) and its sizes, for `ls`,
 * `stat` and `get`; and the entries of a directory, plain or HAMT-sharded.
 *
 * Nodes are decoded by `@ipld/dag-pb` and `ipfs-unixfs`; sharded
 * directories are listed by `ipfs-unixfs-exporter`.
 *
 * @module
 */

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { exporter } from "npm:ipfs-unixfs-exporter@16.2.2";
import { UnixFS } from "npm:ipfs-unixfs@13.1.1";
import type { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import type { UnixFsType } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";
import type { GetBlock } from "./_dag_walk.ts";

/** A decoded UnixFS node. */
export interface UnixFsNode {
  cid: CID;
  type: UnixFsType;
  /** File bytes; symlink target length; 0 for a directory. */
  size: number;
  /** The root block's bytes plus every link's cumulative size. */
  cumulativeSize: number;
  /** The root block's link count. */
  blocks: number;
  /** Whether it is a HAMT-sharded directory. */
  sharded: boolean;
  /** A symlink's target. */
  target?: string;
}

/** One entry of a directory. */
export interface DirectoryEntry {
  name: string;
  cid: CID;
}

const decoder = new TextDecoder();

/**
 * Reads and decodes a UnixFS node.
 *
 * @throws {NotFoundError} Its block is missing.
 * @throws {InvalidInputError} It is not UnixFS.
 */
export async function inspect(get: GetBlock, cid: CID, what: string): Promise<UnixFsNode> {
  const block = await get(cid);
  if (cid.code === raw.code) {
    return {
      cid,
      type: "file",
      size: block.length,
      cumulativeSize: block.length,
      blocks: 0,
      sharded: false,
    };
  }
  if (cid.code !== dagPb.code) {
    throw new InvalidInputError(
      `Cannot ${what}: not UnixFS: ${cid} has codec 0x${cid.code.toString(16)}`,
    );
  }
  let pb: dagPb.PBNode;
  let fs: UnixFS;
  try {
    pb = dagPb.decode(block);
    if (pb.Data === undefined) throw new Error("it has no data");
    fs = UnixFS.unmarshal(pb.Data);
  } catch (error) {
    throw new InvalidInputError(
      `Cannot ${what}: not UnixFS: ${cid}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  const cumulativeSize = pb.Links.reduce((sum, link) => sum + (link.Tsize ?? 0), block.length);
  const base = { cid, cumulativeSize, blocks: pb.Links.length };
  switch (fs.type) {
    case "file":
    case "raw":
      return { ...base, type: "file", size: Number(fs.fileSize()), sharded: false };
    case "directory":
      return { ...base, type: "directory", size: 0, sharded: false };
    case "hamt-sharded-directory":
      return { ...base, type: "directory", size: 0, sharded: true };
    case "symlink": {
      const data = fs.data ?? new Uint8Array();
      return {
        ...base,
        type: "symlink",
        size: data.length,
        sharded: false,
        target: decoder.decode(data),
      };
    }
    default:
      throw new InvalidInputError(`Cannot ${what}: unsupported UnixFS type ${fs.type} of ${cid}`);
  }
}

/**
 * The entries of a directory, in link order. Plain directories are read
 * from their block; sharded ones through the exporter, shard by shard.
 */
export async function* directoryEntries(
  get: GetBlock,
  node: UnixFsNode,
  signal?: AbortSignal,
): AsyncGenerator<DirectoryEntry, void, undefined> {
  if (!node.sharded) {
    const pb = dagPb.decode(await get(node.cid));
    for (const link of pb.Links) yield { name: link.Name ?? "", cid: link.Hash };
    return;
  }
  const storage = {
    async *get(cid: CID): AsyncGenerator<Uint8Array> {
      yield await get(cid);
    },
  };
  const entry = await exporter(node.cid, storage, { signal });
  if (entry.type !== "directory") {
    throw new InvalidInputError(`Cannot list directory: ${node.cid} is not a directory`);
  }
  for await (const child of entry.entries({ signal })) yield { name: child.name, cid: child.cid };
}
