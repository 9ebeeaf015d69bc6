/**
 * The content API every IPFS backend of the kit offers (the embedded node
 * and the Kubo-RPC backend): UnixFS files and directories with
 * Kubo-identical CIDs, pins, raw blocks, IPLD DAG nodes, garbage collection,
 * the node's identity, and the network-bound APIs (IPNS, pubsub, swarm,
 * routing) where the backend has them.
 *
 * Every asynchronous method takes a `signal`: it runs under the runtime's
 * cancel scopes (`withSignal`), and an aborted signal rejects with the
 * signal's reason. A closed store throws the runtime's `ClosedResourceError`.
 *
 * Errors are the classes of `errors.ts`: `NotFoundError`, `InvalidCidError`,
 * `InvalidInputError`, `PinnedError`, `NotSupportedError` (an operation this
 * backend does not offer, e.g. pubsub on the embedded node), plus
 * `RangeError` for a block over {@linkcode MAX_BLOCK_SIZE}.
 *
 * The API objects (`block`, `pin`, `dag`, `repo`, `files`, `name`, `pubsub`,
 * `swarm`, `routing`) take the options of their call type parameter `O`: every call's
 * {@linkcode SignalOptions} by default, a backend's own where it has more
 * (the Kubo backend's `block` is a `BlockApi<KuboCallOptions>`: a timeout
 * per call).
 *
 * @module
 */

import type { CID as MultiformatsCID } from "npm:multiformats@14.0.5/cid";

/**
 * A content identifier: the `CID` class of `multiformats` (npm), which every
 * IPFS library in JavaScript uses. `cid.toString()` gives `Qm...` for v0 and
 * base32 `bafy...` for v1; `CID.parse` from `multiformats` reads both.
 */
export type CID = MultiformatsCID;

/**
 * A CID object, or its string form (`Qm...` for v0, `bafy...` etc. for v1).
 * Where a method says it takes a path, a string may also be a CID followed by
 * names (`"bafy.../dir/file.txt"`), with or without a leading `/ipfs/`.
 */
export type CidLike = CID | string;

/**
 * Content to add: bytes, a string (added as UTF-8), a `Blob`, a byte stream
 * or an (async) iterable of byte chunks. Streams are read as they are
 * imported, never held whole in memory. Chunks must not be changed after
 * they are handed over. (To add a file or directory from disk by its path,
 * use {@linkcode ContentStore.addPath}.)
 */
export type AddInput =
  | Uint8Array
  | string
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>;

/** Options shared by every call. */
export interface SignalOptions {
  /** Aborts the call; it then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * How content is chunked and encoded. The defaults are Kubo's, so the same
 * bytes get the same CID as `ipfs add` with the same flags: CIDv0, dag-pb
 * leaves, fixed 256 KiB chunks, balanced DAG of at most 174 links per node.
 */
export interface AddOptions extends SignalOptions {
  /**
   * The CID version, as Kubo's `--cid-version`. Default `0`. Version 1 also
   * turns on `rawLeaves` unless it is set explicitly, as in Kubo.
   */
  cidVersion?: 0 | 1;
  /** Store leaves as raw blocks, as Kubo's `--raw-leaves`. Default: `cidVersion === 1`. */
  rawLeaves?: boolean;
  /** Fixed chunk size in bytes, 1 to 1 MiB, as Kubo's `--chunker=size-N`. Default 262144. */
  chunkSize?: number;
  /** Pin the result recursively, as Kubo's `--pin`. Default `true`. */
  pin?: boolean;
  /**
   * Called as content is read, with the bytes read so far of the file at
   * `path` (as Kubo's `--progress`). `path` is `""` for a single `add`.
   */
  onProgress?: (bytes: number, path: string) => void;
}

/** What {@linkcode ContentStore.add} returns. */
export interface AddResult {
  /** The root CID. */
  cid: CID;
  /**
   * The size of the whole DAG in bytes: content plus encoding, Kubo's
   * cumulative size (the `Size` field of `ipfs add`). Equal to the content
   * length for a single raw block.
   */
  size: number;
}

/** A file or directory for {@linkcode ContentStore.addAll}. */
export interface AddAllEntry {
  /** Its path, `/`-separated (`"dir/sub/file.txt"`); parents are created as needed. */
  path: string;
  /** The file's content; leave it and `link` out for an (empty) directory. */
  content?: AddInput;
  /**
   * A symbolic link's target: the entry is stored as a UnixFS symlink node,
   * as Kubo's `ipfs add -r` stores a link it finds. Not with `content`. The
   * embedded node only (the Kubo RPC client uploads no symlinks).
   */
  link?: string;
}

/** Options for {@linkcode ContentStore.addAll}. */
export interface AddAllOptions extends AddOptions {
  /** Wrap everything in one more directory, as Kubo's `--wrap-with-directory`. Default `false`. */
  wrapWithDirectory?: boolean;
}

/** One entry {@linkcode ContentStore.addAll} created. */
export interface AddAllResult extends AddResult {
  /** Its path; `""` for the wrapping directory. */
  path: string;
}

/** Options for {@linkcode ContentStore.addPath}. */
export interface AddPathOptions extends AddAllOptions {
  /**
   * Include files and directories whose names start with `.`, as Kubo's
   * `--hidden`. Default `false`. (The path given itself is always added.)
   */
  hidden?: boolean;
  /**
   * Follow symbolic links inside a directory and add what they point to.
   * Default `false`: a symbolic link in the tree is stored as a UnixFS
   * symlink node, as Kubo's `ipfs add -r` does (the Kubo backend cannot
   * upload those and fails with `InvalidInputError` naming the link). The
   * path given itself is always followed.
   */
  followSymlinks?: boolean;
}

/** Options for {@linkcode ContentStore.cat}. */
export interface CatOptions extends SignalOptions {
  /** First byte to read. Default `0`; past the end reads nothing. */
  offset?: number;
  /** How many bytes to read at most. Default: to the end. */
  length?: number;
}

/** Options for {@linkcode ContentStore.get}. */
export type GetOptions = SignalOptions;

/** What {@linkcode ContentStore.get} returns. */
export interface GetResult {
  /** The CID the path resolved to. */
  cid: CID;
  /** Files written (symbolic links included). */
  files: number;
  /** Directories written (the target included, when it is a directory). */
  directories: number;
  /** File bytes written. */
  bytes: number;
}

/** The kinds of UnixFS node {@linkcode ContentStore.ls} and {@linkcode ContentStore.stat} report. */
export type UnixFsType = "file" | "directory" | "symlink";

/** One entry of a directory listing. */
export interface LsEntry {
  /** The entry's name in its directory. */
  name: string;
  /** The path listed, `/` and the name: `"<cid>/sub/name"`. */
  path: string;
  /** The entry's CID. */
  cid: CID;
  /** What it is. Raw blocks are files. */
  type: UnixFsType;
  /**
   * For a file, its content size in bytes; for a symlink, the length of its
   * target; `0` for a directory (as Kubo's `ipfs ls`).
   */
  size: number;
}

/** Options for {@linkcode ContentStore.ls}. */
export type LsOptions = SignalOptions;

/** What {@linkcode ContentStore.stat} returns, as Kubo's `ipfs files stat`. */
export interface StatResult {
  /** The CID the path resolved to. */
  cid: CID;
  /** What it is. Raw blocks are files. */
  type: UnixFsType;
  /** Content size in bytes for a file, the target's length for a symlink, `0` for a directory. */
  size: number;
  /** The size of the whole DAG below it: every block's bytes. */
  cumulativeSize: number;
  /** How many links the root block has (Kubo's `Blocks`). */
  blocks: number;
}

/** Options for {@linkcode ContentStore.stat}. */
export type StatOptions = SignalOptions;

/** The codecs {@linkcode BlockApi.put} can label a block with. */
export type BlockCodec = "raw" | "dag-pb" | "dag-cbor" | "dag-json";

/** Options for {@linkcode BlockApi.put}. */
export interface BlockPutOptions extends SignalOptions {
  /** The block's codec, as Kubo's `--cid-codec`. Default `"raw"`. */
  codec?: BlockCodec;
  /** The CID version. Default `1`; `0` needs `codec: "dag-pb"`. */
  cidVersion?: 0 | 1;
  /** Pin the block directly, as Kubo's `--pin`. Default `false`. */
  pin?: boolean;
}

/** Options for {@linkcode BlockApi.rm}. */
export interface BlockRmOptions extends SignalOptions {
  /** Do not fail when the block is missing, as Kubo's `--force`. Default `false`. */
  force?: boolean;
}

/** What {@linkcode BlockApi.stat} returns. */
export interface BlockStat {
  /** The block's CID, as given. */
  cid: CID;
  /** Its size in bytes. */
  size: number;
}

/**
 * The largest block either backend stores, 1 MiB, as Kubo without
 * `--allow-big-block` (larger blocks cannot be exchanged): `block.put` and
 * `dag.put` throw `RangeError` past it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode, MAX_BLOCK_SIZE } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * await node.block.put(new Uint8Array(MAX_BLOCK_SIZE));
 * await assert.rejects(node.block.put(new Uint8Array(MAX_BLOCK_SIZE + 1)), RangeError);
 * ```
 */
export const MAX_BLOCK_SIZE: number = 1_048_576;

/**
 * Raw blocks, as Kubo's `ipfs block` commands.
 *
 * @typeParam O The options every call takes.
 */
export interface BlockApi<O extends SignalOptions = SignalOptions> {
  /**
   * Reads a block.
   *
   * @throws {NotFoundError} The block is not in the store.
   */
  get(cid: CidLike, options?: O): Promise<Uint8Array>;
  /**
   * Stores bytes as one block and returns its CID (sha2-256).
   *
   * @throws {RangeError} The block is larger than {@linkcode MAX_BLOCK_SIZE}.
   */
  put(bytes: Uint8Array, options?: BlockPutOptions & O): Promise<CID>;
  /** Whether the block is in the store. */
  has(cid: CidLike, options?: O): Promise<boolean>;
  /**
   * A block's size.
   *
   * @throws {NotFoundError} The block is not in the store.
   */
  stat(cid: CidLike, options?: O): Promise<BlockStat>;
  /**
   * Removes a block.
   *
   * @throws {NotFoundError} The block is missing and `force` is not set.
   * @throws {PinnedError} A pin holds the block.
   */
  rm(cid: CidLike, options?: BlockRmOptions & O): Promise<void>;
}

/**
 * How a CID is pinned. `"recursive"`: it and every block below it;
 * `"direct"`: the block alone; `"indirect"`: below a recursive pin.
 */
export type PinType = "recursive" | "direct" | "indirect";

/** Options for {@linkcode PinApi.add}. */
export interface PinAddOptions extends SignalOptions {
  /**
   * Pin the whole DAG (default `true`, as Kubo) or only the block. A
   * recursive pin needs every block of the DAG in the store (the embedded
   * node throws `NotFoundError` otherwise; a daemon fetches them). Adding a
   * recursive pin replaces a direct one; a direct pin on a recursively
   * pinned CID throws `PinnedError`.
   */
  recursive?: boolean;
}

/** Options for {@linkcode PinApi.rm}. */
export interface PinRmOptions extends SignalOptions {
  /**
   * Default `true`: remove a recursive or a direct pin. `false`: remove only
   * a direct pin; a recursive pin then throws `PinnedError`.
   */
  recursive?: boolean;
}

/** Options for {@linkcode PinApi.ls}. */
export interface PinLsOptions extends SignalOptions {
  /** Which pins to list. Default `"all"` (as Kubo): recursive, direct and indirect. */
  type?: PinType | "all";
  /**
   * List only these CIDs (or paths), each with how it is pinned; one that
   * is not pinned (as `type` asks) throws `NotFoundError`.
   */
  paths?: CidLike[];
}

/** One pin {@linkcode PinApi.ls} reports. */
export interface PinEntry {
  /** The pinned CID (as pinned, or as found below a recursive pin). */
  cid: CID;
  /** How it is pinned. */
  type: PinType;
}

/**
 * Pins, as Kubo's `ipfs pin` commands. Pinned blocks survive garbage collection.
 *
 * @typeParam O The options every call takes.
 */
export interface PinApi<O extends SignalOptions = SignalOptions> {
  /**
   * Pins a CID or path.
   *
   * @returns The pinned CID (the path resolved).
   * @throws {NotFoundError} A block of the DAG is missing.
   * @throws {PinnedError} A direct pin was asked for a recursively pinned CID.
   */
  add(path: CidLike, options?: PinAddOptions & O): Promise<CID>;
  /**
   * Unpins a CID or path. The blocks stay until garbage collection.
   *
   * @returns The unpinned CID.
   * @throws {NotFoundError} It is not pinned (or pinned only indirectly).
   * @throws {PinnedError} `recursive: false` and it is pinned recursively.
   */
  rm(path: CidLike, options?: PinRmOptions & O): Promise<CID>;
  /** Lists pins. */
  ls(options?: PinLsOptions & O): Promise<PinEntry[]>;
}

/** The codecs {@linkcode DagApi.put} stores and reads. */
export type DagCodec = "dag-cbor" | "dag-json" | "dag-pb" | "raw";

/** Options for {@linkcode DagApi.put}. */
export interface DagPutOptions extends SignalOptions {
  /** The codec to store the node with, as Kubo's `--store-codec`. Default `"dag-cbor"`. */
  storeCodec?: DagCodec;
  /**
   * When set, `value` is a `Uint8Array` holding a node encoded in this codec
   * (as Kubo's `--input-codec`); it is decoded, then stored with
   * `storeCodec`. Default: `value` is the node itself (links are `CID`
   * objects, bytes are `Uint8Array`s).
   */
  inputCodec?: DagCodec;
  /** Pin the node recursively, as Kubo's `--pin`. Default `false`. */
  pin?: boolean;
}

/** Options for {@linkcode DagApi.get}. */
export interface DagGetOptions extends SignalOptions {
  /** A path inside the node, followed across links (`"a/0/b"`); added to any path in the CID argument. */
  path?: string;
}

/** What {@linkcode DagApi.get} returns. */
export interface DagGetResult {
  /**
   * The value at the path: a decoded node, or part of one. dag-pb nodes are
   * `{ Data?: Uint8Array, Links: [{ Hash, Name?, Tsize? }] }`; raw blocks
   * are `Uint8Array`s.
   */
  value: unknown;
  /** What is left of the path once it reached a value that is not a node (`""` normally). */
  remainderPath: string;
}

/** What {@linkcode DagApi.resolve} returns. */
export interface DagResolveResult {
  /** The CID of the last block the path reaches. */
  cid: CID;
  /** The rest of the path, inside that block (`""` when the path ends on a link). */
  remainderPath: string;
}

/**
 * IPLD nodes, as Kubo's `ipfs dag` commands. Paths go through maps by key,
 * lists by index and links to other blocks; in a dag-pb node a name selects
 * the link of that name, and `Links/<i>/Hash` and `Data` work as in the
 * dag-pb data model.
 *
 * @typeParam O The options every call takes.
 */
export interface DagApi<O extends SignalOptions = SignalOptions> {
  /**
   * Encodes and stores a node (sha2-256, CIDv1 for every codec, as Kubo).
   *
   * @returns The node's CID.
   * @throws {InvalidInputError} The value cannot be encoded in the codec.
   * @throws {RangeError} The encoded node is larger than {@linkcode MAX_BLOCK_SIZE}.
   */
  put(value: unknown, options?: DagPutOptions & O): Promise<CID>;
  /**
   * Reads a node, or the value at a path inside it.
   *
   * @param path A CID, or a CID followed by a path (`"bafy.../a/0"`).
   * @throws {NotFoundError} A block is missing, or the path names nothing.
   * @throws {InvalidInputError} The path goes through a value that has no
   * fields (a number, a string), or indexes a list with a non-number.
   */
  get(path: CidLike, options?: DagGetOptions & O): Promise<DagGetResult>;
  /**
   * Follows a path across links to the last block it reaches.
   *
   * @throws {NotFoundError} A block is missing, or the path names nothing.
   * @throws {InvalidInputError} The path is malformed for the nodes it goes through.
   */
  resolve(path: CidLike, options?: O): Promise<DagResolveResult>;
}

/** What {@linkcode RepoApi.stat} returns. */
export interface RepoStat {
  /** How many blocks the repository holds. */
  numObjects: number;
  /** The bytes of those blocks. */
  repoSize: number;
  /** Where the repository is (for a daemon: its own path, as it reports it). */
  repoPath: string;
}

/**
 * The repository, as Kubo's `ipfs repo` commands.
 *
 * @typeParam O The options every call takes.
 */
export interface RepoApi<O extends SignalOptions = SignalOptions> {
  /**
   * Deletes every block that no pin holds (recursive pins: their whole DAG;
   * direct pins: the block). Safe against concurrent adds: blocks of an add
   * still in progress are kept.
   *
   * @returns The removed blocks' CIDs (CIDv1 with the raw codec, as blocks
   * are stored by multihash).
   * @throws {NotFoundError} A block below a recursive pin is missing; nothing
   * is removed then.
   */
  gc(options?: O): Promise<CID[]>;
  /** Counts the blocks and their bytes. */
  stat(options?: O): Promise<RepoStat>;
}

/** What {@linkcode ContentStore.id} returns. */
export interface IdResult {
  /** The peer ID, base58btc (`12D3KooW...` for an Ed25519 key). */
  id: string;
  /** The public key, libp2p protobuf-encoded, in base64 (Kubo's `PublicKey`). */
  publicKey: string;
  /** Listen addresses with `/p2p/<id>`; empty for the embedded node. */
  addresses: string[];
  /** The agent, e.g. `ipfs-kit/0.1.0` or `kubo/0.30.0/`. */
  agentVersion: string;
  /** The protocols the node speaks; empty for the embedded node. */
  protocols: string[];
}

/** What {@linkcode ContentStore.version} returns. */
export interface VersionResult {
  /** The implementation's version (`0.1.0`). */
  version: string;
  /** The repository format version, as a string. */
  repo: string;
  /** Where it runs, e.g. `deno/2.9.6 linux/x86_64`. */
  system: string;
  /** The backend: `"embedded"` or `"kubo"`. */
  backend: "embedded" | "kubo";
}

/** What {@linkcode ContentStore.health} returns. */
export interface HealthResult {
  /** Whether the backend answered and its repository works. */
  ok: boolean;
  /** The backend: `"embedded"` or `"kubo"`. */
  backend: "embedded" | "kubo";
  /** How long the check took, in ms (of the runtime's clock). */
  latencyMs: number;
  /** Why it is not ok; `undefined` when it is. */
  reason?: string;
}

/** Options for {@linkcode NameApi.publish}. */
export interface NamePublishOptions extends SignalOptions {
  /** The key to publish under, by name. Default `"self"`. */
  key?: string;
  /** How long the record is valid, as Kubo's `--lifetime` (`"24h"`). */
  lifetime?: string;
  /** How long it may be cached, as Kubo's `--ttl` (`"1m"`). */
  ttl?: string;
  /** Publish without a network (as Kubo's `--allow-offline`). */
  allowOffline?: boolean;
}

/** What {@linkcode NameApi.publish} returns. */
export interface NamePublishResult {
  /** The IPNS name (the key's peer ID). */
  name: string;
  /** The published path, `/ipfs/<cid>`. */
  value: string;
}

/** Options for {@linkcode NameApi.resolve}. */
export interface NameResolveOptions extends SignalOptions {
  /** Resolve until the result is not an IPNS name. Default `true`. */
  recursive?: boolean;
  /** Do not use cached entries. Default `false`. */
  nocache?: boolean;
}

/**
 * IPNS, as Kubo's `ipfs name` commands. Not offered by the embedded node.
 *
 * @typeParam O The options every call takes.
 */
export interface NameApi<O extends SignalOptions = SignalOptions> {
  /** Publishes a path under a key. */
  publish(path: CidLike, options?: NamePublishOptions & O): Promise<NamePublishResult>;
  /**
   * Resolves an IPNS name (`/ipns/<name>` or the bare name).
   *
   * @returns The path it points to, e.g. `/ipfs/<cid>`.
   */
  resolve(name: string, options?: NameResolveOptions & O): Promise<string>;
}

/** A message {@linkcode PubsubApi.subscribe} delivers. */
export interface PubsubMessage {
  /** The sender's peer ID. */
  from: string;
  /** The topic it came on. */
  topic: string;
  /** The payload. */
  data: Uint8Array;
  /** The sender's sequence number, if it set one. */
  sequenceNumber?: bigint;
}

/**
 * Publish/subscribe, as Kubo's `ipfs pubsub` commands. Not offered by the embedded node.
 *
 * @typeParam O The options every call takes.
 */
export interface PubsubApi<O extends SignalOptions = SignalOptions> {
  /** Publishes a message on a topic. */
  publish(topic: string, data: Uint8Array, options?: O): Promise<void>;
  /**
   * Subscribes to a topic. Messages arrive on the stream; cancelling the
   * stream (or aborting `signal`) unsubscribes.
   */
  subscribe(topic: string, options?: O): ReadableStream<PubsubMessage>;
  /** The topics this node is subscribed to. */
  ls(options?: O): Promise<string[]>;
  /** The peers seen on a topic (or on any, without one). */
  peers(topic?: string, options?: O): Promise<string[]>;
}

/** A connected peer. */
export interface SwarmPeer {
  /** Its peer ID. */
  peer: string;
  /** The address of the connection. */
  addr: string;
}

/**
 * Connections, as Kubo's `ipfs swarm` commands. Not offered by the embedded node.
 *
 * @typeParam O The options every call takes.
 */
export interface SwarmApi<O extends SignalOptions = SignalOptions> {
  /** The connected peers. */
  peers(options?: O): Promise<SwarmPeer[]>;
  /** Connects to a multiaddress (with `/p2p/<id>`). */
  connect(addr: string, options?: O): Promise<void>;
  /** Closes connections to a multiaddress. */
  disconnect(addr: string, options?: O): Promise<void>;
}

/** A peer and its addresses, as routing reports it. */
export interface PeerInfo {
  /** Its peer ID. */
  id: string;
  /** Its multiaddresses. */
  addrs: string[];
}

/** Options for {@linkcode RoutingApi.findProvs}. */
export interface FindProvsOptions extends SignalOptions {
  /** Stop after this many providers. Default 20. */
  numProviders?: number;
}

/**
 * Content and peer routing (the DHT), as Kubo's `ipfs routing` commands. Not
 * offered by the embedded node.
 *
 * @typeParam O The options every call takes.
 */
export interface RoutingApi<O extends SignalOptions = SignalOptions> {
  /** Finds peers that provide a CID. */
  findProvs(cid: CidLike, options?: FindProvsOptions & O): Promise<PeerInfo[]>;
  /** Finds a peer's addresses. */
  findPeer(peerId: string, options?: O): Promise<PeerInfo>;
  /** Announces that this node provides a CID. */
  provide(cid: CidLike, options?: O): Promise<void>;
  /** Reads a value stored under a routing key (`/ipns/...`). */
  get(key: string, options?: O): Promise<Uint8Array>;
  /** Stores a value under a routing key. */
  put(key: string, value: Uint8Array, options?: O): Promise<void>;
}

/** One entry of {@linkcode FilesApi.ls}. */
export interface FilesEntry {
  /** The entry's name in its directory. */
  name: string;
  /** What it is. Raw blocks are files. */
  type: UnixFsType;
  /** For a file, its content size in bytes; for a symlink, its target's length; `0` for a directory. */
  size: number;
  /** The entry's CID. */
  cid: CID;
}

/** Options for {@linkcode FilesApi.mkdir}. */
export interface FilesMkdirOptions extends SignalOptions {
  /** Create missing parent directories too, and do not fail when it exists (Kubo's `-p`). Default `false`. */
  parents?: boolean;
  /** The CID version of the new directories, as Kubo's `--cid-version`. Default: the parent's. */
  cidVersion?: 0 | 1;
}

/** Options for {@linkcode FilesApi.write}. */
export interface FilesWriteOptions extends SignalOptions {
  /** Create the file when it does not exist (Kubo's `--create`). Default `false`. */
  create?: boolean;
  /** Create missing parent directories (Kubo's `--parents`). Default `false`. */
  parents?: boolean;
  /** Cut the file to what is written, dropping the old bytes past it (Kubo's `--truncate`). Default `false`. */
  truncate?: boolean;
  /** Where in the file to start writing (Kubo's `--offset`); past the end fills with zeros. Default `0`. */
  offset?: number;
  /** Write at most this many bytes of the content (Kubo's `--count`). Default: all of it. */
  length?: number;
  /** The file's CID version (Kubo's `--cid-version`). Default `0`; `1` also turns on raw leaves. */
  cidVersion?: 0 | 1;
  /** Store leaves as raw blocks (Kubo's `--raw-leaves`). Default: `cidVersion === 1`. */
  rawLeaves?: boolean;
  /** Fixed chunk size in bytes, as {@linkcode AddOptions.chunkSize}. Default 262144. */
  chunkSize?: number;
}

/** Options for {@linkcode FilesApi.read}. */
export interface FilesReadOptions extends SignalOptions {
  /** First byte to read. Default `0`. */
  offset?: number;
  /** How many bytes to read at most (Kubo's `--count`). Default: to the end. */
  length?: number;
}

/** Options for {@linkcode FilesApi.cp}. */
export interface FilesCpOptions extends SignalOptions {
  /** Create missing parent directories of the destination (Kubo's `--parents`). Default `false`. */
  parents?: boolean;
}

/** Options for {@linkcode FilesApi.rm}. */
export interface FilesRmOptions extends SignalOptions {
  /** Remove a directory and everything below it (Kubo's `-r`). Default `false`. */
  recursive?: boolean;
  /** Do not fail when the path does not exist; remove directories too (Kubo's `--force`). Default `false`. */
  force?: boolean;
}

/** Options for {@linkcode FilesApi.chcid}. */
export interface FilesChcidOptions extends SignalOptions {
  /** The new CID version of the directory (Kubo's `--cid-version`). */
  cidVersion?: 0 | 1;
}

/**
 * MFS, the mutable file system: a tree of named files and directories over
 * the store's blocks, as Kubo's `ipfs files` commands. Paths are absolute
 * (`/docs/a.txt`); every change makes a new root CID, and the root survives
 * restarts. Garbage collection keeps everything the tree references.
 *
 * Errors: {@linkcode NotFoundError} for a path (or a parent) that does not
 * exist; {@linkcode InvalidInputError} for a path that is not absolute, an
 * entry that exists already, a file where a directory is needed or the other
 * way round, a directory removed without `recursive`.
 *
 * @typeParam O The options every call takes.
 */
export interface FilesApi<O extends SignalOptions = SignalOptions> {
  /** Lists a directory (for a file, the file itself). Default path `/`. */
  ls(path?: string, options?: O): Promise<FilesEntry[]>;
  /** A file's or directory's CID, type and sizes, as `ipfs files stat`. */
  stat(path: string, options?: O): Promise<StatResult>;
  /** Makes a directory; with `parents`, its missing parents too. */
  mkdir(path: string, options?: FilesMkdirOptions & O): Promise<void>;
  /** Writes content into a file, as `ipfs files write`: `create`, `truncate`, `offset`, `parents`. */
  write(path: string, content: AddInput, options?: FilesWriteOptions & O): Promise<void>;
  /** Streams a file's bytes; errors surface on the stream. */
  read(path: string, options?: FilesReadOptions & O): ReadableStream<Uint8Array>;
  /**
   * Copies a file or directory: `from` is an MFS path or an IPFS path
   * (`/ipfs/<cid>/...`); `to` must not exist.
   */
  cp(from: string, to: string, options?: FilesCpOptions & O): Promise<void>;
  /** Moves (renames) a file or directory; into `to` when `to` is a directory. */
  mv(from: string, to: string, options?: O): Promise<void>;
  /** Removes a file, or a directory with `recursive`. */
  rm(path: string, options?: FilesRmOptions & O): Promise<void>;
  /** Makes sure the tree at `path` (default `/`) is on disk, and returns its CID. */
  flush(path?: string, options?: O): Promise<CID>;
  /** Changes a directory's CID version (default path `/`), as `ipfs files chcid`. */
  chcid(path?: string, options?: FilesChcidOptions & O): Promise<void>;
}

/**
 * Content-addressed storage with UnixFS files: what every backend offers.
 * Operations a backend cannot do throw `NotSupportedError`: the embedded
 * node answers every method of `name`, `pubsub`, `swarm` and `routing` so.
 */
export interface ContentStore extends AsyncDisposable {
  /** Adds one file and returns its root CID. */
  add(input: AddInput, options?: AddOptions): Promise<AddResult>;
  /**
   * Adds files and directories; returns every entry created, parents after
   * their children, the root (or roots) last.
   */
  addAll(
    entries: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
    options?: AddAllOptions,
  ): Promise<AddAllResult[]>;
  /**
   * Adds a file or a directory tree from the local file system, as
   * `ipfs add -r <path>`. Entries are named from the path's last component
   * (`"photos/2024/a.jpg"` for `/home/me/photos`); returns them as
   * {@linkcode ContentStore.addAll} does, the root last.
   *
   * @throws {NotFoundError} The path does not exist.
   * @throws {InvalidInputError} The path (or a file below it) cannot be
   * read, or is neither a file nor a directory; nothing is pinned then.
   */
  addPath(path: string, options?: AddPathOptions): Promise<AddAllResult[]>;
  /**
   * Streams a file's bytes. `path` is a CID, or a CID or `/ipfs/` path with
   * names below it (`"bafy.../dir/file.txt"`). Errors (a missing block, a
   * directory) surface on the stream.
   */
  cat(path: CidLike, options?: CatOptions): ReadableStream<Uint8Array>;
  /**
   * Writes a file or a directory tree to the local file system, as
   * `ipfs get -o <target>`. `target` must not exist; its parent must. The
   * tree is written beside `target` and renamed into place when complete:
   * on failure or cancellation nothing is left at `target`. Names from the
   * DAG that are empty, `.`, `..` or hold `/`, `\` or NUL fail with
   * `InvalidInputError`.
   *
   * @throws {NotFoundError} A block is missing.
   * @throws {InvalidInputError} `target` exists, or the DAG holds a bad name
   * or is not UnixFS.
   */
  get(path: CidLike, target: string, options?: GetOptions): Promise<GetResult>;
  /**
   * Lists a directory, as `ipfs ls`. For a file, the one entry for the file
   * itself.
   *
   * @throws {NotFoundError} A block (the directory's, or an entry's) is missing.
   * @throws {InvalidInputError} The CID is not UnixFS.
   */
  ls(path: CidLike, options?: LsOptions): Promise<LsEntry[]>;
  /**
   * A UnixFS node's type and sizes, as `ipfs files stat /ipfs/<path>`.
   *
   * @throws {NotFoundError} A block is missing.
   * @throws {InvalidInputError} The CID is not UnixFS.
   */
  stat(path: CidLike, options?: StatOptions): Promise<StatResult>;
  /** Raw blocks. */
  readonly block: BlockApi;
  /** Pins. */
  readonly pin: PinApi;
  /** IPLD nodes. */
  readonly dag: DagApi;
  /** Garbage collection and repository statistics. */
  readonly repo: RepoApi;
  /** IPNS. */
  readonly name: NameApi;
  /** Publish/subscribe. */
  readonly pubsub: PubsubApi;
  /** Connections to peers. */
  readonly swarm: SwarmApi;
  /** Content and peer routing. */
  readonly routing: RoutingApi;
  /** MFS: the mutable file tree, as Kubo's `ipfs files` commands. */
  readonly files: FilesApi;
  /** The node's identity: its peer ID and public key. */
  id(options?: SignalOptions): Promise<IdResult>;
  /** The implementation's and the repository's versions. */
  version(options?: SignalOptions): Promise<VersionResult>;
  /**
   * Checks that the backend works (the repository reads and writes; the
   * daemon answers). Never throws for an unhealthy backend: `ok` is `false`
   * and `reason` says why (a closed store is not ok).
   */
  health(options?: SignalOptions): Promise<HealthResult>;
  /** Releases the store; later calls throw `ClosedResourceError`. Idempotent. */
  close(): Promise<void>;
}
