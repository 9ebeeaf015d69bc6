/**
 * Bitswap cancels, which `@helia/bitswap` 4.0.19 never sends.
 *
 * Its want list marks a want `cancel` when the block arrives or the caller
 * aborts, then skips cancelled entries when it builds messages
 * (`if (sentPreviously || entry.cancel) continue`): the peer is never told.
 * The serving side (its `Ledger`) keeps a sent want for 5 s and ignores the
 * same want while it is there, and keeps serving an unsent want until the
 * requester cancels it. So after a cancelled `cat`:
 * - the peer went on sending every block it had been asked for, and
 * - wanting the same blocks again hung: the peer took the new want for the
 *   old one, sent nothing, then expired it, and the requester never resent.
 *
 * {@linkcode BitswapCancels} sends the cancels: the CID of a want that was
 * aborted or timed out, or of a block wanted again (a peer may hold the
 * earlier want as sent), is queued, and a task of the network's group sends
 * the queue as one message to each connected bitswap peer. A want of a CID
 * whose cancel is queued or on its way waits for it to be sent first, so the
 * peer sees the cancel before the new want. Received blocks are not
 * cancelled one by one: that would cost a stream per batch for nothing
 * until the block is wanted again.
 *
 * @module
 */

import type { CID } from "npm:multiformats@14.0.5/cid";
import type { PeerId } from "npm:@libp2p/interface@3.3.0";
import { base64 } from "npm:multiformats@14.0.5/bases/base64";
import { Event } from "../runtime/event.ts";
import { mapConcurrent } from "../runtime/map_concurrent.ts";
import type { TaskGroup } from "../runtime/task_group.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import type { KitLibp2p } from "./_network_apis.ts";

/** The bitswap protocol `@helia/bitswap` speaks. */
export const BITSWAP_PROTOCOL = "/ipfs/bitswap/1.2.0";

/** How long sending one peer its cancels may take. */
const SEND_LIMIT_MS = 5_000;
/** The most CIDs one message cancels (each about 40 bytes: well under bitswap's 4 MiB). */
const MAX_BATCH = 4_096;

/** Queues and sends bitswap cancels to the connected peers. */
export class BitswapCancels {
  #node: KitLibp2p;
  #group: TaskGroup;
  #queued = new Map<string, CID>();
  /** Set once the queued cancels are sent; replaced when a batch leaves. */
  #queuedSent = new Event();
  /** The keys of the batch being sent, and its event. */
  #sending = new Map<string, Event>();
  #flushing = false;

  constructor(node: KitLibp2p, group: TaskGroup) {
    this.#node = node;
    this.#group = group;
  }

  /** Queues a cancel of `cid` for every connected bitswap peer. */
  cancel(cid: CID): void {
    if (this.#group.cancelScope.cancelCalled) return;
    this.#queued.set(key(cid), cid);
    if (this.#flushing) return;
    this.#flushing = true;
    this.#group.spawn(() => this.#flush(), { name: "bitswap cancels" });
  }

  /** Waits until no cancel of `cid` is queued or on its way. */
  async sent(cid: CID): Promise<void> {
    const k = key(cid);
    if (this.#queued.has(k)) await this.#queuedSent.wait();
    const sending = this.#sending.get(k);
    if (sending !== undefined) await sending.wait();
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queued.size > 0) {
        const batch = [...this.#queued].slice(0, MAX_BATCH);
        const done = this.#queuedSent;
        for (const [k] of batch) {
          this.#queued.delete(k);
          this.#sending.set(k, done);
        }
        this.#queuedSent = new Event(); // for what is queued from now on
        try {
          await this.#send(batch.map(([, cid]) => cid));
        } finally {
          for (const [k] of batch) {
            if (this.#sending.get(k) === done) this.#sending.delete(k);
          }
          done.set();
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** Sends one message cancelling `cids` to each connected bitswap peer (failures dropped). */
  async #send(cids: CID[]): Promise<void> {
    const message = lengthPrefixed(encodeCancels(cids));
    const peers = new Map<string, PeerId>();
    for (const connection of this.#node.getConnections()) {
      peers.set(connection.remotePeer.toString(), connection.remotePeer);
    }
    await mapConcurrent([...peers.values()], async (peer) => {
      await moveOnAfter(SEND_LIMIT_MS, async (scope) => {
        try {
          const known = await this.#node.peerStore.get(peer, { signal: scope.signal });
          if (!known.protocols.includes(BITSWAP_PROTOCOL)) return;
          const stream = await this.#node.dialProtocol(peer, BITSWAP_PROTOCOL, {
            signal: scope.signal,
          });
          try {
            if (!stream.send(message)) await stream.onDrain({ signal: scope.signal });
            await stream.close({ signal: scope.signal });
          } catch (error) {
            stream.abort(error as Error);
          }
        } catch {
          // best effort: a peer gone or busy keeps its want for 5 s at most
        }
      });
    }, { concurrency: 16 });
  }
}

function key(cid: CID): string {
  return base64.encode(cid.multihash.bytes);
}

/**
 * A bitswap `Message` whose want list cancels `cids`:
 * `Message { wantlist (1): Wantlist { entries (1): Entry { block (1): cid, cancel (3): true } } }`.
 */
export function encodeCancels(cids: readonly CID[]): Uint8Array {
  const entries = cids.map((cid) => field(1, concat([field(1, cid.bytes), CANCEL_TRUE])));
  return field(1, concat(entries));
}

/** `cancel = true`: field 3, varint 1. */
const CANCEL_TRUE = Uint8Array.of(3 << 3, 1);

/** A length-delimited protobuf field. */
function field(number: number, bytes: Uint8Array): Uint8Array {
  return concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
}

/** The unsigned-varint length prefix bitswap frames messages with, then the message. */
function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  return concat([varint(bytes.length), bytes]);
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Uint8Array.from(out);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
