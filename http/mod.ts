/**
 * The one HTTP layer every server of the kit uses (`@ipfs-kit/kit/http`):
 *
 * - {@linkcode serve}: an HTTP/1.1 server on `Deno.listen`, loopback by
 *   default, with a connection cap, a header-read deadline, an idle timeout,
 *   bounded request bodies, access rules (token, Host, Origin, CORS) and a
 *   graceful shutdown as a task group with a deadline.
 * - {@linkcode Router}: several handlers on one listener.
 * - WebSockets (`info.upgradeWebSocket`, {@linkcode WebSocketSession}):
 *   messages bounded before they are buffered, bounded send queues that close
 *   the socket when overrun, 1007 for text that is not UTF-8; and
 *   {@linkcode WebSocketPort}, the client's side as a task sees it.
 * - {@linkcode AccessPolicy}, {@linkcode HttpError}, {@linkcode errorResponse}:
 *   the rules and the error answers, for handlers mounted elsewhere too.
 *
 * It stands on `runtime/` only: every connection is a task of the server's
 * task group, in the cancel scope that started the server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@ipfs-kit/kit/http";
 *
 * await using server = serve((_request, info) =>
 *   info.upgradeWebSocket({
 *     maxMessageBytes: 1024,
 *     onSocket: async (socket) => {
 *       for await (const message of socket) socket.send(`echo ${message}`);
 *     },
 *   })
 * );
 * const client = new WebSocket(server.url.replace("http", "ws"));
 * const echoed = Promise.withResolvers<string>();
 * client.onopen = () => client.send("hi");
 * client.onmessage = (event) => echoed.resolve(event.data);
 * assert.equal(await echoed.promise, "echo hi");
 * const closed = Promise.withResolvers<void>();
 * client.onclose = () => closed.resolve();
 * client.close();
 * await closed.promise;
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./access.ts";
export type * from "./types.ts";
export * from "./websocket.ts";
export * from "./websocket_port.ts";
export * from "./websocket_route.ts";
export * from "./server.ts";
export * from "./router.ts";
