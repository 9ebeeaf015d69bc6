/**
 * The Kubo backend's connections to peers: Kubo's `ipfs swarm peers`,
 * `swarm connect` and `swarm disconnect`.
 *
 * @module
 */

import type { SwarmApi, SwarmPeer } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";
import type { KuboCallOptions } from "./kubo_options.ts";
import type { KuboConnection } from "./_kubo_connection.ts";
import { clientTimeout, rpcTimeout } from "./_kubo_wire.ts";

/**
 * The `swarm` API of a Kubo backend.
 *
 * @param kubo The backend's connection.
 * @returns The API.
 */
export function kuboSwarmApi(kubo: KuboConnection): SwarmApi<KuboCallOptions> {
  const change = async (
    action: "connect" | "disconnect",
    addr: string,
    options: KuboCallOptions = {},
  ): Promise<void> => {
    const what = `${action} peer`;
    if (typeof addr !== "string" || !addr.startsWith("/")) {
      throw new InvalidInputError(
        `Cannot ${what}: addr must be a multiaddress: received ${
          typeof addr === "string" ? JSON.stringify(addr) : typeof addr
        }`,
      );
    }
    await kubo.call(
      { what, command: `swarm/${action}`, subject: addr },
      options,
      async (signal, left) => {
        const response = await kubo.rpc.post(`swarm/${action}`, {
          args: [addr],
          params: rpcTimeout(left),
          signal,
        });
        await response.json();
      },
    );
  };
  return {
    peers(options = {}): Promise<SwarmPeer[]> {
      return kubo.call(
        { what: "list peers", command: "swarm/peers", idempotent: true },
        options,
        async (signal, left) => {
          const peers = await kubo.rpc.client.swarm.peers({ signal, ...clientTimeout(left) });
          return peers.map((peer) => ({ peer: peer.peer.toString(), addr: peer.addr.toString() }));
        },
      );
    },
    connect: (addr, options) => change("connect", addr, options),
    disconnect: (addr, options) => change("disconnect", addr, options),
  };
}
