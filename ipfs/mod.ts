/**
 * IPFS content for Deno: one content API over an embedded node and Kubo's
 * RPC API, with the CIDs Kubo gives.
 *
 * - `Kit` (`@ipfs-kit/kit/kit`): the high-level entry point. The embedded node by
 *   default (a per-user repository, zero set-up) or a daemon with `api`;
 *   reads go through a tiered cache; layers can be stacked over it.
 * - {@linkcode EmbeddedNode}: the default backend, no daemon. A repository on
 *   disk (one file per block, Kubo's flatfs layout; pins, an Ed25519
 *   identity), built on `ipfs-unixfs-importer`/`-exporter`, `@ipld/dag-pb`,
 *   `@ipld/dag-cbor`, `@ipld/dag-json` and `multiformats`.
 * - {@linkcode KuboBackend}: Kubo's RPC API through `kubo-rpc-client`, with
 *   per-call timeouts ({@linkcode KuboCallOptions}), retries of idempotent
 *   reads and typed errors.
 * - {@linkcode ContentStore}: the interface every backend implements: add,
 *   cat, get, ls, stat, pins, blocks, DAG, GC, id, version, health, and the
 *   network APIs (name, pubsub, swarm, routing; the embedded node answers
 *   those with {@linkcode NotSupportedError}).
 * - {@linkcode PeerIdentity}: the node's Ed25519 identity, for signing on the floors
 *   above ({@linkcode loadPeerIdentity}, {@linkcode createPeerIdentity},
 *   {@linkcode publicKeyOfPeerId}).
 * - Errors: {@linkcode NotFoundError}, {@linkcode InvalidCidError},
 *   {@linkcode InvalidInputError}, {@linkcode PinnedError},
 *   {@linkcode RepoLockedError}, {@linkcode NotSupportedError}, and the Kubo
 *   backend's {@linkcode UnreachableError} and {@linkcode KuboRpcError}.
 *
 * CIDs equal Kubo's for the same bytes and options: by default CIDv0, dag-pb
 * leaves, 256 KiB chunks, balanced DAG of 174 links per node; `cidVersion: 1`
 * uses raw leaves.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add("hello world\n", { cidVersion: 1 });
 * assert(
 *   cid.toString() === "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
 * );
 * assert.equal(await new Response(node.cat(cid)).text(), "hello world\n");
 * ```
 *
 * @module
 */

export * from "./content_store.ts";
export * from "./errors.ts";
export * from "./parse_cid.ts";
export * from "./embedded_node.ts";
export * from "./node_network.ts";
export * from "./kubo_backend.ts";
export * from "./kubo_options.ts";
export * from "./kubo_address.ts";
export * from "./forwarding_store.ts";
export * from "./peer_identity.ts";
