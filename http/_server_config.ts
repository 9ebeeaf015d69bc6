// A server's options checked and filled in with their defaults. Private to
// the HTTP layer; the options are described by ServeOptions in server.ts.

import { AccessPolicy } from "./access.ts";
import { InsecureBindError } from "./errors.ts";
import type { ServeOptions } from "./types.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

/** A server's limits and rules. */
export interface ServerConfig {
  readonly hostname: string;
  readonly port: number;
  readonly access: AccessPolicy;
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxHeaderFields: number;
  readonly maxUrlLength: number;
  readonly maxBodyBytes: number;
  readonly shutdownTimeoutMs: number;
  readonly onError: (error: unknown) => void;
}

/** Checks `options`; `what` starts the messages of the errors. */
export function serverConfig(options: ServeOptions, what: string): ServerConfig {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${what}: options must be an object`);
  }
  const hostname = options.hostname ?? "127.0.0.1";
  if (typeof hostname !== "string" || hostname.length === 0 || hostname.length > 253) {
    throw new TypeError(`${what}: hostname must be a non-empty string`);
  }
  const port = options.port ?? 0;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${what}: port must be an integer from 0 to 65535: received ${port}`);
  }
  const access = new AccessPolicy(options, what);
  if (!access.mayBind(hostname)) throw new InsecureBindError(hostname);
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  if (typeof onError !== "function") throw new TypeError(`${what}: onError must be a function`);
  return {
    hostname,
    port,
    access,
    maxConnections: integer("maxConnections", options.maxConnections, 1024, 1, 1_000_000, what),
    headersTimeoutMs: integer(
      "headersTimeoutMs",
      options.headersTimeoutMs,
      10_000,
      1,
      3_600_000,
      what,
    ),
    idleTimeoutMs: integer("idleTimeoutMs", options.idleTimeoutMs, 30_000, 1, 3_600_000, what),
    maxHeaderBytes: integer(
      "maxHeaderBytes",
      options.maxHeaderBytes,
      16 * KIB,
      1 * KIB,
      60 * KIB,
      what,
    ),
    maxHeaderFields: integer("maxHeaderFields", options.maxHeaderFields, 100, 1, 1000, what),
    maxUrlLength: integer("maxUrlLength", options.maxUrlLength, 8 * KIB, 64, 60 * KIB, what),
    maxBodyBytes: integer("maxBodyBytes", options.maxBodyBytes, 16 * MIB, 0, Infinity, what),
    shutdownTimeoutMs: integer(
      "shutdownTimeoutMs",
      options.shutdownTimeoutMs,
      5000,
      0,
      3_600_000,
      what,
    ),
    onError,
  };
}

/** An integer option from `min` to `max` (`Infinity` allowed when it is the max), or `fallback`. */
export function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  what: string,
): number {
  if (value === undefined) return fallback;
  const ok = typeof value === "number" &&
    (Number.isSafeInteger(value) || (value === Infinity && max === Infinity)) &&
    value >= min && value <= max;
  if (!ok) {
    throw new RangeError(
      `${what}: ${name} must be an integer from ${min} to ${max}: received ${
        typeof value === "number" ? value : typeof value
      }`,
    );
  }
  return value;
}
