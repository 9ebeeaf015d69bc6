/**
 * The streaming manager: serves a content store's files to peers over
 * WebRTC data channels, one connection per signaling session, within a
 * limit of connections; lists them with their statistics, closes one or all.
 *
 * @module
 */

import type { ContentStore } from "../ipfs/content_store.ts";
import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import { isCancellationError } from "../runtime/errors.ts";
import { Event } from "../runtime/event.ts";
import { connectionInternals, type ConnectionStats, type WebRtcConnection } from "./connection.ts";
import { WebRtcLimitError } from "./errors.ts";
import { type ResolvedWebRtcOptions, resolveWebRtcOptions, type WebRtcOptions } from "./options.ts";
import { Peer } from "./_peer.ts";
import { SIGNALING_VERSION } from "./_signaling_messages.ts";
import { runSignalingSession } from "./_signaling_session.ts";
import { WEBSOCKET_CLOSE_CODES } from "../http/websocket.ts";
import { WebSocketPort, type WebSocketPortOptions } from "../http/websocket_port.ts";
import { SessionSocket, type SignalingSocket } from "./_signaling_socket.ts";
import type { WebSocketSession } from "../http/websocket.ts";
import { integerOption } from "./_integer_option.ts";

/** Options for {@linkcode StreamingManager}. */
export interface StreamingManagerOptions extends WebRtcOptions {
  /** Connections at once; one more is refused (`too_many_connections`). Default 16. */
  maxConnections?: number;
  /** Who makes the offer: the server (as the original kit did; the default) or the client. */
  offerer?: "server" | "client";
  /** The largest signaling message, in characters; larger closes the socket (1009). Default 64 KiB. */
  maxSignalingMessageBytes?: number;
  /** Signaling messages a second from one client on average; a flood closes the socket (1008). Default 20. */
  signalingRatePerSecond?: number;
  /** Signaling messages at once above that rate. Default 60. */
  signalingBurst?: number;
  /** Remote ICE candidates that may wait for the remote description. Default 32. */
  maxQueuedCandidates?: number;
  /** Malformed or out-of-turn signaling messages tolerated before the socket is closed. Default 8. */
  maxBadMessages?: number;
}

/**
 * What a {@linkcode StreamingManager} has done since it was made: its
 * connections' counters, the closed ones' included (from
 * {@linkcode StreamingManager.totals}; a daemon's `/metrics` shows them).
 */
export interface StreamingTotals {
  /** Connections opened (sessions that made a peer connection). */
  connectionsOpened: number;
  /** Sessions refused: the manager was full or closing. */
  connectionsRefused: number;
  /** Streams opened, both directions. */
  streamsOpened: number;
  /** Streams refused by a limit, both directions. */
  streamsRefused: number;
  /** Block bytes sent. */
  bytesSent: number;
  /** Blocks sent. */
  blocksSent: number;
  /** Block bytes received and verified (when the peer served this side). */
  bytesVerified: number;
  /** Blocks received and verified. */
  blocksVerified: number;
  /**
   * Blocks this side refused by verification (a sender's lie). The peer's
   * receiver verifies what this side sends, and does not report back.
   */
  blocksRefused: number;
}

/** Adds a connection's counters to `totals`. */
function addStats(totals: StreamingTotals, stats: ConnectionStats): void {
  totals.streamsOpened += stats.streams.opened;
  totals.streamsRefused += stats.streams.refused;
  totals.bytesSent += stats.bytesSent;
  totals.blocksSent += stats.blocksSent;
  totals.bytesVerified += stats.bytesVerified;
  totals.blocksVerified += stats.blocksVerified;
  totals.blocksRefused += stats.blocksRefused;
}

/** What the signaling handler does with a manager; not exported from `mod.ts`. */
export let managerInternals: {
  /** Runs a session on a WebSocket of the kit's HTTP layer. */
  acceptSession(manager: StreamingManager, session: WebSocketSession): Promise<void>;
  /** The largest signaling message the manager takes. */
  maxMessageBytes(manager: StreamingManager): number;
};

interface Session {
  connection: WebRtcConnection;
  done: Event;
}

/**
 * Serves the files of a {@linkcode ContentStore} (the kit, a node, any
 * backend) over WebRTC data channels. Each signaling session
 * ({@linkcode StreamingManager.accept}, which the handler of
 * {@linkcode createSignalingHandler} calls) makes one
 * {@linkcode WebRtcConnection}, within `maxConnections`; its peer asks for
 * files, paths below directories and byte ranges, and gets the blocks each
 * needs, which it verifies (see `@ipfs-kit/kit/webrtc`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { connectWebRtc, serveSignaling, StreamingManager } from "@ipfs-kit/kit/webrtc";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add("listed");
 * await using manager = new StreamingManager(node, { bindAddress: "127.0.0.1" });
 * await using server = serveSignaling(manager);
 * await using connection = await connectWebRtc(server.url, { bindAddress: "127.0.0.1" });
 * assert.equal(await new Response(connection.open(cid)).text(), "listed");
 * assert.deepEqual(manager.connections().map((stats) => stats.id), [connection.id]);
 * ```
 */
export class StreamingManager implements AsyncDisposable {
  readonly #store: ContentStore;
  readonly #options: ResolvedWebRtcOptions;
  readonly #maxConnections: number;
  readonly #offerer: "server" | "client";
  readonly #wsOptions: WebSocketPortOptions;
  readonly #maxQueuedCandidates: number;
  readonly #maxBadMessages: number;
  readonly #sessions = new Map<string, Session>();
  #pending = 0;
  #closed = false;
  /** The counters of closed connections, and the connections opened and refused. */
  readonly #totals: StreamingTotals = {
    connectionsOpened: 0,
    connectionsRefused: 0,
    streamsOpened: 0,
    streamsRefused: 0,
    bytesSent: 0,
    blocksSent: 0,
    bytesVerified: 0,
    blocksVerified: 0,
    blocksRefused: 0,
  };

  /**
   * Makes a manager for `store`. It opens nothing until a session comes.
   *
   * @param store Where the content comes from.
   * @param options Limits, ICE settings, who offers.
   * @throws {TypeError} An option has the wrong type.
   * @throws {RangeError} A number is out of range.
   */
  constructor(store: ContentStore, options: StreamingManagerOptions = {}) {
    const what = "Cannot create streaming manager";
    if (store === null || typeof store !== "object" || typeof store.block?.get !== "function") {
      throw new TypeError(`${what}: store must be a ContentStore`);
    }
    this.#store = store;
    this.#options = resolveWebRtcOptions(options, what);
    this.#maxConnections = integerOption(
      options.maxConnections,
      16,
      1,
      4096,
      "maxConnections",
      what,
    );
    const offerer = options.offerer ?? "server";
    if (offerer !== "server" && offerer !== "client") {
      throw new TypeError(`${what}: offerer must be "server" or "client"`);
    }
    this.#offerer = offerer;
    this.#wsOptions = {
      maxMessageBytes: integerOption(
        options.maxSignalingMessageBytes,
        64 * 1024,
        1024,
        1024 * 1024,
        "maxSignalingMessageBytes",
        what,
      ),
      maxQueued: 64,
      ratePerSecond: integerOption(
        options.signalingRatePerSecond,
        20,
        1,
        10_000,
        "signalingRatePerSecond",
        what,
      ),
      burst: integerOption(options.signalingBurst, 60, 1, 10_000, "signalingBurst", what),
      closeTimeoutMs: 1000,
    };
    this.#maxQueuedCandidates = integerOption(
      options.maxQueuedCandidates,
      32,
      1,
      1024,
      "maxQueuedCandidates",
      what,
    );
    this.#maxBadMessages = integerOption(
      options.maxBadMessages,
      8,
      0,
      1024,
      "maxBadMessages",
      what,
    );
  }

  /** Connections open now (and sessions still setting one up). */
  get size(): number {
    return this.#sessions.size + this.#pending;
  }

  /** The most connections at once. */
  get maxConnections(): number {
    return this.#maxConnections;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The statistics of every open connection.
   *
   * @returns One entry per connection, oldest first.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   * import { StreamingManager } from "@ipfs-kit/kit/webrtc";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * await using manager = new StreamingManager(node);
   * assert.deepEqual(manager.connections(), []);
   * ```
   */
  connections(): ConnectionStats[] {
    return [...this.#sessions.values()].map((session) => session.connection.stats());
  }

  /**
   * What the manager has done since it was made: every connection's
   * counters, open and closed, summed.
   *
   * @returns The totals, a fresh object.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
   * import { StreamingManager } from "@ipfs-kit/kit/webrtc";
   *
   * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
   * await using manager = new StreamingManager(node);
   * assert.equal(manager.totals().connectionsOpened, 0);
   * assert.equal(manager.totals().bytesSent, 0);
   * ```
   */
  totals(): StreamingTotals {
    const totals = { ...this.#totals };
    for (const session of this.#sessions.values()) addStats(totals, session.connection.stats());
    return totals;
  }

  /**
   * One connection, by id.
   *
   * @param id The connection's id (the signaling `welcome` carries it).
   * @returns The connection, or `undefined`.
   */
  connection(id: string): WebRtcConnection | undefined {
    return this.#sessions.get(id)?.connection;
  }

  /**
   * Closes one connection and waits until its session ended.
   *
   * @param id The connection's id.
   * @param reason Why, sent to the peer.
   * @returns Whether it was open.
   */
  async closeConnection(id: string, reason = "closed by the server"): Promise<boolean> {
    const session = this.#sessions.get(id);
    if (session === undefined) return false;
    connectionInternals.end(session.connection, reason);
    await session.done.wait();
    return true;
  }

  /**
   * Closes every connection and waits until their sessions ended.
   *
   * @param reason Why, sent to the peers.
   */
  async closeAll(reason = "closed by the server"): Promise<void> {
    const sessions = [...this.#sessions.values()];
    for (const session of sessions) connectionInternals.end(session.connection, reason);
    for (const session of sessions) await session.done.wait();
  }

  /**
   * Runs the server's side of the signaling protocol on an open (or
   * opening) Web `WebSocket` of a server of your own, until the connection
   * it makes ends; then closes the socket. (The handler of
   * {@linkcode createSignalingHandler} needs none of this: it runs sessions
   * on the kit's HTTP layer, whose messages are bounded before they are
   * buffered; `Deno.upgradeWebSocket` buffers a message whole whatever its
   * size, and only then is it found too large.) The connection's tasks run
   * in the caller's cancel scope: call it from a task of a long-lived task
   * group. A manager that is full or closed tells the client so
   * (`too_many_connections`, `shutting_down`) and closes the socket.
   *
   * @param socket The socket, from `Deno.upgradeWebSocket` or a server of your own.
   * @returns A promise that settles once the session is over; it rejects
   * only when the caller is cancelled.
   */
  accept(socket: WebSocket): Promise<void> {
    return this.#run(new WebSocketPort(socket, this.#wsOptions));
  }

  /** Runs a session on a socket of either kind; see {@linkcode StreamingManager.accept}. */
  async #run(ws: SignalingSocket): Promise<void> {
    const refusal = this.#closed
      ? {
        code: "shutting_down",
        message: "the server is shutting down",
        close: WEBSOCKET_CLOSE_CODES.goingAway,
      }
      : this.size >= this.#maxConnections
      ? {
        code: "too_many_connections",
        message: new WebRtcLimitError(
          `Cannot connect: limit of ${this.#maxConnections} connections reached`,
          "connections",
          this.#maxConnections,
        ).message,
        close: WEBSOCKET_CLOSE_CODES.tryAgainLater,
      }
      : undefined;
    if (refusal !== undefined) {
      this.#totals.connectionsRefused++;
      await ws.waitOpen();
      ws.send({ type: "error", code: refusal.code, message: refusal.message });
      await ws.close(refusal.close, refusal.code);
      return;
    }
    this.#pending++;
    let peer: Peer;
    try {
      peer = await Peer.create({
        iceServers: this.#options.iceServers,
        bindAddress: this.#options.bindAddress,
        highWaterMark: this.#options.highWaterMark,
        pollMs: this.#options.pollMs,
        maxPendingIncoming: this.#options.maxStreams + 8,
      });
    } catch (error) {
      this.#pending--;
      await ws.close(WEBSOCKET_CLOSE_CODES.internalError, "internal_error");
      throw error;
    }
    const id = crypto.randomUUID();
    const offerer = this.#offerer === "server";
    const connection = connectionInternals.create({
      id,
      peer,
      store: this.#store,
      options: this.#options,
      offerer,
    });
    const done = new Event();
    this.#pending--;
    this.#totals.connectionsOpened++;
    this.#sessions.set(id, { connection, done });
    try {
      await ws.waitOpen();
      ws.send({
        type: "welcome",
        version: SIGNALING_VERSION,
        connectionId: id,
        offerer: this.#offerer,
      });
      connectionInternals.spawn(connection, () =>
        runSignalingSession(ws, peer, connection, {
          isServer: true,
          offerer,
          maxQueuedCandidates: this.#maxQueuedCandidates,
          maxBadMessages: this.#maxBadMessages,
          negotiationTimeoutMs: this.#options.negotiationTimeoutMs,
          stats: () => connection.stats(),
        }), "webrtc signaling");
      await connectionInternals.waitEnded(connection);
    } catch (error) {
      if (!isCancellationError(error)) throw error;
      connectionInternals.end(connection, "the server stopped");
      throw error;
    } finally {
      await this.#finish(id, connection, done);
    }
  }

  /** Closes a session's connection, waits for its tasks, and lets `closeConnection` return. */
  async #finish(id: string, connection: WebRtcConnection, done: Event): Promise<void> {
    try {
      await connection.close();
    } catch (error) {
      // The connection's group was cancelled with the session: that is no failure here.
      if (!isCancellationError(error)) throw error;
      checkpointIfCancelled();
    } finally {
      this.#count(connection);
      this.#sessions.delete(id);
      done.set();
    }
  }

  /** Adds a closing connection's counters to the totals. */
  #count(connection: WebRtcConnection): void {
    addStats(this.#totals, connection.stats());
  }

  /**
   * Refuses new sessions and closes every connection. Idempotent. The
   * store is the caller's: it stays open.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.closeAll("the server is shutting down");
  }

  /** Closes the manager, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  static {
    managerInternals = {
      acceptSession: (manager, session) =>
        manager.#run(
          new SessionSocket(session, {
            ratePerSecond: manager.#wsOptions.ratePerSecond,
            burst: manager.#wsOptions.burst,
            closeTimeoutMs: manager.#wsOptions.closeTimeoutMs,
          }),
        ),
      maxMessageBytes: (manager) => manager.#wsOptions.maxMessageBytes,
    };
  }
}
