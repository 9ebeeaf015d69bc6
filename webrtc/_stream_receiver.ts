// The receiving end of one stream, in Deno: a pull-based ReadableStream
// that, when read, takes the sender's messages off the channel, puts each
// block together, checks it (its hash, and that it is the block the walk
// needs next) and only then hands out its bytes. Credit goes back to the
// sender as messages are taken, so at most one window waits in memory.

import type { Clock } from "../runtime/clock.ts";
import { EndOfStream } from "../runtime/errors.ts";
import { withSignal } from "../runtime/timeouts.ts";
import { failAfter } from "../runtime/timeouts.ts";
import { TimeoutError } from "../runtime/errors.ts";
import { StreamClosedError, VerificationError, WebRtcProtocolError } from "./errors.ts";
import type { Counters } from "./_counters.ts";
import { type DataChannelPort, messageCost } from "./_data_channel.ts";
import { BlockAssembler } from "./_block_assembler.ts";
import { RangeWalk } from "./_dag_walk.ts";
import {
  CreditWindow,
  encodeCredit,
  encodeRequest,
  errorFromWire,
  type StreamRequest,
} from "./_wire.ts";

/** What receiving a stream needs. */
export interface ReceiverContext {
  counters: Counters;
  clock: Clock;
  /** How long the channel may take to open. */
  openTimeoutMs: number;
  /** Called once when the stream ends, however it ends. */
  onEnd: () => void;
}

/**
 * The verified bytes of `request`'s range, read over `port` (a channel this
 * side opened). Reading is a checkpoint; `signal` (and the reader's cancel
 * scope) cancel it, closing the channel, which cancels the sender.
 */
export function receiveStream(
  port: DataChannelPort,
  request: StreamRequest,
  signal: AbortSignal | undefined,
  context: ReceiverContext,
): ReadableStream<Uint8Array> {
  const walk = new RangeWalk(request.cid, request.path, {
    offset: request.offset,
    length: request.length,
  });
  const window = new CreditWindow(request.window);
  const assembler = new BlockAssembler();
  const openedAt = context.clock.now();
  let started = false;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    port.close();
    context.onEnd();
  };

  async function begin(): Promise<Uint8Array[]> {
    try {
      await failAfter(context.openTimeoutMs, () => port.waitOpen());
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw new StreamClosedError(
          `Cannot open stream: its data channel did not open within ${context.openTimeoutMs} ms`,
        );
      }
      throw error;
    }
    port.sendNow(encodeRequest(request));
    return await walk.start();
  }

  /** Reads messages until the walk yields bytes or ends; `undefined`: the stream is complete. */
  async function nextBytes(): Promise<Uint8Array[] | undefined> {
    for (;;) {
      let message: string | Uint8Array;
      try {
        message = await port.receive();
      } catch (error) {
        if (!(error instanceof EndOfStream)) throw error;
        if (port.failure instanceof WebRtcProtocolError) throw port.failure;
        throw new StreamClosedError(
          `Cannot read stream ${port.id}: the sender closed it before its end${
            port.failure ? ` (${port.failure.message})` : ""
          }`,
        );
      }
      const grant = window.consumed(messageCost(message));
      if (grant > 0 && port.isOpen) port.sendNow(encodeCredit(grant));
      const event = assembler.push(message, walk.next());
      if (event.kind === "pending") continue;
      if (event.kind === "end") {
        if (!walk.done) {
          throw new WebRtcProtocolError(
            `Cannot read stream ${port.id}: the sender ended it before block ${walk.next()}`,
          );
        }
        return undefined;
      }
      if (event.kind === "error") {
        throw errorFromWire(event.code, event.message, request.cid.toString());
      }
      let out: Uint8Array[];
      try {
        out = await walk.accept(event.cid, event.bytes, true);
      } catch (error) {
        if (error instanceof VerificationError) context.counters.blocksRefused++;
        throw error;
      }
      context.counters.verified(event.bytes.length, context.clock.now());
      if (out.length > 0) return out;
    }
  }

  function deliver(controller: ReadableStreamDefaultController<Uint8Array>, out: Uint8Array[]) {
    for (const bytes of out) {
      if (bytes.length === 0) continue;
      if (context.counters.timeToFirstByteMs === undefined) {
        context.counters.timeToFirstByteMs = context.clock.now() - openedAt;
      }
      context.counters.bytesDelivered += bytes.length;
      controller.enqueue(bytes);
    }
  }

  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      try {
        const out = await withSignal(signal, async () => {
          if (!started) {
            started = true;
            const first = await begin();
            if (first.length > 0) return first;
            if (walk.done) return undefined;
          }
          return await nextBytes();
        });
        if (out === undefined) {
          end();
          controller.close();
        } else deliver(controller, out);
      } catch (error) {
        end();
        throw error;
      }
    },
    cancel: () => end(),
  }, { highWaterMark: 0 });
}
