/**
 * One WebRTC connection to a peer, in Deno: verified content streams in
 * both directions, its streams, its statistics.
 *
 * A connection comes from {@linkcode connectWebRtc} (the client side) or
 * from a {@linkcode StreamingManager} (the server side, one per signaling
 * session). It serves content when it has a store (every manager's
 * connections do; a client's when given one), and opens streams with
 * {@linkcode WebRtcConnection.open}.
 *
 * @module
 */

import type { CidLike, ContentStore } from "../ipfs/content_store.ts";
import { parseCid } from "../ipfs/parse_cid.ts";
import type { Clock } from "../runtime/clock.ts";
import { currentClock } from "../runtime/checkpoint.ts";
import { EndOfStream, isCancellationError } from "../runtime/errors.ts";
import { Event } from "../runtime/event.ts";
import { sleep } from "../runtime/sleep.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import { StreamClosedError, WebRtcLimitError } from "./errors.ts";
import { Counters } from "./_counters.ts";
import type { DataChannelPort, PortOptions } from "./_data_channel.ts";
import type { Peer, PeerConnectionState } from "./_peer.ts";
import { IPFS_ERRORS } from "./_ipfs_errors.ts";
import { serveStream } from "./_stream_sender.ts";
import { receiveStream } from "./_stream_receiver.ts";
import {
  checkRangeNumber,
  checkWindow,
  CONTROL_ID,
  CONTROL_LABEL,
  encodeError,
  parseControl,
  pathSegments,
  STREAM_LABEL,
  type StreamRequest,
} from "./_wire.ts";
import type { ResolvedWebRtcOptions } from "./options.ts";

/** Options for {@linkcode WebRtcConnection.open}. */
export interface OpenStreamOptions {
  /** A path below the CID (`"dir/file.txt"`); the stream is that file's bytes. */
  path?: string;
  /** First byte to read. Default `0`; past the end reads nothing. */
  offset?: number;
  /** How many bytes to read at most. Default: to the end. */
  length?: number;
  /**
   * How many bytes the sender may have in flight to this stream (the most
   * it holds in memory for it), 128 KiB to 64 MiB. Default: the
   * connection's `window` (4 MiB).
   */
  window?: number;
  /** Cancels the read: the channel is closed, which cancels the sender. */
  signal?: AbortSignal;
}

/** A stream of a connection, as {@linkcode WebRtcConnection.streams} lists it. */
export interface StreamInfo {
  /** The data channel's id: the same at both ends. */
  id: number;
  /** `"receiving"`: this side opened it; `"sending"`: this side serves it. */
  direction: "receiving" | "sending";
  /** The requested CID (`""` on the sending side until the request came). */
  cid: string;
  /** The requested path below it. */
  path: string;
  /** Blocks sent, or verified, so far. */
  blocks: number;
}

/** A connection's statistics, from {@linkcode WebRtcConnection.stats}. */
export interface ConnectionStats {
  /** The connection's id. */
  id: string;
  /** The peer connection's state (W3C names). */
  connectionState: PeerConnectionState;
  /** The ICE connection state. */
  iceConnectionState: string;
  /** The ICE gathering state. */
  iceGatheringState: string;
  /** The DTLS transport's state (derived from the connection state: libdatachannel reports none apart). */
  dtlsState: string;
  /** ms from the connection's start until ICE gathering completed; `null` until then. */
  iceGatheringMs: number | null;
  /** ms from the connection's start until it was connected; `null` until then. */
  connectMs: number | null;
  /** ms from this side's first request to its first verified byte; `null` until then. */
  timeToFirstByteMs: number | null;
  /** ms from the first request this side served to its first block sent; `null` until then. */
  timeToFirstBlockMs: number | null;
  /** Block bytes sent. */
  bytesSent: number;
  /** Blocks sent. */
  blocksSent: number;
  /** Block bytes received and verified. */
  bytesVerified: number;
  /** Blocks received and verified. */
  blocksVerified: number;
  /** Blocks refused by verification. */
  blocksRefused: number;
  /** File bytes handed to readers. */
  bytesDelivered: number;
  /** Bytes per second sent, from the first block sent to the last. */
  sendThroughput: number;
  /** Bytes per second verified, from the first block verified to the last. */
  receiveThroughput: number;
  /** The last round-trip time measured (a ping on the control channel, else SCTP's); `null` until one. */
  rttMs: number | null;
  /** Streams: open now in each direction, opened and refused in all, and the limit per direction. */
  streams: { receiving: number; sending: number; opened: number; refused: number; max: number };
  /** Bytes on the wire, every channel and all framing included. */
  transport: { bytesSent: number; bytesReceived: number };
  /** The selected ICE candidate pair (`"host 127.0.0.1:51234"`), once there is one. */
  candidatePair: { local: string; remote: string } | null;
}

/** What makes a connection; see {@linkcode createConnection}. */
export interface ConnectionInit {
  id: string;
  peer: Peer;
  store: ContentStore | undefined;
  options: ResolvedWebRtcOptions;
  /** Whether this side makes the offer (and opens the control channel). */
  offerer: boolean;
}

/** What the signaling modules of this folder do with a connection; not exported from `mod.ts`. */
export let connectionInternals: {
  /** Makes a connection. */
  create(init: ConnectionInit): WebRtcConnection;
  /** Runs `fn` as a task of the connection (signaling); a failure closes the connection. */
  spawn(connection: WebRtcConnection, fn: () => Promise<void>, name: string): void;
  /** Waits until the connection is connected; throws if it closed first. A checkpoint. */
  waitConnected(connection: WebRtcConnection): Promise<void>;
  /** The answering side took the offer: it opens its end of the control channel. */
  tookOffer(connection: WebRtcConnection): void;
  /** Waits until the connection ends. A checkpoint. */
  waitEnded(connection: WebRtcConnection): Promise<void>;
  /** Ends the connection without waiting for its tasks (from inside one). */
  end(connection: WebRtcConnection, reason: string): void;
};

interface StreamEntry {
  info: StreamInfo;
  port: DataChannelPort;
}

const CONTROL_QUEUE = 64 * 1024;
/** How long closing waits for libdatachannel's last callbacks. */
const RELEASE_TIMEOUT_MS = 2000;

/**
 * A WebRTC connection in Deno: streams verified content to the peer (when it
 * has a store) and from it ({@linkcode WebRtcConnection.open}). Its tasks run
 * in a task group made in the cancel scope it was made in; `close()` (or
 * `await using`) ends them and the peer connection. It closes by itself when
 * the peer connection fails or closes, or its signaling ends.
 *
 * @example Stream a file from a manager's store over loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { connectWebRtc, serveSignaling, StreamingManager } from "@ipfs-kit/kit/webrtc";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add("hello over a data channel");
 * await using manager = new StreamingManager(node, { bindAddress: "127.0.0.1" });
 * await using server = serveSignaling(manager);
 * await using connection = await connectWebRtc(server.url, { bindAddress: "127.0.0.1" });
 * const text = await new Response(connection.open(cid, { offset: 6 })).text();
 * assert.equal(text, "over a data channel");
 * assert.equal(connection.stats().blocksVerified, 1);
 * ```
 */
export class WebRtcConnection implements AsyncDisposable {
  readonly #peer: Peer;
  readonly #store: ContentStore | undefined;
  readonly #options: ResolvedWebRtcOptions;
  readonly #clock: Clock;
  readonly #group: TaskGroup;
  readonly #counters = new Counters();
  readonly #receiving = new Map<number, StreamEntry>();
  readonly #sending = new Map<number, StreamEntry>();
  readonly #ended = new Event();
  /** Set once the control channel is open, or the connection ended. */
  readonly #settled = new Event();
  #control: DataChannelPort | undefined;
  #closing: Promise<void> | undefined;
  #reason = "";
  /** The connection's id (the signaling server's). */
  readonly id: string;

  private constructor(init: ConnectionInit) {
    this.id = init.id;
    this.#peer = init.peer;
    this.#store = init.store;
    this.#options = init.options;
    this.#clock = currentClock();
    this.#group = new TaskGroup();
    this.#group.spawn(() => this.#acceptChannels(), { name: "webrtc accept channels" });
    this.#group.spawn(() => this.#watchState(), { name: "webrtc watch state" });
    if (init.offerer) this.#openControl();
  }

  /** Whether the connection is closed or closing. */
  get closed(): boolean {
    return this.#ended.isSet;
  }

  /** Why it closed (`""` while open). */
  get closeReason(): string {
    return this.#reason;
  }

  /** Whether the peer connection is connected. */
  get connected(): boolean {
    return this.#peer.connectionState === "connected";
  }

  /** Runs `fn` as a task of the connection (signaling); a failure closes the connection. */
  #spawn(fn: () => Promise<void>, name: string): void {
    this.#group.spawn(async () => {
      try {
        await fn();
      } catch (error) {
        if (isCancellationError(error)) throw error;
        this.#end(`${name} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }, { name });
  }

  /**
   * Waits until the connection is connected and its control channel open;
   * throws if it closed first.
   */
  async #waitConnected(): Promise<void> {
    await this.#settled.wait();
    await this.#peer.waitFor(() => this.connected || this.#ended.isSet);
    if (!this.connected || this.#ended.isSet) {
      throw new Error(this.#reason || "the connection closed");
    }
  }

  /**
   * Opens a stream of `cid`'s bytes (or of the file at `path` below it),
   * read from the peer and verified block by block: each block's hash
   * against its CID, and each link from the root, before any of its bytes
   * is handed out. Reading is a checkpoint and runs in the reader's cancel
   * scope; cancelling the stream, aborting `signal` or cancelling that scope
   * closes the channel, which cancels the sender's reads.
   *
   * @param cid The root CID.
   * @param options A path, a byte range, a window, a signal.
   * @returns The verified bytes. The stream errors with
   * `VerificationError` (a block refused: no byte of it was handed out),
   * `NotFoundError` (no such path), `InvalidInputError` (a directory),
   * `StreamClosedError` (the sender or the connection closed it early) or
   * `WebRtcProtocolError`.
   * @throws {WebRtcLimitError} `maxStreams` streams are open already.
   * @throws {InvalidCidError} `cid` is not a CID.
   * @throws {InvalidInputError} A bad path, offset or length.
   * @throws {StreamClosedError} The connection is closed.
   */
  open(cid: CidLike, options: OpenStreamOptions = {}): ReadableStream<Uint8Array> {
    const what = "Cannot open stream";
    const request: StreamRequest = {
      cid: parseCid(cid, "open stream"),
      path: pathSegments(options.path, what, IPFS_ERRORS),
      offset: checkRangeNumber(options.offset, "offset", what, IPFS_ERRORS) ?? 0,
      length: checkRangeNumber(options.length, "length", what, IPFS_ERRORS),
      window: options.window === undefined
        ? this.#options.window
        : checkWindow(options.window, what),
    };
    if (this.#ended.isSet) {
      throw new StreamClosedError(`${what}: the connection is closed (${this.#reason})`);
    }
    const max = this.#options.maxStreams;
    if (this.#receiving.size >= max) {
      this.#counters.streamsRefused++;
      throw new WebRtcLimitError(
        `${what}: limit of ${max} streams per connection reached`,
        "streams",
        max,
      );
    }
    const port = this.#peer.createChannel(STREAM_LABEL, {
      maxQueuedCost: request.window,
      highWaterMark: this.#options.highWaterMark,
      pollMs: this.#options.pollMs,
    });
    const info: StreamInfo = {
      id: port.id,
      direction: "receiving",
      cid: request.cid.toString(),
      path: request.path.join("/"),
      blocks: 0,
    };
    this.#receiving.set(port.id, { info, port });
    this.#counters.streamsOpened++;
    const before = this.#counters.blocksVerified;
    return receiveStream(port, request, options.signal, {
      counters: this.#counters,
      clock: this.#clock,
      openTimeoutMs: this.#options.requestTimeoutMs,
      onEnd: () => {
        info.blocks = this.#counters.blocksVerified - before;
        this.#receiving.delete(port.id);
      },
    });
  }

  /** The streams open now, both directions. */
  streams(): StreamInfo[] {
    return [...this.#receiving.values(), ...this.#sending.values()].map((entry) => ({
      ...entry.info,
    }));
  }

  /**
   * Closes one stream from this end: a stream it serves (the sender's
   * reads are cancelled; the receiver's stream errors with
   * `StreamClosedError`) or one it reads (the reader's stream errors).
   *
   * @param id The stream's id, from {@linkcode WebRtcConnection.streams}.
   * @returns Whether such a stream was open.
   */
  closeStream(id: number): boolean {
    const entry = this.#sending.get(id) ?? this.#receiving.get(id);
    if (entry === undefined) return false;
    entry.port.close();
    return true;
  }

  /** The connection's statistics now. */
  stats(): ConnectionStats {
    const counters = this.#counters;
    const peer = this.#peer;
    const transport = peer.transportStats();
    const rate = (bytes: number, from: number | undefined, to: number | undefined) =>
      from === undefined || to === undefined || to <= from
        ? 0
        : Math.round(bytes / ((to - from) / 1000));
    const rtt = counters.pingRttMs ?? (transport.rttMs > 0 ? transport.rttMs : undefined);
    return {
      id: this.id,
      connectionState: peer.connectionState,
      iceConnectionState: peer.iceConnectionState,
      iceGatheringState: peer.iceGatheringState,
      dtlsState: peer.dtlsState,
      iceGatheringMs: peer.gatheringMs ?? null,
      connectMs: peer.connectMs ?? null,
      timeToFirstByteMs: counters.timeToFirstByteMs ?? null,
      timeToFirstBlockMs: counters.timeToFirstBlockMs ?? null,
      bytesSent: counters.bytesSent,
      blocksSent: counters.blocksSent,
      bytesVerified: counters.bytesVerified,
      blocksVerified: counters.blocksVerified,
      blocksRefused: counters.blocksRefused,
      bytesDelivered: counters.bytesDelivered,
      sendThroughput: rate(counters.bytesSent, counters.firstSentAt, counters.lastSentAt),
      receiveThroughput: rate(
        counters.bytesVerified,
        counters.firstVerifiedAt,
        counters.lastVerifiedAt,
      ),
      rttMs: rtt ?? null,
      streams: {
        receiving: this.#receiving.size,
        sending: this.#sending.size,
        opened: counters.streamsOpened,
        refused: counters.streamsRefused,
        max: this.#options.maxStreams,
      },
      transport: { bytesSent: transport.bytesSent, bytesReceived: transport.bytesReceived },
      candidatePair: peer.selectedPair() ?? null,
    };
  }

  /**
   * Closes the connection: every stream (readers' streams error with
   * `StreamClosedError`), the peer connection, and the connection's tasks,
   * which it waits for. Idempotent.
   *
   * @param reason Why, for `closeReason` and the peer.
   */
  close(reason = "closed"): Promise<void> {
    this.#end(reason);
    this.#closing ??= this.#finish();
    return this.#closing;
  }

  /** Joins the tasks, then waits until libdatachannel let go of the connection's callbacks. */
  async #finish(): Promise<void> {
    try {
      await this.#group.join();
    } finally {
      await this.#peer.released(RELEASE_TIMEOUT_MS);
    }
  }

  /** Closes the connection, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Ends the connection without waiting: for callbacks and tasks of its own. */
  #end(reason: string): void {
    if (this.#ended.isSet) return;
    this.#reason = reason;
    this.#ended.set();
    this.#settled.set();
    this.#peer.close();
    this.#group.cancelScope.cancel(reason);
  }

  async #acceptChannels(): Promise<void> {
    for (;;) {
      let port: DataChannelPort;
      try {
        port = await this.#peer.incoming.receive();
      } catch (error) {
        if (error instanceof EndOfStream) return;
        throw error;
      }
      this.#peer.taken();
      if (port.label !== STREAM_LABEL) port.close();
      else this.#serve(port);
    }
  }

  #serve(port: DataChannelPort): void {
    const max = this.#options.maxStreams;
    if (this.#store === undefined || this.#sending.size >= max) {
      this.#counters.streamsRefused++;
      const message = this.#store === undefined
        ? encodeError("invalid_input", "Cannot open stream: this peer serves no content")
        : encodeError(
          "limit",
          `Cannot open stream: limit of ${max} streams per connection reached`,
        );
      this.#group.spawn(async () => {
        try {
          await moveOnAfter(this.#options.requestTimeoutMs, async () => {
            await port.waitOpen();
            port.sendNow(message);
            await port.waitClosed();
          });
        } catch (error) {
          if (isCancellationError(error)) throw error;
        } finally {
          port.close();
        }
      }, { name: "webrtc refuse stream" });
      return;
    }
    const info: StreamInfo = { id: port.id, direction: "sending", cid: "", path: "", blocks: 0 };
    this.#sending.set(port.id, { info, port });
    this.#counters.streamsOpened++;
    this.#group.spawn(async () => {
      try {
        await serveStream(port, {
          store: this.#store!,
          requestTimeoutMs: this.#options.requestTimeoutMs,
          lingerMs: this.#options.lingerMs,
          counters: this.#counters,
          clock: this.#clock,
          onRequest: (request) => {
            info.cid = request.cid.toString();
            info.path = request.path.join("/");
          },
          onBlock: () => info.blocks++,
        });
      } catch (error) {
        // A stream's failure (a receiver breaking the protocol) ends that stream only.
        if (isCancellationError(error)) throw error;
      } finally {
        this.#sending.delete(port.id);
      }
    }, { name: "webrtc serve stream" });
  }

  #controlOptions(): PortOptions {
    return {
      maxQueuedCost: CONTROL_QUEUE,
      highWaterMark: this.#options.highWaterMark,
      pollMs: this.#options.pollMs,
    };
  }

  /**
   * Opens the control channel (negotiated: the offerer before its offer, the
   * answerer once it took the offer), answers pings on it, and pings every
   * `pingIntervalMs` to measure the round trip. Idempotent.
   */
  #openControl(): void {
    if (this.#control !== undefined || this.#ended.isSet) return;
    const port = this.#peer.createChannel(CONTROL_LABEL, this.#controlOptions(), CONTROL_ID);
    this.#control = port;
    this.#group.spawn(async () => {
      for (;;) {
        let message: string | Uint8Array;
        try {
          message = await port.receive();
        } catch (error) {
          if (error instanceof EndOfStream) return;
          throw error;
        }
        try {
          const control = parseControl(message);
          if (control.type === "ping") port.sendNow(JSON.stringify({ type: "pong", t: control.t }));
          else this.#counters.pingRttMs = Math.max(0, this.#clock.now() - control.t);
        } catch (error) {
          this.#end(`the peer broke the control protocol: ${(error as Error).message}`);
          return;
        }
      }
    }, { name: "webrtc control" });
    this.#group.spawn(async () => {
      try {
        await port.waitOpen();
        this.#settled.set();
        for (;;) {
          port.sendNow(JSON.stringify({ type: "ping", t: this.#clock.now() }));
          await sleep(this.#options.pingIntervalMs);
        }
      } catch (error) {
        if (isCancellationError(error)) throw error;
        // The control channel closed: no more pings.
      }
    }, { name: "webrtc ping" });
  }

  async #watchState(): Promise<void> {
    const peer = this.#peer;
    const over = () => {
      const state = peer.connectionState;
      return state === "failed" || state === "closed" || peer.failure !== undefined;
    };
    await peer.waitFor(over);
    this.#end(
      peer.failure
        ? `the peer connection failed: ${peer.failure.message}`
        : `the peer connection is ${peer.connectionState}`,
    );
  }

  static {
    connectionInternals = {
      create: (init) => new WebRtcConnection(init),
      spawn: (connection, fn, name) => connection.#spawn(fn, name),
      waitConnected: (connection) => connection.#waitConnected(),
      tookOffer: (connection) => connection.#openControl(),
      waitEnded: (connection) => connection.#ended.wait(),
      end: (connection, reason) => connection.#end(reason),
    };
  }
}
