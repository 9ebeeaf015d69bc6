// The streaming manager: its connections listed with their statistics,
// closed all at once; and the sender's own limit on streams, refused with
// the limit's message.

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { eventually } from "../tests/_async.ts";
import { readAll, seededBytes } from "../tests/_bytes.ts";
import { withWebRtc } from "../tests/_webrtc.ts";
import { WebRtcLimitError } from "./errors.ts";
import { connectWebRtc } from "./signaling_client.ts";
import { TaskGroup } from "../runtime/task_group.ts";

testEachStrategy(
  "connections are listed with their statistics, and closed all at once",
  async () => {
    await withWebRtc(async ({ node, manager, server, connection }) => {
      await using second = await connectWebRtc(server.url, { bindAddress: "127.0.0.1" });
      const data = seededBytes(600_000, 1);
      const { cid } = await node.add(data, { cidVersion: 1 });
      assert.equal((await readAll(connection.open(cid))).length, data.length);
      await eventually(() => connection.stats().rttMs !== null, "a ping to come back");
      const ids = manager.connections().map((stats) => stats.id).sort();
      assert.deepEqual(ids, [connection.id, second.id].sort());
      const served = manager.connection(connection.id)!.stats();
      assert.equal(served.connectionState, "connected");
      assert.equal(served.iceConnectionState, "connected");
      assert.equal(served.dtlsState, "connected");
      assert.equal(served.iceGatheringState, "complete");
      assert(served.connectMs !== null && served.connectMs >= 0);
      assert(served.iceGatheringMs !== null && served.iceGatheringMs >= 0);
      assert.equal(served.blocksSent, 4); // the root and three leaves of 256 KiB
      assert.equal(served.bytesSent, connection.stats().bytesVerified);
      assert(served.timeToFirstBlockMs !== null && served.sendThroughput > 0);
      assert(served.candidatePair?.local.includes("127.0.0.1"));
      const read = connection.stats();
      assert.equal(read.blocksVerified, 4);
      assert.equal(read.bytesDelivered, data.length);
      assert(read.rttMs !== null && read.rttMs >= 0 && read.rttMs < 1000);
      await manager.closeAll("maintenance");
      assert.deepEqual(manager.connections(), []);
      await eventually(() => connection.closed && second.closed, "both clients to see the end");
      assert.match(connection.closeReason, /maintenance|closed/);
    });
  },
);

testEachStrategy("a sender refuses streams past its own limit", async () => {
  await withWebRtc(async ({ node, connection }) => {
    const { cid } = await node.add(seededBytes(2_000_000, 2), { cidVersion: 1 });
    // The reader may open 3; the sender serves 2 at once.
    const readers = [0, 1, 2].map(() => connection.open(cid).getReader());
    const firsts = await Promise.allSettled(readers.map((reader) => reader.read()));
    const refused = firsts.filter((result) => result.status === "rejected");
    assert.equal(refused.length, 1);
    const error = (refused[0] as PromiseRejectedResult).reason;
    assert(error instanceof WebRtcLimitError, String(error));
    assert.match(error.message, /Cannot open stream: limit of 2 streams per connection reached/);
    for (const reader of readers) await reader.cancel().catch(() => {});
  }, { manager: { maxStreams: 2 }, client: { maxStreams: 3 } });
});

testEachStrategy(
  "accept() runs a session on a Web WebSocket of a server of one's own",
  async () => {
    await withWebRtc(async ({ node, manager }) => {
      const { cid } = await node.add("over Deno.serve");
      await using group = new TaskGroup();
      await using server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        (request) => {
          const { socket, response } = Deno.upgradeWebSocket(request);
          group.spawn(() => manager.accept(socket));
          return response;
        },
      );
      {
        await using connection = await connectWebRtc(`ws://127.0.0.1:${server.addr.port}/`, {
          bindAddress: "127.0.0.1",
        });
        assert.equal(
          new TextDecoder().decode(await readAll(connection.open(cid))),
          "over Deno.serve",
        );
        assert.equal(manager.size, 2); // the fixture's client, and this one
      }
      await eventually(() => manager.size === 1, "the session to end");
    });
  },
);
