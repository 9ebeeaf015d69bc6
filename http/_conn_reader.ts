// Buffered reading of one TCP connection, shared by the request parser, the
// request bodies and WebSocket frames: bytes are read into one buffer and
// consumed from its front. Private to the HTTP layer.

/** Reads a connection into a buffer; `onRead` is called after every read (the watchdog's progress). */
export class ConnReader {
  readonly #conn: Deno.Conn;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  /** Called after every read that returned bytes. */
  onRead: (() => void) | undefined;

  constructor(conn: Deno.Conn, size: number) {
    this.#conn = conn;
    this.#buf = new Uint8Array(size);
  }

  /** How many bytes are buffered. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** The buffered bytes (a view, valid until the next fill). */
  view(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Drops `n` buffered bytes. */
  consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /** A copy of the first `n` buffered bytes, consumed. */
  take(n: number): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.consume(n);
    return out;
  }

  /** Reads more bytes into the buffer; 0 at the end of the stream. The buffer never grows. */
  async fill(): Promise<number> {
    if (this.#end === this.#buf.length) {
      if (this.#start === 0) throw new RangeError("Cannot read: the buffer is full");
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null || n === 0) return 0;
    this.#end += n;
    this.onRead?.();
    return n;
  }

  /**
   * Up to `max` bytes: the buffered ones (copied) if any, else one read
   * into a fresh array of `max` bytes. `null` at the end of the stream.
   */
  async chunk(max: number): Promise<Uint8Array | null> {
    if (this.buffered > 0) return this.take(Math.min(max, this.buffered));
    const out = new Uint8Array(max);
    const n = await this.#conn.read(out);
    if (n === null || n === 0) return null;
    this.onRead?.();
    return n === max ? out : out.subarray(0, n);
  }
}
