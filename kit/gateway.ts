/**
 * An IPFS HTTP gateway over any {@linkcode ContentStore}, as a plain fetch
 * handler: the path gateway (files, directories, `index.html`, ranges) and
 * the trustless gateway (raw blocks and CARs) of the IPFS gateway specs.
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";
import type { ContentStore, StatResult } from "../ipfs/content_store.ts";
import {
  InvalidCidError,
  InvalidInputError,
  NotFoundError,
  NotSupportedError,
} from "../ipfs/errors.ts";
import { carStream, type DagScope } from "./_gateway_car.ts";
import { contentType } from "./_gateway_content_type.ts";
import { directoryListing } from "./_gateway_listing.ts";
import { type ByteRange, parseRange } from "./_gateway_ranges.ts";

/** A fetch handler, as `Deno.serve` takes one. */
export type GatewayHandler = (request: Request) => Promise<Response>;

/** Options for {@linkcode createGatewayHandler}. */
export interface GatewayOptions {
  /**
   * Serve deserialized responses (files, directory listings, `index.html`).
   * Default `true`; `false` makes a trustless-only gateway (raw blocks and
   * CARs; anything else is 406).
   */
  deserialized?: boolean;
}

/** `Cache-Control` of everything under `/ipfs/`: content addressed, so never stale. */
const IMMUTABLE = "public, max-age=29030400, immutable";
const RAW = "application/vnd.ipld.raw";
const CAR = "application/vnd.ipld.car";

/**
 * Makes a gateway handler over `store`. Reads go through the store (give it
 * a `Kit` to read through its tiered cache) and are streamed: a file is
 * never held whole, a range reads only its blocks.
 *
 * - `GET`/`HEAD /ipfs/<cid>[/<path>]`: a file with its content type (by
 *   extension, else sniffed), `Content-Length`, `ETag: "<cid>"`,
 *   `Cache-Control: public, max-age=29030400, immutable`, `X-Ipfs-Path`,
 *   `X-Ipfs-Roots`; `304` for a matching `If-None-Match`; `Range` (one range
 *   `206`, several `multipart/byteranges`, none that overlaps `416` with
 *   `Content-Range: bytes *\/<size>`). A directory redirects to its path
 *   with a `/`, then serves its `index.html` or an HTML listing (names
 *   escaped).
 * - Trustless: `?format=raw` or `Accept: application/vnd.ipld.raw` answers
 *   the block the path resolves to; `?format=car` or `Accept:
 *   application/vnd.ipld.car` a CARv1 (`@ipld/car`, streamed; `dag-scope`
 *   `all` (default), `entity` or `block`) rooted at it, the path's blocks
 *   first.
 * - `/ipns/<name>[/<path>]`: resolved through the store's `name.resolve`,
 *   then as above with a short `Cache-Control` (a store without IPNS answers
 *   `501`).
 * - Errors: `400` (a bad CID or request), `404` (no such path or block),
 *   `405` (a method other than GET or HEAD), `406` (an `Accept` or `format`
 *   it cannot give), `501`, `500`, each a one-line `text/plain` body.
 *
 * Like the RPC handler it takes no security decision; the gateway is
 * read-only, so the HTTP layer in front may expose it.
 *
 * @param store The store to read from.
 * @param options Whether to serve deserialized responses.
 * @returns The fetch handler.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createGatewayHandler } from "@ipfs-kit/kit/kit";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add("hello world\n");
 * const gateway = createGatewayHandler(node);
 * const response = await gateway(new Request(`http://localhost/ipfs/${cid}`));
 * assert.equal(response.headers.get("etag"), `"${cid}"`);
 * assert.equal(await response.text(), "hello world\n");
 * const part = await gateway(
 *   new Request(`http://localhost/ipfs/${cid}`, { headers: { range: "bytes=0-4" } }),
 * );
 * assert.equal(part.status, 206);
 * assert.equal(await part.text(), "hello");
 * ```
 */
export function createGatewayHandler(
  store: ContentStore,
  options: GatewayOptions = {},
): GatewayHandler {
  const deserialized = options.deserialized ?? true;
  return async (request) => {
    try {
      return await serve(store, request, deserialized);
    } catch (error) {
      return failure(error);
    }
  };
}

/** A path the gateway serves: the content root and the names below it. */
interface Target {
  /** `ipfs` or `ipns`. */
  namespace: string;
  /** The request's path, decoded, as `X-Ipfs-Path` gives it. */
  path: string;
  /** `<cid>/<names>`: what the store resolves. */
  storePath: string;
  /** The last name (or the CID). */
  name: string;
  /** Whether the URL path ends in `/`. */
  slash: boolean;
}

async function serve(store: ContentStore, request: Request, deserialized: boolean) {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return text(405, `Method ${request.method} not allowed: the gateway is read-only`, {
      allow: "GET, HEAD",
    });
  }
  const url = new URL(request.url);
  const target = await resolveTarget(store, url, request.signal);
  if (target instanceof Response) return target;
  const format = responseFormat(url, request.headers.get("accept"));
  if (format instanceof Response) return format;
  const signal = request.signal;
  const stat = await store.stat(target.storePath, { signal });
  const cid = stat.cid;
  const cache = target.namespace === "ipfs" ? IMMUTABLE : "public, max-age=60";
  const common: Record<string, string> = {
    "cache-control": cache,
    "x-ipfs-path": target.path,
    "x-ipfs-roots": await roots(store, target.storePath, signal),
    "x-content-type-options": "nosniff",
    vary: "Accept",
  };
  if (format === "raw" || format === "car") {
    const scope = (url.searchParams.get("dag-scope") ?? "all") as DagScope;
    if (format === "car" && !["all", "entity", "block"].includes(scope)) {
      return text(400, `Invalid dag-scope: ${scope}: expected all, entity or block`);
    }
    const etag = format === "raw" ? `"${cid}.raw"` : `"${cid}.car.${scope}"`;
    if (matches(request.headers.get("if-none-match"), etag)) {
      return new Response(null, { status: 304, headers: { ...common, etag } });
    }
    if (format === "raw") {
      const bytes = await store.block.get(cid, { signal });
      return new Response(request.method === "HEAD" ? null : bytes as Uint8Array<ArrayBuffer>, {
        headers: {
          ...common,
          etag,
          "content-type": RAW,
          "content-length": String(bytes.length),
          "content-disposition": `attachment; filename="${cid}.bin"`,
        },
      });
    }
    const headers = {
      ...common,
      etag,
      "content-type": `${CAR}; version=1; order=dfs; dups=n`,
      "content-disposition": `attachment; filename="${cid}.car"`,
      "accept-ranges": "none",
    };
    if (request.method === "HEAD") return new Response(null, { headers });
    const pathBlocks = await pathCids(store, target.storePath, signal);
    return new Response(
      carStream(store, cid, pathBlocks.slice(0, -1), scope === "entity" ? "all" : scope, signal),
      { headers },
    );
  }
  if (!deserialized) {
    return text(406, "This gateway is trustless only: ask for format=raw or format=car");
  }
  const etag = `"${cid}"`;
  if (stat.type === "directory") {
    if (!target.slash) {
      const location = `${url.pathname}/${url.search}`;
      return new Response(null, { status: 301, headers: { ...common, location } });
    }
    const index = await store.stat(`${target.storePath}/index.html`, { signal }).catch(
      (error) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      },
    );
    if (index !== undefined && index.type === "file") {
      return await file(store, request, `${target.storePath}/index.html`, "index.html", index, {
        ...common,
        etag: `"${index.cid}"`,
      });
    }
    const listingTag = `"DirIndex-${cid}"`;
    if (matches(request.headers.get("if-none-match"), listingTag)) {
      return new Response(null, { status: 304, headers: { ...common, etag: listingTag } });
    }
    const html = directoryListing(target.path, await store.ls(target.storePath, { signal }));
    const body = new TextEncoder().encode(html);
    return new Response(request.method === "HEAD" ? null : body, {
      headers: {
        ...common,
        etag: listingTag,
        "content-type": "text/html; charset=utf-8",
        "content-length": String(body.length),
      },
    });
  }
  if (matches(request.headers.get("if-none-match"), etag)) {
    return new Response(null, { status: 304, headers: { ...common, etag } });
  }
  return await file(store, request, target.storePath, target.name, stat, { ...common, etag });
}

/** A file: whole, one range, several ranges, or 416. */
async function file(
  store: ContentStore,
  request: Request,
  path: string,
  name: string,
  stat: StatResult,
  headers: Record<string, string>,
): Promise<Response> {
  const signal = request.signal;
  const size = stat.size;
  const head = await readHead(store, path, Math.min(size, 512), signal);
  const type = contentType(name, head);
  const ranges = request.headers.has("if-range") &&
      request.headers.get("if-range") !== headers.etag
    ? undefined
    : parseRange(request.headers.get("range"), size);
  const base = { ...headers, "accept-ranges": "bytes" };
  if (ranges === "unsatisfiable") {
    return text(416, `Range not satisfiable: the file has ${size} bytes`, {
      ...base,
      "content-range": `bytes */${size}`,
    });
  }
  const body = (range?: ByteRange) =>
    request.method === "HEAD" ? null : store.cat(path, {
      signal,
      ...(range === undefined ? {} : { offset: range.start, length: range.end - range.start + 1 }),
    });
  if (ranges === undefined) {
    return new Response(body(), {
      headers: { ...base, "content-type": type, "content-length": String(size) },
    });
  }
  if (ranges.length === 1) {
    const [range] = ranges;
    return new Response(body(range), {
      status: 206,
      headers: {
        ...base,
        "content-type": type,
        "content-length": String(range.end - range.start + 1),
        "content-range": `bytes ${range.start}-${range.end}/${size}`,
      },
    });
  }
  const boundary = `ipfs-kit-${crypto.randomUUID()}`;
  const encoder = new TextEncoder();
  const partHeads = ranges.map((range, i) =>
    encoder.encode(
      `${
        i === 0 ? "" : "\r\n"
      }--${boundary}\r\ncontent-type: ${type}\r\ncontent-range: bytes ${range.start}-${range.end}/${size}\r\n\r\n`,
    )
  );
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  const length = partHeads.reduce((sum, part) => sum + part.length, 0) + tail.length +
    ranges.reduce((sum, range) => sum + range.end - range.start + 1, 0);
  const several: ByteRange[] = ranges;
  async function* parts(): AsyncGenerator<Uint8Array, void, undefined> {
    for (const [i, range] of several.entries()) {
      yield partHeads[i];
      yield* store.cat(path, { signal, offset: range.start, length: range.end - range.start + 1 });
    }
    yield tail;
  }
  return new Response(request.method === "HEAD" ? null : ReadableStream.from(parts()), {
    status: 206,
    headers: {
      ...base,
      "content-type": `multipart/byteranges; boundary=${boundary}`,
      "content-length": String(length),
    },
  });
}

/** The first `count` bytes of a file, for sniffing its type. */
async function readHead(
  store: ContentStore,
  path: string,
  count: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  if (count === 0) return new Uint8Array(0);
  return new Uint8Array(
    await new Response(store.cat(path, { signal, length: count })).arrayBuffer(),
  );
}

/** The request's path as the store reads it, or an error answer. */
async function resolveTarget(
  store: ContentStore,
  url: URL,
  signal: AbortSignal,
): Promise<Target | Response> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    return text(400, `Invalid path: not URL-encoded: ${url.pathname}`);
  }
  const match = /^\/(ipfs|ipns)\/([^/]+)(\/.*)?$/.exec(decoded);
  if (match === null) {
    return text(404, `Not found: the gateway serves /ipfs/<cid>[/path] and /ipns/<name>[/path]`);
  }
  const [, namespace, root, rest = ""] = match;
  const names = rest.split("/").filter((name) => name !== "");
  if (names.some((name) => name === "." || name === "..")) {
    return text(400, `Invalid path: ${decoded}: . and .. are not allowed`);
  }
  let cid: string;
  if (namespace === "ipfs") {
    try {
      cid = CID.parse(root).toString();
    } catch {
      return text(400, `Invalid path: ${JSON.stringify(root)} is not a CID`);
    }
  } else {
    const resolved = await store.name.resolve(root, { signal });
    const path = resolved.replace(/^\/ipfs\//, "");
    cid = [path, ...names].join("/").split("/")[0];
    names.unshift(...path.split("/").slice(1).filter((name) => name !== ""));
  }
  return {
    namespace,
    path: decoded,
    storePath: [cid, ...names].join("/"),
    name: names.at(-1) ?? "",
    slash: url.pathname.endsWith("/"),
  };
}

/** The response format asked for: `undefined` (deserialized), `raw`, `car`, or a 400/406. */
function responseFormat(url: URL, accept: string | null): "raw" | "car" | undefined | Response {
  const format = url.searchParams.get("format");
  if (format !== null) {
    if (format === "raw" || format === "car") return format;
    return text(400, `Unsupported format=${format}: this gateway gives raw and car`);
  }
  const types = (accept ?? "").split(",").map((type) => type.split(";")[0].trim().toLowerCase());
  if (types.includes(RAW)) return "raw";
  if (types.includes(CAR)) return "car";
  const wantsOther = types.find((type) => type.startsWith("application/vnd.ipld."));
  if (wantsOther !== undefined) return text(406, `Not acceptable: ${wantsOther}`);
  return undefined;
}

/** The CIDs of every step of a path, root first (the `X-Ipfs-Roots` header). */
async function pathCids(store: ContentStore, path: string, signal: AbortSignal): Promise<CID[]> {
  const parts = path.split("/");
  const out: CID[] = [];
  for (let i = 1; i <= parts.length; i++) {
    out.push((await store.stat(parts.slice(0, i).join("/"), { signal })).cid);
  }
  return out;
}

async function roots(store: ContentStore, path: string, signal: AbortSignal): Promise<string> {
  return (await pathCids(store, path, signal)).map(String).join(",");
}

function matches(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(",").some((tag) => {
    const value = tag.trim().replace(/^W\//, "");
    return value === "*" || value === etag;
  });
}

function text(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { ...headers, "content-type": "text/plain; charset=utf-8" },
  });
}

/** An error as the gateway answers it. */
function failure(error: unknown): Response {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof InvalidCidError) return text(400, message);
  if (error instanceof NotFoundError) return text(404, message);
  if (error instanceof NotSupportedError) return text(501, message);
  if (error instanceof InvalidInputError) return text(400, message);
  return text(500, message);
}
