/**
 * Parsing CIDs the way every backend of the kit takes them.
 *
 * @module
 */

import { CID as Cid } from "npm:multiformats@14.0.5/cid";
import type { CID, CidLike } from "./content_store.ts";
import { InvalidCidError } from "./errors.ts";

/**
 * Parses a CID given as a `CID` object (of any copy of multiformats) or a
 * string, as every method of the kit's backends does.
 *
 * @param input The CID.
 * @param what What the caller was doing, for the message: "Cannot <what>: ...". Default
 * `"parse CID"`.
 * @returns The CID.
 * @throws {InvalidCidError} Not a CID, or a string that does not parse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidCidError, parseCid } from "@ipfs-kit/kit/ipfs";
 *
 * const cid = parseCid("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
 * assert.equal(cid.version, 0);
 * assert.throws(() => parseCid("not-a-cid", "pin"), InvalidCidError);
 * assert.throws(() => parseCid("x", "pin"), /^InvalidCidError: Cannot pin: not a valid CID/);
 * ```
 */
export function parseCid(input: CidLike, what?: string): CID {
  what ??= "parse CID";
  const cid = Cid.asCID(input);
  if (cid !== null) return cid;
  if (typeof input === "string") {
    try {
      return Cid.parse(input);
    } catch (error) {
      throw new InvalidCidError(
        `Cannot ${what}: not a valid CID: received ${JSON.stringify(input)}`,
        input,
        { cause: error },
      );
    }
  }
  throw new InvalidCidError(
    `Cannot ${what}: expected a CID: received ${input === null ? "null" : typeof input}`,
    input,
  );
}
