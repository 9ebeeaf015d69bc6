/**
 * Walking a DAG block by block, as pins, garbage collection and the checks
 * of a DAG's completeness do: depth first, the links of each block in order,
 * raw blocks checked for presence but not read.
 *
 * @module
 */

import type { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { NotFoundError } from "./errors.ts";
import { codecOf, linksOf } from "./_codecs.ts";

/** Reads one block; throws `NotFoundError` when it is missing. */
export type GetBlock = (cid: CID) => Promise<Uint8Array>;

/** How {@linkcode walkDag} reads the store. */
export interface DagWalk {
  /** Reads a block; throws `NotFoundError` when it is missing. */
  read: GetBlock;
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
    if (cid.code === raw.code || codecOf(cid) === undefined) {
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
