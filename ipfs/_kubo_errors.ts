/**
 * The mapping of what `kubo-rpc-client` and `fetch` throw (HTTP errors with
 * the daemon's message, network failures, the daemon's timeouts) to the
 * kit's typed errors, and which of those a retry may cure.
 *
 * The daemon answers most failures with HTTP 500 and a message; the message
 * says what went wrong. The patterns below are Kubo's messages (from
 * `boxo`, `go-ipld-prime` and Kubo's commands), plus the few js-ipfs words
 * that differ for the same failure.
 *
 * @module
 */

import { CancelledError, isCancellationError, TimeoutError } from "../runtime/errors.ts";
import {
  InvalidCidError,
  InvalidInputError,
  KuboRpcError,
  NotFoundError,
  NotSupportedError,
  PinnedError,
  UnreachableError,
} from "./errors.ts";
import { NotKuboAnswer } from "./_kubo_client.ts";

/** What an error is about, for the mapped error's message and fields. */
export interface ErrorContext {
  /** The operation, for "Cannot <what>: ...". */
  what: string;
  /** The RPC command, e.g. `"cat"`. */
  command: string;
  /** The CID or path the call was about, if any. */
  subject?: string;
  /** The API URL. */
  address: string;
}

const NOT_FOUND: RegExp[] = [
  /\bnot found\b/i, // "block was not found locally (offline)", "ipld: could not find", "merkledag: not found"
  /could not find/i,
  /\bno link named\b/i,
  /does not exist/i, // "file does not exist", "<path> does not exist"
  /\bno such (file|directory|link|key)\b/i,
  /not pinned or pinned indirectly/i,
  /\bis not pinned\b/i,
  /\bnot pinned\b/i,
  /\bis pinned indirectly\b/i,
  /could not resolve name/i,
];

const PINNED: RegExp[] = [
  /pinned: (recursive|direct)/i, // block rm: "cannot remove <cid>: pinned: recursive"
  /\bis pinned recursively\b/i, // pin rm --recursive=false
  /\balready pinned recursively\b/i, // pin add --recursive=false
  /\bpinned \(?(recursive|direct)ly\)?/i,
];

const TIMED_OUT: RegExp[] = [
  /context deadline exceeded/i,
  /request timed out/i,
  /deadline has elapsed/i,
];

const INVALID_CID: RegExp[] = [
  /\binvalid (cid|path)\b/i,
  /selected encoding not supported/i,
  /illegal base\d+ data/i,
  /\bnon-base58 character\b/i,
  /invalid multihash/i,
];

const INVALID_INPUT: RegExp[] = [
  /is a directory/i, // cat on a directory: "this dag node is a directory"
  /not a (file|directory|unixfs)/i,
  /unrecognized node type/i,
  /unsupported (codec|node type|unixfs type)/i,
  /invalid request query input/i,
  /\bover 1mib\b|block too large|exceeds .*limit/i,
  /offset was past the end of file|offset must be less than the file size/i,
  // MFS (`files` commands): Kubo's words and js-ipfs's.
  /already exists|already has entry|cannot delete root|leading slash|use -r to remove/i,
];

const NOT_SUPPORTED: RegExp[] = [
  /experimental pubsub feature not enabled/i,
  /pubsub is not enabled/i,
  /\bnot (supported|implemented)\b/i,
];

/**
 * Daemon errors that are the daemon's own answer to the request (its JSON
 * error body with HTTP 500): asking again gets the same answer.
 */
const answered = new WeakSet<Error>();

/** Why the daemon's HTTP answer failed: the message it sent. */
interface HttpFailure {
  status: number;
  message: string;
  /** Whether the body was the daemon's JSON error (not a plain 404 page). */
  json: boolean;
}

function httpFailure(error: unknown): HttpFailure | undefined {
  if (!(error instanceof Error) || error.name !== "HTTPError") return undefined;
  const response = (error as Error & { response?: unknown }).response;
  if (!(response instanceof Response)) return undefined;
  const type = response.headers.get("content-type") ?? "";
  return { status: response.status, message: error.message, json: type.includes("json") };
}

/** Whether `error` is a failure to reach the daemon (connect, reset, DNS). */
function isNetworkFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (
    error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected || error instanceof Deno.errors.UnexpectedEof
  ) {
    return true;
  }
  if (!(error instanceof TypeError)) return false;
  const text = `${error.message} ${error.cause instanceof Error ? error.cause.message : ""}`;
  return /error sending request|connection|connect error|tcp connect|dns error|broken pipe|reset by peer|unexpected eof|error reading a body|body from connection|network/i
    .test(text);
}

function detail(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : "";
  return cause !== "" && error.message === "fetch failed" ? cause : error.message;
}

/**
 * Maps an error from a client call to the kit's typed errors. Errors that
 * are typed already (the kit's, cancellation, the runtime's timeouts) are
 * returned as they are.
 *
 * @param error What the call threw.
 * @param context The operation, command, subject and API URL.
 * @returns The error to throw.
 */
export function toTypedError(error: unknown, context: ErrorContext): unknown {
  if (
    error instanceof CancelledError || error instanceof TimeoutError ||
    error instanceof NotFoundError || error instanceof InvalidCidError ||
    error instanceof InvalidInputError || error instanceof PinnedError ||
    error instanceof NotSupportedError || error instanceof UnreachableError ||
    error instanceof KuboRpcError || error instanceof RangeError ||
    isCancellationError(error)
  ) {
    return error;
  }
  const { what, command, subject, address } = context;
  const about = subject === undefined ? "" : `: received ${subject}`;
  if (error instanceof NotKuboAnswer) {
    const kind = /html/i.test(error.contentType) ? "an HTML page" : `"${error.contentType}"`;
    return new UnreachableError(
      `Cannot ${what}: ${address} is not Kubo's RPC API: it answered ${kind} ` +
        `(HTTP ${error.status}${error.statusText === "" ? "" : ` ${error.statusText}`})`,
      address,
      { cause: error },
    );
  }
  const failure = httpFailure(error);
  if (failure !== undefined) {
    const message = failure.message.replace(/\s+$/, "");
    const text = `Cannot ${what}: ${message}${about}`;
    // A command the daemon lacks: Kubo answers "404 page not found" (text),
    // other servers a bare "Not Found". Kubo's own not-found errors (JSON, a
    // longer message) are NotFoundError below.
    if (failure.status === 404 && (!failure.json || /^(404 page )?not found$/i.test(message))) {
      return new NotSupportedError(
        `Cannot ${what}: the daemon at ${address} does not offer ${command} (HTTP 404)`,
        command,
        "kubo",
      );
    }
    if (failure.status === 401 || failure.status === 403) {
      return new KuboRpcError(
        `Cannot ${what}: the daemon refused the call (HTTP ${failure.status}): ${message}`,
        command,
        failure.status,
        { cause: error },
      );
    }
    if (TIMED_OUT.some((pattern) => pattern.test(message))) {
      return new TimeoutError(`Cannot ${what}: the daemon timed out: ${message}`);
    }
    if (PINNED.some((pattern) => pattern.test(message))) {
      return new PinnedError(text, subject ?? "");
    }
    if (NOT_FOUND.some((pattern) => pattern.test(message))) {
      return new NotFoundError(text, subject ?? "");
    }
    if (INVALID_CID.some((pattern) => pattern.test(message))) {
      return new InvalidCidError(text, subject, { cause: error });
    }
    if (NOT_SUPPORTED.some((pattern) => pattern.test(message))) {
      return new NotSupportedError(text, command, "kubo");
    }
    if (
      INVALID_INPUT.some((pattern) => pattern.test(message)) ||
      (failure.status >= 400 && failure.status < 500)
    ) {
      return new InvalidInputError(text, { cause: error });
    }
    const unexplained = new KuboRpcError(text, command, failure.status, { cause: error });
    if (failure.status === 500 && failure.json) answered.add(unexplained);
    return unexplained;
  }
  if (error instanceof Error && error.name === "TimeoutError" && !(error instanceof DOMException)) {
    // kubo-rpc-client's own TimeoutError: the daemon said the request timed out.
    return new TimeoutError(`Cannot ${what}: the daemon timed out: ${error.message}`);
  }
  if (isNetworkFailure(error)) {
    return new UnreachableError(
      `Cannot ${what}: the daemon at ${address} is unreachable: ${detail(error)}`,
      address,
      { cause: error },
    );
  }
  return error;
}

/**
 * Whether a typed error is worth another attempt of an idempotent read: the
 * daemon could not be reached, or the call failed with a 5xx that is not the
 * daemon's own JSON error answer (a proxy's 502, a 503 of an overloaded
 * daemon). Kubo answers nearly every failure with a JSON 500; those are not
 * retried.
 */
export function isRetriable(error: unknown): boolean {
  return error instanceof UnreachableError ||
    (error instanceof KuboRpcError && error.status >= 500 && !answered.has(error));
}
