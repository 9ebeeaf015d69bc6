/**
 * IPFS content for Deno: add, cat and raw blocks with the CIDs Kubo gives.
 *
 * - {@linkcode EmbeddedNode}: the default backend, no daemon. A repository on
 *   disk (one file per block, Kubo's flatfs layout; recursive pins), built on
 *   `ipfs-unixfs-importer`/`-exporter`, `@ipld/dag-pb` and `multiformats`.
 * - {@linkcode ContentStore}: the interface every backend implements.
 * - Errors: {@linkcode NotFoundError}, {@linkcode InvalidCidError},
 *   {@linkcode InvalidInputError}, {@linkcode PinnedError},
 *   {@linkcode RepoLockedError}.
 *
 * CIDs equal Kubo's for the same bytes and options: by default CIDv0, dag-pb
 * leaves, 256 KiB chunks, balanced DAG of 174 links per node; `cidVersion: 1`
 * uses raw leaves.
 *
 * @example
 * ```ts
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add("hello world\n", { cidVersion: 1 });
 * console.assert(
 *   cid.toString() === "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
 * );
 * console.assert(await new Response(node.cat(cid)).text() === "hello world\n");
 * ```
 *
 * @module
 */

export * from "./content_store.ts";
export * from "./errors.ts";
export { EmbeddedNode, type EmbeddedNodeOptions, MAX_BLOCK_SIZE } from "./embedded_node.ts";
