// Responses and errors of the WAL's HTTP API, and the bounded reading of
// request bodies. Private to the WAL.

import { HttpError } from "../http/errors.ts";
import { TimeoutError } from "../runtime/errors.ts";
import {
  OperationNotFoundError,
  OperationStateError,
  WalBusyError,
  WalClosedError,
  WalDiskFullError,
  WalFailedError,
} from "./errors.ts";
import { stringify } from "./_http_json.ts";

export { HttpError };

const JSON_TYPE = "application/json; charset=utf-8";

/** The headers every response carries. */
export function baseHeaders(contentType: string = JSON_TYPE): Headers {
  return new Headers({
    "content-type": contentType,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
}

/** A JSON response. */
export function jsonResponse(status: number, body: unknown, headers?: Headers): Response {
  const all = headers ?? baseHeaders();
  return new Response(stringify(body) + "\n", { status, headers: all });
}

/** The response for an error: its status and `{ error: { code, message, ...details } }`. */
export function errorResponse(error: HttpError, headers?: Headers): Response {
  const all = headers ?? baseHeaders();
  for (const [name, value] of Object.entries(error.headers ?? {})) all.set(name, value);
  return jsonResponse(
    error.status,
    { error: { code: error.code, message: error.message, ...error.details } },
    all,
  );
}

/**
 * The HTTP error for what the log threw: unknown operation 404, wrong state
 * 409, invalid input 400, closed or failed log 503, full disk 507, timeout
 * 504, too many pending operations 503 with `Retry-After`. `undefined` for
 * what is not one of those.
 */
export function walHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof OperationNotFoundError) {
    return new HttpError(404, "not_found", error.message, { details: { id: error.id } });
  }
  if (error instanceof OperationStateError) {
    return new HttpError(409, "invalid_state", error.message, {
      details: { id: error.id, state: error.state },
    });
  }
  if (error instanceof WalClosedError) return new HttpError(503, "closed", error.message);
  if (error instanceof WalBusyError) {
    return new HttpError(503, "busy", error.message, {
      headers: { "retry-after": String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) },
    });
  }
  if (error instanceof WalFailedError) return new HttpError(503, "failed", error.message);
  if (error instanceof WalDiskFullError) return new HttpError(507, "disk_full", error.message);
  if (error instanceof TimeoutError) return new HttpError(504, "timeout", error.message);
  if (error instanceof TypeError || error instanceof RangeError) {
    return new HttpError(400, "invalid_request", error.message);
  }
  return undefined;
}

/**
 * Reads a JSON request body of at most `maxBytes`: the media type must be
 * `application/json`; a `Content-Length` over the limit is refused before
 * reading, and reading stops (the body is cancelled) as soon as the bytes
 * read pass the limit.
 *
 * @throws {HttpError} 415 wrong media type, 413 too large, 400 not UTF-8 or not JSON.
 */
export async function readJsonBody(
  request: Request,
  maxBytes: number,
  what: string,
): Promise<unknown> {
  const type = request.headers.get("content-type");
  if (type === null || !/^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i.test(type)) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      `${what}: the body must be application/json: received ${
        type === null ? "no content type" : JSON.stringify(type.slice(0, 100))
      }`,
    );
  }
  const length = request.headers.get("content-length");
  if (length !== null) {
    if (!/^\d{1,16}$/.test(length)) {
      throw new HttpError(400, "invalid_request", `${what}: invalid content-length`);
    }
    if (Number(length) > maxBytes) throw tooLarge(what, maxBytes, Number(length));
  }
  const bytes = await readLimited(request, maxBytes, what);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "bad_json", `${what}: the body is not valid UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(
      400,
      "bad_json",
      `${what}: the body is not valid JSON: ${(error as Error).message.slice(0, 200)}`,
    );
  }
}

async function readLimited(request: Request, maxBytes: number, what: string): Promise<Uint8Array> {
  const body = request.body;
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  // No releaseLock(): the body is not read again, and in Deno releasing builds an Error.
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(what, maxBytes, total, true);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function tooLarge(what: string, maxBytes: number, received: number, partial = false): HttpError {
  return new HttpError(
    413,
    "body_too_large",
    `${what}: the body exceeds ${maxBytes} bytes: received ${
      partial ? "at least " : ""
    }${received}`,
    { details: { limit: maxBytes } },
  );
}
