import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { unixfs } from "npm:@helia/unixfs@8.0.5";
import { multiaddr } from "npm:@multiformats/multiaddr@13.0.3";
import { CID } from "npm:multiformats@14.0.5/cid";
import { sleep } from "../runtime/sleep.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { randomBytes, readAll } from "../tests/_bytes.ts";
import { withHelia } from "../tests/_helia.ts";
import { addressOf, networkOf, withKits } from "../tests/_net.ts";

const MiB = 1024 * 1024;

function digest(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

testEachStrategy("the kit's bitswap and Helia's exchange files both ways", async () => {
  await withHelia(async (helia) => {
    await withKits(1, async ([kit]) => {
      // Helia dials the kit; the kit fetches a file Helia added (its defaults:
      // CIDv1, raw leaves), then Helia fetches one the kit added (CIDv0, dag-pb leaves).
      await helia.libp2p.dial(multiaddr(await addressOf(kit)));
      const fromHelia = randomBytes(3 * MiB + 17);
      const heliaCid = await unixfs(helia).addBytes(fromHelia);
      assert.equal(digest(await readAll(kit.cat(heliaCid.toString()))), digest(fromHelia));
      assert(networkOf(kit).stats().blocksFetched >= 2);

      const fromKit = randomBytes(3 * MiB + 5);
      const { cid } = await kit.add(fromKit);
      const chunks: Uint8Array[] = [];
      for await (const chunk of unixfs(helia).cat(CID.parse(cid.toString()))) chunks.push(chunk);
      assert.equal(digest(await new Blob(chunks as BlobPart[]).bytes()), digest(fromKit));
      assert(networkOf(kit).stats().blocksServed >= 12); // 256 KiB leaves
      assert.equal(networkOf(kit).stats().blocksRefused, 0);

      // Helia drops an inbound stream that brings no message for 10 s: after
      // longer than that, the kit still serves it (on a new stream).
      await sleep(11_000);
      const later = randomBytes(MiB);
      const { cid: laterCid } = await kit.add(later);
      const again: Uint8Array[] = [];
      for await (const chunk of unixfs(helia).cat(CID.parse(laterCid.toString()))) {
        again.push(chunk);
      }
      assert.equal(digest(await new Blob(again as BlobPart[]).bytes()), digest(later));
    });
  });
}, { strategies: ["eager"] });
