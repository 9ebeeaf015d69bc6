// Waking every task that waits for "something changed": the state of a
// peer connection or a data channel. Built on the runtime's `park`, so a wait
// is a checkpoint and cancellable. `notify()` only wakes (never throws), so
// it is safe inside a native callback.

import { park, type Waiter } from "../runtime/lowlevel.ts";

/** Tasks waiting for the next change. */
export class Notifier {
  #waiters = new Set<Waiter<void>>();

  /** Waits for the next `notify()`. A checkpoint; cancellable. */
  wait(): Promise<void> {
    try {
      const waiter = park<void>(() => this.#waiters.delete(waiter));
      this.#waiters.add(waiter);
      return waiter.promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Wakes every waiting task. */
  notify(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.wake();
  }
}
