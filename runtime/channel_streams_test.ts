import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import {
  fromReadableStream,
  pumpReadableStream,
  toReadableStream,
  toWritableStream,
} from "./channel_streams.ts";
import { checkpoint } from "./checkpoint.ts";
import { BrokenResourceError, CancelledError, ClosedResourceError, EndOfStream } from "./errors.ts";
import { createMemoryChannel, type MemorySendChannel } from "./memory_channel.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";
import { until } from "../tests/_async.ts";

/** A source that counts how often the stream pulled from it. */
function countingSource(count: number): { stream: ReadableStream<number>; pulls: () => number } {
  let next = 0;
  const stream = new ReadableStream<number>({
    pull(controller) {
      if (next === count) controller.close();
      else controller.enqueue(next++);
    },
  }, { highWaterMark: 0 });
  return { stream, pulls: () => next };
}

testEachStrategy("toReadableStream yields the values in order and ends", async () => {
  const [send, receive] = createMemoryChannel<number>(4);
  for (let i = 0; i < 4; i++) send.sendNowait(i);
  send.close();
  const stream = toReadableStream(receive);
  assert.deepEqual(await Array.fromAsync(stream), [0, 1, 2, 3]);
  assert.equal(receive.closed, true, "the stream closed its clone at the end");
});

testEachStrategy("toReadableStream takes a value only when the reader asks", async () => {
  const [send, receive] = createMemoryChannel<number>(2);
  send.sendNowait(1);
  send.sendNowait(2);
  const reader = toReadableStream(receive).getReader();
  for (let i = 0; i < 20; i++) await checkpoint();
  assert.equal(send.statistics().currentBufferUsed, 2, "nothing prefetched");
  assert.deepEqual(await reader.read(), { done: false, value: 1 });
  for (let i = 0; i < 20; i++) await checkpoint();
  assert.equal(send.statistics().currentBufferUsed, 1);
  reader.releaseLock();
  send.close();
  receive.close();
});

testEachStrategy(
  "a producer stays within the channel's buffer of a slow stream reader",
  async () => {
    for (const size of [0, 1, 8]) {
      const [send, receive] = createMemoryChannel<number>(size);
      let sent = 0;
      let read = 0;
      let maxAhead = 0;
      await taskGroup((tg) => {
        tg.spawn(async () => {
          using _ = send;
          for (let i = 0; i < 50; i++) {
            await send.send(i);
            sent++;
            maxAhead = Math.max(maxAhead, sent - read);
          }
        });
        tg.spawn(async () => {
          for await (const value of toReadableStream(receive)) {
            assert.equal(value, read);
            read++;
            for (let i = 0; i < 5; i++) await checkpoint(); // a slow reader
          }
        });
      });
      assert.equal(read, 50);
      // In flight: the buffer, plus the one value a pending read has taken.
      assert.ok(maxAhead <= size + 1, `size ${size}: producer ran ${maxAhead} ahead`);
      assert.ok(maxAhead >= size, `size ${size}: the buffer was used (${maxAhead})`);
    }
  },
);

testEachStrategy("cancelling the readable stream closes the receive end", async () => {
  const [send, receive] = createMemoryChannel<number>(0);
  const reader = toReadableStream(receive).getReader();
  await taskGroup(async (tg) => {
    let result: ReadableStreamReadResult<number> | undefined;
    tg.spawn(async () => (result = await reader.read()));
    await until(() => send.statistics().tasksWaitingReceive === 1, "the pull to block");
    await reader.cancel("enough");
    await until(() => result !== undefined, "the pending read to end");
    assert.deepEqual(result, { done: true, value: undefined });
  });
  assert.equal(receive.closed, true);
  assert.equal(send.statistics().tasksWaitingReceive, 0);
  await assert.rejects(send.send(1), BrokenResourceError);
  send.close();
});

testEachStrategy("a cancelled reader errors the readable stream; no value is lost", async () => {
  const [send, receive] = createMemoryChannel<number>(1);
  const keep = receive.clone();
  const stream = toReadableStream(receive);
  const reader = stream.getReader();
  const scope = new CancelScope();
  await taskGroup(async (tg) => {
    tg.spawn(() => scope.run(() => reader.read()));
    await until(() => send.statistics().tasksWaitingReceive === 1, "the pull to block");
    scope.cancel();
  });
  assert.equal(scope.cancelledCaught, true, "the read failed with CancelledError");
  await assert.rejects(reader.read(), CancelledError, "the stream is errored");
  assert.equal(receive.closed, true);
  send.sendNowait(5);
  assert.equal(keep.receiveNowait(), 5);
  send.close();
  keep.close();
});

testEachStrategy("toWritableStream sends each chunk and holds the writer back", async () => {
  const [send, receive] = createMemoryChannel<number>(1);
  const writer = toWritableStream(send).getWriter();
  await writer.write(1);
  let secondDone = false;
  const second = writer.write(2).then(() => (secondDone = true));
  await until(() => send.statistics().tasksWaitingSend === 1, "the second write to block");
  for (let i = 0; i < 20; i++) await checkpoint();
  assert.equal(secondDone, false);
  assert.equal(await receive.receive(), 1);
  await second;
  await writer.close();
  assert.equal(send.closed, true);
  assert.equal(await receive.receive(), 2);
  await assert.rejects(receive.receive(), EndOfStream);
  receive.close();
});

testEachStrategy("aborting the writable stream closes the send end", async () => {
  const [send, receive] = createMemoryChannel<number>(4);
  const writer = toWritableStream(send).getWriter();
  await writer.write(1);
  await writer.abort(new Error("stop"));
  assert.equal(send.closed, true);
  assert.equal(receive.receiveNowait(), 1);
  await assert.rejects(receive.receive(), EndOfStream);
  receive.close();
});

testEachStrategy("a write to a channel without receivers errors the stream", async () => {
  const [send, receive] = createMemoryChannel<number>(0);
  const writer = toWritableStream(send).getWriter();
  receive.close();
  await assert.rejects(writer.write(1), BrokenResourceError);
  await assert.rejects(writer.closed, BrokenResourceError);
  assert.equal(send.closed, true);
});

testEachStrategy("Web Streams round trip through a channel of every size", async () => {
  for (const size of [0, 1, 64, Infinity]) {
    const [send, receive] = createMemoryChannel<string>(size);
    const input = Array.from({ length: 200 }, (_, i) => `chunk ${i}`);
    let output: string[] = [];
    await taskGroup((tg) => {
      tg.spawn(() => ReadableStream.from(input).pipeTo(toWritableStream(send)));
      tg.spawn(async () => (output = await Array.fromAsync(toReadableStream(receive))));
    });
    assert.deepEqual(output, input, `size ${size}`);
    assert.equal(send.closed && receive.closed, true);
  }
});

testEachStrategy("pumpReadableStream reads only as fast as the channel drains", async () => {
  const { stream, pulls } = countingSource(100);
  const [send, receive] = createMemoryChannel<number>(4);
  let received = 0;
  let maxAhead = 0;
  await taskGroup((tg) => {
    tg.spawn(() => pumpReadableStream(stream, send));
    tg.spawn(async () => {
      using _ = receive;
      for await (const value of receive) {
        assert.equal(value, received++);
        maxAhead = Math.max(maxAhead, pulls() - received);
        await sleep(0);
      }
    });
  });
  assert.equal(received, 100);
  assert.equal(send.closed, true);
  // The buffer, one blocked send and the chunk being read.
  assert.ok(maxAhead <= 4 + 2, `the pump read ${maxAhead} ahead`);
});

testEachStrategy("pumpReadableStream stops and cancels the source when receivers go", async () => {
  let cancelReason: unknown;
  let next = 0;
  const stream = new ReadableStream<number>({
    pull: (controller) => controller.enqueue(next++),
    cancel: (reason) => {
      cancelReason = reason;
    },
  }, { highWaterMark: 0 });
  const [send, receive] = createMemoryChannel<number>(0);
  const got: number[] = [];
  await taskGroup((tg) => {
    tg.spawn(() => pumpReadableStream(stream, send));
    tg.spawn(async () => {
      using _ = receive;
      for await (const value of receive) {
        got.push(value);
        if (got.length === 3) break;
      }
    });
  });
  assert.deepEqual(got, [0, 1, 2]);
  assert.ok(cancelReason instanceof BrokenResourceError);
  assert.equal(send.closed, true);
  assert.equal(stream.locked, false);
});

testEachStrategy("a cancelled pump cancels the stream even while waiting to read", async () => {
  let cancelled = false;
  const never = new ReadableStream<number>({
    pull: () => new Promise<void>(() => {}), // a source that never produces
    cancel: () => {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  const [send, receive] = createMemoryChannel<number>(0);
  const result = await moveOnAfter(10, async () => {
    await pumpReadableStream(never, send);
    return "finished";
  });
  assert.equal(result, undefined);
  assert.equal(cancelled, true);
  assert.equal(send.closed, true);
  await assert.rejects(receive.receive(), EndOfStream);
  receive.close();
}, { virtualClock: 0 });

testEachStrategy("a failing source fails the pump", async () => {
  const failing = new ReadableStream<number>({
    start(controller) {
      controller.enqueue(1);
      controller.error(new URIError("source broke"));
    },
  });
  const [send, receive] = createMemoryChannel<number>(4);
  await assert.rejects(pumpReadableStream(failing, send), URIError);
  assert.equal(send.closed, true);
  await assert.rejects(receive.receive(), EndOfStream, "a failed read delivers nothing");
  receive.close();
});

testEachStrategy("fromReadableStream feeds a channel from a task", async () => {
  for (const size of [0, 3, Infinity]) {
    const values: number[] = [];
    await taskGroup(async (tg) => {
      using receive = fromReadableStream(tg, ReadableStream.from([1, 2, 3, 4, 5]), size);
      assert.equal(receive.statistics().maxBufferSize, size);
      for await (const value of receive) values.push(value);
    });
    assert.deepEqual(values, [1, 2, 3, 4, 5]);
  }
  // Closing the receive end early stops the pump; the group ends cleanly.
  const { stream, pulls } = countingSource(1_000);
  await taskGroup(async (tg) => {
    using receive = fromReadableStream(tg, stream);
    assert.equal(await receive.receive(), 0);
  });
  assert.ok(pulls() < 10, `read ${pulls()} chunks`);
});

testEachStrategy("stream conversions reject bad arguments", async () => {
  assert.throws(() => toReadableStream({} as never), TypeError);
  assert.throws(() => toWritableStream(null as never), TypeError);
  const [send, receive] = createMemoryChannel<number>(0);
  await assert.rejects(
    pumpReadableStream("not a stream" as unknown as ReadableStream<number>, send),
    TypeError,
  );
  assert.equal(send.closed, true, "the pump owns the send end");
  await taskGroup((tg) => {
    assert.throws(() => fromReadableStream(tg, [1, 2] as never), TypeError);
    assert.throws(() => fromReadableStream(tg, ReadableStream.from([1]), -1), RangeError);
  });
  receive.close();
  const [send2, receive2] = createMemoryChannel<number>(0);
  send2.close();
  await assert.rejects(
    pumpReadableStream(ReadableStream.from([1]), send2 as MemorySendChannel<number>),
    ClosedResourceError,
  );
  receive2.close();
});
