/**
 * What the node adds or pins, on its way to the DHT: a few provides at a
 * time, the rest waiting their turn, and those that reached no peer (the
 * node knew none yet) kept to be made again when a peer joins.
 *
 * @module
 */

import type { CID } from "npm:multiformats@14.0.5/cid";

/**
 * How many provides run at once; the others wait their turn. A provide
 * opens streams to the closest peers, and kad-dht accepts 32 inbound
 * streams at a time: 64 at once lost a third of a burst of 150.
 */
const IN_FLIGHT = 8;
/** How many CIDs wait their turn, and how many that reached no peer are kept (each). */
const MEMORY = 1024;

/** What a {@linkcode ProviderQueue} runs on. */
export interface ProviderQueueOptions {
  /** Provides a CID on the DHT; resolves to how many peers stored the record. */
  provide(cid: CID, signal: AbortSignal): Promise<number>;
  /**
   * Runs a task in the background, in the owner's task group (its failure
   * dropped; the owner cancels and joins it at close).
   */
  background(task: (signal: AbortSignal) => Promise<void>): void;
}

/** The provides of a node's network. */
export class ProviderQueue {
  #options: ProviderQueueOptions;
  #running = 0;
  /** CIDs waiting for one of the running provides to end, oldest first. */
  #waiting = new Map<string, CID>();
  /** CIDs whose provide reached no peer: provided again when one joins. */
  #unprovided = new Map<string, CID>();
  #provided = 0;
  #closed = false;

  constructor(options: ProviderQueueOptions) {
    this.#options = options;
  }

  /** How many provides reached at least one peer. */
  get provided(): number {
    return this.#provided;
  }

  /** Provides `cid` in the background, now or when a running provide ends. */
  add(cid: CID): void {
    if (this.#closed) return;
    if (this.#running >= IN_FLIGHT) {
      remember(this.#waiting, cid); // past MEMORY the oldest is dropped, until added or pinned again
      return;
    }
    this.#start(cid);
  }

  /** A peer joined the DHT: provides again what reached no one. */
  peerJoined(): void {
    const pending = [...this.#unprovided.values()];
    this.#unprovided.clear();
    for (const cid of pending) this.add(cid);
  }

  /** Starts no more provides. */
  close(): void {
    this.#closed = true;
    this.#waiting.clear();
    this.#unprovided.clear();
  }

  #start(cid: CID): void {
    this.#running++;
    this.#options.background((signal) => this.#run(cid, signal));
  }

  async #run(cid: CID, signal: AbortSignal): Promise<void> {
    let reached = 0;
    try {
      reached = await this.#options.provide(cid, signal);
    } finally {
      this.#running--;
      if (reached > 0) {
        this.#provided++;
      } else if (!this.#closed) {
        remember(this.#unprovided, cid);
      }
      const [next] = this.#waiting.values();
      if (next !== undefined && !this.#closed) {
        this.#waiting.delete(next.toString());
        this.#start(next);
      }
    }
  }
}

/** Adds `cid` last to a bounded map, dropping the oldest past {@linkcode MEMORY}. */
function remember(map: Map<string, CID>, cid: CID): void {
  map.delete(cid.toString());
  map.set(cid.toString(), cid);
  if (map.size > MEMORY) map.delete(map.keys().next().value!);
}
