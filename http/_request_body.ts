// The body of one request as a ReadableStream that reads the connection only
// when pulled: by Content-Length or in chunked coding, refused past its
// limit (413) as soon as the bytes read pass it, with `100 Continue` sent on
// the first pull when the client asked for it. Private to the HTTP layer.

import type { ConnReader } from "./_conn_reader.ts";
import { HttpError } from "./errors.ts";

const CHUNK = 64 * 1024;
const MAX_LINE = 4096;
const MAX_TRAILERS = 16 * 1024;

/** Where a body stands. */
export type BodyState = "unread" | "reading" | "done" | "failed";

/** One request's body. */
export class RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  readonly #reader: ConnReader;
  readonly #chunked: boolean;
  readonly #limit: number;
  readonly #onFirstPull: (() => Promise<void>) | undefined;
  /** Wraps every socket read (the connection's stall deadline). */
  readonly #guard: <T>(read: () => Promise<T>) => Promise<T>;
  #remaining: number;
  #received = 0;
  #state: BodyState = "unread";
  /** Chunked: bytes left of the current chunk; -1 before the first size line. */
  #chunkLeft = -1;

  constructor(
    reader: ConnReader,
    length: number | undefined,
    chunked: boolean,
    limit: number,
    onFirstPull?: () => Promise<void>,
    guard: <T>(read: () => Promise<T>) => Promise<T> = (read) => read(),
  ) {
    this.#guard = guard;
    this.#reader = reader;
    this.#chunked = chunked;
    this.#remaining = length ?? 0;
    this.#limit = limit;
    this.#onFirstPull = onFirstPull;
    this.stream = new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pull(controller),
      cancel: () => {
        if (this.#state !== "done") this.#state = "failed";
      },
    }, { highWaterMark: 0 });
  }

  get state(): BodyState {
    return this.#state;
  }

  /** Whether the whole body was read and the connection is at the next request. */
  get complete(): boolean {
    return this.#state === "done";
  }

  /** Whether {@linkcode RequestBody.drain} would keep the connection. */
  canDrain(max: number): boolean {
    return this.#state === "done" ||
      (this.#state === "unread" && !this.#chunked && this.#remaining <= max);
  }

  /**
   * Reads and drops what is left of the body when it is at most `max`
   * bytes (by Content-Length) and nobody touched the stream; whether the
   * connection may be reused.
   */
  async drain(max: number): Promise<boolean> {
    if (this.#state === "done") return true;
    if (this.#state !== "unread" || this.#chunked || this.#remaining > max) return false;
    this.#state = "reading";
    while (this.#remaining > 0) {
      const chunk = await this.#guard(() => this.#reader.chunk(Math.min(this.#remaining, CHUNK)));
      if (chunk === null) {
        this.#state = "failed";
        return false;
      }
      this.#remaining -= chunk.length;
    }
    this.#state = "done";
    return true;
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    try {
      if (this.#state === "unread") {
        this.#state = "reading";
        await this.#onFirstPull?.();
      }
      const chunk = this.#chunked ? await this.#nextChunked() : await this.#nextLength();
      if (chunk === null) {
        this.#state = "done";
        controller.close();
        return;
      }
      this.#received += chunk.length;
      if (this.#received > this.#limit) {
        throw new HttpError(
          413,
          "body_too_large",
          `Cannot read request body: it exceeds ${this.#limit} bytes: received at least ${this.#received}`,
          { details: { limit: this.#limit } },
        );
      }
      controller.enqueue(chunk);
      if (!this.#chunked && this.#remaining === 0) {
        this.#state = "done";
        controller.close();
      }
    } catch (error) {
      this.#state = "failed";
      controller.error(
        error instanceof HttpError ? error : new HttpError(
          400,
          "bad_request",
          `Cannot read request body: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        ),
      );
    }
  }

  async #nextLength(): Promise<Uint8Array | null> {
    if (this.#remaining === 0) return null;
    const chunk = await this.#guard(() => this.#reader.chunk(Math.min(this.#remaining, CHUNK)));
    if (chunk === null) throw new Error("the connection closed before the body ended");
    this.#remaining -= chunk.length;
    return chunk;
  }

  async #nextChunked(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#chunkLeft > 0) {
        const chunk = await this.#guard(() => this.#reader.chunk(Math.min(this.#chunkLeft, CHUNK)));
        if (chunk === null) throw new Error("the connection closed inside a chunk");
        this.#chunkLeft -= chunk.length;
        if (this.#chunkLeft === 0) {
          if ((await this.#line(2)) !== "") throw new Error("a chunk does not end with CRLF");
          this.#chunkLeft = -1;
        }
        return chunk;
      }
      const line = await this.#line(MAX_LINE);
      const size = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/.exec(line);
      if (size === null) throw new Error("malformed chunk size");
      const n = parseInt(size[1], 16);
      if (n === 0) {
        let trailers = 0;
        for (;;) {
          const trailer = await this.#line(MAX_LINE);
          if (trailer === "") return null;
          trailers += trailer.length;
          if (trailers > MAX_TRAILERS) throw new Error("trailers too large");
        }
      }
      if (this.#received + n > this.#limit) {
        throw new HttpError(
          413,
          "body_too_large",
          `Cannot read request body: it exceeds ${this.#limit} bytes: received at least ${
            this.#received + n
          }`,
          { details: { limit: this.#limit } },
        );
      }
      this.#chunkLeft = n;
    }
  }

  /** One CRLF-terminated line of at most `max` characters, without its CRLF. */
  async #line(max: number): Promise<string> {
    const reader = this.#reader;
    let scanned = 0;
    for (;;) {
      const view = reader.view();
      for (let i = Math.max(scanned, 1); i < view.length; i++) {
        if (view[i] === 10 && view[i - 1] === 13) {
          const line = String.fromCharCode(...view.subarray(0, i - 1));
          reader.consume(i + 1);
          return line;
        }
      }
      scanned = view.length;
      if (view.length > max + 2) throw new Error("a chunk line is too long");
      if ((await this.#guard(() => reader.fill())) === 0) {
        throw new Error("the connection closed inside a chunk");
      }
    }
  }
}
