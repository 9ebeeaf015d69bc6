/**
 * The Kubo backend's IPNS: Kubo's `ipfs name publish` and `name resolve`.
 *
 * @module
 */

import type { NameApi, NamePublishResult } from "./content_store.ts";
import { InvalidInputError, NotFoundError } from "./errors.ts";
import type { KuboCallOptions } from "./kubo_options.ts";
import { checkFlag } from "./_arguments.ts";
import type { KuboConnection } from "./_kubo_connection.ts";
import { clientTimeout, ipfsPath } from "./_kubo_wire.ts";

/**
 * The `name` API of a Kubo backend.
 *
 * @param kubo The backend's connection.
 * @returns The API.
 */
export function kuboNameApi(kubo: KuboConnection): NameApi<KuboCallOptions> {
  return {
    async publish(path, options = {}): Promise<NamePublishResult> {
      const what = "publish name";
      const { arg, subject } = ipfsPath(path, what);
      const key = checkText(options.key, what, "key");
      const lifetime = checkText(options.lifetime, what, "lifetime");
      const ttl = checkText(options.ttl, what, "ttl");
      const allowOffline = checkFlag(options.allowOffline, false, what, "allowOffline");
      return await kubo.call(
        { what, command: "name/publish", subject },
        options,
        async (signal, left) => {
          const published = await kubo.rpc.client.name.publish(arg, {
            ...(key === undefined ? {} : { key }),
            ...(lifetime === undefined ? {} : { lifetime }),
            ...(ttl === undefined ? {} : { ttl }),
            allowOffline,
            signal,
            ...clientTimeout(left),
          });
          return { name: String(published.name), value: String(published.value) };
        },
      );
    },

    async resolve(name, options = {}): Promise<string> {
      const what = "resolve name";
      if (typeof name !== "string" || name.replace(/^\/ipns\//, "").replace(/\/+$/, "") === "") {
        throw new InvalidInputError(
          `Cannot ${what}: name must be an IPNS name or /ipns/ path: received ${
            typeof name === "string" ? JSON.stringify(name) : typeof name
          }`,
        );
      }
      const recursive = checkFlag(options.recursive, true, what, "recursive");
      const nocache = checkFlag(options.nocache, false, what, "nocache");
      const arg = name.startsWith("/ipns/") ? name : `/ipns/${name}`;
      return await kubo.call(
        { what, command: "name/resolve", subject: arg },
        options,
        async (signal, left) => {
          let path: string | undefined;
          for await (
            const value of kubo.rpc.client.name.resolve(arg, {
              recursive,
              nocache,
              signal,
              ...clientTimeout(left),
            })
          ) {
            path = value;
          }
          if (path === undefined) {
            throw new NotFoundError(`Cannot ${what}: the daemon found nothing for ${arg}`, arg);
          }
          return path;
        },
      );
    },
  };
}

/** An optional text option: `undefined`, or a non-empty string. */
function checkText(value: unknown, what: string, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new InvalidInputError(
      `Cannot ${what}: ${name} must be a non-empty string: received ${typeof value}`,
    );
  }
  return value;
}
