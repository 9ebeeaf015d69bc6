/**
 * A FIFO-fair readers-writer lock on the runtime's blocking primitives: the
 * embedded node's garbage-collection lock. Adds, puts and pins hold it
 * shared; garbage collection and block removal hold it exclusively, so a
 * block written by an add in progress can never be collected before the add
 * pins it.
 *
 * Waiters are served in arrival order: a waiting writer holds back readers
 * that come after it (no writer starvation), and readers queued together are
 * let in together. Acquiring is a checkpoint and cancel-safe: a waiter
 * cancelled in the queue never takes the lock, and leaving the queue lets
 * the waiters behind it in when they can go.
 *
 * @module
 */

import { park, type Waiter } from "../runtime/park.ts";
import { checkpoint } from "../runtime/checkpoint.ts";
import type { Permit } from "../runtime/permit.ts";

interface Entry {
  shared: boolean;
  waiter: Waiter<Permit>;
}

/** The lock. */
export class RwLock {
  #readers = 0;
  #writer = false;
  #queue: Entry[] = [];

  /** How many hold it shared. */
  get readers(): number {
    return this.#readers;
  }

  /** Whether it is held exclusively. */
  get writer(): boolean {
    return this.#writer;
  }

  /** How many wait. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Acquires the lock shared (many at once). A checkpoint. */
  acquireShared(): Promise<Permit> {
    return this.#acquire(true);
  }

  /** Acquires the lock exclusively. A checkpoint. */
  acquireExclusive(): Promise<Permit> {
    return this.#acquire(false);
  }

  async #acquire(shared: boolean): Promise<Permit> {
    await checkpoint();
    if (this.#queue.length === 0 && this.#free(shared)) return this.#grant(shared);
    const waiter = park<Permit>();
    const entry: Entry = { shared, waiter };
    waiter.onCancel = () => {
      const at = this.#queue.indexOf(entry);
      if (at !== -1) this.#queue.splice(at, 1);
      this.#drain();
    };
    this.#queue.push(entry);
    return await waiter.promise;
  }

  #free(shared: boolean): boolean {
    return shared ? !this.#writer : !this.#writer && this.#readers === 0;
  }

  #grant(shared: boolean): Permit {
    if (shared) this.#readers++;
    else this.#writer = true;
    let released = false;
    const release = () => {
      if (released) throw new Error("Cannot release: permit was already released");
      released = true;
      if (shared) this.#readers--;
      else this.#writer = false;
      this.#drain();
    };
    return {
      release,
      [Symbol.dispose]: () => {
        if (!released) release();
      },
    };
  }

  /** Lets in the waiters at the head of the queue that can go now. */
  #drain(): void {
    while (this.#queue.length > 0 && this.#free(this.#queue[0].shared)) {
      const entry = this.#queue.shift()!;
      if (entry.waiter.settled) continue;
      entry.waiter.wake(this.#grant(entry.shared));
    }
  }
}
