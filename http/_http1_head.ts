// The head of an HTTP/1.1 request: its request line and header fields, read
// and checked strictly (RFC 9112): CRLF line ends, no folded lines, token
// names, no control characters in values, one Host, one Content-Length, no
// Content-Length beside Transfer-Encoding (request smuggling), chunked as the
// only transfer coding. Private to the HTTP layer.

import { HttpError } from "./errors.ts";

/** A parsed request head. */
export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /** `1` for HTTP/1.1, `0` for HTTP/1.0. */
  readonly minor: number;
  readonly headers: [string, string][];
  readonly host: string;
  /** The declared body length; `undefined` with chunked coding or no body. */
  readonly contentLength: number | undefined;
  readonly chunked: boolean;
  /** Whether the connection closes after this request. */
  readonly close: boolean;
  readonly expectContinue: boolean;
  /** Whether it asks for a WebSocket upgrade. */
  readonly upgrade: boolean;
}

const CR = 13;
const LF = 10;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_~%!$&'()*+,;=]*)(:\d{1,5})?$/;

/** Where the head ends (the index after CRLF CRLF) in `bytes`, searching from `from`; -1 if not there yet. */
export function headEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(from, 3); i < bytes.length; i++) {
    if (bytes[i] === LF && bytes[i - 1] === CR && bytes[i - 2] === LF && bytes[i - 3] === CR) {
      return i + 1;
    }
  }
  return -1;
}

function bad(message: string, status = 400, code = "bad_request"): HttpError {
  return new HttpError(status, code, `Cannot read request: ${message}`);
}

/** Decodes bytes as Latin-1 (a header's bytes are octets). */
function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}

/**
 * Parses a head (its bytes up to and including the blank line).
 *
 * @throws {HttpError} 400 malformed, 414 target too long, 431 too many fields, 501 unknown coding, 505 version.
 */
export function parseHead(bytes: Uint8Array, maxTarget: number, maxFields: number): RequestHead {
  const text = latin1(bytes.subarray(0, bytes.length - 4));
  const lines = text.split("\r\n");
  const requestLine = lines[0];
  const first = requestLine.indexOf(" ");
  const last = requestLine.lastIndexOf(" ");
  if (first <= 0 || last === first) throw bad("malformed request line");
  const method = requestLine.slice(0, first);
  const target = requestLine.slice(first + 1, last);
  const version = requestLine.slice(last + 1);
  if (!TOKEN.test(method)) throw bad("malformed method");
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    if (/^HTTP\/\d\.\d$/.test(version)) {
      throw bad(`${version} is not supported`, 505, "http_version_not_supported");
    }
    throw bad("malformed request line");
  }
  if (target.length > maxTarget) {
    throw new HttpError(
      414,
      "uri_too_long",
      `Cannot serve request: the URL exceeds ${maxTarget} characters`,
    );
  }
  // deno-lint-ignore no-control-regex
  if (target.length === 0 || /[\x00-\x20\x7f-\xff]/.test(target)) throw bad("malformed target");
  if (lines.length - 1 > maxFields) {
    throw bad(
      `more than ${maxFields} header fields`,
      431,
      "request_header_fields_too_large",
    );
  }
  const headers: [string, string][] = [];
  let host: string | undefined;
  let hosts = 0;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let connection = "";
  let expect: string | undefined;
  let upgrade = "";
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) throw bad("malformed header field");
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw bad("malformed header name");
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    // deno-lint-ignore no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw bad("a control character in a header value");
    headers.push([name, value]);
    switch (name.toLowerCase()) {
      case "host":
        hosts++;
        host = value;
        break;
      case "content-length":
        if (contentLength !== undefined && contentLength !== value) {
          throw bad("conflicting Content-Length fields");
        }
        contentLength = value;
        break;
      case "transfer-encoding":
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        break;
      case "connection":
        connection += `,${value.toLowerCase()}`;
        break;
      case "expect":
        expect = value.toLowerCase();
        break;
      case "upgrade":
        upgrade = value.toLowerCase();
        break;
    }
  }
  const minor = version === "HTTP/1.1" ? 1 : 0;
  if (hosts > 1) throw bad("more than one Host field");
  if (host === undefined) {
    if (minor === 1) throw bad("no Host field");
    host = "localhost";
  }
  if (!HOST.test(host)) throw bad("malformed Host field");
  let length: number | undefined;
  let chunked = false;
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) throw bad("both Content-Length and Transfer-Encoding");
    const codings = transferEncoding.toLowerCase().split(",").map((c) => c.trim());
    if (codings.length !== 1 || codings[0] !== "chunked") {
      throw bad(
        `transfer coding not supported: ${JSON.stringify(transferEncoding.slice(0, 64))}`,
        501,
        "not_implemented",
      );
    }
    chunked = true;
  } else if (contentLength !== undefined) {
    if (!/^\d{1,15}$/.test(contentLength)) throw bad("malformed Content-Length");
    length = Number(contentLength);
  }
  if (expect !== undefined && expect !== "100-continue") {
    throw bad(
      `expectation not supported: ${JSON.stringify(expect.slice(0, 64))}`,
      417,
      "expectation_failed",
    );
  }
  const close = minor === 0
    ? !/(^|,)\s*keep-alive\s*(,|$)/.test(connection)
    : /(^|,)\s*close\s*(,|$)/.test(connection);
  return {
    method,
    target,
    minor,
    headers,
    host,
    contentLength: length,
    chunked,
    close,
    expectContinue: expect === "100-continue",
    upgrade: upgrade === "websocket" && /(^|,)\s*upgrade\s*(,|$)/.test(connection),
  };
}
