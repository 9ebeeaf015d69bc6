/**
 * What the two `bitswap-64MiB` benches share (`network_bench.ts`, both
 * nodes in one process; `network_processes_bench.ts` with `_network_peer.ts`,
 * the serving side in another): the file's size, Helia's add in Kubo's
 * layout, the raw stream's sender and counter, and the lines the two
 * processes exchange.
 *
 * @module
 */

import { unixfs } from "npm:@helia/unixfs@8.0.5";
import type { Libp2p, PeerId } from "npm:@libp2p/interface@3.3.0";
import { fixedSize } from "npm:ipfs-unixfs-importer@17.1.1/chunker";
import { balanced } from "npm:ipfs-unixfs-importer@17.1.1/layout";
import type { CID } from "npm:multiformats@14.0.5/cid";
import type { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { Event } from "../runtime/event.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import { randomBytes } from "../tests/_bytes.ts";
import type { HeliaNode } from "../tests/_helia.ts";

/** The file every entry moves: 64 MiB. */
export const TOTAL = 64 * 1024 * 1024;
/** The raw stream's protocol. */
export const RAW_PROTOCOL = "/ipfs-kit/bench/raw/1.0.0";
/** The raw stream's write size. */
const WRITE = 64 * 1024;
/** What the raw stream writes, again and again (made once: not part of any timing). */
const CHUNK = randomBytes(WRITE);

/** The libp2p node of a kit node opened with `libp2pNetwork`. */
export function libp2pOf(node: EmbeddedNode): Libp2p {
  return (node.network as unknown as { libp2p: Libp2p }).libp2p;
}

/** Adds `TOTAL` fresh random bytes to a Helia node in Kubo's layout (CIDv0, 256 KiB leaves, 174 links). */
export function addToHelia(helia: HeliaNode): Promise<CID> {
  return unixfs(helia).addBytes(randomBytes(TOTAL), {
    cidVersion: 0,
    rawLeaves: false,
    chunker: fixedSize({ chunkSize: 262_144 }),
    layout: balanced({ maxChildrenPerNode: 174 }),
  });
}

/** Sends `TOTAL` bytes in 64 KiB writes over one new stream from `from` to `to`. */
export async function sendRaw(from: Libp2p, to: PeerId): Promise<void> {
  const stream = await from.dialProtocol(to, RAW_PROTOCOL);
  for (let sent = 0; sent < TOTAL; sent += WRITE) {
    if (!stream.send(CHUNK)) await stream.onDrain();
  }
  await stream.close();
}

/** Counts what arrives over the raw protocol, one transfer at a time. */
export interface RawArrivals {
  /** Starts counting a new transfer (a stream of an earlier one counts for that one). */
  expect(): void;
  /** Waits until the transfer's `TOTAL` bytes arrived; throws after 60 s. */
  arrived(): Promise<void>;
}

/** Handles the raw protocol on `on`, counting arrivals. */
export async function countRawArrivals(on: Libp2p): Promise<RawArrivals> {
  let round = { bytes: 0, done: new Event() };
  await on.handle(RAW_PROTOCOL, (stream) => {
    const counting = round;
    stream.addEventListener("message", (event) => {
      counting.bytes += event.data.byteLength;
      if (counting.bytes >= TOTAL) counting.done.set();
    });
  });
  return {
    expect() {
      round = { bytes: 0, done: new Event() };
    },
    async arrived() {
      const counting = round;
      const done = await moveOnAfter(60_000, () => counting.done.wait().then(() => true));
      if (done !== true) throw new Error(`received ${counting.bytes} of ${TOTAL} bytes`);
    },
  };
}

/** The lines of a byte stream, without their newlines (the line protocol of `_network_peer.ts`). */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
      yield buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
    }
  }
}
