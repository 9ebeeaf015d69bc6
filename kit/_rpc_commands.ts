/**
 * The RPC API's commands: each `/api/v0/<command>` as Kubo answers it, over
 * any {@linkcode ContentStore}. One function per command; the table at the
 * end maps the command names.
 *
 * Answers follow Kubo's wire forms (field names, ndjson where Kubo streams
 * lines, raw bytes for `cat`, `block/get` and `files/read`, a tar for
 * `get`). Streamed bodies are read from the store as the client reads them;
 * uploads are read from the request as the store consumes them.
 *
 * @module
 */

import * as dagJson from "npm:@ipld/dag-json@11.0.1";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { base64url } from "npm:multiformats@14.0.5/bases/base64";
import type {
  AddAllEntry,
  AddAllOptions,
  BlockCodec,
  ContentStore,
  DagCodec,
  FilesWriteOptions,
  PinType,
} from "../ipfs/content_store.ts";
import { MAX_BLOCK_SIZE } from "../ipfs/content_store.ts";
import { errorLine, errorResponse, RpcArgumentError } from "./_rpc_errors.ts";
import { boundaryOf, MultipartReader, type Part } from "./_rpc_multipart.ts";
import type { RpcParams } from "./_rpc_params.ts";
import { tarEntries } from "./_rpc_tar.ts";

/** What a command runs with. */
export interface RpcContext {
  store: ContentStore;
  params: RpcParams;
  request: Request;
  /** The call's signal: the request's, and the `timeout` argument. */
  signal: AbortSignal;
  /** The request's own signal (the client going away), for streamed answers. */
  streamSignal: AbortSignal;
}

/** A command. */
export type RpcCommand = (context: RpcContext) => Promise<Response>;

const encoder = new TextEncoder();

function json(value: unknown): Response {
  return new Response(JSON.stringify(value) + "\n", {
    headers: { "content-type": "application/json", "X-Chunked-Output": "1" },
  });
}

function ndjson(values: unknown[]): Response {
  return new Response(values.map((value) => JSON.stringify(value) + "\n").join(""), {
    headers: { "content-type": "application/json", "X-Chunked-Output": "1" },
  });
}

function empty(): Response {
  return new Response(null, { status: 200, headers: { "content-type": "text/plain" } });
}

/**
 * A streamed answer: the first chunk is read before the answer starts, so a
 * failure before any byte (a missing path) is Kubo's error answer; a later
 * failure ends the body early (a client sees a short read).
 */
async function streamed(
  source: AsyncIterable<Uint8Array>,
  type: string,
): Promise<Response> {
  const iterator = source[Symbol.asyncIterator]();
  let first: IteratorResult<Uint8Array>;
  try {
    first = await iterator.next();
  } catch (error) {
    await iterator.return?.().catch(() => {});
    return errorResponse(error);
  }
  let pending: Uint8Array | undefined = first.done ? undefined : first.value;
  let done = first.done === true;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending !== undefined) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      if (done) {
        controller.close();
        return;
      }
      const next = await iterator.next();
      if (next.done) {
        done = true;
        controller.close();
      } else controller.enqueue(next.value);
    },
    async cancel() {
      await iterator.return?.().catch(() => {});
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    headers: { "content-type": type, "X-Stream-Output": "1", "X-Content-Length": "" },
  });
}

/** A part's whole content, refused past `limit` bytes (read no further). */
async function readPart(part: Part, limit: number, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of part.content) {
    length += chunk.length;
    if (length > limit) {
      throw new RangeError(`Cannot ${what}: the data is over ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** The one file part of an upload command (`block/put`, `dag/put`, `files/write`). */
async function onePart(request: Request): Promise<[MultipartReader, Part]> {
  if (request.body === null) throw new RpcArgumentError(`file argument 'data' is required`);
  const reader = new MultipartReader(request.body, boundaryOf(request.headers.get("content-type")));
  const part = await reader.next();
  if (part === undefined) {
    await reader.cancel();
    throw new RpcArgumentError(`file argument 'data' is required`);
  }
  return [reader, part];
}

/** Kubo's `--chunker=size-N`. */
function chunkSize(params: RpcParams): number | undefined {
  const chunker = params.string("chunker");
  if (chunker === undefined || chunker === "") return undefined;
  const match = /^size-(\d+)$/.exec(chunker);
  if (match === null) {
    throw new RpcArgumentError(`unrecognized chunker option: ${chunker} (only size-<bytes>)`);
  }
  return Number(match[1]);
}

function cidVersion(params: RpcParams): 0 | 1 | undefined {
  const version = params.int("cid-version");
  if (version === undefined) return undefined;
  if (version !== 0 && version !== 1) {
    throw new RpcArgumentError(`unknown CID version: ${version}`);
  }
  return version;
}

function checkHash(params: RpcParams, name = "hash"): void {
  const hash = params.string(name);
  if (hash !== undefined && hash !== "sha2-256") {
    throw new RpcArgumentError(`unsupported hash function: ${hash} (only sha2-256)`);
  }
}

// Content

async function add({ store, params, request, signal, streamSignal }: RpcContext) {
  if (request.body === null) throw new RpcArgumentError(`file argument 'path' is required`);
  checkHash(params);
  for (const flag of ["only-hash", "nocopy", "fscache", "inline"]) {
    if (params.bool(flag, false)) throw new RpcArgumentError(`--${flag} is not supported`);
  }
  if (params.bool("trickle", false)) throw new RpcArgumentError(`--trickle is not supported`);
  const version = cidVersion(params);
  const rawLeaves = params.bool("raw-leaves");
  const size = chunkSize(params);
  const options: AddAllOptions = {
    ...(version === undefined ? {} : { cidVersion: version }),
    ...(rawLeaves === undefined ? {} : { rawLeaves }),
    ...(size === undefined ? {} : { chunkSize: size }),
    pin: params.bool("pin", true),
    wrapWithDirectory: params.bool("wrap-with-directory", false),
  };
  const progress = params.bool("progress", false);
  const reader = new MultipartReader(request.body, boundaryOf(request.headers.get("content-type")));
  const run = async (onProgress?: (bytes: number, path: string) => void) => {
    try {
      const first = await reader.next();
      if (first === undefined) throw new RpcArgumentError(`file argument 'path' is required`);
      const withProgress = { ...options, signal, ...(onProgress ? { onProgress } : {}) };
      if (first.filename === "" && first.type !== "application/x-directory") {
        const { wrapWithDirectory: _, ...single } = withProgress;
        const result = await store.add(first.content, single);
        if (await reader.next() !== undefined) {
          throw new RpcArgumentError("an unnamed file must be the only one");
        }
        const cid = result.cid.toString();
        return [{ Name: cid, Hash: cid, Size: String(result.size) }];
      }
      const results = await store.addAll(entries(first, reader), withProgress);
      return results.map((result) => ({
        Name: result.path,
        Hash: result.cid.toString(),
        Size: String(result.size),
      }));
    } finally {
      await reader.cancel();
    }
  };
  if (!progress) return ndjson(await run());
  // Progress: lines as the content is read (the latest of each file when the client is slow).
  const lines = new TransformStream<string, Uint8Array>({
    transform: (line, controller) => controller.enqueue(encoder.encode(line)),
  });
  const writer = lines.writable.getWriter();
  const finished = (async () => {
    try {
      const results = await run((bytes, path) => {
        if ((writer.desiredSize ?? 0) > 0) {
          void writer.write(JSON.stringify({ Name: path, Bytes: bytes }) + "\n").catch(() => {});
        }
      });
      for (const line of results) await writer.write(JSON.stringify(line) + "\n");
    } catch (error) {
      await writer.write(errorLine(error)).catch(() => {});
    } finally {
      await writer.close().catch(() => {});
    }
  })();
  streamSignal.addEventListener("abort", () => void finished, { once: true });
  return new Response(lines.readable, {
    headers: { "content-type": "application/json", "X-Chunked-Output": "1" },
  });
}

/** The entries of an `add` upload, as its parts arrive. */
async function* entries(first: Part, reader: MultipartReader): AsyncGenerator<AddAllEntry> {
  let part: Part | undefined = first;
  while (part !== undefined) {
    const path = part.filename;
    if (path === "") {
      throw new RpcArgumentError("every part of a directory upload needs a filename");
    }
    if (part.type === "application/x-directory") yield { path };
    else if (part.type === "application/symlink") {
      const target = new TextDecoder().decode(await readPart(part, 4096, "add"));
      yield { path, link: target };
    } else yield { path, content: part.content };
    part = await reader.next();
  }
}

function cat({ store, params, streamSignal }: RpcContext) {
  const offset = params.int("offset");
  const length = params.int("length");
  return streamed(
    store.cat(params.arg(0, "ipfs-path"), {
      ...(offset === undefined ? {} : { offset }),
      ...(length === undefined ? {} : { length }),
      signal: streamSignal,
    }),
    "text/plain",
  );
}

async function get({ store, params, streamSignal }: RpcContext) {
  const path = params.arg(0, "ipfs-path");
  if (params.bool("compress", false)) throw new RpcArgumentError("--compress is not supported");
  const trimmed = path.replace(/^\/ipfs\//, "").replace(/\/+$/, "");
  const name = trimmed.split("/").at(-1)!;
  return await streamed(tarEntries(store, trimmed, name, streamSignal), "application/x-tar");
}

const LINK_TYPES = { directory: 1, file: 2, symlink: 4 } as const;

async function ls({ store, params, signal }: RpcContext) {
  const objects = [];
  for (const path of params.args.length === 0 ? [params.arg(0, "ipfs-path")] : params.args) {
    const stat = await store.stat(path, { signal });
    const links = stat.type === "directory"
      ? (await store.ls(path, { signal })).map((entry) => ({
        Name: entry.name,
        Hash: entry.cid.toString(),
        Size: entry.size,
        Type: LINK_TYPES[entry.type],
        Target: "",
      }))
      : [];
    objects.push({ Hash: path, Links: links });
  }
  return json({ Objects: objects });
}

async function filesStat({ store, params, signal }: RpcContext) {
  const path = params.arg(0, "path");
  const stat = path.startsWith("/ipfs/")
    ? await store.stat(path, { signal })
    : await store.files.stat(path, { signal });
  return json({
    Hash: stat.cid.toString(),
    Size: stat.size,
    CumulativeSize: stat.cumulativeSize,
    Blocks: stat.blocks,
    Type: stat.type,
    WithLocality: false,
  });
}

async function objectStat({ store, params, signal }: RpcContext) {
  const path = params.arg(0, "key");
  const stat = await store.stat(path, { signal });
  const bytes = await store.block.get(stat.cid, { signal });
  let links = 0;
  let dataSize = bytes.length;
  if (stat.cid.code === dagPb.code) {
    const node = dagPb.decode(bytes);
    links = node.Links.length;
    dataSize = node.Data?.length ?? 0;
  }
  return json({
    Hash: stat.cid.toString(),
    NumLinks: links,
    BlockSize: bytes.length,
    LinksSize: bytes.length - dataSize,
    DataSize: dataSize,
    CumulativeSize: stat.cumulativeSize,
  });
}

// Pins

async function pinAdd({ store, params, signal }: RpcContext) {
  const recursive = params.bool("recursive", true);
  const pins = [];
  for (const path of requiredArgs(params, "ipfs-path")) {
    pins.push((await store.pin.add(path, { recursive, signal })).toString());
  }
  return json({ Pins: pins });
}

async function pinRm({ store, params, signal }: RpcContext) {
  const recursive = params.bool("recursive", true);
  const pins = [];
  for (const path of requiredArgs(params, "ipfs-path")) {
    pins.push((await store.pin.rm(path, { recursive, signal })).toString());
  }
  return json({ Pins: pins });
}

async function pinLs({ store, params, signal }: RpcContext) {
  const type = (params.string("type") ?? "all") as PinType | "all";
  if (!["all", "recursive", "direct", "indirect"].includes(type)) {
    throw new RpcArgumentError(
      `invalid type '${type}', must be one of {direct, indirect, recursive, all}`,
    );
  }
  const pins = await store.pin.ls({
    type,
    ...(params.args.length === 0 ? {} : { paths: params.args }),
    signal,
  });
  if (params.bool("stream", false)) {
    return ndjson(pins.map((pin) => ({ Cid: pin.cid.toString(), Type: pin.type })));
  }
  const keys: Record<string, { Type: string }> = {};
  for (const pin of pins) keys[pin.cid.toString()] = { Type: pin.type };
  return json({ Keys: keys });
}

// Blocks

async function blockGet({ store, params, signal }: RpcContext) {
  const bytes = await store.block.get(params.arg(0, "cid"), { signal });
  return new Response(bytes as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": "text/plain" },
  });
}

const CODECS: Record<string, BlockCodec> = {
  raw: "raw",
  "dag-pb": "dag-pb",
  protobuf: "dag-pb",
  v0: "dag-pb",
  "dag-cbor": "dag-cbor",
  cbor: "dag-cbor",
  "dag-json": "dag-json",
};

async function blockPut({ store, params, request, signal }: RpcContext) {
  const name = params.string("cid-codec") ?? params.string("format") ?? "raw";
  const codec = CODECS[name];
  if (codec === undefined) throw new RpcArgumentError(`unknown codec: ${name}`);
  checkHash(params, "mhtype");
  const [reader, part] = await onePart(request);
  try {
    const bytes = await readPart(part, MAX_BLOCK_SIZE, "put block");
    const cid = await store.block.put(bytes, {
      codec,
      cidVersion: params.string("format") === "v0" ? 0 : 1,
      signal,
    });
    // Kubo's `block put --pin` pins recursively.
    if (params.bool("pin", false)) await store.pin.add(cid, { recursive: true, signal });
    return json({ Key: cid.toString(), Size: bytes.length });
  } finally {
    await reader.cancel();
  }
}

async function blockStat({ store, params, signal }: RpcContext) {
  const arg = params.arg(0, "cid");
  const stat = await store.block.stat(arg, { signal });
  return json({ Key: arg, Size: stat.size });
}

async function blockRm({ store, params, signal }: RpcContext) {
  const force = params.bool("force", false);
  const lines: Array<{ Hash: string; Error?: string }> = [];
  for (const arg of requiredArgs(params, "cid")) {
    try {
      await store.block.rm(arg, { force, signal });
      lines.push({ Hash: arg }); // Kubo leaves Error out on success
    } catch (error) {
      if (signal.aborted) throw error;
      lines.push({ Hash: arg, Error: JSON.parse(errorLine(error)).Message });
    }
  }
  return ndjson(
    params.bool("quiet", false) ? lines.filter((line) => line.Error !== undefined) : lines,
  );
}

// DAG

const DAG_CODECS = new Set<string>(["dag-cbor", "dag-json", "dag-pb", "raw"]);

function dagCodec(params: RpcParams, name: string, fallback: DagCodec): DagCodec {
  const value = params.string(name) ?? fallback;
  if (!DAG_CODECS.has(value)) throw new RpcArgumentError(`unknown ${name}: ${value}`);
  return value as DagCodec;
}

async function dagPut({ store, params, request, signal }: RpcContext) {
  const inputCodec = dagCodec(params, "input-codec", "dag-json");
  const storeCodec = dagCodec(params, "store-codec", "dag-cbor");
  checkHash(params);
  const [reader, part] = await onePart(request);
  try {
    // The input may be larger than the block it encodes to (JSON text): bounded at twice the limit.
    const bytes = await readPart(part, 2 * MAX_BLOCK_SIZE, "put dag node");
    const cid = await store.dag.put(bytes, {
      inputCodec,
      storeCodec,
      pin: params.bool("pin", false),
      signal,
    });
    return json({ Cid: { "/": cid.toString() } });
  } finally {
    await reader.cancel();
  }
}

async function dagGet({ store, params, signal }: RpcContext) {
  const codec = params.string("output-codec") ?? "dag-json";
  if (codec !== "dag-json") {
    throw new RpcArgumentError(`unsupported output-codec: ${codec} (only dag-json)`);
  }
  const { value } = await store.dag.get(params.arg(0, "ref"), { signal });
  return new Response(dagJson.encode(value) as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": "application/json" },
  });
}

async function dagResolve({ store, params, signal }: RpcContext) {
  const resolved = await store.dag.resolve(params.arg(0, "ref"), { signal });
  return json({ Cid: { "/": resolved.cid.toString() }, RemPath: resolved.remainderPath });
}

// Repository, identity

async function repoGc({ store, signal }: RpcContext) {
  const removed = await store.repo.gc({ signal });
  return ndjson(removed.map((cid) => ({ Key: { "/": cid.toString() } })));
}

async function repoStat({ store, signal }: RpcContext) {
  const stat = await store.repo.stat({ signal });
  const version = await store.version({ signal });
  return json({
    NumObjects: stat.numObjects,
    RepoSize: stat.repoSize,
    RepoPath: stat.repoPath,
    Version: `fs-repo@${version.repo}`,
    StorageMax: 0,
  });
}

async function id({ store, params, signal }: RpcContext) {
  if (params.args.length > 0) {
    throw new RpcArgumentError("looking up another peer's identity is not supported");
  }
  const result = await store.id({ signal });
  return json({
    ID: result.id,
    PublicKey: result.publicKey,
    Addresses: result.addresses,
    AgentVersion: result.agentVersion,
    Protocols: result.protocols,
  });
}

async function version({ store, signal }: RpcContext) {
  const result = await store.version({ signal });
  return json({
    Version: result.version,
    Commit: "",
    Repo: result.repo,
    System: result.system,
    Golang: "",
  });
}

// MFS

async function filesLs({ store, params, signal }: RpcContext) {
  const entries = await store.files.ls(params.args[0] ?? "/", { signal });
  const long = params.bool("long", false) || params.bool("l", false);
  return json({
    Entries: entries.map((entry) => ({
      Name: entry.name,
      Type: long ? (entry.type === "directory" ? 1 : 0) : 0,
      Size: long ? entry.size : 0,
      Hash: long ? entry.cid.toString() : "",
    })),
  });
}

async function filesMkdir({ store, params, signal }: RpcContext) {
  const version = cidVersion(params);
  checkHash(params);
  await store.files.mkdir(params.arg(0, "path"), {
    parents: params.bool("parents", false) || params.bool("p", false),
    ...(version === undefined ? {} : { cidVersion: version }),
    signal,
  });
  return empty();
}

async function filesWrite({ store, params, request, signal }: RpcContext) {
  const path = params.arg(0, "path");
  checkHash(params);
  const version = cidVersion(params);
  const rawLeaves = params.bool("raw-leaves");
  const size = chunkSize(params);
  const offset = params.int("offset");
  const count = params.int("count");
  const options: FilesWriteOptions = {
    create: params.bool("create", false) || params.bool("e", false),
    parents: params.bool("parents", false) || params.bool("p", false),
    truncate: params.bool("truncate", false) || params.bool("t", false),
    ...(offset === undefined ? {} : { offset }),
    ...(count === undefined ? {} : { length: count }),
    ...(version === undefined ? {} : { cidVersion: version }),
    ...(rawLeaves === undefined ? {} : { rawLeaves }),
    ...(size === undefined ? {} : { chunkSize: size }),
    signal,
  };
  const [reader, part] = await onePart(request);
  try {
    await store.files.write(path, part.content, options);
  } finally {
    await reader.cancel();
  }
  return empty();
}

function filesRead({ store, params, streamSignal }: RpcContext) {
  const offset = params.int("offset");
  const count = params.int("count") ?? params.int("length");
  return streamed(
    store.files.read(params.arg(0, "path"), {
      ...(offset === undefined ? {} : { offset }),
      ...(count === undefined ? {} : { length: count }),
      signal: streamSignal,
    }),
    "text/plain",
  );
}

async function filesCp({ store, params, signal }: RpcContext) {
  await store.files.cp(params.arg(0, "source"), params.arg(1, "dest"), {
    parents: params.bool("parents", false) || params.bool("p", false),
    signal,
  });
  return empty();
}

async function filesMv({ store, params, signal }: RpcContext) {
  await store.files.mv(params.arg(0, "source"), params.arg(1, "dest"), { signal });
  return empty();
}

async function filesRm({ store, params, signal }: RpcContext) {
  const recursive = params.bool("recursive", false) || params.bool("r", false);
  const force = params.bool("force", false);
  for (const path of requiredArgs(params, "path")) {
    await store.files.rm(path, { recursive, force, signal });
  }
  return empty();
}

async function filesFlush({ store, params, signal }: RpcContext) {
  const cid = await store.files.flush(params.args[0] ?? "/", { signal });
  return json({ Cid: cid.toString() });
}

async function filesChcid({ store, params, signal }: RpcContext) {
  const version = cidVersion(params);
  checkHash(params);
  await store.files.chcid(params.args[0] ?? "/", {
    ...(version === undefined ? {} : { cidVersion: version }),
    signal,
  });
  return empty();
}

// The network (the embedded node answers NotSupportedError: Kubo's 500 for an unavailable feature)

async function swarmPeers({ store, signal }: RpcContext) {
  const peers = await store.swarm.peers({ signal });
  return json({ Peers: peers.map((peer) => ({ Addr: peer.addr, Peer: peer.peer })) });
}

function swarmChange(action: "connect" | "disconnect"): RpcCommand {
  return async ({ store, params, signal }) => {
    const out = [];
    for (const addr of requiredArgs(params, "address")) {
      await store.swarm[action](addr, { signal });
      out.push(`${action} ${addr} success`);
    }
    return json({ Strings: out });
  };
}

const ROUTING = { finalPeer: 2, provider: 4, value: 5 } as const;

async function routingFindprovs({ store, params, signal }: RpcContext) {
  const numProviders = params.int("num-providers");
  const peers = await store.routing.findProvs(params.arg(0, "key"), {
    ...(numProviders === undefined ? {} : { numProviders }),
    signal,
  });
  return ndjson(peers.map((peer) => ({
    Type: ROUTING.provider,
    Responses: [{ ID: peer.id, Addrs: peer.addrs }],
  })));
}

async function routingFindpeer({ store, params, signal }: RpcContext) {
  const peer = await store.routing.findPeer(params.arg(0, "peerID"), { signal });
  return ndjson([{ Type: ROUTING.finalPeer, Responses: [{ ID: peer.id, Addrs: peer.addrs }] }]);
}

async function routingProvide({ store, params, signal }: RpcContext) {
  for (const key of requiredArgs(params, "key")) await store.routing.provide(key, { signal });
  return ndjson([]);
}

async function routingGet({ store, params, signal }: RpcContext) {
  const value = await store.routing.get(params.arg(0, "key"), { signal });
  let binary = "";
  for (const byte of value) binary += String.fromCharCode(byte);
  return ndjson([{ Type: ROUTING.value, Extra: btoa(binary) }]);
}

async function routingPut({ store, params, request, signal }: RpcContext) {
  const [reader, part] = await onePart(request);
  try {
    const value = await readPart(part, MAX_BLOCK_SIZE, "put routing value");
    await store.routing.put(params.arg(0, "key"), value, { signal });
  } finally {
    await reader.cancel();
  }
  return ndjson([]);
}

async function namePublish({ store, params, signal }: RpcContext) {
  const key = params.string("key");
  const lifetime = params.string("lifetime");
  const ttl = params.string("ttl");
  const published = await store.name.publish(params.arg(0, "ipfs-path"), {
    ...(key === undefined ? {} : { key }),
    ...(lifetime === undefined ? {} : { lifetime }),
    ...(ttl === undefined ? {} : { ttl }),
    allowOffline: params.bool("allow-offline", false),
    signal,
  });
  return json({ Name: published.name, Value: published.value });
}

async function nameResolve({ store, params, signal }: RpcContext) {
  const path = await store.name.resolve(params.arg(0, "name"), {
    recursive: params.bool("recursive", true),
    nocache: params.bool("nocache", false),
    signal,
  });
  return json({ Path: path });
}

/** A topic as the wire carries it: multibase base64url (`u...`). */
function topicOf(text: string): string {
  if (!text.startsWith("u")) {
    throw new RpcArgumentError("topic must be multibase-encoded (base64url, u...)");
  }
  return new TextDecoder().decode(base64url.decode(text));
}

function multibase(bytes: Uint8Array): string {
  return base64url.encode(bytes);
}

async function pubsubPub({ store, params, request, signal }: RpcContext) {
  const topic = topicOf(params.arg(0, "topic"));
  const [reader, part] = await onePart(request);
  try {
    const data = await readPart(part, MAX_BLOCK_SIZE, "publish message");
    await store.pubsub.publish(topic, data, { signal });
  } finally {
    await reader.cancel();
  }
  return empty();
}

function pubsubSub({ store, params, streamSignal }: RpcContext) {
  const topic = topicOf(params.arg(0, "topic"));
  const messages = store.pubsub.subscribe(topic, { signal: streamSignal });
  return streamed(
    (async function* () {
      for await (const message of messages) {
        const seqno = message.sequenceNumber === undefined
          ? undefined
          : multibase(bigintBytes(message.sequenceNumber));
        yield encoder.encode(
          JSON.stringify({
            from: message.from,
            data: multibase(message.data),
            ...(seqno === undefined ? {} : { seqno }),
            topicIDs: [multibase(encoder.encode(message.topic))],
          }) + "\n",
        );
      }
    })(),
    "application/json",
  );
}

function bigintBytes(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  for (let i = 7; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return bytes;
}

async function pubsubLs({ store, signal }: RpcContext) {
  const topics = await store.pubsub.ls({ signal });
  return json({ Strings: topics.map((topic) => multibase(encoder.encode(topic))) });
}

async function pubsubPeers({ store, params, signal }: RpcContext) {
  const topic = params.args[0] === undefined ? undefined : topicOf(params.args[0]);
  return json({ Strings: await store.pubsub.peers(topic, { signal }) });
}

function requiredArgs(params: RpcParams, name: string): string[] {
  if (params.args.length === 0) params.arg(0, name);
  return params.args;
}

/** Every command, by the name after `/api/v0/`. */
export const RPC_COMMANDS: ReadonlyMap<string, RpcCommand> = new Map<string, RpcCommand>([
  ["add", add],
  ["cat", cat],
  ["get", get],
  ["ls", ls],
  ["object/stat", objectStat],
  ["pin/add", pinAdd],
  ["pin/rm", pinRm],
  ["pin/ls", pinLs],
  ["block/get", blockGet],
  ["block/put", blockPut],
  ["block/stat", blockStat],
  ["block/rm", blockRm],
  ["dag/put", dagPut],
  ["dag/get", dagGet],
  ["dag/resolve", dagResolve],
  ["repo/gc", repoGc],
  ["repo/stat", repoStat],
  ["id", id],
  ["version", version],
  ["files/stat", filesStat],
  ["files/ls", filesLs],
  ["files/mkdir", filesMkdir],
  ["files/write", filesWrite],
  ["files/read", filesRead],
  ["files/cp", filesCp],
  ["files/mv", filesMv],
  ["files/rm", filesRm],
  ["files/flush", filesFlush],
  ["files/chcid", filesChcid],
  ["swarm/peers", swarmPeers],
  ["swarm/connect", swarmChange("connect")],
  ["swarm/disconnect", swarmChange("disconnect")],
  ["routing/findprovs", routingFindprovs],
  ["routing/findpeer", routingFindpeer],
  ["routing/provide", routingProvide],
  ["routing/get", routingGet],
  ["routing/put", routingPut],
  ["name/publish", namePublish],
  ["name/resolve", nameResolve],
  ["pubsub/pub", pubsubPub],
  ["pubsub/sub", pubsubSub],
  ["pubsub/ls", pubsubLs],
  ["pubsub/peers", pubsubPeers],
]);
