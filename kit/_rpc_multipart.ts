/**
 * A streaming `multipart/form-data` reader for the RPC API's uploads (`add`,
 * `files/write`, `block/put`, `dag/put`), as `kubo-rpc-client` sends them:
 * parts one after another, each with a `Content-Disposition` (name,
 * URL-encoded `filename`) and a `Content-Type` (`application/octet-stream`
 * for a file, `application/x-directory`, `application/symlink`).
 *
 * A part's content is read from the request body as it is consumed: never
 * more than one body chunk and a delimiter's length are held. Parts are
 * read in order: the next part can be asked for once the current one's
 * content has been read (or it is skipped, unread, then).
 *
 * @module
 */

import { RpcArgumentError } from "./_rpc_errors.ts";

/** One part's headers. */
export interface PartHeaders {
  /** The form field's name (`file`, `dir`, `file-1`, ...). */
  name: string;
  /** The `filename`, URL-decoded (`""` when empty or absent). */
  filename: string;
  /** The part's type, lower case (`application/octet-stream` when absent). */
  type: string;
}

/** One part: its headers and its content, read as it is iterated (once). */
export interface Part extends PartHeaders {
  content: AsyncIterable<Uint8Array>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** The longest header block a part may have. */
const MAX_HEADERS = 16 * 1024;

/**
 * The boundary of a `multipart/form-data` request.
 *
 * @throws {RpcArgumentError} The request is not multipart.
 */
export function boundaryOf(contentType: string | null): string {
  const match = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=("?)([^";]+)\1/i.exec(
    contentType ?? "",
  );
  if (match === null) {
    throw new RpcArgumentError(
      `file argument 'path' is required (expected a multipart/form-data body: received ${
        JSON.stringify(contentType ?? "no content type")
      })`,
    );
  }
  return match[2];
}

/** Reads the parts of a multipart body, one at a time. */
export class MultipartReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #delimiter: Uint8Array;
  #buffer: Uint8Array = new Uint8Array(0);
  #ended = false;
  /** The part being read: its content's iterator must finish before the next part. */
  #current: AsyncGenerator<Uint8Array, void, undefined> | undefined;
  #started = false;
  #finished = false;

  /**
   * @param body The request body.
   * @param boundary The boundary (from {@linkcode boundaryOf}).
   */
  constructor(body: ReadableStream<Uint8Array>, boundary: string) {
    this.#reader = body.getReader();
    this.#delimiter = encoder.encode(`\r\n--${boundary}`);
  }

  /** Releases the body (cancelling what is left of it). */
  async cancel(reason?: unknown): Promise<void> {
    this.#finished = true;
    await this.#reader.cancel(reason).catch(() => {});
  }

  /**
   * The next part, or `undefined` after the last. An unread rest of the
   * previous part's content is skipped.
   *
   * @throws {RpcArgumentError} The body is not well-formed multipart.
   */
  async next(): Promise<Part | undefined> {
    if (this.#finished) return undefined;
    if (this.#current !== undefined) {
      for await (const _ of this.#current) { /* skip the rest */ }
      this.#current = undefined;
    }
    if (!this.#started) {
      this.#started = true;
      // The first delimiter has no CRLF before it: put one in front.
      this.#buffer = concat(encoder.encode("\r\n"), this.#buffer);
      await this.#skipTo();
    }
    // After a delimiter: "--" ends the body, CRLF starts a part.
    await this.#fill(2);
    if (this.#buffer[0] === 0x2d && this.#buffer[1] === 0x2d) {
      // The body must also end cleanly: a client that aborts its upload may
      // have sent the closing boundary first (kubo-rpc-client does), and only
      // a body cut short tells the upload failed, before anything is pinned.
      let epilogue = this.#buffer.length;
      while (await this.#read()) {
        epilogue += this.#buffer.length;
        this.#buffer = new Uint8Array(0);
        if (epilogue > MAX_HEADERS) throw malformed("too much after the closing boundary");
      }
      this.#finished = true;
      return undefined;
    }
    const headers = await this.#headers();
    const content = this.#content();
    this.#current = content;
    return { ...headers, content };
  }

  /** Skips to just after the next delimiter (the preamble). */
  async #skipTo(): Promise<void> {
    for (;;) {
      const at = indexOf(this.#buffer, this.#delimiter);
      if (at !== -1) {
        this.#buffer = this.#buffer.subarray(at + this.#delimiter.length);
        return;
      }
      const keep = Math.max(0, this.#buffer.length - this.#delimiter.length);
      this.#buffer = this.#buffer.subarray(keep);
      if (!(await this.#read())) throw malformed("no boundary found");
    }
  }

  /** The part's header lines, up to the blank line. */
  async #headers(): Promise<PartHeaders> {
    for (;;) {
      const at = indexOf(this.#buffer, CRLFCRLF);
      if (at !== -1) {
        // The header block starts with the CRLF that ended the delimiter line.
        const text = decoder.decode(this.#buffer.subarray(0, at));
        this.#buffer = this.#buffer.subarray(at + 4);
        return parseHeaders(text);
      }
      if (this.#buffer.length > MAX_HEADERS) throw malformed("a part's headers are too long");
      if (!(await this.#read())) throw malformed("the body ends inside a part's headers");
    }
  }

  /** The part's content, up to the next delimiter. */
  async *#content(): AsyncGenerator<Uint8Array, void, undefined> {
    const delimiter = this.#delimiter;
    for (;;) {
      const at = indexOf(this.#buffer, delimiter);
      if (at !== -1) {
        const piece = this.#buffer.subarray(0, at);
        this.#buffer = this.#buffer.subarray(at + delimiter.length);
        if (piece.length > 0) yield piece;
        return;
      }
      // All but the last delimiter-length bytes are content for sure.
      const safe = this.#buffer.length - (delimiter.length - 1);
      if (safe > 0) {
        const piece = this.#buffer.subarray(0, safe);
        this.#buffer = this.#buffer.subarray(safe);
        yield piece;
      }
      if (!(await this.#read())) throw malformed("the body ends inside a part");
    }
  }

  /** Reads until the buffer holds `count` bytes. */
  async #fill(count: number): Promise<void> {
    while (this.#buffer.length < count) {
      if (!(await this.#read())) throw malformed("the body ends after a boundary");
    }
  }

  /** Appends the body's next chunk to the buffer; false at its end. */
  async #read(): Promise<boolean> {
    if (this.#ended) return false;
    const { done, value } = await this.#reader.read();
    if (done) {
      this.#ended = true;
      return false;
    }
    this.#buffer = this.#buffer.length === 0 ? value : concat(this.#buffer, value);
    return true;
  }
}

const CRLFCRLF = encoder.encode("\r\n\r\n");

function malformed(why: string): RpcArgumentError {
  return new RpcArgumentError(`Cannot read the multipart body: ${why}`);
}

function parseHeaders(text: string): PartHeaders {
  let name = "";
  let filename = "";
  let type = "application/octet-stream";
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon === -1) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === "content-disposition") {
      name = /\bname="([^"]*)"/i.exec(value)?.[1] ?? "";
      const raw = /\bfilename="([^"]*)"/i.exec(value)?.[1] ?? "";
      try {
        filename = decodeURIComponent(raw);
      } catch {
        throw malformed(`a filename is not URL-encoded: ${JSON.stringify(raw)}`);
      }
    } else if (key === "content-type") {
      type = value.toLowerCase();
    }
  }
  return { name, filename, type };
}

/** Where `needle` first occurs in `haystack`, or -1. */
function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  let at = haystack.indexOf(first);
  while (at !== -1 && at <= last) {
    let i = 1;
    while (i < needle.length && haystack[at + i] === needle[i]) i++;
    if (i === needle.length) return at;
    at = haystack.indexOf(first, at + 1);
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
