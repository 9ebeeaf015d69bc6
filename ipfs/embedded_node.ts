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

import { base64pad } from "npm:multiformats@14.0.5/bases/base64";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpoint, checkpointIfCancelled, currentTime } from "../runtime/checkpoint.ts";
import { withSignal } from "../runtime/timeouts.ts";
import type {
  AddAllEntry,
  AddAllOptions,
  AddAllResult,
  AddInput,
  AddOptions,
  AddPathOptions,
  AddResult,
  BlockApi,
  CatOptions,
  CidLike,
  ContentStore,
  DagApi,
  FilesApi,
  GetOptions,
  GetResult,
  HealthResult,
  IdResult,
  LsEntry,
  LsOptions,
  NameApi,
  PinApi,
  PubsubApi,
  RepoApi,
  RoutingApi,
  SignalOptions,
  StatOptions,
  StatResult,
  SwarmApi,
  VersionResult,
} from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";
import { CancelledError } from "../runtime/errors.ts";
import { checkCount, checkEntries, checkFlag, messageOf, pathString } from "./_arguments.ts";
import { embeddedBlockApi } from "./_embedded_block_api.ts";
import { embeddedDagApi } from "./_embedded_dag_api.ts";
import { embeddedFilesApi } from "./_embedded_files_api.ts";
import { importEntries, importFile } from "./_embedded_import.ts";
import { embeddedPinApi } from "./_embedded_pin_api.ts";
import { embeddedRepoApi } from "./_embedded_repo_api.ts";
import type { GetBlock } from "./_dag_walk.ts";
import { writeTree } from "./_fs_export.ts";
import { scanPath, toEntries } from "./_fs_import.ts";
import { REPO_VERSION, type RepoCreate, Repository } from "./_repository.ts";
import { directoryEntries, inspect } from "./_unixfs_node.ts";
import { resolveUnixFsPath } from "./_unixfs_path.ts";
import { openFile, readRange } from "./_unixfs_reader.ts";
import { unsupportedNetworkApis } from "./_unsupported.ts";
import type { NodeNetwork, NodeNetworkFactory } from "./node_network.ts";

/** The kit's version, reported by `version()` and `id()`. */
const KIT_VERSION = "0.1.0";

export type { RepoCreate };

/** Options for {@linkcode EmbeddedNode.open}. */
export interface EmbeddedNodeOptions extends SignalOptions {
  /** The repository directory; created if missing. One node at a time may open it. */
  repo: string;
  /**
   * When to create a repository: `"if-empty"` (the default) where the path is
   * missing or an empty directory; `"never"`, so a missing repository is a
   * {@linkcode RepoPathError} (read-only commands use it); `"force"`, also in a
   * directory that holds other files. A directory that holds other files and
   * no repository is refused otherwise: it is most likely the wrong path.
   */
  create?: RepoCreate;
  /**
   * Sync every block file and the directories holding them to disk before an
   * operation returns, so a crash loses nothing that was acknowledged.
   * Default `true`; `false` trades durability for speed.
   */
  sync?: boolean;
  /**
   * Makes the node a peer: a factory (`libp2pNetwork(...)` of
   * `@ipfs-kit/kit/net`) started once the repository is open, on the node's
   * identity, and stopped by `close()`. With a network, `cat`, `get`, `ls`,
   * `stat`, `dag.get` and `block.get` of a CID that is not local fetch it
   * (every block verified against its CID, stored unpinned), what the node
   * adds or pins is provided, `id()` lists the listen addresses, and `swarm`,
   * `routing`, `pubsub` and `name` work. Without one (the default) the node
   * opens no socket.
   */
  network?: NodeNetworkFactory;
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
 * Without a network (the default) the node is offline: a block that is not
 * in the repository is reported missing at once ({@linkcode NotFoundError}),
 * and `name`, `pubsub`, `swarm` and `routing` throw
 * {@linkcode NotSupportedError}. With {@linkcode EmbeddedNodeOptions.network}
 * it is a peer of the IPFS network.
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
  #repo: Repository;

  /** Raw blocks, as Kubo's `ipfs block` commands. */
  readonly block: BlockApi;
  /** Pins, as Kubo's `ipfs pin` commands: recursive and direct. */
  readonly pin: PinApi;
  /** IPLD nodes (dag-cbor, dag-json, dag-pb, raw), as Kubo's `ipfs dag` commands. */
  readonly dag: DagApi;
  /** Garbage collection and statistics, as Kubo's `ipfs repo` commands. */
  readonly repo: RepoApi;
  /**
   * MFS, as Kubo's `ipfs files` commands: the root is kept in the repository
   * (replaced crash-safely) and garbage collection keeps what it references.
   * A change of the tree loads `@helia/unixfs`, which needs `--allow-env` and
   * `--allow-sys` as it loads.
   */
  readonly files: FilesApi;
  /** IPNS (with a network; without one every call throws `NotSupportedError`). */
  readonly name: NameApi;
  /** Pubsub (with a network; without one every call throws `NotSupportedError`). */
  readonly pubsub: PubsubApi;
  /** Swarm (with a network; without one every call throws `NotSupportedError`). */
  readonly swarm: SwarmApi;
  /** Routing (with a network; without one every call throws `NotSupportedError`). */
  readonly routing: RoutingApi;
  #network: NodeNetwork | undefined;
  #lifetime: AbortController;

  /** @ignore */
  private constructor(
    repo: Repository,
    network: NodeNetwork | undefined,
    lifetime: AbortController,
  ) {
    this.#repo = repo;
    this.#network = network;
    this.#lifetime = lifetime;
    repo.network = network;
    this.block = embeddedBlockApi(repo);
    this.pin = embeddedPinApi(repo);
    this.dag = embeddedDagApi(repo);
    this.repo = embeddedRepoApi(repo);
    this.files = embeddedFilesApi(repo, (cid, options) => this.cat(cid, options));
    // Without a network these four answer NotSupportedError.
    const apis = network ?? unsupportedNetworkApis("embedded");
    this.name = apis.name;
    this.pubsub = apis.pubsub;
    this.swarm = apis.swarm;
    this.routing = apis.routing;
    if (network !== undefined) this.#provideOnChange(network);
  }

  /** The node's network, when it was opened with one. */
  get network(): NodeNetwork | undefined {
    return this.#network;
  }

  /** Wraps add, addAll, addPath, pin.add and block.put so that what they store is provided. */
  #provideOnChange(network: NodeNetwork): void {
    const pinAdd = this.pin.add.bind(this.pin);
    this.pin.add = async (path, options) => {
      const cid = await pinAdd(path, options);
      network.provide(cid);
      return cid;
    };
    const blockPut = this.block.put.bind(this.block);
    this.block.put = async (bytes, options) => {
      const cid = await blockPut(bytes, options);
      network.provide(cid);
      return cid;
    };
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
      const create = options.create ?? "if-empty";
      if (create !== "if-empty" && create !== "never" && create !== "force") {
        throw new InvalidInputError(
          `Cannot open repository: create must be "if-empty", "never" or "force": received ${
            JSON.stringify(create)
          }`,
        );
      }
      const factory = options.network;
      if (factory !== undefined && typeof factory !== "function") {
        throw new InvalidInputError(
          `Cannot open repository: network must be a function: received ${typeof factory}`,
        );
      }
      await checkpoint();
      const repository = await Repository.open(repo, sync, create);
      const lifetime = new AbortController();
      let network: NodeNetwork | undefined;
      try {
        network = await factory?.({
          identity: {
            id: repository.identity.id,
            publicKey: repository.identity.publicKey,
            privateKey: repository.identity.privateKeyBytes,
          },
          blocks: {
            get: (cid, options) => repository.blocks.get(cid, options),
            has: (cid, options) => repository.blocks.has(cid, options),
          },
          signal: lifetime.signal,
        });
      } catch (error) {
        lifetime.abort(error);
        repository.close();
        throw error;
      }
      return new EmbeddedNode(repository, network, lifetime);
    });
  }

  /** The repository's path. */
  get repoPath(): string {
    return this.#repo.path;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#repo.closed;
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
  add(input: AddInput, options?: AddOptions): Promise<AddResult> {
    options ??= {};
    const run = { lock: "shared", signal: options.signal, input } as const;
    return this.#repo.run("add", run, async (signal) => {
      const result = await importFile(this.#repo, input, options, signal);
      if (options.pin !== false) this.#network?.provide(result.cid);
      return result;
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
    options?: AddAllOptions,
  ): Promise<AddAllResult[]> {
    options ??= {};
    return this.#repo.run("add", { lock: "shared", signal: options.signal }, async (signal) => {
      checkEntries(entries);
      return this.#provided(await importEntries(this.#repo, () => entries, options, signal));
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
  addPath(path: string, options?: AddPathOptions): Promise<AddAllResult[]> {
    options ??= {};
    return this.#repo.run("add", { lock: "shared", signal: options.signal }, async (signal) => {
      const scanned = await scanPath(path, {
        hidden: checkFlag(options.hidden, false, "add", "hidden"),
        followSymlinks: checkFlag(options.followSymlinks, false, "add", "followSymlinks"),
      }, checkpointIfCancelled);
      return this.#provided(
        await importEntries(
          this.#repo,
          (inputSignal) => toEntries(scanned, inputSignal),
          options,
          signal,
        ),
      );
    });
  }

  /** Provides the last entry of an add (its root), and returns the entries. */
  #provided(results: AddAllResult[]): AddAllResult[] {
    const root = results.at(-1);
    if (root !== undefined) this.#network?.provide(root.cid);
    return results;
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
  get(path: CidLike, target: string, options?: GetOptions): Promise<GetResult> {
    return this.#repo.run("get", { signal: options?.signal }, async (signal) => {
      const get: GetBlock = (cid) => this.#repo.getBlock(cid, signal);
      const cid = await resolveUnixFsPath(get, path, "get", signal);
      return await writeTree(get, cid, target, signal, this.#repo.readAhead(signal));
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
  ls(path: CidLike, options?: LsOptions): Promise<LsEntry[]> {
    return this.#repo.run("list", { signal: options?.signal }, async (signal) => {
      const get: GetBlock = (cid) => this.#repo.getBlock(cid, signal);
      const cid = await resolveUnixFsPath(get, path, "list", signal);
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
  stat(path: CidLike, options?: StatOptions): Promise<StatResult> {
    return this.#repo.run("stat", { signal: options?.signal }, async (signal) => {
      const get: GetBlock = (cid) => this.#repo.getBlock(cid, signal);
      const cid = await resolveUnixFsPath(get, path, "stat", signal);
      const node = await inspect(get, cid, "stat");
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
  id(options?: SignalOptions): Promise<IdResult> {
    return this.#repo.run("read identity", { signal: options?.signal }, () => {
      const identity = this.#repo.identity;
      return Promise.resolve({
        id: identity.id,
        publicKey: base64pad.baseEncode(identity.publicKey),
        addresses: this.#network?.addresses() ?? [],
        agentVersion: `ipfs-kit/${KIT_VERSION}`,
        protocols: this.#network?.protocols() ?? [],
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
  version(options?: SignalOptions): Promise<VersionResult> {
    return this.#repo.run("read version", { signal: options?.signal }, () => {
      return Promise.resolve({
        version: KIT_VERSION,
        repo: String(REPO_VERSION),
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
  health(options?: SignalOptions): Promise<HealthResult> {
    return withSignal(options?.signal, async () => {
      const start = currentTime();
      const result = (reason?: string): HealthResult => ({
        ok: reason === undefined,
        backend: "embedded",
        latencyMs: currentTime() - start,
        ...(reason === undefined ? {} : { reason }),
      });
      if (this.#repo.closed) return result("the node is closed");
      await checkpoint();
      let problem: string | undefined;
      try {
        problem = await this.#repo.probe();
      } catch (error) {
        checkpointIfCancelled();
        return result(`the repository does not work: ${messageOf(error)}`);
      }
      if (problem !== undefined) return result(problem);
      if (this.#repo.closed) return result("the node is closed");
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
  cat(path: CidLike, options?: CatOptions): ReadableStream<Uint8Array> {
    options ??= {};
    const repo = this.#repo;
    repo.checkOpen("cat");
    const offset = checkCount(options.offset ?? 0, "offset");
    const length = options.length === undefined ? undefined : checkCount(options.length, "length");
    const signal = options.signal;
    let current: AbortSignal | undefined;
    const get: GetBlock = (cid) => repo.getBlock(cid, current);
    const resolve = (path: CidLike) => resolveUnixFsPath(get, path, "cat", current);
    async function* contents(): AsyncGenerator<Uint8Array, void, undefined> {
      const root = await openFile(get, await resolve(path), "cat");
      const start = Math.min(offset, root.size);
      const end = length === undefined ? root.size : Math.min(root.size, start + length);
      yield* readRange(get, root, start, end, repo.readAhead(readSignal));
    }
    let iterator: AsyncGenerator<Uint8Array, void, undefined> | undefined;
    // Cancelling the stream aborts a read in flight (a fetch from the network).
    const cancelled = new AbortController();
    const readSignal = signal === undefined
      ? cancelled.signal
      : AbortSignal.any([signal, cancelled.signal]);
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        iterator ??= contents();
        let result: IteratorResult<Uint8Array, void>;
        try {
          result = await withSignal(readSignal, async () => {
            await checkpoint();
            repo.checkOpen("cat");
            current = CancelScope.current().signal;
            try {
              return await iterator!.next();
            } finally {
              current = undefined;
            }
          });
        } catch (error) {
          // The read's failure is the one to report, not one its clean-up met
          // (a cancelled read ends its generator in a cancelled context).
          await iterator.return().catch(() => {});
          // A cancellation the caller's signal caused reaches the caller as
          // the signal's reason, whichever scope's error carried it.
          throw error instanceof CancelledError && readSignal.aborted &&
              error.cause === readSignal.reason
            ? readSignal.reason
            : error;
        }
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
      cancel: async (reason) => {
        cancelled.abort(reason);
        await iterator?.return();
      },
    }, { highWaterMark: 0 });
  }

  /** Stops the network (when it has one), closes the node and releases the repository. Idempotent. */
  async close(): Promise<void> {
    if (this.#repo.closed) return;
    this.#lifetime.abort(new Error("the node closed"));
    try {
      await this.#network?.close();
    } finally {
      this.#repo.close();
    }
  }

  /** Closes the node, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
