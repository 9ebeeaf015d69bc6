/**
 * CIDs in the CLI's error messages, quoted as the user wrote them: a backend
 * may report the CID of a block in another form (CIDv1 for a CIDv0 the user
 * typed, another base), which the user would not recognise as theirs.
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";
import { equals } from "npm:multiformats@14.0.5/bytes";

const CID_TOKEN = /\b(?:Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{50,}|z[1-9A-HJ-NP-Za-km-z]{40,})\b/g;

/** The CIDs among the command's arguments (a CID, or the first name of an `/ipfs/` path). */
function givenCids(args: readonly string[]): Array<{ text: string; cid: CID }> {
  const found: Array<{ text: string; cid: CID }> = [];
  for (const arg of args) {
    const text = arg.replace(/^\/ipfs\//, "").split("/")[0];
    try {
      found.push({ text, cid: CID.parse(text) });
    } catch {
      // Not a CID: a path on disk, a name.
    }
  }
  return found;
}

/**
 * `message` with every CID that has the multihash of a CID in `args` written
 * as it is in `args`.
 *
 * @param message An error message.
 * @param args The command's arguments.
 * @returns The message, CIDs quoted as given.
 */
export function quoteCidsAsGiven(message: string, args: readonly string[]): string {
  const given = givenCids(args);
  if (given.length === 0) return message;
  return message.replace(CID_TOKEN, (token) => {
    let cid: CID;
    try {
      cid = CID.parse(token);
    } catch {
      return token;
    }
    const same = given.find((g) => equals(g.cid.multihash.bytes, cid.multihash.bytes));
    return same === undefined ? token : same.text;
  });
}
