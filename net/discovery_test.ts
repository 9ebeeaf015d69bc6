import assert from "node:assert/strict";
import { createPeerIdentity } from "../ipfs/peer_identity.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { eventually } from "../tests/_async.ts";
import { deadMultiaddr, LoopbackPeer, RecordingSocket, tcpDial } from "../tests/_discovery.ts";
import { DiscoveryClient } from "./discovery_client.ts";
import { serveDiscovery } from "./discovery_server.ts";
import { DiscoveryError } from "./errors.ts";
import { type PeerInfoFields, signPeerInfo } from "./peer_info.ts";

const FAST = { reconnect: { baseDelayMs: 20, maxDelayMs: 200 }, refreshMs: 200 };

testEachStrategy(
  "three clients find each other through one server and dial each other",
  async () => {
    await using server = serveDiscovery();
    await using peerA = new LoopbackPeer();
    await using peerB = new LoopbackPeer();
    await using peerC = new LoopbackPeer();
    const open = async (peer: LoopbackPeer, fields: Omit<PeerInfoFields, "multiaddrs">) =>
      await DiscoveryClient.connect(server.url, {
        ...FAST,
        identity: await createPeerIdentity(),
        info: { multiaddrs: [peer.multiaddr], ...fields },
        dial: tcpDial,
      });
    await using a = await open(peerA, { role: "master" });
    await using b = await open(peerB, { role: "worker", capabilities: ["bitswap", "storage"] });
    await using c = await open(peerC, { role: "worker", capabilities: ["bitswap"] });
    const clients = [a, b, c];
    await eventually(
      () =>
        clients.every((client) =>
          client.dialStats().length === 2 &&
          client.dialStats().every((stats) => stats.successes >= 1)
        ),
      "every client dialed the other two",
      { limitMs: 20_000, stepMs: 20 },
    );
    for (const client of clients) {
      const others = clients.filter((other) => other !== client).map((other) => other.peerId);
      assert.deepEqual(client.dialStats().map((s) => s.peerId).sort(), others.sort());
      for (const peerId of others) assert.equal(client.successRate(peerId), 1);
    }
    // Each "peer" was really connected to by the two others.
    for (const peer of [peerA, peerB, peerC]) assert(peer.accepted >= 2, `${peer.accepted}`);
    // Filters.
    const storage = await a.requestPeers({ role: "worker", capabilities: ["storage"] });
    assert.deepEqual(storage.map((p) => p.peerId), [b.peerId]);
    assert.equal((await a.requestPeers({ role: "gateway" })).length, 0);
    assert.equal((await a.requestPeers()).length, 2);
    const withSelf = await a.requestPeers({ excludeSelf: false });
    assert(withSelf.some((p) => p.peerId === a.peerId));
    assert.equal((await a.requestPeers({ limit: 1 })).length, 1);
    assert.equal(server.handler.stats().peers, 3);
    assert.match(server.handler.metrics(), /ipfs_kit_discovery_peers\{role="worker"\} 2/);
  },
  { sanitizeResources: true, sanitizeOps: true },
);

testEachStrategy("a failing dial lowers the peer's success rate", async () => {
  await using server = serveDiscovery();
  await using peer = new LoopbackPeer();
  await using good = await DiscoveryClient.connect(server.url, {
    ...FAST,
    identity: await createPeerIdentity(),
    info: { multiaddrs: [peer.multiaddr], role: "worker" },
  });
  await using bad = await DiscoveryClient.connect(server.url, {
    ...FAST,
    identity: await createPeerIdentity(),
    info: { multiaddrs: [deadMultiaddr()], role: "worker" },
  });
  await using dialer = await DiscoveryClient.connect(server.url, {
    ...FAST,
    identity: await createPeerIdentity(),
    info: { multiaddrs: [], role: "leecher" },
    dial: tcpDial,
    dialTimeoutMs: 5_000,
  });
  await eventually(
    () => dialer.successRate(good.peerId) === 1 && dialer.dialStats().some((s) => s.failures > 0),
    "one dial succeeded and one failed",
    { limitMs: 20_000, stepMs: 20 },
  );
  assert.equal(dialer.successRate(bad.peerId), 0);
  const stats = dialer.dialStats().find((s) => s.peerId === bad.peerId)!;
  assert.equal(stats.connected, false);
  assert.match(stats.lastError!, /refused|connect/i);
  // The failed peer is tried again on a later answer: the rate stays 0, the attempts grow.
  await eventually(
    () => dialer.dialStats().find((s) => s.peerId === bad.peerId)!.attempts >= 2,
    "the failed peer was retried",
    { limitMs: 20_000, stepMs: 20 },
  );
  assert.equal(dialer.successRate(bad.peerId), 0);
});

function announce(socket: RecordingSocket, peer: unknown): void {
  socket.send({ type: "announce", peer });
}

testEachStrategy(
  "forged, altered and replayed records are refused with the right error",
  async () => {
    await using server = serveDiscovery();
    const victim = await createPeerIdentity();
    const forger = await createPeerIdentity();
    const fields: PeerInfoFields = { multiaddrs: ["/ip4/127.0.0.1/tcp/4001"], role: "worker" };
    await using honest = await DiscoveryClient.connect(server.url, {
      ...FAST,
      identity: victim,
      info: fields,
    });
    const socket = new RecordingSocket(server.url);
    try {
      await socket.next("welcome");
      // Another peer's ID, signed with the forger's key.
      const own = await signPeerInfo(forger, fields);
      announce(socket, { ...own, peerId: victim.id });
      assert.equal((await socket.next("error")).code, "bad_signature");
      // A changed address after signing.
      announce(socket, { ...own, multiaddrs: ["/ip4/127.0.0.1/tcp/6666"] });
      assert.equal((await socket.next("error")).code, "bad_signature");
      // A record signed an hour ago.
      await announce(
        socket,
        await signPeerInfo(forger, fields, { timestamp: Date.now() - 3_600_000 }),
      );
      assert.equal((await socket.next("error")).code, "stale");
      // A replay: the forger's genuine record, announced, then an older one.
      const older = await signPeerInfo(forger, fields, { seq: own.seq - 1 });
      announce(socket, own);
      assert.equal((await socket.next("announced")).peerId, forger.id);
      announce(socket, older);
      const replay = await socket.next("error");
      assert.equal(replay.code, "replayed");
      assert.match(String(replay.message), /replay/);
      // The victim's record is untouched and the server still serves.
      const peers = await honest.requestPeers();
      assert.deepEqual(peers.map((p) => p.peerId), [forger.id]);
      const stored = server.handler.peers().find((p) => p.peerId === victim.id)!;
      assert.deepEqual(stored.multiaddrs, fields.multiaddrs);
      assert.equal(server.handler.stats().refused.bad_signature, 2);
    } finally {
      await socket.close();
    }
  },
);

testEachStrategy(
  "malformed messages and floods are refused; the server keeps serving",
  async () => {
    await using server = serveDiscovery({
      maxConnections: 3,
      ratePerSecond: 5,
      burst: 10,
      maxMessageBytes: 4096,
      maxBadMessages: 100,
    });
    await using good = await DiscoveryClient.connect(server.url, {
      ...FAST,
      refreshMs: 60_000,
      identity: await createPeerIdentity(),
      info: { multiaddrs: ["/ip4/127.0.0.1/tcp/1"], role: "master" },
    });
    // Malformed messages get clear errors and the connection stays.
    const messy = new RecordingSocket(server.url);
    try {
      await messy.next("welcome");
      messy.send("{not json");
      assert.equal((await messy.next("error")).code, "bad_json");
      messy.socket.send(new Uint8Array([1, 2, 3]));
      assert.equal((await messy.next("error")).code, "unsupported_data");
      messy.send({ type: "shout" });
      assert.match(String((await messy.next("error")).message), /unknown type "shout"/);
      messy.send({ type: "heartbeat" });
      assert.equal((await messy.next("error")).code, "not_announced");
      messy.send({ type: "peer_request", limit: -1 });
      assert.equal((await messy.next("error")).code, "bad_message");
      messy.send({ type: "peer_request", id: 7 });
      const answer = await messy.next("peers");
      assert.equal(answer.id, 7);
      assert.equal((answer.peers as unknown[]).length, 1);
    } finally {
      await messy.close();
    }
    // Too large: closed before the payload is read.
    const big = new RecordingSocket(server.url);
    await big.next("welcome");
    big.send("x".repeat(10_000));
    await big.waitClosed();
    assert.equal(big.closeCode, 1009);
    assert.match(big.closeReason, /Message too big: the limit is 4096 bytes/);
    // Too many a second.
    const flood = new RecordingSocket(server.url);
    await flood.next("welcome");
    for (let i = 0; i < 50; i++) flood.send({ type: "peer_request" });
    const limited = await flood.next("error");
    assert.equal(limited.code, "rate_limited");
    assert.match(String(limited.message), /more than 5 messages a second/);
    await flood.waitClosed();
    assert.equal(flood.closeCode, 1008);
    // Too many connections: the good client holds one; two more fill the server.
    const held = [new RecordingSocket(server.url), new RecordingSocket(server.url)];
    for (const socket of held) await socket.next("welcome");
    const extra = new RecordingSocket(server.url);
    const full = await extra.next("error");
    assert.equal(full.code, "too_many_connections");
    await extra.waitClosed();
    assert.equal(extra.closeCode, 1013);
    for (const socket of held) await socket.close();
    // The well-behaved client was served throughout, and nothing piled up.
    assert.equal((await good.requestPeers({ excludeSelf: false })).length, 1);
    await eventually(() => server.handler.stats().connections === 1, "the others' sessions ended");
    const stats = server.handler.stats();
    assert.equal(stats.peers, 1);
    assert.equal(stats.refused.rate_limited, 1);
    assert.equal(stats.refused.too_many_connections, 1);
    assert.match(
      server.handler.metrics(),
      /ipfs_kit_discovery_refused_total\{code="rate_limited"\} 1/,
    );
    assert(good.connected);
  },
);

testEachStrategy("a silent peer expires after the TTL; a heartbeating one stays", async () => {
  await using server = serveDiscovery({ ttlMs: 1_500 });
  await using watcher = await DiscoveryClient.connect(server.url, {
    ...FAST,
    identity: await createPeerIdentity(),
    info: { multiaddrs: [], role: "master" },
  });
  // A peer that announces and then says nothing.
  const silent = new RecordingSocket(server.url);
  const silentId = await createPeerIdentity();
  await silent.next("welcome");
  silent.send({
    type: "announce",
    peer: await signPeerInfo(silentId, { multiaddrs: [], role: "worker" }),
  });
  await silent.next("announced");
  await eventually(
    () => watcher.knownPeers().some((p) => p.peerId === silentId.id),
    "the watcher learnt of the silent peer",
  );
  const expired = await silent.next("error");
  assert.equal(expired.code, "expired");
  await silent.waitClosed();
  assert.equal(silent.closeCode, 1008);
  await eventually(
    () => !watcher.knownPeers().some((p) => p.peerId === silentId.id),
    "the watcher was told the silent peer left",
  );
  assert.equal(server.handler.stats().expired, 1);
  assert(watcher.connected, "the heartbeating watcher stayed");
});

testEachStrategy("past max_peers the peer heard from longest ago is evicted", async () => {
  await using server = serveDiscovery({ maxPeers: 2 });
  const sockets = [0, 1, 2].map(() => new RecordingSocket(server.url));
  const ids = await Promise.all(sockets.map(() => createPeerIdentity()));
  try {
    for (const [i, socket] of sockets.entries()) {
      await socket.next("welcome");
      socket.send({
        type: "announce",
        peer: await signPeerInfo(ids[i], { multiaddrs: [], role: "worker" }),
      });
      await socket.next("announced");
    }
    const left = await sockets[0].next("peer_left");
    assert.deepEqual([left.peerId, left.reason], [ids[0].id, "evicted"]);
    assert.equal(server.handler.stats().peers, 2);
    assert.equal(server.handler.stats().evicted, 1);
    assert.deepEqual(
      server.handler.peers().map((p) => p.peerId).sort(),
      [ids[1].id, ids[2].id].sort(),
    );
    // The evicted connection is told to announce again before it heartbeats.
    sockets[0].send({ type: "heartbeat" });
    assert.equal((await sockets[0].next("error")).code, "not_announced");
  } finally {
    for (const socket of sockets) await socket.close();
  }
});

testEachStrategy("a client reconnects and announces again after the server restarts", async () => {
  const first = serveDiscovery();
  const port = first.addr.port;
  await using client = await DiscoveryClient.connect(first.url, {
    ...FAST,
    identity: await createPeerIdentity(),
    info: { multiaddrs: ["/ip4/127.0.0.1/tcp/4001"], role: "worker" },
  });
  assert.equal(client.sessions, 1);
  await first.shutdown();
  await eventually(() => !client.connected, "the client saw the server go", { limitMs: 10_000 });
  await using second = serveDiscovery({ port });
  await client.ready();
  await eventually(
    () => second.handler.peers().some((p) => p.peerId === client.peerId),
    "the client announced itself to the new server",
    { limitMs: 20_000 },
  );
  assert(client.sessions >= 2);
  assert.equal((await client.requestPeers({ excludeSelf: false })).length, 1);
});

testEachStrategy("ready fails with a clear error when no server answers", async () => {
  await using client = new DiscoveryClient(`ws://127.0.0.1:${deadMultiaddr().split("/")[4]}/x`, {
    ...FAST,
    timeoutMs: 300,
    identity: await createPeerIdentity(),
    info: { multiaddrs: [], role: "leecher" },
  });
  await assert.rejects(client.ready(), (error) => {
    assert(error instanceof DiscoveryError);
    assert.equal(error.code, "timeout");
    assert.match(error.message, /Cannot reach the discovery server at ws:\/\/127\.0\.0\.1:\d+/);
    return true;
  });
});
