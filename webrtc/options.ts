/**
 * The options every Deno side of a WebRTC connection takes (the
 * {@linkcode StreamingManager} and {@linkcode connectWebRtc}), their
 * defaults and their checks.
 *
 * @module
 */

import { checkWindow, DEFAULT_WINDOW, MAX_CHUNK } from "./_wire.ts";
import { integerOption } from "./_integer_option.ts";

/** Options of a connection's Deno side. */
export interface WebRtcOptions {
  /**
   * STUN or TURN servers, as libdatachannel takes them
   * (`"stun:stun.example.org:3478"`, `"turn:user:pass@host:3478"`). Default
   * none: host candidates only (this machine, its networks).
   */
  iceServers?: readonly string[];
  /**
   * The local address to gather ICE candidates on (`"127.0.0.1"` keeps a
   * connection on this machine). Default: every interface.
   */
  bindAddress?: string;
  /** Streams at once per connection and direction; one more is refused. Default 8. */
  maxStreams?: number;
  /** Unsent bytes a data channel may hold before a sender waits. Default 1 MiB. */
  highWaterMark?: number;
  /**
   * How often a waiting sender looks at `bufferedAmount` again, in ms
   * (some implementations never fire `bufferedamountlow`). Default 2.
   */
  pollMs?: number;
  /** The default window of streams this side reads (see `OpenStreamOptions.window`). Default 4 MiB. */
  window?: number;
  /** How long a stream's request (or its channel's opening) may take, in ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** How long a sender waits, after a stream's last message, for the receiver to close it, in ms. Default 2000. */
  lingerMs?: number;
  /** How often the control channel is pinged to measure the round trip, in ms. Default 2000. */
  pingIntervalMs?: number;
  /** How long signaling may take until the connection is connected, in ms. Default 15 000. */
  negotiationTimeoutMs?: number;
}

/** {@linkcode WebRtcOptions} with every default filled in. */
export interface ResolvedWebRtcOptions {
  /** See {@linkcode WebRtcOptions.iceServers}. */
  iceServers: string[];
  /** See {@linkcode WebRtcOptions.bindAddress}. */
  bindAddress: string | undefined;
  /** See {@linkcode WebRtcOptions.maxStreams}. */
  maxStreams: number;
  /** See {@linkcode WebRtcOptions.highWaterMark}. */
  highWaterMark: number;
  /** See {@linkcode WebRtcOptions.pollMs}. */
  pollMs: number;
  /** See {@linkcode WebRtcOptions.window}. */
  window: number;
  /** See {@linkcode WebRtcOptions.requestTimeoutMs}. */
  requestTimeoutMs: number;
  /** See {@linkcode WebRtcOptions.lingerMs}. */
  lingerMs: number;
  /** See {@linkcode WebRtcOptions.pingIntervalMs}. */
  pingIntervalMs: number;
  /** See {@linkcode WebRtcOptions.negotiationTimeoutMs}. */
  negotiationTimeoutMs: number;
}

/**
 * Checks `options` and fills in the defaults.
 *
 * @param options The options.
 * @param what What the caller was doing, for the messages: "Cannot <what>: ...".
 * @returns Every option.
 * @throws {TypeError} An option has the wrong type.
 * @throws {RangeError} A number is out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveWebRtcOptions } from "@ipfs-kit/kit/webrtc";
 *
 * const options = resolveWebRtcOptions({ maxStreams: 2 }, "Cannot connect");
 * assert.equal(options.maxStreams, 2);
 * assert.equal(options.highWaterMark, 1024 * 1024);
 * assert.throws(() => resolveWebRtcOptions({ maxStreams: 0 }, "Cannot connect"), RangeError);
 * ```
 */
export function resolveWebRtcOptions(options: WebRtcOptions, what: string): ResolvedWebRtcOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${what}: options must be an object`);
  }
  const iceServers = options.iceServers ?? [];
  if (!Array.isArray(iceServers) || !iceServers.every((server) => typeof server === "string")) {
    throw new TypeError(`${what}: iceServers must be an array of strings`);
  }
  if (options.bindAddress !== undefined && typeof options.bindAddress !== "string") {
    throw new TypeError(`${what}: bindAddress must be a string`);
  }
  return {
    iceServers: [...iceServers],
    bindAddress: options.bindAddress,
    maxStreams: integerOption(options.maxStreams, 8, 1, 1024, "maxStreams", what),
    highWaterMark: integerOption(
      options.highWaterMark,
      1024 * 1024,
      MAX_CHUNK,
      64 * 1024 * 1024,
      "highWaterMark",
      what,
    ),
    pollMs: integerOption(options.pollMs, 2, 1, 1000, "pollMs", what),
    window: options.window === undefined ? DEFAULT_WINDOW : checkWindow(options.window, what),
    requestTimeoutMs: integerOption(
      options.requestTimeoutMs,
      10_000,
      1,
      3_600_000,
      "requestTimeoutMs",
      what,
    ),
    lingerMs: integerOption(options.lingerMs, 2000, 0, 600_000, "lingerMs", what),
    pingIntervalMs: integerOption(
      options.pingIntervalMs,
      2000,
      10,
      3_600_000,
      "pingIntervalMs",
      what,
    ),
    negotiationTimeoutMs: integerOption(
      options.negotiationTimeoutMs,
      15_000,
      1,
      3_600_000,
      "negotiationTimeoutMs",
      what,
    ),
  };
}
