/**
 * The checks every WebSocket route of the kit makes before it upgrades: a
 * `GET` asking for a WebSocket, served by the kit's own HTTP server (whose
 * WebSockets are bounded), not by a bare `Deno.serve`.
 *
 * @module
 */

import { HttpError } from "./errors.ts";
import type { RequestInfo } from "./types.ts";

/**
 * Checks that `request` asks for a WebSocket upgrade that `info` can grant,
 * and returns `info` as the kit's {@linkcode RequestInfo}. Answers 405 to
 * another method, 426 to a request without an upgrade, 501 when the handler
 * runs outside the kit's server (`Deno.serve` hands it no `upgradeWebSocket`).
 *
 * @param request The request.
 * @param info What the server passed the handler.
 * @param what The start of the error messages, such as "Cannot connect".
 * @param feature What needs the upgrade, for the 501 message, such as "discovery".
 * @returns `info`, typed.
 * @throws {HttpError} 405, 426 or 501, as above.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpError, requireWebSocketUpgrade } from "@ipfs-kit/kit/http";
 *
 * const plain = new Request("http://127.0.0.1/feed");
 * assert.throws(
 *   () => requireWebSocketUpgrade(plain, undefined, "Cannot open feed", "the feed"),
 *   (error: unknown) => error instanceof HttpError && error.status === 426,
 * );
 * const upgrade = new Request("http://127.0.0.1/feed", { headers: { upgrade: "websocket" } });
 * assert.throws(
 *   () => requireWebSocketUpgrade(upgrade, undefined, "Cannot open feed", "the feed"),
 *   (error: unknown) => error instanceof HttpError && error.status === 501,
 * );
 * ```
 */
export function requireWebSocketUpgrade(
  request: Request,
  info: RequestInfo | Deno.ServeHandlerInfo | undefined,
  what: string,
  feature: string,
): RequestInfo {
  if (request.method !== "GET") {
    throw new HttpError(405, "method_not_allowed", "Only GET", { headers: { allow: "GET" } });
  }
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw new HttpError(426, "upgrade_required", `${what}: a WebSocket upgrade is required`, {
      headers: { upgrade: "websocket" },
    });
  }
  if (info === undefined || !("upgradeWebSocket" in info)) {
    throw new HttpError(
      501,
      "not_implemented",
      `${what}: ${feature} needs the kit's HTTP server (serve() of @ipfs-kit/kit/http), ` +
        "whose WebSockets are bounded",
    );
  }
  return info;
}
