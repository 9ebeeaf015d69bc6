// Puts the sender's messages back together into blocks, for the Deno and
// the browser receiver (so it imports no runtime). A header naming another
// block than the one the walk needs is refused before any of its bytes come.

import type { CID } from "npm:multiformats@14.0.5/cid";
import { VerificationError, WebRtcProtocolError } from "./errors.ts";
import { parseSenderMessage } from "./_wire.ts";

/** What one message completed. */
export type AssemblerEvent =
  | { kind: "pending" }
  | { kind: "block"; cid: CID; bytes: Uint8Array }
  | { kind: "end" }
  | { kind: "error"; code: string; message: string };

/** The block being received. */
export class BlockAssembler {
  #cid: CID | undefined;
  #buffer = new Uint8Array(0);
  #filled = 0;

  /**
   * Takes one message.
   *
   * @param expected The block the walk needs next (`undefined`: none).
   * @throws {WebRtcProtocolError} A malformed message, or more bytes than announced.
   * @throws {VerificationError} A header for a block the walk does not need.
   */
  push(message: string | Uint8Array, expected: CID | undefined): AssemblerEvent {
    const parsed = parseSenderMessage(message, this.#cid !== undefined);
    switch (parsed.kind) {
      case "header": {
        if (expected === undefined || !parsed.cid.equals(expected)) {
          throw new VerificationError(
            `Cannot accept block ${parsed.cid}: ${
              expected === undefined
                ? "the walk is complete"
                : `the verified DAG links to ${expected} next`
            }`,
            parsed.cid.toString(),
            "unexpected-block",
          );
        }
        if (parsed.size === 0) return { kind: "block", cid: parsed.cid, bytes: new Uint8Array(0) };
        this.#cid = parsed.cid;
        this.#buffer = new Uint8Array(parsed.size);
        this.#filled = 0;
        return { kind: "pending" };
      }
      case "data": {
        const cid = this.#cid!;
        if (this.#filled + parsed.bytes.length > this.#buffer.length) {
          throw new WebRtcProtocolError(
            `Cannot read block ${cid}: more than the ${this.#buffer.length} bytes announced`,
          );
        }
        this.#buffer.set(parsed.bytes, this.#filled);
        this.#filled += parsed.bytes.length;
        if (this.#filled < this.#buffer.length) return { kind: "pending" };
        const bytes = this.#buffer;
        this.#cid = undefined;
        this.#buffer = new Uint8Array(0);
        return { kind: "block", cid, bytes };
      }
      default:
        return parsed;
    }
  }
}
