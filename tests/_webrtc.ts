/**
 * Test fixtures for the WebRTC floor: a node served by a streaming manager
 * on loopback with a connected client, stores that lie, a sender whose wire
 * messages are rewritten, and digests to compare bytes by.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { CID } from "npm:multiformats@14.0.5/cid";
import type { CidLike, ContentStore, SignalOptions } from "../ipfs/content_store.ts";
import type { EmbeddedNode } from "../ipfs/embedded_node.ts";
import {
  connectWebRtc,
  type ConnectWebRtcOptions,
  serveSignaling,
  type SignalingServer,
  StreamingManager,
  type StreamingManagerOptions,
  type WebRtcConnection,
} from "../webrtc/mod.ts";
import { withNode } from "./_node.ts";

/** What {@linkcode withWebRtc} hands the test. */
export interface WebRtcFixture {
  node: EmbeddedNode;
  manager: StreamingManager;
  server: SignalingServer;
  /** A client connected to `server`. */
  connection: WebRtcConnection;
}

/** Options for {@linkcode withWebRtc}. */
export interface WebRtcFixtureOptions {
  /** The manager's options (always bound to 127.0.0.1). */
  manager?: StreamingManagerOptions;
  /** The client's options (always bound to 127.0.0.1). */
  client?: ConnectWebRtcOptions;
  /** The store the manager serves instead of the node (made from it). */
  store?: (node: EmbeddedNode) => ContentStore;
  /** Whether the client serves the node too. */
  clientServes?: boolean;
}

/**
 * Runs `fn` with an embedded node on a temporary repository, a streaming
 * manager serving it over signaling on loopback, and a client connected to
 * it; closes them all afterwards.
 */
export function withWebRtc<T>(
  fn: (fixture: WebRtcFixture) => Promise<T>,
  options: WebRtcFixtureOptions = {},
): Promise<T> {
  return withNode(async (node) => {
    const store = options.store?.(node) ?? node;
    await using manager = new StreamingManager(store, {
      bindAddress: "127.0.0.1",
      ...options.manager,
    });
    await using server = serveSignaling(manager);
    await using connection = await connectWebRtc(server.url, {
      bindAddress: "127.0.0.1",
      ...(options.clientServes ? { store: node } : {}),
      ...options.client,
    });
    return await fn({ node, manager, server, connection });
  });
}

/** The SHA-256 of `bytes`, in hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The node as a store that lies: `block.get` hands out what `lie` makes of
 * each block's true bytes (every other call goes to the node as is).
 */
export function lyingStore(
  node: EmbeddedNode,
  lie: (cid: CID, bytes: Uint8Array) => Uint8Array,
): ContentStore {
  const block = {
    get: async (cid: CidLike, options?: SignalOptions) => {
      const bytes = await node.block.get(cid, options);
      return lie(CID.asCID(cid) ?? CID.parse(String(cid)), bytes);
    },
    put: node.block.put.bind(node.block),
    has: node.block.has.bind(node.block),
    stat: node.block.stat.bind(node.block),
    rm: node.block.rm.bind(node.block),
  };
  return new Proxy(node, {
    get(target, property) {
      if (property === "block") return block;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as unknown as ContentStore;
}

/**
 * Rewrites every binary message node-datachannel sends in this process
 * until the returned function is called: a sender that lies on the wire
 * (the receivers of these tests send only text).
 */
export async function rewriteBinarySends(
  rewrite: (message: Uint8Array) => Uint8Array,
): Promise<() => void> {
  const ndc = await import("npm:node-datachannel@0.33.4");
  const prototype = (ndc.DataChannel as { prototype: unknown }).prototype as {
    sendMessageBinary(buffer: Uint8Array): boolean;
  };
  const original = prototype.sendMessageBinary;
  prototype.sendMessageBinary = function (this: unknown, buffer: Uint8Array) {
    return original.call(this, rewrite(buffer));
  };
  return () => {
    prototype.sendMessageBinary = original;
  };
}

/** Reads a stream until it ends or fails; returns what came before, and the failure. */
export async function readUntilFailure(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bytes: number; chunks: Uint8Array[]; error: unknown }> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk);
      bytes += chunk.length;
    }
  } catch (error) {
    return { bytes, chunks, error };
  }
  return { bytes, chunks, error: undefined };
}
