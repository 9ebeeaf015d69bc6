/**
 * Peer discovery's signatures, group `peer-info`: what one announce costs
 * the peer (`sign`) and the server or a client (`verify`: the public key
 * taken from the peer ID, the record checked and Ed25519-verified over its
 * canonical encoding), for a record with 4 addresses, 3 capabilities, 3
 * resources and 3 metadata entries. WebCrypto's Ed25519 (Deno's).
 *
 * ```sh
 * deno bench --allow-all bench/discovery_bench.ts
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { createPeerIdentity } from "../ipfs/peer_identity.ts";
import { signPeerInfo, verifyPeerInfo } from "../net/peer_info.ts";

const identity = await createPeerIdentity();
const fields = {
  multiaddrs: [
    "/ip4/127.0.0.1/tcp/4001",
    "/ip4/127.0.0.1/udp/4001/quic-v1",
    "/ip6/::1/tcp/4001",
    "/ip4/127.0.0.1/tcp/4002/ws",
  ],
  role: "worker" as const,
  capabilities: ["bitswap", "storage", "gateway"],
  resources: { cpu_cores: 8, memory_bytes: 17179869184, disk_free_bytes: 1e12 },
  metadata: { version: "0.1.0", region: "local", name: "bench" },
};
const signed = await signPeerInfo(identity, fields);
const wire = JSON.parse(JSON.stringify(signed));

Deno.bench({ name: "sign", group: "peer-info", baseline: true }, async () => {
  const info = await signPeerInfo(identity, fields);
  assert.equal(info.peerId, identity.id);
});

Deno.bench({ name: "verify", group: "peer-info" }, async () => {
  const info = await verifyPeerInfo(wire);
  assert.equal(info.signature, signed.signature);
});
