// The configuration of a WAL API handler: its options checked and filled in
// with their defaults, with what every feed connection shares. Private to
// the WAL; the options are described by `WalHandlerOptions`.

import { AccessPolicy } from "../http/access.ts";
import type { FeedConfig } from "./_ws_connection.ts";
import { walEventSource } from "./event_source.ts";
import type { WalEventSource, WalHandlerOptions, WalHealth } from "./types.ts";
import type { WriteAheadLog } from "./write_ahead_log.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
const DEFAULT_BASE_PATH = "/api/v0/wal";
const BASE_PATH = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/;

/** A handler's options, checked, with their defaults. */
export interface HandlerConfig {
  /** Who is served: the HTTP layer's rules, with the handler's token and origins. */
  access: AccessPolicy;
  /** The base path; `""` for `/`. */
  basePath: string;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  maxConnections: number;
  events: WalEventSource | undefined;
  feed: FeedConfig;
  onError: (error: unknown) => void;
}

/**
 * Checks the options of `createWalHandler` for `wal` and fills in the
 * defaults; `what` starts the messages of the errors.
 *
 * @throws {TypeError} An option has the wrong type.
 * @throws {RangeError} A number or the token's length is out of range.
 */
export function configure(
  wal: WriteAheadLog,
  options: WalHandlerOptions,
  what: string,
): HandlerConfig {
  const basePath = options.basePath ?? DEFAULT_BASE_PATH;
  if (typeof basePath !== "string" || (basePath !== "/" && !BASE_PATH.test(basePath))) {
    throw new TypeError(
      `${what}: basePath must be "/" or a path such as "/api/v0/wal" (no trailing slash): received ${
        describeValue(basePath)
      }`,
    );
  }
  const access = new AccessPolicy({
    token: options.token,
    allowedOrigins: options.allowedOrigins,
    realm: "ipfs-kit-wal",
  }, what);
  const events = options.events === null ? undefined : options.events ?? walEventSource(wal);
  if (events !== undefined && typeof events?.watch !== "function") {
    throw new TypeError(
      `${what}: events must have a watch() method: received ${describeValue(events)}`,
    );
  }
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  if (typeof onError !== "function") {
    throw new TypeError(`${what}: onError must be a function: received ${describeValue(onError)}`);
  }
  const health = (): WalHealth => {
    const closed = wal.closed;
    const backend = closed ? undefined : wal.telemetry.snapshot().health.state;
    return {
      status: closed
        ? "unavailable"
        : backend === "degraded" || backend === "offline"
        ? "degraded"
        : "ok",
      closed,
      backend: backend ?? null,
    };
  };
  const config: HandlerConfig = {
    basePath: basePath === "/" ? "" : basePath,
    access,
    maxBodyBytes: integer("maxBodyBytes", options.maxBodyBytes, 64 * KIB, 1, 64 * MIB, what),
    requestTimeoutMs: integer(
      "requestTimeoutMs",
      options.requestTimeoutMs,
      30_000,
      1,
      3_600_000,
      what,
    ),
    maxConnections: integer("maxConnections", options.maxConnections, 64, 1, 100_000, what),
    events,
    onError,
    feed: {
      wal,
      live: events !== undefined,
      maxQueuedMessages: integer(
        "maxQueuedMessages",
        options.maxQueuedMessages,
        256,
        1,
        1_000_000,
        what,
      ),
      maxBufferedBytes: integer(
        "maxBufferedBytes",
        options.maxBufferedBytes,
        MIB,
        0,
        1024 * MIB,
        what,
      ),
      maxMessageBytes: integer(
        "maxMessageBytes",
        options.maxMessageBytes,
        16 * KIB,
        64,
        16 * MIB,
        what,
      ),
      maxSubscriptions: integer("maxSubscriptions", options.maxSubscriptions, 64, 1, 10_000, what),
      closeTimeoutMs: integer("closeTimeoutMs", options.closeTimeoutMs, 1000, 0, 60_000, what),
      health,
      onError,
    },
  };
  return config;
}

/** An integer option from `min` to `max`, or `fallback` when unset. */
function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  what: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${what}: ${name} must be an integer from ${min} to ${max}: received ${describeValue(value)}`,
    );
  }
  return value;
}

/** A value as an error message quotes it: a short string, a number, or its type. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.slice(0, 64));
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value;
}
