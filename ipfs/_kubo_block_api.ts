/**
 * The Kubo backend's raw blocks: Kubo's `ipfs block` commands.
 *
 * @module
 */

import type { BlockApi, BlockStat, CID } from "./content_store.ts";
import { NotFoundError } from "./errors.ts";
import type { KuboCallOptions } from "./kubo_options.ts";
import { checkFlag } from "./_arguments.ts";
import { blockToPut } from "./_block_put.ts";
import type { KuboRpc } from "./_kubo_client.ts";
import type { KuboConnection } from "./_kubo_connection.ts";
import { toTypedError } from "./_kubo_errors.ts";
import { checkSameBlock, clientTimeout } from "./_kubo_wire.ts";
import { parseCid } from "./parse_cid.ts";

type BlockPutClientOptions = Parameters<KuboRpc["client"]["block"]["put"]>[1];
type BlockStatClientOptions = Parameters<KuboRpc["client"]["block"]["stat"]>[1];

/**
 * The `block` API of a Kubo backend.
 *
 * @param kubo The backend's connection.
 * @returns The API.
 */
export function kuboBlockApi(kubo: KuboConnection): BlockApi<KuboCallOptions> {
  return {
    async get(cid, options = {}): Promise<Uint8Array> {
      const parsed = parseCid(cid, "get block");
      return await kubo.call(
        { what: "get block", command: "block/get", subject: parsed.toString(), idempotent: true },
        options,
        (signal, left) => kubo.rpc.client.block.get(parsed, { signal, ...clientTimeout(left) }),
      );
    },

    async put(bytes, options = {}): Promise<CID> {
      const what = "put block";
      const { cid: expected, codec, pin } = await blockToPut(bytes, options, what);
      return await kubo.call(
        { what, command: "block/put", subject: expected.toString() },
        options,
        async (signal, left) => {
          // Kubo's `--cid-codec` (its `--format` is deprecated); the client
          // sends every option as a parameter.
          const stored = await kubo.rpc.client.block.put(bytes, {
            cidCodec: codec.name,
            mhtype: "sha2-256",
            signal,
            ...clientTimeout(left),
          } as BlockPutClientOptions);
          checkSameBlock(stored, expected, what);
          // Kubo's `block put --pin` pins recursively; a direct pin is asked for here.
          if (pin) {
            await kubo.rpc.client.pin.add(expected, {
              recursive: false,
              signal,
              ...clientTimeout(left),
            });
          }
          return expected;
        },
      );
    },

    async has(cid, options = {}): Promise<boolean> {
      const parsed = parseCid(cid, "check block");
      const spec = {
        what: "check block",
        command: "block/stat",
        subject: parsed.toString(),
        idempotent: true,
      };
      return await kubo.call(spec, options, async (signal, left) => {
        try {
          // `offline`: look in the daemon's store only, never the network.
          await kubo.rpc.client.block.stat(
            parsed,
            { offline: true, signal, ...clientTimeout(left) } as BlockStatClientOptions,
          );
          return true;
        } catch (error) {
          const typed = toTypedError(error, { ...spec, address: kubo.url.href });
          if (typed instanceof NotFoundError) return false;
          throw typed;
        }
      });
    },

    async stat(cid, options = {}): Promise<BlockStat> {
      const parsed = parseCid(cid, "stat block");
      return await kubo.call(
        { what: "stat block", command: "block/stat", subject: parsed.toString(), idempotent: true },
        options,
        async (signal, left) => {
          const stat = await kubo.rpc.client.block.stat(parsed, {
            signal,
            ...clientTimeout(left),
          });
          return { cid: parsed, size: Number(stat.size) };
        },
      );
    },

    async rm(cid, options = {}): Promise<void> {
      const parsed = parseCid(cid, "remove block");
      const force = checkFlag(options.force, false, "remove block", "force");
      const spec = { what: "remove block", command: "block/rm", subject: parsed.toString() };
      await kubo.call(spec, options, async (signal, left) => {
        for await (
          const removed of kubo.rpc.client.block.rm(parsed, {
            force,
            signal,
            ...clientTimeout(left),
          })
        ) {
          if (removed.error === undefined || removed.error === null) continue;
          // The daemon reports each block's failure in the stream, not as an HTTP error.
          const failure = Object.assign(new Error(String(removed.error.message)), {
            name: "HTTPError",
            response: new Response(null, {
              status: 500,
              headers: { "content-type": "application/json" },
            }),
          });
          throw toTypedError(failure, { ...spec, address: kubo.url.href });
        }
      });
    },
  };
}
