/**
 * The embedded node's IPLD nodes (dag-cbor, dag-json, dag-pb, raw), as
 * Kubo's `ipfs dag` commands: encoded and stored in the repository's
 * blockstore; paths followed block by block.
 *
 * @module
 */

import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import type { CID, DagApi, DagGetResult, DagResolveResult } from "./content_store.ts";
import { dagNodeToPut } from "./_block_put.ts";
import { linksOf } from "./_codecs.ts";
import { resolvePath, splitPath } from "./_dag_path.ts";
import { blockKey } from "./_fs_blockstore.ts";
import { markDag } from "./_pinned_blocks.ts";
import type { Repository } from "./_repository.ts";

/**
 * The `dag` API of an embedded node.
 *
 * @param repo The node's repository.
 * @returns The API.
 */
export function embeddedDagApi(repo: Repository): DagApi {
  return {
    async put(value, options = {}): Promise<CID> {
      const run = { lock: "shared", signal: options.signal } as const;
      return await repo.run("put dag node", run, async (signal) => {
        const what = "put dag node";
        const { cid, bytes, pin } = await dagNodeToPut(value, options, what);
        if (pin) {
          // Every link must be present before the pin is written (and the block stored).
          const self = blockKey(cid);
          for (const link of linksOf(cid, bytes)) {
            if (blockKey(link) === self) continue;
            await markDag(repo.blocks, link, new Set(), what, signal);
          }
        }
        await repo.blocks.put(cid, bytes, { signal });
        await repo.blocks.flush();
        if (pin) await repo.pins.set(cid, "recursive");
        return cid;
      });
    },

    async get(path, options = {}): Promise<DagGetResult> {
      return await repo.run("get dag node", { signal: options.signal }, async (signal) => {
        const { root, segments } = splitPath(path, options.path, "get dag node");
        const resolved = await resolvePath(
          root,
          segments,
          (cid) => repo.getBlock(cid, signal),
          "get dag node",
          checkpointIfCancelled,
        );
        return { value: resolved.value, remainderPath: "" };
      });
    },

    async resolve(path, options = {}): Promise<DagResolveResult> {
      return await repo.run("resolve dag path", { signal: options.signal }, async (signal) => {
        const { root, segments } = splitPath(path, undefined, "resolve dag path");
        const resolved = await resolvePath(
          root,
          segments,
          (cid) => repo.getBlock(cid, signal),
          "resolve dag path",
          checkpointIfCancelled,
          false,
        );
        return { cid: resolved.cid, remainderPath: resolved.remainderPath };
      });
    },
  };
}
