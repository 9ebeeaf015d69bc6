// The discovery route mounted on the daemon's API port as an extension, as
// the daemon will mount it: peers announce through it, /metrics shows it.

import assert from "node:assert/strict";
import { createPeerIdentity } from "../ipfs/peer_identity.ts";
import { createDiscoveryHandler, DiscoveryClient } from "../net/mod.ts";
import { Daemon } from "./daemon.ts";

Deno.test("daemon: the discovery route as an extension, with its metrics", async () => {
  const repo = await Deno.makeTempDir();
  const handler = createDiscoveryHandler();
  const daemon = await Daemon.start({
    repo,
    port: 0,
    gatewayPort: 0,
    extensions: [() => ({
      name: "discovery",
      routes: { [handler.path]: handler },
      metrics: () => handler.metrics(),
      close: () => handler.close(),
    })],
  });
  try {
    assert(daemon.features.includes("discovery"));
    const url = `${daemon.apiUrl.replace(/^http/, "ws")}${handler.path}`;
    await using a = await DiscoveryClient.connect(url, {
      identity: await createPeerIdentity(),
      info: { multiaddrs: ["/ip4/127.0.0.1/tcp/4001"], role: "master" },
    });
    await using b = await DiscoveryClient.connect(url, {
      identity: await createPeerIdentity(),
      info: { multiaddrs: ["/ip4/127.0.0.1/tcp/4002"], role: "gateway" },
    });
    assert.deepEqual((await a.requestPeers()).map((p) => p.peerId), [b.peerId]);
    const metrics = await (await fetch(`${daemon.apiUrl}/metrics`)).text();
    assert.match(metrics, /^ipfs_kit_discovery_peers\{role="gateway"\} 1$/m);
    assert.match(metrics, /^ipfs_kit_discovery_connections 2$/m);
  } finally {
    await daemon.stop();
    await Deno.remove(repo, { recursive: true });
  }
});
