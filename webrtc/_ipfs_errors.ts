// The Deno side's errors for what the shared stream code reports: the IPFS
// floor's own `NotFoundError` and `InvalidInputError`, as `ContentStore.cat`
// throws them; and how a sender's failure travels to the receiver.

import { InvalidInputError, NotFoundError } from "../ipfs/errors.ts";
import { WebRtcLimitError, WebRtcProtocolError } from "./errors.ts";
import type { ErrorKinds, WireErrorCode } from "./_wire.ts";

/** The IPFS floor's errors, for the shared code. */
export const IPFS_ERRORS: ErrorKinds = {
  notFound: (message, cid) => new NotFoundError(message, cid),
  invalidInput: (message) => new InvalidInputError(message),
};

/** The code and message a sender's failure travels as (an unexpected one without its details). */
export function wireError(error: unknown): { code: WireErrorCode; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof NotFoundError) return { code: "not_found", message };
  if (error instanceof InvalidInputError) return { code: "invalid_input", message };
  if (error instanceof WebRtcLimitError) return { code: "limit", message };
  if (error instanceof WebRtcProtocolError) return { code: "protocol", message };
  return { code: "internal", message: "Cannot serve stream: the sender failed" };
}
