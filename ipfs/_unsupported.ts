/**
 * The network-bound APIs of a backend without a network (the embedded
 * node): every call fails with `NotSupportedError`.
 *
 * @module
 */

import type { NameApi, PubsubApi, RoutingApi, SwarmApi } from "./content_store.ts";
import { NotSupportedError } from "./errors.ts";

/** The four network APIs, each call answered with `NotSupportedError`. */
export interface NetworkApis {
  name: NameApi;
  pubsub: PubsubApi;
  swarm: SwarmApi;
  routing: RoutingApi;
}

/**
 * Makes the APIs for `backend` (`"embedded"`).
 *
 * @param backend The backend's name, for the errors.
 * @returns The APIs.
 */
export function unsupportedNetworkApis(backend: string): NetworkApis {
  const error = (operation: string) =>
    new NotSupportedError(
      `Cannot ${operation}: not supported by the ${backend} node (it has no network): ` +
        "open it with `network` (a daemon: without --no-network) or use the Kubo backend",
      operation,
      backend,
    );
  const reject = (operation: string) => () => Promise.reject(error(operation));
  return {
    name: { publish: reject("name publish"), resolve: reject("name resolve") },
    pubsub: {
      publish: reject("pubsub publish"),
      subscribe: () => {
        throw error("pubsub subscribe");
      },
      ls: reject("pubsub ls"),
      peers: reject("pubsub peers"),
    },
    swarm: {
      peers: reject("swarm peers"),
      connect: reject("swarm connect"),
      disconnect: reject("swarm disconnect"),
    },
    routing: {
      findProvs: reject("routing findprovs"),
      findPeer: reject("routing findpeer"),
      provide: reject("routing provide"),
      get: reject("routing get"),
      put: reject("routing put"),
    },
  };
}
