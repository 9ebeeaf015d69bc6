/**
 * A virtual clock, the analogue of Trio's `MockClock`.
 *
 * @module
 */

// deno-lint-ignore-file ipfs-kit/no-bare-timer
// The virtual clock pumps itself on real timers.

import { MinHeap } from "./min_heap.ts";
import type { Clock, ClockTimer } from "./clock.ts";
import { pendingMacrotaskYields } from "./macrotask.ts";

/** Options for {@linkcode VirtualClock}. */
export interface VirtualClockOptions {
  /** The time the clock starts at, in milliseconds. Default 0. */
  start?: number;
  /**
   * When set, the clock jumps to the next timer by itself once every task has
   * been blocked for this many real milliseconds. `0` jumps as soon as the
   * runtime is idle, which makes sleeps and timeouts free. Leave it unset to
   * move time only with {@linkcode VirtualClock.advance}.
   */
  autojumpThreshold?: number;
}

interface VirtualTimer {
  deadline: number;
  seq: number;
  callback: (() => void) | undefined;
}

/**
 * A clock whose time moves only when told to ({@linkcode VirtualClock.advance})
 * or, with autojump, whenever every task is blocked: the next timer fires at
 * once. Tests of timeouts, retries and backoff run instantly and
 * deterministically.
 *
 * Autojump treats a task waiting on real I/O as idle (as Trio does): when
 * tests mix real I/O with virtual timeouts, set a threshold long enough for
 * the I/O to finish.
 *
 * @example Ten virtual minutes in no real time
 * ```ts
 * import assert from "node:assert/strict";
 * import { run, sleep, VirtualClock } from "@ipfs-kit/kit/runtime";
 *
 * const clock = new VirtualClock({ autojumpThreshold: 0 });
 * await run(async () => {
 *   await sleep(10 * 60_000);
 * }, { clock });
 * assert.equal(clock.now(), 10 * 60_000);
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  // Cancelled timers (no callback) are dropped lazily.
  #heap = new MinHeap<VirtualTimer>(before, (timer) => timer.callback !== undefined);
  #live = 0;
  #seq = 0;
  #threshold: number | undefined;
  #pump: ReturnType<typeof setTimeout> | undefined;
  #pumpKind: "immediate" | "timeout" | undefined;

  /**
   * Creates a virtual clock.
   *
   * @param options Start time and autojump threshold.
   */
  constructor(options: VirtualClockOptions = {}) {
    this.#now = options.start ?? 0;
    this.#threshold = options.autojumpThreshold;
  }

  /**
   * The virtual time.
   *
   * @returns Milliseconds.
   */
  now(): number {
    return this.#now;
  }

  /** The autojump threshold in real milliseconds, or `undefined` when off. */
  get autojumpThreshold(): number | undefined {
    return this.#threshold;
  }

  set autojumpThreshold(value: number | undefined) {
    if (value !== undefined && !(value >= 0)) {
      throw new RangeError(`Cannot set autojump threshold: must be >= 0: received ${value}`);
    }
    this.#threshold = value;
    this.#disarm();
    this.#arm();
  }

  /** How many timers are armed. */
  get pendingTimers(): number {
    return this.#live;
  }

  /**
   * Arms a virtual timer.
   *
   * @param deadline Virtual time to fire at.
   * @param callback What to call.
   * @returns A handle that disarms it.
   */
  setTimer(deadline: number, callback: () => void): ClockTimer {
    const timer: VirtualTimer = { deadline, seq: this.#seq++, callback };
    this.#heap.push(timer);
    this.#live++;
    // Arming a timer is activity: restart the idle countdown (or fire a due timer soon).
    if (this.#pumpKind === "timeout") this.#disarm();
    this.#arm();
    return {
      cancel: () => {
        if (timer.callback === undefined) return;
        timer.callback = undefined;
        this.#live--;
        if (this.#live === 0) this.#disarm();
        else if (this.#pumpKind === "timeout") {
          this.#disarm();
          this.#arm();
        }
        // Cancelled timers leave the heap lazily; drop them when they dominate it.
        if (this.#heap.size > 64 && this.#heap.size > 4 * this.#live) this.#heap.compact();
      },
    };
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order.
   * Callbacks run synchronously; the tasks they wake run afterwards.
   *
   * @param ms How far to move, in milliseconds (>= 0).
   */
  advance(ms: number): void {
    if (!(ms >= 0)) {
      throw new RangeError(`Cannot advance virtual clock: must be >= 0: received ${ms}`);
    }
    const target = this.#now + ms;
    this.#fireUntil(target);
    this.#now = target;
  }

  /**
   * Jumps to the next armed timer and fires it (and any others due then).
   *
   * @returns `true` if a timer fired.
   */
  jumpToNextTimer(): boolean {
    const next = this.#heap.peek();
    if (next === undefined) return false;
    if (next.deadline > this.#now) this.#now = next.deadline;
    this.#fireUntil(this.#now);
    return true;
  }

  #fireUntil(limit: number): void {
    for (
      let next = this.#heap.peek();
      next !== undefined && next.deadline <= limit;
      next = this.#heap.peek()
    ) {
      this.#heap.pop();
      const callback = next.callback!;
      next.callback = undefined;
      this.#live--;
      if (next.deadline > this.#now) this.#now = next.deadline;
      callback();
    }
    if (this.#live === 0) this.#disarm();
  }

  /** Arms the pump that fires due timers and, with autojump, jumps when idle. */
  #arm(): void {
    if (this.#pump !== undefined || this.#live === 0) return;
    const next = this.#heap.peek();
    const due = next !== undefined && next.deadline <= this.#now;
    if (due || this.#threshold === 0) {
      this.#pumpKind = "immediate";
      this.#pump = setImmediate(() => this.#onPump()) as unknown as ReturnType<typeof setTimeout>;
    } else if (this.#threshold !== undefined) {
      this.#pumpKind = "timeout";
      this.#pump = setTimeout(() => this.#onPump(), this.#threshold);
    }
  }

  #disarm(): void {
    if (this.#pump === undefined) return;
    if (this.#pumpKind === "immediate") {
      clearImmediate(this.#pump as unknown as ReturnType<typeof setImmediate>);
    } else clearTimeout(this.#pump);
    this.#pump = undefined;
  }

  #onPump(): void {
    this.#pump = undefined;
    const next = this.#heap.peek();
    if (next === undefined) return;
    if (next.deadline <= this.#now) {
      this.#fireUntil(this.#now);
    } else if (this.#threshold !== undefined && pendingMacrotaskYields() === 0) {
      this.jumpToNextTimer();
    }
    this.#arm();
  }
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}
