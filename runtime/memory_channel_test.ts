import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { checkpoint } from "./checkpoint.ts";
import {
  BrokenResourceError,
  CancelledError,
  ClosedResourceError,
  EndOfStream,
  WouldBlock,
} from "./errors.ts";
import {
  createMemoryChannel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
} from "./memory_channel.ts";
import { runtimeStats } from "./run.ts";
import { sleep } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { moveOnAfter } from "./timeouts.ts";
import { until } from "../tests/_async.ts";

const SIZES = [0, 1, 64, Infinity];

function waitingSend(channel: MemorySendChannel<unknown> | MemoryReceiveChannel<unknown>) {
  return channel.statistics().tasksWaitingSend;
}

function waitingReceive(channel: MemorySendChannel<unknown> | MemoryReceiveChannel<unknown>) {
  return channel.statistics().tasksWaitingReceive;
}

testEachStrategy("createMemoryChannel validates maxBufferSize", () => {
  for (const bad of [-1, 1.5, NaN, -Infinity]) {
    assert.throws(() => createMemoryChannel(bad), RangeError, String(bad));
  }
  for (const bad of ["4", undefined, null, 4n]) {
    assert.throws(() => createMemoryChannel(bad as unknown as number), TypeError, String(bad));
  }
  for (const size of SIZES) {
    const [send, receive] = createMemoryChannel<number>(size);
    assert.equal(send.statistics().maxBufferSize, size);
    send.close();
    receive.close();
  }
});

testEachStrategy("values arrive once each, in FIFO order, for every buffer size", async () => {
  for (const size of SIZES) {
    const [send, receive] = createMemoryChannel<number>(size);
    const seen: number[] = [];
    await taskGroup((tg) => {
      tg.spawn(async () => {
        using _ = send;
        for (let i = 0; i < 300; i++) await send.send(i);
      });
      tg.spawn(async () => {
        using _ = receive;
        for await (const value of receive) seen.push(value);
      });
    });
    assert.deepEqual(seen, Array.from({ length: 300 }, (_, i) => i), `size ${size}`);
  }
});

testEachStrategy("the buffer holds exactly maxBufferSize values", () => {
  for (const size of [1, 5, 64]) {
    const [send, receive] = createMemoryChannel<number>(size);
    for (let i = 0; i < size; i++) send.sendNowait(i);
    assert.throws(() => send.sendNowait(size), WouldBlock);
    assert.equal(send.statistics().currentBufferUsed, size);
    assert.equal(receive.receiveNowait(), 0);
    send.sendNowait(size); // room for one again
    assert.throws(() => send.sendNowait(size + 1), WouldBlock);
    for (let i = 1; i <= size; i++) assert.equal(receive.receiveNowait(), i);
    assert.throws(() => receive.receiveNowait(), WouldBlock);
    send.close();
    receive.close();
  }
  const [send, receive] = createMemoryChannel<number>(Infinity);
  for (let i = 0; i < 10_000; i++) send.sendNowait(i);
  assert.equal(receive.statistics().currentBufferUsed, 10_000);
  for (let i = 0; i < 10_000; i++) assert.equal(receive.receiveNowait(), i);
  send.close();
  receive.close();
});

testEachStrategy("the ring buffer keeps order across wrap-around and growth", () => {
  const [send, receive] = createMemoryChannel<number>(100);
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 200; round++) {
    const put = 1 + (round * 37) % 100;
    for (let i = 0; i < put && send.statistics().currentBufferUsed < 100; i++) {
      send.sendNowait(next++);
    }
    const take = 1 + (round * 53) % 90;
    for (let i = 0; i < take && receive.statistics().currentBufferUsed > 0; i++) {
      assert.equal(receive.receiveNowait(), expected++);
    }
  }
  while (receive.statistics().currentBufferUsed > 0) {
    assert.equal(receive.receiveNowait(), expected++);
  }
  assert.equal(expected, next);
  send.close();
  receive.close();
});

testEachStrategy("a rendezvous send waits for a receiver", async () => {
  const [send, receive] = createMemoryChannel<string>(0);
  assert.throws(() => send.sendNowait("x"), WouldBlock);
  let delivered = false;
  await taskGroup(async (tg) => {
    tg.spawn(async () => {
      await send.send("hello");
      delivered = true;
    });
    await until(() => waitingSend(send) === 1, "the sender to block");
    for (let i = 0; i < 20; i++) await checkpoint();
    assert.equal(delivered, false);
    assert.equal(send.statistics().currentBufferUsed, 0);
    assert.equal(receive.receiveNowait(), "hello");
    assert.equal(waitingSend(send), 0);
  });
  assert.equal(delivered, true);
  // A blocked receiver takes a non-waiting send directly.
  await taskGroup(async (tg) => {
    let got: string | undefined;
    tg.spawn(async () => {
      got = await receive.receive();
    });
    await until(() => waitingReceive(receive) === 1, "the receiver to block");
    send.sendNowait("direct");
    assert.equal(send.statistics().currentBufferUsed, 0);
    await until(() => got !== undefined, "the receiver to wake");
    assert.equal(got, "direct");
  });
  send.close();
  receive.close();
});

testEachStrategy("blocked senders are served in the order they blocked", async () => {
  const [send, receive] = createMemoryChannel<number>(1);
  send.sendNowait(0);
  const done: number[] = [];
  await taskGroup(async (tg) => {
    for (const value of [1, 2, 3]) {
      tg.spawn(async () => {
        await send.send(value);
        done.push(value);
      });
      await until(() => waitingSend(send) === value, `sender ${value} to block`);
    }
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push(await receive.receive());
    assert.deepEqual(got, [0, 1, 2, 3]);
  });
  assert.deepEqual(done, [1, 2, 3]);
  send.close();
  receive.close();
});

testEachStrategy("blocked receivers are served in the order they blocked", async () => {
  const [send, receive] = createMemoryChannel<number>(4);
  const got: string[] = [];
  await taskGroup(async (tg) => {
    for (const [i, name] of ["a", "b", "c"].entries()) {
      tg.spawn(async () => got.push(`${name}${await receive.receive()}`));
      await until(() => waitingReceive(receive) === i + 1, name);
    }
    for (let i = 1; i <= 3; i++) await send.send(i);
  });
  assert.deepEqual(got.sort(), ["a1", "b2", "c3"]);
  send.close();
  receive.close();
});

testEachStrategy("closing the last send clone: receivers drain, then EndOfStream", async () => {
  const [send, receive] = createMemoryChannel<number>(4);
  const other = send.clone();
  assert.equal(send.statistics().openSendChannels, 2);
  await send.send(1);
  await other.send(2);
  send.close();
  assert.equal(receive.statistics().openSendChannels, 1);
  assert.equal(await receive.receive(), 1);
  assert.equal(await receive.receive(), 2);
  assert.throws(() => receive.receiveNowait(), WouldBlock, "one sender is still open");
  await other.send(3);
  other.close();
  assert.equal(receive.receiveNowait(), 3);
  await assert.rejects(receive.receive(), EndOfStream);
  await assert.rejects(receive.receive(), EndOfStream, "EndOfStream is sticky");
  assert.throws(() => receive.receiveNowait(), EndOfStream);
  assert.deepEqual(await Array.fromAsync(receive), []);
  receive.close();
});

testEachStrategy("closing the last send clone wakes every blocked receiver", async () => {
  const [send, receive] = createMemoryChannel<number>(0);
  const other = receive.clone();
  const outcomes: unknown[] = [];
  await taskGroup(async (tg) => {
    for (const end of [receive, other, receive]) {
      tg.spawn(() => end.receive().catch((error) => outcomes.push(error)));
    }
    tg.spawn(async () => {
      for await (const _ of other) outcomes.push("value");
      outcomes.push("iteration ended");
    });
    await until(() => waitingReceive(send) === 4, "four receivers to block");
    send.close();
  });
  assert.equal(outcomes.length, 4);
  assert.equal(outcomes.filter((e) => e instanceof EndOfStream).length, 3);
  assert.ok(outcomes.includes("iteration ended"));
  assert.equal(waitingReceive(receive), 0);
  receive.close();
  other.close();
});

testEachStrategy("closing the last receive clone breaks senders and drops the buffer", async () => {
  const [send, receive] = createMemoryChannel<number>(2);
  const otherSend = send.clone();
  const otherReceive = receive.clone();
  send.sendNowait(1);
  send.sendNowait(2);
  const errors: unknown[] = [];
  await taskGroup(async (tg) => {
    for (const [end, value] of [[send, 3], [otherSend, 4], [send, 5]] as const) {
      tg.spawn(() => end.send(value).catch((error) => errors.push(error)));
    }
    await until(() => waitingSend(send) === 3, "three senders to block");
    receive.close(); // not the last receive clone: nothing happens to senders
    for (let i = 0; i < 20; i++) await checkpoint();
    assert.equal(waitingSend(send), 3);
    assert.equal(send.statistics().openReceiveChannels, 1);
    otherReceive.close();
  });
  assert.equal(errors.length, 3);
  assert.ok(errors.every((e) => e instanceof BrokenResourceError));
  const stats = send.statistics();
  assert.equal(stats.currentBufferUsed, 0);
  assert.equal(stats.tasksWaitingSend, 0);
  assert.equal(stats.openReceiveChannels, 0);
  await assert.rejects(send.send(6), BrokenResourceError);
  assert.throws(() => otherSend.sendNowait(7), BrokenResourceError);
  send.close();
  otherSend.close();
});

testEachStrategy("closing a clone wakes only the tasks blocked on that clone", async () => {
  // Senders.
  {
    const [send, receive] = createMemoryChannel<string>(0);
    const other = send.clone();
    let mine: unknown;
    let theirs: unknown = "pending";
    await taskGroup(async (tg) => {
      tg.spawn(() => send.send("mine").catch((error) => (mine = error)));
      tg.spawn(async () => {
        await other.send("theirs");
        theirs = "sent";
      });
      await until(() => waitingSend(send) === 2, "two senders to block");
      send.close();
      await until(() => mine !== undefined, "the closed clone's sender to wake");
      assert.ok(mine instanceof ClosedResourceError);
      assert.equal(waitingSend(other), 1);
      assert.equal(theirs, "pending");
      assert.equal(receive.receiveNowait(), "theirs", "the closed clone's value is gone");
    });
    assert.equal(theirs, "sent");
    other.close();
    receive.close();
  }
  // Receivers.
  {
    const [send, receive] = createMemoryChannel<string>(0);
    const other = receive.clone();
    let mine: unknown;
    let theirs: unknown;
    await taskGroup(async (tg) => {
      tg.spawn(() => receive.receive().catch((error) => (mine = error)));
      tg.spawn(async () => (theirs = await other.receive()));
      await until(() => waitingReceive(send) === 2, "two receivers to block");
      receive.close();
      await until(() => mine !== undefined, "the closed clone's receiver to wake");
      assert.ok(mine instanceof ClosedResourceError);
      assert.equal(waitingReceive(send), 1);
      send.sendNowait("value");
    });
    assert.equal(theirs, "value");
    send.close();
    other.close();
  }
});

testEachStrategy(
  "closing both ends while tasks are blocked on both wakes each with the right error",
  async () => {
    // The hard case: a rendezvous channel with blocked senders on one
    // clone pair and blocked receivers on another, then everything is closed.
    const [sendA, receiveA] = createMemoryChannel<number>(0);
    const [sendB, receiveB] = createMemoryChannel<number>(1);
    sendB.sendNowait(0);
    const sendB2 = sendB.clone();
    const receiveA2 = receiveA.clone();
    const outcomes = new Map<string, unknown>();
    const record = (name: string, promise: Promise<unknown>) =>
      promise.then(
        (value) => outcomes.set(name, value),
        (error) => outcomes.set(name, error),
      );
    await taskGroup(async (tg) => {
      tg.spawn(() => record("receiveA", receiveA.receive()));
      tg.spawn(() => record("receiveA2", receiveA2.receive()));
      tg.spawn(() => record("sendB", sendB.send(1)));
      tg.spawn(() => record("sendB2", sendB2.send(2)));
      await until(
        () => waitingReceive(receiveA) === 2 && waitingSend(sendB) === 2,
        "every task to block",
      );
      // Close the clone one of the receivers uses, then the last sender.
      receiveA.close();
      sendA.close();
      // Close a blocked sender's own clone, then the only receiver.
      sendB.close();
      receiveB.close();
    });
    assert.ok(outcomes.get("receiveA") instanceof ClosedResourceError);
    assert.ok(outcomes.get("receiveA2") instanceof EndOfStream);
    assert.ok(outcomes.get("sendB") instanceof ClosedResourceError);
    assert.ok(outcomes.get("sendB2") instanceof BrokenResourceError);
    assert.equal(sendB2.statistics().currentBufferUsed, 0);
    receiveA2.close();
    sendB2.close();
  },
);

testEachStrategy("a closed clone throws ClosedResourceError everywhere", async () => {
  const [send, receive] = createMemoryChannel<number>(1);
  const keepSend = send.clone();
  const keepReceive = receive.clone();
  send.close();
  send.close(); // idempotent
  receive[Symbol.dispose]();
  assert.equal(send.closed, true);
  assert.equal(receive.closed, true);
  await assert.rejects(send.send(1), ClosedResourceError);
  assert.throws(() => send.sendNowait(1), ClosedResourceError);
  assert.throws(() => send.clone(), ClosedResourceError);
  await assert.rejects(receive.receive(), ClosedResourceError);
  assert.throws(() => receive.receiveNowait(), ClosedResourceError);
  assert.throws(() => receive.clone(), ClosedResourceError);
  await assert.rejects(Array.fromAsync(receive), ClosedResourceError);
  const stats = keepSend.statistics();
  assert.equal(stats.openSendChannels, 1);
  assert.equal(stats.openReceiveChannels, 1);
  keepSend.sendNowait(5);
  assert.equal(keepReceive.receiveNowait(), 5);
  {
    using clone = keepSend.clone();
    assert.equal(clone.statistics().openSendChannels, 2);
  }
  assert.equal(keepSend.statistics().openSendChannels, 1);
  keepSend.close();
  keepReceive.close();
});

testEachStrategy("send and receive are checkpoints", async () => {
  const [send, receive] = createMemoryChannel<number>(4);
  const before = runtimeStats().checkpoints;
  await send.send(1);
  assert.equal(await receive.receive(), 1);
  assert.equal(runtimeStats().checkpoints, before + 2);
  send.sendNowait(2);
  assert.equal(receive.receiveNowait(), 2);
  assert.equal(runtimeStats().checkpoints, before + 2, "nowait variants are not checkpoints");

  const scope = new CancelScope();
  await scope.run(async () => {
    scope.cancel();
    await assert.rejects(send.send(3), CancelledError);
    assert.equal(send.statistics().currentBufferUsed, 0, "a cancelled send delivers nothing");
    send.sendNowait(4);
    await assert.rejects(receive.receive(), CancelledError);
    await assert.rejects(receive[Symbol.asyncIterator]().next(), CancelledError);
    assert.equal(send.statistics().currentBufferUsed, 1, "a cancelled receive takes nothing");
  });
  assert.equal(receive.receiveNowait(), 4);
  send.close();
  receive.close();
});

testEachStrategy("a cancelled blocked send never delivers its value", async () => {
  for (const size of [0, 1, 64]) {
    const [send, receive] = createMemoryChannel<string>(size);
    const filler: string[] = [];
    for (let i = 0; i < size; i++) {
      send.sendNowait(`fill${i}`);
      filler.push(`fill${i}`);
    }
    const scope = new CancelScope();
    const sent: string[] = [];
    await taskGroup(async (tg) => {
      const start = (value: string, count: number) => {
        tg.spawn(async () => {
          await send.send(value);
          sent.push(value);
        });
        return until(() => waitingSend(send) === count, value);
      };
      await start("a", 1);
      tg.spawn(() =>
        scope.run(async () => {
          await send.send("b");
          sent.push("b");
        })
      );
      await until(() => waitingSend(send) === 2, "b");
      await start("c", 3);
      scope.cancel();
      assert.equal(waitingSend(send), 2);
      const got: string[] = [];
      for (let i = 0; i < size + 2; i++) got.push(await receive.receive());
      assert.deepEqual(got, [...filler, "a", "c"], `size ${size}`);
      assert.throws(() => receive.receiveNowait(), WouldBlock);
    });
    assert.deepEqual(sent.sort(), ["a", "c"]);
    assert.equal(scope.cancelledCaught, true);
    send.close();
    receive.close();
  }
});

testEachStrategy("a cancelled blocked receive never consumes a value", async () => {
  for (const size of [0, 1]) {
    const [send, receive] = createMemoryChannel<number>(size);
    const scope = new CancelScope();
    const got: string[] = [];
    await taskGroup(async (tg) => {
      tg.spawn(async () => got.push(`a${await receive.receive()}`));
      await until(() => waitingReceive(send) === 1, "a");
      tg.spawn(() => scope.run(async () => got.push(`b${await receive.receive()}`)));
      await until(() => waitingReceive(send) === 2, "b");
      tg.spawn(async () => {
        for await (const value of receive) {
          got.push(`c${value}`);
          break;
        }
      });
      await until(() => waitingReceive(send) === 3, "c");
      scope.cancel();
      assert.equal(waitingReceive(send), 2);
      await send.send(1);
      await send.send(2);
    });
    assert.deepEqual(got.sort(), ["a1", "c2"], `size ${size}`);
    // With nobody but the cancelled receiver left, a rendezvous send cannot hand off.
    if (size === 0) assert.throws(() => send.sendNowait(3), WouldBlock);
    send.close();
    receive.close();
  }
});

testEachStrategy("a woken task keeps what it was given even if cancelled at once", async () => {
  const [send, receive] = createMemoryChannel<number>(0);
  const receiverScope = new CancelScope();
  const senderScope = new CancelScope();
  let got: number | undefined;
  let sent = false;
  await taskGroup(async (tg) => {
    tg.spawn(() => receiverScope.run(async () => (got = await receive.receive())));
    await until(() => waitingReceive(send) === 1, "the receiver to block");
    send.sendNowait(7);
    receiverScope.cancel(); // too late: the value was handed over
    tg.spawn(() =>
      senderScope.run(async () => {
        await send.send(8);
        sent = true;
      })
    );
    await until(() => waitingSend(send) === 1, "the sender to block");
    assert.equal(receive.receiveNowait(), 8);
    senderScope.cancel(); // too late: the value was taken
  });
  assert.equal(got, 7);
  assert.equal(sent, true);
  assert.equal(receiverScope.cancelledCaught, false);
  assert.equal(senderScope.cancelledCaught, false);
  send.close();
  receive.close();
});

testEachStrategy("a send that times out delivers nothing", async ({ clock }) => {
  const [send, receive] = createMemoryChannel<number>(0);
  const result = await moveOnAfter(50, async () => {
    await send.send(1);
    return "sent";
  });
  assert.equal(result, undefined);
  assert.equal(clock!.now(), 50);
  assert.equal(waitingSend(send), 0);
  const value = await moveOnAfter(50, () => receive.receive());
  assert.equal(value, undefined);
  assert.equal(waitingReceive(send), 0);
  send.close();
  receive.close();
}, { virtualClock: 0 });

testEachStrategy("many cancelled waiters are swept and never served", async () => {
  const [send, receive] = createMemoryChannel<number>(0);
  // 100 senders, two in three cancelled (enough to make the queue sweep them).
  const scopes: CancelScope[] = [];
  await taskGroup(async (tg) => {
    for (let i = 0; i < 100; i++) {
      const scope = new CancelScope();
      scopes.push(scope);
      tg.spawn(() => scope.run(() => send.send(i)));
    }
    await until(() => waitingSend(send) === 100, "100 senders to block");
    for (let i = 0; i < 100; i++) if (i % 3 !== 0) scopes[i].cancel();
    assert.equal(waitingSend(send), 34);
    for (let i = 0; i < 100; i += 3) assert.equal(receive.receiveNowait(), i);
    assert.throws(() => receive.receiveNowait(), WouldBlock);
  });
  // 100 receivers, all but the last cancelled; then one value.
  const receiverScopes: CancelScope[] = [];
  let got: number | undefined;
  await taskGroup(async (tg) => {
    for (let i = 0; i < 100; i++) {
      const scope = new CancelScope();
      receiverScopes.push(scope);
      tg.spawn(() => scope.run(async () => (got = await receive.receive())));
    }
    await until(() => waitingReceive(send) === 100, "100 receivers to block");
    for (let i = 0; i < 99; i++) receiverScopes[i].cancel();
    assert.equal(waitingReceive(send), 1);
    send.sendNowait(42);
    assert.equal(waitingReceive(send), 0);
  });
  assert.equal(got, 42);
  assert.equal(receiverScopes.filter((s) => s.cancelledCaught).length, 99);
  send.close();
  receive.close();
});

testEachStrategy("a blocked sender's value moves into the buffer as a slot frees", async () => {
  const [send, receive] = createMemoryChannel<number>(2);
  send.sendNowait(1);
  send.sendNowait(2);
  await taskGroup(async (tg) => {
    tg.spawn(() => send.send(3));
    await until(() => waitingSend(send) === 1, "the sender to block");
    assert.equal(receive.receiveNowait(), 1);
    const stats = receive.statistics();
    assert.equal(stats.currentBufferUsed, 2, "3 moved in");
    assert.equal(stats.tasksWaitingSend, 0);
  });
  assert.equal(receive.receiveNowait(), 2);
  assert.equal(receive.receiveNowait(), 3);
  send.close();
  receive.close();
});

testEachStrategy("async iteration ends on EndOfStream; break leaves the clone open", async () => {
  const [send, receive] = createMemoryChannel<number>(8);
  for (let i = 0; i < 6; i++) send.sendNowait(i);
  const first: number[] = [];
  for await (const value of receive) {
    first.push(value);
    if (value === 2) break;
  }
  assert.deepEqual(first, [0, 1, 2]);
  assert.equal(receive.closed, false);
  send.close();
  assert.deepEqual(await Array.fromAsync(receive), [3, 4, 5]);
  const iterator = receive[Symbol.asyncIterator]();
  assert.deepEqual(await iterator.next(), { done: true, value: undefined });
  receive.close();
  await assert.rejects(iterator.next(), ClosedResourceError);
});

testEachStrategy("statistics describe the channel", async () => {
  const [send, receive] = createMemoryChannel<number>(3);
  assert.deepEqual(send.statistics(), {
    currentBufferUsed: 0,
    maxBufferSize: 3,
    openSendChannels: 1,
    openReceiveChannels: 1,
    tasksWaitingSend: 0,
    tasksWaitingReceive: 0,
  });
  const send2 = send.clone();
  const receive2 = receive.clone();
  const receive3 = receive2.clone();
  await taskGroup(async (tg) => {
    tg.spawn(() => receive.receive());
    tg.spawn(() => receive3.receive());
    await until(() => waitingReceive(send) === 2, "receivers to block");
    assert.deepEqual(receive2.statistics(), {
      currentBufferUsed: 0,
      maxBufferSize: 3,
      openSendChannels: 2,
      openReceiveChannels: 3,
      tasksWaitingSend: 0,
      tasksWaitingReceive: 2,
    });
    send.sendNowait(1);
    send.sendNowait(2);
  });
  for (let i = 0; i < 3; i++) send2.sendNowait(i);
  await taskGroup(async (tg) => {
    tg.spawn(() => send2.send(9));
    await until(() => waitingSend(send) === 1, "sender to block");
    assert.deepEqual(receive.statistics(), {
      currentBufferUsed: 3,
      maxBufferSize: 3,
      openSendChannels: 2,
      openReceiveChannels: 3,
      tasksWaitingSend: 1,
      tasksWaitingReceive: 0,
    });
    receive.close();
    receive2.close();
    receive3.close();
  }).catch((error) => {
    // The blocked send fails with BrokenResourceError, failing the group.
    assert.ok(error.errors[0] instanceof BrokenResourceError);
  });
  assert.deepEqual(send.statistics(), {
    currentBufferUsed: 0,
    maxBufferSize: 3,
    openSendChannels: 2,
    openReceiveChannels: 0,
    tasksWaitingSend: 0,
    tasksWaitingReceive: 0,
  });
  send.close();
  send2.close();
  assert.equal(send2.statistics().openSendChannels, 0);
});

testEachStrategy("fan-out and fan-in through clones deliver each value once", async () => {
  for (const size of SIZES) {
    const [send, receive] = createMemoryChannel<number>(size);
    const seen: number[] = [];
    const perConsumer: number[][] = [[], [], []];
    await taskGroup((tg) => {
      for (let p = 0; p < 4; p++) {
        const mine = send.clone();
        tg.spawn(async () => {
          using _ = mine;
          for (let i = 0; i < 200; i++) await mine.send(p * 1000 + i);
        });
      }
      for (let c = 0; c < 3; c++) {
        const mine = receive.clone();
        tg.spawn(async () => {
          using _ = mine;
          for await (const value of mine) {
            seen.push(value);
            perConsumer[c].push(value);
            if (value % 7 === 0) await sleep(0);
          }
        });
      }
      send.close();
      receive.close();
    });
    assert.equal(seen.length, 800, `size ${size}`);
    assert.equal(new Set(seen).size, 800, `size ${size}: no duplicates`);
    // FIFO: what one consumer got from one producer is in the order it was sent.
    for (const got of perConsumer) {
      for (let p = 0; p < 4; p++) {
        const mine = got.filter((v) => Math.floor(v / 1000) === p);
        assert.deepEqual(mine, [...mine].sort((a, b) => a - b));
      }
    }
  }
});

testEachStrategy("a long exchange under load loses nothing", async () => {
  const [send, receive] = createMemoryChannel<number>(64);
  let sum = 0;
  let count = 0;
  await taskGroup((tg) => {
    tg.spawn(async () => {
      using _ = send;
      for (let i = 0; i < 20_000; i++) await send.send(i);
    });
    tg.spawn(async () => {
      using _ = receive;
      for await (const value of receive) {
        sum += value;
        count++;
      }
    });
  });
  assert.equal(count, 20_000);
  assert.equal(sum, (20_000 * 19_999) / 2);
});
