// One server-side WebSocket session over a connection the HTTP layer
// upgraded: a reader task that checks each frame header before reading its
// payload, a writer task that drains a bounded send queue, and the close
// handshake with a deadline. The public shape is WebSocketSession in
// websocket.ts. Private to the HTTP layer.

import { ClosedResourceError, EndOfStream, isCancellationError } from "../runtime/errors.ts";
import { Event } from "../runtime/event.ts";
import { macrotaskYield } from "../runtime/macrotask.ts";
import {
  createMemoryChannel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
} from "../runtime/memory_channel.ts";
import { sleep } from "../runtime/sleep.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import type { ConnReader } from "./_conn_reader.ts";
import {
  closePayload,
  encodeFrame,
  FrameError,
  isValidCloseCode,
  OP,
  parseFrameHeader,
  unmask,
} from "./_ws_frames.ts";
import {
  WEBSOCKET_CLOSE_CODES as CODES,
  type WebSocketMessage,
  type WebSocketSession,
  type WebSocketState,
} from "./websocket.ts";

/** The limits of a session, checked. */
export interface SessionLimits {
  readonly maxMessageBytes: number;
  readonly maxQueuedBytes: number;
  readonly maxQueuedMessages: number;
  readonly closeTimeoutMs: number;
}

/** What the session needs of its connection. */
export interface SessionTransport {
  readonly reader: ConnReader;
  /** Writes all bytes (under the connection's send deadline). */
  readonly write: (bytes: Uint8Array) => Promise<void>;
  /** Closes the TCP socket. Idempotent. */
  readonly destroy: () => void;
  readonly remoteAddr: Deno.NetAddr;
}

const encoder = new TextEncoder();
const INBOX = 16;
const BATCH = 64 * 1024;
/** Fewer queued frames than this wait a turn of the event loop for more before a write. */
const COALESCE = 16;

class EndOfInput extends Error {}

/** See WebSocketSession. */
export class ServerWebSocket implements WebSocketSession {
  readonly remoteAddr: Deno.NetAddr;
  readonly protocol: string;
  readonly #transport: SessionTransport;
  readonly #limits: SessionLimits;
  readonly #inboxSend: MemorySendChannel<WebSocketMessage>;
  readonly #inbox: MemoryReceiveChannel<WebSocketMessage>;
  readonly #gone = new Event();
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  /** Frames that go before the queue (pong, the echo of a close). */
  #urgent: Uint8Array[] = [];
  #wake = new Event();
  #state: WebSocketState = "open";
  #closeCode: number | undefined;
  #closeReason = "";
  #closeQueued = false;
  #closeReceived = false;
  /** Close without waiting for the peer's close frame. */
  #noHandshake = false;
  /** Set when the socket must be gone within `closeTimeoutMs`, written or not. */
  readonly #reaping = new Event();

  constructor(transport: SessionTransport, limits: SessionLimits, protocol: string) {
    this.#transport = transport;
    this.#limits = limits;
    this.remoteAddr = transport.remoteAddr;
    this.protocol = protocol;
    [this.#inboxSend, this.#inbox] = createMemoryChannel<WebSocketMessage>(INBOX);
  }

  get state(): WebSocketState {
    return this.#state;
  }

  get closeCode(): number | undefined {
    return this.#closeCode;
  }

  get closeReason(): string {
    return this.#closeReason;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get queuedMessages(): number {
    return this.#queue.length;
  }

  send(data: WebSocketMessage): boolean {
    if (this.#state !== "open") return false;
    const text = typeof data === "string";
    if (!text && !(data instanceof Uint8Array)) {
      throw new TypeError("Cannot send WebSocket message: data must be a string or a Uint8Array");
    }
    const frame = encodeFrame(
      text ? OP.text : OP.binary,
      text ? encoder.encode(data as string) : data as Uint8Array,
    );
    const limits = this.#limits;
    if (
      this.#queue.length >= limits.maxQueuedMessages ||
      (this.#queuedBytes > 0 && this.#queuedBytes + frame.length > limits.maxQueuedBytes)
    ) {
      this.#overrun(
        `Too slow: more than ${limits.maxQueuedMessages} messages or ${limits.maxQueuedBytes} bytes waited to be sent`,
      );
      return false;
    }
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    this.#wake.set();
    return true;
  }

  close(code: number = CODES.normal, reason = ""): void {
    if (this.#state !== "open") return;
    if (!Number.isInteger(code) || !(code === 1000 || (code >= 1001 && isValidCloseCode(code)))) {
      throw new RangeError(`Cannot close WebSocket: invalid close code ${code}`);
    }
    this.#state = "closing";
    this.#closeCode = code;
    this.#closeReason = reason;
    this.#closeQueued = true;
    const frame = encodeFrame(OP.close, closePayload(code, reason));
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    this.#wake.set();
  }

  async receive(): Promise<WebSocketMessage | undefined> {
    try {
      return await this.#inbox.receive();
    } catch (error) {
      if (error instanceof EndOfStream || error instanceof ClosedResourceError) return undefined;
      throw error;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WebSocketMessage> {
    for (;;) {
      const message = await this.receive();
      if (message === undefined) return;
      yield message;
    }
  }

  closed(): Promise<void> {
    return this.#gone.wait();
  }

  /**
   * Runs the session: reader, writer and `onSocket`, until the socket is
   * gone; `onError` gets what `onSocket` throws.
   */
  async run(
    onSocket: (socket: WebSocketSession) => unknown,
    onError: (error: unknown) => void,
  ): Promise<void> {
    try {
      await taskGroup(async (tg) => {
        tg.spawn(() => this.#readLoop(), { name: "websocket reader" });
        tg.spawn(() => this.#writeLoop(), { name: "websocket writer" });
        tg.spawn(async () => {
          await this.#reaping.wait();
          await sleep(this.#limits.closeTimeoutMs);
          this.#destroy();
        }, { name: "websocket reaper" });
        tg.spawn(async () => {
          try {
            await onSocket(this);
            this.close(CODES.normal, "");
          } catch (error) {
            if (isCancellationError(error)) throw error;
            onError(error);
            this.close(CODES.internalError, "Internal error");
          }
        }, { name: "websocket session" });
        await this.#gone.wait();
        tg.cancelScope.cancel();
      });
    } finally {
      this.#destroy();
    }
  }

  /**
   * The peer reads too slowly: what waits is dropped, a close frame (1013)
   * goes first if the socket takes it, and the socket is closed once that
   * frame is written or `closeTimeoutMs` passed, whichever comes first:
   * no close handshake is waited for.
   */
  #overrun(reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closing";
    this.#closeCode = CODES.tryAgainLater;
    this.#closeReason = reason;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#closeQueued = true;
    this.#noHandshake = true;
    this.#urgent.push(encodeFrame(OP.close, closePayload(CODES.tryAgainLater, reason)));
    this.#reaping.set();
    this.#wake.set();
  }

  /** Ends at once: no handshake (the peer does not read, or broke the protocol badly). */
  #abort(code: number, reason: string): void {
    if (this.#closeCode === undefined || this.#state === "open") {
      this.#closeCode = code;
      this.#closeReason = reason;
    }
    this.#destroy();
  }

  #destroy(): void {
    if (this.#gone.isSet) return;
    this.#state = "closed";
    this.#queue = [];
    this.#urgent = [];
    this.#queuedBytes = 0;
    this.#transport.destroy();
    this.#inboxSend.close();
    this.#gone.set();
    this.#wake.set();
  }

  /** Refuses what the peer sent: a close frame with `code`, then the socket closes. */
  #refuse(code: number, reason: string): void {
    if (this.#state === "closed") return;
    // What waits to be sent is dropped: the peer broke the protocol.
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#state = "open";
    this.close(code, reason);
  }

  // ---- reading -------------------------------------------------------------------------

  async #readLoop(): Promise<void> {
    const reader = this.#transport.reader;
    const max = this.#limits.maxMessageBytes;
    const decoder = new TextDecoder("utf-8", { fatal: true });
    let parts: Uint8Array[] = [];
    let total = 0;
    let opcode = 0;
    try {
      for (;;) {
        let header = parseFrameHeader(reader.view());
        while (header === undefined) {
          if ((await reader.fill()) === 0) throw new EndOfInput();
          header = parseFrameHeader(reader.view());
        }
        reader.consume(header.size);
        if (header.opcode >= 0x8) {
          const payload = await this.#payload(header.length, header.mask!);
          this.#control(header.opcode, payload);
          if (this.#closeReceived) return;
          continue;
        }
        if (header.opcode === OP.continuation) {
          if (opcode === 0) throw new FrameError(1002, "a continuation frame starts no message");
        } else {
          if (opcode !== 0) throw new FrameError(1002, "a new message inside a fragmented one");
          opcode = header.opcode;
        }
        total += header.length;
        if (total > max) {
          throw new FrameError(
            CODES.messageTooBig,
            `Message too big: the limit is ${max} bytes`,
          );
        }
        parts.push(await this.#payload(header.length, header.mask!));
        if (!header.fin) continue;
        const bytes = parts.length === 1 ? parts[0] : concat(parts, total);
        let message: WebSocketMessage = bytes;
        if (opcode === OP.text) {
          try {
            message = decoder.decode(bytes);
          } catch {
            throw new FrameError(CODES.invalidData, "A text message is not valid UTF-8");
          }
        }
        parts = [];
        total = 0;
        opcode = 0;
        if (this.#state !== "open") continue; // closing: data is dropped
        try {
          await this.#inboxSend.send(message);
        } catch (error) {
          if (error instanceof ClosedResourceError || error instanceof EndOfStream) return;
          if ((error as Error)?.name === "BrokenResourceError") return;
          throw error;
        }
      }
    } catch (error) {
      if (error instanceof FrameError) {
        this.#refuse(error.code, error.message);
        // Read on, dropping every byte, until the peer's close frame (the writer
        // closes the socket at the close deadline): closing with unread bytes
        // would reset the connection and lose the close frame on the way.
        await this.#discardUntilClose().catch(() => {});
        return;
      }
      if (isCancellationError(error)) throw error;
      // The end of the stream, or the socket broke or was closed.
      this.#abort(1006, "");
    } finally {
      this.#inboxSend.close();
    }
  }

  async #discardUntilClose(): Promise<void> {
    const reader = this.#transport.reader;
    while (!this.#gone.isSet) {
      let header = parseFrameHeader(reader.view());
      while (header === undefined) {
        if ((await reader.fill()) === 0) return;
        header = parseFrameHeader(reader.view());
      }
      reader.consume(header.size);
      if (header.opcode === OP.close) {
        await this.#payload(header.length, header.mask!);
        this.#closeReceived = true;
        this.#wake.set();
        return;
      }
      let left = header.length;
      while (left > 0) {
        const chunk = await reader.chunk(Math.min(left, BATCH));
        if (chunk === null) return;
        left -= chunk.length;
      }
    }
  }

  async #payload(length: number, mask: Uint8Array): Promise<Uint8Array> {
    const reader = this.#transport.reader;
    const out = new Uint8Array(length);
    let offset = 0;
    while (offset < length) {
      if (reader.buffered === 0 && (await reader.fill()) === 0) throw new EndOfInput();
      const n = Math.min(reader.buffered, length - offset);
      out.set(reader.view().subarray(0, n), offset);
      reader.consume(n);
      offset += n;
    }
    unmask(out, mask);
    return out;
  }

  #control(opcode: number, payload: Uint8Array): void {
    if (opcode === OP.ping) {
      if (this.#state === "open") {
        this.#urgent.push(encodeFrame(OP.pong, payload));
        this.#wake.set();
      }
      return;
    }
    if (opcode === OP.pong) return;
    // Close.
    this.#closeReceived = true;
    let code: number = CODES.normal;
    let reason = "";
    if (payload.length === 1) throw new FrameError(1002, "a close frame of one byte");
    if (payload.length >= 2) {
      code = (payload[0] << 8) | payload[1];
      if (!isValidCloseCode(code)) throw new FrameError(1002, `invalid close code ${code}`);
      try {
        reason = new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2));
      } catch {
        throw new FrameError(CODES.invalidData, "A close reason is not valid UTF-8");
      }
    }
    if (this.#closeQueued) {
      // Our close went (or goes) first: the handshake is complete once it is written.
      this.#wake.set();
      return;
    }
    this.#state = "closing";
    this.#closeCode = payload.length >= 2 ? code : 1005;
    this.#closeReason = reason;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#closeQueued = true;
    this.#urgent.push(
      encodeFrame(OP.close, payload.length >= 2 ? closePayload(code, "") : new Uint8Array(0)),
    );
    this.#wake.set();
  }

  // ---- writing -------------------------------------------------------------------------

  async #writeLoop(): Promise<void> {
    try {
      for (;;) {
        while (this.#urgent.length === 0 && this.#queue.length === 0) {
          if (this.#gone.isSet) return;
          if (this.#closeQueued && this.#closeReceived) return this.#destroy();
          await this.#wake.wait();
          this.#wake = new Event();
        }
        if (this.#gone.isSet) return;
        if (this.#urgent.length === 0 && this.#queue.length < COALESCE) {
          // One turn of the event loop first: the frames that one read of the socket
          // brings are answered in one write instead of one write each.
          await macrotaskYield();
          if (this.#gone.isSet) return;
        }
        const batch: Uint8Array[] = [];
        let size = 0;
        let closeFrame = false;
        while (this.#urgent.length > 0) {
          const frame = this.#urgent.shift()!;
          if ((frame[0] & 0x0f) === OP.close) closeFrame = true;
          batch.push(frame);
          size += frame.length;
        }
        while (this.#queue.length > 0 && (size === 0 || size + this.#queue[0].length <= BATCH)) {
          const frame = this.#queue.shift()!;
          this.#queuedBytes -= frame.length;
          if ((frame[0] & 0x0f) === OP.close) closeFrame = true;
          batch.push(frame);
          size += frame.length;
        }
        await this.#transport.write(batch.length === 1 ? batch[0] : concat(batch, size));
        if (closeFrame) {
          if (!this.#closeReceived && !this.#noHandshake) {
            await moveOnAfter(this.#limits.closeTimeoutMs, async () => {
              while (!this.#closeReceived && !this.#gone.isSet) {
                await this.#wake.wait();
                this.#wake = new Event();
              }
            });
          }
          return this.#destroy();
        }
      }
    } catch (error) {
      if (isCancellationError(error)) throw error;
      this.#abort(1006, "");
    }
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
