/**
 * The Kubo backend's pins: Kubo's `ipfs pin` commands.
 *
 * @module
 */

import type { CID, PinApi, PinEntry, PinType } from "./content_store.ts";
import type { KuboCallOptions } from "./kubo_options.ts";
import { checkFlag, checkPinLs } from "./_arguments.ts";
import type { KuboConnection } from "./_kubo_connection.ts";
import { clientTimeout, ipfsPath } from "./_kubo_wire.ts";

/**
 * The `pin` API of a Kubo backend.
 *
 * @param kubo The backend's connection.
 * @returns The API.
 */
export function kuboPinApi(kubo: KuboConnection): PinApi<KuboCallOptions> {
  return {
    async add(path, options = {}): Promise<CID> {
      const { arg, subject } = ipfsPath(path, "pin");
      const recursive = checkFlag(options.recursive, true, "pin", "recursive");
      return await kubo.call(
        { what: "pin", command: "pin/add", subject },
        options,
        (signal, left) =>
          kubo.rpc.client.pin.add(arg, { recursive, signal, ...clientTimeout(left) }),
      );
    },

    async rm(path, options = {}): Promise<CID> {
      const { arg, subject } = ipfsPath(path, "unpin");
      const recursive = checkFlag(options.recursive, true, "unpin", "recursive");
      return await kubo.call(
        { what: "unpin", command: "pin/rm", subject },
        options,
        (signal, left) =>
          kubo.rpc.client.pin.rm(arg, { recursive, signal, ...clientTimeout(left) }),
      );
    },

    async ls(options = {}): Promise<PinEntry[]> {
      const checked = checkPinLs(options);
      const type = checked.type;
      const paths = checked.paths?.map((path) => ipfsPath(path, "list pins").arg);
      return await kubo.call(
        { what: "list pins", command: "pin/ls", subject: paths?.join(", "), idempotent: true },
        options,
        async (signal, left) => {
          const out: PinEntry[] = [];
          for await (
            const pin of kubo.rpc.client.pin.ls({
              type,
              ...(paths === undefined ? {} : { paths }),
              signal,
              ...clientTimeout(left),
            })
          ) {
            out.push({ cid: pin.cid, type: pinType(pin.type) });
          }
          return out;
        },
      );
    },
  };
}

/** A pin's type as the kit names it; Kubo reports `indirect through <cid>`. */
function pinType(type: unknown): PinType {
  const text = String(type);
  if (text === "recursive" || text === "direct") return text;
  return "indirect";
}
