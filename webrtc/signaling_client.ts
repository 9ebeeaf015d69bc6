/**
 * The Deno client of the signaling protocol (see `signaling_server.ts`):
 * {@linkcode connectWebRtc} connects to a signaling server and returns the
 * {@linkcode WebRtcConnection} once its data channels can carry streams.
 *
 * @module
 */

import type { ContentStore } from "../ipfs/content_store.ts";
import { EndOfStream, TimeoutError } from "../runtime/errors.ts";
import { failAfter, withSignal } from "../runtime/timeouts.ts";
import { connectionInternals, type WebRtcConnection } from "./connection.ts";
import { SignalingError } from "./errors.ts";
import { resolveWebRtcOptions, type WebRtcOptions } from "./options.ts";
import { Peer } from "./_peer.ts";
import { BadSignal, parseServerSignal } from "./_signaling_messages.ts";
import { runSignalingSession } from "./_signaling_session.ts";
import { WEBSOCKET_CLOSE_CODES } from "../http/websocket.ts";
import { WebSocketPort } from "../http/websocket_port.ts";
import { checkToken } from "../http/access.ts";

/** Options for {@linkcode connectWebRtc}. */
export interface ConnectWebRtcOptions extends WebRtcOptions {
  /** The server's token, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Serve this store's content to the server's streams too. Default: serve nothing. */
  store?: ContentStore;
  /** Cancels connecting (not the connection once made: close that). */
  signal?: AbortSignal;
}

/**
 * Connects to a signaling server (`ws://` or `wss://`), negotiates a peer
 * connection (offering or answering, as the server's `welcome` says) and
 * returns it once connected. The connection's tasks run in the caller's
 * cancel scope: close it (or `await using`) before that scope ends.
 *
 * @param url The signaling URL, such as `ws://127.0.0.1:8080/webrtc/signaling`.
 * @param options A token, ICE settings, limits, a store to serve, a signal.
 * @returns The connected connection.
 * @throws {SignalingError} The server refused (`code` as it sent it:
 * `unauthorized` for a missing token shows as `closed`, since a refused
 * upgrade has no body), the negotiation failed, or it was not connected
 * within `negotiationTimeoutMs` (`timeout`).
 * @throws {TypeError} An option has the wrong type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { connectWebRtc, serveSignaling, StreamingManager } from "@ipfs-kit/kit/webrtc";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add(new Uint8Array(1_000_000).fill(7), { cidVersion: 1 });
 * await using manager = new StreamingManager(node, { bindAddress: "127.0.0.1" });
 * await using server = serveSignaling(manager);
 * await using connection = await connectWebRtc(server.url, { bindAddress: "127.0.0.1" });
 * const bytes = await new Response(connection.open(cid, { offset: 262_000, length: 1_000 })).bytes();
 * assert.equal(bytes.length, 1_000);
 * assert(bytes.every((byte) => byte === 7));
 * assert.equal(connection.stats().blocksVerified, 3); // the root and the two leaves the range meets
 * ```
 */
export async function connectWebRtc(
  url: string | URL,
  options: ConnectWebRtcOptions = {},
): Promise<WebRtcConnection> {
  const what = "Cannot connect";
  const resolved = resolveWebRtcOptions(options, what);
  const token = checkToken(options.token, what);
  const target = new URL(url);
  if (target.protocol !== "ws:" && target.protocol !== "wss:") {
    throw new TypeError(`${what}: url must be a ws: or wss: URL: received ${target.protocol}`);
  }
  if (options.store !== undefined && typeof options.store?.block?.get !== "function") {
    throw new TypeError(`${what}: store must be a ContentStore`);
  }
  const timeout = resolved.negotiationTimeoutMs;
  const socket = new WebSocket(
    target,
    token === undefined ? undefined : { headers: { authorization: `Bearer ${token}` } },
  );
  const ws = new WebSocketPort(socket, {
    maxMessageBytes: 256 * 1024,
    maxQueued: 256,
    ratePerSecond: Infinity,
    burst: Infinity,
    closeTimeoutMs: 1000,
  });
  let welcome;
  try {
    welcome = await withSignal(options.signal, () => bounded(timeout, () => readWelcome(ws)));
  } catch (error) {
    await ws.close(WEBSOCKET_CLOSE_CODES.normal);
    throw error;
  }
  let peer: Peer;
  try {
    peer = await Peer.create({
      iceServers: resolved.iceServers,
      bindAddress: resolved.bindAddress,
      highWaterMark: resolved.highWaterMark,
      pollMs: resolved.pollMs,
      maxPendingIncoming: resolved.maxStreams + 8,
    });
  } catch (error) {
    await ws.close(WEBSOCKET_CLOSE_CODES.normal);
    throw error;
  }
  const offerer = welcome.offerer === "client";
  const connection = connectionInternals.create({
    id: welcome.connectionId,
    peer,
    store: options.store,
    options: resolved,
    offerer,
  });
  let failure: SignalingError | undefined;
  connectionInternals.spawn(connection, () =>
    runSignalingSession(ws, peer, connection, {
      isServer: false,
      offerer,
      maxQueuedCandidates: 64,
      maxBadMessages: 0,
      negotiationTimeoutMs: timeout,
      onError: (error) => (failure ??= error),
    }), "webrtc signaling");
  try {
    await withSignal(
      options.signal,
      () => bounded(timeout, () => connectionInternals.waitConnected(connection)),
    );
  } catch (error) {
    await connection.close("connecting failed");
    if (error instanceof SignalingError) throw error;
    if (failure !== undefined) throw failure;
    if (error instanceof Error && !(error instanceof DOMException) && error.name === "Error") {
      throw new SignalingError(`${what}: ${connection.closeReason || error.message}`, "closed");
    }
    throw error;
  }
  return connection;
}

async function readWelcome(ws: WebSocketPort) {
  let data: unknown;
  try {
    data = await ws.receive();
  } catch (error) {
    if (!(error instanceof EndOfStream)) throw error;
    throw new SignalingError(
      `Cannot connect: the server closed the socket (${ws.closeCode ?? "no code"}${
        ws.closeReason ? `: ${ws.closeReason}` : ""
      })`,
      "closed",
    );
  }
  let signal;
  try {
    signal = parseServerSignal(data);
  } catch (error) {
    if (error instanceof BadSignal) {
      throw new SignalingError(`Cannot connect: ${error.message}`, error.code);
    }
    throw error;
  }
  if (signal.type === "error") {
    throw new SignalingError(`Cannot connect: the server refused: ${signal.message}`, signal.code);
  }
  if (signal.type !== "welcome") {
    throw new SignalingError(
      `Cannot connect: expected welcome, received ${signal.type}`,
      "out_of_order",
    );
  }
  return signal;
}

async function bounded<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await failAfter(ms, fn);
  } catch (error) {
    if (error instanceof TimeoutError) {
      throw new SignalingError(`Cannot connect: not connected within ${ms} ms`, "timeout");
    }
    throw error;
  }
}
