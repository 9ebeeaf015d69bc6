/**
 * The network floor's errors: {@linkcode PeerInfoError} for a `PeerInfo`
 * that cannot be trusted, {@linkcode DiscoveryError} for what a discovery
 * server refused or a connection to it that failed.
 *
 * @module
 */

/** Why a `PeerInfo` was refused: see {@linkcode PeerInfoError.code}. */
export type PeerInfoErrorCode =
  | "malformed_peer_info"
  | "bad_peer_id"
  | "bad_signature"
  | "stale"
  | "future"
  | "replayed";

/**
 * A `PeerInfo` was refused: it is malformed or past a bound
 * (`malformed_peer_info`), its peer ID carries no Ed25519 key
 * (`bad_peer_id`), its signature does not verify against the key its peer
 * ID carries (`bad_signature`: another peer's ID, or a field changed after
 * signing), it was signed too long ago (`stale`) or too far in the future
 * (`future`), or its sequence number is not above the last one seen for
 * that peer (`replayed`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PeerInfoError } from "@ipfs-kit/kit/net";
 *
 * const error = new PeerInfoError("Cannot accept peer info: signature does not verify", "bad_signature");
 * assert.equal(error.code, "bad_signature");
 * assert.equal(error.name, "PeerInfoError");
 * ```
 */
export class PeerInfoError extends TypeError {
  /** Which check failed. */
  readonly code: PeerInfoErrorCode;

  /**
   * Creates the error.
   *
   * @param message What was refused and why.
   * @param code Which check failed.
   * @param options The underlying error as `cause`.
   */
  constructor(message: string, code: PeerInfoErrorCode, options?: ErrorOptions) {
    super(message, options);
    this.name = "PeerInfoError";
    this.code = code;
  }
}

/**
 * The discovery server refused a message or the connection (`code` as the
 * server sent it: `rate_limited`, `too_many_connections`, `bad_signature`,
 * ...), or the connection to it failed or closed (`closed`, with the close
 * code), or an answer did not come in time (`timeout`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DiscoveryError } from "@ipfs-kit/kit/net";
 *
 * const error = new DiscoveryError("The server refused: more than 20 messages a second", "rate_limited");
 * assert.equal(error.code, "rate_limited");
 * ```
 */
export class DiscoveryError extends Error {
  /** The error code. */
  readonly code: string;
  /** The WebSocket close code, when the connection closed. */
  readonly closeCode: number | undefined;

  /**
   * Creates the error.
   *
   * @param message What failed and why.
   * @param code The error code.
   * @param options The close code, the underlying error as `cause`.
   */
  constructor(message: string, code: string, options?: ErrorOptions & { closeCode?: number }) {
    super(message, options);
    this.name = "DiscoveryError";
    this.code = code;
    this.closeCode = options?.closeCode;
  }
}
