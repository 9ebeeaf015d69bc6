// WebSocket framing (RFC 6455) for the server side: frame headers read and
// checked before any payload is read (so an oversized message is refused
// before it is buffered), payloads unmasked, and server frames encoded
// (never masked). Private to the HTTP layer.

import { createHash } from "node:crypto";

/** Opcodes. */
export const OP = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** A frame's header. */
export interface FrameHeader {
  readonly fin: boolean;
  readonly opcode: number;
  readonly length: number;
  readonly mask: Uint8Array | undefined;
  /** How many bytes the header took. */
  readonly size: number;
}

/** A violation of the protocol: the connection is closed with `code`. */
export class FrameError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = "FrameError";
    this.code = code;
  }
}

/** The header at the front of `bytes`, or `undefined` when more bytes are needed. */
export function parseFrameHeader(bytes: Uint8Array): FrameHeader | undefined {
  if (bytes.length < 2) return undefined;
  const b0 = bytes[0];
  const b1 = bytes[1];
  if ((b0 & 0x70) !== 0) throw new FrameError(1002, "reserved bits set (no extension was agreed)");
  const opcode = b0 & 0x0f;
  const fin = (b0 & 0x80) !== 0;
  const masked = (b1 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let size = 2;
  if (opcode >= 0x8) {
    if (opcode > 0xa) throw new FrameError(1002, `unknown opcode ${opcode}`);
    if (!fin || length > 125) {
      throw new FrameError(1002, "a control frame is fragmented or too long");
    }
  } else if (opcode > 0x2) throw new FrameError(1002, `unknown opcode ${opcode}`);
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = (bytes[2] << 8) | bytes[3];
    size = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    const high = (bytes[2] << 24 >>> 0) + (bytes[3] << 16) + (bytes[4] << 8) + bytes[5];
    const low = (bytes[6] << 24 >>> 0) + (bytes[7] << 16) + (bytes[8] << 8) + bytes[9];
    length = high * 2 ** 32 + low;
    if (high >= 2 ** 21) length = Number.MAX_SAFE_INTEGER;
    size = 10;
  }
  if (!masked) throw new FrameError(1002, "a client frame is not masked");
  if (bytes.length < size + 4) return undefined;
  const mask = bytes.slice(size, size + 4);
  return { fin, opcode, length, mask, size: size + 4 };
}

/** Unmasks `payload` in place. */
export function unmask(payload: Uint8Array, mask: Uint8Array): void {
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
}

/** A server frame (unmasked, final). */
export function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const size = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(size + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = n;
  else if (n < 65536) {
    out[1] = 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 127;
    const high = Math.floor(n / 2 ** 32);
    out[2] = high >>> 24;
    out[3] = (high >>> 16) & 0xff;
    out[4] = (high >>> 8) & 0xff;
    out[5] = high & 0xff;
    out[6] = n >>> 24;
    out[7] = (n >>> 16) & 0xff;
    out[8] = (n >>> 8) & 0xff;
    out[9] = n & 0xff;
  }
  out.set(payload, size);
  return out;
}

const encoder = new TextEncoder();

/** A close frame's payload: the code and a reason cut to fit 123 bytes of UTF-8. */
export function closePayload(code: number, reason: string): Uint8Array {
  let bytes = encoder.encode(reason);
  if (bytes.length > 123) {
    let cut = reason.slice(0, 40);
    while (encoder.encode(cut).length > 123) cut = cut.slice(0, -1);
    bytes = encoder.encode(cut);
  }
  const out = new Uint8Array(2 + bytes.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(bytes, 2);
  return out;
}

/** Whether a peer may send `code` in a close frame. */
export function isValidCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The `Sec-WebSocket-Accept` for a key. */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}
