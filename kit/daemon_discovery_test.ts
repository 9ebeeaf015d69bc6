// The discovery extension on the daemon's API port (offline daemon: its
// server only): peers announce through it, the peers route and /metrics
// show them, and the route follows the API port's access rules.

import assert from "node:assert/strict";
import { createPeerIdentity } from "../ipfs/peer_identity.ts";
import { DiscoveryClient } from "../net/mod.ts";
import { Daemon } from "./daemon.ts";
import { DISCOVERY_PATH, DISCOVERY_PEERS_PATH, discoveryExtension } from "./discovery_extension.ts";

const TOKEN = "discovery-token-0123456789";

Deno.test("daemon: the discovery extension's server, its peers route and its metrics", async () => {
  const repo = await Deno.makeTempDir();
  const daemon = await Daemon.start({
    repo,
    port: 0,
    gatewayPort: 0,
    token: TOKEN,
    extensions: [discoveryExtension()],
  });
  try {
    assert(daemon.features.includes("discovery"));
    const url = `${daemon.apiUrl.replace(/^http/, "ws")}${DISCOVERY_PATH}`;
    await using a = await DiscoveryClient.connect(url, {
      identity: await createPeerIdentity(),
      info: { multiaddrs: ["/ip4/127.0.0.1/tcp/4001"], role: "master" },
      token: TOKEN,
    });
    await using b = await DiscoveryClient.connect(url, {
      identity: await createPeerIdentity(),
      info: { multiaddrs: ["/ip4/127.0.0.1/tcp/4002"], role: "gateway" },
      token: TOKEN,
    });
    assert.deepEqual((await a.requestPeers()).map((p) => p.peerId), [b.peerId]);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const metrics = await (await fetch(`${daemon.apiUrl}/metrics`, { headers: auth })).text();
    assert.match(metrics, /^ipfs_kit_discovery_peers\{role="gateway"\} 1$/m);
    assert.match(metrics, /^ipfs_kit_discovery_connections 2$/m);
    // The offline node announces nothing itself: the route lists what its clients learnt (none).
    const peers = await fetch(`${daemon.apiUrl}${DISCOVERY_PEERS_PATH}`, { headers: auth });
    assert.deepEqual(await peers.json(), { server: true, peers: [] });
    // Behind the API port's rules: no token, no answer; a write, refused.
    const anonymous = await fetch(`${daemon.apiUrl}${DISCOVERY_PEERS_PATH}`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const posted = await fetch(`${daemon.apiUrl}${DISCOVERY_PEERS_PATH}`, {
      method: "POST",
      headers: auth,
    });
    assert.equal(posted.status, 405);
    await posted.body?.cancel();
  } finally {
    await daemon.stop();
    await Deno.remove(repo, { recursive: true });
  }
});
