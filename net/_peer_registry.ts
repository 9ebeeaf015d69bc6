// The discovery server's table of announced peers: at most `maxPeers`
// (past it, the one heard from longest ago goes), each owned by the
// connection that announced it, with the time it was last heard from; and
// the last sequence number accepted per peer ID, kept for at most `maxSeqs`
// peer IDs (the oldest forgotten first), for refusing replays. Private to
// net/.

import type { PeerFilter, PeerInfo, PeerRole } from "./peer_info.ts";
import { matchesPeerFilter } from "./peer_info.ts";

/** One announced peer. */
export interface RegistryEntry<Owner> {
  info: PeerInfo;
  owner: Owner;
  lastSeen: number;
}

/** The table. */
export class PeerRegistry<Owner> {
  readonly #peers = new Map<string, RegistryEntry<Owner>>();
  readonly #seqs = new Map<string, number>();
  readonly #maxPeers: number;
  readonly #maxSeqs: number;

  constructor(maxPeers: number, maxSeqs: number) {
    this.#maxPeers = maxPeers;
    this.#maxSeqs = maxSeqs;
  }

  get size(): number {
    return this.#peers.size;
  }

  get(peerId: string): RegistryEntry<Owner> | undefined {
    return this.#peers.get(peerId);
  }

  /** The last sequence number accepted for `peerId`. */
  lastSeq(peerId: string): number | undefined {
    return this.#seqs.get(peerId);
  }

  /**
   * Adds or replaces `info`, owned by `owner`. Returns whether it is new,
   * and the entry evicted to make room.
   */
  put(
    info: PeerInfo,
    owner: Owner,
    now: number,
  ): { added: boolean; previous?: RegistryEntry<Owner>; evicted?: RegistryEntry<Owner> } {
    this.#seqs.delete(info.peerId);
    this.#seqs.set(info.peerId, info.seq);
    if (this.#seqs.size > this.#maxSeqs) {
      this.#seqs.delete(this.#seqs.keys().next().value!);
    }
    const previous = this.#peers.get(info.peerId);
    let evicted: RegistryEntry<Owner> | undefined;
    if (previous === undefined && this.#peers.size >= this.#maxPeers) {
      for (const entry of this.#peers.values()) {
        if (evicted === undefined || entry.lastSeen < evicted.lastSeen) evicted = entry;
      }
      if (evicted !== undefined) this.#peers.delete(evicted.info.peerId);
    }
    this.#peers.set(info.peerId, { info, owner, lastSeen: now });
    return { added: previous === undefined, previous, evicted };
  }

  /** Notes that `peerId` was heard from. */
  touch(peerId: string, now: number): void {
    const entry = this.#peers.get(peerId);
    if (entry !== undefined) entry.lastSeen = now;
  }

  remove(peerId: string): RegistryEntry<Owner> | undefined {
    const entry = this.#peers.get(peerId);
    this.#peers.delete(peerId);
    return entry;
  }

  /** Removes and returns the peers not heard from since `before`. */
  expire(before: number): RegistryEntry<Owner>[] {
    const gone: RegistryEntry<Owner>[] = [];
    for (const [peerId, entry] of this.#peers) {
      if (entry.lastSeen < before) {
        this.#peers.delete(peerId);
        gone.push(entry);
      }
    }
    return gone;
  }

  /** Up to `limit` peers matching `filter`, not `exclude`, most recently heard from first. */
  query(filter: PeerFilter, exclude: string | undefined, limit: number): PeerInfo[] {
    const matches: RegistryEntry<Owner>[] = [];
    for (const entry of this.#peers.values()) {
      if (entry.info.peerId !== exclude && matchesPeerFilter(entry.info, filter)) {
        matches.push(entry);
      }
    }
    matches.sort((a, b) => b.lastSeen - a.lastSeen);
    return matches.slice(0, limit).map((entry) => entry.info);
  }

  /** Every record. */
  all(): PeerInfo[] {
    return [...this.#peers.values()].map((entry) => entry.info);
  }

  /** How many peers hold each role. */
  byRole(): Record<PeerRole, number> {
    const counts: Record<PeerRole, number> = { master: 0, worker: 0, leecher: 0, gateway: 0 };
    for (const entry of this.#peers.values()) counts[entry.info.role]++;
    return counts;
  }
}
