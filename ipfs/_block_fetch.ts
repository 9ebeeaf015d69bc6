/**
 * Fetching a block the repository lacks from the node's network: verified
 * against its CID and stored unpinned (garbage collection may take it).
 *
 * One block per call: a file read fetches the blocks it will need ahead of
 * its reader (`_read_ahead.ts`), within a window, so a remote `cat` yields
 * its first bytes as soon as its first block is here, and a range read
 * fetches only the blocks of its range.
 *
 * Fetched blocks are written without a sync: they can be fetched again, and
 * syncing each one would bound a fetch by the disk's flush latency. Pinning
 * one makes it durable (`_pinned_blocks.ts`). One torn by a power loss is
 * never read back: after a reboot the store verifies what it reads until
 * garbage collection has checked every block (`_fs_blockstore.ts`).
 *
 * @module
 */

import type { CID } from "npm:multiformats@14.0.5/cid";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import { InvalidInputError } from "./errors.ts";
import { digestMatches, type FsBlockstore } from "./_fs_blockstore.ts";
import type { NodeNetwork } from "./node_network.ts";

/** How many mismatching blocks one fetch refuses before it gives up. */
const MAX_REFUSED = 3;

/**
 * Fetches `cid` from the network, verifies and stores it. `onVerified`
 * gets the bytes as soon as they are verified, before they are stored (a
 * read-ahead hands them to its reader without waiting for the disk).
 *
 * @throws {InvalidInputError} Peers sent only blocks that do not match the CID.
 */
export async function fetchBlock(
  blocks: FsBlockstore,
  network: NodeNetwork,
  cid: CID,
  signal: AbortSignal | undefined,
  onVerified?: (bytes: Uint8Array) => void,
): Promise<Uint8Array> {
  for (let refused = 0;;) {
    const { bytes, from, verified } = await network.fetchBlock(cid, { signal });
    if (verified === true || await matches(cid, bytes)) {
      onVerified?.(bytes);
      // With `onVerified`, the caller has the bytes: the write is not cut
      // short by its signal (it is quick), so a verified block is kept.
      await blocks.put(cid, bytes, { signal: onVerified ? undefined : signal, durable: false });
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

/** Whether `bytes` hash to `cid`'s multihash. */
async function matches(cid: CID, bytes: Uint8Array): Promise<boolean> {
  if (cid.multihash.code !== sha256.code) {
    throw new InvalidInputError(
      `Cannot fetch block: unsupported hash 0x${cid.multihash.code.toString(16)} in ${cid}`,
    );
  }
  return await digestMatches(bytes, cid.multihash.bytes);
}
