/**
 * The Kubo backend: the kit's {@linkcode ContentStore} over a Kubo daemon's
 * RPC API, through `kubo-rpc-client`.
 *
 * - The API's address comes from a URL, a multiaddress, or the daemon's
 *   `$IPFS_PATH/api` file ({@linkcode parseKuboApiAddress},
 *   {@linkcode readKuboApiFile}).
 * - Every call runs in the runtime's cancel scopes: its `signal` and its
 *   `timeoutMs` (per call, or the backend's default) bound a scope whose
 *   `AbortSignal` is what the HTTP request gets, so cancellation stops the
 *   request itself. The time left is also sent as the daemon's own
 *   `timeout`, so the daemon stops working on it too.
 * - Idempotent reads (`cat` until its first byte, `ls`, `stat`, block
 *   `get`/`has`/`stat`, `dag get`/`resolve`, `pin ls`, `repo stat`, `id`,
 *   `version`) are retried with exponential backoff when the daemon is
 *   unreachable or fails with a 5xx that is not the daemon's own answer,
 *   within the deadline (a deadline passing while retrying throws the last
 *   failure, such as `UnreachableError`).
 * - Failures are typed: `NotFoundError`, `InvalidCidError`,
 *   `InvalidInputError`, `PinnedError`, `NotSupportedError` (a command the
 *   daemon lacks), `UnreachableError`, the runtime's `TimeoutError`,
 *   `RangeError` (an oversized block), and `KuboRpcError` for anything else
 *   the daemon reports.
 * - Uploads stream: content is read as it is sent, never held whole.
 *
 * CIDs and paths are checked before anything is sent.
 *
 * @module
 */

import { base64url } from "npm:multiformats@14.0.5/bases/base64";
import { equals } from "npm:multiformats@14.0.5/bytes";
import { CID as Cid } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { checkpointIfCancelled, currentTime } from "../runtime/checkpoint.ts";
import { ClosedResourceError } from "../runtime/errors.ts";
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
  BlockPutOptions,
  BlockRmOptions,
  BlockStat,
  CatOptions,
  CID,
  CidLike,
  ContentStore,
  DagApi,
  DagGetOptions,
  DagGetResult,
  DagPutOptions,
  DagResolveResult,
  FindProvsOptions,
  GetOptions,
  GetResult,
  HealthResult,
  IdResult,
  LsEntry,
  LsOptions,
  NameApi,
  NamePublishOptions,
  NamePublishResult,
  NameResolveOptions,
  PeerInfo,
  PinAddOptions,
  PinApi,
  PinEntry,
  PinLsOptions,
  PinRmOptions,
  PinType,
  PubsubApi,
  PubsubMessage,
  RepoApi,
  RepoStat,
  RoutingApi,
  SignalOptions,
  StatOptions,
  StatResult,
  SwarmApi,
  SwarmPeer,
  UnixFsType,
  VersionResult,
} from "./content_store.ts";
import { InvalidInputError, NotFoundError } from "./errors.ts";
import { blockToPut, dagNodeToPut, MAX_BLOCK_BYTES } from "./_codecs.ts";
import { resolvePath, splitPath } from "./_dag_path.ts";
import { checkCount, checkFlag, messageOf, pathString } from "./_arguments.ts";
import { parseCid } from "./parse_cid.ts";
import { scanPath, toEntries } from "./_fs_import.ts";
import { resolveLayout } from "./_importer_options.ts";
import { byteSource } from "./_input.ts";
import {
  type CallFn,
  type CallSettings,
  type CallSpec,
  checkTimeout,
  deadlineFor,
  type RetrySettings,
  runCall,
  streamStep,
} from "./_kubo_call.ts";
import { createKuboRpc, type KuboRpc } from "./_kubo_client.ts";
import { toTypedError } from "./_kubo_errors.ts";
import { emptyResult, extractTar } from "./_kubo_tar.ts";
import { writeToTarget } from "./_fs_export.ts";
import { parseKuboApiAddress, readKuboApiFile } from "./kubo_address.ts";
import type { KuboBackendOptions, KuboCallOptions, KuboRetryOptions } from "./kubo_options.ts";

/** Kubo's largest block without `--allow-big-block`, 1 MiB; larger ones cannot be exchanged. */
export const KUBO_MAX_BLOCK_SIZE: number = MAX_BLOCK_BYTES;

const HEALTH_TIMEOUT_MS = 5_000;
const HEALTH_BLOCK = new TextEncoder().encode("ipfs-kit health check\n");
const DEFAULT_RETRY: RetrySettings = { attempts: 4, baseDelayMs: 100, maxDelayMs: 2_000 };

/** {@linkcode BlockApi} with a timeout per call. */
export interface KuboBlockApi extends BlockApi {
  /** Reads a block (from the network too, as the daemon does). */
  get(cid: CidLike, options?: KuboCallOptions): Promise<Uint8Array>;
  /** Stores bytes as one block (sha2-256); `pin` pins it directly. */
  put(bytes: Uint8Array, options?: BlockPutOptions & KuboCallOptions): Promise<CID>;
  /** Whether the daemon has the block locally (it does not search the network). */
  has(cid: CidLike, options?: KuboCallOptions): Promise<boolean>;
  /** A block's size. */
  stat(cid: CidLike, options?: KuboCallOptions): Promise<BlockStat>;
  /** Removes a block. */
  rm(cid: CidLike, options?: BlockRmOptions & KuboCallOptions): Promise<void>;
}

/** {@linkcode PinApi} with a timeout per call. */
export interface KuboPinApi extends PinApi {
  /** Pins a CID or path (a recursive pin fetches missing blocks). */
  add(path: CidLike, options?: PinAddOptions & KuboCallOptions): Promise<CID>;
  /** Unpins a CID or path. */
  rm(path: CidLike, options?: PinRmOptions & KuboCallOptions): Promise<CID>;
  /** Lists pins. */
  ls(options?: PinLsOptions & KuboCallOptions): Promise<PinEntry[]>;
}

/** {@linkcode DagApi} with a timeout per call. */
export interface KuboDagApi extends DagApi {
  /** Encodes and stores a node (sha2-256, CIDv1). */
  put(value: unknown, options?: DagPutOptions & KuboCallOptions): Promise<CID>;
  /** Reads a node, or the value at a path inside it. */
  get(path: CidLike, options?: DagGetOptions & KuboCallOptions): Promise<DagGetResult>;
  /** Follows a path across links to the last block it reaches. */
  resolve(path: CidLike, options?: KuboCallOptions): Promise<DagResolveResult>;
}

/** {@linkcode RepoApi} with a timeout per call. */
export interface KuboRepoApi extends RepoApi {
  /** Runs the daemon's garbage collection. */
  gc(options?: KuboCallOptions): Promise<CID[]>;
  /** The daemon's repository statistics. */
  stat(options?: KuboCallOptions): Promise<RepoStat>;
}

/** {@linkcode NameApi} with a timeout per call. */
export interface KuboNameApi extends NameApi {
  /** Publishes a path under a key. */
  publish(
    path: CidLike,
    options?: NamePublishOptions & KuboCallOptions,
  ): Promise<NamePublishResult>;
  /** Resolves an IPNS name. */
  resolve(name: string, options?: NameResolveOptions & KuboCallOptions): Promise<string>;
}

/** {@linkcode PubsubApi} with a timeout per call. */
export interface KuboPubsubApi extends PubsubApi {
  /** Publishes a message on a topic. */
  publish(topic: string, data: Uint8Array, options?: KuboCallOptions): Promise<void>;
  /** Subscribes to a topic; only an explicit `timeoutMs` ends the stream. */
  subscribe(topic: string, options?: KuboCallOptions): ReadableStream<PubsubMessage>;
  /** The topics the daemon is subscribed to. */
  ls(options?: KuboCallOptions): Promise<string[]>;
  /** The peers seen on a topic (or on any). */
  peers(topic?: string, options?: KuboCallOptions): Promise<string[]>;
}

/** {@linkcode SwarmApi} with a timeout per call. */
export interface KuboSwarmApi extends SwarmApi {
  /** The connected peers. */
  peers(options?: KuboCallOptions): Promise<SwarmPeer[]>;
  /** Connects to a multiaddress with `/p2p/<id>`. */
  connect(addr: string, options?: KuboCallOptions): Promise<void>;
  /** Closes connections to a multiaddress. */
  disconnect(addr: string, options?: KuboCallOptions): Promise<void>;
}

/** {@linkcode RoutingApi} with a timeout per call. */
export interface KuboRoutingApi extends RoutingApi {
  /** Finds peers that provide a CID. */
  findProvs(cid: CidLike, options?: FindProvsOptions & KuboCallOptions): Promise<PeerInfo[]>;
  /** Finds a peer's addresses. */
  findPeer(peerId: string, options?: KuboCallOptions): Promise<PeerInfo>;
  /** Announces that the daemon provides a CID. */
  provide(cid: CidLike, options?: KuboCallOptions): Promise<void>;
  /** Reads a value stored under a routing key. */
  get(key: string, options?: KuboCallOptions): Promise<Uint8Array>;
  /** Stores a value under a routing key. */
  put(key: string, value: Uint8Array, options?: KuboCallOptions): Promise<void>;
}

/**
 * A {@linkcode ContentStore} backed by a Kubo daemon over its RPC API.
 *
 * `connect` does not contact the daemon: the first call does (use
 * {@linkcode KuboBackend.health} to check it). Every method takes
 * `{ signal, timeoutMs }` ({@linkcode KuboCallOptions}).
 *
 * @example Add and read back
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { KuboBackend } from "@ipfs-kit/kit/ipfs";
 *
 * await using kubo = await KuboBackend.connect({ api: "/ip4/127.0.0.1/tcp/5001" });
 * const { cid } = await kubo.add("hello world\n", { timeoutMs: 10_000 });
 * assert.equal(cid.toString(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
 * const text = await new Response(kubo.cat(cid, { timeoutMs: 10_000 })).text();
 * assert.equal(text, "hello world\n");
 * ```
 *
 * @example Typed errors, a timeout per call
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { KuboBackend, NotFoundError } from "@ipfs-kit/kit/ipfs";
 * import { TimeoutError } from "@ipfs-kit/kit/runtime";
 *
 * await using kubo = await KuboBackend.connect(); // the address in $IPFS_PATH/api
 * try {
 *   await kubo.stat("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o/nope", { timeoutMs: 5_000 });
 * } catch (error) {
 *   assert(error instanceof NotFoundError || error instanceof TimeoutError);
 * }
 * ```
 */
export class KuboBackend implements ContentStore {
  #rpc: KuboRpc;
  #url: URL;
  #settings: CallSettings;
  #closer = new AbortController();
  #timeoutMs: number | undefined;

  /** Raw blocks, as Kubo's `ipfs block` commands. */
  readonly block: KuboBlockApi;
  /** Pins, as Kubo's `ipfs pin` commands. */
  readonly pin: KuboPinApi;
  /** IPLD nodes: put through `dag put`; paths followed here, block by block. */
  readonly dag: KuboDagApi;
  /** Garbage collection and repository statistics. */
  readonly repo: KuboRepoApi;
  /** IPNS. */
  readonly name: KuboNameApi;
  /** Publish/subscribe (Kubo needs `--enable-pubsub-experiment`). */
  readonly pubsub: KuboPubsubApi;
  /** Connections to peers. */
  readonly swarm: KuboSwarmApi;
  /** Content and peer routing. */
  readonly routing: KuboRoutingApi;

  private constructor(
    rpc: KuboRpc,
    url: URL,
    timeoutMs: number | undefined,
    retry: RetrySettings | false,
  ) {
    this.#rpc = rpc;
    this.#url = url;
    this.#timeoutMs = timeoutMs;
    this.#settings = { address: url.href, retry, closed: this.#closer.signal };
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
    this.name = {
      publish: (path, options) => this.#namePublish(path, options),
      resolve: (name, options) => this.#nameResolve(name, options),
    };
    this.pubsub = {
      publish: (topic, data, options) => this.#pubsubPublish(topic, data, options),
      subscribe: (topic, options) => this.#pubsubSubscribe(topic, options),
      ls: (options) => this.#pubsubLs(options),
      peers: (topic, options) => this.#pubsubPeers(topic, options),
    };
    this.swarm = {
      peers: (options) => this.#swarmPeers(options),
      connect: (addr, options) => this.#swarmChange("connect", addr, options),
      disconnect: (addr, options) => this.#swarmChange("disconnect", addr, options),
    };
    this.routing = {
      findProvs: (cid, options) => this.#findProvs(cid, options),
      findPeer: (peerId, options) => this.#findPeer(peerId, options),
      provide: (cid, options) => this.#provide(cid, options),
      get: (key, options) => this.#routingGet(key, options),
      put: (key, value, options) => this.#routingPut(key, value, options),
    };
  }

  /**
   * Makes a backend for the daemon at `api` (or at the address in the
   * repository's `api` file). Does not contact the daemon.
   *
   * @param options The address, headers, the default timeout, the retry policy.
   * @returns The backend; close it with `close()` or `await using`.
   * @throws {InvalidInputError} The address or an option is malformed.
   * @throws {UnreachableError} No `api` was given and the repository has no `api` file.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { KuboBackend } from "@ipfs-kit/kit/ipfs";
   *
   * await using kubo = await KuboBackend.connect({ api: "/dns4/localhost/tcp/5001/http" });
   * assert.equal(kubo.url.href, "http://localhost:5001/api/v0");
   * ```
   */
  static async connect(options: KuboBackendOptions = {}): Promise<KuboBackend> {
    if (options === null || typeof options !== "object") {
      throw new InvalidInputError(
        `Cannot connect to Kubo: options must be an object: received ${typeof options}`,
      );
    }
    const url = options.api === undefined
      ? await readKuboApiFile(options.ipfsPath === undefined ? {} : { ipfsPath: options.ipfsPath })
      : parseKuboApiAddress(options.api);
    const timeoutMs = checkTimeout(options.timeoutMs, "connect to Kubo");
    const retry = checkRetry(options.retry);
    if (
      options.headers !== undefined &&
      (options.headers === null || typeof options.headers !== "object" ||
        Object.values(options.headers).some((value) => typeof value !== "string"))
    ) {
      throw new InvalidInputError(
        "Cannot connect to Kubo: headers must be an object of strings",
      );
    }
    const rpc = await createKuboRpc({
      url,
      ...(options.headers === undefined ? {} : { headers: { ...options.headers } }),
    });
    return new KuboBackend(rpc, url, timeoutMs, retry);
  }

  /** The RPC API's base URL (ending in `/api/v0`). */
  get url(): URL {
    return new URL(this.#url.href);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closer.signal.aborted;
  }

  /**
   * Adds one file, as `ipfs add`: streams the content to the daemon, which
   * chunks it (Kubo's layout options are sent explicitly, so the CID does
   * not depend on the daemon's `Import` config) and pins the root unless
   * `pin: false`.
   *
   * @param input Bytes, a string, a Blob, a stream or an iterable of chunks.
   * @param options Layout, pinning, progress (bytes read so far), signal, timeout.
   * @returns The root CID and the DAG's cumulative size.
   * @throws {InvalidInputError} The input or an option is invalid (also when
   * the input fails mid-way: the failure is rethrown, and nothing is pinned).
   */
  async add(input: AddInput, options: AddOptions & KuboCallOptions = {}): Promise<AddResult> {
    const results = await this.#addEntries(
      (signal) => [{ content: byteSource(input, "", options.onProgress, "add", signal) }],
      options,
      false,
      input,
    );
    const root = results.at(-1)!;
    return { cid: root.cid, size: root.size };
  }

  /**
   * Adds files and directories, as `ipfs add -r` of a tree given entry by
   * entry. Returns what the daemon reports, parents after their children,
   * the root (or roots) last.
   *
   * @param entries Paths with content (files) or without (directories).
   * @param options Layout, wrapping, pinning, progress, signal, timeout.
   * @returns The entries created.
   */
  async addAll(
    entries: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
    options: AddAllOptions & KuboCallOptions = {},
  ): Promise<AddAllResult[]> {
    if (
      entries === null || typeof entries !== "object" ||
      !(Symbol.iterator in entries || Symbol.asyncIterator in entries)
    ) {
      throw new InvalidInputError(
        `Cannot add: entries must be an iterable of { path, content? }: received ${typeof entries}`,
      );
    }
    return await this.#addEntries(
      (signal) => uploadEntries(entries, options.onProgress, signal),
      options,
      true,
    );
  }

  /**
   * Adds a file or a directory tree from the local file system, as
   * `ipfs add -r <path>`. The tree is scanned first, so a missing or
   * unreadable entry fails before anything is sent; files are then read
   * one at a time as they are uploaded.
   *
   * @param path The file or directory.
   * @param options Hidden files, symlinks, layout, wrapping, pinning, progress, signal, timeout.
   * @returns The entries created, the root last.
   * @throws {NotFoundError} The path does not exist.
   * @throws {InvalidInputError} Something cannot be read or is not a file or directory.
   */
  async addPath(
    path: string,
    options: AddPathOptions & KuboCallOptions = {},
  ): Promise<AddAllResult[]> {
    const hidden = checkFlag(options.hidden, false, "add", "hidden");
    const followSymlinks = checkFlag(options.followSymlinks, false, "add", "followSymlinks");
    return await this.#addEntries(
      async (signal) => {
        const scanned = await scanPath(path, { hidden, followSymlinks }, checkpointIfCancelled);
        return uploadEntries(toEntries(scanned, signal), options.onProgress, signal);
      },
      options,
      true,
    );
  }

  /**
   * Streams a file's bytes from the daemon, as they arrive: one HTTP request
   * read chunk by chunk as the stream is read, never the whole file in
   * memory. The deadline (`timeoutMs`) covers the whole stream. Failures
   * (a missing path, a directory, the daemon going away) surface on the
   * stream; a bad CID or option throws at once. Opening the request is
   * retried; once bytes have arrived, a failure ends the stream.
   *
   * @param path A CID, or a CID or `/ipfs/` path with names below it.
   * @param options A byte range, a signal, a timeout.
   * @returns The bytes.
   */
  cat(path: CidLike, options: CatOptions & KuboCallOptions = {}): ReadableStream<Uint8Array> {
    this.#checkOpen("cat");
    const { arg, subject } = ipfsPath(path, "cat");
    const offset = checkCount(options.offset ?? 0, "offset");
    const length = options.length === undefined ? undefined : checkCount(options.length, "length");
    const timeoutMs = this.#timeout(options, "cat");
    const deadline = deadlineFor(timeoutMs);
    const request = new AbortController();
    const client = this.#rpc.client;
    let iterator: AsyncIterator<Uint8Array> | undefined;
    let started = false;
    const close = async () => {
      request.abort(new Error("Cannot cat: the stream has ended"));
      const open = iterator;
      iterator = undefined;
      await open?.return?.().catch(() => {});
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (length === 0) {
          // Kubo reads nothing for --length=0 without resolving the path.
          controller.close();
          return;
        }
        let result: IteratorResult<Uint8Array>;
        try {
          result = await streamStep(
            { what: "cat", command: "cat", subject, idempotent: !started },
            this.#settings,
            options.signal,
            deadline,
            timeoutMs,
            request,
            async (left) => {
              iterator ??= client.cat(arg, {
                offset,
                ...(length === undefined ? {} : { length }),
                signal: request.signal,
                ...(left === undefined ? {} : { timeout: left }),
              })[Symbol.asyncIterator]();
              try {
                return await iterator.next();
              } catch (error) {
                // Not started: a retry opens a new request.
                if (!started) iterator = undefined;
                throw error;
              }
            },
          );
        } catch (error) {
          await close();
          if (isPastEnd(error)) {
            controller.close();
            return;
          }
          throw error;
        }
        if (result.done) {
          await close();
          controller.close();
        } else {
          started = true;
          controller.enqueue(result.value);
        }
      },
      cancel: close,
    }, { highWaterMark: 0 });
  }

  /**
   * Writes a file or a directory tree to the local file system from the
   * daemon's `get` archive (one streamed request), as `ipfs get -o target`.
   * The tree is written beside `target` and renamed into place when
   * complete: on failure or cancellation nothing is left at `target`.
   *
   * @param path A CID, or a CID or `/ipfs/` path with names below it.
   * @param target Where to write; must not exist; its parent must.
   * @param options A signal, a timeout.
   * @returns What was written.
   * @throws {InvalidInputError} `target` exists or its directory does not, or
   * the archive holds an unsafe name.
   */
  async get(
    path: CidLike,
    target: string,
    options: GetOptions & KuboCallOptions = {},
  ): Promise<GetResult> {
    const { arg, subject } = ipfsPath(path, "get");
    return await this.#call(
      { what: "get", command: "get", subject },
      options,
      async (signal, left) => {
        return await writeToTarget(target, async (tmp) => {
          const stat = await this.#rpc.client.files.stat(arg, { signal, ...timeout(left) });
          const result = emptyResult(stat.cid);
          await extractTar(
            this.#rpc.client.get(arg, { signal, ...timeout(left) }),
            tmp,
            result,
            checkpointIfCancelled,
          );
          return result;
        });
      },
    );
  }

  /**
   * Lists a directory, as `ipfs ls`: each entry's name, CID, type and size
   * (the file size for files, `0` for directories). For a file, the one
   * entry for the file itself.
   *
   * @param path A CID, or a CID or `/ipfs/` path with names below it.
   * @param options A signal, a timeout.
   * @returns The entries, in the directory's order.
   */
  async ls(path: CidLike, options: LsOptions & KuboCallOptions = {}): Promise<LsEntry[]> {
    const { arg, subject } = ipfsPath(path, "list");
    const base = pathString(path);
    return await this.#call(
      { what: "list", command: "ls", subject, idempotent: true },
      options,
      async (signal, left) => {
        const stat = await this.#stat(arg, signal, left);
        if (stat.type !== "directory") {
          const name = base.includes("/") ? base.slice(base.lastIndexOf("/") + 1) : base;
          return [{ name, path: base, cid: stat.cid, type: stat.type, size: stat.size }];
        }
        const response = await this.#rpc.post("ls", {
          args: [arg],
          params: { "resolve-type": true, size: true, ...rpcTimeout(left) },
          signal,
        });
        const entries: LsEntry[] = [];
        for await (const message of response.ndjson()) {
          const objects = (message as { Objects?: unknown }).Objects;
          if (!Array.isArray(objects)) throw malformed("ls", message);
          for (const object of objects) {
            const links = (object as { Links?: unknown }).Links;
            if (!Array.isArray(links)) throw malformed("ls", object);
            for (const link of links as Array<Record<string, unknown>>) {
              const type = linkType(link.Type);
              entries.push({
                name: String(link.Name ?? ""),
                path: `${base}/${link.Name ?? ""}`,
                cid: Cid.parse(String(link.Hash)),
                type,
                size: type === "directory" ? 0 : Number(link.Size ?? 0),
              });
            }
          }
        }
        return entries;
      },
    );
  }

  /**
   * A UnixFS node's type and sizes, as `ipfs files stat /ipfs/<path>`.
   *
   * @param path A CID, or a CID or `/ipfs/` path with names below it.
   * @param options A signal, a timeout.
   * @returns The type, the content size, the cumulative size and the root's link count.
   */
  async stat(path: CidLike, options: StatOptions & KuboCallOptions = {}): Promise<StatResult> {
    const { arg, subject } = ipfsPath(path, "stat");
    return await this.#call(
      { what: "stat", command: "files/stat", subject, idempotent: true },
      options,
      (signal, left) => this.#stat(arg, signal, left),
    );
  }

  /**
   * The daemon's identity: peer ID, public key, listen addresses, agent
   * and protocols.
   *
   * @param options A signal, a timeout.
   * @returns The identity.
   */
  id(options: KuboCallOptions = {}): Promise<IdResult> {
    return this.#call(
      { what: "read identity", command: "id", idempotent: true },
      options,
      async (signal, left) => {
        const id = await this.#rpc.client.id({ signal, ...timeout(left) });
        return {
          id: id.id.toString(),
          publicKey: String(id.publicKey ?? ""),
          addresses: (id.addresses ?? []).map((address) => address.toString()),
          agentVersion: String(id.agentVersion ?? ""),
          protocols: (id.protocols ?? []).map(String),
        };
      },
    );
  }

  /**
   * The daemon's version and repository version.
   *
   * @param options A signal, a timeout.
   * @returns The versions, `backend: "kubo"`.
   */
  version(options: KuboCallOptions = {}): Promise<VersionResult> {
    return this.#call(
      { what: "read version", command: "version", idempotent: true },
      options,
      async (signal, left) => {
        const version = await this.#rpc.client.version({
          signal,
          ...timeout(left),
        }) as unknown as Record<string, unknown>;
        return {
          version: String(version.version ?? ""),
          repo: String(version.repo ?? ""),
          system: String(version.system ?? ""),
          backend: "kubo" as const,
        };
      },
    );
  }

  /**
   * Checks that the daemon answers and its repository writes and reads: a
   * `version` call, then a small fixed block put and read back. Never
   * throws for an unhealthy daemon (nor a closed backend); an aborted
   * signal still rejects with its reason. Default timeout 5 s.
   *
   * @param options A signal, a timeout.
   * @returns Whether it is ok, and why not.
   */
  health(options: KuboCallOptions = {}): Promise<HealthResult> {
    return withSignal(options.signal, async () => {
      const start = currentTime();
      const result = (reason?: string): HealthResult => ({
        ok: reason === undefined,
        backend: "kubo",
        latencyMs: currentTime() - start,
        ...(reason === undefined ? {} : { reason }),
      });
      if (this.closed) return result("the backend is closed");
      try {
        const timeoutMs = checkTimeout(
          options.timeoutMs ?? this.#timeoutMs ?? HEALTH_TIMEOUT_MS,
          "check health",
        );
        await runCall(
          { what: "check health", command: "version" },
          { ...this.#settings, retry: false },
          undefined,
          deadlineFor(timeoutMs),
          timeoutMs,
          async (signal, left) => {
            await this.#rpc.client.version({ signal, ...timeout(left) });
            const cid = await this.#rpc.client.block.put(HEALTH_BLOCK, {
              signal,
              ...timeout(left),
            });
            const back = await this.#rpc.client.block.get(cid, { signal, ...timeout(left) });
            if (!equals(back, HEALTH_BLOCK)) {
              throw new Error("a block written to the daemon read back different");
            }
          },
        );
      } catch (error) {
        checkpointIfCancelled();
        return result(messageOf(error));
      }
      return result();
    });
  }

  /**
   * Closes the backend: calls in flight are aborted with
   * `ClosedResourceError`, later calls throw it. The daemon is untouched.
   * Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closer.signal.aborted) {
      this.#closer.abort(new ClosedResourceError("Cannot call Kubo: the backend is closed"));
    }
    return Promise.resolve();
  }

  /** Closes the backend, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(what: string): void {
    if (this.closed) throw new ClosedResourceError(`Cannot ${what}: the backend is closed`);
  }

  #timeout(options: KuboCallOptions | undefined, what: string): number | undefined {
    return checkTimeout(options?.timeoutMs ?? this.#timeoutMs, what);
  }

  #call<T>(spec: CallSpec, options: KuboCallOptions | undefined, fn: CallFn<T>): Promise<T> {
    try {
      this.#checkOpen(spec.what);
      const timeoutMs = this.#timeout(options, spec.what);
      return runCall(spec, this.#settings, options?.signal, deadlineFor(timeoutMs), timeoutMs, fn);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #stat(arg: string, signal: AbortSignal, left: number | undefined): Promise<StatResult> {
    const stat = await this.#rpc.client.files.stat(arg, { signal, ...timeout(left) });
    return {
      cid: stat.cid,
      type: statType(stat.type),
      size: Number(stat.size),
      cumulativeSize: Number(stat.cumulativeSize),
      blocks: Number(stat.blocks),
    };
  }

  /**
   * Uploads entries through `addAll`. An input that fails mid-way makes the
   * client abort the request; that failure (not the abort) is rethrown. The
   * inputs' signal aborts when the call ends, closing files and cancelling
   * streams still being read.
   */
  async #addEntries(
    makeEntries: (
      signal: AbortSignal,
    ) => UploadEntries | Promise<UploadEntries>,
    options: AddAllOptions & KuboCallOptions,
    many: boolean,
    input?: AddInput,
  ): Promise<AddAllResult[]> {
    try {
      const layout = resolveLayout(options, "add");
      const pin = checkFlag(options.pin, true, "add", "pin");
      return await this.#call({ what: "add", command: "add" }, options, async (signal, left) => {
        const ended = new AbortController();
        const inputSignal = AbortSignal.any([signal, ended.signal]);
        const failure: Failure = {};
        const results: AddAllResult[] = [];
        try {
          const entries = recordFailures(await makeEntries(inputSignal), failure);
          // No request for nothing (the daemon would refuse an empty upload).
          const first = await entries.next();
          if (first.done) throw new InvalidInputError("Cannot add: nothing to add");
          try {
            for await (
              const entry of this.#rpc.client.addAll(prepend(first.value, entries), {
                cidVersion: layout.cidVersion,
                rawLeaves: layout.rawLeaves,
                chunker: `size-${layout.chunkSize}`,
                hashAlg: "sha2-256",
                pin,
                wrapWithDirectory: many && layout.wrapWithDirectory,
                signal,
                ...timeout(left),
              })
            ) {
              results.push({ path: entry.path, cid: entry.cid, size: Number(entry.size) });
            }
          } catch (error) {
            // The client aborts the request when an input fails: the input's
            // failure is what the caller needs.
            throw failure.error ?? error;
          }
        } finally {
          ended.abort(new Error("Cannot read input: the add has ended"));
        }
        if (failure.error !== undefined) throw failure.error;
        if (results.length === 0) throw new InvalidInputError("Cannot add: nothing to add");
        return results;
      });
    } catch (error) {
      // A stream the add never started reading is released.
      if (input instanceof ReadableStream && !input.locked) {
        await input.cancel(error).catch(() => {});
      }
      throw error;
    }
  }

  // Blocks

  async #blockGet(cid: CidLike, options: KuboCallOptions = {}): Promise<Uint8Array> {
    const parsed = parseCid(cid, "get block");
    return await this.#call(
      { what: "get block", command: "block/get", subject: parsed.toString(), idempotent: true },
      options,
      (signal, left) => this.#rpc.client.block.get(parsed, { signal, ...timeout(left) }),
    );
  }

  async #blockPut(
    bytes: Uint8Array,
    options: BlockPutOptions & KuboCallOptions = {},
  ): Promise<CID> {
    const what = "put block";
    const { cid: expected, codec, pin } = await blockToPut(bytes, options, what);
    return await this.#call(
      { what, command: "block/put", subject: expected.toString() },
      options,
      async (signal, left) => {
        // Kubo's `--cid-codec` (its `--format` is deprecated); the client
        // sends every option as a parameter.
        const stored = await this.#rpc.client.block.put(bytes, {
          cidCodec: codec.name,
          mhtype: "sha2-256",
          signal,
          ...timeout(left),
        } as BlockPutClientOptions);
        checkSameBlock(stored, expected, what);
        // Kubo's `block put --pin` pins recursively; a direct pin is asked for here.
        if (pin) {
          await this.#rpc.client.pin.add(expected, { recursive: false, signal, ...timeout(left) });
        }
        return expected;
      },
    );
  }

  async #blockHas(cid: CidLike, options: KuboCallOptions = {}): Promise<boolean> {
    const parsed = parseCid(cid, "check block");
    return await this.#call(
      { what: "check block", command: "block/stat", subject: parsed.toString(), idempotent: true },
      options,
      async (signal, left) => {
        try {
          // `offline`: look in the daemon's store only, never the network.
          await this.#rpc.client.block.stat(
            parsed,
            {
              offline: true,
              signal,
              ...timeout(left),
            } as Parameters<KuboRpc["client"]["block"]["stat"]>[1],
          );
          return true;
        } catch (error) {
          const typed = toTypedError(error, {
            what: "check block",
            command: "block/stat",
            subject: parsed.toString(),
            address: this.#url.href,
          });
          if (typed instanceof NotFoundError) return false;
          throw typed;
        }
      },
    );
  }

  async #blockStat(cid: CidLike, options: KuboCallOptions = {}): Promise<BlockStat> {
    const parsed = parseCid(cid, "stat block");
    return await this.#call(
      { what: "stat block", command: "block/stat", subject: parsed.toString(), idempotent: true },
      options,
      async (signal, left) => {
        const stat = await this.#rpc.client.block.stat(parsed, { signal, ...timeout(left) });
        return { cid: parsed, size: Number(stat.size) };
      },
    );
  }

  async #blockRm(cid: CidLike, options: BlockRmOptions & KuboCallOptions = {}): Promise<void> {
    const parsed = parseCid(cid, "remove block");
    const force = checkFlag(options.force, false, "remove block", "force");
    const spec = { what: "remove block", command: "block/rm", subject: parsed.toString() };
    await this.#call(spec, options, async (signal, left) => {
      for await (
        const removed of this.#rpc.client.block.rm(parsed, { force, signal, ...timeout(left) })
      ) {
        if (removed.error === undefined || removed.error === null) continue;
        // The daemon reports each block's failure in the stream, not as an HTTP error.
        const failure = Object.assign(new Error(String(removed.error.message)), {
          name: "HTTPError",
          response: new Response(null, {
            status: 500,
            headers: { "content-type": "application/json" },
          }),
        });
        throw toTypedError(failure, { ...spec, address: this.#url.href });
      }
    });
  }

  // Pins

  async #pinAdd(path: CidLike, options: PinAddOptions & KuboCallOptions = {}): Promise<CID> {
    const { arg, subject } = ipfsPath(path, "pin");
    const recursive = checkFlag(options.recursive, true, "pin", "recursive");
    return await this.#call(
      { what: "pin", command: "pin/add", subject },
      options,
      (signal, left) => this.#rpc.client.pin.add(arg, { recursive, signal, ...timeout(left) }),
    );
  }

  async #pinRm(path: CidLike, options: PinRmOptions & KuboCallOptions = {}): Promise<CID> {
    const { arg, subject } = ipfsPath(path, "unpin");
    const recursive = checkFlag(options.recursive, true, "unpin", "recursive");
    return await this.#call(
      { what: "unpin", command: "pin/rm", subject },
      options,
      (signal, left) => this.#rpc.client.pin.rm(arg, { recursive, signal, ...timeout(left) }),
    );
  }

  async #pinLs(options: PinLsOptions & KuboCallOptions = {}): Promise<PinEntry[]> {
    const type = options.type ?? "all";
    if (!["all", "recursive", "direct", "indirect"].includes(type)) {
      throw new InvalidInputError(
        `Cannot list pins: type must be all, recursive, direct or indirect: received ${
          String(type)
        }`,
      );
    }
    let paths: string[] | undefined;
    if (options.paths !== undefined) {
      if (!Array.isArray(options.paths)) {
        throw new InvalidInputError(
          `Cannot list pins: paths must be an array: received ${typeof options.paths}`,
        );
      }
      paths = options.paths.map((path) => ipfsPath(path, "list pins").arg);
    }
    return await this.#call(
      {
        what: "list pins",
        command: "pin/ls",
        subject: paths?.join(", "),
        idempotent: true,
      },
      options,
      async (signal, left) => {
        const out: PinEntry[] = [];
        for await (
          const pin of this.#rpc.client.pin.ls({
            type,
            ...(paths === undefined ? {} : { paths }),
            signal,
            ...timeout(left),
          })
        ) {
          out.push({ cid: pin.cid, type: pinType(pin.type) });
        }
        return out;
      },
    );
  }

  // DAG

  async #dagPut(value: unknown, options: DagPutOptions & KuboCallOptions = {}): Promise<CID> {
    const what = "put dag node";
    const { cid: expected, bytes, codec, pin } = await dagNodeToPut(value, options, what);
    return await this.#call(
      { what, command: "dag/put", subject: expected.toString() },
      options,
      async (signal, left) => {
        // Encoded here, so the daemon stores exactly these bytes.
        const stored = await this.#rpc.client.dag.put(bytes, {
          inputCodec: codec.name,
          storeCodec: codec.name,
          hashAlg: "sha2-256",
          pin,
          signal,
          ...timeout(left),
        });
        checkSameBlock(stored, expected, what);
        return expected;
      },
    );
  }

  async #dagGet(
    path: CidLike,
    options: DagGetOptions & KuboCallOptions = {},
  ): Promise<DagGetResult> {
    const what = "get dag node";
    const { root, segments } = splitPath(path, options.path, what);
    return await this.#call(
      { what, command: "block/get", subject: pathString(path), idempotent: true },
      options,
      async (signal, left) => {
        const resolved = await resolvePath(
          root,
          segments,
          (cid) => this.#rpc.client.block.get(cid, { signal, ...timeout(left) }),
          what,
          checkpointIfCancelled,
        );
        return { value: resolved.value, remainderPath: "" };
      },
    );
  }

  async #dagResolve(path: CidLike, options: KuboCallOptions = {}): Promise<DagResolveResult> {
    const what = "resolve dag path";
    const { root, segments } = splitPath(path, undefined, what);
    return await this.#call(
      { what, command: "block/get", subject: pathString(path), idempotent: true },
      options,
      async (signal, left) => {
        const resolved = await resolvePath(
          root,
          segments,
          (cid) => this.#rpc.client.block.get(cid, { signal, ...timeout(left) }),
          what,
          checkpointIfCancelled,
          false,
        );
        return { cid: resolved.cid, remainderPath: resolved.remainderPath };
      },
    );
  }

  // Repository

  #gc(options: KuboCallOptions = {}): Promise<CID[]> {
    return this.#call(
      { what: "collect garbage", command: "repo/gc" },
      options,
      async (signal, left) => {
        const removed: CID[] = [];
        for await (const entry of this.#rpc.client.repo.gc({ signal, ...timeout(left) })) {
          if (entry.err !== undefined && entry.err !== null) {
            throw new Error(`Cannot collect garbage: ${messageOf(entry.err)}`);
          }
          if (entry.cid !== undefined) removed.push(Cid.createV1(raw.code, entry.cid.multihash));
        }
        return removed;
      },
    );
  }

  #repoStat(options: KuboCallOptions = {}): Promise<RepoStat> {
    return this.#call(
      { what: "stat repository", command: "repo/stat", idempotent: true },
      options,
      async (signal, left) => {
        const stat = await this.#rpc.client.repo.stat({ signal, ...timeout(left) });
        return {
          numObjects: Number(stat.numObjects),
          repoSize: Number(stat.repoSize),
          repoPath: String(stat.repoPath),
        };
      },
    );
  }

  // Network

  async #namePublish(
    path: CidLike,
    options: NamePublishOptions & KuboCallOptions = {},
  ): Promise<NamePublishResult> {
    const what = "publish name";
    const { arg, subject } = ipfsPath(path, what);
    const key = checkText(options.key, what, "key");
    const lifetime = checkText(options.lifetime, what, "lifetime");
    const ttl = checkText(options.ttl, what, "ttl");
    const allowOffline = checkFlag(options.allowOffline, false, what, "allowOffline");
    return await this.#call(
      { what, command: "name/publish", subject },
      options,
      async (signal, left) => {
        const published = await this.#rpc.client.name.publish(arg, {
          ...(key === undefined ? {} : { key }),
          ...(lifetime === undefined ? {} : { lifetime }),
          ...(ttl === undefined ? {} : { ttl }),
          allowOffline,
          signal,
          ...timeout(left),
        });
        return { name: String(published.name), value: String(published.value) };
      },
    );
  }

  async #nameResolve(
    name: string,
    options: NameResolveOptions & KuboCallOptions = {},
  ): Promise<string> {
    const what = "resolve name";
    if (typeof name !== "string" || name.replace(/^\/ipns\//, "").replace(/\/+$/, "") === "") {
      throw new InvalidInputError(
        `Cannot ${what}: name must be an IPNS name or /ipns/ path: received ${
          typeof name === "string" ? JSON.stringify(name) : typeof name
        }`,
      );
    }
    const recursive = checkFlag(options.recursive, true, what, "recursive");
    const nocache = checkFlag(options.nocache, false, what, "nocache");
    const arg = name.startsWith("/ipns/") ? name : `/ipns/${name}`;
    return await this.#call(
      { what, command: "name/resolve", subject: arg },
      options,
      async (signal, left) => {
        let path: string | undefined;
        for await (
          const value of this.#rpc.client.name.resolve(arg, {
            recursive,
            nocache,
            signal,
            ...timeout(left),
          })
        ) {
          path = value;
        }
        if (path === undefined) {
          throw new NotFoundError(`Cannot ${what}: the daemon found nothing for ${arg}`, arg);
        }
        return path;
      },
    );
  }

  async #pubsubPublish(
    topic: string,
    data: Uint8Array,
    options: KuboCallOptions = {},
  ): Promise<void> {
    const what = "publish message";
    checkTopic(topic, what);
    if (!(data instanceof Uint8Array)) {
      throw new InvalidInputError(
        `Cannot ${what}: data must be a Uint8Array: received ${typeof data}`,
      );
    }
    await this.#call(
      { what, command: "pubsub/pub", subject: topic },
      options,
      (signal, left) => this.#rpc.client.pubsub.publish(topic, data, { signal, ...timeout(left) }),
    );
  }

  #pubsubSubscribe(topic: string, options: KuboCallOptions = {}): ReadableStream<PubsubMessage> {
    const what = "subscribe";
    this.#checkOpen(what);
    checkTopic(topic, what);
    const timeoutMs = checkTimeout(options.timeoutMs, what);
    const deadline = deadlineFor(timeoutMs);
    const request = new AbortController();
    const spec = { what, command: "pubsub/sub", subject: topic };
    let messages: AsyncIterator<unknown> | undefined;
    const close = async () => {
      request.abort(new Error("Cannot subscribe: the subscription has ended"));
      const open = messages;
      messages = undefined;
      await open?.return?.().catch(() => {});
    };
    return new ReadableStream<PubsubMessage>({
      pull: async (controller) => {
        let message: PubsubMessage | undefined;
        try {
          message = await streamStep(
            spec,
            this.#settings,
            options.signal,
            deadline,
            timeoutMs,
            request,
            async () => {
              if (messages === undefined) {
                const response = await this.#rpc.post("pubsub/sub", {
                  args: [base64url.encode(new TextEncoder().encode(topic))],
                  signal: request.signal,
                });
                messages = response.ndjson();
              }
              while (true) {
                const next = await messages.next();
                if (next.done) return undefined;
                const parsed = toPubsubMessage(next.value);
                if (parsed !== undefined) return parsed;
              }
            },
          );
        } catch (error) {
          await close();
          throw error;
        }
        if (message === undefined) {
          await close();
          controller.close();
        } else controller.enqueue(message);
      },
      cancel: close,
    }, { highWaterMark: 0 });
  }

  #pubsubLs(options: KuboCallOptions = {}): Promise<string[]> {
    return this.#call(
      { what: "list topics", command: "pubsub/ls", idempotent: true },
      options,
      (signal, left) => this.#rpc.client.pubsub.ls({ signal, ...timeout(left) }),
    );
  }

  async #pubsubPeers(topic?: string, options: KuboCallOptions = {}): Promise<string[]> {
    const what = "list topic peers";
    if (topic !== undefined) checkTopic(topic, what);
    return await this.#call(
      { what, command: "pubsub/peers", subject: topic, idempotent: true },
      options,
      async (signal, left) => {
        const response = await this.#rpc.post("pubsub/peers", {
          args: topic === undefined ? [] : [base64url.encode(new TextEncoder().encode(topic))],
          params: rpcTimeout(left),
          signal,
        });
        const body = await response.json() as { Strings?: unknown };
        return Array.isArray(body.Strings) ? body.Strings.map(String) : [];
      },
    );
  }

  #swarmPeers(options: KuboCallOptions = {}): Promise<SwarmPeer[]> {
    return this.#call(
      { what: "list peers", command: "swarm/peers", idempotent: true },
      options,
      async (signal, left) => {
        const peers = await this.#rpc.client.swarm.peers({ signal, ...timeout(left) });
        return peers.map((peer) => ({ peer: peer.peer.toString(), addr: peer.addr.toString() }));
      },
    );
  }

  async #swarmChange(
    action: "connect" | "disconnect",
    addr: string,
    options: KuboCallOptions = {},
  ): Promise<void> {
    const what = `${action} peer`;
    if (typeof addr !== "string" || !addr.startsWith("/")) {
      throw new InvalidInputError(
        `Cannot ${what}: addr must be a multiaddress: received ${
          typeof addr === "string" ? JSON.stringify(addr) : typeof addr
        }`,
      );
    }
    await this.#call(
      { what, command: `swarm/${action}`, subject: addr },
      options,
      async (signal, left) => {
        const response = await this.#rpc.post(`swarm/${action}`, {
          args: [addr],
          params: rpcTimeout(left),
          signal,
        });
        await response.json();
      },
    );
  }

  async #findProvs(
    cid: CidLike,
    options: FindProvsOptions & KuboCallOptions = {},
  ): Promise<PeerInfo[]> {
    const what = "find providers";
    const parsed = parseCid(cid, what);
    const count = options.numProviders ?? 20;
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new InvalidInputError(
        `Cannot ${what}: numProviders must be an integer >= 1: received ${String(count)}`,
      );
    }
    return await this.#call(
      { what, command: "routing/findprovs", subject: parsed.toString() },
      options,
      async (signal, left) => {
        const found = new Map<string, PeerInfo>();
        for (
          const event of await this.#routingEvents(
            "findprovs",
            [parsed.toString()],
            {
              "num-providers": count,
            },
            signal,
            left,
          )
        ) {
          if (event.Type !== ROUTING_PROVIDER) continue;
          for (const peer of responses(event)) found.set(peer.id, peer);
        }
        return [...found.values()];
      },
    );
  }

  async #findPeer(peerId: string, options: KuboCallOptions = {}): Promise<PeerInfo> {
    const what = "find peer";
    checkPeerId(peerId, what);
    return await this.#call(
      { what, command: "routing/findpeer", subject: peerId },
      options,
      async (signal, left) => {
        for (
          const event of await this.#routingEvents("findpeer", [peerId], {}, signal, left)
        ) {
          if (event.Type !== ROUTING_FINAL_PEER) continue;
          const [peer] = responses(event);
          if (peer !== undefined) return peer;
        }
        throw new NotFoundError(
          `Cannot ${what}: the daemon found no addresses for ${peerId}`,
          peerId,
        );
      },
    );
  }

  async #provide(cid: CidLike, options: KuboCallOptions = {}): Promise<void> {
    const what = "provide";
    const parsed = parseCid(cid, what);
    await this.#call(
      { what, command: "routing/provide", subject: parsed.toString() },
      options,
      async (signal, left) => {
        for (
          const event of await this.#routingEvents("provide", [parsed.toString()], {}, signal, left)
        ) {
          if (event.Type === ROUTING_QUERY_ERROR) {
            throw new Error(`Cannot ${what}: ${String(event.Extra ?? "query error")}`);
          }
        }
      },
    );
  }

  async #routingGet(key: string, options: KuboCallOptions = {}): Promise<Uint8Array> {
    const what = "get routing value";
    checkKey(key, what);
    return await this.#call(
      { what, command: "routing/get", subject: key },
      options,
      async (signal, left) => {
        for (const event of await this.#routingEvents("get", [key], {}, signal, left)) {
          if (event.Type === ROUTING_VALUE && typeof event.Extra === "string") {
            return Uint8Array.from(atob(event.Extra), (char) => char.charCodeAt(0));
          }
        }
        throw new NotFoundError(`Cannot ${what}: no value for ${key}`, key);
      },
    );
  }

  async #routingPut(key: string, value: Uint8Array, options: KuboCallOptions = {}): Promise<void> {
    const what = "put routing value";
    checkKey(key, what);
    if (!(value instanceof Uint8Array)) {
      throw new InvalidInputError(
        `Cannot ${what}: value must be a Uint8Array: received ${typeof value}`,
      );
    }
    await this.#call(
      { what, command: "routing/put", subject: key },
      options,
      async (signal, left) => {
        for await (
          const _ of this.#rpc.client.routing.put(key, value, { signal, ...timeout(left) })
        ) { /* the daemon reports progress; the call's end is what counts */ }
      },
    );
  }

  async #routingEvents(
    command: string,
    args: string[],
    params: Record<string, string | number | undefined>,
    signal: AbortSignal,
    left: number | undefined,
  ): Promise<RoutingEvent[]> {
    const response = await this.#rpc.post(`routing/${command}`, {
      args,
      params: { ...params, ...rpcTimeout(left) },
      signal,
    });
    const events: RoutingEvent[] = [];
    for await (const event of response.ndjson()) events.push(event as RoutingEvent);
    return events;
  }
}

/** Kubo's routing query events (`routing.QueryEventType`). */
const ROUTING_FINAL_PEER = 2;
const ROUTING_QUERY_ERROR = 3;
const ROUTING_PROVIDER = 4;
const ROUTING_VALUE = 5;

interface RoutingEvent {
  Type?: number;
  Extra?: unknown;
  Responses?: Array<{ ID?: unknown; Addrs?: unknown }> | null;
}

function responses(event: RoutingEvent): PeerInfo[] {
  return (event.Responses ?? []).map((peer) => ({
    id: String(peer.ID),
    addrs: Array.isArray(peer.Addrs) ? peer.Addrs.map(String) : [],
  }));
}

type BlockPutClientOptions = Parameters<KuboRpc["client"]["block"]["put"]>[1];

/** An entry for the client's `addAll`: a file (`path` optional for `add`) or a directory. */
type UploadEntry =
  | { path?: string; content: AsyncIterable<Uint8Array> }
  | { path: string; content?: undefined };

/** What `makeEntries` gives `#addEntries`. */
type UploadEntries = Iterable<UploadEntry> | AsyncIterable<UploadEntry>;

/** The first failure of an input, which the client swallows. */
interface Failure {
  error?: unknown;
}

/**
 * Passes entries (and their contents) through, keeping the first failure:
 * the client swallows it and aborts the request instead.
 */
async function* recordFailures(
  entries: UploadEntries,
  failure: Failure,
): AsyncGenerator<UploadEntry, void, undefined> {
  try {
    for await (const entry of entries) {
      if (entry.content === undefined) yield { path: entry.path };
      else {
        yield {
          ...(entry.path === undefined ? {} : { path: entry.path }),
          content: recordContent(entry.content, failure),
        };
      }
    }
  } catch (error) {
    failure.error ??= error;
    throw error;
  }
}

/** `first`, then the rest of `rest`. */
async function* prepend<T>(first: T, rest: AsyncIterator<T>): AsyncGenerator<T, void, undefined> {
  let done = false;
  try {
    yield first;
    while (true) {
      const next = await rest.next();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await rest.return?.();
  }
}

async function* recordContent(
  content: AsyncIterable<Uint8Array>,
  failure: Failure,
): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    yield* content;
  } catch (error) {
    failure.error ??= error;
    throw error;
  }
}

/** The entries of `addAll` with checked, normalized paths and counted contents. */
async function* uploadEntries(
  entries: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
  onProgress: AddOptions["onProgress"],
  signal: AbortSignal,
): AsyncGenerator<UploadEntry, void, undefined> {
  for await (const entry of entries) {
    const given = entry?.path;
    if (typeof given !== "string") {
      throw new InvalidInputError(
        `Cannot add: every entry needs a path: received ${given === null ? "null" : typeof given}`,
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
    if (entry.content === undefined) yield { path };
    else yield { path, content: byteSource(entry.content, path, onProgress, "add", signal) };
  }
}

/** A CID or path as the daemon takes it (`/ipfs/<cid>/...`), checked here first. */
function ipfsPath(path: CidLike, what: string): { arg: string; subject: string } {
  const { root, segments } = splitPath(path, undefined, what);
  return { arg: `/ipfs/${[root.toString(), ...segments].join("/")}`, subject: pathString(path) };
}

/** The daemon stored what was sent: the same multihash (versions may differ). */
function checkSameBlock(stored: CID, expected: CID, what: string): void {
  if (!equals(stored.multihash.bytes, expected.multihash.bytes)) {
    throw new Error(
      `Cannot ${what}: the daemon stored ${stored}, expected ${expected} (a hash mismatch)`,
    );
  }
}

function checkText(value: unknown, what: string, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new InvalidInputError(
      `Cannot ${what}: ${name} must be a non-empty string: received ${typeof value}`,
    );
  }
  return value;
}

function checkTopic(topic: unknown, what: string): void {
  if (typeof topic !== "string" || topic === "") {
    throw new InvalidInputError(
      `Cannot ${what}: topic must be a non-empty string: received ${typeof topic}`,
    );
  }
}

function checkKey(key: unknown, what: string): void {
  if (typeof key !== "string" || !/^\/[^/]+\/./.test(key)) {
    throw new InvalidInputError(
      `Cannot ${what}: key must be a routing key such as /ipns/<name>: received ${
        typeof key === "string" ? JSON.stringify(key) : typeof key
      }`,
    );
  }
}

function checkPeerId(peerId: unknown, what: string): void {
  if (
    typeof peerId !== "string" || !/^[1-9A-HJ-NP-Za-km-z]{40,100}$|^[a-z2-7]{50,100}$/.test(peerId)
  ) {
    throw new InvalidInputError(
      `Cannot ${what}: not a peer ID: received ${
        typeof peerId === "string" ? JSON.stringify(peerId) : typeof peerId
      }`,
    );
  }
}

function checkRetry(value: unknown): RetrySettings | false {
  if (value === false) return false;
  if (value === undefined) return DEFAULT_RETRY;
  if (value === null || typeof value !== "object") {
    throw new InvalidInputError(
      `Cannot connect to Kubo: retry must be an object or false: received ${typeof value}`,
    );
  }
  const options = value as KuboRetryOptions;
  const attempts = options.attempts ?? DEFAULT_RETRY.attempts;
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  if (!Number.isSafeInteger(attempts) || attempts < 1) {
    throw new InvalidInputError(
      `Cannot connect to Kubo: retry.attempts must be an integer >= 1: received ${attempts}`,
    );
  }
  for (const [name, delay] of [["baseDelayMs", baseDelayMs], ["maxDelayMs", maxDelayMs]] as const) {
    if (typeof delay !== "number" || !(delay >= 0) || !Number.isFinite(delay)) {
      throw new InvalidInputError(
        `Cannot connect to Kubo: retry.${name} must be a number >= 0: received ${delay}`,
      );
    }
  }
  return { attempts, baseDelayMs, maxDelayMs };
}

/** `{ timeout }` for the client when a deadline is set: the daemon's own timeout. */
function timeout(left: number | undefined): { timeout?: number } {
  return left === undefined ? {} : { timeout: left };
}

/**
 * `{ timeout }` for a raw command: Kubo reads it as a Go duration, so it
 * needs its unit (the typed client adds it itself).
 */
function rpcTimeout(left: number | undefined): { timeout?: string } {
  return left === undefined ? {} : { timeout: `${left}ms` };
}

/** UnixFS types as Kubo's `ls` numbers them (`unixfs.pb` `Data.DataType`). */
function linkType(type: unknown): UnixFsType {
  switch (type) {
    case 1: // Directory
    case 5: // HAMTShard
      return "directory";
    case 4: // Symlink
      return "symlink";
    default: // Raw, File, Metadata
      return "file";
  }
}

function statType(type: unknown): UnixFsType {
  if (type === "directory" || type === "symlink") return type;
  return "file";
}

function pinType(type: unknown): PinType {
  const text = String(type);
  if (text === "recursive" || text === "direct") return text;
  // Kubo reports "indirect through <cid>".
  return "indirect";
}

/** Kubo and js-ipfs refuse an offset past the end; the kit reads nothing then. */
function isPastEnd(error: unknown): boolean {
  return error instanceof Error &&
    /offset was past the end of file|offset must be less than the file size/i.test(error.message);
}

function toPubsubMessage(value: unknown): PubsubMessage | undefined {
  const message = value as {
    from?: unknown;
    data?: unknown;
    seqno?: unknown;
    topicIDs?: unknown;
  };
  if (typeof message?.from !== "string") return undefined;
  const topics = Array.isArray(message.topicIDs) ? message.topicIDs : [];
  const out: PubsubMessage = {
    from: message.from,
    topic: new TextDecoder().decode(fromRpc(topics[0])),
    data: fromRpc(message.data),
  };
  if (typeof message.seqno === "string" && message.seqno !== "") {
    let sequence = 0n;
    for (const byte of fromRpc(message.seqno)) sequence = (sequence << 8n) | BigInt(byte);
    out.sequenceNumber = sequence;
  }
  return out;
}

/** Bytes in Kubo's RPC wire form: multibase base64url (`u...`). */
function fromRpc(value: unknown): Uint8Array {
  if (typeof value !== "string" || value === "" || value === "u") return new Uint8Array();
  return base64url.decode(value.startsWith("u") ? value : `u${value}`);
}

function malformed(command: string, value: unknown): Error {
  return new Error(
    `Cannot read the daemon's ${command} answer: unexpected ${
      JSON.stringify(value)?.slice(0, 200)
    }`,
  );
}
