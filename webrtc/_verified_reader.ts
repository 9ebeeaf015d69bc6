// What a receiver does with the sender's messages, for the Deno receiver and
// the browser receiver alike (so it imports no runtime): count them against
// the window and grant it back, put blocks together, check each against
// the walk, and yield the bytes they hold in the range. The caller supplies
// how a message is received and how credit is sent.

import { VerificationError, WebRtcProtocolError } from "./errors.ts";
import { BlockAssembler } from "./_block_assembler.ts";
import { RangeWalk } from "./_dag_walk.ts";
import {
  CreditWindow,
  encodeCredit,
  errorFromWire,
  type ErrorKinds,
  messageCost,
  type StreamRequest,
} from "./_wire.ts";

/** How a {@linkcode VerifiedReader} talks to its channel. */
export interface ReaderChannel {
  /** The next message; `null` once the channel closed and every message was received. */
  receive(): Promise<string | Uint8Array | null>;
  /** Sends a short text message (a credit). */
  send(text: string): void;
  /** The error for a channel that closed before the stream's end. */
  closedEarly(): Error;
  /** Told of each verified block's size. */
  verified?(bytes: number): void;
  /** Told of each refused block. */
  refused?(): void;
}

/** One stream's receiving logic. */
export class VerifiedReader {
  readonly #request: StreamRequest;
  readonly #channel: ReaderChannel;
  readonly #walk: RangeWalk;
  readonly #window: CreditWindow;
  readonly #assembler = new BlockAssembler();
  readonly #errors: ErrorKinds;

  constructor(request: StreamRequest, channel: ReaderChannel, errors: ErrorKinds) {
    this.#request = request;
    this.#channel = channel;
    this.#errors = errors;
    this.#walk = new RangeWalk(request.cid, request.path, {
      offset: request.offset,
      length: request.length,
    }, errors);
    this.#window = new CreditWindow(request.window);
  }

  /** The file's size, once the sender sent its root. */
  get fileSize(): number | undefined {
    return this.#walk.fileSize;
  }

  /** Bytes that need no block (identity CIDs at the start); call once, after sending the request. */
  start(): Promise<Uint8Array[]> {
    return this.#walk.start();
  }

  /** Whether every block the range needs was verified. */
  get complete(): boolean {
    return this.#walk.done;
  }

  /**
   * Reads until a verified block yields bytes of the range.
   *
   * @returns Those bytes, or `undefined` once the sender ended the stream
   * and every block was verified.
   * @throws {VerificationError} A block was refused; none of its bytes went out.
   * @throws {WebRtcProtocolError} The sender broke the protocol.
   * @throws {Error} The sender's error (`NotFoundError`, ...), or `closedEarly()`.
   */
  async next(): Promise<Uint8Array[] | undefined> {
    const walk = this.#walk;
    for (;;) {
      const message = await this.#channel.receive();
      if (message === null) throw this.#channel.closedEarly();
      const grant = this.#window.consumed(messageCost(message));
      if (grant > 0) this.#channel.send(encodeCredit(grant));
      let out: Uint8Array[];
      try {
        const event = this.#assembler.push(message, walk.next());
        if (event.kind === "pending") continue;
        if (event.kind === "end") {
          if (!walk.done) {
            throw new WebRtcProtocolError(
              `Cannot read stream: the sender ended it before block ${walk.next()}`,
            );
          }
          return undefined;
        }
        if (event.kind === "error") {
          throw errorFromWire(
            event.code,
            event.message,
            this.#request.cid.toString(),
            this.#errors,
          );
        }
        out = await walk.accept(event.cid, event.bytes, true);
        this.#channel.verified?.(event.bytes.length);
      } catch (error) {
        if (error instanceof VerificationError) this.#channel.refused?.();
        throw error;
      }
      if (out.length > 0) return out;
    }
  }
}
