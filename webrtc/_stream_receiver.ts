// The receiving end of one stream, in Deno: a pull-based ReadableStream
// whose reads take the sender's messages off the channel and verify them
// (`_verified_reader.ts`) before any byte goes out. Reading is a checkpoint
// and runs in the reader's cancel scope.

import type { Clock } from "../runtime/clock.ts";
import { EndOfStream, TimeoutError } from "../runtime/errors.ts";
import { failAfter, withSignal } from "../runtime/timeouts.ts";
import { StreamClosedError, WebRtcProtocolError } from "./errors.ts";
import type { Counters } from "./_counters.ts";
import type { DataChannelPort } from "./_data_channel.ts";
import { IPFS_ERRORS } from "./_ipfs_errors.ts";
import { VerifiedReader } from "./_verified_reader.ts";
import { encodeRequest, type StreamRequest } from "./_wire.ts";

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
 * side opened). `signal` (and the reader's cancel scope) cancel a read,
 * closing the channel, which cancels the sender.
 */
export function receiveStream(
  port: DataChannelPort,
  request: StreamRequest,
  signal: AbortSignal | undefined,
  context: ReceiverContext,
): ReadableStream<Uint8Array> {
  const { counters, clock } = context;
  const reader = new VerifiedReader(request, {
    receive: async () => {
      try {
        return await port.receive();
      } catch (error) {
        if (error instanceof EndOfStream) return null;
        throw error;
      }
    },
    send: (text) => {
      try {
        port.sendNow(text);
      } catch (error) {
        // Closed under us: the next receive reports how the stream ended.
        if (!(error instanceof StreamClosedError)) throw error;
      }
    },
    closedEarly: () =>
      port.failure instanceof WebRtcProtocolError ? port.failure : new StreamClosedError(
        `Cannot read stream ${port.id}: the sender closed it before its end${
          port.failure ? ` (${port.failure.message})` : ""
        }`,
      ),
    verified: (bytes) => counters.verified(bytes, clock.now()),
    refused: () => counters.blocksRefused++,
  }, IPFS_ERRORS);
  const openedAt = clock.now();
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
      if (!(error instanceof TimeoutError)) throw error;
      throw new StreamClosedError(
        `Cannot open stream: its data channel did not open within ${context.openTimeoutMs} ms`,
      );
    }
    port.sendNow(encodeRequest(request));
    return await reader.start();
  }

  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      let out: Uint8Array[] | undefined;
      try {
        out = await withSignal(signal, async () => {
          if (!started) {
            started = true;
            const first = await begin();
            if (first.length > 0) return first;
            if (reader.complete) return undefined;
          }
          return await reader.next();
        });
      } catch (error) {
        end();
        throw error;
      }
      if (out === undefined) {
        end();
        controller.close();
        return;
      }
      for (const bytes of out) {
        if (bytes.length === 0) continue;
        counters.timeToFirstByteMs ??= clock.now() - openedAt;
        counters.bytesDelivered += bytes.length;
        controller.enqueue(bytes);
      }
    },
    cancel: () => end(),
  }, { highWaterMark: 0 });
}
