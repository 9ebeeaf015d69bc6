/**
 * Interoperability with an independent IPFS implementation: a js-ipfs
 * daemon (ipfs@0.66.1, over TCP thanks to tools/js-ipfs/multiaddr_hook.mjs)
 * and kit nodes exchange blocks over libp2p (noise, mplex: js-ipfs has no
 * yamux), with either side dialling.
 */

import assert from "node:assert/strict";
import { KuboBackend } from "../ipfs/kubo_backend.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { eventually } from "./_async.ts";
import { randomBytes, readAll } from "./_bytes.ts";
import { addressOf, probeJsIpfs, withJsIpfsPeer, withKits } from "./_net.ts";
import { requireTool } from "./_services.ts";

const jsIpfs = await requireTool("js-ipfs", probeJsIpfs);
const MiB = 1024 * 1024;

testEachStrategy("js-ipfs and kit nodes exchange content, either side dialling", async () => {
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

      // The second kit node dials js-ipfs, and both read each other's.
      await dialling.swarm.connect(peer.address);
      const { cid: secondCid } = await dialling.add(onKit.subarray(0, MiB));
      assert.deepEqual(await readAll(dialling.cat(jsCid)), onJs);
      assert.deepEqual(await readAll(js.cat(secondCid)), onKit.subarray(0, MiB));
    });
  });
}, { ignore: jsIpfs.ignore, strategies: ["eager"] });
