/**
 * The kit's bitswap engine: the standard protocol (`/ipfs/bitswap/1.2.0`,
 * with `1.1.0` and `1.0.0` for older peers; `_bitswap_message.ts`), built
 * for throughput between peers that stream large DAGs.
 *
 * What `@helia/bitswap` 4.0.19 did, and what this does instead (measured in
 * bench/README.md, "Network"):
 * - Helia opens a stream per message and reads every block of a batch of
 *   wants, one after the other, before it sends any. Here each peer has one
 *   long-lived outbound stream (reopened if it fails), blocks are read
 *   {@linkcode SERVE_CONCURRENCY} at a time and each is sent as soon as it
 *   is read, one block per message (small blocks share one, up to
 *   {@linkcode MESSAGE_TARGET} bytes), under backpressure (the stream's
 *   drain, and at most {@linkcode OUTBOX_LIMIT} bytes queued per peer).
 * - Helia decodes a whole message then hashes its blocks on the event
 *   loop. Here messages are cut from the stream as they complete, and each
 *   block is hashed by WebCrypto (`crypto.subtle.digest`, which runs off the
 *   event loop) while the next is decoded; a stream whose unverified bytes
 *   pass {@linkcode VERIFY_LIMIT} is paused.
 * - Helia never sends cancels (see the history of `_bitswap_cancels.ts`);
 *   here a received or abandoned want is cancelled at every peer it was
 *   sent to, in the next message on the same stream, so a cancel always
 *   reaches a peer before a later want of the same block.
 *
 * Wants are `want-block` with `sendDontHave`, sent to every connected
 * bitswap peer (and in full to a peer that connects); a want still pending
 * after {@linkcode PROVIDER_SEARCH_AFTER_MS} has its providers looked up
 * and dialled, and one unanswered for {@linkcode RESEND_AFTER_MS} is sent
 * again. A received block is matched to a want by the SHA-256 of its
 * bytes: one that matches no want of the last {@linkcode RECENT_WANTS} is a
 * lie (the peer sent other bytes than those of the CID it was asked for):
 * it is dropped and reported through `onRefused`; one that matches a want
 * already satisfied or abandoned is dropped silently.
 *
 * Serving: a peer's wants (at most {@linkcode MAX_LEDGER}) are served in
 * the order received; `want-have` is answered with a presence, a block the
 * node lacks with `DONT_HAVE` when asked; a cancel stops a want that is not
 * yet sent.
 *
 * @module
 */

import type { Connection, PeerId, Stream } from "npm:@libp2p/interface@3.3.0";
import { base64 } from "npm:multiformats@14.0.5/bases/base64";
import { CID } from "npm:multiformats@14.0.5/cid";
import { currentTime } from "../runtime/checkpoint.ts";
import { Event } from "../runtime/event.ts";
import { sleep } from "../runtime/sleep.ts";
import type { TaskGroup } from "../runtime/task_group.ts";
import { failAfter, withSignal } from "../runtime/timeouts.ts";
import type { NodeBlocks, NodeNetworkStats } from "../ipfs/node_network.ts";
import { InvalidInputError, NotFoundError } from "../ipfs/errors.ts";
import {
  BITSWAP_100,
  BITSWAP_PROTOCOLS,
  cidPrefix,
  decodeMessage,
  emptyMessage,
  encodeMessageParts,
  MessageReader,
  readPrefix,
  type WireBlock,
  type WireMessage,
} from "./_bitswap_message.ts";
import type { KitLibp2p } from "./_network_apis.ts";

/** How many of a peer's wanted blocks are read from the store at once. */
const SERVE_CONCURRENCY = 8;
/** Bytes of blocks queued for one peer before its readers wait. */
const OUTBOX_LIMIT = 4 * 1024 * 1024;
/**
 * A message grows past one block while it stays within this many bytes: a
 * 256 KiB block goes alone, so the requester can hash it while the next
 * arrives (1 MiB messages were slower: bench/README.md).
 */
const MESSAGE_TARGET = 256 * 1024;
/** The most want list entries in one message. */
const MAX_ENTRIES_PER_MESSAGE = 8192;
/** The most wants one peer may have of this node at once. */
const MAX_LEDGER = 16_384;
/** Unverified bytes from one stream before it is paused. */
const VERIFY_LIMIT = 32 * 1024 * 1024;
/** How many recently wanted blocks are remembered, to tell a late block from a lie. */
const RECENT_WANTS = 65_536;
/** How long a want waits for the connected peers before its providers are looked up. */
const PROVIDER_SEARCH_AFTER_MS = 1000;
/** How long a want goes unanswered before it is sent to the peers again. */
const RESEND_AFTER_MS = 10_000;
/** Providers dialled per want. */
const PROVIDERS_PER_WANT = 5;
/** How long an outbound stream may stay idle before the next message opens a new one. */
const STREAM_IDLE_MS = 5_000;
/** Tries of one message (each on a new stream after a failure). */
const SEND_ATTEMPTS = 2;
/** How long opening a stream or sending one message may take. */
const SEND_LIMIT_MS = 30_000;
const SHA256 = 0x12;

/** A block received and verified. */
export interface ReceivedBlock {
  bytes: Uint8Array;
  /** The sender's peer ID. */
  from: string;
}

/** What the engine is given. */
export interface BitswapEngineOptions {
  /** The node's blocks, served to peers. */
  blocks: NodeBlocks;
  /** Counters, updated as blocks are served. */
  stats: Pick<NodeNetworkStats, "blocksServed" | "bytesServed">;
  /** Where the engine's tasks run: cancelled and joined when the network closes. */
  group: TaskGroup;
  /** A peer sent a block that matches none of the wants it could answer. */
  onRefused: (from: string) => void;
  /** The most inbound and outbound bitswap streams per connection. */
  maxStreams: number;
}

interface Want {
  cid: CID;
  key: string;
  priority: number;
  waiters: number;
  arrived: Event;
  result?: ReceivedBlock;
  /** Peers (by ID) this want was sent to. */
  sentTo: Set<string>;
  since: number;
  /** When it was last sent to the peers. */
  sentAt: number;
  searched: boolean;
}

interface LedgerEntry {
  cid: CID;
  wantHave: boolean;
  sendDontHave: boolean;
}

/** One connected bitswap peer: what it wants of us, and what we send it. */
class Peer {
  readonly id: PeerId;
  readonly key: string;
  /** Its wants, in the order received. */
  ledger = new Map<string, LedgerEntry>();
  serving = false;
  /** Want list changes to send, in order. */
  entries: WireMessage["entries"] = [];
  full = false;
  presences: WireMessage["presences"] = [];
  blocks: Array<WireBlock & { size: number }> = [];
  outboxBytes = 0;
  /** Set (and replaced) whenever the outbox shrinks. */
  space = new Event();
  flushing = false;
  stream: Stream | undefined;
  /** When a message last went out on `stream`. */
  lastSend = 0;
  closed = false;

  constructor(id: PeerId) {
    this.id = id;
    this.key = id.toString();
  }

  hasOutput(): boolean {
    return this.entries.length > 0 || this.full || this.presences.length > 0 ||
      this.blocks.length > 0;
  }
}

/** The bitswap engine of one libp2p node. */
export class BitswapEngine {
  #node: KitLibp2p;
  #options: BitswapEngineOptions;
  #group: TaskGroup;
  #peers = new Map<string, Peer>();
  #wants = new Map<string, Want>();
  #recent = new Map<string, true>();
  #priority = 2 ** 31 - 1;
  #maintaining = false;
  #topologies: string[] = [];
  #closed = false;

  private constructor(node: KitLibp2p, options: BitswapEngineOptions) {
    this.#node = node;
    this.#options = options;
    this.#group = options.group;
  }

  /** Handles the bitswap protocols on `node` and follows its bitswap peers. */
  static async start(node: KitLibp2p, options: BitswapEngineOptions): Promise<BitswapEngine> {
    const engine = new BitswapEngine(node, options);
    await node.handle(
      [...BITSWAP_PROTOCOLS],
      (stream: Stream, connection: Connection) => engine.#onStream(stream, connection),
      { maxInboundStreams: options.maxStreams, maxOutboundStreams: options.maxStreams },
    );
    for (const protocol of BITSWAP_PROTOCOLS) {
      engine.#topologies.push(
        await node.register(protocol, {
          onConnect: (peer: PeerId) => engine.#onConnect(peer),
          onDisconnect: (peer: PeerId) => engine.#onDisconnect(peer),
        }),
      );
    }
    return engine;
  }

  /** Stops handling the protocols (the tasks stop with the network's group). */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of this.#topologies) this.#node.unregister(id);
    await this.#node.unhandle([...BITSWAP_PROTOCOLS]);
    for (const peer of this.#peers.values()) this.#dropPeer(peer);
  }

  /**
   * Wants `cid` from the connected peers (and its providers) until a peer
   * sends bytes that hash to it, or `signal` aborts (then rejects with its
   * reason; the want is cancelled at the peers unless another call wants
   * the block too).
   *
   * @throws {InvalidInputError} `cid` uses a hash other than SHA-256 (no block could be verified).
   */
  async want(cid: CID, signal: AbortSignal): Promise<ReceivedBlock> {
    if (cid.multihash.code !== SHA256) {
      throw new InvalidInputError(
        `Cannot fetch block: unsupported hash 0x${cid.multihash.code.toString(16)} in ${cid}`,
      );
    }
    const key = keyOf(cid.multihash.bytes);
    let want = this.#wants.get(key);
    if (want === undefined) {
      want = {
        cid,
        key,
        priority: this.#priority > 1 ? this.#priority-- : 1,
        waiters: 0,
        arrived: new Event(),
        sentTo: new Set(),
        since: currentTime(),
        sentAt: currentTime(),
        searched: false,
      };
      this.#wants.set(key, want);
      this.#recent.delete(key);
      this.#recent.set(key, true);
      if (this.#recent.size > RECENT_WANTS) {
        this.#recent.delete(this.#recent.keys().next().value!);
      }
      for (const peer of this.#peers.values()) this.#sendWant(peer, want);
      this.#startMaintenance();
    }
    want.waiters++;
    const arrived = want.arrived;
    try {
      await withSignal(signal, () => arrived.wait());
      return want.result!;
    } finally {
      if (--want.waiters === 0 && !arrived.isSet) this.#abandon(want);
    }
  }

  // --- requesting -------------------------------------------------------------

  #sendWant(peer: Peer, want: Want): void {
    want.sentTo.add(peer.key);
    want.sentAt = currentTime();
    peer.entries.push({
      cid: want.cid.bytes,
      priority: want.priority,
      cancel: false,
      wantType: 0,
      sendDontHave: true,
    });
    this.#flush(peer);
  }

  /** Cancels `want` at every peer it was sent to. */
  #cancelAt(want: Want): void {
    for (const key of want.sentTo) {
      const peer = this.#peers.get(key);
      if (peer === undefined) continue;
      peer.entries.push({
        cid: want.cid.bytes,
        priority: 0,
        cancel: true,
        wantType: 0,
        sendDontHave: false,
      });
      this.#flush(peer);
    }
    want.sentTo.clear();
  }

  #abandon(want: Want): void {
    if (this.#wants.get(want.key) === want) this.#wants.delete(want.key);
    this.#cancelAt(want);
  }

  /** A block that hashed to `key` arrived from `from`. */
  #arrived(key: string, bytes: Uint8Array, from: Peer): void {
    const want = this.#wants.get(key);
    if (want === undefined) {
      if (!this.#recent.has(key)) this.#options.onRefused(from.key);
      return; // late: satisfied or abandoned already
    }
    this.#wants.delete(key);
    want.result = { bytes, from: from.key };
    want.arrived.set();
    this.#cancelAt(want);
  }

  /**
   * While any want is pending: looks up the providers of wants the
   * connected peers did not answer, and sends wants again that went
   * unanswered for {@linkcode RESEND_AFTER_MS} (a peer may have dropped them:
   * a send that failed, a full queue).
   */
  #startMaintenance(): void {
    if (this.#maintaining || this.#closed) return;
    this.#maintaining = true;
    const dht = this.#node.services.dht !== undefined;
    this.#group.spawn(async () => {
      try {
        while (this.#wants.size > 0 && !this.#closed) {
          await sleep(PROVIDER_SEARCH_AFTER_MS / 2);
          const now = currentTime();
          let searches = 0;
          for (const want of this.#wants.values()) {
            if (dht && !want.searched && want.since <= now - PROVIDER_SEARCH_AFTER_MS) {
              if (searches++ >= 8) continue; // the next round takes the rest
              want.searched = true;
              this.#group.spawn(() => this.#findProviders(want), { name: "bitswap providers" });
            }
            if (want.sentAt <= now - RESEND_AFTER_MS) {
              for (const peer of this.#peers.values()) this.#sendWant(peer, want);
            }
          }
        }
      } finally {
        this.#maintaining = false;
      }
    }, { name: "bitswap wants upkeep" });
  }

  async #findProviders(want: Want): Promise<void> {
    let found = 0;
    const self = this.#node.peerId.toString();
    try {
      for await (
        const provider of this.#node.contentRouting.findProviders(want.cid, {
          signal: this.#group.signal,
        })
      ) {
        if (this.#wants.get(want.key) !== want) return;
        const id = provider.id.toString();
        if (id === self || this.#peers.has(id)) continue;
        try {
          await this.#node.dial(provider.id, { signal: this.#group.signal });
        } catch {
          continue; // unreachable: the next provider
        }
        if (++found >= PROVIDERS_PER_WANT) return;
      }
    } catch {
      // no routing, or the search failed: the connected peers may still answer
    }
  }

  // --- peers ------------------------------------------------------------------

  #onConnect(id: PeerId): void {
    if (this.#closed) return;
    const key = id.toString();
    const peer = this.#peerFor(id, key);
    for (const want of this.#wants.values()) {
      if (!want.sentTo.has(key)) this.#sendWant(peer, want);
    }
  }

  #onDisconnect(id: PeerId): void {
    const peer = this.#peers.get(id.toString());
    if (peer !== undefined) this.#dropPeer(peer);
  }

  #dropPeer(peer: Peer): void {
    if (this.#peers.get(peer.key) === peer) this.#peers.delete(peer.key);
    // Wants go to it again when it reconnects.
    for (const want of this.#wants.values()) want.sentTo.delete(peer.key);
    peer.closed = true;
    peer.ledger.clear();
    peer.entries = [];
    peer.presences = [];
    peer.blocks = [];
    peer.outboxBytes = 0;
    peer.space.set();
    peer.stream?.abort(new Error("the peer disconnected"));
    peer.stream = undefined;
  }

  // --- sending ----------------------------------------------------------------

  /** Starts the peer's sender unless it runs. */
  #flush(peer: Peer): void {
    if (peer.flushing || peer.closed || this.#group.cancelScope.cancelCalled) return;
    peer.flushing = true;
    this.#group.spawn(async () => {
      try {
        while (peer.hasOutput() && !peer.closed) await this.#sendNext(peer);
      } catch {
        // Sending failed twice: what was queued for the peer is lost. It
        // gets the full want list with the next message.
        peer.stream?.abort(new Error("bitswap send failed"));
        peer.stream = undefined;
        peer.blocks = [];
        peer.outboxBytes = 0;
        peer.space.set();
        peer.space = new Event();
        peer.entries = [];
        peer.full = this.#wants.size > 0;
        if (peer.full) {
          for (const want of this.#wants.values()) {
            if (want.sentTo.has(peer.key)) {
              peer.entries.push({
                cid: want.cid.bytes,
                priority: want.priority,
                cancel: false,
                wantType: 0,
                sendDontHave: true,
              });
            }
          }
        }
      } finally {
        peer.flushing = false;
      }
    }, { name: "bitswap send" });
  }

  /** Sends one message of what is queued for `peer`. */
  async #sendNext(peer: Peer): Promise<void> {
    const message = emptyMessage();
    message.full = peer.full;
    peer.full = false;
    message.entries = peer.entries.splice(0, MAX_ENTRIES_PER_MESSAGE);
    message.presences = peer.presences.splice(0, MAX_ENTRIES_PER_MESSAGE);
    let bytes = 0;
    let sent = 0;
    while (
      peer.blocks.length > 0 && (sent === 0 || bytes + peer.blocks[0].size <= MESSAGE_TARGET)
    ) {
      const block = peer.blocks.shift()!;
      message.blocks.push(block);
      bytes += block.size;
      sent++;
    }
    // A stream idle for a while is replaced: Helia drops a stream that
    // brings no message for 10 s, libp2p one idle for 120 s.
    if (peer.stream !== undefined && currentTime() - peer.lastSend > STREAM_IDLE_MS) {
      this.#retire(peer.stream);
      peer.stream = undefined;
    }
    // A failed send is tried once more on a new stream (a block sent twice
    // is dropped as late by the requester).
    for (let attempt = 1;; attempt++) {
      try {
        await failAfter(SEND_LIMIT_MS, async (scope) => {
          const signal = scope.signal;
          const stream = peer.stream ?? await this.#open(peer, signal);
          // The blocks' bytes are written as they are, not copied into the message.
          let drained = true;
          const protocol = stream.protocol ?? BITSWAP_PROTOCOLS[0];
          for (const part of encodeMessageParts(message, protocol)) drained = stream.send(part);
          if (!drained) await stream.onDrain({ signal });
        });
        peer.lastSend = currentTime();
        break;
      } catch (error) {
        peer.stream?.abort(error as Error);
        peer.stream = undefined;
        if (attempt >= SEND_ATTEMPTS || peer.closed || this.#group.cancelScope.cancelCalled) {
          throw error;
        }
      }
    }
    if (sent > 0) {
      peer.outboxBytes -= bytes;
      this.#options.stats.blocksServed += sent;
      this.#options.stats.bytesServed += bytes;
      const space = peer.space;
      peer.space = new Event();
      space.set();
    }
  }

  /** Closes an outbound stream gracefully, in the background. */
  #retire(stream: Stream): void {
    this.#group.spawn(async () => {
      try {
        await failAfter(SEND_LIMIT_MS, (scope) => stream.close({ signal: scope.signal }));
      } catch (error) {
        stream.abort(error as Error);
      }
    }, { name: "bitswap stream close" });
  }

  async #open(peer: Peer, signal: AbortSignal): Promise<Stream> {
    const stream = await this.#node.dialProtocol(peer.id, [...BITSWAP_PROTOCOLS], { signal });
    stream.addEventListener("close", () => {
      if (peer.stream === stream) peer.stream = undefined;
    });
    // Nothing is read from an outbound stream: the peer answers on its own.
    try {
      await stream.closeRead({ signal });
    } catch {
      // the peer's end may already be gone; the send says so
    }
    if (peer.closed) {
      stream.abort(new Error("the peer disconnected"));
      throw new Error("the peer disconnected");
    }
    peer.stream = stream;
    return stream;
  }

  // --- serving ----------------------------------------------------------------

  #onWantlist(peer: Peer, message: WireMessage): void {
    if (message.full) peer.ledger.clear();
    for (const entry of message.entries) {
      let cid: CID;
      try {
        cid = CID.decode(entry.cid);
      } catch {
        continue; // not a CID: ignored
      }
      const key = keyOf(cid.multihash.bytes);
      if (entry.cancel) {
        peer.ledger.delete(key);
        continue;
      }
      if (peer.ledger.size >= MAX_LEDGER && !peer.ledger.has(key)) continue;
      peer.ledger.set(key, {
        cid,
        wantHave: entry.wantType === 1,
        sendDontHave: entry.sendDontHave,
      });
    }
    this.#serve(peer);
  }

  /** Starts serving the peer's ledger unless it is served. */
  #serve(peer: Peer): void {
    if (peer.serving || peer.ledger.size === 0 || peer.closed) return;
    if (this.#group.cancelScope.cancelCalled) return;
    peer.serving = true;
    let workers = SERVE_CONCURRENCY;
    for (let i = 0; i < SERVE_CONCURRENCY; i++) {
      this.#group.spawn(async () => {
        try {
          await this.#serveWorker(peer);
        } catch {
          // a read failed other than by absence: that want is dropped
        } finally {
          if (--workers === 0) {
            peer.serving = false;
            this.#serve(peer); // wants that came as the last worker left
          }
        }
      }, { name: "bitswap serve" });
    }
  }

  async #serveWorker(peer: Peer): Promise<void> {
    const signal = this.#group.signal;
    for (;;) {
      if (peer.closed) return;
      while (peer.outboxBytes >= OUTBOX_LIMIT && !peer.closed) await peer.space.wait();
      const next = peer.ledger.entries().next();
      if (next.done) return;
      const [key, entry] = next.value;
      peer.ledger.delete(key);
      if (entry.wantHave) {
        const has = await this.#options.blocks.has(entry.cid, { signal });
        if (has || entry.sendDontHave) {
          peer.presences.push({ cid: entry.cid.bytes, type: has ? 0 : 1 });
          this.#flush(peer);
        }
        continue;
      }
      let bytes: Uint8Array;
      try {
        bytes = await this.#options.blocks.get(entry.cid, { signal });
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        if (entry.sendDontHave) {
          peer.presences.push({ cid: entry.cid.bytes, type: 1 });
          this.#flush(peer);
        }
        continue;
      }
      // Cancelled (and not wanted again) while it was read: not sent.
      if (peer.closed) return;
      peer.blocks.push({ prefix: cidPrefix(entry.cid), data: bytes, size: bytes.length });
      peer.outboxBytes += bytes.length;
      this.#flush(peer);
    }
  }

  // --- receiving --------------------------------------------------------------

  #onStream(stream: Stream, connection: Connection): void {
    if (this.#closed) {
      stream.abort(new Error("bitswap stopped"));
      return;
    }
    const key = connection.remotePeer.toString();
    const reader = new MessageReader();
    let pending = 0;
    let paused = false;
    const v100 = stream.protocol === BITSWAP_100;
    const onMessage = (event: { data: Uint8Array | Iterable<Uint8Array> }) => {
      try {
        const data = event.data;
        const chunks = data instanceof Uint8Array ? [data] : data;
        for (const chunk of chunks) {
          for (const bytes of reader.push(chunk)) {
            const message = decodeMessage(bytes);
            const peer = this.#peerFor(connection.remotePeer, key);
            if (message.entries.length > 0 || message.full) this.#onWantlist(peer, message);
            for (const block of message.blocks) {
              pending += block.data.length;
              this.#group.spawn(async () => {
                try {
                  await this.#verify(peer, block, v100);
                } finally {
                  pending -= block.data.length;
                  if (paused && pending < VERIFY_LIMIT / 4 && stream.status === "open") {
                    paused = false;
                    stream.resume();
                  }
                }
              }, { name: "bitswap verify" });
            }
          }
        }
        if (!paused && pending >= VERIFY_LIMIT) {
          paused = true;
          stream.pause();
        }
      } catch (error) {
        stream.removeEventListener("message", onMessage);
        stream.abort(error as Error);
      }
    };
    stream.addEventListener("message", onMessage);
    // Nothing is written on an inbound stream (a peer that sends one message
    // per stream waits for this end to close).
    this.#group.spawn(async () => {
      try {
        await stream.close({ signal: this.#group.signal });
      } catch {
        // gone already
      }
    }, { name: "bitswap inbound" });
  }

  /**
   * The peer of `id`, made when it connects or first sends a message (a
   * stream may come before the topology says it connected): a new peer gets
   * the whole want list.
   */
  #peerFor(id: PeerId, key: string): Peer {
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      peer = new Peer(id);
      this.#peers.set(key, peer);
      if (this.#wants.size > 0 && !this.#closed) {
        peer.full = true;
        for (const want of this.#wants.values()) this.#sendWant(peer, want);
      }
    }
    return peer;
  }

  async #verify(peer: Peer, block: WireBlock, v100: boolean): Promise<void> {
    let hash = SHA256;
    let length = 32;
    if (!v100 && block.prefix !== undefined) {
      try {
        [, , hash, length] = readPrefix(block.prefix);
      } catch {
        this.#options.onRefused(peer.key);
        return;
      }
    }
    if (hash !== SHA256 || length !== 32) return; // a hash this node never asks for
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", block.data as Uint8Array<ArrayBuffer>),
    );
    const multihash = new Uint8Array(34);
    multihash[0] = SHA256;
    multihash[1] = 32;
    multihash.set(digest, 2);
    // A plain view (the transport's chunks may be Node `Buffer`s): no copy.
    const bytes = new Uint8Array(block.data.buffer, block.data.byteOffset, block.data.byteLength);
    this.#arrived(keyOf(multihash), bytes, peer);
  }
}

function keyOf(multihash: Uint8Array): string {
  return base64.encode(multihash);
}
