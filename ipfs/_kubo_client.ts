/**
 * The kit's factory for `kubo-rpc-client`, with the upload fix Deno needs,
 * and a raw `post` for the RPC commands whose typed wrappers lose
 * information the kit reports (`ls` link types, streamed `pubsub/sub`).
 *
 * ## The upload fix
 * Under Deno every call that uploads a body (add, block put, dag put, files
 * write, pubsub publish) fails with `fetch failed ... ArrayBuffer is not
 * detachable and could not be cloned`. The client builds a multipart body
 * as an async generator and hands `fetch` a Node `Readable` made of it
 * (`it-to-stream`). Deno's `fetch` rejects a Node stream whose chunks are
 * views into Node's shared Buffer pool (every header string of the
 * multipart body is one): it evidently tries to take each chunk's
 * `ArrayBuffer` over. A Web `ReadableStream` of the very same chunks, or an
 * async generator of them, is sent fine, and the caller's buffers are left
 * intact (checked: no chunk is detached).
 *
 * So the factory re-wraps such a body as a Web `ReadableStream`
 * ({@linkcode webBody}) that:
 * - reads the Node stream in flowing mode, chunk by chunk as written: the
 *   stream's paused-mode `read()` (and so its async iterator) would join
 *   everything buffered into one new Buffer, copying a large content chunk
 *   together with the small header strings around it;
 * - never copies: it enqueues views of the chunks, split into pieces of at
 *   most {@linkcode MAX_PIECE} bytes so `fetch` never holds more than one
 *   piece of a large chunk at a time, and applies backpressure by pausing
 *   the Node stream;
 * - destroys the Node stream when `fetch` cancels the body (an abort).
 *
 * A 64 MiB `Uint8Array` added this way is in memory once (the caller's), not
 * twice: measured against js-ipfs, the earlier fix (a copy of every chunk)
 * grew the process by 66 MiB and took 1.5 s, this one by 2 MiB and 0.75 s.
 *
 * ## How it is installed
 * The client offers no fetch hook, so the fix is installed per client: the
 * client's constructor captures `HTTP.prototype.fetch` into the instance; the
 * factory puts a wrapping `fetch` on that prototype while it constructs the
 * typed client (`create()`) and the raw one, both synchronous, and restores
 * it before returning. No `await`
 * lies between the swap and the restore, so concurrent `createKuboRpc`
 * calls cannot see each other's swap, and clients made elsewhere, and the
 * global `fetch`, are untouched.
 *
 * @module
 */

import type { KuboRPCClient } from "npm:kubo-rpc-client@7.1.0";

export type { KuboRPCClient };

/** Options for {@linkcode createKuboRpc}. */
export interface KuboClientOptions {
  /** The RPC API's base URL, e.g. `http://127.0.0.1:5001` (or with `/api/v0`). */
  url: string | URL;
  /** Headers sent with every request (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** A default timeout for every request, as the client takes it (ms or `"30s"`). */
  timeout?: number | string;
}

/** Options for {@linkcode KuboRpc.post}. */
export interface RpcPostOptions {
  /** The command's arguments, sent as repeated `arg` parameters. */
  args?: readonly string[];
  /** Other parameters (kebab-case names, as Kubo's flags); `undefined` ones are left out. */
  params?: Record<string, string | number | boolean | undefined>;
  /** Aborts the request (and the reading of its body). */
  signal?: AbortSignal;
}

/** A successful answer of {@linkcode KuboRpc.post}. */
export interface RpcResponse {
  /** The HTTP status (2xx). */
  readonly status: number;
  /** The response headers. */
  readonly headers: Headers;
  /** The body as one JSON value. */
  json(): Promise<unknown>;
  /** The body as newline-delimited JSON values, as they arrive. */
  ndjson(): AsyncGenerator<unknown, void, undefined>;
  /** The body's bytes, as they arrive. */
  iterator(): AsyncGenerator<Uint8Array, void, undefined>;
}

/** A client for one daemon: the typed API and the raw command call. */
export interface KuboRpc {
  /** `kubo-rpc-client`'s typed API. */
  readonly client: KuboRPCClient;
  /**
   * Calls an RPC command (`"ls"`, `"pubsub/sub"`) with `POST`. A failure
   * answer throws the client's `HTTPError` carrying the daemon's message.
   */
  post(command: string, options?: RpcPostOptions): Promise<RpcResponse>;
}

type HttpFetch = (this: unknown, resource: unknown, options?: FetchOptions) => Promise<unknown>;
interface FetchOptions {
  body?: unknown;
  [key: string]: unknown;
}
interface HttpModule {
  HTTP: { prototype: { fetch: HttpFetch } };
}
interface CoreClient {
  post(resource: string, options: Record<string, unknown>): Promise<RpcResponse>;
}
interface CoreModule {
  Client: new (options: Record<string, unknown>) => CoreClient;
}

interface Internals {
  create: (options: Record<string, unknown>) => KuboRPCClient;
  http: HttpModule;
  core: CoreModule;
}

let internals: Promise<Internals> | undefined;

/**
 * The client, and its internal `lib/http.js` and `lib/core.js` modules: the
 * same instances its `create()` uses (one package, one module graph).
 * Loaded on first use, so importing the kit does not load the client.
 */
function loadInternals(): Promise<Internals> {
  internals ??= (async () => {
    const { create } = await import("npm:kubo-rpc-client@7.1.0");
    const entry = import.meta.resolve("npm:kubo-rpc-client@7.1.0");
    const http = await import(new URL("./lib/http.js", entry).href) as Partial<HttpModule>;
    const core = await import(new URL("./lib/core.js", entry).href) as Partial<CoreModule>;
    if (typeof http.HTTP?.prototype?.fetch !== "function" || typeof core.Client !== "function") {
      throw new Error("Cannot create Kubo client: kubo-rpc-client's HTTP classes were not found");
    }
    return { create, http: http as HttpModule, core: core as CoreModule };
  })();
  return internals;
}

/**
 * Creates a `kubo-rpc-client` whose uploads work under Deno, and a raw
 * command call going through the same HTTP layer (base URL, headers, error
 * parsing).
 *
 * @param options The API URL, headers, a default timeout.
 * @returns The typed client and `post`.
 */
export async function createKuboRpc(options: KuboClientOptions): Promise<KuboRpc> {
  const { create, http, core } = await loadInternals();
  const settings = {
    url: options.url.toString(),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
  };
  const prototype = http.HTTP.prototype;
  const original = prototype.fetch;
  const patched: HttpFetch = async function (this: unknown, resource, fetchOptions = {}) {
    const body = fetchOptions.body;
    if (isStreamBody(body)) fetchOptions = { ...fetchOptions, body: webBody(body) };
    let response: unknown;
    try {
      response = await original.call(this, resource, fetchOptions);
    } catch (error) {
      // The client reads an error answer's body into its message: not when it is not Kubo's.
      const answer = (error as { response?: unknown } | null)?.response;
      if (answer instanceof Response && !isRpcAnswer(answer)) throw new NotKuboAnswer(answer);
      throw error;
    }
    if (response instanceof Response && !isRpcAnswer(response)) {
      await response.body?.cancel().catch(() => {});
      throw new NotKuboAnswer(response);
    }
    return response;
  };
  // Synchronous from here to the restore: no other code runs in between.
  prototype.fetch = patched;
  let client: KuboRPCClient;
  let raw: CoreClient;
  try {
    client = create(settings);
    raw = new core.Client(settings);
  } finally {
    prototype.fetch = original;
  }
  return {
    client,
    post(command, postOptions = {}) {
      const searchParams = new URLSearchParams();
      for (const [key, value] of Object.entries(postOptions.params ?? {})) {
        if (value !== undefined) searchParams.append(key, String(value));
      }
      for (const arg of postOptions.args ?? []) searchParams.append("arg", arg);
      return raw.post(command, { signal: postOptions.signal, searchParams });
    },
  };
}

/**
 * An HTTP answer that did not come from Kubo's RPC API: an HTML page, a proxy's
 * error. It keeps the status and type, never the body (which could be a whole
 * page, or something the user should not see in an error line).
 */
export class NotKuboAnswer extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The HTTP status text. */
  readonly statusText: string;
  /** What the answer said it was. */
  readonly contentType: string;

  /** @param response The answer. */
  constructor(response: Response) {
    const type = response.headers.get("content-type") ?? "";
    super(
      `not Kubo's RPC API: HTTP ${response.status} ${response.statusText} (${type || "no type"})`,
    );
    this.name = "NotKuboAnswer";
    this.status = response.status;
    this.statusText = response.statusText;
    this.contentType = type;
  }
}

/**
 * Whether an HTTP answer can be Kubo's RPC API (or js-ipfs's): never an HTML
 * page; an error answer as Kubo's JSON error or its plain "404 page not found".
 */
function isRpcAnswer(response: Response): boolean {
  const type = (response.headers.get("content-type") ?? "").toLowerCase();
  if (type.startsWith("text/html") || type.startsWith("application/xhtml")) return false;
  if (response.ok) return true;
  return type.includes("json") || type.startsWith("text/plain");
}

/**
 * Creates a `kubo-rpc-client` whose uploads work under Deno.
 *
 * @param options The API URL, headers, a default timeout.
 * @returns The client.
 */
export async function createKuboClient(options: KuboClientOptions): Promise<KuboRPCClient> {
  return (await createKuboRpc(options)).client;
}

/** The largest piece of a chunk handed to `fetch` at once. */
export const MAX_PIECE = 1_048_576;

/** The parts of a Node `Readable` the adapter uses. */
interface NodeReadable {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(error?: Error): unknown;
}

function isNodeReadable(body: unknown): body is NodeReadable {
  const value = body as Partial<NodeReadable> | null;
  return value !== null && typeof value === "object" && typeof value.on === "function" &&
    typeof value.off === "function" && typeof value.pause === "function" &&
    typeof value.resume === "function" && typeof value.destroy === "function";
}

/** A body Deno's `fetch` would read as a Node stream or an async iterable: not a Web stream. */
function isStreamBody(body: unknown): body is NodeReadable | AsyncIterable<unknown> {
  if (body === null || typeof body !== "object" || body instanceof ReadableStream) return false;
  return isNodeReadable(body) || Symbol.asyncIterator in body;
}

const encoder = new TextEncoder();

/** The chunk as bytes, in views of at most {@linkcode MAX_PIECE} bytes (no copies). */
function pieces(chunk: unknown): Uint8Array[] {
  let bytes: Uint8Array;
  if (typeof chunk === "string") bytes = encoder.encode(chunk);
  else if (ArrayBuffer.isView(chunk)) {
    bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  } else if (chunk instanceof ArrayBuffer) bytes = new Uint8Array(chunk);
  else throw new TypeError(`Cannot upload: unexpected body chunk: received ${typeof chunk}`);
  if (bytes.length <= MAX_PIECE) return bytes.length === 0 ? [] : [bytes];
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += MAX_PIECE) {
    out.push(bytes.subarray(at, Math.min(at + MAX_PIECE, bytes.length)));
  }
  return out;
}

/**
 * A Web `ReadableStream` of a Node stream's (or an async iterable's) chunks,
 * as views in pieces of at most {@linkcode MAX_PIECE} bytes, with
 * backpressure; cancelling it destroys the Node stream (or returns the
 * iterator).
 *
 * @param body The client's request body.
 * @returns A body Deno's `fetch` takes.
 */
export function webBody(body: NodeReadable | AsyncIterable<unknown>): ReadableStream<Uint8Array> {
  return isNodeReadable(body) ? fromNodeReadable(body) : fromAsyncIterable(body);
}

function fromNodeReadable(readable: NodeReadable): ReadableStream<Uint8Array> {
  let settled = false;
  let detach = () => {};
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const onData = (chunk: unknown) => {
        try {
          for (const piece of pieces(chunk)) controller.enqueue(piece);
        } catch (error) {
          fail(error);
          return;
        }
        if ((controller.desiredSize ?? 0) <= 0) readable.pause();
      };
      const onEnd = () => {
        if (settled) return;
        settled = true;
        detach();
        controller.close();
      };
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        detach();
        controller.error(error);
        readable.destroy();
      };
      const onError = (error: unknown) => fail(error);
      const onClose = () => fail(new Error("Cannot upload: the body stream closed before its end"));
      detach = () => {
        readable.off("data", onData);
        readable.off("end", onEnd);
        readable.off("error", onError);
        readable.off("close", onClose);
      };
      readable.on("data", onData);
      readable.on("end", onEnd);
      readable.on("error", onError);
      readable.on("close", onClose);
      readable.pause();
    },
    pull() {
      readable.resume();
    },
    cancel() {
      settled = true;
      detach();
      readable.destroy();
    },
  }, { highWaterMark: 1 });
}

function fromAsyncIterable(source: AsyncIterable<unknown>): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  let queue: Uint8Array[] = [];
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (queue.length === 0) {
        const result = await iterator.next();
        if (result.done) {
          controller.close();
          return;
        }
        queue = pieces(result.value);
      }
      controller.enqueue(queue.shift()!);
    },
    async cancel(reason) {
      queue = [];
      await iterator.return?.(reason);
    },
  }, { highWaterMark: 0 });
}
