/**
 * Test fixture: a Helia node from npm (`createHeliaLight` with TCP, noise,
 * yamux, identify and `@helia/bitswap`) on loopback, an independent
 * bitswap implementation to check the kit's engine against.
 *
 * @module
 */

import { noise } from "npm:@chainsafe/libp2p-noise@17.0.0";
import { yamux } from "npm:@chainsafe/libp2p-yamux@8.0.1";
import { withBitswap } from "npm:@helia/bitswap@4.0.19";
import { withLibp2pLight } from "npm:@helia/libp2p@2.1.4";
import { identify } from "npm:@libp2p/identify@4.1.14";
import { tcp } from "npm:@libp2p/tcp@11.0.28";
import { FsBlockstore } from "npm:blockstore-fs@4.0.1";
import { MemoryDatastore } from "npm:datastore-core@12.0.1";
import { createHeliaLight } from "npm:helia@7.1.15";
import { trackBroadcastChannels } from "../net/_broadcast_channels.ts";
import { settleLibp2p } from "./_net.ts";
import { withTempDir } from "./_files.ts";

/** A started Helia node with bitswap. */
export type HeliaNode = Awaited<ReturnType<typeof start>>;

/** Starts a Helia node with bitswap on loopback, its blockstore on disk in `dir`. */
export const startHelia: (dir: string) => Promise<HeliaNode> = start;

async function start(dir: string) {
  const node = withBitswap(
    await withLibp2pLight(
      await createHeliaLight({
        blockstore: new FsBlockstore(dir),
        datastore: new MemoryDatastore(),
      }),
      {
        addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { identify: identify() },
      },
    ),
  );
  await node.start();
  return node;
}

/** Runs `fn` with a Helia node on a temporary blockstore, and stops it afterwards. */
export function withHelia<T>(fn: (helia: HeliaNode) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const { value: helia, channels } = await trackBroadcastChannels(() => start(dir));
    try {
      return await fn(helia);
    } finally {
      await helia.stop();
      for (const channel of channels) channel.close();
      await settleLibp2p();
    }
  });
}
