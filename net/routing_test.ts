import assert from "node:assert/strict";
import { generateKeyPair } from "npm:@libp2p/crypto@5.1.23/keys";
import { peerIdFromPrivateKey } from "npm:@libp2p/peer-id@6.0.15";
import { createIPNSRecord, marshalIPNSRecord, unmarshalIPNSRecord } from "npm:ipns@10.1.6";
import { InvalidInputError, NotFoundError } from "../ipfs/errors.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { eventually, rejection } from "../tests/_async.ts";
import { randomBytes, readAll } from "../tests/_bytes.ts";
import { addressOf, networkOf, withKits } from "../tests/_net.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

// One three-node DHT for the whole module (a test of its own per check
// would start 3 nodes each time): A and C know only B.
testEachStrategy("a three-node DHT: providers, peers, records and IPNS through B", async () => {
  await withKits(3, async ([a, b, c]) => {
    const aId = (await a.id()).id;
    const [aAddress] = (await a.id()).addresses;
    // A adds before it knows anyone: its provide reaches no peer, and is
    // made again once B joins its routing table.
    const data = randomBytes(300_000);
    const { cid } = await a.add(data);
    assert.equal(networkOf(a).stats().provided, 0);
    const bAddress = await addressOf(b);
    await a.swarm.connect(bAddress);
    await c.swarm.connect(bAddress);
    await eventually(() => networkOf(a).stats().provided >= 1, "A's provide reached a peer", {
      limitMs: 30_000,
    });

    // C finds A as the provider, and A's addresses, through B (C's DHT may
    // have dialled A by now: B told it of A when C joined).
    const providers = await c.routing.findProvs(cid, { numProviders: 1 });
    assert.deepEqual(providers.map((p) => p.id), [aId]);
    assert(providers[0]!.addrs.some((addr) => aAddress!.startsWith(addr)), "A's address");
    const peer = await c.routing.findPeer(aId);
    assert.equal(peer.id, aId);
    assert(peer.addrs.some((addr) => aAddress!.startsWith(addr)), `A's address: ${peer.addrs}`);
    // ...and fetches the content from A.
    assert.deepEqual(await readAll(c.cat(cid)), data);
    assert.equal(networkOf(c).stats().bytesFetched >= data.length, true);

    // A value under a key the DHT validates: an IPNS record signed by its key.
    const key = await generateKeyPair("Ed25519");
    const name = `/ipns/${peerIdFromPrivateKey(key)}`;
    const record = marshalIPNSRecord(await createIPNSRecord(key, `/ipfs/${cid}`, 1n, 60_000));
    await c.routing.put(name, record);
    assert.deepEqual(await a.routing.get(name), record);
    // A record signed by another key is refused, as is a key the DHT has no validator for.
    const other = await generateKeyPair("Ed25519");
    const forged = marshalIPNSRecord(await createIPNSRecord(other, `/ipfs/${cid}`, 2n, 60_000));
    assert(await rejection(c.routing.put(name, forged)) instanceof InvalidInputError);
    assert(await rejection(c.routing.put("/v/x", record)) instanceof InvalidInputError);
    assert.deepEqual(await b.routing.get(name), record, "the forged record replaced it");

    // IPNS: A publishes, C resolves; a new value replaces the old one.
    const published = await a.name.publish(cid);
    assert.deepEqual(published, { name: aId, value: `/ipfs/${cid}` });
    assert.equal(await c.name.resolve(aId), `/ipfs/${cid}`);
    assert.equal(await c.name.resolve(`/ipns/${aId}`), `/ipfs/${cid}`);
    const signed = unmarshalIPNSRecord(await c.routing.get(`/ipns/${aId}`));
    assert.equal(signed.value, `/ipfs/${cid}`);
    const { cid: next } = await a.add(new TextEncoder().encode("the second version"));
    await a.name.publish(next);
    assert.equal(await c.name.resolve(aId), `/ipfs/${next}`);
    assert.equal(await c.name.resolve(`/ipns/${aId}/a/b`), `/ipfs/${next}/a/b`);
    assert.equal(text(await readAll(c.cat(next))), "the second version");
    const unknown = peerIdFromPrivateKey(other).toString();
    assert(await rejection(c.name.resolve(unknown)) instanceof NotFoundError);

    // The provider record lives on the DHT, not only on A: with A gone, C
    // still finds A as the provider of what A added after connecting.
    await eventually(
      () => networkOf(a).stats().provided >= 2,
      "A's second provide reached a peer",
      {
        limitMs: 30_000,
      },
    );
    await a.close();
    const after = await c.routing.findProvs(next, { numProviders: 1 });
    assert.deepEqual(after.map((p) => p.id), [aId]);
  });
});

testEachStrategy("alone, a node publishes its name only with allowOffline", async () => {
  await withKits(1, async ([a]) => {
    const { cid } = await a.add(new TextEncoder().encode("offline"));
    const error = await rejection(a.name.publish(cid));
    assert(error instanceof NotFoundError, String(error));
    assert.match(error.message, /no DHT peer stored it/);
    assert(await rejection(a.routing.provide(cid)) instanceof NotFoundError);
    const { name } = await a.name.publish(cid, { allowOffline: true });
    assert.equal(await a.name.resolve(name), `/ipfs/${cid}`);
    assert(await rejection(a.routing.get("/ipns/not-a-peer")) instanceof InvalidInputError);
  });
}, { strategies: ["eager"] });

testEachStrategy("a burst of adds is provided, every one", async () => {
  await withKits(2, async ([a, b]) => {
    await a.swarm.connect(await addressOf(b));
    const cids = [];
    for (let i = 0; i < 150; i++) {
      cids.push((await a.add(new TextEncoder().encode(`file ${i}`))).cid);
    }
    await eventually(
      () => networkOf(a).stats().provided >= 150,
      "A's 150 provides reached B",
      { limitMs: 60_000 },
    ).catch((error) => {
      throw new Error(`${error.message}: ${networkOf(a).stats().provided} provided`);
    });
    const providers = await b.routing.findProvs(cids.at(-1)!, { numProviders: 1 });
    assert.deepEqual(providers.map((p) => p.id), [(await a.id()).id]);
  });
}, { strategies: ["eager"] });
