/**
 * Interoperability with an independent IPFS implementation: a js-ipfs
 * daemon (ipfs@0.66.1, over TCP thanks to tools/js-ipfs/multiaddr_hook.mjs)
 * and kit nodes exchange blocks over libp2p (noise, mplex: js-ipfs has no
 * yamux), with either side dialling, pubsub messages, an IPNS name, and
 * provider records over the LAN DHT.
 */

import assert from "node:assert/strict";
import { KuboBackend } from "../ipfs/kubo_backend.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { eventually } from "./_async.ts";
import { randomBytes, readAll } from "./_bytes.ts";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { addressOf, networkOf, probeJsIpfs, withJsIpfsPeer, withKits } from "./_net.ts";
import { requireTool } from "./_services.ts";

const jsIpfs = await requireTool("js-ipfs", probeJsIpfs);
const MiB = 1024 * 1024;

testEachStrategy(
  "js-ipfs and kit nodes exchange content and messages, either side dialling",
  async () => {
    await withJsIpfsPeer(async (peer) => {
      await using js = await KuboBackend.connect({ api: peer.url, timeoutMs: 60_000 });
      await withKits(2, async ([dialled, dialling]) => {
        // js-ipfs dials the first kit node and reads what it added; the kit
        // node reads what js-ipfs added over the same connection. 4 MiB is 16
        // blocks: js-ipfs opens a stream per bitswap message, past mplex's
        // default limit of 5 a second (the kit raises it).
        const onKit = randomBytes(4 * MiB);
        const onJs = randomBytes(4 * MiB);
        const { cid: kitCid } = await dialled.add(onKit);
        const { cid: jsCid } = await js.add(onJs);
        await js.swarm.connect(await addressOf(dialled));
        const kitId = (await dialled.id()).id;
        await eventually(
          async () => (await dialled.swarm.peers()).some((p) => p.peer === peer.id),
          "the kit node sees js-ipfs",
        );
        assert((await js.swarm.peers()).some((p) => p.peer === kitId), "js-ipfs sees the kit node");
        assert.deepEqual(await readAll(js.cat(kitCid)), onKit);
        assert.deepEqual(await readAll(dialled.cat(jsCid)), onJs);

        // Pubsub (gossipsub, signed messages) both ways. js-ipfs's
        // subscription (an RPC stream) starts with the first read.
        const onKitTopic = dialled.pubsub.subscribe("interop").getReader();
        const onJsTopic = js.pubsub.subscribe("interop").getReader();
        try {
          const toKit = onKitTopic.read();
          const toJs = onJsTopic.read();
          await eventually(
            async () =>
              (await js.pubsub.peers("interop")).includes(kitId) &&
              (await dialled.pubsub.peers("interop")).includes(peer.id),
            "each sees the other on the topic",
            { limitMs: 20_000 },
          );
          await js.pubsub.publish("interop", new TextEncoder().encode("from js-ipfs"));
          const fromJs = (await toKit).value!;
          assert.equal(new TextDecoder().decode(fromJs.data), "from js-ipfs");
          assert.equal(fromJs.from, peer.id);
          await dialled.pubsub.publish("interop", new TextEncoder().encode("from the kit"));
          // js-ipfs, as Kubo, also hands its subscribers its own messages.
          let fromKit = (await toJs).value!;
          if (fromKit.from === peer.id) fromKit = (await onJsTopic.read()).value!;
          assert.equal(new TextDecoder().decode(fromKit.data), "from the kit");
          assert.equal(fromKit.from, kitId);
        } finally {
          await onKitTopic.cancel();
          await onJsTopic.cancel();
        }

        // IPNS over the LAN DHT: the kit node resolves js-ipfs's name.
        const published = await js.name.publish(jsCid, { allowOffline: true });
        assert.equal(published.name, peer.id);
        assert.equal(await dialled.name.resolve(peer.id), `/ipfs/${jsCid}`);

        // The second kit node dials js-ipfs, and both read each other's.
        await dialling.swarm.connect(peer.address);
        // The LAN DHT through js-ipfs: the second kit node finds js-ipfs as the
        // provider of what it added, and the first kit node as the provider of
        // what only that one has (its provide reached js-ipfs).
        const providersOf = async (cid: CID) =>
          (await dialling.routing.findProvs(cid, { numProviders: 1 })).map((p) => p.id);
        await eventually(async () => (await providersOf(jsCid)).includes(peer.id), "js-ipfs", {
          limitMs: 30_000,
        });
        const { cid: onlyKit } = await dialled.add(
          new TextEncoder().encode("only the kit has this"),
        );
        // kitCid's provide (made when js-ipfs joined), then onlyKit's.
        await eventually(
          () => networkOf(dialled).stats().provided >= 2,
          "the provides reached js",
          {
            limitMs: 30_000,
          },
        );
        assert.deepEqual(await providersOf(onlyKit), [kitId]);
        const { cid: secondCid } = await dialling.add(onKit.subarray(0, MiB));
        assert.deepEqual(await readAll(dialling.cat(jsCid)), onJs);
        assert.deepEqual(await readAll(js.cat(secondCid)), onKit.subarray(0, MiB));
      });
    });
  },
  { ignore: jsIpfs.ignore, strategies: ["eager"] },
);
