/**
 * The embedded IPFS node: no daemon, a repository on disk, Kubo-identical
 * CIDs. Files and directories are chunked and encoded by
 * `ipfs-unixfs-importer` and resolved by `ipfs-unixfs-exporter`; IPLD nodes
 * by `@ipld/dag-pb`, `@ipld/dag-cbor` and `@ipld/dag-json`. Blocks live in a
 * durable one-file-per-block store; pins, a peer identity and a
 * readers-writer lock between adds and garbage collection complete it.
 *
 * @module
 */

import { exporter } from "npm:ipfs-unixfs-exporter@16.2.2";
import { type ImportCandidate, importer, type ImportResult } from "npm:ipfs-unixfs-importer@17.1.1";
import { base64pad } from "npm:multiformats@14.0.5/bases/base64";
import { equals } from "npm:multiformats@14.0.5/bytes";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import * as Digest from "npm:multiformats@14.0.5/hashes/digest";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpoint, checkpointIfCancelled, currentTime } from "../runtime/checkpoint.ts";
import { ClosedResourceError } from "../runtime/errors.ts";
import type { Permit } from "../runtime/permit.ts";
import { Semaphore } from "../runtime/semaphore.ts";
import { withSignal } from "../runtime/timeouts.ts";
import { lockFile } from "../runtime/lock_file.ts";
import { blockToPut, dagNodeToPut, linksOf, missingFrom, walkDag } from "./_codecs.ts";
import { resolvePath, splitPath } from "./_dag_path.ts";
import { writeTree } from "./_fs_export.ts";
import { checkCount, checkFlag, messageOf, pathString } from "./_arguments.ts";
import { parseCid } from "./parse_cid.ts";
import { scanPath, toEntries } from "./_fs_import.ts";
import { blockKey, FsBlockstore, ignoreNotFound } from "./_fs_blockstore.ts";
import { loadIdentity, type PeerIdentity } from "./_identity.ts";
import { importerOptions, type ResolvedLayout, resolveLayout } from "./_importer_options.ts";
import { byteSource } from "./_input.ts";
import { PinStore } from "./_pin_store.ts";
import { RwLock } from "./_rw_lock.ts";
import { directoryEntries, inspect } from "./_unixfs_node.ts";
import { type GetBlock, openFile, readRange } from "./_unixfs_reader.ts";
import { unsupportedNetworkApis } from "./_unsupported.ts";
import type {
  AddAllEntry,
  AddAllOptions,
  AddAllResult,
  AddInput,
  AddOptions,
  AddPathOptions,
  AddResult,
  BlockApi,
  BlockPutOptions,
  BlockRmOptions,
  BlockStat,
  CatOptions,
  CidLike,
  ContentStore,
  DagApi,
  DagGetOptions,
  DagGetResult,
  DagPutOptions,
  DagResolveResult,
  GetOptions,
  GetResult,
  HealthResult,
  IdResult,
  LsEntry,
  LsOptions,
  NameApi,
  PinAddOptions,
  PinApi,
  PinEntry,
  PinLsOptions,
  PinRmOptions,
  PinType,
  PubsubApi,
  RepoApi,
  RepoStat,
  RoutingApi,
  SignalOptions,
  StatOptions,
  StatResult,
  SwarmApi,
  VersionResult,
} from "./content_store.ts";
import {
  InvalidCidError,
  InvalidInputError,
  NotFoundError,
  PinnedError,
  RepoLockedError,
} from "./errors.ts";

const REPO_FORMAT = { kind: "ipfs-kit-embedded-repo", version: 1 };

/** The kit's version, reported by `version()` and `id()`. */
const KIT_VERSION = "0.1.0";

/**
 * How many block writes an add keeps in flight: each holds one block's bytes
 * and an open file until its sync and rename are done.
 */
const WRITES_IN_FLIGHT = 32;

/** How an operation holds the garbage-collection lock. */
type LockMode = "shared" | "exclusive" | "none";

/** Options for {@linkcode EmbeddedNode.open}. */
export interface EmbeddedNodeOptions extends SignalOptions {
  /** The repository directory; created if missing. One node at a time may open it. */
  repo: string;
  /**
   * Sync every block file and the directories holding them to disk before an
   * operation returns, so a crash loses nothing that was acknowledged.
   * Default `true`; `false` trades durability for speed.
   */
  sync?: boolean;
}

/**
 * An IPFS node inside the process, with no daemon: files and directories
 * (UnixFS, the CIDs Kubo gives for the same bytes and options), pins, raw
 * blocks, IPLD nodes, garbage collection and a persistent peer identity,
 * over a repository on disk.
 *
 * The repository holds `blocks/` (one file per block, Kubo's flatfs
 * layout, each written to a temporary file in its shard and renamed into
 * place), `pins/` (one file per pin), `keys/self.json` (the Ed25519
 * identity, in the shape of Kubo's `Identity` config), `tmp/` (for the pin
 * and key files, emptied on open) and a lock file: a second `open` of the
 * same repository fails with
 * {@linkcode RepoLockedError} until the first node is closed.
 *
 * The node is offline: a block that is not in the repository is reported
 * missing at once ({@linkcode NotFoundError}), and `name`, `pubsub`, `swarm`
 * and `routing` throw {@linkcode NotSupportedError}.
 *
 * Garbage collection ({@linkcode EmbeddedNode.repo}`.gc()`) holds a lock
 * exclusively that adds, puts and pins hold shared: the blocks of an add in
 * progress are never collected before it pins them.
 *
 * @example Add and read back
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add("hello world\n");
 * assert.equal(cid.toString(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
 * const text = await new Response(node.cat(cid)).text();
 * assert.equal(text, "hello world\n");
 * ```
 *
 * @example A directory, CIDv1
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const entries = await node.addAll([
 *   { path: "site/index.html", content: "<h1>hi</h1>" },
 *   { path: "site/img" },
 * ], { cidVersion: 1 });
 * const root = entries.at(-1)!;
 * assert.equal(root.path, "site");
 * const html = await new Response(node.cat(`${root.cid}/index.html`)).text();
 * assert.equal(html, "<h1>hi</h1>");
 * const names = (await node.ls(root.cid)).map((entry) => entry.name);
 * assert.equal(names.join(), "img,index.html");
 * ```
 *
 * @example Pins and garbage collection
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const kept = await node.add("kept");
 * const dropped = await node.add("dropped", { pin: false });
 * const removed = await node.repo.gc();
 * assert.equal(removed.length, 1);
 * assert(await node.block.has(kept.cid));
 * assert(!(await node.block.has(dropped.cid)));
 * ```
 */
export class EmbeddedNode implements ContentStore {
  #repo: string;
  #lock: Deno.FsFile;
  #blocks: FsBlockstore;
  #pins: PinStore;
  #identity: PeerIdentity;
  #gcLock = new RwLock();
  #closed = false;
  #get: GetBlock;

  /** Raw blocks, as Kubo's `ipfs block` commands. */
  readonly block: BlockApi;
  /** Pins, as Kubo's `ipfs pin` commands: recursive and direct. */
  readonly pin: PinApi;
  /** IPLD nodes (dag-cbor, dag-json, dag-pb, raw), as Kubo's `ipfs dag` commands. */
  readonly dag: DagApi;
  /** Garbage collection and statistics, as Kubo's `ipfs repo` commands. */
  readonly repo: RepoApi;
  /** IPNS: not supported by the embedded node (every call throws `NotSupportedError`). */
  readonly name: NameApi;
  /** Pubsub: not supported by the embedded node (every call throws `NotSupportedError`). */
  readonly pubsub: PubsubApi;
  /** Swarm: not supported by the embedded node (every call throws `NotSupportedError`). */
  readonly swarm: SwarmApi;
  /** Routing: not supported by the embedded node (every call throws `NotSupportedError`). */
  readonly routing: RoutingApi;

  private constructor(
    repo: string,
    lock: Deno.FsFile,
    blocks: FsBlockstore,
    pins: PinStore,
    identity: PeerIdentity,
  ) {
    this.#repo = repo;
    this.#lock = lock;
    this.#blocks = blocks;
    this.#pins = pins;
    this.#identity = identity;
    this.#get = (cid) => blocks.get(cid);
    this.block = {
      get: (cid, options) => this.#blockGet(cid, options),
      put: (bytes, options) => this.#blockPut(bytes, options),
      has: (cid, options) => this.#blockHas(cid, options),
      stat: (cid, options) => this.#blockStat(cid, options),
      rm: (cid, options) => this.#blockRm(cid, options),
    };
    this.pin = {
      add: (path, options) => this.#pinAdd(path, options),
      rm: (path, options) => this.#pinRm(path, options),
      ls: (options) => this.#pinLs(options),
    };
    this.dag = {
      put: (value, options) => this.#dagPut(value, options),
      get: (path, options) => this.#dagGet(path, options),
      resolve: (path, options) => this.#dagResolve(path, options),
    };
    this.repo = {
      gc: (options) => this.#gc(options),
      stat: (options) => this.#repoStat(options),
    };
    const network = unsupportedNetworkApis("embedded");
    this.name = network.name;
    this.pubsub = network.pubsub;
    this.swarm = network.swarm;
    this.routing = network.routing;
  }

  /**
   * Opens (creating) a repository. A new repository gets a new Ed25519
   * identity; an existing one keeps its own.
   *
   * @param options The repository path, durability, a signal.
   * @returns The node; close it with `close()` or `await using`.
   * @throws {RepoLockedError} Another node has the repository open.
   * @throws {InvalidInputError} The repository's format or identity file is damaged.
   */
  static open(options: EmbeddedNodeOptions): Promise<EmbeddedNode> {
    return withSignal(options?.signal, async () => {
      const repo = options?.repo;
      if (typeof repo !== "string" || repo === "") {
        throw new InvalidInputError(
          `Cannot open repository: repo must be a non-empty path: received ${typeof repo}`,
        );
      }
      const sync = options.sync ?? true;
      await checkpoint();
      await Deno.mkdir(repo, { recursive: true });
      const lock = await lockFile(`${repo}/repo.lock`);
      if (lock === undefined) {
        throw new RepoLockedError(
          `Cannot open repository: another node has it open: ${repo}`,
          repo,
        );
      }
      try {
        await checkFormat(repo);
        const tmpDir = `${repo}/tmp`;
        // Holding the lock: what is left in tmp is a crashed process's.
        await Deno.remove(tmpDir, { recursive: true }).catch(ignoreNotFound);
        await Deno.mkdir(tmpDir, { recursive: true });
        const blocks = await FsBlockstore.open({ dir: `${repo}/blocks`, sync });
        const pins = await PinStore.open(`${repo}/pins`, tmpDir, sync);
        await Deno.mkdir(`${repo}/keys`, { recursive: true, mode: 0o700 });
        const identity = await loadIdentity(`${repo}/keys/self.json`, tmpDir, sync);
        return new EmbeddedNode(repo, lock, blocks, pins, identity);
      } catch (error) {
        lock.close();
        throw error;
      }
    });
  }

  /** The repository's path. */
  get repoPath(): string {
    return this.#repo;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds one file: chunks it, builds the DAG, stores its blocks and (unless
   * `pin: false`) pins the root.
   *
   * @param input The content.
   * @param options Kubo's layout options, pinning, progress, a signal.
   * @returns The root CID and the DAG's cumulative size.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const { cid, size } = await node.add(new Uint8Array(1000), { cidVersion: 1 });
   * assert(cid.version === 1 && size === 1000);
   * ```
   */
  add(input: AddInput, options: AddOptions = {}): Promise<AddResult> {
    return this.#run("add", "shared", input, options.signal, async (signal) => {
      const layout = resolveLayout(options, "add");
      const pin = checkFlag(options.pin, true, "add", "pin");
      const results = await this.#import(
        (inputSignal) => [{
          content: byteSource(input, "", options.onProgress, "add", inputSignal),
        }],
        layout,
        signal,
      );
      const root = results.at(-1)!;
      if (pin) await this.#pins.set(root.cid, "recursive");
      await this.#blocks.flush();
      return { cid: root.cid, size: Number(root.size) };
    });
  }

  /**
   * Adds files and directories, as `ipfs add -r`. Parents are created for
   * every path; each top-level entry (or, with `wrapWithDirectory`, the
   * wrapping directory) is pinned unless `pin: false`.
   *
   * @param entries Paths with content (files) or without (directories).
   * @param options Kubo's layout options, wrapping, pinning, progress, a signal.
   * @returns Every entry created, parents after children, roots last.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const results = await node.addAll([{ path: "a.txt", content: "a" }], {
   *   wrapWithDirectory: true,
   * });
   * assert(results.map((r) => r.path).join() === "a.txt,");
   * ```
   */
  addAll(
    entries: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
    options: AddAllOptions = {},
  ): Promise<AddAllResult[]> {
    return this.#run("add", "shared", undefined, options.signal, (signal) => {
      if (
        entries === null || typeof entries !== "object" ||
        !(Symbol.iterator in entries || Symbol.asyncIterator in entries)
      ) {
        throw new InvalidInputError(
          `Cannot add: entries must be an iterable of { path, content? }: received ${typeof entries}`,
        );
      }
      return this.#addEntries(() => entries, options, signal);
    });
  }

  /**
   * Adds a file or a directory tree from the local file system, as
   * `ipfs add -r <path>`: entries are named from the path's last component.
   * The tree is scanned before anything is written, so a missing or
   * unreadable entry fails the add with nothing stored; files are then read
   * one at a time, in chunks.
   *
   * @param path A file or a directory.
   * @param options As {@linkcode EmbeddedNode.addAll}, plus hidden files and symlinks.
   * @returns Every entry created, parents after children, the root last.
   * @throws {NotFoundError} `path` does not exist.
   * @throws {InvalidInputError} Something cannot be read or is not a file or directory.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * const dir = await Deno.makeTempDir();
   * await Deno.mkdir(`${dir}/site`);
   * await Deno.writeTextFile(`${dir}/site/index.html`, "<h1>hi</h1>");
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const results = await node.addPath(`${dir}/site`, { cidVersion: 1 });
   * assert(results.map((r) => r.path).join() === "site/index.html,site");
   * ```
   */
  addPath(path: string, options: AddPathOptions = {}): Promise<AddAllResult[]> {
    return this.#run("add", "shared", undefined, options.signal, async (signal) => {
      const scanned = await scanPath(path, {
        hidden: checkFlag(options.hidden, false, "add", "hidden"),
        followSymlinks: checkFlag(options.followSymlinks, false, "add", "followSymlinks"),
      }, checkpointIfCancelled);
      return await this.#addEntries(
        (inputSignal) => toEntries(scanned, inputSignal),
        options,
        signal,
      );
    });
  }

  /**
   * Writes a file or a directory tree to the local file system, as
   * `ipfs get -o <target>`. The tree is written beside `target` and renamed
   * into place when complete, so a failed or cancelled `get` leaves nothing
   * at `target`.
   *
   * @param path A CID, or a CID or `/ipfs/` path with names below it.
   * @param target Where to write; must not exist; its parent must.
   * @param options A signal.
   * @returns What was written.
   * @throws {NotFoundError} A block is missing.
   * @throws {InvalidInputError} `target` exists, or a name in the DAG is unsafe
   * (empty, `.`, `..`, or holding `/`, `\` or NUL), or the DAG is not UnixFS.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const [, dir] = await node.addAll([{ path: "d/a.txt", content: "a" }]);
   * const out = `${await Deno.makeTempDir()}/d`;
   * const result = await node.get(dir.cid, out);
   * assert(result.files === 1 && result.directories === 1);
   * assert.equal(await Deno.readTextFile(`${out}/a.txt`), "a");
   * ```
   */
  get(path: CidLike, target: string, options: GetOptions = {}): Promise<GetResult> {
    return this.#run("get", "none", undefined, options.signal, async (signal) => {
      const cid = await this.#resolve(path, "get", signal);
      const get: GetBlock = (cid) => this.#blocks.get(cid, { signal });
      return await writeTree(get, cid, target, signal);
    });
  }

  /**
   * Lists a directory, as `ipfs ls`: each entry's name, CID, type and size
   * (the file size for files, `0` for directories). For a file, the one
   * entry for the file itself.
   *
   * @param path A CID, or a CID or `/ipfs/` path with names below it.
   * @param options A signal.
   * @returns The entries, in the directory's order (sorted by name).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const results = await node.addAll([{ path: "d/a.txt", content: "abc" }, { path: "d/e" }]);
   * const entries = await node.ls(results.at(-1)!.cid);
   * assert(entries.map((e) => `${e.name}:${e.type}:${e.size}`).join() ===
   *   "a.txt:file:3,e:directory:0");
   * ```
   */
  ls(path: CidLike, options: LsOptions = {}): Promise<LsEntry[]> {
    return this.#run("list", "none", undefined, options.signal, async (signal) => {
      const cid = await this.#resolve(path, "list", signal);
      const get: GetBlock = (cid) => this.#blocks.get(cid, { signal });
      const node = await inspect(get, cid, "list");
      const base = pathString(path);
      if (node.type !== "directory") {
        const name = base.includes("/") ? base.slice(base.lastIndexOf("/") + 1) : base;
        return [{ name, path: base, cid, type: node.type, size: node.size }];
      }
      const entries: LsEntry[] = [];
      for await (const entry of directoryEntries(get, node, signal)) {
        checkpointIfCancelled();
        const child = await inspect(get, entry.cid, "list");
        entries.push({
          name: entry.name,
          path: `${base}/${entry.name}`,
          cid: entry.cid,
          type: child.type,
          size: child.size,
        });
      }
      return entries;
    });
  }

  /**
   * A UnixFS node's type and sizes, as `ipfs files stat /ipfs/<path>`.
   *
   * @param path A CID, or a CID or `/ipfs/` path with names below it.
   * @param options A signal.
   * @returns The type, the content size, the DAG's cumulative size and the root's link count.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const { cid } = await node.add("hello world\n");
   * const stat = await node.stat(cid);
   * assert(stat.type === "file" && stat.size === 12 && stat.cumulativeSize === 20);
   * ```
   */
  stat(path: CidLike, options: StatOptions = {}): Promise<StatResult> {
    return this.#run("stat", "none", undefined, options.signal, async (signal) => {
      const cid = await this.#resolve(path, "stat", signal);
      const node = await inspect((cid) => this.#blocks.get(cid, { signal }), cid, "stat");
      return {
        cid,
        type: node.type,
        size: node.size,
        cumulativeSize: node.cumulativeSize,
        blocks: node.blocks,
      };
    });
  }

  /**
   * The node's identity: its peer ID (from the Ed25519 key kept in the
   * repository), its public key, and no addresses or protocols (it has no
   * network).
   *
   * @param options A signal.
   * @returns The identity.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const { id } = await node.id();
   * assert(id.startsWith("12D3KooW"));
   * ```
   */
  id(options: SignalOptions = {}): Promise<IdResult> {
    return this.#run("read identity", "none", undefined, options.signal, () => {
      return Promise.resolve({
        id: this.#identity.id,
        publicKey: base64pad.baseEncode(this.#identity.publicKey),
        addresses: [],
        agentVersion: `ipfs-kit/${KIT_VERSION}`,
        protocols: [],
      });
    });
  }

  /**
   * The kit's version and the repository format's.
   *
   * @param options A signal.
   * @returns The versions.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * assert.equal((await node.version()).backend, "embedded");
   * ```
   */
  version(options: SignalOptions = {}): Promise<VersionResult> {
    return this.#run("read version", "none", undefined, options.signal, () => {
      return Promise.resolve({
        version: KIT_VERSION,
        repo: String(REPO_FORMAT.version),
        system: `deno/${Deno.version.deno} ${Deno.build.os}/${Deno.build.arch}`,
        backend: "embedded" as const,
      });
    });
  }

  /**
   * Checks that the repository works: a file is written, synced, read back
   * and removed in `tmp/`, and the block and pin directories are listed.
   * Never throws for an unhealthy node (a closed one is not ok); an aborted
   * signal still rejects with its reason.
   *
   * @param options A signal.
   * @returns Whether the node is ok, and why not.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * assert((await node.health()).ok);
   * ```
   */
  health(options: SignalOptions = {}): Promise<HealthResult> {
    return withSignal(options.signal, async () => {
      const start = currentTime();
      const result = (reason?: string): HealthResult => ({
        ok: reason === undefined,
        backend: "embedded",
        latencyMs: currentTime() - start,
        ...(reason === undefined ? {} : { reason }),
      });
      if (this.#closed) return result("the node is closed");
      await checkpoint();
      try {
        const probe = `${this.#repo}/tmp/health-${crypto.randomUUID()}`;
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
          if (!equals(back, bytes)) {
            return result("a file written to the repository read back different");
          }
        } finally {
          await Deno.remove(probe).catch(() => {});
        }
        for (const dir of ["blocks", "pins"]) {
          for await (const _ of Deno.readDir(`${this.#repo}/${dir}`)) break;
        }
      } catch (error) {
        checkpointIfCancelled();
        return result(`the repository does not work: ${messageOf(error)}`);
      }
      if (this.#closed) return result("the node is closed");
      return result();
    });
  }

  /**
   * Streams a file's bytes, reading one block at a time as the stream is
   * read. Errors (a missing block, a directory) surface on the stream; bad
   * options throw at once.
   *
   * @param path A CID, or a CID or `/ipfs/` path with names below it.
   * @param options A byte range and a signal for the whole read.
   * @returns The bytes.
   *
   * @example Read a range
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const { cid } = await node.add("0123456789");
   * const text = await new Response(node.cat(cid, { offset: 2, length: 3 })).text();
   * assert.equal(text, "234");
   * ```
   */
  cat(path: CidLike, options: CatOptions = {}): ReadableStream<Uint8Array> {
    this.#checkOpen("cat");
    const offset = checkCount(options.offset ?? 0, "offset");
    const length = options.length === undefined ? undefined : checkCount(options.length, "length");
    const signal = options.signal;
    let current: AbortSignal | undefined;
    const get: GetBlock = (cid) => this.#blocks.get(cid, { signal: current });
    const resolve = (path: CidLike) => this.#resolve(path, "cat", current);
    async function* contents(): AsyncGenerator<Uint8Array, void, undefined> {
      const root = await openFile(get, await resolve(path), "cat");
      const start = Math.min(offset, root.size);
      const end = length === undefined ? root.size : Math.min(root.size, start + length);
      yield* readRange(get, root, start, end);
    }
    let iterator: AsyncGenerator<Uint8Array, void, undefined> | undefined;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        iterator ??= contents();
        let result: IteratorResult<Uint8Array, void>;
        try {
          result = await withSignal(signal, async () => {
            await checkpoint();
            this.#checkOpen("cat");
            current = CancelScope.current().signal;
            try {
              return await iterator!.next();
            } finally {
              current = undefined;
            }
          });
        } catch (error) {
          await iterator.return();
          throw error;
        }
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
      cancel: async () => {
        await iterator?.return();
      },
    }, { highWaterMark: 0 });
  }

  /** Closes the node and releases the repository. Idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#blocks.close();
      this.#lock.close();
    }
    return Promise.resolve();
  }

  /** Closes the node, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #blockGet(cid: CidLike, options: SignalOptions = {}): Promise<Uint8Array> {
    return await this.#run("get block", "none", undefined, options.signal, (signal) => {
      return this.#blocks.get(parseCid(cid, "get block"), { signal });
    });
  }

  async #blockPut(bytes: Uint8Array, options: BlockPutOptions = {}): Promise<CID> {
    return await this.#run("put block", "shared", undefined, options.signal, async (signal) => {
      const { cid, pin } = await blockToPut(bytes, options, "put block");
      await this.#blocks.put(cid, bytes, { signal });
      await this.#blocks.flush();
      if (pin) await this.#pins.set(cid, "direct");
      return cid;
    });
  }

  async #blockHas(cid: CidLike, options: SignalOptions = {}): Promise<boolean> {
    return await this.#run("check block", "none", undefined, options.signal, (signal) => {
      return this.#blocks.has(parseCid(cid, "check block"), { signal });
    });
  }

  async #blockStat(cid: CidLike, options: SignalOptions = {}): Promise<BlockStat> {
    return await this.#run("stat block", "none", undefined, options.signal, async (signal) => {
      const parsed = parseCid(cid, "stat block");
      return { cid: parsed, size: await this.#blocks.size(parsed, { signal }) };
    });
  }

  async #blockRm(cid: CidLike, options: BlockRmOptions = {}): Promise<void> {
    await this.#run("remove block", "exclusive", undefined, options.signal, async (signal) => {
      const parsed = parseCid(cid, "remove block");
      const pinnedBy = await this.#pinnedBy(parsed, signal);
      if (pinnedBy !== undefined) {
        throw new PinnedError(
          `Cannot remove block: it is pinned: ${parsed}${
            blockKey(pinnedBy) === blockKey(parsed) ? "" : ` is inside pinned ${pinnedBy}`
          }`,
          parsed.toString(),
        );
      }
      const removed = await this.#blocks.delete(parsed, { signal });
      if (!removed && !options.force) {
        throw new NotFoundError(`Cannot remove block: not found: ${parsed}`, parsed.toString());
      }
      await this.#blocks.flush();
    });
  }

  /**
   * The pin that holds the block of `cid` (same multihash): a direct pin of
   * it, or a recursive pin whose DAG holds it. Missing blocks are skipped.
   */
  async #pinnedBy(cid: CID, signal: AbortSignal): Promise<CID | undefined> {
    const target = blockKey(cid);
    const pins = await this.#pins.list();
    for (const pin of pins) if (blockKey(pin.cid) === target) return pin.cid;
    for (const pin of pins) {
      if (pin.type !== "recursive") continue;
      let found = false;
      const seen = new Set<string>();
      await walkDag(pin.cid, {
        read: (cid) => this.#blocks.get(cid, { signal }),
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

  async #pinAdd(path: CidLike, options: PinAddOptions = {}): Promise<CID> {
    return await this.#run("pin", "shared", undefined, options.signal, async (signal) => {
      const recursive = checkFlag(options.recursive, true, "pin", "recursive");
      const cid = await this.#resolve(path, "pin", signal);
      const existing = await this.#pins.get(cid);
      if (recursive) {
        if (existing !== "recursive") {
          await this.#checkComplete(cid, "pin", signal);
          await this.#pins.set(cid, "recursive");
        }
        return cid;
      }
      if (existing === "recursive") {
        throw new PinnedError(`Cannot pin: ${cid} is already pinned recursively`, cid.toString());
      }
      if (!(await this.#blocks.has(cid, { signal }))) {
        throw new NotFoundError(`Cannot pin: block not found: ${cid}`, cid.toString());
      }
      if (existing !== "direct") await this.#pins.set(cid, "direct");
      return cid;
    });
  }

  async #pinRm(path: CidLike, options: PinRmOptions = {}): Promise<CID> {
    return await this.#run("unpin", "shared", undefined, options.signal, async (signal) => {
      const recursive = checkFlag(options.recursive, true, "unpin", "recursive");
      const cid = await this.#resolve(path, "unpin", signal);
      const existing = await this.#pins.get(cid);
      if (existing === undefined) {
        throw new NotFoundError(
          `Cannot unpin: not pinned or pinned indirectly: ${cid}`,
          cid.toString(),
        );
      }
      if (existing === "recursive" && !recursive) {
        throw new PinnedError(`Cannot unpin: ${cid} is pinned recursively`, cid.toString());
      }
      await this.#pins.remove(cid);
      return cid;
    });
  }

  async #pinLs(options: PinLsOptions = {}): Promise<PinEntry[]> {
    return await this.#run("list pins", "none", undefined, options.signal, async (signal) => {
      const type = options.type ?? "all";
      if (!["all", "recursive", "direct", "indirect"].includes(type)) {
        throw new InvalidInputError(
          `Cannot list pins: type must be all, recursive, direct or indirect: received ${
            String(type)
          }`,
        );
      }
      const pins = await this.#pins.list();
      const wanted = (kind: PinType) => type === "all" || type === kind;
      const indirect = async (): Promise<Map<string, CID>> => {
        const found = new Map<string, CID>();
        for (const pin of pins) {
          if (pin.type !== "recursive") continue;
          const roots = blockKey(pin.cid);
          await walkDag(pin.cid, {
            read: (cid) => this.#blocks.get(cid, { signal }),
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
      };
      if (options.paths !== undefined) {
        if (!Array.isArray(options.paths)) {
          throw new InvalidInputError(
            `Cannot list pins: paths must be an array: received ${typeof options.paths}`,
          );
        }
        const out: PinEntry[] = [];
        let below: Map<string, CID> | undefined;
        for (const path of options.paths) {
          const cid = await this.#resolve(path, "list pins", signal);
          const key = blockKey(cid);
          const stored = pins.find((pin) => blockKey(pin.cid) === key);
          let kind: PinType | undefined;
          if (stored !== undefined && wanted(stored.type)) kind = stored.type;
          else if (wanted("indirect")) {
            below ??= await indirect();
            if (below.has(key)) kind = "indirect";
          }
          if (kind === undefined || !wanted(kind)) {
            below ??= await indirect();
            if (below.has(key) || (stored !== undefined && !wanted(stored.type))) {
              kind = below.has(key) ? "indirect" : undefined;
            }
          }
          if (kind === undefined) {
            throw new NotFoundError(
              `Cannot list pins: ${cid} is not pinned${type === "all" ? "" : ` ${type}`}`,
              cid.toString(),
            );
          }
          out.push({ cid, type: kind });
        }
        return out;
      }
      const out: PinEntry[] = [];
      for (const pin of pins) if (wanted(pin.type)) out.push({ cid: pin.cid, type: pin.type });
      if (wanted("indirect")) {
        for (const cid of (await indirect()).values()) out.push({ cid, type: "indirect" });
      }
      return out;
    });
  }

  /** Checks that every block of the DAG below `cid` is in the store. */
  async #checkComplete(cid: CID, what: string, signal: AbortSignal): Promise<void> {
    const seen = new Set<string>();
    try {
      await walkDag(cid, {
        read: (cid) => this.#blocks.get(cid, { signal }),
        has: (cid) => this.#blocks.has(cid, { signal }),
        visit: (cid) => {
          const key = blockKey(cid);
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        },
        checkpoint: checkpointIfCancelled,
      });
    } catch (error) {
      if (error instanceof NotFoundError) throw missingFrom(what, cid, error);
      throw error;
    }
  }

  async #dagPut(value: unknown, options: DagPutOptions = {}): Promise<CID> {
    return await this.#run("put dag node", "shared", undefined, options.signal, async (signal) => {
      const what = "put dag node";
      const { cid, bytes, pin } = await dagNodeToPut(value, options, what);
      if (pin) {
        // Every link must be present before the pin is written (and the block stored).
        const seen = new Set<string>([blockKey(cid)]);
        for (const link of linksOf(cid, bytes)) {
          if (seen.has(blockKey(link))) continue;
          await this.#checkComplete(link, what, signal);
        }
      }
      await this.#blocks.put(cid, bytes, { signal });
      await this.#blocks.flush();
      if (pin) await this.#pins.set(cid, "recursive");
      return cid;
    });
  }

  async #dagGet(path: CidLike, options: DagGetOptions = {}): Promise<DagGetResult> {
    return await this.#run("get dag node", "none", undefined, options.signal, async (signal) => {
      const { root, segments } = splitPath(path, options.path, "get dag node");
      const resolved = await resolvePath(
        root,
        segments,
        (cid) => this.#blocks.get(cid, { signal }),
        "get dag node",
        checkpointIfCancelled,
      );
      return { value: resolved.value, remainderPath: "" };
    });
  }

  async #dagResolve(path: CidLike, options: SignalOptions = {}): Promise<DagResolveResult> {
    return await this.#run(
      "resolve dag path",
      "none",
      undefined,
      options.signal,
      async (signal) => {
        const { root, segments } = splitPath(path, undefined, "resolve dag path");
        const resolved = await resolvePath(
          root,
          segments,
          (cid) => this.#blocks.get(cid, { signal }),
          "resolve dag path",
          checkpointIfCancelled,
          false,
        );
        return { cid: resolved.cid, remainderPath: resolved.remainderPath };
      },
    );
  }

  /**
   * Mark and sweep, holding the lock exclusively: marks every block a pin
   * holds (a recursive pin's whole DAG, a direct pin's block), then deletes
   * the rest. A missing block below a recursive pin aborts before anything
   * is deleted.
   */
  async #gc(options: SignalOptions = {}): Promise<CID[]> {
    return await this.#run(
      "collect garbage",
      "exclusive",
      undefined,
      options.signal,
      async (signal) => {
        const marked = new Set<string>();
        for (const pin of await this.#pins.list()) {
          if (pin.type === "direct") {
            marked.add(blockKey(pin.cid));
            continue;
          }
          try {
            await walkDag(pin.cid, {
              read: (cid) => this.#blocks.get(cid, { signal }),
              has: (cid) => this.#blocks.has(cid, { signal }),
              visit: (cid) => {
                const key = blockKey(cid);
                if (marked.has(key)) return false;
                marked.add(key);
                return true;
              },
              checkpoint: checkpointIfCancelled,
            });
          } catch (error) {
            if (error instanceof NotFoundError) {
              throw missingFrom("collect garbage", pin.cid, error);
            }
            throw error;
          }
        }
        const removed: CID[] = [];
        try {
          // Exclusive: no put is in flight, so any temporary file is a crash's.
          await this.#blocks.sweep();
          for await (const block of this.#blocks.entries()) {
            checkpointIfCancelled();
            if (marked.has(block.key)) continue;
            if (await this.#blocks.deleteKey(block.key)) {
              removed.push(CID.createV1(raw.code, Digest.decode(block.multihash)));
            }
          }
        } finally {
          await this.#blocks.flush();
        }
        return removed;
      },
    );
  }

  async #repoStat(options: SignalOptions = {}): Promise<RepoStat> {
    return await this.#run("stat repository", "none", undefined, options.signal, async () => {
      let numObjects = 0;
      let repoSize = 0;
      for await (const block of this.#blocks.entries()) {
        checkpointIfCancelled();
        numObjects++;
        repoSize += block.size;
      }
      return { numObjects, repoSize, repoPath: this.#repo };
    });
  }

  /**
   * Runs an operation in the runtime under `signal`, holding the
   * garbage-collection lock as `mode` says. A `ReadableStream` input that
   * was never read is cancelled on failure, so its source (a file, a
   * socket) is released.
   */
  async #run<T>(
    what: string,
    mode: LockMode,
    input: AddInput | undefined,
    signal: AbortSignal | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    try {
      this.#checkOpen(what);
      return await withSignal(signal, async () => {
        await checkpoint();
        let permit: Permit | undefined;
        if (mode === "shared") permit = await this.#gcLock.acquireShared();
        else if (mode === "exclusive") permit = await this.#gcLock.acquireExclusive();
        try {
          this.#checkOpen(what);
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

  /** Imports entries (as `addAll`), then pins the roots. Runs inside `#run`. */
  async #addEntries(
    makeEntries: (
      inputSignal: AbortSignal,
    ) => Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
    options: AddAllOptions,
    signal: AbortSignal,
  ): Promise<AddAllResult[]> {
    const layout = resolveLayout(options, "add");
    const pin = checkFlag(options.pin, true, "add", "pin");
    const directories: string[] = [];
    const results = await this.#import(
      (inputSignal) =>
        toCandidates(makeEntries(inputSignal), directories, options.onProgress, inputSignal),
      layout,
      signal,
    );
    const out: AddAllResult[] = results.map((entry) => ({
      path: entry.path ?? entry.cid.toString(),
      cid: entry.cid,
      size: Number(entry.size),
    }));
    await this.#addEmptyDirectories(out, directories, layout.wrapWithDirectory);
    if (pin) {
      const roots = layout.wrapWithDirectory
        ? out.filter((entry) => entry.path === "")
        : out.filter((entry) => !entry.path.includes("/"));
      for (const root of roots) await this.#pins.set(root.cid, "recursive");
    }
    await this.#blocks.flush();
    return out;
  }

  /**
   * Runs the importer over the candidates `makeCandidates` gives. A block
   * write (create, write, sync, rename) runs in the background: the
   * importer's `put` returns as soon as one of {@linkcode WRITES_IN_FLIGHT}
   * write slots is free, so it goes on hashing while earlier blocks sync,
   * and a file's root block is written together with its last leaves rather
   * than after them. Every write is joined before this returns, even on
   * failure; the first failed write fails the import (later puts throw it),
   * and the inputs' signal aborts then, cancelling any stream input still
   * being read.
   */
  async #import(
    makeCandidates: (
      inputSignal: AbortSignal,
    ) => Iterable<ImportCandidate> | AsyncIterable<ImportCandidate>,
    layout: ResolvedLayout,
    signal: AbortSignal,
  ): Promise<ImportResult[]> {
    const ended = new AbortController();
    const candidates = makeCandidates(AbortSignal.any([signal, ended.signal]));
    const pending = new Set<Promise<void>>();
    const slots = new Semaphore(WRITES_IN_FLIGHT);
    let failure: { error: unknown } | undefined;
    let finished = false;
    const blocks = this.#blocks;
    const storage = {
      async put(
        cid: CID,
        bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
      ): Promise<CID> {
        if (finished) throw new Error("Cannot put block: the import has ended");
        if (failure !== undefined) throw failure.error;
        const data = await concat(bytes);
        const slot = await slots.acquire();
        const write = (async () => {
          try {
            await blocks.put(cid, data, { signal });
          } catch (error) {
            failure ??= { error };
          } finally {
            slot.release();
          }
        })();
        pending.add(write);
        write.then(() => pending.delete(write));
        return cid;
      },
    };
    const results: ImportResult[] = [];
    try {
      for await (const entry of importer(candidates, storage, importerOptions(layout))) {
        results.push(entry);
      }
    } finally {
      finished = true;
      while (pending.size > 0) await Promise.all([...pending]);
      ended.abort(new Error("Cannot read input: the import has ended"));
    }
    if (failure !== undefined) throw failure.error;
    if (results.length === 0) throw new InvalidInputError("Cannot add: nothing to add");
    return results;
  }

  /**
   * Puts the empty directories among the entries into the results. The
   * importer stores and links them but does not report them; Kubo does.
   * Each is resolved below its nearest reported parent and listed just
   * before it.
   */
  async #addEmptyDirectories(
    out: AddAllResult[],
    directories: string[],
    wrapped: boolean,
  ): Promise<void> {
    const reported = new Set(out.map((entry) => entry.path));
    for (const path of directories) {
      if (reported.has(path)) continue;
      const parts = path.split("/");
      for (let depth = parts.length - 1; depth >= (wrapped ? 0 : 1); depth--) {
        const parent = parts.slice(0, depth).join("/");
        const at = out.findIndex((entry) => entry.path === parent);
        if (at === -1) continue;
        const cid = await this.#resolve(`${out[at].cid}/${parts.slice(depth).join("/")}`, "add");
        out.splice(at, 0, { path, cid, size: await this.#blocks.size(cid) });
        reported.add(path);
        break;
      }
    }
  }

  /** Resolves a CID or path to the CID of what it names. */
  async #resolve(path: CidLike, what: string, signal?: AbortSignal): Promise<CID> {
    const cid = CID.asCID(path);
    if (cid !== null) return cid;
    if (typeof path !== "string") {
      throw new InvalidCidError(
        `Cannot ${what}: expected a CID or a path: received ${typeof path}`,
        path,
      );
    }
    const trimmed = path.replace(/^\/ipfs\//, "").replace(/\/+$/, "");
    const slash = trimmed.indexOf("/");
    const root = parseCid(slash === -1 ? trimmed : trimmed.slice(0, slash), what);
    if (slash === -1) return root;
    const blocks = this.#blocks;
    const storage = {
      async *get(cid: CID): AsyncGenerator<Uint8Array> {
        yield await blocks.get(cid, { signal });
      },
    };
    try {
      const entry = await exporter(`${root}${trimmed.slice(slash)}`, storage, { signal });
      return entry.cid;
    } catch (error) {
      if (error instanceof NotFoundError || !(error instanceof Error)) throw error;
      if (error.name === "NotFoundError") {
        throw new NotFoundError(`Cannot ${what}: no such path: ${path}`, path);
      }
      throw error;
    }
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new ClosedResourceError(`Cannot ${what}: the node is closed`);
  }
}

async function checkFormat(repo: string): Promise<void> {
  const file = `${repo}/ipfs-kit-repo.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.writeTextFile(file, JSON.stringify(REPO_FORMAT) + "\n");
    return;
  }
  let format: { kind?: unknown; version?: unknown };
  try {
    format = JSON.parse(text);
  } catch {
    format = {};
  }
  if (format.kind !== REPO_FORMAT.kind || format.version !== REPO_FORMAT.version) {
    throw new InvalidInputError(
      `Cannot open repository: unsupported format in ${file}: received ${text.trim()}`,
    );
  }
}

/**
 * The importer's candidates for the entries, with normalized paths
 * (`"/a//b/"` is `"a/b"`). Directory paths are collected in `directories`.
 */
async function* toCandidates(
  entries: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
  directories: string[],
  onProgress: AddAllOptions["onProgress"],
  signal: AbortSignal,
): AsyncGenerator<ImportCandidate, void, undefined> {
  for await (const entry of entries) {
    const given = entry?.path;
    if (typeof given !== "string") {
      throw new InvalidInputError(
        `Cannot add: every entry needs a path: received ${describeValue(given)}`,
      );
    }
    const parts = given.split("/").filter((part) => part !== "");
    if (parts.length === 0) {
      throw new InvalidInputError(
        `Cannot add: every entry needs a non-empty path: received ${JSON.stringify(given)}`,
      );
    }
    if (parts.some((part) => part === "." || part === "..")) {
      throw new InvalidInputError(`Cannot add: paths must not hold . or ..: received ${given}`);
    }
    const path = parts.join("/");
    if (entry.content === undefined) {
      directories.push(path);
      yield { path };
    } else yield { path, content: byteSource(entry.content, path, onProgress, "add", signal) };
  }
}

function describeValue(value: unknown): string {
  return value === null ? "null" : typeof value;
}

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
