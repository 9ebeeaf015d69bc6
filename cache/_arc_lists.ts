/**
 * The four lists of the ARC memory tier (T1, T2 and the ghost lists B1, B2),
 * kept in typed arrays of slots, as lru-cache keeps its one list. Private to
 * the cache: `ArcCache` runs the algorithm, these lists only hold and order.
 *
 * @module
 */

/** List T1: entries seen once recently. Each list id is also the index of its sentinel slot. */
export const T1 = 0;
/** List T2: entries seen at least twice recently. */
export const T2 = 1;
/** Ghost list B1: keys evicted from T1, without values. */
export const B1 = 2;
/** Ghost list B2: keys evicted from T2, without values. */
export const B2 = 3;
/** The list id of a slot on the free list. */
const FREE = 4;
/** Slots allocated at first; the arrays double as needed, up to `2 * max + 4`. */
const INITIAL_SLOTS = 64;

/**
 * Four circular doubly-linked lists through typed arrays of slots, and one
 * `Map` from key to slot. Slots 0-3 are the sentinels of T1, T2, B1, B2: from
 * a sentinel, `next` leads to the list's most recently used (MRU) slot and
 * `prev` to its least recently used (LRU) one. A slot holds a key, a value
 * (none in a ghost list) and a size (when the lists are sized). Every
 * operation is O(1) but `clear`.
 *
 * @typeParam K The key type.
 * @typeParam V The value type.
 */
export class ArcLists<K, V> {
  /** The most slots ever needed: `2 * max` keys and the four sentinels. */
  readonly #maxSlots: number;
  /** Whether slots keep sizes. */
  readonly #sized: boolean;
  /** Key to slot. */
  readonly #map: Map<K, number> = new Map();
  #next: Int32Array = new Int32Array(0);
  #prev: Int32Array = new Int32Array(0);
  /** Which list a slot is in (T1, T2, B1, B2) or FREE. */
  #where: Uint8Array = new Uint8Array(0);
  #sizes: Float64Array = new Float64Array(0);
  #keys: (K | undefined)[] = [];
  /** Values of T1 and T2 slots; ghosts (B1, B2) hold none. */
  #values: (V | undefined)[] = [];
  /** List lengths, by list id. */
  readonly #length: Int32Array = new Int32Array(4);
  /** The first never-used slot. */
  #top = 4;
  /** Freed slots, linked through `next`; -1 when none. */
  #free = -1;

  /**
   * Creates four empty lists.
   *
   * @param max ARC's `c`: the lists hold at most `2 * max` keys.
   * @param sized Whether slots keep sizes.
   */
  constructor(max: number, sized: boolean) {
    this.#maxSlots = 2 * max + 4;
    this.#sized = sized;
    this.#allocate(INITIAL_SLOTS, true);
  }

  /** The slot of `key`, or `undefined` when no list holds it. */
  slotOf(key: K): number | undefined {
    return this.#map.get(key);
  }

  /** The list slot `i` is in: T1, T2, B1 or B2 (or higher when free). */
  listOf(i: number): number {
    return this.#where[i];
  }

  /** The key of slot `i` (`undefined` when free). */
  key(i: number): K | undefined {
    return this.#keys[i];
  }

  /** The value of slot `i` (`undefined` for a ghost or a free slot). */
  value(i: number): V | undefined {
    return this.#values[i];
  }

  /** Sets the value of slot `i`. */
  setValue(i: number, value: V | undefined): void {
    this.#values[i] = value;
  }

  /** The size of slot `i`; the lists must be sized. */
  size(i: number): number {
    return this.#sizes[i];
  }

  /** Sets the size of slot `i`; the lists must be sized. */
  setSize(i: number, size: number): void {
    this.#sizes[i] = size;
  }

  /** How many slots `list` holds. */
  length(list: number): number {
    return this.#length[list];
  }

  /** The slot after `i` towards the LRU end (from a sentinel: the MRU slot). */
  next(i: number): number {
    return this.#next[i];
  }

  /** The slot before `i` towards the MRU end (from a sentinel: the LRU slot). */
  prev(i: number): number {
    return this.#prev[i];
  }

  /** Adds `key` with `value` at the MRU end of `list`; returns its slot. */
  add(key: K, value: V | undefined, list: number): number {
    const i = this.#slot();
    this.#keys[i] = key;
    this.#values[i] = value;
    this.#link(i, list);
    this.#map.set(key, i);
    return i;
  }

  /** Moves slot `i` to the MRU end of `list` (its own list or another). */
  move(i: number, list: number): void {
    if (this.#where[i] === list) {
      this.toFront(i, list);
    } else {
      this.#unlink(i);
      this.#link(i, list);
    }
  }

  /** Moves slot `i`, which `list` holds, to the MRU end of `list`: a hit's cheapest step. */
  toFront(i: number, list: number): void {
    const next = this.#next;
    const head = next[list];
    if (head === i) return;
    const prev = this.#prev;
    const before = prev[i];
    const after = next[i];
    next[before] = after;
    prev[after] = before;
    prev[i] = list;
    next[i] = head;
    prev[head] = i;
    next[list] = i;
  }

  /** Removes slot `i` from its list and forgets its key; the slot is freed. */
  remove(i: number): void {
    this.#unlink(i);
    this.#map.delete(this.#keys[i]!);
    this.#keys[i] = undefined;
    this.#values[i] = undefined;
    this.#where[i] = FREE;
    this.#next[i] = this.#free;
    this.#free = i;
  }

  /** Empties the four lists and shrinks the slot arrays back to their first size. */
  clear(): void {
    this.#map.clear();
    this.#length.fill(0);
    this.#allocate(INITIAL_SLOTS, true);
  }

  /** Unlinks slot `i` from its list. */
  #unlink(i: number): void {
    const next = this.#next;
    const prev = this.#prev;
    const before = prev[i];
    const after = next[i];
    next[before] = after;
    prev[after] = before;
    this.#length[this.#where[i]]--;
  }

  /** Links slot `i` at the MRU end of `list`. */
  #link(i: number, list: number): void {
    const next = this.#next;
    const head = next[list];
    this.#prev[i] = list;
    next[i] = head;
    this.#prev[head] = i;
    next[list] = i;
    this.#where[i] = list;
    this.#length[list]++;
  }

  /** A free slot, growing the arrays when every slot is used. */
  #slot(): number {
    const free = this.#free;
    if (free !== -1) {
      this.#free = this.#next[free];
      return free;
    }
    if (this.#top === this.#where.length) this.#allocate(this.#top * 2, false);
    return this.#top++;
  }

  /**
   * Allocates the slot arrays with room for `slots` (at most `2 * max + 4`,
   * the most the lists ever hold): empty ones when `fresh`, else a copy.
   */
  #allocate(slots: number, fresh: boolean): void {
    slots = Math.min(slots, this.#maxSlots);
    const next = new Int32Array(slots);
    const prev = new Int32Array(slots);
    const where = new Uint8Array(slots);
    const sizes = new Float64Array(this.#sized ? slots : 0);
    if (fresh) {
      for (let list = T1; list <= B2; list++) {
        next[list] = prev[list] = list;
        where[list] = list;
      }
      this.#top = 4;
      this.#free = -1;
      this.#keys = new Array(slots).fill(undefined);
      this.#values = new Array(slots).fill(undefined);
    } else {
      next.set(this.#next);
      prev.set(this.#prev);
      where.set(this.#where);
      sizes.set(this.#sizes);
      for (let i = this.#keys.length; i < slots; i++) {
        this.#keys.push(undefined);
        this.#values.push(undefined);
      }
    }
    this.#next = next;
    this.#prev = prev;
    this.#where = where;
    this.#sizes = sizes;
  }
}
