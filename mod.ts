/**
 * ipfs-kit: IPFS for Deno on one small structured-concurrency runtime.
 *
 * This entry re-exports every module but the network's (`@ipfs-kit/kit/net`,
 * which loads libp2p: import it where a node joins the network). Which symbol
 * for which job:
 *
 * | job | start with | entry |
 * | --- | --- | --- |
 * | add, read, pin and list content, with zero set-up | {@linkcode Kit} (`Kit.open()`) | `@ipfs-kit/kit/kit` |
 * | the command line | `deno task kit --help` | `@ipfs-kit/kit/cli` |
 * | one backend directly: the embedded node, a Kubo daemon | {@linkcode EmbeddedNode}, {@linkcode KuboBackend} | `@ipfs-kit/kit/ipfs` |
 * | code against any backend, or write a layer | {@linkcode ContentStore}, {@linkcode ForwardingStore} | `@ipfs-kit/kit/ipfs` |
 * | cache content in memory and on disk | {@linkcode TieredCache}, {@linkcode ArcCache}, {@linkcode DiskCache} | `@ipfs-kit/kit/cache` |
 * | never lose an IPFS operation across crashes | {@linkcode WriteAheadLog}, {@linkcode SegmentLog} | `@ipfs-kit/kit/wal` |
 * | serve the WAL over HTTP and WebSocket | {@linkcode serveWal} | `@ipfs-kit/kit/wal` |
 * | serve HTTP and WebSockets, bounded (cap, deadlines, body and message limits, token, Host and Origin checks) | {@linkcode serve}, {@linkcode Router} | `@ipfs-kit/kit/http` |
 * | join the IPFS network: bitswap, the DHT, pubsub, IPNS | `Kit.open({ repo, network: true })`, `libp2pNetwork` | `@ipfs-kit/kit/kit`, `@ipfs-kit/kit/net` |
 * | find peers, signed: a discovery server and client | `serveDiscovery`, `DiscoveryClient` | `@ipfs-kit/kit/net` |
 * | stream content to Deno peers and browsers over WebRTC, every block verified | {@linkcode StreamingManager}, {@linkcode serveSignaling}, {@linkcode connectWebRtc} | `@ipfs-kit/kit/webrtc` |
 * | read verified streams in a browser page | `connectBrowserReceiver` | `@ipfs-kit/kit/webrtc/browser` |
 * | run tasks that are always joined and cancelled together | {@linkcode taskGroup}, {@linkcode CancelScope} | `@ipfs-kit/kit/runtime` |
 * | timeouts and deadlines | {@linkcode moveOnAfter}, {@linkcode failAfter}, {@linkcode withSignal} | `@ipfs-kit/kit/runtime` |
 * | channels, locks, semaphores, events | {@linkcode createMemoryChannel}, {@linkcode Lock}, {@linkcode Semaphore}, {@linkcode Event} | `@ipfs-kit/kit/runtime` |
 * | retries, worker threads, bounded parallel maps | {@linkcode retry}, {@linkcode WorkerPool}, {@linkcode mapConcurrent} | `@ipfs-kit/kit/runtime` |
 * | pick a scheduling strategy or a virtual clock | {@linkcode run}, {@linkcode VirtualClock} | `@ipfs-kit/kit/runtime` |
 * | test under every strategy | `testEachStrategy` | `@ipfs-kit/kit/runtime/testing` |
 * | build a blocking primitive of your own | `park`, `Waiter` | `@ipfs-kit/kit/runtime/lowlevel` |
 *
 * Every async API takes an `AbortSignal` or runs in the enclosing cancel
 * scope, and leaks no task, timer or resource. The floors and the one-way
 * rule between them are in `ARCHITECTURE.md`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Kit, moveOnAfter } from "@ipfs-kit/kit";
 *
 * await using kit = await Kit.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await kit.add("hello world\n");
 * assert.equal(cid.toString(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
 * const text = await moveOnAfter(5_000, () => new Response(kit.cat(cid)).text());
 * assert.equal(text, "hello world\n");
 * ```
 *
 * @module
 */

export * from "./kit/mod.ts";
export * from "./ipfs/mod.ts";
export * from "./cache/mod.ts";
export * from "./wal/mod.ts";
export * from "./webrtc/mod.ts";
export * from "./http/mod.ts";
export * from "./runtime/mod.ts";
