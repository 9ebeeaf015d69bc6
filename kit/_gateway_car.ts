/**
 * The gateway's CAR responses (`?format=car`, `application/vnd.ipld.car`):
 * a CARv1 written with `@ipld/car` as the client reads it, the requested
 * CID its root; the blocks of the path that leads to it first (so a client
 * can verify the path), then the DAG below it in depth-first order, each
 * block once (`order=dfs; dups=n`).
 *
 * @module
 */

import { CarWriter } from "npm:@ipld/car@5.4.7/writer";
import * as dagCbor from "npm:@ipld/dag-cbor@10.0.2";
import * as dagJson from "npm:@ipld/dag-json@11.0.1";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import type { ContentStore } from "../ipfs/content_store.ts";

/** How much of the DAG a CAR holds (the spec's `dag-scope`). */
export type DagScope = "all" | "entity" | "block";

/** The CIDs a block links to, in its order. */
export function linksOf(cid: CID, bytes: Uint8Array): CID[] {
  switch (cid.code) {
    case dagPb.code:
      return dagPb.decode(bytes).Links.map((link) => link.Hash);
    case raw.code:
      return [];
    case dagCbor.code:
      return collect(dagCbor.decode(bytes));
    case dagJson.code:
      return collect(dagJson.decode(bytes));
    default:
      return [];
  }
}

function collect(value: unknown, out: CID[] = []): CID[] {
  const cid = CID.asCID(value);
  if (cid !== null) out.push(cid);
  else if (Array.isArray(value)) { for (const item of value) collect(item, out); }
  else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    for (const item of Object.values(value)) collect(item, out);
  }
  return out;
}

/**
 * The CAR's bytes, as they are read: `pathBlocks` (the blocks from the
 * content root down to `root`), then `root`'s DAG as `scope` says.
 *
 * @param store Where the blocks are.
 * @param root The CAR's root: the CID the path resolved to.
 * @param pathBlocks The CIDs on the way to it (root first), written before it.
 * @param scope `block`: `root`'s block alone; `entity` and `all`: its whole DAG.
 * @param signal Aborts the reads.
 */
export function carStream(
  store: Pick<ContentStore, "block">,
  root: CID,
  pathBlocks: readonly CID[],
  scope: DagScope,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  const { writer, out } = CarWriter.create([root]);
  const seen = new Set<string>();
  const put = async (cid: CID): Promise<Uint8Array | undefined> => {
    const key = cid.multihash.bytes.join();
    if (seen.has(key)) return undefined;
    seen.add(key);
    const bytes = await store.block.get(cid, { signal });
    await writer.put({ cid, bytes });
    return bytes;
  };
  const walk = async (cid: CID): Promise<void> => {
    const bytes = await put(cid);
    if (bytes === undefined || scope === "block") return;
    for (const link of linksOf(cid, bytes)) await walk(link);
  };
  let failure: { error: unknown } | undefined;
  const writing = (async () => {
    try {
      for (const cid of pathBlocks) await put(cid);
      await walk(root);
    } catch (error) {
      failure = { error };
    } finally {
      await writer.close().catch(() => {});
    }
  })();
  const iterator = out[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) {
        await writing;
        // A block that could not be read ends the CAR short: an error, not a clean end.
        if (failure !== undefined) controller.error(failure.error);
        else controller.close();
      } else controller.enqueue(next.value);
    },
    async cancel() {
      failure ??= { error: new Error("cancelled") };
      await iterator.return?.();
      await writer.close().catch(() => {});
      await writing;
    },
  }, { highWaterMark: 0 });
}
