/**
 * A durable write-ahead log of IPFS operations:
 * - {@linkcode WriteAheadLog}: a durable queue of IPFS operations (add, pin,
 *   unpin, blockPut, dagPut and types of your own) with processing, retries,
 *   a health monitor and telemetry ({@linkcode WalTelemetry}, Prometheus text).
 * - {@linkcode SegmentLog}: the append-only log of framed, checksummed records
 *   under it, with three sync policies (`always`, `group`, `none`), crash
 *   recovery and compaction.
 * - {@linkcode createWalHandler} / {@linkcode serveWal}: the HTTP API (list,
 *   get, submit, retry, cancel, stats, health, Prometheus metrics) and a live
 *   WebSocket feed, loopback-only unless a token is set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using log = await SegmentLog.open(dir, { syncPolicy: "group" });
 *   const { lsn } = await log.append(1, new TextEncoder().encode("pin bafy..."));
 *   assert.equal(lsn, 1);
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./errors.ts";
export * from "./segment_log.ts";
export * from "./write_ahead_log.ts";
export * from "./processor.ts";
export * from "./health_monitor.ts";
export * from "./builtin_handlers.ts";
export * from "./handler_errors.ts";
export * from "./histogram.ts";
export * from "./telemetry.ts";
export * from "./http_handler.ts";
export * from "./http_server.ts";
export * from "./ws_feed.ts";
export * from "./event_source.ts";
