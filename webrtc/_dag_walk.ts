// The walk over a UnixFS DAG that both ends of a stream make: the sender to
// know which blocks to send and in which order, the receiver to know which
// block must come next and to check it before any of its bytes go out.
//
// The order is depth first, parents before children, children in link
// order, and only the blocks the request needs: the blocks along the path
// (directories, HAMT shards), then the file's nodes and leaves whose bytes
// meet the range. A block whose CID uses the identity hash is never sent:
// its bytes are in the CID. Imports no runtime: the browser receiver uses it.

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { murmur3128 } from "npm:@multiformats/murmur3@2.2.8";
import { UnixFS } from "npm:ipfs-unixfs@13.1.1";
import { equals } from "npm:multiformats@14.0.5/bytes";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { sha256, sha512 } from "npm:multiformats@14.0.5/hashes/sha2";
import { VerificationError } from "./errors.ts";
import type { ErrorKinds } from "./_wire.ts";

const DAG_PB = 0x70;
const RAW = 0x55;
const IDENTITY = 0x00;

interface Hasher {
  digest(bytes: Uint8Array): { bytes: Uint8Array } | Promise<{ bytes: Uint8Array }>;
}

const HASHERS = new Map<number, Hasher>([[sha256.code, sha256], [sha512.code, sha512]]);

/** What the walk still has to read: a block on the way down the path, or a part of the file. */
type Task =
  | { kind: "path"; cid: CID; segments: string[]; shardDepth: number }
  | { kind: "file"; cid: CID; start: number; size: number | undefined };

/** The range a request asks for. */
export interface WalkRange {
  /** First byte. */
  offset: number;
  /** Bytes at most; `undefined`: to the end. */
  length: number | undefined;
}

/**
 * One walk. Call {@linkcode RangeWalk.start} once, then, while
 * {@linkcode RangeWalk.next} names a CID, hand that block to
 * {@linkcode RangeWalk.accept}; each returns the file's bytes it yields, in
 * order (views of the blocks: do not change them).
 */
export class RangeWalk {
  #stack: Task[];
  #rangeStart: number;
  #rangeEnd: number;
  #length: number | undefined;
  #root: CID;
  #fileSize: number | undefined;
  #blocks = 0;
  #errors: ErrorKinds;

  constructor(root: CID, segments: string[], range: WalkRange, errors: ErrorKinds) {
    this.#errors = errors;
    this.#root = root;
    this.#rangeStart = range.offset;
    this.#length = range.length;
    this.#rangeEnd = Infinity;
    this.#stack = [
      segments.length > 0
        ? { kind: "path", cid: root, segments, shardDepth: 0 }
        : { kind: "file", cid: root, start: 0, size: undefined },
    ];
  }

  /** The file's size, once its root was read. */
  get fileSize(): number | undefined {
    return this.#fileSize;
  }

  /** Blocks accepted so far (identity blocks included). */
  get blocks(): number {
    return this.#blocks;
  }

  /** Whether the walk is complete. */
  get done(): boolean {
    return this.#stack.length === 0;
  }

  /** Reads what needs no block (identity CIDs at the start). */
  start(): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    return this.#expandIdentity(out).then(() => out);
  }

  /** The CID of the block the walk needs next; `undefined` once it is complete. */
  next(): CID | undefined {
    return this.#stack.at(-1)?.cid;
  }

  /**
   * Takes the next block.
   *
   * @param cid The CID the block came with.
   * @param bytes Its bytes.
   * @param verify Check that the bytes hash to the CID (the receiver); the
   * sender trusts its own store.
   * @returns The file's bytes the block yields within the range.
   * @throws {VerificationError} Not the block the walk needs, or bytes that do not match.
   * @throws {NotFoundError} The path names nothing.
   * @throws {InvalidInputError} The path ends at a directory or a symlink, or the DAG is not UnixFS.
   */
  async accept(cid: CID, bytes: Uint8Array, verify: boolean): Promise<Uint8Array[]> {
    const task = this.#stack.pop();
    if (task === undefined) {
      throw new VerificationError(
        `Cannot accept block ${cid}: the walk is complete`,
        cid.toString(),
        "unexpected-block",
      );
    }
    if (!cid.equals(task.cid)) {
      this.#stack.push(task);
      throw new VerificationError(
        `Cannot accept block ${cid}: the verified DAG links to ${task.cid} next`,
        cid.toString(),
        "unexpected-block",
      );
    }
    if (verify) await verifyBlock(cid, bytes);
    const out: Uint8Array[] = [];
    await this.#process(task, bytes, out);
    await this.#expandIdentity(out);
    return out;
  }

  async #expandIdentity(out: Uint8Array[]): Promise<void> {
    for (let task = this.#stack.at(-1); task !== undefined; task = this.#stack.at(-1)) {
      if (task.cid.multihash.code !== IDENTITY) return;
      this.#stack.pop();
      await this.#process(task, task.cid.multihash.digest, out);
    }
  }

  async #process(task: Task, bytes: Uint8Array, out: Uint8Array[]): Promise<void> {
    this.#blocks++;
    const { cid } = task;
    const code = cid.code;
    if (code !== DAG_PB && code !== RAW) {
      if (cid === this.#root) {
        throw this.#errors.invalidInput(
          `Cannot stream ${cid}: not UnixFS (codec 0x${code.toString(16)})`,
        );
      }
      throw new VerificationError(
        `Cannot accept block ${cid}: a UnixFS DAG links to a block of codec 0x${code.toString(16)}`,
        cid.toString(),
        "unsupported-codec",
      );
    }
    if (task.kind === "path") {
      await this.#resolve(task, bytes);
      return;
    }
    let data: Uint8Array | undefined;
    let sizes: number[] = [];
    let links: dagPb.PBLink[] = [];
    if (code === RAW) {
      data = bytes;
    } else {
      const node = decodePb(cid, bytes);
      const unixfs = unixfsOf(cid, node, this.#errors);
      if (unixfs.type === "directory" || unixfs.type === "hamt-sharded-directory") {
        throw this.#errors.invalidInput(`Cannot stream ${cid}: it is a directory`);
      }
      if (unixfs.type !== "file" && unixfs.type !== "raw") {
        throw this.#errors.invalidInput(`Cannot stream ${cid}: it is a ${unixfs.type}, not a file`);
      }
      data = unixfs.data;
      sizes = unixfs.blockSizes.map(Number);
      links = node.Links;
      if (sizes.length !== links.length) {
        throw new VerificationError(
          `Cannot accept block ${cid}: ${links.length} links but ${sizes.length} block sizes`,
          cid.toString(),
          "malformed-node",
        );
      }
    }
    const dataLength = data?.length ?? 0;
    const size = sizes.reduce((sum, n) => sum + n, dataLength);
    if (task.size !== undefined && size !== task.size) {
      throw new VerificationError(
        `Cannot accept block ${cid}: it holds ${size} bytes, its parent says ${task.size}`,
        cid.toString(),
        "size-mismatch",
      );
    }
    if (task.size === undefined) {
      this.#fileSize = size;
      this.#rangeEnd = this.#length === undefined
        ? size
        : Math.min(size, this.#rangeStart + this.#length);
    }
    const start = task.start;
    if (data !== undefined && dataLength > 0) {
      const from = Math.max(this.#rangeStart, start) - start;
      const to = Math.min(this.#rangeEnd, start + dataLength) - start;
      if (from < to) out.push(data.subarray(from, to));
    }
    const children: Task[] = [];
    let childStart = start + dataLength;
    for (let i = 0; i < links.length; i++) {
      const childEnd = childStart + sizes[i];
      // Children without bytes in the range (empty ones too) are not read.
      if (childStart < this.#rangeEnd && childEnd > this.#rangeStart) {
        children.push({ kind: "file", cid: links[i].Hash, start: childStart, size: sizes[i] });
      }
      childStart = childEnd;
    }
    for (let i = children.length - 1; i >= 0; i--) this.#stack.push(children[i]);
  }

  async #resolve(task: Extract<Task, { kind: "path" }>, bytes: Uint8Array): Promise<void> {
    const { cid, segments } = task;
    const name = segments[0];
    if (cid.code === RAW) {
      throw this.#errors.notFound(
        `Cannot resolve ${JSON.stringify(name)} under ${cid}: it is a file`,
        cid.toString(),
      );
    }
    const node = decodePb(cid, bytes);
    const unixfs = unixfsOf(cid, node, this.#errors);
    if (unixfs.type === "directory") {
      const link = node.Links.find((entry) => entry.Name === name);
      if (link === undefined) {
        throw this.#errors.notFound(
          `Cannot resolve path: no entry ${JSON.stringify(name)} under ${cid}`,
          cid.toString(),
        );
      }
      this.#stack.push(childOf(link.Hash, segments.slice(1)));
      return;
    }
    if (unixfs.type === "hamt-sharded-directory") {
      const fanout = Number(unixfs.fanout ?? 0n);
      const bits = Math.log2(fanout);
      if (!Number.isInteger(bits) || bits < 1 || bits > 16) {
        throw new VerificationError(
          `Cannot accept block ${cid}: a HAMT shard with fanout ${fanout}`,
          cid.toString(),
          "malformed-node",
        );
      }
      const width = (fanout - 1).toString(16).length;
      const index = await shardIndex(name, task.shardDepth, bits, cid);
      const prefix = index.toString(16).toUpperCase().padStart(width, "0");
      for (const link of node.Links) {
        if (link.Name === prefix + name) {
          this.#stack.push(childOf(link.Hash, segments.slice(1)));
          return;
        }
        if (link.Name === prefix) {
          this.#stack.push({
            kind: "path",
            cid: link.Hash,
            segments,
            shardDepth: task.shardDepth + 1,
          });
          return;
        }
      }
      throw this.#errors.notFound(
        `Cannot resolve path: no entry ${JSON.stringify(name)} under ${cid}`,
        cid.toString(),
      );
    }
    throw this.#errors.notFound(
      `Cannot resolve ${
        JSON.stringify(name)
      } under ${cid}: it is a ${unixfs.type}, not a directory`,
      cid.toString(),
    );
  }
}

function childOf(cid: CID, rest: string[]): Task {
  return rest.length > 0
    ? { kind: "path", cid, segments: rest, shardDepth: 0 }
    : { kind: "file", cid, start: 0, size: undefined };
}

/**
 * Checks that `bytes` hash to `cid` (sha2-256 and sha2-512; identity CIDs
 * hold their bytes).
 *
 * @throws {VerificationError} They do not, or the hash function is not one of these.
 */
export async function verifyBlock(cid: CID, bytes: Uint8Array): Promise<void> {
  const code = cid.multihash.code;
  if (code === IDENTITY) {
    if (!equals(cid.multihash.digest, bytes)) {
      throw new VerificationError(
        `Cannot accept block ${cid}: its bytes are not the ones in its identity CID`,
        cid.toString(),
        "hash-mismatch",
      );
    }
    return;
  }
  const hasher = HASHERS.get(code);
  if (hasher === undefined) {
    throw new VerificationError(
      `Cannot accept block ${cid}: hash function 0x${code.toString(16)} is not supported`,
      cid.toString(),
      "unsupported-hash",
    );
  }
  const digest = await hasher.digest(bytes);
  if (!equals(digest.bytes, cid.multihash.bytes)) {
    throw new VerificationError(
      `Cannot accept block ${cid}: its bytes do not hash to its CID`,
      cid.toString(),
      "hash-mismatch",
    );
  }
}

function decodePb(cid: CID, bytes: Uint8Array): dagPb.PBNode {
  try {
    return dagPb.decode(bytes);
  } catch (error) {
    throw new VerificationError(
      `Cannot accept block ${cid}: not a dag-pb node: ${(error as Error).message}`,
      cid.toString(),
      "malformed-node",
    );
  }
}

function unixfsOf(cid: CID, node: dagPb.PBNode, errors: ErrorKinds): UnixFS {
  if (node.Data === undefined) {
    throw errors.invalidInput(`Cannot stream ${cid}: a dag-pb node without UnixFS data`);
  }
  try {
    return UnixFS.unmarshal(node.Data);
  } catch (error) {
    throw errors.invalidInput(`Cannot stream ${cid}: not UnixFS: ${(error as Error).message}`);
  }
}

/** The bucket of `name` at `depth` of a HAMT shard: `bits` bits of the name's murmur3-x64-64 hash. */
async function shardIndex(name: string, depth: number, bits: number, cid: CID): Promise<number> {
  const first = depth * bits;
  if (first + bits > 64) {
    throw new VerificationError(
      `Cannot accept block ${cid}: a HAMT deeper than its hash`,
      cid.toString(),
      "malformed-node",
    );
  }
  const hash = (await murmur3128.encode(new TextEncoder().encode(name))).subarray(0, 8);
  let index = 0;
  for (let bit = first; bit < first + bits; bit++) {
    index = (index << 1) | ((hash[bit >> 3] >> (7 - (bit & 7))) & 1);
  }
  return index;
}
