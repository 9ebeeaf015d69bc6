/**
 * Streams a byte range of a UnixFS file, one block at a time.
 *
 * The nodes are decoded by `@ipld/dag-pb` and `ipfs-unixfs`; this module
 * only walks the DAG. It exists because `ipfs-unixfs-exporter`'s
 * `content()` walks the file in a detached task that pushes into an
 * unbounded queue: it reads ahead of a slow consumer without limit and keeps
 * reading after the consumer stops. Here the walk is pulled by the consumer:
 * a block is read only when the bytes before it have been taken, and
 * stopping the generator stops the walk.
 *
 * @module
 */

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { UnixFS } from "npm:ipfs-unixfs@13.1.1";
import type { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { InvalidInputError } from "./errors.ts";
import type { GetBlock } from "./_dag_walk.ts";
import { ReadAhead, type ReadAheadSource } from "./_read_ahead.ts";

/** The root of a file, decoded. */
export interface FileRoot {
  /** The file's size in bytes. */
  size: number;
  /** The root block's node: raw bytes, or a dag-pb node with its UnixFS data. */
  node: Uint8Array | { pb: dagPb.PBNode; fs: UnixFS };
}

/**
 * Reads and checks a file's root block.
 *
 * @throws {InvalidInputError} The CID is not a UnixFS file (a directory, a
 * symlink, another codec).
 */
export async function openFile(get: GetBlock, cid: CID, what: string): Promise<FileRoot> {
  const block = await get(cid);
  if (cid.code === raw.code) return { size: block.length, node: block };
  if (cid.code !== dagPb.code) {
    throw new InvalidInputError(
      `Cannot ${what}: not a UnixFS file: ${cid} has codec 0x${cid.code.toString(16)}`,
    );
  }
  const node = decodeFileNode(cid, block, what, true);
  return { size: Number(node.fs.fileSize()), node };
}

/**
 * Yields the bytes of `[start, end)` of a file, in order, as views of the
 * blocks read. With `readAhead` (a node with a network), the range's blocks
 * are fetched ahead of the reader, within the source's window
 * ({@linkcode ReadAhead}); stopping the generator stops it.
 */
export async function* readRange(
  get: GetBlock,
  root: FileRoot,
  start: number,
  end: number,
  readAhead?: ReadAheadSource,
): AsyncGenerator<Uint8Array, void, undefined> {
  let emitted = 0;
  const ahead = readAhead === undefined || root.node instanceof Uint8Array ||
      root.node.pb.Links.length === 0 || start >= end
    ? undefined
    : new ReadAhead(readAhead, root.node, start, end);
  try {
    const read = ahead === undefined ? get : ahead.wrap(get);
    for await (const bytes of walk(read, root.node, 0, start, end)) {
      emitted += bytes.length;
      ahead?.advance(start + emitted);
      yield bytes;
    }
  } finally {
    await ahead?.close();
  }
  if (emitted !== end - start) {
    throw new Error(
      `Cannot read file: the DAG holds ${emitted} bytes of the range ${start}-${end}: it is corrupt`,
    );
  }
}

async function* walk(
  get: GetBlock,
  node: FileRoot["node"],
  position: number,
  start: number,
  end: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (node instanceof Uint8Array) {
    const slice = overlap(node, position, start, end);
    if (slice !== undefined) yield slice;
    return;
  }
  const { pb, fs } = node;
  let at = position;
  if (fs.data !== undefined && fs.data.length > 0) {
    const slice = overlap(fs.data, at, start, end);
    if (slice !== undefined) yield slice;
    at += fs.data.length;
  }
  for (let i = 0; i < pb.Links.length && at < end; i++) {
    const childStart = at;
    at += Number(fs.blockSizes[i]);
    if (at <= start) continue;
    const link = pb.Links[i].Hash;
    const block = await get(link);
    let child: FileRoot["node"];
    if (link.code === raw.code) child = block;
    else if (link.code === dagPb.code) child = decodeFileNode(link, block, "read file", false);
    else throw new Error(`Cannot read file: link ${link} has unsupported codec 0x${link.code}`);
    yield* walk(get, child, childStart, start, end);
  }
}

function decodeFileNode(
  cid: CID,
  block: Uint8Array,
  what: string,
  isRoot: boolean,
): { pb: dagPb.PBNode; fs: UnixFS } {
  const pb = dagPb.decode(block);
  if (pb.Data === undefined) {
    throw new InvalidInputError(`Cannot ${what}: not a UnixFS node: ${cid} has no data`);
  }
  const fs = UnixFS.unmarshal(pb.Data);
  if (fs.type !== "file" && fs.type !== "raw") {
    const kind = fs.type === "hamt-sharded-directory" ? "directory" : fs.type;
    if (isRoot) throw new InvalidInputError(`Cannot ${what}: ${cid} is a ${kind}, not a file`);
    throw new Error(`Cannot ${what}: the DAG is corrupt: ${cid} is a ${kind} inside a file`);
  }
  if (pb.Links.length !== fs.blockSizes.length) {
    throw new Error(
      `Cannot ${what}: the DAG is corrupt: ${cid} has ${pb.Links.length} links and ${fs.blockSizes.length} block sizes`,
    );
  }
  return { pb, fs };
}

/** The part of `bytes` (at `position` in the file) inside `[start, end)`. */
function overlap(
  bytes: Uint8Array,
  position: number,
  start: number,
  end: number,
): Uint8Array | undefined {
  const from = Math.max(start - position, 0);
  const to = Math.min(end - position, bytes.length);
  return to > from ? bytes.subarray(from, to) : undefined;
}
