/**
 * The child of `_kit_rpc_server.ts`: an embedded node on the repository in
 * its first argument, served by the kit's RPC handler on 127.0.0.1:0; prints
 * the URL, then serves until SIGTERM or the end of its standard input.
 *
 * @module
 */

import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { createRpcHandler } from "../kit/rpc_api.ts";

const node = await EmbeddedNode.open({ repo: Deno.args[0] });
const handler = createRpcHandler(node);
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`http://127.0.0.1:${port}`),
}, handler);
const stop = () => {
  void server.shutdown().finally(() => node.close()).finally(() => Deno.exit(0));
};
Deno.addSignalListener("SIGTERM", stop);
// The parent holds standard input open: its end (the parent gone) stops the server.
for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
stop();
