/**
 * The kit's typed errors as Kubo's RPC API answers a failed command: an HTTP
 * status and the JSON body `{"Message": ..., "Code": ..., "Type": "error"}`,
 * with Kubo's words in the message where a client (`kubo-rpc-client`, the
 * kit's own Kubo backend) reads the failure from them.
 *
 * | error                       | status | Code | message holds                    |
 * | --------------------------- | ------ | ---- | -------------------------------- |
 * | `InvalidInputError`, `RangeError`, a bad argument | 400 | 1 | the kit's message |
 * | `InvalidCidError`           | 400    | 1    | `invalid cid`                    |
 * | `NotFoundError`             | 500    | 0    | `not found` (as Kubo's offline node) |
 * | `PinnedError`               | 500    | 0    | `pinned: recursive` / `direct`   |
 * | `NotSupportedError`         | 500    | 0    | `not supported` (Kubo's unavailable feature) |
 * | the runtime's `TimeoutError`, the `timeout` argument | 500 | 0 | `context deadline exceeded` |
 * | anything else               | 500    | 0    | the error's message              |
 *
 * @module
 */

import { TimeoutError } from "../runtime/errors.ts";
import {
  InvalidCidError,
  InvalidInputError,
  NotFoundError,
  NotSupportedError,
  PinnedError,
} from "../ipfs/errors.ts";

/** Kubo's error codes (go-ipfs-cmds `ErrorType`). */
const CODE = { normal: 0, client: 1 } as const;

/** A command's failure as Kubo words it. */
export interface RpcFailure {
  status: number;
  code: number;
  message: string;
}

/** A bad request argument (a missing `arg`, a malformed option): 400, as Kubo. */
export class RpcArgumentError extends Error {
  /** @param message What is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "RpcArgumentError";
  }
}

/**
 * How Kubo answers `error`.
 *
 * @param error What the store threw.
 * @returns The status, code and message.
 */
export function rpcFailure(error: unknown): RpcFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RpcArgumentError) {
    return { status: 400, code: CODE.client, message };
  }
  if (error instanceof InvalidCidError) {
    return {
      status: 400,
      code: CODE.client,
      message: /invalid (cid|path)/i.test(message) ? message : `invalid cid: ${message}`,
    };
  }
  if (error instanceof InvalidInputError || error instanceof RangeError) {
    return { status: 400, code: CODE.client, message };
  }
  if (error instanceof NotFoundError) {
    return {
      status: 500,
      code: CODE.normal,
      message: /not found|does not exist|no link named/i.test(message)
        ? message
        : `${message}: not found`,
    };
  }
  if (error instanceof PinnedError) {
    const how = /is pinned recursively|inside pinned/i.test(message) ? "recursive" : "direct";
    return {
      status: 500,
      code: CODE.normal,
      message: /pinned: (recursive|direct)|pinned recursively/i.test(message)
        ? message
        : `${message} (pinned: ${how})`,
    };
  }
  if (error instanceof NotSupportedError) {
    return {
      status: 500,
      code: CODE.normal,
      message: /not supported/i.test(message) ? message : `${message}: not supported`,
    };
  }
  if (error instanceof TimeoutError) {
    return { status: 500, code: CODE.normal, message: `${message}: context deadline exceeded` };
  }
  return { status: 500, code: CODE.normal, message };
}

/**
 * Kubo's error answer for `error`.
 *
 * @param error What the store threw.
 * @returns The JSON error response.
 */
export function errorResponse(error: unknown): Response {
  const failure = rpcFailure(error);
  return Response.json(
    { Message: failure.message, Code: failure.code, Type: "error" },
    { status: failure.status, headers: { "X-Chunked-Output": "1" } },
  );
}

/** Kubo's error as one line of a streamed (ndjson) answer. */
export function errorLine(error: unknown): string {
  const failure = rpcFailure(error);
  return JSON.stringify({ Message: failure.message, Code: failure.code, Type: "error" }) + "\n";
}
