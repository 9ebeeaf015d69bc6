/**
 * The embedded node's pins, as Kubo's `ipfs pin` commands: recursive and
 * direct pins kept in the repository's pin store; indirect pins found by
 * walking the recursive ones.
 *
 * @module
 */

import type { CID, PinApi, PinEntry, PinType } from "./content_store.ts";
import { NotFoundError, PinnedError } from "./errors.ts";
import { checkFlag, checkPinLs } from "./_arguments.ts";
import { blockKey } from "./_fs_blockstore.ts";
import { indirectPins, markDag } from "./_pinned_blocks.ts";
import type { Repository } from "./_repository.ts";
import { resolveUnixFsPath } from "./_unixfs_path.ts";

/**
 * The `pin` API of an embedded node.
 *
 * @param repo The node's repository.
 * @returns The API.
 */
export function embeddedPinApi(repo: Repository): PinApi {
  return {
    async add(path, options = {}): Promise<CID> {
      // Under the shared lock: garbage collection cannot take fetched blocks before the pin holds them.
      return await repo.run("pin", { lock: "shared", signal: options.signal }, async (signal) => {
        const recursive = checkFlag(options.recursive, true, "pin", "recursive");
        // With a network, what is not local is fetched (each block in the network's time limit).
        const cid = await resolveUnixFsPath(
          (cid) => repo.getBlock(cid, signal),
          path,
          "pin",
          signal,
        );
        const existing = await repo.pins.get(cid);
        if (recursive) {
          if (existing !== "recursive") {
            await repo.fetchDag(cid, signal);
            const found: CID[] = [];
            await markDag(repo.blocks, cid, new Set(), "pin", signal, found);
            // Blocks fetched unsynced become durable before the pin is recorded.
            await repo.blocks.syncBlocks(found, { signal });
            await repo.pins.set(cid, "recursive");
          }
          return cid;
        }
        if (existing === "recursive") {
          throw new PinnedError(`Cannot pin: ${cid} is already pinned recursively`, cid.toString());
        }
        if (!(await repo.blocks.has(cid, { signal }))) {
          if (repo.network === undefined) {
            throw new NotFoundError(`Cannot pin: block not found: ${cid}`, cid.toString());
          }
          await repo.getBlock(cid, signal);
        }
        await repo.blocks.syncBlocks([cid], { signal });
        if (existing !== "direct") await repo.pins.set(cid, "direct");
        return cid;
      });
    },

    async rm(path, options = {}): Promise<CID> {
      return await repo.run("unpin", { lock: "shared", signal: options.signal }, async (signal) => {
        const recursive = checkFlag(options.recursive, true, "unpin", "recursive");
        const cid = await resolveUnixFsPath(
          (cid) => repo.blocks.get(cid, { signal }),
          path,
          "unpin",
          signal,
        );
        const existing = await repo.pins.get(cid);
        if (existing === undefined) {
          throw new NotFoundError(
            `Cannot unpin: not pinned or pinned indirectly: ${cid}`,
            cid.toString(),
          );
        }
        if (existing === "recursive" && !recursive) {
          throw new PinnedError(`Cannot unpin: ${cid} is pinned recursively`, cid.toString());
        }
        await repo.pins.remove(cid);
        return cid;
      });
    },

    async ls(options = {}): Promise<PinEntry[]> {
      return await repo.run("list pins", { signal: options.signal }, async (signal) => {
        const { type, paths } = checkPinLs(options);
        const pins = await repo.pins.list();
        const wanted = (kind: PinType) => type === "all" || type === kind;
        const indirect = () => indirectPins(repo.blocks, pins, signal);
        if (paths !== undefined) {
          const out: PinEntry[] = [];
          let below: Map<string, CID> | undefined;
          for (const path of paths) {
            const cid = await resolveUnixFsPath(
              (cid) => repo.blocks.get(cid, { signal }),
              path,
              "list pins",
              signal,
            );
            const key = blockKey(cid);
            const stored = pins.find((pin) => blockKey(pin.cid) === key);
            let kind: PinType | undefined;
            if (stored !== undefined && wanted(stored.type)) kind = stored.type;
            else if (wanted("indirect")) {
              below ??= await indirect();
              if (below.has(key)) kind = "indirect";
            }
            if (kind === undefined || !wanted(kind)) {
              below ??= await indirect();
              if (below.has(key) || (stored !== undefined && !wanted(stored.type))) {
                kind = below.has(key) ? "indirect" : undefined;
              }
            }
            if (kind === undefined) {
              throw new NotFoundError(
                `Cannot list pins: ${cid} is not pinned${type === "all" ? "" : ` ${type}`}`,
                cid.toString(),
              );
            }
            out.push({ cid, type: kind });
          }
          return out;
        }
        const out: PinEntry[] = [];
        for (const pin of pins) if (wanted(pin.type)) out.push({ cid: pin.cid, type: pin.type });
        if (wanted("indirect")) {
          for (const cid of (await indirect()).values()) out.push({ cid, type: "indirect" });
        }
        return out;
      });
    },
  };
}
