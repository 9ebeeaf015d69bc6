/**
 * The composition layer: what stacks the floors below into one node.
 *
 * - {@linkcode Kit}: the facade. {@linkcode Kit.open} gives one
 *   `ContentStore` over the embedded node (the default, in a per-user
 *   repository, no set-up) or a Kubo daemon (`api`), with the tiered cache
 *   of `@ipfs-kit/kit/cache` and any layers of your own stacked over it.
 * - The `kit` command line is `@ipfs-kit/kit/cli` (`deno task kit`).
 * - {@linkcode Daemon}: the node as a service (`deno task start`): Kubo's RPC
 *   API, the WAL API and feed, `/metrics` and a web page on one port, the
 *   gateway on another, `<repo>/api` for clients to find it;
 *   {@linkcode webrtcExtension} adds WebRTC signaling and verified content
 *   streams on its API port (on by default in `deno task start`), and
 *   {@linkcode discoveryExtension} peer discovery (the server, the node's
 *   signed announcement, auto-connect). `deno task start` runs the node
 *   networked (libp2p on loopback by default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Kit } from "@ipfs-kit/kit/kit";
 *
 * await using kit = await Kit.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await kit.add("hello world\n");
 * assert.equal(cid.toString(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
 * assert.equal(await new Response(kit.cat(cid)).text(), "hello world\n");
 * ```
 *
 * @module
 */

export { Kit, type KitBackend, type KitLayer, type KitOptions } from "./kit.ts";
export { createGatewayHandler, type GatewayHandler, type GatewayOptions } from "./gateway.ts";
export {
  Daemon,
  type DaemonExtension,
  type DaemonExtensionContext,
  type DaemonExtensionFactory,
  type DaemonOptions,
  type DaemonUrls,
} from "./daemon.ts";
export { DaemonError, type DaemonErrorReason } from "./daemon_errors.ts";
export {
  WEBRTC_FEATURE,
  WEBRTC_SIGNALING_PATH,
  webrtcExtension,
  type WebRtcExtensionOptions,
} from "./webrtc_extension.ts";
export {
  type DiscoveredPeer,
  DISCOVERY_FEATURE,
  DISCOVERY_PATH,
  DISCOVERY_PEERS_PATH,
  discoveryExtension,
  type DiscoveryExtensionOptions,
  type DiscoveryServerOptions,
} from "./discovery_extension.ts";
export {
  createRpcHandler,
  type RpcHandler,
  type RpcHandlerOptions,
  type RpcRequestInfo,
} from "./rpc_api.ts";
