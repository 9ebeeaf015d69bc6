/**
 * Verified content streams over WebRTC data channels, to Deno peers and to
 * browsers. A peer asks for a CID, a path below it and a byte range; the
 * sender streams the blocks that range needs, in order, each with its CID,
 * and the receiver checks every block's hash and every link from the root
 * before it hands out a byte: it trusts no sender.
 *
 * ## Map of the folder
 * | file | holds |
 * |---|---|
 * | `streaming_manager.ts` | {@linkcode StreamingManager}: serves a `ContentStore` to peers; lists, closes one, closes all connections |
 * | `signaling_server.ts` | {@linkcode createSignalingHandler} (a route to mount) and {@linkcode serveSignaling} (a loopback server): WebSocket signaling, its protocol and its security rules |
 * | `signaling_client.ts` | {@linkcode connectWebRtc}: the Deno client |
 * | `connection.ts` | {@linkcode WebRtcConnection}: `open()` a verified stream, `streams()`, `closeStream()`, `stats()` ({@linkcode ConnectionStats}) |
 * | `browser_receiver.ts`, `browser_errors.ts` | the receiver for browsers (entry `@ipfs-kit/kit/webrtc/browser`), bundled with `deno bundle --platform browser`, and its errors |
 * | `options.ts` | {@linkcode WebRtcOptions}: limits, windows, timeouts, ICE settings |
 * | `errors.ts` | {@linkcode VerificationError}, {@linkcode WebRtcProtocolError}, {@linkcode WebRtcLimitError}, {@linkcode StreamClosedError}, {@linkcode SignalingError} |
 * | `_wire.ts`, `_block_assembler.ts` | the data channel protocol (one channel per stream; a request, block headers and bytes, credits, `end`) |
 * | `_dag_walk.ts`, `_verified_reader.ts` | the walk both ends make over a UnixFS DAG (which block comes next, and its check); a receiver's logic, shared by Deno and browsers |
 * | `_ipfs_errors.ts` | the IPFS floor's errors for that shared code, on the Deno side |
 * | `_signaling_messages.ts`, `_signaling_session.ts`, `_signaling_socket.ts`, `_ws_port.ts` | signaling: its messages, its session, its sockets (the HTTP layer's on the server, a Web `WebSocket` on the client) |
 * | `_native.ts`, `_peer.ts`, `_data_channel.ts`, `_notifier.ts` | node-datachannel for tasks: guarded native callbacks, bounded queues, backpressure |
 * | `_stream_sender.ts`, `_stream_receiver.ts`, `_counters.ts` | one stream's two ends; what a connection counts |
 *
 * ## How a stream flows
 * The receiver opens a data channel per stream and sends its request with a
 * window (default 4 MiB). The sender walks the DAG (the path's directories
 * and HAMT shards, then the file's nodes whose bytes meet the range), reads
 * each block from the store and sends it as a header (its size, its CID)
 * and messages of at most 64 KiB, waiting while the channel holds more than
 * `highWaterMark` unsent bytes (`bufferedAmount`, polled every `pollMs`)
 * and while the receiver's window is used up. The receiver takes messages
 * only as its reader reads, grants the window back as it takes them, puts
 * each block together, checks it, and hands out its bytes in the range.
 * Closing the channel from either end (the reader cancels, or
 * {@linkcode WebRtcConnection.closeStream}) cancels the sender's reads.
 *
 * ## Deno and the native library
 * Deno peers run on `npm:node-datachannel` (libdatachannel), loaded on
 * first use: run with `--allow-ffi` (and read, env, sys). A callback that
 * throws inside a native event would abort the process, so no callback of
 * the kit throws and no user code runs inside one: native events only
 * queue, count and wake tasks. Three limits of the library, as measured
 * with 0.33.4 and Deno 2.9.6:
 *
 * - One isolate per process may load it: it keeps a static reference into
 *   the first, and a second one (a `Worker`, another test module of the
 *   same `deno test` process) that loads it crashes Deno. The kit's test
 *   runner gives each WebRTC test module a process of its own.
 * - It lets go of a channel's callbacks only when libdatachannel reports
 *   the channel closed; `close()` waits for that (at most 2 s). For a peer
 *   connection whose remote browser vanished, that report can come some
 *   15 s later, and until then the process does not exit by itself.
 * - An in-band channel of the offerer may be renumbered under it before the
 *   DTLS roles are known, so the control channel is negotiated (a fixed
 *   id), and an offerer sends its ICE candidates only once it has the
 *   answer (else a browser's early DTLS handshake failed now and then).
 *
 * @example A directory's file, a range of it, over loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { connectWebRtc, serveSignaling, StreamingManager } from "@ipfs-kit/kit/webrtc";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const added = await node.addAll([{ path: "site/index.html", content: "<h1>hello</h1>" }]);
 * const root = added.at(-1)!.cid;
 * await using manager = new StreamingManager(node, { bindAddress: "127.0.0.1" });
 * await using server = serveSignaling(manager);
 * await using connection = await connectWebRtc(server.url, { bindAddress: "127.0.0.1" });
 * const stream = connection.open(root, { path: "index.html", offset: 4, length: 5 });
 * assert.equal(await new Response(stream).text(), "hello");
 * ```
 *
 * @module
 */

export { WebRtcConnection } from "./connection.ts";
export type { ConnectionStats, OpenStreamOptions, StreamInfo } from "./connection.ts";
export { StreamingManager } from "./streaming_manager.ts";
export type { StreamingManagerOptions, StreamingTotals } from "./streaming_manager.ts";
export { createSignalingHandler, serveSignaling } from "./signaling_server.ts";
export type {
  ServeSignalingOptions,
  SignalingHandler,
  SignalingHandlerOptions,
  SignalingServer,
} from "./signaling_server.ts";
export { connectWebRtc } from "./signaling_client.ts";
export type { ConnectWebRtcOptions } from "./signaling_client.ts";
export { resolveWebRtcOptions } from "./options.ts";
export type { ResolvedWebRtcOptions, WebRtcOptions } from "./options.ts";
export {
  SignalingError,
  StreamClosedError,
  VerificationError,
  type VerificationFailure,
  WebRtcLimitError,
  WebRtcProtocolError,
} from "./errors.ts";
export type { PeerConnectionState } from "./_peer.ts";
