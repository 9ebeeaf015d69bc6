/**
 * IPLD path resolution for `dag get` and `dag resolve`: through maps by key,
 * lists by index, and links into other blocks. In a dag-pb node the first
 * segment may be a link's name (UnixFS pathing), or `Links`/`Data` of the
 * dag-pb data model.
 *
 * @module
 */

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { CID } from "npm:multiformats@14.0.5/cid";
import { decodeBlock, describe } from "./_codecs.ts";
import type { GetBlock } from "./_dag_walk.ts";
import { InvalidCidError, InvalidInputError, NotFoundError } from "./errors.ts";

/** Where a path ends. */
export interface Resolved {
  /** The last block reached. */
  cid: CID;
  /** The value at the path (a link at the end is followed: the linked node). */
  value: unknown;
  /** The segments consumed inside the last block, `/`-joined. */
  remainderPath: string;
}

/**
 * Splits `"/ipfs/<cid>/a/b"`, `"<cid>/a/b"` or a CID object, plus an extra
 * path, into the root CID and the path's segments. Empty segments are
 * dropped.
 *
 * @throws {InvalidCidError} The root is not a CID.
 */
export function splitPath(
  path: unknown,
  extra: string | undefined,
  what: string,
): { root: CID; segments: string[] } {
  const extraSegments = extra === undefined ? [] : segmentsOf(extra, what);
  const cid = CID.asCID(path);
  if (cid !== null) return { root: cid, segments: extraSegments };
  if (typeof path !== "string") {
    throw new InvalidCidError(
      `Cannot ${what}: expected a CID or a path: received ${describe(path)}`,
      path,
    );
  }
  const parts = path.replace(/^\/ipfs\//, "").split("/").filter((part) => part !== "");
  if (parts.length === 0) {
    throw new InvalidCidError(`Cannot ${what}: the path has no CID: received ${path}`, path);
  }
  let root: CID;
  try {
    root = CID.parse(parts[0]);
  } catch (error) {
    throw new InvalidCidError(
      `Cannot ${what}: not a valid CID: received ${JSON.stringify(parts[0])}`,
      path,
      { cause: error },
    );
  }
  return { root, segments: [...parts.slice(1), ...extraSegments] };
}

function segmentsOf(path: unknown, what: string): string[] {
  if (typeof path !== "string") {
    throw new InvalidInputError(`Cannot ${what}: path must be a string: received ${typeof path}`);
  }
  return path.split("/").filter((part) => part !== "");
}

/**
 * Follows `segments` from `root`, reading blocks as links are crossed. A
 * link at the end is followed too; its block is read only if `loadLast`.
 *
 * @throws {NotFoundError} A block is missing, or a key, index or link name does not exist.
 * @throws {InvalidInputError} A segment goes into a value without fields, or indexes a list with a non-number.
 */
export async function resolvePath(
  root: CID,
  segments: readonly string[],
  read: GetBlock,
  what: string,
  checkpoint: () => void,
  loadLast = true,
): Promise<Resolved> {
  let cid = root;
  let value = decodeBlock(cid, await read(cid), what);
  let top = true;
  let consumed: string[] = [];
  const walked: string[] = [root.toString()];
  for (let i = 0; i < segments.length;) {
    checkpoint();
    const link = CID.asCID(value);
    if (link !== null) {
      cid = link;
      value = decodeBlock(cid, await read(cid), what);
      top = true;
      consumed = [];
      continue;
    }
    const segment = segments[i];
    const here = walked.join("/");
    if (top && cid.code === dagPb.code && segment !== "Links" && segment !== "Data") {
      const named = (value as dagPb.PBNode).Links.find((entry) => entry.Name === segment);
      if (named === undefined) {
        throw new NotFoundError(
          `Cannot ${what}: no link named ${JSON.stringify(segment)} in ${here}`,
          `${here}/${segment}`,
        );
      }
      value = named.Hash;
    } else if (Array.isArray(value)) {
      if (!/^(0|[1-9][0-9]*)$/.test(segment)) {
        throw new InvalidInputError(
          `Cannot ${what}: a list index must be a non-negative integer: received ${
            JSON.stringify(segment)
          } at ${here}`,
        );
      }
      const index = Number(segment);
      if (index >= value.length) {
        throw new NotFoundError(
          `Cannot ${what}: index ${index} is past the end of the list of ${value.length} at ${here}`,
          `${here}/${segment}`,
        );
      }
      value = value[index];
    } else if (
      value !== null && typeof value === "object" && !(value instanceof Uint8Array)
    ) {
      if (!Object.hasOwn(value, segment)) {
        throw new NotFoundError(
          `Cannot ${what}: no field ${JSON.stringify(segment)} at ${here}`,
          `${here}/${segment}`,
        );
      }
      value = (value as Record<string, unknown>)[segment];
    } else {
      throw new InvalidInputError(
        `Cannot ${what}: ${here} is ${describe(value)}, which has no field ${
          JSON.stringify(segment)
        }`,
      );
    }
    top = false;
    consumed.push(segment);
    walked.push(segment);
    i++;
  }
  const last = CID.asCID(value);
  if (last !== null) {
    checkpoint();
    const linked = loadLast ? decodeBlock(last, await read(last), what) : undefined;
    return { cid: last, value: linked, remainderPath: "" };
  }
  return { cid, value, remainderPath: consumed.join("/") };
}
