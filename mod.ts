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
 * import { run, taskGroup, sleep } from "@ipfs-kit/kit";
 *
 * await run(() => taskGroup((tg) => tg.spawn(() => sleep(1))));
 * ```
 *
 * @module
 */

export * from "./runtime/mod.ts";
export * from "./cache/mod.ts";
export * from "./ipfs/mod.ts";
export * from "./wal/mod.ts";
