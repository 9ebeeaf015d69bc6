/**
 * The single flight of `ArcCache.fetch`: one load shared by every caller that
 * asks for the same missing key. Private to the cache.
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { park, type Waiter } from "../runtime/park.ts";

const RUNNING = 0;
const RESOLVED = 1;
const REJECTED = 2;
const ABANDONED = 3;

/** One load shared by the callers of `fetch` for one key. */
export class Flight<K extends NonNullable<unknown>, V extends NonNullable<unknown>> {
  readonly key: K;
  /** Loads the value; aborts its signal when every caller has gone. */
  #load: (signal: AbortSignal) => V | Promise<V>;
  /** Told when the load ends: with the value on success, `undefined` otherwise. */
  #ended: (flight: Flight<K, V>, value: V | undefined) => void;
  #scope: CancelScope = new CancelScope({ shield: true, name: "cache fetch" });
  #waiters: Set<Waiter<V>> = new Set();
  #state = RUNNING;
  #result: unknown;
  #abandonedBy: Waiter<V> | undefined;
  /** Settles (never rejects) once the loader has settled. */
  #settled: Promise<void> | undefined;

  constructor(
    key: K,
    load: (signal: AbortSignal) => V | Promise<V>,
    ended: (flight: Flight<K, V>, value: V | undefined) => void,
  ) {
    this.key = key;
    this.#load = load;
    this.#ended = ended;
  }

  /** Starts the loader in the flight's shielded scope. */
  start(): void {
    const load = this.#load;
    this.#settled = this.#scope.run((scope) => load(scope.signal)).then(
      (value) => this.#land(value),
      (error) => this.#fail(error),
    );
  }

  /** Waits for the value as one more caller; the last caller to leave abandons the load. */
  async wait(): Promise<V> {
    if (this.#state === RESOLVED) return this.#result as V;
    if (this.#state === REJECTED) throw this.#result;
    const waiter: Waiter<V> = park<V>(() => {
      this.#waiters.delete(waiter);
      if (this.#waiters.size === 0 && this.#state === RUNNING) {
        this.#state = ABANDONED;
        this.#abandonedBy = waiter;
        this.#ended(this, undefined);
        this.#scope.cancel(new DOMException("Every caller of fetch has gone", "AbortError"));
      }
    });
    this.#waiters.add(waiter);
    try {
      return await waiter.promise;
    } catch (error) {
      if (this.#abandonedBy === waiter) await this.#settled;
      throw error;
    }
  }

  #land(value: V | undefined): void {
    if (this.#state !== RUNNING) return;
    if (value === undefined) {
      this.#fail(new TypeError("Cannot fetch cache entry: the loader returned undefined"));
      return;
    }
    try {
      this.#ended(this, value);
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#state = RESOLVED;
    this.#result = value;
    for (const waiter of this.#waiters) waiter.wake(value);
    this.#waiters.clear();
  }

  #fail(error: unknown): void {
    if (this.#state !== RUNNING) return;
    this.#state = REJECTED;
    this.#result = error;
    this.#ended(this, undefined);
    for (const waiter of this.#waiters) waiter.fail(error);
    this.#waiters.clear();
  }
}
