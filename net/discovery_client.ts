/**
 * The discovery client ({@linkcode DiscoveryClient}): connects to a
 * discovery server (`discovery_server.ts`), announces the peer's signed
 * {@linkcode PeerInfo}, keeps it alive with heartbeats and re-announces it
 * (freshly signed) every `reannounceMs`; reconnects with capped exponential
 * backoff when the connection drops; answers `requestPeers` with records it
 * has checked itself (the server is not trusted: every record's signature
 * is verified against its peer ID); and, given a `dial` callback (a libp2p
 * node's `swarm.connect`, say), dials every peer it discovers, a bounded
 * number at once, keeping each peer's connection success rate.
 *
 * Everything runs in one task group made in the caller's cancel scope:
 * `close()` or `await using` ends it.
 *
 * @module
 */

import type { PeerIdentity } from "../ipfs/peer_identity.ts";
import { checkToken } from "../http/access.ts";
import { EndOfStream, isCancellationError, TimeoutError } from "../runtime/errors.ts";
import { Event } from "../runtime/event.ts";
import { createMemoryChannel, type MemorySendChannel } from "../runtime/memory_channel.ts";
import { backoffDelay } from "../runtime/retry.ts";
import { sleep } from "../runtime/sleep.ts";
import { TaskGroup, taskGroup } from "../runtime/task_group.ts";
import { failAfter, moveOnAfter, withSignal } from "../runtime/timeouts.ts";
import { WEBSOCKET_CLOSE_CODES } from "../http/websocket.ts";
import { WebSocketPort } from "../http/websocket_port.ts";
import { DiscoveryError, PeerInfoError } from "./errors.ts";
import {
  matchesPeerFilter,
  type PeerFilter,
  type PeerInfo,
  type PeerInfoFields,
  signPeerInfo,
  verifyPeerInfo,
} from "./peer_info.ts";

/** Dials a discovered peer; rejects when it cannot be reached. */
export type DialPeer = (peer: PeerInfo, options: { signal: AbortSignal }) => Promise<unknown>;

/** Options for {@linkcode DiscoveryClient}. */
export interface DiscoveryClientOptions {
  /** The peer's identity: the records are signed with its key. */
  identity: PeerIdentity;
  /** What the peer announces: addresses, role, capabilities, resources, metadata. */
  info: PeerInfoFields;
  /** The server's token, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** The heartbeat interval, in ms. Default: what the server's welcome suggests. */
  heartbeatMs?: number;
  /** How often the record is signed anew and announced again, in ms. Default 60 000. */
  reannounceMs?: number;
  /** How often the peers are asked for again (for auto-connect), in ms. Default 60 000. */
  refreshMs?: number;
  /** Reconnecting: the first delay and the cap, in ms (full jitter). Default 250 and 30 000. */
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number };
  /** How long connecting (up to the welcome) and each request may take, in ms. Default 10 000. */
  timeoutMs?: number;
  /** Dials a discovered peer (`swarm.connect` of a libp2p node). Without it, nothing is dialed. */
  dial?: DialPeer;
  /** Which discovered peers to dial. Default: every one. */
  autoConnect?: PeerFilter;
  /** Dials at once. Default 4. */
  maxConcurrentDials?: number;
  /** How long one dial may take, in ms. Default 10 000. */
  dialTimeoutMs?: number;
  /** Peers (and their dial statistics) remembered at most. Default 1024. */
  maxKnownPeers?: number;
  /** The oldest signature accepted from the server's answers, in ms. Default 600 000. */
  maxAgeMs?: number;
  /** Closes the client when aborted. */
  signal?: AbortSignal;
}

/** How dialing one peer went, from {@linkcode DiscoveryClient.dialStats}. */
export interface PeerDialStats {
  /** The peer. */
  peerId: string;
  /** Dials started. */
  attempts: number;
  /** Dials that succeeded. */
  successes: number;
  /** Dials that failed (or timed out). */
  failures: number;
  /** `successes / (successes + failures)`; 0 before any dial ended. */
  successRate: number;
  /** Whether the last dial succeeded. */
  connected: boolean;
  /** Why the last failed dial failed. */
  lastError: string | undefined;
}

/** Options of a peer request. */
export interface PeerRequestOptions extends PeerFilter {
  /** Leave this peer out. Default true. */
  excludeSelf?: boolean;
  /** The most peers wanted (the server caps it too). */
  limit?: number;
  /** Cancels the request. */
  signal?: AbortSignal;
}

interface Pending {
  done: Event;
  peers?: unknown[];
  error?: Error;
}

/**
 * A discovery client; see the module documentation.
 *
 * @example Two peers find each other
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPeerIdentity } from "@ipfs-kit/kit/ipfs";
 * import { DiscoveryClient, serveDiscovery } from "@ipfs-kit/kit/net";
 *
 * await using server = serveDiscovery();
 * await using a = await DiscoveryClient.connect(server.url, {
 *   identity: await createPeerIdentity(),
 *   info: { multiaddrs: ["/ip4/127.0.0.1/tcp/4001"], role: "master" },
 * });
 * await using b = await DiscoveryClient.connect(server.url, {
 *   identity: await createPeerIdentity(),
 *   info: { multiaddrs: ["/ip4/127.0.0.1/tcp/4002"], role: "worker", capabilities: ["bitswap"] },
 * });
 * const workers = await a.requestPeers({ role: "worker" });
 * assert.equal(workers.length, 1);
 * assert.equal(workers[0].peerId, b.peerId);
 * ```
 */
export class DiscoveryClient implements AsyncDisposable {
  readonly #url: URL;
  readonly #identity: PeerIdentity;
  #fields: PeerInfoFields;
  readonly #token: string | undefined;
  readonly #heartbeatMs: number | undefined;
  readonly #reannounceMs: number;
  readonly #refreshMs: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #timeoutMs: number;
  readonly #dial: DialPeer | undefined;
  readonly #autoConnect: PeerFilter;
  readonly #dialTimeoutMs: number;
  readonly #maxKnown: number;
  readonly #maxAgeMs: number;
  readonly #group: TaskGroup;
  readonly #known = new Map<string, PeerInfo>();
  readonly #stats = new Map<string, PeerDialStats>();
  readonly #dialing = new Set<string>();
  readonly #pending = new Map<number, Pending>();
  readonly #dials: MemorySendChannel<PeerInfo>;
  #ws: WebSocketPort | undefined;
  #connected = false;
  #changed = new Event();
  #nextId = 0;
  #seq = 0;
  #sessions = 0;
  #lastError: Error | undefined;
  #closing: Promise<void> | undefined;
  #reannounceNow = new Event();

  /**
   * Starts connecting to `url` in the background (retrying with backoff);
   * {@linkcode DiscoveryClient.ready} waits until the peer is announced.
   * The client's tasks run in the current cancel scope: close it before
   * that scope ends.
   *
   * @param url The discovery URL (`ws://127.0.0.1:5001/api/v0/discovery`).
   * @param options The identity, what to announce, a dial callback, limits.
   * @throws {TypeError} An option has the wrong type or the URL is not ws: or wss:.
   */
  constructor(url: string | URL, options: DiscoveryClientOptions) {
    const what = "Cannot create discovery client";
    this.#url = new URL(url);
    if (this.#url.protocol !== "ws:" && this.#url.protocol !== "wss:") {
      throw new TypeError(`${what}: url must be a ws: or wss: URL: received ${this.#url.protocol}`);
    }
    if (options?.identity?.privateKey === undefined) {
      throw new TypeError(`${what}: identity must be a PeerIdentity`);
    }
    if (options.dial !== undefined && typeof options.dial !== "function") {
      throw new TypeError(`${what}: dial must be a function`);
    }
    const positive = (value: number | undefined, name: string, fallback: number) => {
      const chosen = value ?? fallback;
      if (typeof chosen !== "number" || !(chosen > 0)) {
        throw new RangeError(`${what}: ${name} must be a positive number: received ${chosen}`);
      }
      return chosen;
    };
    this.#identity = options.identity;
    this.#fields = options.info;
    this.#token = checkToken(options.token, what);
    this.#heartbeatMs = options.heartbeatMs === undefined
      ? undefined
      : positive(options.heartbeatMs, "heartbeatMs", 1);
    this.#reannounceMs = positive(options.reannounceMs, "reannounceMs", 60_000);
    this.#refreshMs = positive(options.refreshMs, "refreshMs", 60_000);
    this.#baseDelayMs = positive(options.reconnect?.baseDelayMs, "reconnect.baseDelayMs", 250);
    this.#maxDelayMs = positive(options.reconnect?.maxDelayMs, "reconnect.maxDelayMs", 30_000);
    this.#timeoutMs = positive(options.timeoutMs, "timeoutMs", 10_000);
    this.#dial = options.dial;
    this.#autoConnect = options.autoConnect ?? {};
    this.#dialTimeoutMs = positive(options.dialTimeoutMs, "dialTimeoutMs", 10_000);
    this.#maxKnown = positive(options.maxKnownPeers, "maxKnownPeers", 1024);
    this.#maxAgeMs = positive(options.maxAgeMs, "maxAgeMs", 600_000);
    const dialers = positive(options.maxConcurrentDials, "maxConcurrentDials", 4);
    const [send, receive] = createMemoryChannel<PeerInfo>(this.#maxKnown);
    this.#dials = send;
    const signal = options.signal;
    this.#group = new TaskGroup();
    this.#group.spawn(async () => {
      try {
        await withSignal(signal, () => this.#run());
      } catch (error) {
        if (signal?.aborted) this.#group.cancelScope.cancel("the client's signal aborted");
        else throw error;
      }
    }, { name: "discovery client" });
    if (this.#dial !== undefined) {
      for (let i = 0; i < dialers; i++) {
        const mine = receive.clone();
        this.#group.spawn(async () => {
          for await (const peer of mine) await this.#dialOne(peer);
        }, { name: "discovery dialer" });
      }
    }
    receive.close();
  }

  /**
   * Creates a client and waits until its peer is announced.
   *
   * @param url The discovery URL.
   * @param options The client's options; `signal` also cancels the wait.
   * @returns The announced client.
   * @throws {DiscoveryError} Not announced within `timeoutMs` (`timeout`, with the last failure as `cause`).
   */
  static async connect(
    url: string | URL,
    options: DiscoveryClientOptions,
  ): Promise<DiscoveryClient> {
    const client = new DiscoveryClient(url, options);
    try {
      await client.ready({ signal: options.signal });
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** The peer's ID. */
  get peerId(): string {
    return this.#identity.id;
  }

  /** Whether the peer is announced on a live connection now. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Connections made so far (1 + reconnects). */
  get sessions(): number {
    return this.#sessions;
  }

  /** The last failure: a refused announce, a dropped connection. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /**
   * Waits until the peer is announced (at most `timeoutMs`).
   *
   * @param options A signal.
   * @throws {DiscoveryError} `timeout`, with the last failure as `cause`.
   */
  async ready(options: { signal?: AbortSignal } = {}): Promise<void> {
    await withSignal(options.signal, () => this.#bounded("announced", () => this.#waitConnected()));
  }

  /**
   * The peers learnt from the server (answers and `peer_joined`), checked.
   *
   * @returns Their records.
   */
  knownPeers(): PeerInfo[] {
    return [...this.#known.values()];
  }

  /**
   * Asks the server for peers; every record in the answer is checked (a
   * record that does not verify is left out).
   *
   * @param options The role and capabilities wanted, `excludeSelf`, `limit`, a signal.
   * @returns The peers.
   * @throws {DiscoveryError} The server refused, or no answer within `timeoutMs`.
   */
  async requestPeers(options: PeerRequestOptions = {}): Promise<PeerInfo[]> {
    const { signal, role, capabilities, excludeSelf = true, limit } = options;
    return await withSignal(signal, () =>
      this.#bounded("answered", async () => {
        if (this.#pending.size >= 64) {
          throw new DiscoveryError("Cannot request peers: 64 requests wait already", "busy");
        }
        await this.#waitConnected();
        const id = ++this.#nextId;
        const slot: Pending = { done: new Event() };
        this.#pending.set(id, slot);
        try {
          this.#ws?.send({ type: "peer_request", id, role, capabilities, excludeSelf, limit });
          await slot.done.wait();
        } finally {
          this.#pending.delete(id);
        }
        if (slot.error !== undefined) throw slot.error;
        const peers: PeerInfo[] = [];
        for (const value of slot.peers ?? []) {
          const info = await this.#accept(value);
          if (info !== undefined) peers.push(info);
        }
        return peers;
      }));
  }

  /**
   * How dialing each peer went.
   *
   * @returns One entry per peer dialed.
   */
  dialStats(): PeerDialStats[] {
    return [...this.#stats.values()].map((stats) => ({ ...stats }));
  }

  /**
   * The connection success rate of one peer.
   *
   * @param peerId The peer.
   * @returns Successes over dials ended, or `undefined` if never dialed.
   */
  successRate(peerId: string): number | undefined {
    return this.#stats.get(peerId)?.successRate;
  }

  /**
   * Changes what is announced; the record is signed anew and announced at
   * once when connected.
   *
   * @param fields The new addresses, role, capabilities, resources, metadata.
   */
  update(fields: PeerInfoFields): void {
    this.#fields = fields;
    this.#reannounceNow.set();
  }

  /** Closes the connection and stops every task. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#dials.close();
      this.#group.cancelScope.cancel("the discovery client closed");
      await this.#group.join();
    })();
    return this.#closing;
  }

  /** Closes the client: see {@linkcode DiscoveryClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- the connection ----------------------------------------------------------------

  async #run(): Promise<void> {
    for (let attempt = 1;; attempt++) {
      let announced = false;
      try {
        announced = await this.#session();
      } catch (error) {
        if (isCancellationError(error)) throw error;
        this.#lastError = error as Error;
      }
      if (announced) attempt = 1;
      await sleep(
        backoffDelay(attempt, { baseDelayMs: this.#baseDelayMs, maxDelayMs: this.#maxDelayMs }),
      );
    }
  }

  /** One connection, until it drops; returns whether the peer was announced on it. */
  async #session(): Promise<boolean> {
    this.#sessions++;
    const socket = new WebSocket(
      this.#url,
      this.#token === undefined
        ? undefined
        : { headers: { authorization: `Bearer ${this.#token}` } } as never,
    );
    const ws = new WebSocketPort(socket, {
      maxMessageBytes: 4 * 1024 * 1024,
      maxQueued: 1024,
      ratePerSecond: Infinity,
      burst: Infinity,
      closeTimeoutMs: 1000,
    });
    let announced = false;
    try {
      const welcome = await failAfter(this.#timeoutMs, () => readWelcome(ws));
      const heartbeatMs = this.#heartbeatMs ?? welcome.heartbeatMs;
      this.#ws = ws;
      await this.#announce(ws);
      let end: Error | undefined;
      await taskGroup(async (tg) => {
        tg.spawn(async () => {
          for (;;) {
            await sleep(heartbeatMs);
            if (this.#connected) ws.send({ type: "heartbeat" });
          }
        }, { name: "discovery heartbeat" });
        tg.spawn(async () => {
          for (;;) {
            await moveOnAfter(this.#reannounceMs, () => this.#reannounceNow.wait());
            this.#reannounceNow = new Event();
            await this.#announce(ws);
          }
        }, { name: "discovery re-announce" });
        tg.spawn(async () => {
          await this.#waitConnected();
          for (;;) {
            try {
              const peers = await this.requestPeers(this.#autoConnect);
              for (const peer of peers) this.#consider(peer);
            } catch (error) {
              if (isCancellationError(error)) throw error;
              this.#lastError = error as Error;
            }
            await sleep(this.#refreshMs);
          }
        }, { name: "discovery refresh" });
        try {
          end = await this.#receive(ws, () => (announced = true));
        } finally {
          tg.cancelScope.cancel();
        }
      });
      if (end !== undefined) throw end;
      return announced;
    } finally {
      this.#ws = undefined;
      this.#setConnected(false);
      for (const slot of this.#pending.values()) {
        slot.error ??= new DiscoveryError("Cannot request peers: the connection closed", "closed");
        slot.done.set();
      }
      await ws.close(WEBSOCKET_CLOSE_CODES.normal);
    }
  }

  async #announce(ws: WebSocketPort): Promise<void> {
    this.#seq = Math.max(this.#seq + 1, Date.now());
    const peer = await signPeerInfo(this.#identity, this.#fields, { seq: this.#seq });
    ws.send({ type: "announce", peer });
  }

  /** Reads messages until the socket closes; returns why it closed. */
  async #receive(ws: WebSocketPort, onAnnounced: () => void): Promise<Error> {
    for (;;) {
      let data: unknown;
      try {
        data = await ws.receive();
      } catch (error) {
        if (!(error instanceof EndOfStream)) throw error;
        return new DiscoveryError(
          `The discovery server closed the connection (${ws.closeCode ?? "no code"}${
            ws.closeReason ? `: ${ws.closeReason}` : ""
          })`,
          ws.violation?.code ?? "closed",
          { closeCode: ws.closeCode },
        );
      }
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(data as string);
        if (message === null || typeof message !== "object") continue;
      } catch {
        continue; // not ours to fix: the server is the one that broke
      }
      switch (message.type) {
        case "announced":
          onAnnounced();
          this.#setConnected(true);
          break;
        case "peers": {
          const slot = this.#pending.get(message.id as number);
          if (slot !== undefined && Array.isArray(message.peers)) {
            slot.peers = message.peers.slice(0, this.#maxKnown);
            slot.done.set();
          }
          break;
        }
        case "peer_joined": {
          const info = await this.#accept(message.peer);
          if (info !== undefined) this.#consider(info);
          break;
        }
        case "peer_left":
          if (message.peerId === this.peerId) {
            this.#setConnected(false);
            this.#reannounceNow.set();
          } else if (typeof message.peerId === "string") {
            this.#known.delete(message.peerId);
          }
          break;
        case "error": {
          const error = new DiscoveryError(
            `The discovery server refused: ${String(message.message).slice(0, 500)}`,
            String(message.code).slice(0, 64),
          );
          const slot = message.id === undefined
            ? undefined
            : this.#pending.get(message.id as number);
          if (slot !== undefined) {
            slot.error = error;
            slot.done.set();
          } else {
            this.#lastError = error;
            if (error.code === "not_announced") this.#reannounceNow.set();
          }
          break;
        }
      }
    }
  }

  /** Checks a record from the server and remembers it; undefined if it does not verify. */
  async #accept(value: unknown): Promise<PeerInfo | undefined> {
    let info: PeerInfo;
    try {
      const peerId = (value as { peerId?: unknown } | null)?.peerId;
      const known = typeof peerId === "string" ? this.#known.get(peerId) : undefined;
      info = await verifyPeerInfo(value, { maxAgeMs: this.#maxAgeMs });
      if (known !== undefined && info.seq < known.seq) return known;
    } catch (error) {
      if (error instanceof PeerInfoError) {
        this.#lastError = error;
        return undefined;
      }
      throw error;
    }
    if (info.peerId === this.peerId) return info;
    this.#known.delete(info.peerId);
    this.#known.set(info.peerId, info);
    if (this.#known.size > this.#maxKnown) this.#known.delete(this.#known.keys().next().value!);
    return info;
  }

  // ---- auto-connect ------------------------------------------------------------------

  #consider(peer: PeerInfo): void {
    if (this.#dial === undefined || peer.peerId === this.peerId) return;
    if (!matchesPeerFilter(peer, this.#autoConnect) || this.#dialing.has(peer.peerId)) return;
    if (this.#stats.get(peer.peerId)?.connected) return;
    this.#dialing.add(peer.peerId);
    try {
      this.#dials.sendNowait(peer);
    } catch {
      this.#dialing.delete(peer.peerId); // the queue is full or closed: a later answer retries
    }
  }

  async #dialOne(peer: PeerInfo): Promise<void> {
    let stats = this.#stats.get(peer.peerId);
    if (stats === undefined) {
      stats = {
        peerId: peer.peerId,
        attempts: 0,
        successes: 0,
        failures: 0,
        successRate: 0,
        connected: false,
        lastError: undefined,
      };
      this.#stats.set(peer.peerId, stats);
      if (this.#stats.size > this.#maxKnown) this.#stats.delete(this.#stats.keys().next().value!);
    }
    stats.attempts++;
    try {
      await failAfter(this.#dialTimeoutMs, (scope) => this.#dial!(peer, { signal: scope.signal }));
      stats.successes++;
      stats.connected = true;
    } catch (error) {
      if (this.#group.cancelScope.cancelled) {
        // Closing: a cancellation goes on out; a dial that failed meanwhile is moot.
        if (isCancellationError(error)) throw error;
        return;
      }
      stats.failures++;
      stats.connected = false;
      stats.lastError = error instanceof TimeoutError
        ? `no connection within ${this.#dialTimeoutMs} ms`
        : (error as Error)?.message ?? String(error);
    } finally {
      stats.successRate = stats.successes / (stats.successes + stats.failures || 1);
      this.#dialing.delete(peer.peerId);
    }
  }

  // ---- state -------------------------------------------------------------------------

  #setConnected(connected: boolean): void {
    if (this.#connected === connected) return;
    this.#connected = connected;
    const changed = this.#changed;
    this.#changed = new Event();
    changed.set();
  }

  async #waitConnected(): Promise<void> {
    while (!this.#connected) await this.#changed.wait();
  }

  async #bounded<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await failAfter(this.#timeoutMs, fn);
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw new DiscoveryError(
          `Cannot reach the discovery server at ${this.#url.origin}: not ${what} within ${this.#timeoutMs} ms${
            this.#lastError ? `: ${this.#lastError.message}` : ""
          }`,
          "timeout",
          { cause: this.#lastError },
        );
      }
      throw error;
    }
  }
}

async function readWelcome(ws: WebSocketPort): Promise<{ heartbeatMs: number }> {
  let data: unknown;
  try {
    data = await ws.receive();
  } catch (error) {
    if (!(error instanceof EndOfStream)) throw error;
    throw new DiscoveryError(
      `Cannot connect: the discovery server closed the socket (${ws.closeCode ?? "no code"}${
        ws.closeReason ? `: ${ws.closeReason}` : ""
      })`,
      "closed",
      { closeCode: ws.closeCode },
    );
  }
  let message: { type?: unknown; heartbeatMs?: unknown; code?: unknown; message?: unknown };
  try {
    message = JSON.parse(data as string);
  } catch {
    throw new DiscoveryError("Cannot connect: the server's welcome is not JSON", "bad_json");
  }
  if (message?.type === "error") {
    throw new DiscoveryError(
      `Cannot connect: the discovery server refused: ${String(message.message).slice(0, 500)}`,
      String(message.code).slice(0, 64),
    );
  }
  if (message?.type !== "welcome" || typeof message.heartbeatMs !== "number") {
    throw new DiscoveryError("Cannot connect: expected the server's welcome", "bad_message");
  }
  return { heartbeatMs: Math.max(10, message.heartbeatMs) };
}
