/**
 * The content API every IPFS backend of the kit offers (the embedded node
 * now, a Kubo-RPC backend later): add, cat and raw blocks, with
 * Kubo-identical CIDs.
 *
 * Every asynchronous method takes a `signal`: it runs under the runtime's
 * cancel scopes (`withSignal`), and an aborted signal rejects with the
 * signal's reason.
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

/** A CID object, or its string form (`Qm...` for v0, `bafy...` etc. for v1). */
export type CidLike = CID | string;

/**
 * Content to add: bytes, a string (added as UTF-8), a `Blob`, a byte stream
 * or an (async) iterable of byte chunks. Streams are read as they are
 * imported, never held whole in memory. Chunks must not be changed after
 * they are handed over.
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
  /** The file's content; leave it out for an (empty) directory. */
  content?: AddInput;
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

/** Options for {@linkcode ContentStore.cat}. */
export interface CatOptions extends SignalOptions {
  /** First byte to read. Default `0`; past the end reads nothing. */
  offset?: number;
  /** How many bytes to read at most. Default: to the end. */
  length?: number;
}

/** The codecs {@linkcode BlockApi.put} can label a block with. */
export type BlockCodec = "raw" | "dag-pb" | "dag-cbor" | "dag-json";

/** Options for {@linkcode BlockApi.put}. */
export interface BlockPutOptions extends SignalOptions {
  /** The block's codec, as Kubo's `--cid-codec`. Default `"raw"`. */
  codec?: BlockCodec;
  /** The CID version. Default `1`; `0` needs `codec: "dag-pb"`. */
  cidVersion?: 0 | 1;
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

/** Raw blocks, as Kubo's `ipfs block` commands. */
export interface BlockApi {
  /**
   * Reads a block.
   *
   * @throws {NotFoundError} The block is not in the store.
   */
  get(cid: CidLike, options?: SignalOptions): Promise<Uint8Array>;
  /**
   * Stores bytes as one block and returns its CID (sha2-256).
   *
   * @throws {RangeError} The block is larger than 1 MiB.
   */
  put(bytes: Uint8Array, options?: BlockPutOptions): Promise<CID>;
  /** Whether the block is in the store. */
  has(cid: CidLike, options?: SignalOptions): Promise<boolean>;
  /**
   * A block's size.
   *
   * @throws {NotFoundError} The block is not in the store.
   */
  stat(cid: CidLike, options?: SignalOptions): Promise<BlockStat>;
  /**
   * Removes a block.
   *
   * @throws {NotFoundError} The block is missing and `force` is not set.
   * @throws {PinnedError} A pin holds the block.
   */
  rm(cid: CidLike, options?: BlockRmOptions): Promise<void>;
}

/**
 * Content-addressed storage with UnixFS files: what every backend offers.
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
   * Streams a file's bytes. `path` is a CID, or a CID or `/ipfs/` path with
   * names below it (`"bafy.../dir/file.txt"`). Errors (a missing block, a
   * directory) surface on the stream.
   */
  cat(path: CidLike, options?: CatOptions): ReadableStream<Uint8Array>;
  /** Raw blocks. */
  readonly block: BlockApi;
  /** Releases the store; later calls throw `ClosedResourceError`. Idempotent. */
  close(): Promise<void>;
}
