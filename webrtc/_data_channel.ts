// One native data channel as the kit's tasks see it: messages wait in a
// bounded queue until a task receives them, sends wait while the channel's
// bufferedAmount is above a high-water mark, and opening and closing are
// events a task can wait for. Every native callback only queues, counts and
// wakes (see `_native.ts`).

import { moveOnAfter } from "../runtime/timeouts.ts";
import {
  createMemoryChannel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
} from "../runtime/memory_channel.ts";
import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import { StreamClosedError, WebRtcProtocolError } from "./errors.ts";
import { guard, type NativeDataChannel } from "./_native.ts";
import { Notifier } from "./_notifier.ts";
import { messageCost } from "./_wire.ts";

/** Options for a {@linkcode DataChannelPort}. */
export interface PortOptions {
  /** How much (in {@linkcode messageCost}) may wait in the queue; more is a protocol error. */
  maxQueuedCost: number;
  /** Unsent bytes at which `send` waits. */
  highWaterMark: number;
  /** How often a waiting send looks at bufferedAmount again, in ms. */
  pollMs: number;
}

/** A data channel for tasks. */
export class DataChannelPort {
  readonly #dc: NativeDataChannel;
  readonly #options: PortOptions;
  readonly #send: MemorySendChannel<string | Uint8Array>;
  readonly #receive: MemoryReceiveChannel<string | Uint8Array>;
  readonly #changed = new Notifier();
  readonly #low = new Notifier();
  readonly id: number;
  readonly label: string;
  #open = false;
  #closed = false;
  #queuedCost = 0;
  #failure: Error | undefined;
  #onReleased: (() => void) | undefined;
  #released = false;

  /**
   * Wraps `dc`; the port holds it, so it stays referenced while the port is.
   *
   * @param onReleased Called (inside a native event: it must only wake) once
   * node-datachannel let go of the channel's callbacks: no native event of
   * the channel can come after.
   */
  constructor(dc: NativeDataChannel, options: PortOptions, onReleased?: () => void) {
    this.#dc = dc;
    this.#options = options;
    this.#onReleased = onReleased;
    [this.#send, this.#receive] = createMemoryChannel<string | Uint8Array>(Infinity);
    this.id = dc.getId();
    this.label = dc.getLabel();
    const fail = (error: unknown) => this.#fail(error);
    this.#open = dc.isOpen();
    dc.onOpen(guard(() => {
      this.#open = true;
      this.#changed.notify();
    }, fail));
    // node-datachannel lets go of a channel's callbacks (and of the process's
    // event loop) only when this event comes: `close()` makes it come, also
    // for a channel that never opened.
    dc.onClosed(guard(() => {
      this.#closedNow();
      this.#release();
    }, fail));
    dc.onError(guard((message: string) => {
      this.#failure ??= new StreamClosedError(`Data channel ${this.id} failed: ${message}`);
      this.#closedNow();
    }, fail));
    dc.onBufferedAmountLow(guard(() => this.#low.notify(), fail));
    dc.setBufferedAmountLowThreshold(options.highWaterMark);
    dc.onMessage(guard((message: string | Uint8Array | ArrayBuffer) => {
      if (this.#closed) return;
      const value = message instanceof ArrayBuffer ? new Uint8Array(message) : message;
      const cost = messageCost(value);
      if (this.#queuedCost + cost > this.#options.maxQueuedCost) {
        throw new WebRtcProtocolError(
          `Cannot read data channel ${this.id}: the peer sent more than the ${this.#options.maxQueuedCost} bytes it may`,
        );
      }
      this.#queuedCost += cost;
      this.#send.sendNowait(value);
    }, fail));
  }

  /** Whether the channel is open (and not closed since). */
  get isOpen(): boolean {
    return this.#open && !this.#closed;
  }

  /** Whether the channel closed (either end closed it, or it failed). */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Whether node-datachannel let go of the channel's callbacks. */
  get released(): boolean {
    return this.#released;
  }

  /** Why the channel failed, if it did (a protocol breach, an error). */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Unsent bytes. */
  get bufferedAmount(): number {
    return this.#closed ? 0 : this.#dc.bufferedAmount();
  }

  /** Waits until the channel is open. A checkpoint; cancellable. */
  async waitOpen(): Promise<void> {
    while (!this.#open) {
      if (this.#closed) throw this.#closedError("open");
      await this.#changed.wait();
    }
    if (this.#closed) throw this.#closedError("open");
  }

  /** Waits until the channel closed. A checkpoint; cancellable. */
  async waitClosed(): Promise<void> {
    while (!this.#closed) await this.#changed.wait();
  }

  /**
   * Receives the next message. A checkpoint; cancellable.
   *
   * @throws {EndOfStream} The channel closed and every message was received
   * (the runtime's; look at `failure` to tell a failed channel).
   * @throws {WebRtcProtocolError} The peer overran the queue.
   */
  async receive(): Promise<string | Uint8Array> {
    if (this.#failure instanceof WebRtcProtocolError) throw this.#failure;
    const message = await this.#receive.receive();
    this.#queuedCost -= messageCost(message);
    return message;
  }

  /**
   * Sends a message, waiting first while more than the high-water mark is
   * unsent (polled every `pollMs`, and woken by bufferedamountlow where the
   * implementation fires it). A checkpoint; cancellable.
   *
   * @throws {StreamClosedError} The channel closed.
   */
  async send(message: string | Uint8Array): Promise<void> {
    const { highWaterMark, pollMs } = this.#options;
    while (!this.#closed && this.#dc.bufferedAmount() > highWaterMark) {
      await moveOnAfter(pollMs, () => this.#low.wait());
    }
    checkpointIfCancelled();
    this.sendNow(message);
  }

  /**
   * Sends a small message at once, whatever is buffered (credits, errors).
   *
   * @throws {StreamClosedError} The channel closed.
   */
  sendNow(message: string | Uint8Array): void {
    if (!this.isOpen) throw this.#closedError("send");
    try {
      if (typeof message === "string") this.#dc.sendMessage(message);
      else this.#dc.sendMessageBinary(message);
    } catch (error) {
      // libdatachannel throws when the channel closed under us.
      this.#closedNow();
      throw new StreamClosedError(
        `Cannot send on data channel ${this.id}: ${(error as Error).message}`,
      );
    }
  }

  /** Closes the channel; idempotent. Queued messages can still be received. */
  close(): void {
    if (this.#closed) return;
    try {
      this.#dc.close();
    } catch {
      // Closed already.
    }
    this.#closedNow();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#onReleased?.();
  }

  #fail(error: unknown): void {
    this.#failure ??= error instanceof Error ? error : new Error(String(error));
    this.close();
  }

  #closedNow(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#send.close();
    this.#changed.notify();
    this.#low.notify();
  }

  #closedError(what: string): StreamClosedError {
    return new StreamClosedError(
      `Cannot ${what} data channel ${this.id}: it is closed${
        this.#failure ? ` (${this.#failure.message})` : ""
      }`,
    );
  }
}
