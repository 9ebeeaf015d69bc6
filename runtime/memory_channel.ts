/**
 * Memory channels: a bounded queue between tasks with a send end and a
 * receive end, the analogue of Trio's `open_memory_channel` and AnyIO's
 * `create_memory_object_stream`.
 *
 * @module
 */

import { currentScope, internals } from "./cancel_scope.ts";
import { park, type Waiter } from "./park.ts";
import { BrokenResourceError, ClosedResourceError, EndOfStream, WouldBlock } from "./errors.ts";
import { MICROTASK_HOP } from "./macrotask.ts";

/** The state of a channel, from {@linkcode MemorySendChannel.statistics}. */
export interface MemoryChannelStatistics {
  /** How many values sit in the buffer. */
  currentBufferUsed: number;
  /** The buffer's capacity (`0`: rendezvous, `Infinity`: unbounded). */
  maxBufferSize: number;
  /** How many send clones are open. */
  openSendChannels: number;
  /** How many receive clones are open. */
  openReceiveChannels: number;
  /** How many tasks are blocked in `send()`. */
  tasksWaitingSend: number;
  /** How many tasks are blocked in `receive()` (or in iteration). */
  tasksWaitingReceive: number;
}

/**
 * The send end of a memory channel, from {@linkcode createMemoryChannel}.
 *
 * Every clone is closed separately; when the last one closes, receivers
 * drain the buffer and then get {@linkcode EndOfStream}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMemoryChannel } from "@ipfs-kit/kit/runtime";
 *
 * const [send, receive] = createMemoryChannel<string>(1);
 * await send.send("hello");
 * send.close();
 * assert.equal(await receive.receive(), "hello");
 * receive.close();
 * ```
 */
export interface MemorySendChannel<T> extends Disposable {
  /**
   * Sends `value`, waiting while the buffer is full (for a rendezvous
   * channel: until a receiver takes it). A checkpoint: it throws
   * `CancelledError` when cancelled, and a cancelled send never delivers
   * its value.
   *
   * @throws {ClosedResourceError} This clone is closed.
   * @throws {BrokenResourceError} Every receive clone is closed.
   */
  send(value: T): Promise<void>;
  /**
   * Sends `value` without waiting. Not a checkpoint.
   *
   * @throws {WouldBlock} The buffer is full and no receiver is waiting.
   * @throws {ClosedResourceError} This clone is closed.
   * @throws {BrokenResourceError} Every receive clone is closed.
   */
  sendNowait(value: T): void;
  /**
   * A new send end for the same channel, closed separately.
   *
   * @throws {ClosedResourceError} This clone is closed.
   */
  clone(): MemorySendChannel<T>;
  /**
   * Closes this clone; idempotent. Tasks blocked sending on it get
   * {@linkcode ClosedResourceError}.
   */
  close(): void;
  /** Closes this clone (for `using`). */
  [Symbol.dispose](): void;
  /** Whether this clone is closed. */
  readonly closed: boolean;
  /** The channel's state. */
  statistics(): MemoryChannelStatistics;
}

/**
 * The receive end of a memory channel, from {@linkcode createMemoryChannel}.
 *
 * It is async iterable: iteration ends when every sender is closed and the
 * buffer is drained. Breaking out of a `for await` loop does not close the
 * clone (as in Trio): close it with `using` or {@linkcode close}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMemoryChannel, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const [send, receive] = createMemoryChannel<number>(0);
 * const seen: number[] = [];
 * await taskGroup((tg) => {
 *   tg.spawn(async () => {
 *     using _ = send;
 *     for (let i = 0; i < 3; i++) await send.send(i);
 *   });
 *   tg.spawn(async () => {
 *     using _ = receive;
 *     for await (const value of receive) seen.push(value);
 *   });
 * });
 * assert.equal(seen.join(), "0,1,2");
 * ```
 */
export interface MemoryReceiveChannel<T> extends Disposable, AsyncIterable<T> {
  /**
   * Receives the oldest value, waiting while there is none. A checkpoint:
   * it throws `CancelledError` when cancelled, and a cancelled receive never
   * consumes a value.
   *
   * @throws {EndOfStream} Every send clone is closed and the buffer is empty.
   * @throws {ClosedResourceError} This clone is closed.
   */
  receive(): Promise<T>;
  /**
   * Receives without waiting. Not a checkpoint.
   *
   * @throws {WouldBlock} Nothing to receive yet.
   * @throws {EndOfStream} Every send clone is closed and the buffer is empty.
   * @throws {ClosedResourceError} This clone is closed.
   */
  receiveNowait(): T;
  /**
   * A new receive end for the same channel, closed separately. Clones share
   * the values: each value goes to one receiver.
   *
   * @throws {ClosedResourceError} This clone is closed.
   */
  clone(): MemoryReceiveChannel<T>;
  /**
   * Closes this clone; idempotent. Tasks blocked receiving on it get
   * {@linkcode ClosedResourceError}. When the last receive clone closes,
   * the buffer is dropped and senders get {@linkcode BrokenResourceError}.
   */
  close(): void;
  /** Closes this clone (for `using`). */
  [Symbol.dispose](): void;
  /** Whether this clone is closed. */
  readonly closed: boolean;
  /** The channel's state. */
  statistics(): MemoryChannelStatistics;
  /**
   * Receives values until {@linkcode EndOfStream}, which ends the iteration.
   * Each step is a checkpoint, like {@linkcode receive}.
   */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined>;
}

/**
 * Creates a memory channel: a send end and a receive end sharing a FIFO
 * buffer of `maxBufferSize` values. With `0`, every send waits for a
 * receiver (a rendezvous); with `Infinity`, sends never wait.
 *
 * Semantics follow Trio: `send` and `receive` are checkpoints; closing the
 * last send clone lets receivers drain the buffer and then end with
 * {@linkcode EndOfStream}; closing the last receive clone drops the buffer
 * and fails senders, blocked ones too, with {@linkcode BrokenResourceError};
 * a closed clone throws {@linkcode ClosedResourceError}.
 *
 * @param maxBufferSize How many values may wait in the buffer: a
 *   non-negative integer or `Infinity`.
 * @returns The send end and the receive end.
 *
 * @example Producer and consumer
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMemoryChannel, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const [send, receive] = createMemoryChannel<number>(16);
 * let sum = 0;
 * await taskGroup((tg) => {
 *   tg.spawn(async () => {
 *     using _ = send;
 *     for (let i = 1; i <= 100; i++) await send.send(i);
 *   });
 *   tg.spawn(async () => {
 *     using _ = receive;
 *     for await (const value of receive) sum += value;
 *   });
 * });
 * assert.equal(sum, 5050);
 * ```
 */
export function createMemoryChannel<T>(
  maxBufferSize: number,
): [MemorySendChannel<T>, MemoryReceiveChannel<T>] {
  if (typeof maxBufferSize !== "number") {
    throw new TypeError(
      `Cannot create memory channel: maxBufferSize must be a number: received ${typeof maxBufferSize}`,
    );
  }
  if (!(maxBufferSize >= 0) || (maxBufferSize !== Infinity && !Number.isInteger(maxBufferSize))) {
    throw new RangeError(
      `Cannot create memory channel: maxBufferSize must be a non-negative integer or Infinity: received ${maxBufferSize}`,
    );
  }
  const state = new ChannelState<T>(maxBufferSize);
  return [new SendEnd(state), new ReceiveEnd(state)];
}

/** Returned by `ChannelState.take` when there is nothing to take. */
const EMPTY: unique symbol = Symbol("empty");

/**
 * The promise a strategy's `yield()` returns for a plain microtask hop (the
 * eager strategy always, the fair one between slices). When a receive gets
 * it, the hop is the caller's own `await` of an already-resolved promise, so
 * the value is returned in it at once instead of after a second hop. That
 * keeps a receive as cheap as a send (one hop each): a producer and a
 * consumer then run in step without either having to block. Any other
 * promise is awaited first, as before.
 */
const IMMEDIATE: Promise<void> = MICROTASK_HOP;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
const DONE_PROMISE: Promise<IteratorReturnResult<undefined>> = Promise.resolve(DONE);

/** A growable ring buffer (power-of-two capacity): O(1) push and shift, no `Array.shift`. */
class Ring<T> {
  #items: (T | undefined)[];
  #mask: number;
  #head = 0;
  size = 0;

  constructor(capacity: number) {
    let n = 4;
    while (n < capacity) n *= 2;
    this.#items = new Array(n).fill(undefined);
    this.#mask = n - 1;
  }

  push(value: T): void {
    if (this.size > this.#mask) this.#grow();
    this.#items[(this.#head + this.size) & this.#mask] = value;
    this.size++;
  }

  /** Removes and returns the oldest item; the ring must not be empty. */
  shift(): T {
    const head = this.#head;
    const value = this.#items[head] as T;
    this.#items[head] = undefined;
    this.#head = (head + 1) & this.#mask;
    this.size--;
    return value;
  }

  /** Empties the ring and gives back the memory a large backlog made it grow to. */
  clear(): void {
    this.#items = new Array(4).fill(undefined);
    this.#mask = 3;
    this.#head = 0;
    this.size = 0;
  }

  /** Keeps, in order, the items for which `keep` returns true. */
  retain(keep: (item: T) => boolean): void {
    const kept: T[] = [];
    while (this.size > 0) {
      const item = this.shift();
      if (keep(item)) kept.push(item);
    }
    this.#head = 0;
    for (const item of kept) this.push(item);
  }

  #grow(): void {
    const items = this.#items;
    const n = items.length;
    const grown: (T | undefined)[] = new Array(n * 2).fill(undefined);
    for (let i = 0; i < n; i++) grown[i] = items[(this.#head + i) & this.#mask];
    this.#items = grown;
    this.#head = 0;
    this.#mask = n * 2 - 1;
  }
}

/** A task blocked in `send`, with the value it is sending and the clone it used. */
interface BlockedSend<T> {
  waiter: Waiter<void>;
  value: T;
  owner: SendEnd<T>;
}

/** A task blocked in `receive`, with the clone it used. */
interface BlockedReceive<T> {
  waiter: Waiter<T>;
  owner: ReceiveEnd<T>;
}

/**
 * What the clones of one channel share. Invariants: blocked receivers exist
 * only while the buffer is empty; blocked senders only while it is full.
 * Cancelled waiters stay in their queue (settled) until skipped or swept;
 * `sendDead`/`receiveDead` count them.
 */
class ChannelState<T> {
  readonly max: number;
  readonly buffer: Ring<T>;
  readonly senders: Ring<BlockedSend<T>> = new Ring(4);
  readonly receivers: Ring<BlockedReceive<T>> = new Ring(4);
  sendDead = 0;
  receiveDead = 0;
  openSend = 1;
  openReceive = 1;
  /** `onCancel` of every blocked sender: one function per channel, none per message. */
  readonly onSendCancel: () => void;
  /** `onCancel` of every blocked receiver. */
  readonly onReceiveCancel: () => void;

  constructor(max: number) {
    this.max = max;
    this.buffer = new Ring(Math.min(max, 64));
    this.onSendCancel = () => {
      if (++this.sendDead > 8 && this.sendDead * 2 > this.senders.size) {
        this.senders.retain(isLive);
        this.sendDead = 0;
      }
    };
    this.onReceiveCancel = () => {
      if (++this.receiveDead > 8 && this.receiveDead * 2 > this.receivers.size) {
        this.receivers.retain(isLive);
        this.receiveDead = 0;
      }
    };
  }

  /**
   * Hands `value` to the first waiting receiver or appends it to the buffer.
   * Returns false when it would block.
   */
  give(value: T): boolean {
    const receivers = this.receivers;
    while (receivers.size > 0) {
      if (receivers.shift().waiter.wake(value)) return true;
      this.receiveDead--; // cancelled while queued
    }
    if (this.buffer.size < this.max) {
      this.buffer.push(value);
      return true;
    }
    return false;
  }

  /**
   * Takes the oldest value. As in Trio, the first blocked sender's value
   * moves into the buffer first and that sender wakes. Returns `EMPTY` when
   * there is nothing.
   */
  take(): T | typeof EMPTY {
    const senders = this.senders;
    const buffer = this.buffer;
    while (senders.size > 0) {
      const blocked = senders.shift();
      if (!blocked.waiter.wake()) {
        this.sendDead--; // cancelled while queued: its value is never delivered
        continue;
      }
      if (buffer.size === 0) return blocked.value;
      buffer.push(blocked.value);
      break;
    }
    return buffer.size > 0 ? buffer.shift() : EMPTY;
  }

  statistics(): MemoryChannelStatistics {
    return {
      currentBufferUsed: this.buffer.size,
      maxBufferSize: this.max,
      openSendChannels: this.openSend,
      openReceiveChannels: this.openReceive,
      tasksWaitingSend: this.senders.size - this.sendDead,
      tasksWaitingReceive: this.receivers.size - this.receiveDead,
    };
  }
}

function isLive(blocked: { readonly waiter: { readonly settled: boolean } }): boolean {
  return !blocked.waiter.settled;
}

class SendEnd<T> implements MemorySendChannel<T> {
  #state: ChannelState<T>;
  #closed = false;

  constructor(state: ChannelState<T>) {
    this.#state = state;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(value: T): Promise<void> {
    const scope = currentScope();
    if (scope.cancelled) return Promise.reject(internals.error(scope));
    if (this.#closed) return Promise.reject(closedError("send"));
    const state = this.#state;
    if (state.openReceive === 0) return Promise.reject(brokenError());
    if (state.give(value)) {
      // Done without blocking: still a scheduling point, as in Trio.
      const runtime = internals.runtime(scope);
      runtime.checkpoints++;
      return runtime.strategy.yield();
    }
    const waiter = park<void>(state.onSendCancel);
    state.senders.push({ waiter, value, owner: this });
    return waiter.promise.then(noop);
  }

  sendNowait(value: T): void {
    if (this.#closed) throw closedError("send");
    const state = this.#state;
    if (state.openReceive === 0) throw brokenError();
    if (!state.give(value)) {
      throw new WouldBlock("Cannot send without waiting: the buffer is full");
    }
  }

  clone(): MemorySendChannel<T> {
    if (this.#closed) throw new ClosedResourceError("Cannot clone: this send channel is closed");
    this.#state.openSend++;
    return new SendEnd(this.#state);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const state = this.#state;
    if (state.senders.size > 0) {
      // Wake the tasks blocked on this very clone; drop cancelled leftovers too.
      state.senders.retain((blocked) => {
        if (blocked.waiter.settled) return false;
        if (blocked.owner !== this) return true;
        blocked.waiter.fail(closedError("send"));
        return false;
      });
      state.sendDead = 0;
    }
    if (--state.openSend === 0) {
      const receivers = state.receivers;
      while (receivers.size > 0) receivers.shift().waiter.fail(new EndOfStream());
      state.receiveDead = 0;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  statistics(): MemoryChannelStatistics {
    return this.#state.statistics();
  }
}

class ReceiveEnd<T> implements MemoryReceiveChannel<T> {
  #state: ChannelState<T>;
  #closed = false;

  constructor(state: ChannelState<T>) {
    this.#state = state;
  }

  get closed(): boolean {
    return this.#closed;
  }

  receive(): Promise<T> {
    const scope = currentScope();
    if (scope.cancelled) return Promise.reject(internals.error(scope));
    if (this.#closed) return Promise.reject(closedError("receive"));
    const state = this.#state;
    const value = state.take();
    if (value !== EMPTY) {
      const runtime = internals.runtime(scope);
      runtime.checkpoints++;
      const turn = runtime.strategy.yield();
      return turn === IMMEDIATE ? Promise.resolve(value) : valueAfter(turn, value);
    }
    if (state.openSend === 0) return Promise.reject(new EndOfStream());
    return this.#block().promise.then(identity);
  }

  /** One step of async iteration: {@linkcode receive} with `EndOfStream` as the end. */
  next(): Promise<IteratorResult<T, undefined>> {
    const scope = currentScope();
    if (scope.cancelled) return Promise.reject(internals.error(scope));
    if (this.#closed) return Promise.reject(closedError("receive"));
    const state = this.#state;
    const value = state.take();
    if (value !== EMPTY) {
      const runtime = internals.runtime(scope);
      runtime.checkpoints++;
      const turn = runtime.strategy.yield();
      return turn === IMMEDIATE
        ? Promise.resolve({ done: false, value })
        : resultAfter(turn, value);
    }
    if (state.openSend === 0) return DONE_PROMISE;
    return this.#block().promise.then(toResult, endToDone);
  }

  #block(): Waiter<T> {
    const state = this.#state;
    const waiter = park<T>(state.onReceiveCancel);
    state.receivers.push({ waiter, owner: this });
    return waiter;
  }

  receiveNowait(): T {
    if (this.#closed) throw closedError("receive");
    const state = this.#state;
    const value = state.take();
    if (value !== EMPTY) return value;
    if (state.openSend === 0) throw new EndOfStream();
    throw new WouldBlock("Cannot receive without waiting: the buffer is empty");
  }

  clone(): MemoryReceiveChannel<T> {
    if (this.#closed) {
      throw new ClosedResourceError("Cannot clone: this receive channel is closed");
    }
    this.#state.openReceive++;
    return new ReceiveEnd(this.#state);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const state = this.#state;
    if (state.receivers.size > 0) {
      state.receivers.retain((blocked) => {
        if (blocked.waiter.settled) return false;
        if (blocked.owner !== this) return true;
        blocked.waiter.fail(closedError("receive"));
        return false;
      });
      state.receiveDead = 0;
    }
    if (--state.openReceive === 0) {
      const senders = state.senders;
      while (senders.size > 0) senders.shift().waiter.fail(brokenError());
      state.sendDead = 0;
      state.buffer.clear();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  statistics(): MemoryChannelStatistics {
    return this.#state.statistics();
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return new ReceiveIterator(this);
  }
}

/** Iteration over a receive clone; `return()` (a `break`) leaves the clone open. */
class ReceiveIterator<T> implements AsyncIterator<T, undefined> {
  #channel: ReceiveEnd<T>;

  constructor(channel: ReceiveEnd<T>) {
    this.#channel = channel;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    return this.#channel.next();
  }

  return(): Promise<IteratorResult<T, undefined>> {
    return DONE_PROMISE;
  }
}

// A task woken from a block resumes one hop later than one that did not block
// (`then(noop)`, `then(identity)`, `then(toResult)`). So when a producer and a
// consumer run at the same pace, a full or empty buffer drifts back to the
// middle instead of making one side block on every message.

function noop(): void {}

function identity<T>(value: T): T {
  return value;
}

async function valueAfter<T>(turn: Promise<void>, value: T): Promise<T> {
  await turn;
  return value;
}

async function resultAfter<T>(
  turn: Promise<void>,
  value: T,
): Promise<IteratorResult<T, undefined>> {
  await turn;
  return { done: false, value };
}

function toResult<T>(value: T): IteratorResult<T, undefined> {
  return { done: false, value };
}

function endToDone(error: unknown): IteratorReturnResult<undefined> {
  if (error instanceof EndOfStream) return DONE;
  throw error;
}

function closedError(what: "send" | "receive"): ClosedResourceError {
  return new ClosedResourceError(`Cannot ${what}: this ${what} channel is closed`);
}

function brokenError(): BrokenResourceError {
  return new BrokenResourceError("Cannot send: every receive channel is closed");
}
