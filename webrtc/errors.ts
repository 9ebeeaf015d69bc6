/**
 * The WebRTC floor's error family. Callers catch these by class; each also
 * has a distinct `name`. A missing path or block reaches the receiver as the
 * IPFS floor's `NotFoundError`, a directory where a file was asked for as its
 * `InvalidInputError`; cancellation rejects with the signal's reason (an
 * `AbortError`) or the runtime's `CancelledError`, as everywhere in the kit.
 *
 * This file imports nothing: the browser receiver uses it too.
 *
 * @module
 */

/** Why a block was refused: see {@linkcode VerificationError.reason}. */
export type VerificationFailure =
  | "hash-mismatch"
  | "unexpected-block"
  | "size-mismatch"
  | "malformed-node"
  | "unsupported-hash"
  | "unsupported-codec";

/**
 * The sender sent a block the receiver cannot trust, and no byte of it was
 * handed out: its bytes do not hash to its CID (`hash-mismatch`), it is not
 * the block the verified parent links to next (`unexpected-block`), its
 * content size differs from what its parent says (`size-mismatch`), it does
 * not decode (`malformed-node`), or its hash function or codec cannot be
 * checked here (`unsupported-hash`, `unsupported-codec`). The stream ends
 * with this error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VerificationError } from "@ipfs-kit/kit/webrtc";
 *
 * const error = new VerificationError("Cannot accept block: its bytes do not match", "bafy...", "hash-mismatch");
 * assert.equal(error.reason, "hash-mismatch");
 * assert.equal(error.name, "VerificationError");
 * ```
 */
export class VerificationError extends Error {
  /** The CID the block claimed, or was expected to have, as a string. */
  readonly cid: string;
  /** Which check failed. */
  readonly reason: VerificationFailure;

  /**
   * Creates the error.
   *
   * @param message What was refused and why.
   * @param cid The CID concerned.
   * @param reason Which check failed.
   */
  constructor(message: string, cid: string, reason: VerificationFailure) {
    super(message);
    this.name = "VerificationError";
    this.cid = cid;
    this.reason = reason;
  }
}

/**
 * The peer broke the data channel protocol: a malformed or oversized
 * message, a message out of turn, more data than the receiver's window
 * allows. The stream (or connection) is closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WebRtcProtocolError } from "@ipfs-kit/kit/webrtc";
 *
 * const error = new WebRtcProtocolError("Cannot read stream 1: message of 300000 bytes, limit 65670");
 * assert(error instanceof Error && error.name === "WebRtcProtocolError");
 * ```
 */
export class WebRtcProtocolError extends Error {
  /**
   * Creates the error.
   *
   * @param message What the peer did wrong.
   */
  constructor(message: string) {
    super(message);
    this.name = "WebRtcProtocolError";
  }
}

/**
 * A limit refused the request: too many streams on a connection, too many
 * connections, a request too large. Nothing was started.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WebRtcLimitError } from "@ipfs-kit/kit/webrtc";
 *
 * const error = new WebRtcLimitError(
 *   "Cannot open stream: limit of 8 streams per connection reached",
 *   "streams",
 *   8,
 * );
 * assert.equal(error.limit, 8);
 * assert.equal(error.resource, "streams");
 * ```
 */
export class WebRtcLimitError extends Error {
  /** Which limit: `"streams"`, `"connections"`, ... */
  readonly resource: string;
  /** The limit's value. */
  readonly limit: number;

  /**
   * Creates the error.
   *
   * @param message What was refused, and the limit.
   * @param resource Which limit.
   * @param limit Its value.
   */
  constructor(message: string, resource: string, limit: number) {
    super(message);
    this.name = "WebRtcLimitError";
    this.resource = resource;
    this.limit = limit;
  }
}

/**
 * A stream ended before its last byte: the other end closed it (the
 * sender cancelled it, the peer went away, the connection closed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamClosedError } from "@ipfs-kit/kit/webrtc";
 *
 * const error = new StreamClosedError("Cannot read stream 3: the sender closed it before its end");
 * assert.equal(error.name, "StreamClosedError");
 * ```
 */
export class StreamClosedError extends Error {
  /**
   * Creates the error.
   *
   * @param message Which stream, and who closed it.
   */
  constructor(message: string) {
    super(message);
    this.name = "StreamClosedError";
  }
}

/**
 * Signaling failed: the server refused the client (`code` as the server
 * sent it, such as `unauthorized` or `too_many_connections`), answered out of
 * turn, or the connection was not established in time (`timeout`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SignalingError } from "@ipfs-kit/kit/webrtc";
 *
 * const error = new SignalingError("Cannot connect: no answer within 10000 ms", "timeout");
 * assert.equal(error.code, "timeout");
 * ```
 */
export class SignalingError extends Error {
  /** A stable code: `timeout`, `bad_message`, `out_of_order`, `unauthorized`, ... */
  readonly code: string;

  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param code A stable code.
   */
  constructor(message: string, code: string) {
    super(message);
    this.name = "SignalingError";
    this.code = code;
  }
}
