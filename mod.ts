/**
 * ipfs-kit: a Deno-native, structured-concurrency toolkit for IPFS.
 *
 * This entry point re-exports every module:
 * - `runtime`: task groups, cancel scopes, channels, clocks and scheduling
 *   strategies (`@ipfs-kit/kit/runtime`).
 * - `cache`: an exact ARC memory cache (`@ipfs-kit/kit/cache`).
 * - `ipfs`: the content store interface and the embedded node, whose CIDs
 *   equal Kubo's (`@ipfs-kit/kit/ipfs`).
 * - `wal`: the durable segment log under the write-ahead log
 *   (`@ipfs-kit/kit/wal`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { run, sleep, taskGroup } from "@ipfs-kit/kit";
 *
 * const done: number[] = [];
 * await run(() =>
 *   taskGroup((tg) => {
 *     tg.spawn(async () => {
 *       await sleep(20);
 *       done.push(2);
 *     });
 *     tg.spawn(async () => {
 *       await sleep(1);
 *       done.push(1);
 *     });
 *   })
 * );
 * assert.deepEqual(done.toSorted(), [1, 2]); // both children joined
 * ```
 *
 * @module
 */

export * from "./runtime/mod.ts";
export * from "./cache/mod.ts";
export * from "./ipfs/mod.ts";
export * from "./wal/mod.ts";
export * from "./kit/mod.ts";
