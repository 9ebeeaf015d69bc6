/**
 * The kit's high-level entry point: {@linkcode Kit.open} gives one
 * {@linkcode ContentStore} over the embedded node (the default, in a
 * per-user repository, no set-up) or over a Kubo daemon (`api`).
 *
 * A kit is a stack: the backend at the bottom, then any layers given at
 * open, each a {@linkcode ContentStore} wrapping the one below
 * ({@linkcode KitLayer}). Every call on the kit goes to the top layer, so a
 * layer decides what a call does: a read-through cache overrides `cat` and
 * `block.get` and forwards the rest; a durable submit queue overrides `add`
 * and `pin.add`. {@linkcode ForwardingStore} forwards every call to the store
 * below it; a layer extends it and overrides only what it changes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Kit } from "@ipfs-kit/kit/kit";
 *
 * await using kit = await Kit.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await kit.add("hello world\n");
 * assert.equal(cid.toString(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
 * assert.equal(await new Response(kit.cat(cid)).text(), "hello world\n");
 * ```
 *
 * @module
 */

import { withSignal } from "../runtime/timeouts.ts";
import type { ContentStore, SignalOptions } from "../ipfs/content_store.ts";
import { ForwardingStore } from "../ipfs/forwarding_store.ts";
import { TieredCache, type TieredCacheOptions } from "../cache/tiered_cache.ts";
import { CachedStore } from "../cache/cache_layer.ts";
import { EmbeddedNode, type RepoCreate } from "../ipfs/embedded_node.ts";
import { InvalidInputError } from "../ipfs/errors.ts";
import type { KuboBackendOptions } from "../ipfs/kubo_options.ts";
import { defaultRepoPath } from "./_data_dir.ts";
import type { Libp2pNetworkOptions } from "../net/libp2p_network.ts";
import type { NodeNetworkFactory } from "../ipfs/node_network.ts";

/**
 * A layer of a kit: given the store below it, returns the store that takes
 * the calls (usually a {@linkcode ForwardingStore} that overrides some
 * methods). Closing the returned store must close the one below it, as
 * `ForwardingStore.close` does.
 */
export type KitLayer = (below: ContentStore) => ContentStore | Promise<ContentStore>;

/** Options for {@linkcode Kit.open}. */
export interface KitOptions extends SignalOptions {
  /**
   * The embedded node's repository; created if missing. Default: the
   * per-user data folder ({@linkcode Kit.defaultRepo}). Not with `api`.
   */
  repo?: string;
  /**
   * When the embedded node creates its repository (see `EmbeddedNodeOptions`):
   * `"if-empty"` (default), `"never"` or `"force"`.
   */
  create?: RepoCreate;
  /**
   * Use a Kubo daemon instead of the embedded node: its RPC API as an
   * `http(s)` URL or a multiaddress (`/ip4/127.0.0.1/tcp/5001`), or a Kubo
   * repository (or its `api` file) whose `api` file names it; `true` reads
   * `$IPFS_PATH/api` (else `~/.ipfs/api`).
   */
  api?: string | URL | true;
  /**
   * The embedded node's durability: sync every block to disk before an
   * operation returns. Default `true`.
   */
  sync?: boolean;
  /** More options for the Kubo backend (headers, default timeout, retries). */
  kubo?: Omit<KuboBackendOptions, "api">;
  /**
   * The read-through cache right above the backend: every read through the
   * kit (`cat`, `block.get`) goes through it. Default: a 64 MiB memory tier,
   * with predictive prefetch on the Kubo backend (where a read costs a round
   * trip) and off on the embedded node (whose blocks are local). Give
   * `disk: { directory }` for a disk tier; `false` turns the cache off.
   */
  cache?: TieredCacheOptions | false;
  /** Layers over the cache, bottom first: the last one takes the kit's calls. */
  layers?: readonly KitLayer[];
  /**
   * Makes the embedded node a peer of the IPFS network (libp2p on the
   * repository's identity; `libp2pNetwork` of `@ipfs-kit/kit/net`): listen
   * addresses (default loopback, a free port), bootstrap peers (none;
   * `"default"` for Kubo's public list), DHT mode, limits. `true` takes the
   * defaults; a {@linkcode NodeNetworkFactory} of your own is used as it is.
   * Without it the node stays offline and opens no socket; libp2p is loaded
   * only when it is given.
   */
  network?: Libp2pNetworkOptions | true | NodeNetworkFactory;
}

/** Which backend a kit runs on. */
export type KitBackend = "embedded" | "kubo";

/**
 * The kit: a {@linkcode ContentStore} over the embedded node or a Kubo
 * daemon, with optional layers ({@linkcode KitLayer}) between the caller and
 * the backend. Every `ContentStore` method is the top layer's (the
 * backend's, without layers); {@linkcode Kit.store} is the backend itself.
 *
 * @example The embedded node in a repository of your choice
 * ```ts
 * import assert from "node:assert/strict";
 * import { Kit } from "@ipfs-kit/kit/kit";
 *
 * await using kit = await Kit.open({ repo: await Deno.makeTempDir() });
 * assert.equal(kit.backend, "embedded");
 * const [file, dir] = await kit.addAll([{ path: "docs/a.txt", content: "a" }]);
 * assert(file.path === "docs/a.txt" && dir.path === "docs");
 * const names = (await kit.ls(dir.cid)).map((entry) => entry.name);
 * assert.equal(names.join(), "a.txt");
 * ```
 *
 * @example A Kubo daemon
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { Kit } from "@ipfs-kit/kit/kit";
 *
 * await using kit = await Kit.open({ api: "http://127.0.0.1:5001" });
 * assert.equal(kit.backend, "kubo");
 * ```
 */
export class Kit extends ForwardingStore {
  #store: ContentStore;
  #cache: TieredCache | undefined;
  #backend: KitBackend;
  #location: string;
  #closed = false;

  /** @ignore */
  private constructor(
    top: ContentStore,
    parts: {
      store: ContentStore;
      cache: TieredCache | undefined;
      backend: KitBackend;
      location: string;
    },
  ) {
    super(top);
    this.#store = parts.store;
    this.#cache = parts.cache;
    this.#backend = parts.backend;
    this.#location = parts.location;
  }

  /**
   * The embedded node's default repository, the per-user data folder:
   * `$IPFS_KIT_REPO` when set; else `$XDG_DATA_HOME/ipfs-kit` (or
   * `~/.local/share/ipfs-kit`) on Linux, `~/Library/Application
   * Support/ipfs-kit` on macOS, `%LOCALAPPDATA%\ipfs-kit` on Windows.
   *
   * @returns The path (it may not exist yet).
   * @throws {InvalidInputError} No home folder is known and `IPFS_KIT_REPO` is unset.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Kit } from "@ipfs-kit/kit/kit";
   *
   * assert(Kit.defaultRepo().length > 0);
   * ```
   */
  static defaultRepo(): string {
    return defaultRepoPath();
  }

  /**
   * Opens a kit: the embedded node on `repo` (default
   * {@linkcode Kit.defaultRepo}), or the Kubo backend when `api` is given;
   * then the layers, bottom first.
   *
   * @param options The backend, its options, layers, a signal.
   * @returns The kit; close it with `close()` or `await using`.
   * @throws {InvalidInputError} Both `repo` and `api` were given, or an option is malformed.
   * @throws {RepoLockedError} Another node has the repository open.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Kit } from "@ipfs-kit/kit/kit";
   *
   * const repo = await Deno.makeTempDir();
   * await using kit = await Kit.open({ repo, sync: false });
   * assert.equal(kit.location, repo);
   * ```
   */
  static open(options: KitOptions = {}): Promise<Kit> {
    return withSignal(options?.signal, async () => {
      if (options === null || typeof options !== "object") {
        throw new InvalidInputError(
          `Cannot open kit: options must be an object: received ${
            options === null ? "null" : typeof options
          }`,
        );
      }
      if (options.repo !== undefined && options.api !== undefined) {
        throw new InvalidInputError(
          "Cannot open kit: repo (the embedded node) and api (a daemon) exclude each other",
        );
      }
      if (options.api !== undefined && options.network !== undefined) {
        throw new InvalidInputError(
          "Cannot open kit: network is for the embedded node; a daemon (api) has its own",
        );
      }
      const layers = options.layers ?? [];
      if (!Array.isArray(layers) || layers.some((layer) => typeof layer !== "function")) {
        throw new InvalidInputError("Cannot open kit: layers must be an array of functions");
      }
      let store: ContentStore;
      let backend: KitBackend;
      let location: string;
      if (options.api === undefined) {
        const repo = options.repo ?? defaultRepoPath();
        const network = options.network === undefined || typeof options.network === "function"
          ? options.network
          : (await import("../net/libp2p_network.ts")).libp2pNetwork(
            options.network === true ? {} : options.network,
          );
        store = await EmbeddedNode.open({
          repo,
          ...(options.sync === undefined ? {} : { sync: options.sync }),
          ...(options.create === undefined ? {} : { create: options.create }),
          ...(network === undefined ? {} : { network }),
        });
        backend = "embedded";
        location = repo;
      } else {
        const kubo = await connectKubo(options.api, options.kubo ?? {});
        store = kubo;
        backend = "kubo";
        location = kubo.url.href;
      }
      const stack: ContentStore[] = [store];
      let cache: TieredCache | undefined;
      try {
        if (options.cache !== false) {
          cache = await TieredCache.open(store, {
            prefetch: backend === "kubo" ? {} : false,
            ...options.cache,
          });
          stack.push(new CachedStore(store, cache));
        }
        for (const layer of layers) stack.push(await layer(stack.at(-1)!));
      } catch (error) {
        for (const opened of stack.reverse()) await opened.close().catch(() => {});
        throw error;
      }
      return new Kit(stack.at(-1)!, { store, cache, backend, location });
    });
  }

  /** The read-through cache over the backend; `undefined` with `cache: false`. */
  get cache(): TieredCache | undefined {
    return this.#cache;
  }

  /** The backend itself, below every layer. */
  get store(): ContentStore {
    return this.#store;
  }

  /** Which backend the kit runs on: `"embedded"` or `"kubo"`. */
  get backend(): KitBackend {
    return this.#backend;
  }

  /** The embedded node's repository path, or the daemon's API URL. */
  get location(): string {
    return this.#location;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Closes the layers, top first, then the backend (even if a layer fails
   * to close). Idempotent.
   */
  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.below.close();
    } finally {
      await this.#store.close();
    }
  }
}

/** The first components of a multiaddress the Kubo backend reads. */
const MULTIADDR = /^\/(ip4|ip6|dns|dns4|dns6|unix)\//;

/**
 * Connects the Kubo backend (loaded on first use, so the embedded node does
 * not load the RPC client). A string that is neither a URL nor a
 * multiaddress but names an existing file or folder is a Kubo repository
 * (or its `api` file).
 */
async function connectKubo(
  api: string | URL | true,
  options: Omit<KuboBackendOptions, "api">,
) {
  const { KuboBackend } = await import("../ipfs/kubo_backend.ts");
  if (api === true) return await KuboBackend.connect({ ...options });
  if (typeof api === "string" && !/^[a-z][a-z0-9+.-]*:\/\//i.test(api) && !MULTIADDR.test(api)) {
    const info = await Deno.stat(api).catch(() => undefined);
    if (info !== undefined) {
      const ipfsPath = info.isDirectory ? api : api.replace(/[\\/]?[^\\/]*$/, "") || ".";
      if (info.isFile && !/(^|[\\/])api$/.test(api)) {
        throw new InvalidInputError(
          `Cannot open kit: api names a file that is not a Kubo api file: received ${api}`,
        );
      }
      return await KuboBackend.connect({ ...options, ipfsPath });
    }
  }
  return await KuboBackend.connect({ ...options, api });
}
