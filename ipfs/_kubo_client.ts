/**
 * The kit's factory for `kubo-rpc-client`, with the upload fix Deno needs.
 *
 * Under Deno every call that uploads a body (add, block put, dag put, files
 * write, pubsub publish) fails with `fetch failed ... ArrayBuffer is not
 * detachable`: the client hands `fetch` a Node stream whose chunks are views
 * of Node's shared Buffer pool, which Deno's `fetch` cannot take over. The
 * fix re-wraps such a body as a Web `ReadableStream` of copied chunks
 * (`duplex: "half"`, which the client already sets).
 *
 * The client offers no fetch hook, so the fix is installed per client: the
 * client's constructor captures `HTTP.prototype.fetch` into the instance; the
 * factory puts a wrapping `fetch` on that prototype for the duration of the
 * (synchronous) `create()` call and restores it at once. Clients made
 * elsewhere, and the global `fetch`, are untouched.
 *
 * @module
 */

import { create, type KuboRPCClient } from "npm:kubo-rpc-client@7.1.0";

export type { KuboRPCClient };

/** Options for {@linkcode createKuboClient}. */
export interface KuboClientOptions {
  /** The RPC API's base URL, e.g. `http://127.0.0.1:5001`. */
  url: string | URL;
  /** Headers sent with every request (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** A default timeout for every request, as the client takes it (ms or `"30s"`). */
  timeout?: number | string;
}

type HttpFetch = (this: unknown, resource: unknown, options?: FetchOptions) => Promise<unknown>;
interface FetchOptions {
  body?: unknown;
  [key: string]: unknown;
}
interface HttpModule {
  HTTP: { prototype: { fetch: HttpFetch } };
}

let httpModule: Promise<HttpModule> | undefined;

/** The client's internal `lib/http.js` module, the same instance its `create()` uses. */
function loadHttpModule(): Promise<HttpModule> {
  httpModule ??= (async () => {
    const entry = import.meta.resolve("npm:kubo-rpc-client@7.1.0");
    const module = await import(new URL("./lib/http.js", entry).href) as Partial<HttpModule>;
    if (typeof module.HTTP?.prototype?.fetch !== "function") {
      throw new Error("Cannot create Kubo client: kubo-rpc-client's HTTP class was not found");
    }
    return module as HttpModule;
  })();
  return httpModule;
}

/**
 * Creates a `kubo-rpc-client` whose uploads work under Deno.
 *
 * @param options The API URL, headers, a default timeout.
 * @returns The client.
 */
export async function createKuboClient(options: KuboClientOptions): Promise<KuboRPCClient> {
  const { HTTP } = await loadHttpModule();
  const original = HTTP.prototype.fetch;
  const patched: HttpFetch = function (this: unknown, resource, fetchOptions = {}) {
    const body = fetchOptions.body;
    if (isStreamBody(body)) fetchOptions = { ...fetchOptions, body: copiedStream(body) };
    return original.call(this, resource, fetchOptions);
  };
  HTTP.prototype.fetch = patched;
  try {
    return create({
      url: options.url.toString(),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    });
  } finally {
    HTTP.prototype.fetch = original;
  }
}

/** A body Deno's `fetch` would read chunk by chunk: a Node stream or another async iterable. */
function isStreamBody(body: unknown): body is AsyncIterable<unknown> {
  return body !== null && typeof body === "object" && !(body instanceof ReadableStream) &&
    Symbol.asyncIterator in body;
}

const encoder = new TextEncoder();

/** A Web stream of copies of `source`'s chunks, read on demand. */
function copiedStream(source: AsyncIterable<unknown>): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const result = await iterator.next();
      if (result.done) {
        controller.close();
        return;
      }
      const chunk = result.value;
      if (typeof chunk === "string") controller.enqueue(encoder.encode(chunk));
      else if (ArrayBuffer.isView(chunk)) {
        controller.enqueue(
          new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength).slice(),
        );
      } else if (chunk instanceof ArrayBuffer) controller.enqueue(new Uint8Array(chunk.slice(0)));
      else throw new TypeError(`Cannot upload: unexpected body chunk: received ${typeof chunk}`);
    },
    async cancel(reason) {
      await iterator.return?.(reason);
    },
  }, { highWaterMark: 0 });
}
