// The data channel protocol of a content stream, shared by the Deno sender,
// the Deno receiver and the browser receiver (so it imports no runtime).
//
// One stream is one data channel, labelled STREAM_LABEL and opened by the
// receiver. Its first message is the request (text, JSON):
//   {"type":"request","cid":"<cid>","path":"a/b","offset":0,"length":null,"window":1048576}
// The sender answers with the blocks the range needs, in the order of the
// walk (`_dag_walk.ts`), each as a header message (binary: 0x01, the block's
// size as a big-endian u32, the CID's bytes) followed by its bytes in
// messages of at most MAX_CHUNK bytes; then {"type":"end"}, or
// {"type":"error","code","message"} instead. The receiver grants more room
// with {"type":"credit","bytes":N}: the sender never has more than `window`
// unacknowledged (each message counts its bytes, text as UTF-8, but at
// least MIN_MESSAGE_COST), so the receiver holds at most that much, whoever
// the sender is. Closing the
// channel from either end ends the stream (the sender's reads are cancelled).
//
// The connection's control channel (CONTROL_LABEL, negotiated with id
// CONTROL_ID: the offerer makes it before its offer, the answerer once it
// took the offer) carries {"type":"ping","t":n} and {"type":"pong","t":n}.

import { CID } from "npm:multiformats@14.0.5/cid";
import { StreamClosedError, WebRtcLimitError, WebRtcProtocolError } from "./errors.ts";

/** The label of a stream's data channel. */
export const STREAM_LABEL = "ipfs-kit/stream";
/** The label of a connection's control channel. */
export const CONTROL_LABEL = "ipfs-kit/control";
/**
 * The control channel's id: it is negotiated (both ends create it with this
 * id, no open message), the last id libdatachannel and Chromium allow. An
 * offerer's channel that is opened in band before the DTLS roles are known
 * may have its id changed under it by libdatachannel (seen: an open on
 * stream 0, then the channel known as 1); a negotiated one keeps its id.
 */
export const CONTROL_ID = 1023;
/** The most block bytes in one message. */
export const MAX_CHUNK = 65_536;
/** The largest block a stream carries (a 1 MiB chunk in a dag-pb node, and room). */
export const MAX_BLOCK_BYTES = 2 * 1024 * 1024;
/** The longest CID accepted in a header. */
export const MAX_CID_BYTES = 128;
/** The largest binary message: a chunk, or a header. */
export const MAX_BINARY_MESSAGE = MAX_CHUNK;
/** The largest text message. */
export const MAX_TEXT_MESSAGE = 8192;
/** The smallest window a receiver may grant: a chunk and a header must fit. */
export const MIN_WINDOW = 2 * MAX_CHUNK;
/** The largest window. */
export const MAX_WINDOW = 64 * 1024 * 1024;
/** The default window. */
export const DEFAULT_WINDOW = 4 * 1024 * 1024;
/** The longest path accepted in a request. */
export const MAX_PATH_LENGTH = 4096;

const HEADER = 0x01;
const encoder = new TextEncoder();

/**
 * How the shared code makes the IPFS floor's errors: the Deno side hands in
 * `NotFoundError` and `InvalidInputError` of `ipfs/errors.ts`; the browser
 * receiver classes of the same names, since the IPFS floor's errors module
 * reaches the runtime (`AsyncLocalStorage`), which browsers lack.
 */
export interface ErrorKinds {
  /** A path names nothing. */
  notFound(message: string, cid: string): Error;
  /** An argument, or the content, does not fit (a directory where a file was asked for). */
  invalidInput(message: string): Error;
}

/** A stream's request. */
export interface StreamRequest {
  cid: CID;
  /** Path segments below the CID. */
  path: string[];
  offset: number;
  /** `undefined`: to the end. */
  length: number | undefined;
  window: number;
}

/** The least a message counts for in a window (so tiny messages are bounded too). */
export const MIN_MESSAGE_COST = 1024;

/** What one message counts for in a window: its bytes, at least {@linkcode MIN_MESSAGE_COST}. */
export function messageCost(message: string | Uint8Array): number {
  return Math.max(messageBytes(message), MIN_MESSAGE_COST);
}

/** The bytes of a message (text as UTF-8). */
export function messageBytes(message: string | Uint8Array): number {
  return typeof message === "string" ? utf8Length(message) : message.byteLength;
}

function utf8Length(text: string): number {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.length : encoder.encode(text).length;
}

/** Splits a path (`"a/b"`, `"/a/b/"`) into segments; refuses `.`, `..` and empty names inside. */
export function pathSegments(
  path: string | undefined,
  what: string,
  errors: ErrorKinds,
): string[] {
  if (path === undefined || path === "") return [];
  if (typeof path !== "string") {
    throw errors.invalidInput(`${what}: path must be a string: received ${typeof path}`);
  }
  if (path.length > MAX_PATH_LENGTH) {
    throw errors.invalidInput(
      `${what}: path must have at most ${MAX_PATH_LENGTH} characters: received ${path.length}`,
    );
  }
  const segments = path.replace(/^\/+|\/+$/g, "").split("/");
  if (segments.length === 1 && segments[0] === "") return [];
  for (const segment of segments) {
    if (segment === "" || segment === "." || segment === "..") {
      throw errors.invalidInput(`${what}: path has an empty, "." or ".." segment: ${path}`);
    }
  }
  return segments;
}

/** Checks a byte offset or length option. */
export function checkRangeNumber(
  value: unknown,
  name: string,
  what: string,
  errors: ErrorKinds,
): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw errors.invalidInput(
      `${what}: ${name} must be a non-negative integer: received ${describe(value)}`,
    );
  }
  return value;
}

/** Checks a window option. */
export function checkWindow(value: unknown, what: string): number {
  if (value === undefined) return DEFAULT_WINDOW;
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < MIN_WINDOW ||
    value > MAX_WINDOW
  ) {
    throw new RangeError(
      `${what}: window must be an integer from ${MIN_WINDOW} to ${MAX_WINDOW}: received ${
        describe(value)
      }`,
    );
  }
  return value;
}

/** The request message. */
export function encodeRequest(request: StreamRequest): string {
  return JSON.stringify({
    type: "request",
    cid: request.cid.toString(),
    path: request.path.join("/"),
    offset: request.offset,
    length: request.length ?? null,
    window: request.window,
  });
}

/**
 * Reads a request message.
 *
 * @throws {WebRtcProtocolError} It is not a well-formed request.
 * @throws {InvalidInputError} A field is out of range (a bad path).
 */
export function parseRequest(message: string | Uint8Array, errors: ErrorKinds): StreamRequest {
  const what = "Cannot read request";
  const value = parseText(message, what);
  if (value.type !== "request") {
    throw new WebRtcProtocolError(`${what}: expected a request: received ${describe(value.type)}`);
  }
  checkFields(value, ["type", "cid", "path", "offset", "length", "window"], what);
  if (typeof value.cid !== "string" || value.cid.length > 512) {
    throw new WebRtcProtocolError(`${what}: cid must be a string`);
  }
  let cid: CID;
  try {
    cid = CID.parse(value.cid);
  } catch {
    throw new WebRtcProtocolError(`${what}: not a valid CID: ${JSON.stringify(value.cid)}`);
  }
  if (typeof value.path !== "string") {
    throw new WebRtcProtocolError(`${what}: path must be a string`);
  }
  let window: number;
  let offset: number | undefined;
  let length: number | undefined;
  try {
    offset = checkRangeNumber(value.offset, "offset", what, errors);
    length = checkRangeNumber(value.length, "length", what, errors);
    window = checkWindow(value.window, what);
  } catch (error) {
    throw new WebRtcProtocolError((error as Error).message);
  }
  return { cid, path: pathSegments(value.path, what, errors), offset: offset ?? 0, length, window };
}

/** A credit message. */
export function encodeCredit(bytes: number): string {
  return `{"type":"credit","bytes":${bytes}}`;
}

/** The end message. */
export const END_MESSAGE = '{"type":"end"}';

/** The codes of error messages, and what the receiver throws for each. */
export type WireErrorCode = "not_found" | "invalid_input" | "limit" | "protocol" | "internal";

/** An error message. */
export function encodeError(code: WireErrorCode, message: string): string {
  return JSON.stringify({ type: "error", code, message: message.slice(0, 1000) });
}

/** The error a receiver throws for an error message. */
export function errorFromWire(
  code: string,
  message: string,
  cid: string,
  errors: ErrorKinds,
): Error {
  const text = `The sender refused the stream: ${message}`;
  switch (code) {
    case "not_found":
      return errors.notFound(text, cid);
    case "invalid_input":
      return errors.invalidInput(text);
    case "limit":
      return new WebRtcLimitError(text, "streams", 0);
    case "protocol":
      return new WebRtcProtocolError(text);
    default:
      return new StreamClosedError(text);
  }
}

/** What the sender sent on a stream, once read. */
export type SenderMessage =
  | { kind: "header"; cid: CID; size: number }
  | { kind: "data"; bytes: Uint8Array }
  | { kind: "end" }
  | { kind: "error"; code: string; message: string };

/** The header of a block. */
export function encodeHeader(cid: CID, size: number): Uint8Array {
  const bytes = cid.bytes;
  const out = new Uint8Array(5 + bytes.length);
  out[0] = HEADER;
  new DataView(out.buffer).setUint32(1, size);
  out.set(bytes, 5);
  return out;
}

/**
 * Reads what the sender sent. `inBlock`: the receiver still expects bytes of
 * a block, so a binary message is data; otherwise it is a header.
 *
 * @throws {WebRtcProtocolError} A malformed or oversized message.
 */
export function parseSenderMessage(message: string | Uint8Array, inBlock: boolean): SenderMessage {
  const what = "Cannot read stream";
  if (typeof message !== "string") {
    if (message.byteLength > MAX_BINARY_MESSAGE) {
      throw new WebRtcProtocolError(
        `${what}: a message of ${message.byteLength} bytes, limit ${MAX_BINARY_MESSAGE}`,
      );
    }
    if (inBlock) return { kind: "data", bytes: message };
    if (message.byteLength < 6 || message[0] !== HEADER) {
      throw new WebRtcProtocolError(`${what}: expected a block header`);
    }
    if (message.byteLength - 5 > MAX_CID_BYTES) {
      throw new WebRtcProtocolError(`${what}: a CID of more than ${MAX_CID_BYTES} bytes`);
    }
    const size = new DataView(message.buffer, message.byteOffset, message.byteLength).getUint32(1);
    if (size > MAX_BLOCK_BYTES) {
      throw new WebRtcProtocolError(
        `${what}: a block of ${size} bytes announced, limit ${MAX_BLOCK_BYTES}`,
      );
    }
    let cid: CID;
    try {
      cid = CID.decode(message.subarray(5));
    } catch {
      throw new WebRtcProtocolError(`${what}: a block header with a malformed CID`);
    }
    return { kind: "header", cid, size };
  }
  if (inBlock) throw new WebRtcProtocolError(`${what}: a text message inside a block`);
  const value = parseText(message, what);
  if (value.type === "end") {
    checkFields(value, ["type"], what);
    return { kind: "end" };
  }
  if (value.type === "error") {
    checkFields(value, ["type", "code", "message"], what);
    if (typeof value.code !== "string" || typeof value.message !== "string") {
      throw new WebRtcProtocolError(`${what}: an error message needs a code and a message`);
    }
    return { kind: "error", code: value.code, message: value.message };
  }
  throw new WebRtcProtocolError(`${what}: unexpected message type ${describe(value.type)}`);
}

/**
 * Reads what the receiver sent after its request: a credit.
 *
 * @returns The bytes granted.
 * @throws {WebRtcProtocolError} Anything else.
 */
export function parseCredit(message: string | Uint8Array): number {
  const what = "Cannot read credit";
  const value = parseText(message, what);
  if (value.type !== "credit") {
    throw new WebRtcProtocolError(`${what}: unexpected message type ${describe(value.type)}`);
  }
  checkFields(value, ["type", "bytes"], what);
  const bytes = value.bytes;
  if (
    typeof bytes !== "number" || !Number.isSafeInteger(bytes) || bytes <= 0 || bytes > MAX_WINDOW
  ) {
    throw new WebRtcProtocolError(`${what}: bytes must be an integer from 1 to ${MAX_WINDOW}`);
  }
  return bytes;
}

/** A ping or pong on the control channel. */
export function parseControl(message: string | Uint8Array): { type: "ping" | "pong"; t: number } {
  const what = "Cannot read control message";
  const value = parseText(message, what);
  checkFields(value, ["type", "t"], what);
  if ((value.type !== "ping" && value.type !== "pong") || typeof value.t !== "number") {
    throw new WebRtcProtocolError(`${what}: expected a ping or a pong`);
  }
  return { type: value.type, t: value.t };
}

/**
 * The receiver's side of the window: counts what arrives against what was
 * granted, and says when to grant more.
 */
export class CreditWindow {
  #window: number;
  #granted: number;
  #arrived = 0;
  #consumed = 0;
  #pending = 0;

  constructor(window: number) {
    this.#window = window;
    this.#granted = window;
  }

  /**
   * Counts an arriving message.
   *
   * @throws {WebRtcProtocolError} It overruns the window.
   */
  arrived(bytes: number): void {
    this.#arrived += bytes;
    if (this.#arrived > this.#granted) {
      throw new WebRtcProtocolError(
        `Cannot read stream: the sender overran the window of ${this.#window} bytes`,
      );
    }
  }

  /** Counts a message taken from the queue; returns the bytes to grant now (0: not yet). */
  consumed(bytes: number): number {
    this.#consumed += bytes;
    this.#pending += bytes;
    if (this.#pending < this.#window / 4) return 0;
    const grant = this.#pending;
    this.#pending = 0;
    this.#granted += grant;
    return grant;
  }
}

function parseText(message: string | Uint8Array, what: string): Record<string, unknown> {
  if (typeof message !== "string") throw new WebRtcProtocolError(`${what}: expected text`);
  if (message.length > MAX_TEXT_MESSAGE) {
    throw new WebRtcProtocolError(
      `${what}: a text message of ${message.length} characters, limit ${MAX_TEXT_MESSAGE}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    throw new WebRtcProtocolError(`${what}: not JSON`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new WebRtcProtocolError(`${what}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

function checkFields(value: Record<string, unknown>, allowed: readonly string[], what: string) {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new WebRtcProtocolError(`${what}: unknown field ${JSON.stringify(key.slice(0, 64))}`);
    }
  }
}

/** A value, briefly, for an error message. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.slice(0, 64));
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}
