import assert from "node:assert/strict";
import { createPeerIdentity } from "../ipfs/peer_identity.ts";
import { PeerInfoError, type PeerInfoErrorCode } from "./errors.ts";
import { type PeerInfo, signPeerInfo, verifyPeerInfo } from "./peer_info.ts";

const fields = {
  multiaddrs: ["/ip4/127.0.0.1/tcp/4001"],
  role: "worker" as const,
  capabilities: ["bitswap"],
  resources: { cpu_cores: 4 },
  metadata: { version: "0.1.0" },
};

async function refused(value: unknown, code: PeerInfoErrorCode, options = {}): Promise<void> {
  await assert.rejects(verifyPeerInfo(value, options), (error) => {
    assert(error instanceof PeerInfoError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  });
}

Deno.test("a signed PeerInfo verifies, and every field survives", async () => {
  const identity = await createPeerIdentity();
  const info = await signPeerInfo(identity, fields);
  const checked = await verifyPeerInfo(JSON.parse(JSON.stringify(info)));
  assert.deepEqual(checked, info);
  assert.equal(checked.peerId, identity.id);
  assert.deepEqual(checked.resources, { cpu_cores: 4 });
});

Deno.test("another peer's ID signed with one's own key is refused", async () => {
  const victim = await createPeerIdentity();
  const forger = await createPeerIdentity();
  const own = await signPeerInfo(forger, fields);
  // The forger claims the victim's ID and signs with its own key.
  await refused({ ...own, peerId: victim.id }, "bad_signature");
  // Or signs a record naming the victim with its own key from scratch.
  const spoofed = await signPeerInfo({ ...forger, id: victim.id }, fields);
  await refused(spoofed, "bad_signature");
});

Deno.test("any field changed after signing is refused", async () => {
  const info = await signPeerInfo(await createPeerIdentity(), fields);
  const changes: Partial<PeerInfo>[] = [
    { multiaddrs: ["/ip4/10.0.0.1/tcp/4001"] },
    { role: "master" },
    { capabilities: ["bitswap", "gateway"] },
    { resources: { cpu_cores: 64 } },
    { metadata: { version: "9" } },
    { seq: info.seq + 1 },
  ];
  for (const change of changes) await refused({ ...info, ...change }, "bad_signature");
});

Deno.test("old, future and replayed records are refused", async () => {
  const identity = await createPeerIdentity();
  const now = Date.now();
  const old = await signPeerInfo(identity, fields, { timestamp: now - 3_600_000 });
  await refused(old, "stale", { now });
  const ahead = await signPeerInfo(identity, fields, { timestamp: now + 3_600_000 });
  await refused(ahead, "future", { now });
  const first = await signPeerInfo(identity, fields, { seq: 1 });
  const second = await signPeerInfo(identity, fields, { seq: 2 });
  await verifyPeerInfo(second, { lastSeq: 1 });
  await refused(first, "replayed", { lastSeq: 2 });
  await refused(second, "replayed", { lastSeq: 2 });
});

Deno.test("malformed records and peer IDs without a key are refused", async () => {
  const info = await signPeerInfo(await createPeerIdentity(), fields);
  await refused(null, "malformed_peer_info");
  await refused({ ...info, role: "king" }, "malformed_peer_info");
  await refused(
    { ...info, multiaddrs: Array(17).fill("/ip4/1.2.3.4/tcp/1") },
    "malformed_peer_info",
  );
  await refused({ ...info, multiaddrs: ["not a multiaddr"] }, "malformed_peer_info");
  await refused({ ...info, signature: "short" }, "malformed_peer_info");
  await refused({ ...info, metadata: { key: 5 } }, "malformed_peer_info");
  // A sha2-256 peer ID (an RSA key's) does not carry its key.
  await refused(
    { ...info, peerId: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N" },
    "bad_peer_id",
  );
  await assert.rejects(
    signPeerInfo(await createPeerIdentity(), { ...fields, capabilities: ["no spaces"] }),
    PeerInfoError,
  );
});
