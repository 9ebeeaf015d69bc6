/**
 * The embedded node's repository API, as Kubo's `ipfs repo` commands:
 * garbage collection (mark and sweep, holding the repository's lock
 * exclusively) and statistics.
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import * as Digest from "npm:multiformats@14.0.5/hashes/digest";
import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import type { RepoApi, RepoStat } from "./content_store.ts";
import { blockKey } from "./_fs_blockstore.ts";
import { markDag, markReachable } from "./_pinned_blocks.ts";
import type { Repository } from "./_repository.ts";

/**
 * The `repo` API of an embedded node.
 *
 * @param repo The node's repository.
 * @returns The API.
 */
export function embeddedRepoApi(repo: Repository): RepoApi {
  return {
    /**
     * Mark and sweep, holding the lock exclusively: marks every block a pin
     * holds (a recursive pin's whole DAG, a direct pin's block) and every
     * block the MFS root references (a root as Kubo's, best effort: missing
     * blocks below it are skipped), then deletes the rest. A missing block
     * below a recursive pin aborts before anything is deleted. When the
     * store may hold blocks torn by a power loss (written unsynced before a
     * reboot), it then verifies every block it kept, deleting torn ones,
     * and stops verifying reads (`FsBlockstore.verifyAll`).
     */
    async gc(options = {}): Promise<CID[]> {
      const run = { lock: "exclusive", signal: options.signal } as const;
      return await repo.run("collect garbage", run, async (signal) => {
        const marked = new Set<string>();
        for (const pin of await repo.pins.list()) {
          if (pin.type === "direct") marked.add(blockKey(pin.cid));
          else await markDag(repo.blocks, pin.cid, marked, "collect garbage", signal);
        }
        const files = repo.mfsRoot.current;
        if (files !== undefined) await markReachable(repo.blocks, files, marked, signal);
        const removed: CID[] = [];
        try {
          // Exclusive: no put is in flight, so any temporary file is a crash's.
          await repo.blocks.sweep();
          for await (const block of repo.blocks.entries()) {
            checkpointIfCancelled();
            if (marked.has(block.key)) continue;
            if (await repo.blocks.deleteKey(block.key)) {
              removed.push(CID.createV1(raw.code, Digest.decode(block.multihash)));
            }
          }
          // After a reboot that may have torn unsynced blocks: check the kept ones.
          for (const multihash of await repo.blocks.verifyAll({ signal })) {
            removed.push(CID.createV1(raw.code, Digest.decode(multihash)));
          }
        } finally {
          await repo.blocks.flush();
        }
        return removed;
      });
    },

    async stat(options = {}): Promise<RepoStat> {
      return await repo.run("stat repository", { signal: options.signal }, async () => {
        let numObjects = 0;
        let repoSize = 0;
        for await (const block of repo.blocks.entries()) {
          checkpointIfCancelled();
          numObjects++;
          repoSize += block.size;
        }
        return { numObjects, repoSize, repoPath: repo.path };
      });
    },
  };
}
