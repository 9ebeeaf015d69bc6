/**
 * What the pins of the embedded node's repository hold: the blocks below a
 * root (all present, or the DAG is incomplete), the pin that holds a given
 * block, and the blocks pinned indirectly (below a recursive pin).
 *
 * Blocks are compared by key (multihash), as they are stored.
 *
 * @module
 */

import type { CID } from "npm:multiformats@14.0.5/cid";
import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import { NotFoundError } from "./errors.ts";
import { missingFrom, walkDag } from "./_dag_walk.ts";
import { blockKey, type FsBlockstore } from "./_fs_blockstore.ts";
import type { StoredPin } from "./_pin_store.ts";

/**
 * Adds the key of every block of the DAG below `root` to `marked`, not
 * walking below a block marked already.
 *
 * @param blocks The store.
 * @param root The DAG's root.
 * @param marked The keys found so far.
 * @param what The operation, for the error.
 * @param signal Aborts the reads.
 * @param found Receives the CID of each block newly marked, when given.
 * @throws {NotFoundError} A block is missing: the DAG of `root` is incomplete.
 */
export async function markDag(
  blocks: FsBlockstore,
  root: CID,
  marked: Set<string>,
  what: string,
  signal: AbortSignal,
  found?: CID[],
): Promise<void> {
  try {
    await walkDag(root, {
      read: (cid) => blocks.get(cid, { signal }),
      has: (cid) => blocks.has(cid, { signal }),
      visit: (cid) => {
        const key = blockKey(cid);
        if (marked.has(key)) return false;
        marked.add(key);
        found?.push(cid);
        return true;
      },
      checkpoint: checkpointIfCancelled,
    });
  } catch (error) {
    if (error instanceof NotFoundError) throw missingFrom(what, root, error);
    throw error;
  }
}

/**
 * Adds the key of every block of the DAG below `root` that is in the store
 * to `marked` (as {@linkcode markDag}, missing blocks skipped): for the MFS
 * root, which Kubo keeps as a best-effort root.
 *
 * @param blocks The store.
 * @param root The DAG's root.
 * @param marked The keys found so far.
 * @param signal Aborts the reads.
 */
export async function markReachable(
  blocks: FsBlockstore,
  root: CID,
  marked: Set<string>,
  signal: AbortSignal,
): Promise<void> {
  await walkDag(root, {
    read: (cid) => blocks.get(cid, { signal }),
    visit: (cid) => {
      const key = blockKey(cid);
      if (marked.has(key)) return false;
      marked.add(key);
      return true;
    },
    checkpoint: checkpointIfCancelled,
    skipMissing: true,
  });
}

/**
 * The pin that holds the block of `cid` (same multihash): a direct pin of
 * it, or a recursive pin whose DAG holds it. Missing blocks are skipped.
 *
 * @param blocks The store.
 * @param pins The pins.
 * @param cid The block.
 * @param signal Aborts the reads.
 * @returns The pinned CID, or `undefined` when no pin holds the block.
 */
export async function pinnedBy(
  blocks: FsBlockstore,
  pins: StoredPin[],
  cid: CID,
  signal: AbortSignal,
): Promise<CID | undefined> {
  const target = blockKey(cid);
  for (const pin of pins) if (blockKey(pin.cid) === target) return pin.cid;
  for (const pin of pins) {
    if (pin.type !== "recursive") continue;
    let found = false;
    const seen = new Set<string>();
    await walkDag(pin.cid, {
      read: (cid) => blocks.get(cid, { signal }),
      visit: (cid) => {
        const key = blockKey(cid);
        if (key === target) found = true;
        if (found || seen.has(key)) return false;
        seen.add(key);
        return true;
      },
      checkpoint: checkpointIfCancelled,
      skipMissing: true,
    });
    if (found) return pin.cid;
  }
  return undefined;
}

/**
 * The blocks below the recursive pins that are not pinned themselves, by
 * key. Missing blocks are skipped.
 *
 * @param blocks The store.
 * @param pins The pins.
 * @param signal Aborts the reads.
 * @returns The indirectly pinned CIDs, by block key.
 */
export async function indirectPins(
  blocks: FsBlockstore,
  pins: StoredPin[],
  signal: AbortSignal,
): Promise<Map<string, CID>> {
  const found = new Map<string, CID>();
  for (const pin of pins) {
    if (pin.type !== "recursive") continue;
    const roots = blockKey(pin.cid);
    await walkDag(pin.cid, {
      read: (cid) => blocks.get(cid, { signal }),
      visit: (cid) => {
        const key = blockKey(cid);
        if (key === roots) return true;
        if (found.has(key)) return false;
        found.set(key, cid);
        return true;
      },
      checkpoint: checkpointIfCancelled,
      skipMissing: true,
    });
  }
  for (const pin of pins) found.delete(blockKey(pin.cid));
  return found;
}
