/**
 * The embedded node's raw blocks, as Kubo's `ipfs block` commands: read,
 * stored and removed in the repository's blockstore.
 *
 * @module
 */

import type { BlockApi, BlockStat, CID } from "./content_store.ts";
import { NotFoundError, PinnedError } from "./errors.ts";
import { blockToPut } from "./_block_put.ts";
import { blockKey } from "./_fs_blockstore.ts";
import { pinnedBy } from "./_pinned_blocks.ts";
import type { Repository } from "./_repository.ts";
import { parseCid } from "./parse_cid.ts";

/**
 * The `block` API of an embedded node.
 *
 * @param repo The node's repository.
 * @returns The API.
 */
export function embeddedBlockApi(repo: Repository): BlockApi {
  return {
    async get(cid, options = {}): Promise<Uint8Array> {
      return await repo.run("get block", { signal: options.signal }, (signal) => {
        return repo.getBlock(parseCid(cid, "get block"), signal);
      });
    },

    async put(bytes, options = {}): Promise<CID> {
      const run = { lock: "shared", signal: options.signal } as const;
      return await repo.run("put block", run, async (signal) => {
        const { cid, pin } = await blockToPut(bytes, options, "put block");
        await repo.blocks.put(cid, bytes, { signal });
        await repo.blocks.flush();
        if (pin) await repo.pins.set(cid, "direct");
        return cid;
      });
    },

    async has(cid, options = {}): Promise<boolean> {
      return await repo.run("check block", { signal: options.signal }, (signal) => {
        return repo.blocks.has(parseCid(cid, "check block"), { signal });
      });
    },

    async stat(cid, options = {}): Promise<BlockStat> {
      return await repo.run("stat block", { signal: options.signal }, async (signal) => {
        const parsed = parseCid(cid, "stat block");
        return { cid: parsed, size: await repo.blocks.size(parsed, { signal }) };
      });
    },

    async rm(cid, options = {}): Promise<void> {
      const run = { lock: "exclusive", signal: options.signal } as const;
      await repo.run("remove block", run, async (signal) => {
        const parsed = parseCid(cid, "remove block");
        const holder = await pinnedBy(repo.blocks, await repo.pins.list(), parsed, signal);
        if (holder !== undefined) {
          throw new PinnedError(
            `Cannot remove block: it is pinned: ${parsed}${
              blockKey(holder) === blockKey(parsed) ? "" : ` is inside pinned ${holder}`
            }`,
            parsed.toString(),
          );
        }
        const removed = await repo.blocks.delete(parsed, { signal });
        if (!removed && !options.force) {
          throw new NotFoundError(`Cannot remove block: not found: ${parsed}`, parsed.toString());
        }
        await repo.blocks.flush();
      });
    },
  };
}
