/**
 * A binary min-heap with lazy deletion: items that are no longer live (a
 * cancelled timer, a retry whose operation moved on) stay in the heap until
 * they reach the top, where {@linkcode MinHeap.peek} drops them.
 *
 * @module
 */

/**
 * A binary min-heap ordered by `before`, skipping items `isLive` rejects.
 *
 * @example Timers by deadline, cancelled ones dropped lazily
 * ```ts
 * import assert from "node:assert/strict";
 * import { MinHeap } from "@ipfs-kit/kit/runtime/lowlevel";
 *
 * type Timer = { at: number; live: boolean };
 * const heap = new MinHeap<Timer>((a, b) => a.at < b.at, (t) => t.live);
 * const late = { at: 20, live: true };
 * const early = { at: 10, live: true };
 * heap.push(late);
 * heap.push(early);
 * early.live = false; // cancelled
 * assert.equal(heap.peek(), late);
 * ```
 */
export class MinHeap<T> {
  #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;
  readonly #isLive: (item: T) => boolean;

  /**
   * Creates an empty heap.
   *
   * @param before Whether `a` comes out before `b`; a strict order (break ties, e.g. by a sequence number).
   * @param isLive Whether an item still counts. Default: every item does.
   */
  constructor(before: (a: T, b: T) => boolean, isLive: (item: T) => boolean = () => true) {
    this.#before = before;
    this.#isLive = isLive;
  }

  /** How many items the heap holds, live or not. */
  get size(): number {
    return this.#items.length;
  }

  /** Adds an item. */
  push(item: T): void {
    const items = this.#items;
    const before = this.#before;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  /** The first live item, dropping the dead ones above it; `undefined` when there is none. */
  peek(): T | undefined {
    const items = this.#items;
    while (items.length > 0 && !this.#isLive(items[0])) this.pop();
    return items[0];
  }

  /** Removes the top item, live or not. */
  pop(): void {
    const items = this.#items;
    const before = this.#before;
    const last = items.pop()!;
    if (items.length === 0) return;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < items.length && before(items[left], items[least])) least = left;
      if (right < items.length && before(items[right], items[least])) least = right;
      if (least === i) return;
      [items[i], items[least]] = [items[least], items[i]];
      i = least;
    }
  }

  /** Drops every dead item at once (when many piled up below the top). */
  compact(): void {
    // A sorted array is a valid heap.
    this.#items = this.#items.filter(this.#isLive).sort((a, b) => (this.#before(a, b) ? -1 : 1));
  }
}
