/**
 * The embedded node's repository: its layout on disk, opening it (one node
 * at a time), and how every operation of the node runs on it.
 *
 * The layout:
 * - `blocks/`: one file per block, Kubo's flatfs layout (`_fs_blockstore.ts`);
 * - `pins/`: one file per pin (`_pin_store.ts`);
 * - `keys/self.json`: the Ed25519 identity, in the shape of Kubo's
 *   `Identity` config (`_identity.ts`);
 * - `tmp/`: where pin and key files are written before they are renamed
 *   into place; emptied on open;
 * - `files-root`: the MFS root CID (`_mfs_root.ts`);
 * - `repo.lock`: held while a node has the repository open;
 * - `ipfs-kit-repo.json`: the format's kind and version.
 *
 * An operation runs under the caller's signal and holds the
 * garbage-collection lock as it needs: adds, puts and pins shared, garbage
 * collection and block removal exclusively, reads not at all. So the blocks
 * of an add in progress are never collected before it pins them.
 *
 * @module
 */

import { equals } from "npm:multiformats@14.0.5/bytes";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpoint } from "../runtime/checkpoint.ts";
import { ClosedResourceError, TaskGroupError } from "../runtime/errors.ts";
import { mapConcurrent } from "../runtime/map_concurrent.ts";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { lockFile } from "../runtime/lock_file.ts";
import { isNotWritable } from "../runtime/directory.ts";
import type { Permit } from "../runtime/permit.ts";
import { withSignal } from "../runtime/timeouts.ts";
import type { AddInput } from "./content_store.ts";
import { InvalidInputError, NotFoundError, RepoLockedError, RepoPathError } from "./errors.ts";
import type { NodeNetwork } from "./node_network.ts";
import { messageOf } from "./_arguments.ts";
import { exists } from "./_fs.ts";
import { fetchBlock } from "./_block_fetch.ts";
import { linksOf } from "./_codecs.ts";
import { READ_AHEAD_WINDOW, type ReadAheadSource } from "./_read_ahead.ts";
import { blockKey, FsBlockstore, ignoreNotFound } from "./_fs_blockstore.ts";
import { loadIdentity, type PeerIdentity } from "./_identity.ts";
import { MfsRoot } from "./_mfs_root.ts";
import { PinStore } from "./_pin_store.ts";
import { RwLock } from "./_rw_lock.ts";

/** How many blocks {@linkcode Repository.fetchDag} fetches at once. */
const FETCH_DAG_CONCURRENCY = 64;

const FORMAT = { kind: "ipfs-kit-embedded-repo", version: 1 };

/** The repository format's version, as `version()` reports it. */
export const REPO_VERSION: number = FORMAT.version;

/** How an operation holds the garbage-collection lock. */
export type LockMode = "shared" | "exclusive" | "none";

/** How {@linkcode Repository.run} runs an operation. */
export interface RunOptions {
  /** How it holds the garbage-collection lock. Default `"none"`. */
  lock?: LockMode;
  /** The caller's signal. */
  signal?: AbortSignal;
  /** An add's input: a `ReadableStream` never read is cancelled on failure. */
  input?: AddInput;
}

/** An open repository. */
export class Repository {
  /** The repository's directory. */
  readonly path: string;
  /** The blocks. */
  readonly blocks: FsBlockstore;
  /** The pins. */
  readonly pins: PinStore;
  /** The node's identity. */
  readonly identity: PeerIdentity;
  /** The MFS root. */
  readonly mfsRoot: MfsRoot;
  /** The node's network, when it has one: blocks missing here are fetched through it. */
  network: NodeNetwork | undefined;
  #lock: Deno.FsFile;
  #gcLock = new RwLock();
  #closed = false;

  private constructor(
    path: string,
    lock: Deno.FsFile,
    stores: { blocks: FsBlockstore; pins: PinStore; identity: PeerIdentity; mfsRoot: MfsRoot },
  ) {
    this.path = path;
    this.#lock = lock;
    this.blocks = stores.blocks;
    this.pins = stores.pins;
    this.identity = stores.identity;
    this.mfsRoot = stores.mfsRoot;
  }

  /**
   * Opens (creating) the repository at `path`. A new repository gets a new
   * Ed25519 identity; an existing one keeps its own.
   *
   * @param path The directory.
   * @param sync Whether writes are synced to disk before they count.
   * @param create When to create a repository (see `EmbeddedNodeOptions.create`).
   * @throws {RepoLockedError} Another node has the repository open.
   * @throws {RepoPathError} The path cannot hold a repository, or none is there to open.
   * @throws {InvalidInputError} The repository's format or identity file is damaged.
   */
  static async open(path: string, sync: boolean, create: RepoCreate): Promise<Repository> {
    await prepareDirectory(path, create);
    let lock: Deno.FsFile | undefined;
    try {
      lock = await lockFile(`${path}/repo.lock`);
    } catch (error) {
      throw pathError(error, path);
    }
    if (lock === undefined) {
      throw new RepoLockedError(
        `Cannot open repository: another node has it open: ${path}`,
        path,
      );
    }
    try {
      await checkFormat(path);
      const tmpDir = `${path}/tmp`;
      // Holding the lock: what is left in tmp is a crashed process's.
      await Deno.remove(tmpDir, { recursive: true }).catch(ignoreNotFound);
      await Deno.mkdir(tmpDir, { recursive: true });
      const blocks = await FsBlockstore.open({ dir: `${path}/blocks`, sync });
      const pins = await PinStore.open(`${path}/pins`, tmpDir, sync);
      await Deno.mkdir(`${path}/keys`, { recursive: true, mode: 0o700 });
      const identity = await loadIdentity(`${path}/keys/self.json`, tmpDir, sync);
      const mfsRoot = await MfsRoot.open(path, sync);
      return new Repository(path, lock, { blocks, pins, identity, mfsRoot });
    } catch (error) {
      lock.close();
      throw error;
    }
  }

  /** Whether it was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the stores and releases the lock. Idempotent. */
  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      this.blocks.close();
      this.#lock.close();
    }
  }

  /**
   * Reads a block from the blockstore or, when it is missing and the node
   * has a network, fetches it (verified, stored unpinned).
   *
   * @throws {NotFoundError} It is missing and cannot be fetched.
   */
  async getBlock(cid: CID, signal: AbortSignal | undefined): Promise<Uint8Array> {
    try {
      return await this.blocks.get(cid, { signal });
    } catch (error) {
      if (this.network === undefined || !(error instanceof NotFoundError)) throw error;
    }
    return await fetchBlock(this.blocks, this.network, cid, signal);
  }

  /**
   * With a network, fetches the blocks of the DAG below `root` that are not
   * local, level by level, {@linkcode FETCH_DAG_CONCURRENCY} at a time (what
   * a pin needs before it walks the DAG). Without one, does nothing.
   *
   * @throws {NotFoundError} A block could not be fetched in the network's time limit.
   */
  async fetchDag(root: CID, signal: AbortSignal): Promise<void> {
    if (this.network === undefined) return;
    const seen = new Set<string>();
    for (let level = [root]; level.length > 0;) {
      let below: CID[][];
      try {
        below = await mapConcurrent(level, async (cid) => {
          const key = blockKey(cid);
          if (seen.has(key)) return [];
          seen.add(key);
          if (cid.code === raw.code) {
            if (!(await this.blocks.has(cid, { signal }))) await this.getBlock(cid, signal);
            return [];
          }
          return linksOf(cid, await this.getBlock(cid, signal));
        }, { concurrency: FETCH_DAG_CONCURRENCY, signal });
      } catch (error) {
        // The first failure, not the group's wrapper: callers see NotFoundError and the like.
        throw error instanceof TaskGroupError ? error.errors[0] : error;
      }
      level = below.flat();
    }
  }

  /**
   * What a read of a file reads ahead from, when the node has a network
   * (`undefined` without one: local reads need no read-ahead).
   *
   * @param signal Cancels the read-ahead (the read's own signal).
   */
  readAhead(signal: AbortSignal | undefined): ReadAheadSource | undefined {
    if (this.network === undefined) return undefined;
    return {
      has: (cid, signal) => this.blocks.has(cid, { signal }),
      get: (cid, signal) => this.getBlock(cid, signal),
      fetch: (cid, signal, onVerified) => {
        if (this.network === undefined) return this.getBlock(cid, signal);
        return fetchBlock(this.blocks, this.network, cid, signal, onVerified);
      },
      window: READ_AHEAD_WINDOW,
      signal,
    };
  }

  /** @throws {ClosedResourceError} The repository is closed. */
  checkOpen(what: string): void {
    if (this.#closed) throw new ClosedResourceError(`Cannot ${what}: the node is closed`);
  }

  /**
   * Runs an operation in the runtime under `signal`, holding the
   * garbage-collection lock as `lock` says. A `ReadableStream` input that
   * was never read is cancelled on failure, so its source (a file, a
   * socket) is released.
   *
   * @param what The operation, for "Cannot <what>: the node is closed".
   * @param options The lock, the caller's signal, an add's input.
   * @param fn The operation; it gets the signal of the scope it runs in.
   * @returns What `fn` returns.
   */
  async run<T>(
    what: string,
    options: RunOptions,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const { lock = "none", signal, input } = options;
    try {
      this.checkOpen(what);
      return await withSignal(signal, async () => {
        await checkpoint();
        let permit: Permit | undefined;
        if (lock === "shared") permit = await this.#gcLock.acquireShared();
        else if (lock === "exclusive") permit = await this.#gcLock.acquireExclusive();
        try {
          this.checkOpen(what);
          // The innermost scope's signal: `signal`, and every scope around the call.
          return await fn(CancelScope.current().signal);
        } finally {
          permit?.release();
        }
      });
    } catch (error) {
      if (input instanceof ReadableStream && !input.locked) await input.cancel(error);
      throw error;
    }
  }

  /**
   * Checks that the repository works: a file is written, synced, read back
   * and removed in `tmp/`, and the block and pin directories are listed.
   *
   * @returns Why it does not work, or `undefined` when it does.
   * @throws {Error} What failed on the way.
   */
  async probe(): Promise<string | undefined> {
    const probe = `${this.path}/tmp/health-${crypto.randomUUID()}`;
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    try {
      const file = await Deno.open(probe, { write: true, createNew: true });
      try {
        await file.write(bytes);
        await file.syncData();
      } finally {
        file.close();
      }
      const back = await Deno.readFile(probe);
      if (!equals(back, bytes)) return "a file written to the repository read back different";
    } finally {
      await Deno.remove(probe).catch(() => {});
    }
    for (const dir of ["blocks", "pins"]) {
      for await (const _ of Deno.readDir(`${this.path}/${dir}`)) break;
    }
    return undefined;
  }
}

/**
 * When `EmbeddedNode.open` creates a repository: `"if-empty"` where the path is
 * missing or an empty directory, `"never"`, or `"force"` (also in a directory
 * of other files).
 */
export type RepoCreate = "if-empty" | "never" | "force";

const FORMAT_FILE = "ipfs-kit-repo.json";

/**
 * Makes sure `path` is a directory that holds a repository or may get one,
 * creating it where `create` allows.
 *
 * @throws {RepoPathError} It is a file or under one, not writable, a directory of
 * other files (unless `create` is `"force"`), or missing with `create` `"never"`.
 */
async function prepareDirectory(path: string, create: RepoCreate): Promise<void> {
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw pathError(error, path);
  }
  if (info === undefined) {
    if (create === "never") {
      throw new RepoPathError(`Cannot open repository: there is none at ${path}`, path, "missing");
    }
    try {
      await Deno.mkdir(path, { recursive: true });
    } catch (error) {
      throw pathError(error, path);
    }
    return;
  }
  if (!info.isDirectory) {
    throw new RepoPathError(
      `Cannot open repository: ${path} is a file, not a directory`,
      path,
      "not-a-directory",
    );
  }
  if (await exists(`${path}/${FORMAT_FILE}`)) return;
  if (create === "never") {
    throw new RepoPathError(`Cannot open repository: there is none at ${path}`, path, "missing");
  }
  if (create === "force") return;
  try {
    for await (const _ of Deno.readDir(path)) {
      throw new RepoPathError(
        `Cannot open repository: ${path} holds other files and no repository ` +
          '(to make one there anyway: create: "force", or `kit init --force`)',
        path,
        "not-a-repository",
      );
    }
  } catch (error) {
    throw pathError(error, path);
  }
}

/** The typed error for a file-system failure on the repository's path. */
function pathError(error: unknown, path: string): Error {
  if (error instanceof RepoPathError) return error;
  if (isNotWritable(error)) {
    return new RepoPathError(
      `Cannot open repository: ${path} is not writable: ${messageOf(error)}`,
      path,
      "not-writable",
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.AlreadyExists) {
    return new RepoPathError(
      `Cannot open repository: ${path} lies under a file, not a directory`,
      path,
      "not-a-directory",
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Checks the format file, writing it into a new repository. */
async function checkFormat(repo: string): Promise<void> {
  const file = `${repo}/${FORMAT_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.writeTextFile(file, JSON.stringify(FORMAT) + "\n");
    return;
  }
  let format: { kind?: unknown; version?: unknown };
  try {
    format = JSON.parse(text);
  } catch {
    format = {};
  }
  if (format.kind !== FORMAT.kind || format.version !== FORMAT.version) {
    throw new InvalidInputError(
      `Cannot open repository: unsupported format in ${file}: received ${text.trim()}`,
    );
  }
}
