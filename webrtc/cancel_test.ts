// Cancellation from either end, and peers that go away mid-stream: the
// sender stops within 50 ms, the reader gets a typed error, nothing leaks
// (the sanitizers are on).

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { eventually, rejection } from "../tests/_async.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { slow } from "../tests/_slow_store.ts";
import { withWebRtc } from "../tests/_webrtc.ts";
import type { WebRtcConnection } from "./connection.ts";
import { StreamClosedError } from "./errors.ts";
import type { StreamingManager } from "./streaming_manager.ts";

const MIB = 1024 * 1024;

function sending(manager: StreamingManager): number {
  return manager.connections().reduce((sum, stats) => sum + stats.streams.sending, 0);
}

/** Reads the first chunk of a stream of a big file, so that the sender is busy. */
async function startReading(connection: WebRtcConnection, cid: string) {
  const reader = connection.open(cid, { window: 256 * 1024 }).getReader();
  const first = await reader.read();
  assert(!first.done && first.value.length > 0);
  return reader;
}

testEachStrategy("cancelling the reader stops the sender within 50 ms", async () => {
  await withWebRtc(async ({ node, manager, connection }) => {
    const { cid } = await node.add(randomBytes(32 * MIB), { cidVersion: 1 });
    const reader = await startReading(connection, cid.toString());
    await eventually(() => sending(manager) === 1, "the sender to be serving");
    const started = performance.now();
    await reader.cancel();
    await eventually(() => sending(manager) === 0, "the sender to stop", {
      stepMs: 1,
      limitMs: 2000,
    });
    const stoppedMs = performance.now() - started;
    assert(stoppedMs < 50, `the sender stopped after ${stoppedMs.toFixed(1)} ms`);
    assert.equal(connection.streams().length, 0);
    const stats = manager.connection(connection.id)!.stats();
    assert(stats.bytesSent < 32 * MIB, "the sender did not send the whole file");
  });
});

testEachStrategy("a store read in flight is cancelled when the reader aborts", async () => {
  let store: ReturnType<typeof slow> | undefined;
  await withWebRtc(async ({ node, manager, connection }) => {
    const { cid } = await node.add(randomBytes(4 * MIB), { cidVersion: 1 });
    const root = (await node.dag.get(cid)).value as { Links: { Hash: { toString(): string } }[] };
    store!.held.add(root.Links[1].Hash.toString()); // the second leaf's read waits
    const controller = new AbortController();
    const reading = rejection(
      new Response(connection.open(cid, { signal: controller.signal })).bytes(),
    );
    await eventually(() => store!.calls === 3, "the sender to wait for the second leaf");
    const started = performance.now();
    controller.abort(new DOMException("enough", "AbortError"));
    assert.equal(((await reading) as Error).name, "AbortError");
    await eventually(
      () => store!.cancelled === 1 && sending(manager) === 0,
      "the read to be cancelled",
      {
        stepMs: 1,
      },
    );
    const stoppedMs = performance.now() - started;
    assert(stoppedMs < 50, `the sender stopped after ${stoppedMs.toFixed(1)} ms`);
    assert.equal(store!.calls, 3, "no read after the cancellation");
  }, {
    store: (node) => {
      store = slow(node, 0);
      return store.store;
    },
  });
});

testEachStrategy(
  "the sender closing a stream fails the reader with StreamClosedError",
  async () => {
    await withWebRtc(async ({ node, manager, connection }) => {
      const { cid } = await node.add(randomBytes(32 * MIB));
      const reader = await startReading(connection, cid.toString());
      await eventually(() => sending(manager) === 1, "the sender to be serving");
      const serverEnd = manager.connection(connection.id)!;
      const [stream] = serverEnd.streams();
      assert.equal(stream.direction, "sending");
      assert.equal(stream.cid, cid.toString());
      const started = performance.now();
      assert(serverEnd.closeStream(stream.id));
      await eventually(() => sending(manager) === 0, "the sender to stop", { stepMs: 1 });
      assert(performance.now() - started < 50);
      const error = await rejection((async () => {
        for (;;) if ((await reader.read()).done) return;
      })());
      assert(error instanceof StreamClosedError, String(error));
      assert.match(error.message, /closed it before its end/);
      assert(!serverEnd.closeStream(stream.id));
    });
  },
);

testEachStrategy("a client that closes mid-stream: the server ends its connection", async () => {
  await withWebRtc(async ({ node, manager, connection }) => {
    const { cid } = await node.add(randomBytes(32 * MIB));
    const reader = await startReading(connection, cid.toString());
    await eventually(() => sending(manager) === 1, "the sender to be serving");
    await connection.close("bye");
    assert(connection.closed);
    assert(await rejection(reader.read()) instanceof StreamClosedError);
    assert.throws(() => connection.open(cid), StreamClosedError);
    await eventually(() => manager.size === 0, "the server to end the connection", {
      limitMs: 5000,
    });
  });
});

testEachStrategy(
  "a server that closes mid-stream: the client's read fails, its connection ends",
  async () => {
    await withWebRtc(async ({ node, manager, connection }) => {
      const { cid } = await node.add(randomBytes(32 * MIB));
      const reader = await startReading(connection, cid.toString());
      assert(await manager.closeConnection(connection.id, "maintenance"));
      assert.equal(manager.size, 0);
      assert(
        await rejection((async () => {
          for (;;) if ((await reader.read()).done) return;
        })()) instanceof StreamClosedError,
      );
      await eventually(() => connection.closed, "the client's connection to end", {
        limitMs: 5000,
      });
      assert(!(await manager.closeConnection(connection.id)));
    });
  },
);
