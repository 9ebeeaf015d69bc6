/**
 * A one-shot event, after Trio's `Event`.
 *
 * @module
 */

import { park, type Waiter } from "./park.ts";
import { checkpoint } from "./checkpoint.ts";
import { type QueueNode, unlink, WaitQueue } from "./permit.ts";

/** What {@linkcode Event.statistics} returns. */
export interface EventStatistics {
  /** How many tasks are waiting for the event. */
  tasksWaiting: number;
}

interface EventEntry extends QueueNode {
  waiter: Waiter<void>;
}

/**
 * A flag that starts unset and, once {@linkcode Event.set}, stays set: every
 * task waiting for it wakes, and later waits return at once. To signal again,
 * make a new event.
 *
 * `wait()` is a checkpoint, also when the event is set already, and is
 * cancellable: a cancelled waiter leaves the queue at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Event, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const ready = new Event();
 * const log: string[] = [];
 * await taskGroup((tg) => {
 *   tg.spawn(async () => {
 *     await ready.wait();
 *     log.push("consumer");
 *   });
 *   tg.spawn(() => {
 *     log.push("producer");
 *     ready.set();
 *   });
 * });
 * assert.equal(log.join(), "producer,consumer");
 * ```
 */
export class Event {
  #set = false;
  #queue = new WaitQueue<EventEntry>();

  /** Whether the event was set. */
  get isSet(): boolean {
    return this.#set;
  }

  /**
   * Sets the event and wakes every waiting task. Idempotent.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Event } from "@ipfs-kit/kit/runtime";
   *
   * const event = new Event();
   * event.set();
   * event.set();
   * assert(event.isSet);
   * ```
   */
  set(): void {
    if (this.#set) return;
    this.#set = true;
    for (let entry = this.#queue.shift(); entry !== undefined; entry = this.#queue.shift()) {
      entry.waiter.wake();
    }
  }

  /**
   * Waits until the event is set. A checkpoint; cancellable.
   *
   * @returns A promise that settles once the event is set.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Event, moveOnAfter } from "@ipfs-kit/kit/runtime";
   *
   * const event = new Event();
   * assert.equal(await moveOnAfter(1, () => event.wait()), undefined); // gave up after 1 ms
   * event.set();
   * await event.wait(); // returns at once
   * assert(event.isSet);
   * ```
   */
  wait(): Promise<void> {
    if (this.#set) return checkpoint();
    try {
      const waiter = park<void>();
      const entry: EventEntry = { waiter, prev: undefined, next: undefined, queue: undefined };
      waiter.onCancel = () => unlink(entry);
      this.#queue.push(entry);
      return waiter.promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * A snapshot of the event's state.
   *
   * @returns How many tasks wait.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Event } from "@ipfs-kit/kit/runtime";
   *
   * assert.equal(new Event().statistics().tasksWaiting, 0);
   * ```
   */
  statistics(): EventStatistics {
    return { tasksWaiting: this.#queue.size };
  }
}
