/**
 * Fetching a block the repository lacks from the node's network: verified
 * against its CID, stored unpinned (garbage collection may take it), and,
 * for a UnixFS file node, the rest of the file's DAG read ahead.
 *
 * Why read ahead: the readers walk a DAG one block at a time, and one
 * bitswap round trip per block would bound a fetch by the latency, not the
 * bandwidth. So when a file node is fetched, the blocks below it that are
 * missing are fetched too, level by level, up to {@linkcode READ_AHEAD} at a
 * time, in the same call (its signal cancels them all). Directories are not read ahead:
 * `ls` of a directory needs its entries' roots, not their contents.
 *
 * Fetched blocks are written without a sync: they can be fetched again, and
 * syncing each one would bound a fetch by the disk's flush latency.
 *
 * @module
 */

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { UnixFS } from "npm:ipfs-unixfs@13.1.1";
import { equals } from "npm:multiformats@14.0.5/bytes";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import { TaskGroupError } from "../runtime/errors.ts";
import { mapConcurrent } from "../runtime/map_concurrent.ts";
import { InvalidInputError } from "./errors.ts";
import type { FsBlockstore } from "./_fs_blockstore.ts";
import type { NodeNetwork } from "./node_network.ts";

/** How many blocks of a file are fetched at once. */
export const READ_AHEAD = 48;

/** How many mismatching blocks one fetch refuses before it gives up. */
const MAX_REFUSED = 3;

/**
 * Fetches `cid` from the network, verifies and stores it; for a file node,
 * also the missing blocks below it.
 *
 * @throws {InvalidInputError} Peers sent only blocks that do not match the CID.
 */
export async function fetchBlock(
  blocks: FsBlockstore,
  network: NodeNetwork,
  cid: CID,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  const bytes = await fetchOne(blocks, network, cid, signal);
  const below = fileLinks(cid, bytes);
  if (below.length > 0) await readAhead(blocks, network, below, signal);
  return bytes;
}

/** Fetches, verifies and stores one block. */
async function fetchOne(
  blocks: FsBlockstore,
  network: NodeNetwork,
  cid: CID,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  for (let refused = 0;;) {
    const { bytes, from } = await network.fetchBlock(cid, { signal });
    if (await matches(cid, bytes)) {
      await blocks.put(cid, bytes, { signal, durable: false });
      return bytes;
    }
    network.refuseBlock(cid, from);
    if (++refused >= MAX_REFUSED) {
      throw new InvalidInputError(
        `Cannot fetch block: peers sent ${refused} blocks that do not match ${cid}`,
      );
    }
  }
}

/** Fetches the missing blocks of the DAGs below a file node, level by level, in a window. */
async function readAhead(
  blocks: FsBlockstore,
  network: NodeNetwork,
  links: CID[],
  signal: AbortSignal | undefined,
): Promise<void> {
  for (let level = links; level.length > 0;) {
    let below: CID[][];
    try {
      below = await mapConcurrent(level, async (cid) => {
        if (!(await blocks.has(cid, { signal }))) {
          return fileLinks(cid, await fetchOne(blocks, network, cid, signal));
        }
        return cid.code === dagPb.code ? fileLinks(cid, await blocks.get(cid, { signal })) : [];
      }, { concurrency: READ_AHEAD, signal });
    } catch (error) {
      // The first failure, not the group's wrapper: callers see NotFoundError and the like.
      throw error instanceof TaskGroupError ? error.errors[0] : error;
    }
    level = below.flat();
  }
}

/** The links of a dag-pb UnixFS file node; none for anything else. */
function fileLinks(cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== dagPb.code) return [];
  try {
    const node = dagPb.decode(bytes);
    if (node.Links.length === 0 || node.Data === undefined) return [];
    const type = UnixFS.unmarshal(node.Data).type;
    return type === "file" || type === "raw" ? node.Links.map((link) => link.Hash) : [];
  } catch {
    return []; // not UnixFS: the reader reports it
  }
}

/** Whether `bytes` hash to `cid`'s multihash. */
async function matches(cid: CID, bytes: Uint8Array): Promise<boolean> {
  if (cid.multihash.code !== sha256.code) {
    throw new InvalidInputError(
      `Cannot fetch block: unsupported hash 0x${cid.multihash.code.toString(16)} in ${cid}`,
    );
  }
  return equals((await sha256.digest(bytes)).digest, cid.multihash.digest);
}
