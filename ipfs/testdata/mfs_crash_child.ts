/**
 * The child of the MFS crash trials (`ipfs/embedded_mfs_test.ts`): opens
 * the repository in its directory (the first argument), prints `ready`,
 * then writes files `/d<i % 4>/f<i>` (each in a new directory every fourth
 * time) with content `file <i>`, printing `a <i>` once each write is
 * acknowledged, until it is killed.
 *
 * @module
 */

import { EmbeddedNode } from "../embedded_node.ts";
import { say } from "../../tests/_crash_child.ts";

const [dir, first] = Deno.args;
const node = await EmbeddedNode.open({ repo: `${dir}/repo` });
// The first change loads @helia/unixfs: before "ready", so kills land among the writes.
await node.files.write("/warm", "up", { create: true, truncate: true });
say("ready");
for (let i = Number(first);; i++) {
  await node.files.write(`/d${i % 4}/f${i}`, `file ${i}`, { create: true, parents: true });
  say(`a ${i}`);
}
