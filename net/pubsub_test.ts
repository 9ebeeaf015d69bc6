import assert from "node:assert/strict";
import { NotSupportedError } from "../ipfs/errors.ts";
import type { PubsubMessage } from "../ipfs/content_store.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { eventually, rejection } from "../tests/_async.ts";
import { identify } from "npm:@libp2p/identify@4.1.14";
import { createLibp2p } from "npm:libp2p@3.3.11";
import { addressOf, settleLibp2p, withKits } from "../tests/_net.ts";
import { sleep } from "../runtime/sleep.ts";
import { trackBroadcastChannels } from "./_broadcast_channels.ts";
import { stoppableGossipsub } from "./_gossipsub.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Reads a subscription into `into` until it ends. */
async function collect(stream: ReadableStream<PubsubMessage>, into: PubsubMessage[]) {
  for await (const message of stream) into.push(message);
}

testEachStrategy("pubsub: a message from A reaches B and C once each", async () => {
  await withKits(3, async ([a, b, c]) => {
    // Every node connected to every other: a message could reach B and C
    // twice (from A and forwarded by the other); gossipsub delivers it once.
    await a.swarm.connect(await addressOf(b));
    await a.swarm.connect(await addressOf(c));
    await b.swarm.connect(await addressOf(c));
    const [aId, bId, cId] = await Promise.all([a, b, c].map(async (kit) => (await kit.id()).id));

    const stopB = new AbortController();
    const stopC = new AbortController();
    const onB: PubsubMessage[] = [];
    const onC: PubsubMessage[] = [];
    const readingB = collect(b.pubsub.subscribe("news", { signal: stopB.signal }), onB);
    const readingC = collect(c.pubsub.subscribe("news", { signal: stopC.signal }), onC);
    assert.deepEqual(await b.pubsub.ls(), ["news"]);
    assert.deepEqual(await a.pubsub.ls(), []);
    // A publishes once it has seen both subscriptions.
    await eventually(
      async () => (await a.pubsub.peers("news")).sort().join() === [bId, cId].sort().join(),
      "A sees B and C on the topic",
      { limitMs: 20_000 },
    );
    assert.deepEqual((await a.pubsub.peers()).sort(), [bId, cId].sort());
    await a.pubsub.publish("news", encode("hello"));
    await eventually(() => onB.length > 0 && onC.length > 0, "B and C received it", {
      limitMs: 20_000,
    });
    await a.pubsub.publish("news", encode("second"));
    await eventually(() => onB.length > 1 && onC.length > 1, "B and C received the second", {
      limitMs: 20_000,
    });
    for (const [got, who] of [[onB, "B"], [onC, "C"]] as const) {
      assert.deepEqual(got.map((m) => decode(m.data)), ["hello", "second"], who);
      assert(got.every((m) => m.from === aId && m.topic === "news"), who);
      assert.notEqual(got[0]!.sequenceNumber, got[1]!.sequenceNumber);
    }

    // Unsubscribing by the signal ends B's stream and leaves the topic.
    stopB.abort(new Error("done"));
    assert.equal(((await rejection(readingB)) as Error).message, "done");
    assert.deepEqual(await b.pubsub.ls(), []);
    await eventually(
      async () => (await a.pubsub.peers("news")).join() === cId,
      "A sees B leave the topic",
      { limitMs: 20_000 },
    );
    await a.pubsub.publish("news", encode("third"));
    await eventually(() => onC.length > 2, "C received the third", { limitMs: 20_000 });
    assert.equal(onB.length, 2);
    // Still once each: a copy of an earlier message forwarded by the other
    // subscriber would have come before A's next message.
    assert.deepEqual(onC.map((m) => decode(m.data)), ["hello", "second", "third"]);
    stopC.abort(new Error("done"));
    await rejection(readingC);
  });
});

testEachStrategy("pubsub: two readers of a topic, one leaves", async () => {
  await withKits(2, async ([a, b]) => {
    await a.swarm.connect(await addressOf(b));
    const bId = (await b.id()).id;
    const first = b.pubsub.subscribe("t");
    const second = b.pubsub.subscribe("t").getReader();
    await first.cancel();
    // The topic stays subscribed while one reader is left.
    assert.deepEqual(await b.pubsub.ls(), ["t"]);
    await eventually(async () => (await a.pubsub.peers("t")).join() === bId, "A sees B on t", {
      limitMs: 20_000,
    });
    await a.pubsub.publish("t", encode("x"));
    const { value } = await second.read();
    assert.equal(decode(value!.data), "x");
    await second.cancel();
    assert.deepEqual(await b.pubsub.ls(), []);
  });
}, { strategies: ["eager"] });

testEachStrategy("without pubsub, pubsub calls say so", async () => {
  await withKits(1, async ([a]) => {
    const error = await rejection(a.pubsub.ls());
    assert(error instanceof NotSupportedError, String(error));
    assert.match(error.message, /without pubsub/);
  }, { pubsub: false });
}, { strategies: ["eager"] });

// gossipsub 17.1.1 leaves its heartbeat timer running after stop (a stopped
// node runs one more heartbeat, up to 1 s later, and `deno run` waits for
// it): the kit's gossipsub clears it (net/_gossipsub.ts).
testEachStrategy("a stopped gossipsub runs no heartbeat", async () => {
  const { value: node, channels } = await trackBroadcastChannels(() =>
    createLibp2p({ services: { identify: identify(), pubsub: stoppableGossipsub({}) } })
  );
  try {
    let heartbeats = 0;
    node.services.pubsub.addEventListener("gossipsub:heartbeat", () => heartbeats++);
    // The first heartbeat comes after 100 ms and schedules the next one.
    await eventually(() => heartbeats > 0, "a heartbeat", { limitMs: 10_000 });
    await node.stop();
    const stopped = heartbeats;
    await sleep(1_300); // longer than the heartbeat interval (1 s)
    assert.equal(heartbeats, stopped, "a heartbeat ran after stop");
  } finally {
    await node.stop();
    for (const channel of channels) channel.close();
    await settleLibp2p();
  }
}, { strategies: ["eager"] });
