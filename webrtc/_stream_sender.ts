// The sending end of one stream: reads the request, walks the DAG reading
// blocks from the store, and sends each block within the receiver's window
// and under the channel's high-water mark. Closing the channel (from either
// end) cancels the read scope at once: a block read in flight is aborted
// through its signal and a waiting send wakes.

import type { ContentStore } from "../ipfs/content_store.ts";
import { CancelScope } from "../runtime/cancel_scope.ts";
import type { Clock } from "../runtime/clock.ts";
import { EndOfStream, isCancellationError } from "../runtime/errors.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import { WebRtcProtocolError } from "./errors.ts";
import type { Counters } from "./_counters.ts";
import type { DataChannelPort } from "./_data_channel.ts";
import { RangeWalk } from "./_dag_walk.ts";
import { IPFS_ERRORS, wireError } from "./_ipfs_errors.ts";
import { Notifier } from "./_notifier.ts";
import {
  encodeError,
  encodeHeader,
  END_MESSAGE,
  MAX_CHUNK,
  messageCost,
  parseCredit,
  parseRequest,
  type StreamRequest,
} from "./_wire.ts";

/** What serving a stream needs. */
export interface SenderContext {
  store: ContentStore;
  /** How long the receiver has to send its request. */
  requestTimeoutMs: number;
  /** How long to wait, after the last message, for the receiver to close the channel. */
  lingerMs: number;
  counters: Counters;
  clock: Clock;
  /** Told of the request once it is read (for the connection's list of streams). */
  onRequest?: (request: StreamRequest) => void;
  /** Told of each block sent. */
  onBlock?: (bytes: number) => void;
}

/** The receiver's window as the sender sees it: room to send, waited for. */
class SendCredit {
  #available: number;
  #changed = new Notifier();

  constructor(window: number) {
    this.#available = window;
  }

  grant(bytes: number): void {
    this.#available += bytes;
    this.#changed.notify();
  }

  async take(bytes: number): Promise<void> {
    while (this.#available < bytes) await this.#changed.wait();
    this.#available -= bytes;
  }
}

/**
 * Serves one stream until it is done, refused or closed; closes the channel
 * at the end. Failures go to the receiver as error messages; only
 * cancellation of the caller's scope is thrown.
 */
export async function serveStream(port: DataChannelPort, context: SenderContext): Promise<void> {
  const scope = new CancelScope({ name: `webrtc stream ${port.id}` });
  try {
    await taskGroup(async (tg) => {
      tg.spawn(async () => {
        await port.waitClosed();
        scope.cancel("the receiver closed the stream");
      }, { name: "webrtc stream close watch" });
      await scope.run(() => serve(port, context, tg.spawn.bind(tg)));
      port.close();
    });
  } finally {
    port.close();
  }
}

async function serve(
  port: DataChannelPort,
  context: SenderContext,
  spawn: (fn: () => Promise<unknown>) => void,
): Promise<void> {
  const first = await moveOnAfter(context.requestTimeoutMs, () => port.receive().catch(endOf));
  if (first === undefined || first === null) return; // no request in time, or closed
  let request: StreamRequest;
  try {
    request = parseRequest(first, IPFS_ERRORS);
  } catch (error) {
    await refuse(port, error, undefined, context);
    return;
  }
  context.onRequest?.(request);
  const requestedAt = context.clock.now();
  const credit = new SendCredit(request.window);
  spawn(async () => {
    for (;;) {
      const message = await port.receive().catch(endOf);
      if (message === null) return;
      try {
        credit.grant(parseCredit(message));
      } catch (error) {
        port.close();
        throw error;
      }
    }
  });
  try {
    const walk = new RangeWalk(request.cid, request.path, {
      offset: request.offset,
      length: request.length,
    }, IPFS_ERRORS);
    await walk.start();
    const signal = CancelScope.current().signal;
    for (let cid = walk.next(); cid !== undefined; cid = walk.next()) {
      const bytes = await context.store.block.get(cid, { signal });
      await walk.accept(cid, bytes, false);
      const header = encodeHeader(cid, bytes.length);
      await credit.take(messageCost(header));
      await port.send(header);
      for (let at = 0; at < bytes.length; at += MAX_CHUNK) {
        const chunk = bytes.subarray(at, Math.min(bytes.length, at + MAX_CHUNK));
        await credit.take(messageCost(chunk));
        await port.send(chunk);
      }
      const now = context.clock.now();
      if (context.counters.timeToFirstBlockMs === undefined) {
        context.counters.timeToFirstBlockMs = now - requestedAt;
      }
      context.counters.sent(bytes.length, now);
      context.onBlock?.(bytes.length);
    }
    await credit.take(messageCost(END_MESSAGE));
    await port.send(END_MESSAGE);
  } catch (error) {
    if (isCancellationError(error)) throw error;
    await refuse(port, error, credit, context);
    return;
  }
  await moveOnAfter(context.lingerMs, () => port.waitClosed());
}

/** Tells the receiver why the stream ends (if the window lets it in time), then lets it close. */
async function refuse(
  port: DataChannelPort,
  error: unknown,
  credit: SendCredit | undefined,
  context: SenderContext,
): Promise<void> {
  if (error instanceof WebRtcProtocolError && port.failure === error) return;
  const { code, message } = wireError(error);
  const text = encodeError(code, message);
  await moveOnAfter(context.lingerMs, async () => {
    await credit?.take(messageCost(text));
    await port.send(text);
    await port.waitClosed();
  });
}

function endOf(error: unknown): null {
  if (error instanceof EndOfStream) return null;
  throw error;
}
