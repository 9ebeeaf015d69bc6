/**
 * The Kubo backend's IPLD nodes: put through Kubo's `dag put`; paths
 * followed here, block by block (through `block get`), so they resolve as
 * on the embedded node.
 *
 * @module
 */

import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import type { CID, DagApi, DagGetResult, DagResolveResult } from "./content_store.ts";
import type { KuboCallOptions } from "./kubo_options.ts";
import { pathString } from "./_arguments.ts";
import { dagNodeToPut } from "./_block_put.ts";
import { resolvePath, splitPath } from "./_dag_path.ts";
import type { KuboConnection } from "./_kubo_connection.ts";
import { checkSameBlock, clientTimeout } from "./_kubo_wire.ts";

/**
 * The `dag` API of a Kubo backend.
 *
 * @param kubo The backend's connection.
 * @returns The API.
 */
export function kuboDagApi(kubo: KuboConnection): DagApi<KuboCallOptions> {
  return {
    async put(value, options = {}): Promise<CID> {
      const what = "put dag node";
      const { cid: expected, bytes, codec, pin } = await dagNodeToPut(value, options, what);
      return await kubo.call(
        { what, command: "dag/put", subject: expected.toString() },
        options,
        async (signal, left) => {
          // Encoded here, so the daemon stores exactly these bytes.
          const stored = await kubo.rpc.client.dag.put(bytes, {
            inputCodec: codec.name,
            storeCodec: codec.name,
            hashAlg: "sha2-256",
            pin,
            signal,
            ...clientTimeout(left),
          });
          checkSameBlock(stored, expected, what);
          return expected;
        },
      );
    },

    async get(path, options = {}): Promise<DagGetResult> {
      const what = "get dag node";
      const { root, segments } = splitPath(path, options.path, what);
      return await kubo.call(
        { what, command: "block/get", subject: pathString(path), idempotent: true },
        options,
        async (signal, left) => {
          const resolved = await resolvePath(
            root,
            segments,
            (cid) => kubo.rpc.client.block.get(cid, { signal, ...clientTimeout(left) }),
            what,
            checkpointIfCancelled,
          );
          return { value: resolved.value, remainderPath: "" };
        },
      );
    },

    async resolve(path, options = {}): Promise<DagResolveResult> {
      const what = "resolve dag path";
      const { root, segments } = splitPath(path, undefined, what);
      return await kubo.call(
        { what, command: "block/get", subject: pathString(path), idempotent: true },
        options,
        async (signal, left) => {
          const resolved = await resolvePath(
            root,
            segments,
            (cid) => kubo.rpc.client.block.get(cid, { signal, ...clientTimeout(left) }),
            what,
            checkpointIfCancelled,
            false,
          );
          return { cid: resolved.cid, remainderPath: resolved.remainderPath };
        },
      );
    },
  };
}
