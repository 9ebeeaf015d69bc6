/**
 * The embedded node's MFS (`files`), as Kubo's `ipfs files` commands: a
 * tree of UnixFS directories over the repository's blocks whose root CID is
 * kept in the repository (`_mfs_root.ts`).
 *
 * The directories are changed by `@helia/unixfs` (adding, replacing and
 * removing links, HAMT sharding past its threshold, as Kubo shards), over
 * the repository's blockstore; file contents are imported with the node's
 * own importer (Kubo's layout, so `files write` gives Kubo's CIDs) and read
 * with its reader. A change rewrites the directories from the changed entry
 * up to the root, syncs the new blocks, then replaces the root durably.
 *
 * Changes are serialised by one lock and hold the repository's
 * garbage-collection lock shared, so a collection never sees a tree half
 * changed; garbage collection keeps every block the root references.
 *
 * @module
 */

import type { UnixFS } from "npm:@helia/unixfs@8.0.5";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpoint } from "../runtime/checkpoint.ts";
import { Lock } from "../runtime/lock.ts";
import type {
  AddInput,
  CatOptions,
  CidLike,
  FilesApi,
  FilesEntry,
  FilesWriteOptions,
  StatResult,
} from "./content_store.ts";
import { InvalidInputError, NotFoundError } from "./errors.ts";
import { checkCount, checkFlag } from "./_arguments.ts";
import type { GetBlock } from "./_dag_walk.ts";
import { importFile } from "./_embedded_import.ts";
import { byteSource } from "./_input.ts";
import { isIpfsPath, mfsNames, mfsPath } from "./_mfs_paths.ts";
import type { Repository } from "./_repository.ts";
import { directoryEntries, inspect, type UnixFsNode } from "./_unixfs_node.ts";
import { resolveUnixFsPath } from "./_unixfs_path.ts";
import { openFile, readRange } from "./_unixfs_reader.ts";

/** One directory on the way from the root to an entry. */
interface Step {
  /** Its name in its parent (`""` for the root). */
  name: string;
  cid: CID;
}

/** Streams a file by CID (the node's `cat`). */
export type CatByCid = (cid: CidLike, options: CatOptions) => ReadableStream<Uint8Array>;

const ZEROS = new Uint8Array(65_536);

/**
 * The `files` API of an embedded node.
 *
 * @param repo The node's repository.
 * @param cat The node's `cat`, for `read`.
 * @returns The API.
 */
export function embeddedFilesApi(repo: Repository, cat: CatByCid): FilesApi {
  return new EmbeddedFiles(repo, cat);
}

class EmbeddedFiles implements FilesApi {
  #repo: Repository;
  #cat: CatByCid;
  #lock = new Lock();
  #fs: Promise<UnixFS> | undefined;
  /** The signal of the operation running, for the blockstore adapter's reads and writes. */
  #signal: AbortSignal | undefined;

  constructor(repo: Repository, cat: CatByCid) {
    this.#repo = repo;
    this.#cat = cat;
  }

  /**
   * `@helia/unixfs` over the repository's blocks, loaded on the first change:
   * it reads the environment (its logger) and the CPU count (a glob helper)
   * as it loads, so a process that changes the tree needs `--allow-env` and
   * `--allow-sys`; one that never does needs neither.
   */
  #unixfs(): Promise<UnixFS> {
    this.#fs ??= this.#loadUnixfs();
    return this.#fs;
  }

  async #loadUnixfs(): Promise<UnixFS> {
    const { unixfs } = await import("npm:@helia/unixfs@8.0.5");
    const blocks = this.#repo.blocks;
    const signal = () => this.#signal;
    const blockstore = {
      async *get(cid: CID): AsyncGenerator<Uint8Array> {
        yield await blocks.get(cid, { signal: signal() });
      },
      async put(
        cid: CID,
        bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
      ): Promise<CID> {
        await blocks.put(cid, await concat(bytes), { signal: signal() });
        return cid;
      },
      has(cid: CID): Promise<boolean> {
        return blocks.has(cid, { signal: signal() });
      },
    };
    return unixfs({ blockstore } as unknown as Parameters<typeof unixfs>[0]);
  }

  async ls(path = "/", options: { signal?: AbortSignal } = {}): Promise<FilesEntry[]> {
    const what = "list files";
    const names = mfsNames(path, what);
    return await this.#read(what, options.signal, async (get, signal) => {
      const cid = await this.#resolve(get, names, path, what);
      const node = await inspect(get, cid, what);
      if (node.type !== "directory") {
        return [{ name: names.at(-1) ?? "", type: node.type, size: node.size, cid }];
      }
      const entries: FilesEntry[] = [];
      for await (const entry of directoryEntries(get, node, signal)) {
        const child = await inspect(get, entry.cid, what);
        entries.push({ name: entry.name, type: child.type, size: child.size, cid: entry.cid });
      }
      return entries;
    });
  }

  async stat(path: string, options: { signal?: AbortSignal } = {}): Promise<StatResult> {
    const what = "stat file";
    const names = mfsNames(path, what);
    return await this.#read(what, options.signal, async (get) => {
      const cid = await this.#resolve(get, names, path, what);
      const node = await inspect(get, cid, what);
      return {
        cid,
        type: node.type,
        size: node.size,
        cumulativeSize: node.cumulativeSize,
        blocks: node.blocks,
      };
    });
  }

  async mkdir(
    path: string,
    options: { parents?: boolean; cidVersion?: 0 | 1; signal?: AbortSignal } = {},
  ): Promise<void> {
    const what = "make directory";
    const names = mfsNames(path, what);
    const parents = checkFlag(options.parents, false, what, "parents");
    const cidVersion = checkVersion(options.cidVersion, what);
    return await this.#change(what, options.signal, async (get, root) => {
      if (names.length === 0) {
        if (parents) return root;
        throw new InvalidInputError(`Cannot ${what}: /: file already exists`);
      }
      const trail = await this.#trail(get, root, names.slice(0, -1), path, what, {
        create: parents,
        cidVersion,
      });
      const parent = trail.at(-1)!;
      const name = names.at(-1)!;
      const existing = await this.#child(get, parent.cid, name);
      if (existing !== undefined) {
        const node = await inspect(get, existing, what);
        if (parents && node.type === "directory") return root;
        throw new InvalidInputError(`Cannot ${what}: ${path}: file already exists`);
      }
      const dir = await (await this.#unixfs()).addDirectory({}, {
        cidVersion: cidVersion ?? parent.cid.version,
      });
      return await this.#persist([...trail, { name, cid: dir }]);
    });
  }

  async write(path: string, content: AddInput, options: FilesWriteOptions = {}): Promise<void> {
    const what = "write file";
    const names = mfsNames(path, what);
    const create = checkFlag(options.create, false, what, "create");
    const parents = checkFlag(options.parents, false, what, "parents");
    const truncate = checkFlag(options.truncate, false, what, "truncate");
    const offset = checkNumber(options.offset ?? 0, what, "offset");
    const length = options.length === undefined
      ? undefined
      : checkNumber(options.length, what, "length");
    if (names.length === 0) {
      throw (new InvalidInputError(`Cannot ${what}: /: is a directory`));
    }
    const source = byteSource(content, path, undefined, what, options.signal);
    return await this.#change(what, options.signal, async (get, root, signal) => {
      const trail = await this.#trail(get, root, names.slice(0, -1), path, what, {
        create: parents,
        cidVersion: undefined,
      });
      const name = names.at(-1)!;
      const existing = await this.#child(get, trail.at(-1)!.cid, name);
      let old: UnixFsNode | undefined;
      if (existing === undefined) {
        if (!create) {
          throw new NotFoundError(`Cannot ${what}: ${path}: file does not exist`, path);
        }
      } else {
        old = await inspect(get, existing, what);
        if (old.type !== "file") {
          throw new InvalidInputError(`Cannot ${what}: ${path}: not a file (${old.type})`);
        }
      }
      const bytes = spliced(get, old, source, { offset, length, truncate });
      const { cid } = await importFile(this.#repo, bytes, {
        pin: false,
        ...(options.cidVersion === undefined ? {} : { cidVersion: options.cidVersion }),
        ...(options.rawLeaves === undefined ? {} : { rawLeaves: options.rawLeaves }),
        ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
      }, signal);
      return await this.#persist([...trail, { name, cid }]);
    }, content);
  }

  read(path: string, options: { offset?: number; length?: number; signal?: AbortSignal } = {}) {
    const what = "read file";
    const names = mfsNames(path, what);
    const offset = checkCount(options.offset ?? 0, "offset");
    const length = options.length === undefined ? undefined : checkCount(options.length, "length");
    this.#repo.checkOpen(what);
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (reader === undefined) {
          const cid = await this.#read(what, options.signal, async (get) => {
            const cid = await this.#resolve(get, names, path, what);
            const node = await inspect(get, cid, what);
            if (node.type !== "file") {
              throw new InvalidInputError(`Cannot ${what}: ${path}: not a file (${node.type})`);
            }
            return cid;
          });
          reader = this.#cat(cid, {
            offset,
            ...(length === undefined ? {} : { length }),
            ...(options.signal === undefined ? {} : { signal: options.signal }),
          }).getReader();
        }
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: async (reason) => {
        await reader?.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }

  async cp(from: string, to: string, options: { parents?: boolean; signal?: AbortSignal } = {}) {
    const what = "copy file";
    const target = mfsNames(to, what);
    const parents = checkFlag(options.parents, false, what, "parents");
    const source = isIpfsPath(from) ? undefined : mfsNames(from, what);
    if (target.length === 0) {
      throw (new InvalidInputError(`Cannot ${what}: /: file already exists`));
    }
    return await this.#change(what, options.signal, async (get, root) => {
      const cid = source === undefined
        ? await resolveUnixFsPath(get, from, what)
        : await this.#resolve(get, source, from, what, root);
      await inspect(get, cid, what); // present, and UnixFS
      const trail = await this.#trail(get, root, target.slice(0, -1), to, what, {
        create: parents,
        cidVersion: undefined,
      });
      const name = target.at(-1)!;
      if (await this.#child(get, trail.at(-1)!.cid, name) !== undefined) {
        throw new InvalidInputError(
          `Cannot ${what}: ${to}: directory already has entry by that name`,
        );
      }
      return await this.#persist([...trail, { name, cid }]);
    });
  }

  async mv(from: string, to: string, options: { signal?: AbortSignal } = {}) {
    const what = "move file";
    const source = mfsNames(from, what);
    let target = mfsNames(to, what);
    if (source.length === 0) {
      throw (new InvalidInputError(`Cannot ${what}: cannot move the root /`));
    }
    return await this.#change(what, options.signal, async (get, root) => {
      const cid = await this.#resolve(get, source, from, what, root);
      const at = await this.#resolveOptional(get, root, target);
      if (at !== undefined) {
        if ((await inspect(get, at, what)).type !== "directory") {
          throw new InvalidInputError(
            `Cannot ${what}: ${to}: directory already has entry by that name`,
          );
        }
        target = [...target, source.at(-1)!];
      }
      if (
        target.length >= source.length && source.every((name, i) => target[i] === name)
      ) {
        throw new InvalidInputError(`Cannot ${what}: cannot move ${from} into itself`);
      }
      if (await this.#resolveOptional(get, root, target) !== undefined) {
        throw new InvalidInputError(
          `Cannot ${what}: ${mfsPath(target)}: directory already has entry by that name`,
        );
      }
      // Remove first, then add under the root that results.
      const removed = await this.#remove(get, root, source, from, what);
      const trail = await this.#trail(get, removed, target.slice(0, -1), to, what, {
        create: false,
        cidVersion: undefined,
      });
      return await this.#persist([...trail, { name: target.at(-1)!, cid }]);
    });
  }

  async rm(
    path: string,
    options: { recursive?: boolean; force?: boolean; signal?: AbortSignal } = {},
  ) {
    const what = "remove file";
    const names = mfsNames(path, what);
    const recursive = checkFlag(options.recursive, false, what, "recursive");
    const force = checkFlag(options.force, false, what, "force");
    if (names.length === 0) {
      throw (new InvalidInputError(`Cannot ${what}: cannot delete root`));
    }
    return await this.#change(what, options.signal, async (get, root) => {
      const cid = await this.#resolveOptional(get, root, names);
      if (cid === undefined) {
        if (force) return root;
        throw new NotFoundError(`Cannot ${what}: ${path}: file does not exist`, path);
      }
      if (!recursive && !force && (await inspect(get, cid, what)).type === "directory") {
        throw new InvalidInputError(
          `Cannot ${what}: ${path} is a directory, use -r to remove directories`,
        );
      }
      return await this.#remove(get, root, names, path, what);
    });
  }

  async flush(path = "/", options: { signal?: AbortSignal } = {}): Promise<CID> {
    const what = "flush files";
    const names = mfsNames(path, what);
    return await this.#change(what, options.signal, async (get, root) => {
      await this.#resolve(get, names, path, what, root);
      return root;
    }).then(() => this.stat(path, options)).then((stat) => stat.cid);
  }

  async chcid(
    path = "/",
    options: { cidVersion?: 0 | 1; signal?: AbortSignal } = {},
  ): Promise<void> {
    const what = "change CID version";
    const names = mfsNames(path, what);
    const version = checkVersion(options.cidVersion, what);
    return await this.#change(what, options.signal, async (get, root) => {
      const cid = await this.#resolve(get, names, path, what, root);
      if (version === undefined || version === cid.version) return root;
      if (cid.code !== dagPb.code) {
        throw new InvalidInputError(
          `Cannot ${what}: ${path}: only dag-pb nodes can be CIDv0 (it is ${
            cid.code === raw.code ? "a raw block" : `codec 0x${cid.code.toString(16)}`
          })`,
        );
      }
      const bytes = await get(cid);
      const relabelled = version === 0
        ? CID.createV0(cid.multihash as Parameters<typeof CID.createV0>[0])
        : cid.toV1();
      await this.#repo.blocks.put(relabelled, bytes, { signal: this.#signal });
      if (names.length === 0) return relabelled;
      const trail = await this.#trail(get, root, names.slice(0, -1), path, what, {
        create: false,
        cidVersion: undefined,
      });
      return await this.#persist([...trail, { name: names.at(-1)!, cid: relabelled }]);
    });
  }

  /** Runs a read of the tree, holding no lock (it reads the root once). */
  #read<T>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (get: GetBlock, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return this.#repo.run(what, { lock: "shared", signal }, async (inner) => {
      const get: GetBlock = (cid) => this.#repo.blocks.get(cid, { signal: inner });
      return await fn(get, inner);
    });
  }

  /**
   * Runs a change: under the MFS lock and the repository's lock (shared),
   * `fn` gets the current root and returns the new one, which is made
   * durable (blocks, then the root file).
   */
  #change(
    what: string,
    signal: AbortSignal | undefined,
    fn: (get: GetBlock, root: CID, signal: AbortSignal) => Promise<CID>,
    input?: AddInput,
  ): Promise<void> {
    return this.#repo.run(what, { lock: "shared", signal, input }, async (inner) => {
      const permit = await this.#lock.acquire();
      try {
        this.#signal = inner;
        const get: GetBlock = (cid) => this.#repo.blocks.get(cid, { signal: inner });
        const root = await this.#root();
        const next = await mapErrors(what, () => fn(get, root, inner));
        await this.#repo.blocks.flush();
        // The root is written even when the caller goes away now: the blocks are there.
        await new CancelScope({ shield: true }).run(() => this.#repo.mfsRoot.set(next));
      } finally {
        this.#signal = undefined;
        permit.release();
      }
    });
  }

  /** The current root, creating the empty one (a CIDv0 directory, as Kubo's) on first use. */
  async #root(): Promise<CID> {
    const current = this.#repo.mfsRoot.current;
    if (current !== undefined) return current;
    const empty = await (await this.#unixfs()).addDirectory({}, { cidVersion: 0 });
    await this.#repo.blocks.flush();
    await this.#repo.mfsRoot.set(empty);
    return empty;
  }

  /** The CID at `names` below the root (the current one unless given). */
  async #resolve(
    get: GetBlock,
    names: readonly string[],
    path: string,
    what: string,
    root?: CID,
  ): Promise<CID> {
    root ??= this.#repo.mfsRoot.current;
    if (root === undefined) {
      if (names.length === 0) return await this.#emptyRoot();
      throw new NotFoundError(`Cannot ${what}: ${path}: file does not exist`, path);
    }
    const cid = await this.#resolveOptional(get, root, names);
    if (cid === undefined) {
      throw new NotFoundError(`Cannot ${what}: ${path}: file does not exist`, path);
    }
    return cid;
  }

  /** The root before anything was written: the empty directory, stored now. */
  async #emptyRoot(): Promise<CID> {
    return await this.#lock.withLock(() => this.#root());
  }

  /** The CID at `names` below `root`, or `undefined` when a name is missing. */
  async #resolveOptional(
    get: GetBlock,
    root: CID,
    names: readonly string[],
  ): Promise<CID | undefined> {
    let cid = root;
    for (const name of names) {
      const child = await this.#child(get, cid, name);
      if (child === undefined) return undefined;
      cid = child;
    }
    return cid;
  }

  /** The entry `name` of the directory `dir`, or `undefined`. */
  async #child(get: GetBlock, dir: CID, name: string): Promise<CID | undefined> {
    await checkpoint();
    const node = await inspect(get, dir, "resolve path");
    if (node.type !== "directory") return undefined;
    try {
      return await resolveUnixFsPath(get, `${dir}/${name}`, "resolve path");
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /**
   * The directories from the root down to `names`, which must all be
   * directories; with `create`, missing ones are made (empty).
   */
  async #trail(
    get: GetBlock,
    root: CID,
    names: readonly string[],
    path: string,
    what: string,
    options: { create: boolean; cidVersion: 0 | 1 | undefined },
  ): Promise<Step[]> {
    const trail: Step[] = [{ name: "", cid: root }];
    let missing = false;
    for (const [i, name] of names.entries()) {
      const parent = trail.at(-1)!;
      const child = missing ? undefined : await this.#child(get, parent.cid, name);
      if (child === undefined) {
        if (!options.create) {
          throw new NotFoundError(
            `Cannot ${what}: ${path}: parent directory ${
              mfsPath(names.slice(0, i + 1))
            } does not exist`,
            path,
          );
        }
        missing = true;
        const cid = await (await this.#unixfs()).addDirectory({}, {
          cidVersion: options.cidVersion ?? parent.cid.version,
        });
        trail.push({ name, cid });
        continue;
      }
      if ((await inspect(get, child, what)).type !== "directory") {
        throw new InvalidInputError(
          `Cannot ${what}: ${path}: ${mfsPath(names.slice(0, i + 1))} is not a directory`,
        );
      }
      trail.push({ name, cid: child });
    }
    return trail;
  }

  /** Removes the entry at `names` and returns the new root. */
  async #remove(
    get: GetBlock,
    root: CID,
    names: readonly string[],
    path: string,
    what: string,
  ): Promise<CID> {
    const trail = await this.#trail(get, root, names.slice(0, -1), path, what, {
      create: false,
      cidVersion: undefined,
    });
    const parent = trail.pop()!;
    const cid = await (await this.#unixfs()).rm(parent.cid, names.at(-1)!);
    return await this.#persist([...trail, { name: parent.name, cid }]);
  }

  /**
   * Links each step into the one before it, from the last up to the root,
   * and returns the new root.
   */
  async #persist(trail: Step[]): Promise<CID> {
    let child = trail.pop()!;
    for (let i = trail.length - 1; i >= 0; i--) {
      const parent = trail[i];
      const cid = await (await this.#unixfs()).cp(child.cid, parent.cid, child.name, {
        force: true,
      });
      child = { name: parent.name, cid };
    }
    return child.cid;
  }
}

/** The new content of a file: old bytes before `offset`, the new ones, old ones after. */
async function* spliced(
  get: GetBlock,
  old: UnixFsNode | undefined,
  content: AsyncIterable<Uint8Array>,
  options: { offset: number; length: number | undefined; truncate: boolean },
): AsyncGenerator<Uint8Array, void, undefined> {
  const { offset, length, truncate } = options;
  const root = old === undefined ? undefined : await openFile(get, old.cid, "write file");
  const size = root?.size ?? 0;
  if (root !== undefined && offset > 0) yield* readRange(get, root, 0, Math.min(offset, size));
  for (let gap = offset - size; gap > 0; gap -= ZEROS.length) {
    yield ZEROS.subarray(0, Math.min(gap, ZEROS.length));
  }
  let written = 0;
  for await (const chunk of content) {
    if (length !== undefined && written + chunk.length >= length) {
      if (length - written > 0) yield chunk.subarray(0, length - written);
      written = length;
      break;
    }
    written += chunk.length;
    if (chunk.length > 0) yield chunk;
  }
  if (root !== undefined && !truncate && offset + written < size) {
    yield* readRange(get, root, offset + written, size);
  }
}

/** `@helia/unixfs`'s errors as the kit's. */
async function mapErrors<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    switch (error.name) {
      case "AlreadyExistsError":
        throw new InvalidInputError(`Cannot ${what}: file already exists`, { cause: error });
      case "DoesNotExistError":
        throw new NotFoundError(`Cannot ${what}: file does not exist`, "");
      case "NotADirectoryError":
      case "NotUnixFSError":
      case "InvalidPBNodeError":
      case "InvalidParametersError":
        throw new InvalidInputError(`Cannot ${what}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function checkVersion(value: unknown, what: string): 0 | 1 | undefined {
  if (value === undefined) return undefined;
  if (value !== 0 && value !== 1) {
    throw new InvalidInputError(
      `Cannot ${what}: cidVersion must be 0 or 1: received ${String(value)}`,
    );
  }
  return value;
}

function checkNumber(value: unknown, what: string, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(
      `Cannot ${what}: ${name} must be a non-negative integer: received ${String(value)}`,
    );
  }
  return value;
}

/** The bytes of a block, in one array. */
async function concat(
  bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<Uint8Array> {
  if (bytes instanceof Uint8Array) return bytes;
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const part of bytes) {
    parts.push(part);
    length += part.length;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
