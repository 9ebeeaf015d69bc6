/**
 * The embedded IPFS node: no daemon, a repository on disk, Kubo-identical
 * CIDs. Built on `ipfs-unixfs-importer` (chunking, DAG layout, encoding) and
 * `ipfs-unixfs-exporter` (path resolution) with a durable one-file-per-block
 * store.
 *
 * @module
 */

import { exporter } from "npm:ipfs-unixfs-exporter@16.2.2";
import { type ImportCandidate, importer, type ImportResult } from "npm:ipfs-unixfs-importer@17.1.1";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpoint } from "../runtime/checkpoint.ts";
import { ClosedResourceError } from "../runtime/errors.ts";
import { withSignal } from "../runtime/timeouts.ts";
import { FsBlockstore } from "./_fs_blockstore.ts";
import { importerOptions, type ResolvedLayout, resolveLayout } from "./_importer_options.ts";
import { byteSource } from "./_input.ts";
import { PinStore } from "./_pin_store.ts";
import { type GetBlock, openFile, readRange } from "./_unixfs_reader.ts";
import type {
  AddAllEntry,
  AddAllOptions,
  AddAllResult,
  AddInput,
  AddOptions,
  AddResult,
  BlockApi,
  BlockCodec,
  BlockPutOptions,
  BlockRmOptions,
  BlockStat,
  CatOptions,
  CidLike,
  ContentStore,
  SignalOptions,
} from "./content_store.ts";
import {
  InvalidCidError,
  InvalidInputError,
  NotFoundError,
  PinnedError,
  RepoLockedError,
} from "./errors.ts";

/** The largest block `block.put` accepts, as Kubo (without `--allow-big-block`). */
export const MAX_BLOCK_SIZE = 1_048_576;

const REPO_FORMAT = { kind: "ipfs-kit-embedded-repo", version: 1 };

const CODECS: Record<BlockCodec, number> = {
  "raw": raw.code,
  "dag-pb": dagPb.code,
  "dag-cbor": 0x71,
  "dag-json": 0x0129,
};

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
 * An IPFS node inside the process: add, cat and raw blocks over a repository
 * on disk, with the CIDs Kubo gives for the same bytes and options.
 *
 * The repository holds `blocks/` (one file per block, Kubo's flatfs
 * layout), `pins/` (one file per recursive pin), `tmp/` and a lock file: a
 * second `open` of the same repository fails with {@linkcode RepoLockedError}
 * until the first node is closed.
 *
 * The node is offline: a block that is not in the repository is reported
 * missing at once ({@linkcode NotFoundError}).
 *
 * @example Add and read back
 * ```ts
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add("hello world\n");
 * console.assert(cid.toString() === "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
 * const text = await new Response(node.cat(cid)).text();
 * console.assert(text === "hello world\n");
 * ```
 *
 * @example A directory, CIDv1
 * ```ts
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const entries = await node.addAll([
 *   { path: "site/index.html", content: "<h1>hi</h1>" },
 *   { path: "site/img" },
 * ], { cidVersion: 1 });
 * const root = entries.at(-1)!;
 * console.assert(root.path === "site");
 * const html = await new Response(node.cat(`${root.cid}/index.html`)).text();
 * console.assert(html === "<h1>hi</h1>");
 * ```
 */
export class EmbeddedNode implements ContentStore {
  #repo: string;
  #lock: Deno.FsFile;
  #blocks: FsBlockstore;
  #pins: PinStore;
  #closed = false;
  #get: GetBlock;

  /** Raw blocks, as Kubo's `ipfs block` commands. */
  readonly block: BlockApi;

  private constructor(repo: string, lock: Deno.FsFile, blocks: FsBlockstore, pins: PinStore) {
    this.#repo = repo;
    this.#lock = lock;
    this.#blocks = blocks;
    this.#pins = pins;
    this.#get = (cid) => blocks.get(cid);
    this.block = {
      get: (cid, options) => this.#blockGet(cid, options),
      put: (bytes, options) => this.#blockPut(bytes, options),
      has: (cid, options) => this.#blockHas(cid, options),
      stat: (cid, options) => this.#blockStat(cid, options),
      rm: (cid, options) => this.#blockRm(cid, options),
    };
  }

  /**
   * Opens (creating) a repository.
   *
   * @param options The repository path, durability, a signal.
   * @returns The node; close it with `close()` or `await using`.
   * @throws {RepoLockedError} Another node has the repository open.
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
      const lock = await Deno.open(`${repo}/repo.lock`, { create: true, write: true });
      try {
        if (!(await lock.tryLock(true))) {
          throw new RepoLockedError(
            `Cannot open repository: another node has it open: ${repo}`,
            repo,
          );
        }
        await checkFormat(repo);
        const tmpDir = `${repo}/tmp`;
        const blocks = await FsBlockstore.open({ dir: `${repo}/blocks`, tmpDir, sync });
        const pins = await PinStore.open(`${repo}/pins`, tmpDir, sync);
        return new EmbeddedNode(repo, lock, blocks, pins);
      } catch (error) {
        lock.close();
        throw error;
      }
    });
  }

  /** The repository's path. */
  get repo(): string {
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
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const { cid, size } = await node.add(new Uint8Array(1000), { cidVersion: 1 });
   * console.assert(cid.version === 1 && size === 1000);
   * ```
   */
  add(input: AddInput, options: AddOptions = {}): Promise<AddResult> {
    return this.#run("add", input, options.signal, async (signal) => {
      const layout = resolveLayout(options, "add");
      const pin = checkPin(options.pin, "add");
      const results = await this.#import(
        (inputSignal) => [{
          content: byteSource(input, "", options.onProgress, "add", inputSignal),
        }],
        layout,
        signal,
      );
      const root = results.at(-1)!;
      if (pin) await this.#pins.add(root.cid);
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
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const results = await node.addAll([{ path: "a.txt", content: "a" }], {
   *   wrapWithDirectory: true,
   * });
   * console.assert(results.map((r) => r.path).join() === "a.txt,");
   * ```
   */
  addAll(
    entries: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
    options: AddAllOptions = {},
  ): Promise<AddAllResult[]> {
    return this.#run("add", undefined, options.signal, async (signal) => {
      const layout = resolveLayout(options, "add");
      const pin = checkPin(options.pin, "add");
      if (
        entries === null || typeof entries !== "object" ||
        !(Symbol.iterator in entries || Symbol.asyncIterator in entries)
      ) {
        throw new InvalidInputError(
          `Cannot add: entries must be an iterable of { path, content? }: received ${typeof entries}`,
        );
      }
      const directories: string[] = [];
      const results = await this.#import(
        (inputSignal) => toCandidates(entries, directories, options.onProgress, inputSignal),
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
        for (const root of roots) await this.#pins.add(root.cid);
      }
      await this.#blocks.flush();
      return out;
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
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * const { cid } = await node.add("0123456789");
   * const text = await new Response(node.cat(cid, { offset: 2, length: 3 })).text();
   * console.assert(text === "234");
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
    return await this.#run("get block", undefined, options.signal, (signal) => {
      return this.#blocks.get(parseCid(cid, "get block"), { signal });
    });
  }

  async #blockPut(bytes: Uint8Array, options: BlockPutOptions = {}): Promise<CID> {
    return await this.#run("put block", undefined, options.signal, async (signal) => {
      if (!(bytes instanceof Uint8Array)) {
        throw new InvalidInputError(
          `Cannot put block: bytes must be a Uint8Array: received ${typeof bytes}`,
        );
      }
      if (bytes.length > MAX_BLOCK_SIZE) {
        throw new RangeError(
          `Cannot put block: size exceeds 1 MiB limit: received ${bytes.length}`,
        );
      }
      const codecName = options.codec ?? "raw";
      const code = Object.hasOwn(CODECS, codecName) ? CODECS[codecName] : undefined;
      if (code === undefined) {
        throw new InvalidInputError(
          `Cannot put block: codec must be one of ${Object.keys(CODECS).join(", ")}: received ${
            String(codecName)
          }`,
        );
      }
      const version = options.cidVersion ?? 1;
      if (version !== 0 && version !== 1) {
        throw new InvalidInputError(
          `Cannot put block: cidVersion must be 0 or 1: received ${String(version)}`,
        );
      }
      if (version === 0 && code !== dagPb.code) {
        throw new InvalidInputError(
          `Cannot put block: CIDv0 needs codec dag-pb: received ${codecName}`,
        );
      }
      const cid = CID.create(version, code, await sha256.digest(bytes));
      await this.#blocks.put(cid, bytes, { signal });
      await this.#blocks.flush();
      return cid;
    });
  }

  async #blockHas(cid: CidLike, options: SignalOptions = {}): Promise<boolean> {
    return await this.#run("check block", undefined, options.signal, (signal) => {
      return this.#blocks.has(parseCid(cid, "check block"), { signal });
    });
  }

  async #blockStat(cid: CidLike, options: SignalOptions = {}): Promise<BlockStat> {
    return await this.#run("stat block", undefined, options.signal, async (signal) => {
      const parsed = parseCid(cid, "stat block");
      return { cid: parsed, size: await this.#blocks.size(parsed, { signal }) };
    });
  }

  async #blockRm(cid: CidLike, options: BlockRmOptions = {}): Promise<void> {
    await this.#run("remove block", undefined, options.signal, async (signal) => {
      const parsed = parseCid(cid, "remove block");
      const pinnedBy = await this.#pins.pinnedBy(parsed, this.#get);
      if (pinnedBy !== undefined) {
        throw new PinnedError(
          `Cannot remove block: it is pinned: ${parsed}${
            pinnedBy.equals(parsed.toV1()) ? "" : ` is inside pinned ${pinnedBy}`
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
   * Runs an operation in the runtime under `signal`. A `ReadableStream`
   * input that was never read is cancelled on failure, so its source (a
   * file, a socket) is released.
   */
  async #run<T>(
    what: string,
    input: AddInput | undefined,
    signal: AbortSignal | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    try {
      this.#checkOpen(what);
      return await withSignal(signal, async () => {
        await checkpoint();
        // The innermost scope's signal: `signal`, and every scope around the call.
        return await fn(CancelScope.current().signal);
      });
    } catch (error) {
      if (input instanceof ReadableStream && !input.locked) await input.cancel(error);
      throw error;
    }
  }

  /**
   * Runs the importer over the candidates `makeCandidates` gives. Blocks are
   * written concurrently; every write is joined before this returns, even on
   * failure (the importer abandons its in-flight writes when one fails), and
   * the inputs' signal aborts then, cancelling any stream input still being
   * read.
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
    let finished = false;
    const blocks = this.#blocks;
    const storage = {
      async put(
        cid: CID,
        bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
      ): Promise<CID> {
        if (finished) throw new Error("Cannot put block: the import has ended");
        const write = (async () => blocks.put(cid, await concat(bytes), { signal }))();
        pending.add(write);
        const forget = () => pending.delete(write);
        write.then(forget, forget);
        await write;
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
      while (pending.size > 0) await Promise.allSettled([...pending]);
      ended.abort(new Error("Cannot read input: the import has ended"));
    }
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

/** Parses a CID given as an object or a string. */
function parseCid(input: CidLike, what: string): CID {
  const cid = CID.asCID(input);
  if (cid !== null) return cid;
  if (typeof input === "string") {
    try {
      return CID.parse(input);
    } catch (error) {
      throw new InvalidCidError(
        `Cannot ${what}: not a valid CID: received ${JSON.stringify(input)}`,
        input,
        { cause: error },
      );
    }
  }
  throw new InvalidCidError(`Cannot ${what}: expected a CID: received ${typeof input}`, input);
}

function checkPin(pin: unknown, what: string): boolean {
  if (pin === undefined) return true;
  if (typeof pin !== "boolean") {
    throw new InvalidInputError(`Cannot ${what}: pin must be a boolean: received ${typeof pin}`);
  }
  return pin;
}

function checkCount(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(
      `Cannot cat: ${name} must be a non-negative integer: received ${String(value)}`,
    );
  }
  return value;
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
