/**
 * A lock per entry name of the disk cache, so that the steps that change one
 * entry's file (rename in, remove) never interleave. Private to the cache.
 *
 * @module
 */

import { Lock } from "../runtime/lock.ts";

/** A lock and how many hold it or wait for it. */
interface NameLock {
  lock: Lock;
  users: number;
}

/** Locks by name, each dropped when nobody holds or waits for it. */
export class NameLocks {
  readonly #locks: Map<string, NameLock> = new Map();

  /** Takes the lock of `name`; dispose of the result to release it. */
  async acquire(name: string): Promise<Disposable> {
    const slot = this.#locks.get(name) ?? { lock: new Lock(), users: 0 };
    if (slot.users === 0) this.#locks.set(name, slot);
    slot.users++;
    const drop = () => {
      if (--slot.users === 0) this.#locks.delete(name);
    };
    try {
      const permit = await slot.lock.acquire();
      return {
        [Symbol.dispose]: () => {
          permit.release();
          drop();
        },
      };
    } catch (error) {
      drop();
      throw error;
    }
  }
}
