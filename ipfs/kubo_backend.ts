/**
 * The Kubo backend: the kit's {@linkcode ContentStore} over a Kubo daemon's
 * RPC API, through `kubo-rpc-client`.
 *
 * - The API's address comes from a URL, a multiaddress, or the daemon's
 *   `$IPFS_PATH/api` file (`parseKuboApiAddress`, `readKuboApiFile`).
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

import { equals } from "npm:multiformats@14.0.5/bytes";
import { CID as Cid } from "npm:multiformats@14.0.5/cid";
import { checkpointIfCancelled, currentTime } from "../runtime/checkpoint.ts";
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
  StatOptions,
  StatResult,
  SwarmApi,
  UnixFsType,
  VersionResult,
} from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";
import { parseKuboApiAddress, readKuboApiFile } from "./kubo_address.ts";
import type { KuboBackendOptions, KuboCallOptions, KuboRetryOptions } from "./kubo_options.ts";
import { checkCount, checkEntries, checkFlag, messageOf, pathString } from "./_arguments.ts";
import { writeToTarget } from "./_fs_export.ts";
import { scanPath, toEntries } from "./_fs_import.ts";
import { byteSource } from "./_input.ts";
import { kuboBlockApi } from "./_kubo_block_api.ts";
import {
  checkTimeout,
  deadlineFor,
  type RetrySettings,
  runCall,
  streamStep,
} from "./_kubo_call.ts";
import { createKuboRpc } from "./_kubo_client.ts";
import { KuboConnection } from "./_kubo_connection.ts";
import { kuboDagApi } from "./_kubo_dag_api.ts";
import { kuboFilesApi } from "./_kubo_files_api.ts";
import { kuboNameApi } from "./_kubo_name_api.ts";
import { kuboPinApi } from "./_kubo_pin_api.ts";
import { kuboPubsubApi } from "./_kubo_pubsub_api.ts";
import { kuboRepoApi } from "./_kubo_repo_api.ts";
import { kuboRoutingApi } from "./_kubo_routing_api.ts";
import { kuboSwarmApi } from "./_kubo_swarm_api.ts";
import { emptyResult, extractTar } from "./_kubo_tar.ts";
import { refuseLinks, upload, uploadEntries } from "./_kubo_upload.ts";
import { clientTimeout, ipfsPath, malformed, rpcTimeout } from "./_kubo_wire.ts";

const HEALTH_TIMEOUT_MS = 5_000;
const HEALTH_BLOCK = new TextEncoder().encode("ipfs-kit health check\n");
const DEFAULT_RETRY: RetrySettings = { attempts: 4, baseDelayMs: 100, maxDelayMs: 2_000 };

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
  #kubo: KuboConnection;

  /** Raw blocks, as Kubo's `ipfs block` commands. */
  readonly block: BlockApi<KuboCallOptions>;
  /** Pins, as Kubo's `ipfs pin` commands. */
  readonly pin: PinApi<KuboCallOptions>;
  /** IPLD nodes: put through `dag put`; paths followed here, block by block. */
  readonly dag: DagApi<KuboCallOptions>;
  /** Garbage collection and repository statistics. */
  readonly repo: RepoApi<KuboCallOptions>;
  /** IPNS. */
  readonly name: NameApi<KuboCallOptions>;
  /** Publish/subscribe (Kubo needs `--enable-pubsub-experiment`). */
  readonly pubsub: PubsubApi<KuboCallOptions>;
  /** Connections to peers. */
  readonly swarm: SwarmApi<KuboCallOptions>;
  /** Content and peer routing. */
  readonly routing: RoutingApi<KuboCallOptions>;
  /** MFS: the daemon's own, through its `files` commands. */
  readonly files: FilesApi<KuboCallOptions>;

  /** @ignore */
  private constructor(kubo: KuboConnection) {
    this.#kubo = kubo;
    this.block = kuboBlockApi(kubo);
    this.pin = kuboPinApi(kubo);
    this.dag = kuboDagApi(kubo);
    this.repo = kuboRepoApi(kubo);
    this.name = kuboNameApi(kubo);
    this.pubsub = kuboPubsubApi(kubo);
    this.swarm = kuboSwarmApi(kubo);
    this.routing = kuboRoutingApi(kubo);
    this.files = kuboFilesApi(kubo);
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
  static async connect(options?: KuboBackendOptions): Promise<KuboBackend> {
    if (options === undefined) options = {};
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
    return new KuboBackend(new KuboConnection(rpc, url, timeoutMs, retry));
  }

  /** The RPC API's base URL (ending in `/api/v0`). */
  get url(): URL {
    return new URL(this.#kubo.url.href);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#kubo.closed;
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
  async add(input: AddInput, options?: AddOptions & KuboCallOptions): Promise<AddResult> {
    options ??= {};
    const { onProgress } = options;
    const results = await upload(
      this.#kubo,
      (signal) => [{ content: byteSource(input, "", onProgress, "add", signal) }],
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
    options?: AddAllOptions & KuboCallOptions,
  ): Promise<AddAllResult[]> {
    checkEntries(entries);
    options ??= {};
    const { onProgress } = options;
    return await upload(
      this.#kubo,
      (signal) => uploadEntries(entries, onProgress, signal),
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
    options?: AddPathOptions & KuboCallOptions,
  ): Promise<AddAllResult[]> {
    options ??= {};
    const { onProgress } = options;
    const hidden = checkFlag(options.hidden, false, "add", "hidden");
    const followSymlinks = checkFlag(options.followSymlinks, false, "add", "followSymlinks");
    return await upload(
      this.#kubo,
      async (signal) => {
        const scanned = await scanPath(path, { hidden, followSymlinks }, checkpointIfCancelled);
        refuseLinks(scanned);
        return uploadEntries(toEntries(scanned, signal), onProgress, signal);
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
  cat(path: CidLike, options?: CatOptions & KuboCallOptions): ReadableStream<Uint8Array> {
    options ??= {};
    this.#kubo.checkOpen("cat");
    const { arg, subject } = ipfsPath(path, "cat");
    const offset = checkCount(options.offset ?? 0, "offset");
    const length = options.length === undefined ? undefined : checkCount(options.length, "length");
    const timeoutMs = this.#kubo.timeout(options, "cat");
    const deadline = deadlineFor(timeoutMs);
    const request = new AbortController();
    const client = this.#kubo.rpc.client;
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
            this.#kubo.settings,
            options.signal,
            deadline,
            timeoutMs,
            request,
            async (left) => {
              iterator ??= client.cat(arg, {
                offset,
                ...(length === undefined ? {} : { length }),
                signal: request.signal,
                ...clientTimeout(left),
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
    options?: GetOptions & KuboCallOptions,
  ): Promise<GetResult> {
    const { arg, subject } = ipfsPath(path, "get");
    return await this.#kubo.call(
      { what: "get", command: "get", subject },
      options,
      async (signal, left) => {
        return await writeToTarget(target, async (tmp) => {
          const stat = await this.#kubo.rpc.client.files.stat(arg, {
            signal,
            ...clientTimeout(left),
          });
          const result = emptyResult(stat.cid);
          await extractTar(
            this.#kubo.rpc.client.get(arg, { signal, ...clientTimeout(left) }),
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
  async ls(path: CidLike, options?: LsOptions & KuboCallOptions): Promise<LsEntry[]> {
    const { arg, subject } = ipfsPath(path, "list");
    const base = pathString(path);
    return await this.#kubo.call(
      { what: "list", command: "ls", subject, idempotent: true },
      options,
      async (signal, left) => {
        const stat = await this.#stat(arg, signal, left);
        if (stat.type !== "directory") {
          const name = base.includes("/") ? base.slice(base.lastIndexOf("/") + 1) : base;
          return [{ name, path: base, cid: stat.cid, type: stat.type, size: stat.size }];
        }
        const response = await this.#kubo.rpc.post("ls", {
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
  async stat(path: CidLike, options?: StatOptions & KuboCallOptions): Promise<StatResult> {
    const { arg, subject } = ipfsPath(path, "stat");
    return await this.#kubo.call(
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
  id(options?: KuboCallOptions): Promise<IdResult> {
    return this.#kubo.call(
      { what: "read identity", command: "id", idempotent: true },
      options,
      async (signal, left) => {
        const id = await this.#kubo.rpc.client.id({ signal, ...clientTimeout(left) });
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
  version(options?: KuboCallOptions): Promise<VersionResult> {
    return this.#kubo.call(
      { what: "read version", command: "version", idempotent: true },
      options,
      async (signal, left) => {
        const version = await this.#kubo.rpc.client.version({
          signal,
          ...clientTimeout(left),
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
  health(options?: KuboCallOptions): Promise<HealthResult> {
    const { signal, timeoutMs: given } = options ?? {};
    return withSignal(signal, async () => {
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
          given ?? this.#kubo.timeoutMs ?? HEALTH_TIMEOUT_MS,
          "check health",
        );
        await runCall(
          { what: "check health", command: "version" },
          { ...this.#kubo.settings, retry: false },
          undefined,
          deadlineFor(timeoutMs),
          timeoutMs,
          async (signal, left) => {
            await this.#kubo.rpc.client.version({ signal, ...clientTimeout(left) });
            const cid = await this.#kubo.rpc.client.block.put(HEALTH_BLOCK, {
              signal,
              ...clientTimeout(left),
            });
            const back = await this.#kubo.rpc.client.block.get(cid, {
              signal,
              ...clientTimeout(left),
            });
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
    this.#kubo.close();
    return Promise.resolve();
  }

  /** Closes the backend, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #stat(arg: string, signal: AbortSignal, left: number | undefined): Promise<StatResult> {
    const stat = await this.#kubo.rpc.client.files.stat(arg, { signal, ...clientTimeout(left) });
    return {
      cid: stat.cid,
      type: statType(stat.type),
      size: Number(stat.size),
      cumulativeSize: Number(stat.cumulativeSize),
      blocks: Number(stat.blocks),
    };
  }
}

/** Checks the `retry` option of `connect`; `undefined` is the default policy. */
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

/** Kubo and js-ipfs refuse an offset past the end; the kit reads nothing then. */
function isPastEnd(error: unknown): boolean {
  return error instanceof Error &&
    /offset was past the end of file|offset must be less than the file size/i.test(error.message);
}
