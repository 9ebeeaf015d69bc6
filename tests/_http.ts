/**
 * Test fixtures for HTTP servers on real sockets: raw HTTP/1.1 exchanges
 * (for what `fetch` will not send: a foreign Host, half-sent heads, bad
 * framing), raw WebSocket client frames (oversized, fragmented, invalid
 * UTF-8, unmasked) and a reader of the frames a server sends.
 *
 * @module
 */

const encoder = new TextEncoder();

/** An answer read off a raw connection. */
export interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Connects to `port` on 127.0.0.1. */
export function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Reads one answer (head and a body of its Content-Length) from `conn`. */
export async function readAnswer(conn: Deno.Conn): Promise<RawAnswer> {
  return (await readAnswers(conn, 1))[0];
}

/** Reads `count` answers sent one after the other (to pipelined requests) from `conn`. */
export async function readAnswers(conn: Deno.Conn, count: number): Promise<RawAnswer[]> {
  const answers: RawAnswer[] = [];
  let data = new Uint8Array(0);
  const buffer = new Uint8Array(16384);
  const decoder = new TextDecoder();
  for (;;) {
    const text = decoder.decode(data);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const lines = text.slice(0, end).split("\r\n");
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
      }
      const length = Number(headers.get("content-length") ?? 0);
      if (data.length >= end + 4 + length) {
        answers.push({
          status: Number(lines[0].split(" ")[1]),
          headers,
          body: text.slice(end + 4, end + 4 + length),
        });
        // The head is ASCII: its characters are its bytes.
        data = data.subarray(new TextEncoder().encode(text.slice(0, end + 4 + length)).length);
        if (answers.length === count) return answers;
        continue;
      }
    }
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`connection closed early: ${decoder.decode(data)}`);
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(buffer.subarray(0, n), data.length);
    data = next;
  }
}

/** One raw HTTP/1.1 exchange on a new connection: writes `head` (and `body`), reads the answer. */
export async function rawRequest(
  port: number,
  head: string,
  body?: Uint8Array,
): Promise<RawAnswer> {
  using conn = await connect(port);
  await conn.write(encoder.encode(head));
  if (body !== undefined) await conn.write(body);
  return await readAnswer(conn);
}

/** Reads until the server closes `conn`; how many bytes came. */
export async function readToEnd(conn: Deno.Conn): Promise<number> {
  const buffer = new Uint8Array(65536);
  let total = 0;
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return total;
      total += n;
    }
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionReset) return total;
    throw error;
  }
}

/** The head of a WebSocket upgrade of `path`, ending with the blank line. */
export function upgradeHead(port: number, path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\n` +
    `Sec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** Opens a raw WebSocket to `path`: the connection after the server's 101, and a frame reader. */
export async function openRawWebSocket(
  port: number,
  path: string,
  extra = "",
): Promise<{ conn: Deno.TcpConn; frames: FrameReader; answer: string }> {
  const conn = await connect(port);
  await conn.write(encoder.encode(upgradeHead(port, path, extra)));
  // The 101 answer, alone: nothing is sent before it.
  let answer = "";
  const byte = new Uint8Array(1);
  while (!answer.endsWith("\r\n\r\n") && (await conn.read(byte)) !== null) {
    answer += String.fromCharCode(byte[0]);
  }
  return { conn, frames: new FrameReader(conn), answer };
}

/** Options of {@linkcode clientFrame}. */
export interface ClientFrameOptions {
  /** The opcode; default 1 (text). */
  opcode?: number;
  /** The FIN bit; default true. */
  fin?: boolean;
  /** Mask the payload (clients must); default true. */
  masked?: boolean;
  /** The length to declare, if not the payload's (a header that promises more than follows). */
  declaredLength?: number;
}

/** A client frame (masked unless told otherwise). */
export function clientFrame(
  payload: string | Uint8Array,
  options: ClientFrameOptions = {},
): Uint8Array {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  const { opcode = 1, fin = true, masked = true } = options;
  const length = options.declaredLength ?? bytes.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) head.push(maskBit | length);
  else if (length < 65536) head.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    head.push(maskBit | 127, 0, 0);
    const high = Math.floor(length / 2 ** 32);
    head.push((high >>> 8) & 0xff, high & 0xff);
    head.push(length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
  }
  const mask = masked ? crypto.getRandomValues(new Uint8Array(4)) : new Uint8Array(0);
  const frame = new Uint8Array(head.length + mask.length + bytes.length);
  frame.set(head);
  frame.set(mask, head.length);
  const start = head.length + mask.length;
  for (let i = 0; i < bytes.length; i++) {
    frame[start + i] = masked ? bytes[i] ^ mask[i % 4] : bytes[i];
  }
  return frame;
}

/** What {@linkcode FrameReader.read} found. */
export interface FramesRead {
  /** The text messages. */
  texts: string[];
  /** The close frame's code, if one came. */
  code: number | undefined;
  /** The close frame's reason. */
  reason: string;
}

/** A reader of the frames a server sends. */
export class FrameReader {
  readonly #conn: Deno.Conn;
  #data = new Uint8Array(0);
  readonly #buffer = new Uint8Array(1 << 16);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /**
   * Reads until `stop(texts)` holds or a close frame comes; at the end of
   * the stream returns what came when `endOk`, else throws.
   */
  async read(
    stop: (texts: string[]) => boolean,
    options: { endOk?: boolean } = {},
  ): Promise<FramesRead> {
    const texts: string[] = [];
    const decoder = new TextDecoder();
    for (;;) {
      for (;;) {
        const data = this.#data;
        if (data.length < 2) break;
        const opcode = data[0] & 0x0f;
        let length = data[1] & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (data.length < 4) break;
          length = (data[2] << 8) | data[3];
          offset = 4;
        } else if (length === 127) {
          if (data.length < 10) break;
          length = Number(new DataView(data.buffer, data.byteOffset + 2, 8).getBigUint64(0));
          offset = 10;
        }
        if (data.length < offset + length) break;
        this.#data = data.subarray(offset + length);
        if (opcode === 0x8) {
          return {
            texts,
            code: length >= 2 ? (data[offset] << 8) | data[offset + 1] : undefined,
            reason: decoder.decode(data.subarray(offset + 2, offset + length)),
          };
        }
        if (opcode === 0x1) {
          texts.push(decoder.decode(data.subarray(offset, offset + length)));
          if (stop(texts)) return { texts, code: undefined, reason: "" };
        }
      }
      let n: number | null;
      try {
        n = await this.#conn.read(this.#buffer);
      } catch (error) {
        if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
        n = null;
      }
      if (n === null) {
        if (options.endOk) return { texts, code: undefined, reason: "" };
        throw new Error("connection closed without a close frame");
      }
      const next = new Uint8Array(this.#data.length + n);
      next.set(this.#data);
      next.set(this.#buffer.subarray(0, n), this.#data.length);
      this.#data = next;
    }
  }
}
