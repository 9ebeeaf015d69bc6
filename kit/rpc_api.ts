/**
 * Kubo's RPC API (`/api/v0/*`) over any {@linkcode ContentStore}, as a plain
 * fetch handler: what `kubo-rpc-client`, Kubo's own command line and the
 * kit's Kubo backend talk to.
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { isCancellationError, TimeoutError } from "../runtime/errors.ts";
import type { ContentStore } from "../ipfs/content_store.ts";
import { RPC_COMMANDS } from "./_rpc_commands.ts";
import { errorResponse } from "./_rpc_errors.ts";
import { RpcParams } from "./_rpc_params.ts";

/** Connection details the HTTP layer passes on (as `Deno.serve` does). */
export interface RpcRequestInfo {
  /** The peer's address. */
  remoteAddr?: Deno.NetAddr | Deno.UnixAddr | Deno.Addr;
}

/** A fetch handler, as `Deno.serve` takes one. */
export type RpcHandler = (request: Request, info?: RpcRequestInfo) => Promise<Response>;

/** Options for {@linkcode createRpcHandler}. */
export interface RpcHandlerOptions {
  /** The path prefix the API answers under. Default `/api/v0/`. */
  prefix?: string;
}

/**
 * Makes a handler that answers Kubo's RPC API over `store`: `POST
 * /api/v0/<command>?arg=...&<option>=...`, with Kubo's answers, status codes
 * and error bodies (`{"Message": ..., "Code": ..., "Type": "error"}`).
 *
 * Commands: `add` (multipart, streamed into the store as it arrives; every
 * layout option of the kit: `cid-version`, `raw-leaves`, `chunker=size-N`,
 * `pin`, `wrap-with-directory`, `progress`), `cat`, `get` (a tar), `ls`,
 * `files/stat` (of an `/ipfs/` path or an MFS path), `object/stat`,
 * `pin/add|rm|ls`, `block/get|put|stat|rm`, `dag/put|get|resolve`,
 * `repo/gc|stat`, `id`, `version`, `files/ls|mkdir|write|read|cp|mv|rm|flush|chcid`,
 * `swarm/*`, `routing/*`, `name/publish|resolve`, `pubsub/*`. A store
 * without a network (the embedded node) answers the network commands with
 * Kubo's 500 for an unavailable feature (`... not supported`). The
 * `timeout` option (a Go duration) bounds a command as in Kubo (`context
 * deadline exceeded`). A client that goes away cancels its command (an
 * add in progress stops and pins nothing).
 *
 * What the handler leaves to the HTTP layer in front of it: it takes no
 * security decision. It answers whoever reaches it, so the layer must bind
 * to loopback or check a token, check `Host` and `Origin` (Kubo refuses
 * browsers' cross-site requests), add CORS headers only when configured,
 * cap connections, header sizes and slow clients. Methods other than
 * `POST` are refused with 405, as Kubo does, which already stops simple
 * cross-site `GET`s. Request bodies are read as the command consumes them
 * (an upload is never held whole); the only bounded reads are of one block
 * (`block/put`: 1 MiB, `dag/put`: 2 MiB, `pubsub/pub`).
 *
 * @param store The store to serve: a `Kit` (with its cache), an `EmbeddedNode`, ...
 * @param options The path prefix.
 * @returns The fetch handler.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRpcHandler } from "@ipfs-kit/kit/kit";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const handler = createRpcHandler(node);
 * const response = await handler(
 *   new Request("http://127.0.0.1/api/v0/version", { method: "POST" }),
 * );
 * assert.equal((await response.json()).Version, "0.1.0");
 * const missing = await handler(
 *   new Request("http://127.0.0.1/api/v0/cat?arg=not-a-cid", { method: "POST" }),
 * );
 * assert.equal(missing.status, 400);
 * assert.equal((await missing.json()).Type, "error");
 * ```
 */
export function createRpcHandler(store: ContentStore, options: RpcHandlerOptions = {}): RpcHandler {
  const prefix = options.prefix ?? "/api/v0/";
  return async (request) => {
    const url = new URL(request.url);
    if (!url.pathname.startsWith(prefix)) return notFound();
    const command = RPC_COMMANDS.get(url.pathname.slice(prefix.length).replace(/\/+$/, ""));
    if (command === undefined) return notFound();
    if (request.method !== "POST") {
      return new Response(`405 - Method Not Allowed: ${request.method}\n`, {
        status: 405,
        headers: { "content-type": "text/plain; charset=utf-8", allow: "POST" },
      });
    }
    let params: RpcParams;
    let timeoutMs: number | undefined;
    try {
      params = new RpcParams(url.searchParams);
      timeoutMs = params.timeoutMs();
    } catch (error) {
      return errorResponse(error);
    }
    const scope = new CancelScope({
      signal: request.signal,
      ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
    });
    let failure: unknown;
    const response = await scope.run(async (inner) => {
      try {
        return await command({
          store,
          params,
          request,
          signal: inner.signal,
          streamSignal: request.signal,
        });
      } catch (error) {
        if (isCancellationError(error) && inner.signal.aborted) throw error;
        failure = error;
        return undefined;
      }
    });
    if (response !== undefined) return response;
    if (scope.cancelledCaught && !request.signal.aborted) {
      return errorResponse(
        new TimeoutError(`Cannot run ${url.pathname}: timed out after ${timeoutMs} ms`),
      );
    }
    return errorResponse(failure ?? new Error("the request was cancelled"));
  };
}

function notFound(): Response {
  return new Response("404 page not found\n", {
    status: 404,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
