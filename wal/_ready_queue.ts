// Which operation runs next: the ready operations of each type, first in
// first out and taken round robin between types, and the retries scheduled
// for later, earliest first. Entries leave lazily: one whose state moved on
// is skipped when it comes up. Private to the WAL.

import { MinHeap } from "../runtime/min_heap.ts";
import type { Entry } from "./_entry.ts";

/** The ready operations and the retry schedule of a log. */
export class ReadyQueue {
  /** Ready operations per type, FIFO; entries leave lazily. */
  readonly #ready = new Map<string, Deque>();
  /** Scheduled retries; an item whose entry moved on is stale and skipped. */
  readonly #retries = new MinHeap<RetryItem>(
    before,
    (item) => item.entry.state === "retrying" && item.entry.nextRetryAt === item.at,
  );
  #retrySeq = 0;

  /** Puts a runnable entry in its ready queue or the retry schedule. */
  place(entry: Entry): void {
    if (
      entry.state === "pending" || (entry.state === "retrying" && entry.nextRetryAt === undefined)
    ) {
      this.enqueue(entry);
    } else if (entry.state === "retrying") {
      this.#retries.push({ at: entry.nextRetryAt!, seq: this.#retrySeq++, entry });
    }
  }

  /** Puts an entry in its type's ready queue, unless it is in it. */
  enqueue(entry: Entry): void {
    if (entry.queued) return;
    entry.queued = true;
    let deque = this.#ready.get(entry.type);
    if (deque === undefined) this.#ready.set(entry.type, deque = new Deque());
    deque.push(entry);
  }

  /**
   * The next operation to run among `types`, moving the retries due at
   * `now` to the ready queues first.
   */
  take(types: ReadonlySet<string>, now: number): Entry | undefined {
    for (
      let item = this.#retries.peek();
      item !== undefined && item.at <= now;
      item = this.#retries.peek()
    ) {
      this.#retries.pop();
      this.enqueue(item.entry);
    }
    for (const [type, deque] of this.#ready) {
      if (!types.has(type)) continue;
      for (let entry = deque.shift(); entry !== undefined; entry = deque.shift()) {
        entry.queued = false;
        if (entry.state === "pending" || entry.state === "retrying") {
          // Round robin between types: the next call starts with another one.
          this.#ready.delete(type);
          if (deque.length > 0) this.#ready.set(type, deque);
          return entry;
        }
      }
      this.#ready.delete(type);
    }
    return undefined;
  }

  /** When the earliest scheduled retry is due, if any. */
  nextDue(): number | undefined {
    return this.#retries.peek()?.at;
  }
}

/** A FIFO of entries. */
class Deque {
  #items: Entry[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(entry: Entry): void {
    this.#items.push(entry);
  }

  shift(): Entry | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const entry = this.#items[this.#head];
    this.#items[this.#head++] = undefined as unknown as Entry;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }
}

interface RetryItem {
  at: number;
  seq: number;
  entry: Entry;
}

function before(a: RetryItem, b: RetryItem): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
