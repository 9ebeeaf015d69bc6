/**
 * WebRTC on the daemon's API port ({@linkcode webrtcExtension}): the
 * signaling route of `@ipfs-kit/kit/webrtc` mounted at
 * {@linkcode WEBRTC_SIGNALING_PATH}, over a `StreamingManager` that serves
 * the daemon's kit (its tiered cache included) as verified content streams
 * to browsers (the page's WebRTC panel, `@ipfs-kit/kit/webrtc/browser`) and
 * to Deno peers (`connectWebRtc`). `deno task start` mounts it unless given
 * `--no-webrtc`.
 *
 * The route follows the API port's rules (the daemon checks them first, and
 * the signaling handler again with the same token and origins): loopback
 * peers and `Host` names only without a token; with one, `Authorization:
 * Bearer <token>` or, from a browser's `WebSocket`, `?token=<token>`; a
 * foreign `Origin` refused.
 *
 * Its metrics (appended to the daemon's `/metrics`, every label from a
 * fixed set): `ipfs_kit_webrtc_connections` (open now),
 * `ipfs_kit_webrtc_connections_total{outcome}` (`opened`, `refused`),
 * `ipfs_kit_webrtc_streams_open{direction}` (`sending`, `receiving`),
 * `ipfs_kit_webrtc_streams_total{outcome}` (`opened`, `refused`),
 * `ipfs_kit_webrtc_bytes_total{direction}` and
 * `ipfs_kit_webrtc_blocks_total{direction}` (`sent`, `verified`),
 * `ipfs_kit_webrtc_verification_failures_total` (blocks the daemon's side
 * refused; the receivers check what it sends and do not report back) and
 * `ipfs_kit_webrtc_signaling_sockets`.
 *
 * The manager's peer connections gather ICE candidates on every interface
 * unless `bindAddress` says otherwise (a browser on this machine reaches
 * the daemon through its own host candidates, rarely loopback's); only a
 * peer that came through the signaling route, so through its access rules,
 * learns them and the DTLS fingerprint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Daemon, WEBRTC_SIGNALING_PATH, webrtcExtension } from "@ipfs-kit/kit/kit";
 *
 * await using daemon = await Daemon.start({
 *   repo: await Deno.makeTempDir(),
 *   port: 0,
 *   gatewayPort: 0,
 *   extensions: [webrtcExtension({ maxConnections: 4 })],
 * });
 * assert(daemon.features.includes("webrtc"));
 * const metrics = await (await fetch(`${daemon.apiUrl}/metrics`)).text();
 * assert.match(metrics, /^ipfs_kit_webrtc_connections 0$/m);
 * // A plain GET on the route asks for a WebSocket upgrade.
 * const plain = await fetch(`${daemon.apiUrl}${WEBRTC_SIGNALING_PATH}`);
 * assert.equal(plain.status, 426);
 * await plain.body?.cancel();
 * ```
 *
 * @module
 */

import { createSignalingHandler } from "../webrtc/signaling_server.ts";
import {
  StreamingManager,
  type StreamingManagerOptions,
  type StreamingTotals,
} from "../webrtc/streaming_manager.ts";
import type { DaemonExtension, DaemonExtensionFactory } from "./daemon.ts";
import { SIGNALING_PATH } from "./_webrtc_paths.ts";

/**
 * The extension's name: the daemon's feature (`/daemon/info`) and its page panel's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WEBRTC_FEATURE } from "@ipfs-kit/kit/kit";
 *
 * assert.equal(WEBRTC_FEATURE, "webrtc");
 * ```
 */
export const WEBRTC_FEATURE = "webrtc";

/**
 * Where the daemon's API port answers WebRTC signaling (a WebSocket upgrade):
 * the URL for `connectWebRtc` or the browser receiver is the API's, `ws:`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WEBRTC_SIGNALING_PATH } from "@ipfs-kit/kit/kit";
 *
 * const url = `${"http://127.0.0.1:5001".replace(/^http/, "ws")}${WEBRTC_SIGNALING_PATH}`;
 * assert.equal(url, "ws://127.0.0.1:5001/api/v0/webrtc/signaling");
 * ```
 */
export const WEBRTC_SIGNALING_PATH: string = SIGNALING_PATH;

/** Options for {@linkcode webrtcExtension}: the streaming manager's (limits, ICE settings, who offers). */
export interface WebRtcExtensionOptions extends StreamingManagerOptions {
  /** Signaling sockets at once, sessions being refused included. Default `maxConnections` + 8. */
  maxSockets?: number;
}

/**
 * A {@linkcode DaemonExtensionFactory} that serves the daemon's kit over
 * WebRTC: see the module documentation.
 *
 * @param options The streaming manager's options.
 * @returns The factory, for `DaemonOptions.extensions`.
 * @throws {TypeError} An option has the wrong type (when the daemon starts).
 * @throws {RangeError} A number is out of range (when the daemon starts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Daemon, webrtcExtension } from "@ipfs-kit/kit/kit";
 *
 * await assert.rejects(
 *   Daemon.start({
 *     repo: await Deno.makeTempDir(),
 *     port: 0,
 *     gatewayPort: 0,
 *     extensions: [webrtcExtension({ maxConnections: 0 })],
 *   }),
 *   RangeError,
 * );
 * ```
 */
export function webrtcExtension(options: WebRtcExtensionOptions = {}): DaemonExtensionFactory {
  return (context): DaemonExtension => {
    const { maxSockets, ...managerOptions } = options;
    const manager = new StreamingManager(context.kit, managerOptions);
    const handler = createSignalingHandler(manager, {
      path: WEBRTC_SIGNALING_PATH,
      ...(context.token === undefined ? {} : { token: context.token }),
      allowedOrigins: context.allowedOrigins,
      ...(maxSockets === undefined ? {} : { maxSockets }),
    });
    return {
      name: WEBRTC_FEATURE,
      routes: { "/api/v0/webrtc": handler },
      metrics: () => metricsText(manager, handler.sockets),
      close: async () => {
        await handler.close();
        await manager.close();
      },
    };
  };
}

function metricsText(manager: StreamingManager, sockets: number): string {
  const totals: StreamingTotals = manager.totals();
  let sending = 0;
  let receiving = 0;
  const connections = manager.connections();
  for (const stats of connections) {
    sending += stats.streams.sending;
    receiving += stats.streams.receiving;
  }
  const lines: string[] = [];
  const metric = (
    name: string,
    type: "gauge" | "counter",
    help: string,
    samples: [string, number][],
  ) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  metric("ipfs_kit_webrtc_connections", "gauge", "Open WebRTC connections.", [
    ["", connections.length],
  ]);
  metric("ipfs_kit_webrtc_connections_total", "counter", "WebRTC sessions by outcome.", [
    ['{outcome="opened"}', totals.connectionsOpened],
    ['{outcome="refused"}', totals.connectionsRefused],
  ]);
  metric("ipfs_kit_webrtc_streams_open", "gauge", "Open WebRTC content streams.", [
    ['{direction="sending"}', sending],
    ['{direction="receiving"}', receiving],
  ]);
  metric("ipfs_kit_webrtc_streams_total", "counter", "WebRTC content streams by outcome.", [
    ['{outcome="opened"}', totals.streamsOpened],
    ['{outcome="refused"}', totals.streamsRefused],
  ]);
  metric("ipfs_kit_webrtc_bytes_total", "counter", "Block bytes sent and verified over WebRTC.", [
    ['{direction="sent"}', totals.bytesSent],
    ['{direction="verified"}', totals.bytesVerified],
  ]);
  metric("ipfs_kit_webrtc_blocks_total", "counter", "Blocks sent and verified over WebRTC.", [
    ['{direction="sent"}', totals.blocksSent],
    ['{direction="verified"}', totals.blocksVerified],
  ]);
  metric(
    "ipfs_kit_webrtc_verification_failures_total",
    "counter",
    "Blocks received over WebRTC that failed verification against their CID.",
    [["", totals.blocksRefused]],
  );
  metric("ipfs_kit_webrtc_signaling_sockets", "gauge", "Open WebRTC signaling sockets.", [
    ["", sockets],
  ]);
  return lines.join("\n") + "\n";
}
