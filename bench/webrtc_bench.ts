/**
 * WebRTC in one process over loopback, with the same library on both
 * sides (node-datachannel 0.33.4), group `webrtc-64MiB`:
 *
 * - `ipfs-kit webrtc`: a 64 MiB file (Kubo's layout: 256 KiB dag-pb leaves
 *   under CIDv0 nodes) streamed from an embedded node by a
 *   `StreamingManager` and read through `WebRtcConnection.open`, every
 *   block verified (hash and link) before its bytes are handed out.
 * - `raw-datachannel` (the baseline): the same 64 MiB as bare 64 KiB
 *   messages on one data channel, with the same backpressure rule (wait
 *   while `bufferedAmount` is over 1 MiB, woken by `bufferedamountlow` or
 *   polled every 2 ms), counted on arrival and nothing else.
 *
 * Each iteration sets up its connection first and closes it after, outside
 * the timed part (`b.start()`/`b.end()`): the figure is the transfer alone.
 * Each entry checks that every byte arrived.
 *
 * ```sh
 * deno bench --allow-all bench/webrtc_bench.ts
 * ```
 *
 * @module
 */

import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { Event } from "../runtime/event.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import { tempDirRemovedAtExit } from "../tests/_files.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { connectWebRtc, serveSignaling, StreamingManager } from "../webrtc/mod.ts";

const MIB = 1024 * 1024;
const TOTAL = 64 * MIB;
const MESSAGE = 64 * 1024;
const HIGH_WATER_MARK = MIB;
const POLL_MS = 2;
const GROUP = "webrtc-64MiB";

const node = await EmbeddedNode.open({ repo: await tempDirRemovedAtExit(), sync: false });
const { cid } = await node.add(randomBytes(TOTAL));
addEventListener("unload", () => void node.close());

Deno.bench({ name: "ipfs-kit webrtc", group: GROUP, n: 5, warmup: 1 }, async (b) => {
  await using manager = new StreamingManager(node, { bindAddress: "127.0.0.1" });
  await using server = serveSignaling(manager);
  await using connection = await connectWebRtc(server.url, { bindAddress: "127.0.0.1" });
  b.start();
  let received = 0;
  for await (const chunk of connection.open(cid)) received += chunk.length;
  b.end();
  if (received !== TOTAL) throw new Error(`received ${received} of ${TOTAL} bytes`);
});

Deno.bench(
  { name: "raw-datachannel", group: GROUP, baseline: true, n: 5, warmup: 1 },
  async (b) => {
    const ndc = await import("npm:node-datachannel@0.33.4");
    const config = { iceServers: [], bindAddress: "127.0.0.1" };
    const sender = new ndc.PeerConnection("sender", config);
    const receiver = new ndc.PeerConnection("receiver", config);
    const keep: unknown[] = [];
    sender.onLocalDescription((sdp, type) => receiver.setRemoteDescription(sdp, type as "offer"));
    receiver.onLocalDescription((sdp, type) => sender.setRemoteDescription(sdp, type as "answer"));
    // A callback that throws inside a native event aborts the process: none may.
    const add = (to: typeof sender) => (candidate: string, mid: string) => {
      try {
        to.addRemoteCandidate(candidate, mid);
      } catch {
        // A candidate it cannot use.
      }
    };
    sender.onLocalCandidate(add(receiver));
    receiver.onLocalCandidate(add(sender));
    sender.onStateChange(() => {});
    receiver.onStateChange(() => {});
    const done = new Event();
    const closed: Event[] = [];
    let received = 0;
    receiver.onDataChannel((dc) => {
      keep.push(dc);
      const event = new Event();
      closed.push(event);
      dc.onClosed(() => event.set());
      dc.onMessage((message) => {
        received += (message as Uint8Array).byteLength;
        if (received >= TOTAL) done.set();
      });
    });
    const channel = sender.createDataChannel("raw");
    const open = new Event();
    const senderClosed = new Event();
    let low = new Event();
    channel.onOpen(() => open.set());
    channel.onClosed(() => senderClosed.set());
    channel.setBufferedAmountLowThreshold(HIGH_WATER_MARK);
    channel.onBufferedAmountLow(() => low.set());
    await open.wait();
    const message = new Uint8Array(MESSAGE);
    b.start();
    for (let sent = 0; sent < TOTAL; sent += MESSAGE) {
      while (channel.bufferedAmount() > HIGH_WATER_MARK) {
        low = new Event();
        await moveOnAfter(POLL_MS, () => low.wait());
      }
      channel.sendMessageBinary(message);
    }
    await done.wait();
    b.end();
    channel.close();
    await senderClosed.wait();
    for (const event of closed) await event.wait();
    sender.close();
    receiver.close();
    if (received !== TOTAL) throw new Error(`received ${received} of ${TOTAL} bytes`);
  },
);
