// Writing a Response on an HTTP/1.1 connection: the status line and header
// fields (hop-by-hop fields of the handler dropped), then the body by its
// Content-Length when it is declared or known (a body of one chunk), else in
// chunked coding. Large chunks are written as they come, without copying.
// Private to the HTTP layer.

import { ReadAhead } from "./_read_ahead.ts";

const SMALL = 16 * 1024;
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "content-length",
]);
const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  507: "Insufficient Storage",
};

const encoder = new TextEncoder();

/** Text to bytes: Latin-1 (header values are octets), by the fast path when it is ASCII. */
export function latin1Bytes(text: string): Uint8Array {
  // deno-lint-ignore no-control-regex
  if (!/[^\x00-\x7f]/.test(text)) return encoder.encode(text);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Writes all of `bytes`. */
export type WriteAll = (bytes: Uint8Array) => Promise<void>;

/** How to write one response. */
export interface ResponseWriteOptions {
  /** The request was HEAD: no body is written. */
  head: boolean;
  /** Close the connection after this response (`connection: close`). */
  close: boolean;
  /** Header fields added by the server (CORS and the like), after the handler's. */
  extra?: readonly [string, string][];
  /** Writes the response's last bytes when it is one write, without waiting for them (default `write`). */
  last?: WriteAll;
}

/** The status line and fields of a response, ending with the blank line. */
function headText(
  response: Response,
  options: ResponseWriteOptions,
  framing: string,
): string {
  const status = response.status;
  let text = `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}\r\n`;
  for (const [name, value] of response.headers) {
    if (HOP_BY_HOP.has(name)) continue;
    text += `${name}: ${value}\r\n`;
  }
  for (const [name, value] of options.extra ?? []) text += `${name}: ${value}\r\n`;
  text += framing;
  if (options.close) text += "connection: close\r\n";
  return text + "\r\n";
}

function concat(a: Uint8Array, b: Uint8Array, c?: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length + (c?.length ?? 0));
  out.set(a);
  out.set(b, a.length);
  if (c !== undefined) out.set(c, a.length + b.length);
  return out;
}

const CRLF = encoder.encode("\r\n");
const LAST_CHUNK = encoder.encode("0\r\n\r\n");
const EMPTY = new Uint8Array(0);

/**
 * Writes `response`. Throws when the connection breaks or the body does
 * not match its declared length; the caller closes the connection then.
 */
export async function writeResponse(
  write: WriteAll,
  response: Response,
  options: ResponseWriteOptions,
): Promise<void> {
  const status = response.status;
  const body = response.body;
  const declared = response.headers.get("content-length");
  if (declared !== null && !/^\d{1,15}$/.test(declared)) {
    await body?.cancel().catch(() => {});
    throw new TypeError(`Cannot write response: malformed content-length ${declared}`);
  }
  const noBody = status === 204 || status === 304 || (status >= 100 && status < 200);
  if (noBody || options.head) {
    let framing = "";
    if (!noBody) {
      if (declared !== null) framing = `content-length: ${declared}\r\n`;
      else {
        // As GET would answer: the length of a body of one chunk, none for a stream.
        const length = body === null ? 0 : await singleChunkLength(body);
        if (length !== undefined) framing = `content-length: ${length}\r\n`;
      }
    }
    if (body !== null && !body.locked) await body.cancel().catch(() => {});
    await (options.last ?? write)(latin1Bytes(headText(response, options, framing)));
    return;
  }
  if (body === null) {
    await (options.last ?? write)(
      latin1Bytes(headText(response, options, "content-length: 0\r\n")),
    );
    return;
  }
  const reader = body.getReader();
  let done = false;
  try {
    if (declared !== null) {
      const length = Number(declared);
      const head = latin1Bytes(headText(response, options, `content-length: ${length}\r\n`));
      let sent = 0;
      let next = reader.read();
      if (length <= SMALL) {
        // A small body: the head and the first chunk in one write; when that chunk
        // is the whole body, the write is the response's last.
        const first = await next;
        const chunk = first.done ? new Uint8Array(0) : asBytes(first.value);
        if (chunk.length === length) {
          done = true;
          await (options.last ?? write)(concat(head, chunk));
          // Past its length a body is an error, but the answer went out whole.
          void reader.cancel().catch(() => {});
          return;
        }
        if (first.done) {
          done = true;
          throw new RangeError(
            "Cannot write response: the body is shorter than its content-length",
          );
        }
        await write(concat(head, chunk));
        sent = chunk.length;
        next = reader.read();
      } else await write(head);
      // Read ahead: the next chunks are read while these are written, and the
      // ones already there go out in one write.
      const ahead = new ReadAhead(reader, next);
      for (let chunk = await ahead.next(); chunk !== null; chunk = await ahead.next()) {
        sent += chunk.length;
        if (sent > length) {
          throw new RangeError("Cannot write response: the body exceeds its content-length");
        }
        if (chunk.length > 0) await write(chunk);
      }
      done = true;
      if (sent !== length) {
        throw new RangeError("Cannot write response: the body is shorter than its content-length");
      }
      return;
    }
    const first = await reader.read();
    if (first.done) {
      done = true;
      await (options.last ?? write)(
        latin1Bytes(headText(response, options, "content-length: 0\r\n")),
      );
      return;
    }
    const one = asBytes(first.value);
    // A body of one chunk (a string, bytes) is known whole when its next read is
    // settled at once; else it is a stream, sent chunked without waiting.
    const secondRead = reader.read();
    void secondRead.catch(() => {});
    const second = await settledNow(secondRead);
    if (second !== undefined && second.done) {
      done = true;
      const head = latin1Bytes(headText(response, options, `content-length: ${one.length}\r\n`));
      if (one.length <= SMALL) await (options.last ?? write)(concat(head, one));
      else {
        await write(head);
        await write(one);
      }
      return;
    }
    // Chunked: each chunk goes out as it comes (a stream of small, slow chunks is not held back).
    let pending: Uint8Array = latin1Bytes(
      headText(response, options, "transfer-encoding: chunked\r\n"),
    );
    const emit = async (chunk: Uint8Array) => {
      if (chunk.length === 0) return;
      const prefix = encoder.encode(`${chunk.length.toString(16)}\r\n`);
      if (chunk.length <= SMALL) {
        await write(concat(concat(pending, prefix), chunk, CRLF));
        pending = EMPTY;
      } else {
        await write(concat(pending, prefix));
        await write(chunk);
        pending = CRLF;
      }
    };
    await emit(one);
    const ahead = new ReadAhead(reader, secondRead);
    for (let chunk = await ahead.next(); chunk !== null; chunk = await ahead.next()) {
      await emit(chunk);
    }
    done = true;
    await write(concat(pending, LAST_CHUNK));
  } finally {
    // No releaseLock(): the stream is not used again, and releasing costs an Error (about 40 us).
    if (!done) await reader.cancel().catch(() => {});
  }
}

const NOT_YET = Symbol("not yet");
const SETTLED_MARK: Promise<typeof NOT_YET> = Promise.resolve(NOT_YET);

/** What `read` settled with, if it has settled already; `undefined` if not yet. */
async function settledNow<T>(read: Promise<T>): Promise<T | undefined> {
  const result = await Promise.race([read, SETTLED_MARK]);
  return result === NOT_YET ? undefined : result as T;
}

function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new TypeError("Cannot write response: a body chunk is not a Uint8Array");
}

/** The length of a body that is one chunk (or none); `undefined` for more. Leaves the stream locked. */
async function singleChunkLength(body: ReadableStream<Uint8Array>): Promise<number | undefined> {
  const reader = body.getReader();
  try {
    const first = await reader.read();
    if (first.done) return 0;
    const next = reader.read();
    void next.catch(() => {});
    const second = await settledNow(next);
    return second?.done ? asBytes(first.value).length : undefined;
  } catch {
    return undefined;
  } finally {
    await reader.cancel().catch(() => {});
  }
}
