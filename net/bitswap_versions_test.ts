import assert from "node:assert/strict";
import { noise } from "npm:@chainsafe/libp2p-noise@17.0.0";
import { yamux } from "npm:@chainsafe/libp2p-yamux@8.0.1";
import type { Stream } from "npm:@libp2p/interface@3.3.0";
import { identify } from "npm:@libp2p/identify@4.1.14";
import { tcp } from "npm:@libp2p/tcp@11.0.28";
import { multiaddr } from "npm:@multiformats/multiaddr@13.0.3";
import { createLibp2p } from "npm:libp2p@3.3.11";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import { testEachStrategy } from "../runtime/testing.ts";
import { eventually } from "../tests/_async.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { addressOf, settleLibp2p, withKits } from "../tests/_net.ts";
import { trackBroadcastChannels } from "./_broadcast_channels.ts";
import {
  BITSWAP_100,
  BITSWAP_110,
  BITSWAP_120,
  cidPrefix,
  decodeMessage,
  encodeMessage,
  MessageReader,
  readPrefix,
  type WireMessage,
} from "./_bitswap_message.ts";

/**
 * A bare libp2p peer that speaks only `protocol`: it sends the kit one
 * message and collects what the kit sends back.
 */
async function withOldPeer<T>(
  protocol: string,
  fn: (peer: { send(m: WireMessage, to: string): Promise<void>; got: WireMessage[] }) => Promise<T>,
): Promise<T> {
  const { value: node, channels } = await trackBroadcastChannels(() =>
    createLibp2p({
      addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
    })
  );
  const got: WireMessage[] = [];
  await node.handle(protocol, (stream: Stream) => {
    const reader = new MessageReader();
    stream.addEventListener("message", (event) => {
      const data = event.data;
      for (const chunk of data instanceof Uint8Array ? [data] : data) {
        for (const message of reader.push(chunk)) got.push(decodeMessage(message));
      }
    });
  });
  try {
    return await fn({
      got,
      async send(message, to) {
        const stream = await node.dialProtocol(multiaddr(to), protocol);
        assert.equal(stream.protocol, protocol);
        stream.send(encodeMessage(message, protocol));
        await stream.close();
      },
    });
  } finally {
    await node.stop();
    for (const channel of channels) channel.close();
    await settleLibp2p();
  }
}

function want(cid: CID, options: Partial<WireMessage["entries"][0]> = {}) {
  return {
    cid: cid.bytes,
    priority: 1,
    cancel: false,
    wantType: 0 as const,
    sendDontHave: false,
    ...options,
  };
}

testEachStrategy("peers speaking bitswap 1.1.0 and 1.0.0 are served in their format", async () => {
  await withKits(1, async ([kit]) => {
    const bytes = randomBytes(300_000);
    const cid = CID.parse((await kit.block.put(bytes)).toString());
    const address = await addressOf(kit);
    for (const protocol of [BITSWAP_110, BITSWAP_100]) {
      await withOldPeer(protocol, async (peer) => {
        await peer.send({ entries: [want(cid)], full: false, blocks: [], presences: [] }, address);
        await eventually(() => peer.got.some((m) => m.blocks.length > 0), `a ${protocol} block`);
        const [block] = peer.got.find((m) => m.blocks.length > 0)!.blocks;
        assert.deepEqual(block.data, bytes);
        if (protocol === BITSWAP_100) assert.equal(block.prefix, undefined);
        else assert.deepEqual(readPrefix(block.prefix!), [1, raw.code, sha256.code, 32]);
      });
    }
  });
}, { strategies: ["eager"] });

testEachStrategy("bitswap 1.2.0: want-have gets HAVE, a missing block DONT_HAVE", async () => {
  await withKits(1, async ([kit]) => {
    const bytes = randomBytes(1000);
    const cid = CID.parse((await kit.block.put(bytes)).toString());
    const missing = CID.createV1(raw.code, await sha256.digest(randomBytes(64)));
    await withOldPeer(BITSWAP_120, async (peer) => {
      await peer.send({
        entries: [
          want(cid, { wantType: 1 }),
          want(missing, { sendDontHave: true }),
        ],
        full: false,
        blocks: [],
        presences: [],
      }, await addressOf(kit));
      await eventually(() => peer.got.flatMap((m) => m.presences).length >= 2, "two presences");
      const presences = peer.got.flatMap((m) => m.presences);
      const typeOf = (c: CID) => presences.find((p) => CID.decode(p.cid).equals(c))?.type;
      assert.equal(typeOf(cid), 0); // HAVE
      assert.equal(typeOf(missing), 1); // DONT_HAVE
      assert.equal(peer.got.flatMap((m) => m.blocks).length, 0);
    });
  });
}, { strategies: ["eager"] });

testEachStrategy(
  "a want left unanswered is sent again, and a block from any peer is taken",
  async () => {
    await withKits(1, async ([kit]) => {
      const address = await addressOf(kit);
      const bytes = randomBytes(5000);
      const cid = CID.createV1(raw.code, await sha256.digest(bytes));
      await withOldPeer(BITSWAP_120, async (peer) => {
        // A message makes the peer known to the kit as a bitswap peer.
        await peer.send({ entries: [], full: true, blocks: [], presences: [] }, address);
        const wantsOf = () =>
          peer.got.flatMap((m) => m.entries).filter((e) =>
            !e.cancel && CID.decode(e.cid).equals(cid)
          ).length;
        const fetching = kit.block.get(cid, { signal: AbortSignal.timeout(60_000) });
        await eventually(() => wantsOf() >= 1, "the kit wants the block");
        // The peer ignores the first want; the kit asks again.
        await eventually(() => wantsOf() >= 2, "the kit wants it again", { limitMs: 30_000 });
        const [want] = peer.got.flatMap((m) => m.entries).filter((e) => !e.cancel);
        assert(want.sendDontHave);
        await peer.send({
          entries: [],
          full: false,
          blocks: [{ prefix: cidPrefix(cid), data: bytes }],
          presences: [],
        }, address);
        assert.deepEqual(await fetching, bytes);
      });
    });
  },
  { strategies: ["eager"] },
);
