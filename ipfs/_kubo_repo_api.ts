/**
 * The Kubo backend's repository: Kubo's `ipfs repo gc` and `repo stat`.
 *
 * @module
 */

import { CID as Cid } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import type { CID, RepoApi, RepoStat } from "./content_store.ts";
import type { KuboCallOptions } from "./kubo_options.ts";
import { messageOf } from "./_arguments.ts";
import type { KuboConnection } from "./_kubo_connection.ts";
import { clientTimeout } from "./_kubo_wire.ts";

/**
 * The `repo` API of a Kubo backend.
 *
 * @param kubo The backend's connection.
 * @returns The API.
 */
export function kuboRepoApi(kubo: KuboConnection): RepoApi<KuboCallOptions> {
  return {
    gc(options = {}): Promise<CID[]> {
      return kubo.call(
        { what: "collect garbage", command: "repo/gc" },
        options,
        async (signal, left) => {
          const removed: CID[] = [];
          for await (const entry of kubo.rpc.client.repo.gc({ signal, ...clientTimeout(left) })) {
            if (entry.err !== undefined && entry.err !== null) {
              throw new Error(`Cannot collect garbage: ${messageOf(entry.err)}`);
            }
            if (entry.cid !== undefined) {
              removed.push(Cid.createV1(raw.code, entry.cid.multihash));
            }
          }
          return removed;
        },
      );
    },

    stat(options = {}): Promise<RepoStat> {
      return kubo.call(
        { what: "stat repository", command: "repo/stat", idempotent: true },
        options,
        async (signal, left) => {
          const stat = await kubo.rpc.client.repo.stat({ signal, ...clientTimeout(left) });
          return {
            numObjects: Number(stat.numObjects),
            repoSize: Number(stat.repoSize),
            repoPath: String(stat.repoPath),
          };
        },
      );
    },
  };
}
