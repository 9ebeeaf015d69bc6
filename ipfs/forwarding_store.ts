/**
 * {@linkcode ForwardingStore}: the base of every kit layer (`KitLayer`).
 *
 * @module
 */

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

/**
 * A {@linkcode ContentStore} that forwards every call to the store below
 * it. Extend it to write a kit layer (`KitLayer`): override the methods the
 * layer changes (for an API object such as `block`, declare the field again
 * with the methods it changes and the rest forwarded).
 *
 * @example A layer that counts reads
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type CatOptions,
 *   type CidLike,
 *   EmbeddedNode,
 *   ForwardingStore,
 * } from "@ipfs-kit/kit/ipfs";
 *
 * class CountingReads extends ForwardingStore {
 *   reads = 0;
 *   override cat(path: CidLike, options?: CatOptions): ReadableStream<Uint8Array> {
 *     this.reads++;
 *     return super.cat(path, options);
 *   }
 * }
 *
 * // A Kit takes it as a layer: Kit.open({ layers: [(below) => new CountingReads(below)] }).
 * await using store = new CountingReads(await EmbeddedNode.open({ repo: await Deno.makeTempDir() }));
 * const { cid } = await store.add("counted");
 * await new Response(store.cat(cid)).text();
 * assert.equal(store.reads, 1);
 * ```
 */
export class ForwardingStore implements ContentStore {
  /** The store below, which every call not overridden goes to. */
  protected readonly below: ContentStore;

  /** Raw blocks: the store below's. */
  readonly block: BlockApi;
  /** Pins: the store below's. */
  readonly pin: PinApi;
  /** IPLD nodes: the store below's. */
  readonly dag: DagApi;
  /** Garbage collection and statistics: the store below's. */
  readonly repo: RepoApi;
  /** IPNS: the store below's. */
  readonly name: NameApi;
  /** Publish/subscribe: the store below's. */
  readonly pubsub: PubsubApi;
  /** Connections to peers: the store below's. */
  readonly swarm: SwarmApi;
  /** Content and peer routing: the store below's. */
  readonly routing: RoutingApi;
  /** MFS: the store below's. */
  readonly files: FilesApi;

  /**
   * Creates a store forwarding to `below`.
   *
   * @param below The store that takes every call not overridden.
   */
  constructor(below: ContentStore) {
    this.below = below;
    this.block = below.block;
    this.pin = below.pin;
    this.dag = below.dag;
    this.repo = below.repo;
    this.name = below.name;
    this.pubsub = below.pubsub;
    this.swarm = below.swarm;
    this.routing = below.routing;
    this.files = below.files;
  }

  /** Adds one file. See {@linkcode ContentStore.add}. */
  add(input: AddInput, options?: AddOptions): Promise<AddResult> {
    return this.below.add(input, options);
  }

  /** Adds files and directories. See {@linkcode ContentStore.addAll}. */
  addAll(
    entries: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
    options?: AddAllOptions,
  ): Promise<AddAllResult[]> {
    return this.below.addAll(entries, options);
  }

  /** Adds a file or directory from disk. See {@linkcode ContentStore.addPath}. */
  addPath(path: string, options?: AddPathOptions): Promise<AddAllResult[]> {
    return this.below.addPath(path, options);
  }

  /** Streams a file's bytes. See {@linkcode ContentStore.cat}. */
  cat(path: CidLike, options?: CatOptions): ReadableStream<Uint8Array> {
    return this.below.cat(path, options);
  }

  /** Writes a file or directory to disk. See {@linkcode ContentStore.get}. */
  get(path: CidLike, target: string, options?: GetOptions): Promise<GetResult> {
    return this.below.get(path, target, options);
  }

  /** Lists a directory. See {@linkcode ContentStore.ls}. */
  ls(path: CidLike, options?: LsOptions): Promise<LsEntry[]> {
    return this.below.ls(path, options);
  }

  /** A UnixFS node's type and sizes. See {@linkcode ContentStore.stat}. */
  stat(path: CidLike, options?: StatOptions): Promise<StatResult> {
    return this.below.stat(path, options);
  }

  /** The node's identity. See {@linkcode ContentStore.id}. */
  id(options?: SignalOptions): Promise<IdResult> {
    return this.below.id(options);
  }

  /** The versions. See {@linkcode ContentStore.version}. */
  version(options?: SignalOptions): Promise<VersionResult> {
    return this.below.version(options);
  }

  /** Whether the store works. See {@linkcode ContentStore.health}. */
  health(options?: SignalOptions): Promise<HealthResult> {
    return this.below.health(options);
  }

  /** Closes the store below. Idempotent if the store below is. */
  close(): Promise<void> {
    return this.below.close();
  }

  /** Closes the store, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
