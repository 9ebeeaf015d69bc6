/**
 * Cancel scopes, the unit of cancellation, and the internals every blocking
 * primitive builds on.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type { ClockTimer } from "./clock.ts";
import { CancelledError, isCancellationError } from "./errors.ts";
import { type DeadlineEntry, defaultRuntime, type Runtime } from "./_runtime.ts";

const IDLE = 0;
const ACTIVE = 1;
const EXITED = 2;

/** Which scope the running code is in. See the module doc of `runtime/mod.ts`. */
const storage = new AsyncLocalStorage<CancelScope>();

/**
 * Bumped by every change that can make some scope cancelled (a `cancel()`,
 * a shield lowered, a scope moved to another parent). A scope found not
 * cancelled remembers the epoch, so `cancelled` skips the walk to the root
 * until the next such change.
 */
let cancelEpoch = 0;

/** Whether a scope is entered and not yet exited (set in `CancelScope`'s static block). */
let isActive: (scope: CancelScope) => boolean;

/** Scope internals for the other runtime modules; not exported from `mod.ts`. */
export let internals: Internals;

/** Options for {@linkcode CancelScope}. */
export interface CancelScopeOptions {
  /** Absolute deadline on the runtime clock (ms); the scope cancels itself then. */
  deadline?: number;
  /** Relative deadline: ms from the moment the scope is entered. */
  timeout?: number;
  /** Shield the code inside from cancellation of the scopes outside. */
  shield?: boolean;
  /** Cancel the scope when this signal aborts. */
  signal?: AbortSignal;
  /** A name for debugging. */
  name?: string;
}

/**
 * A block of code that can be cancelled as a unit, as in Trio and AnyIO.
 *
 * Cancellation is level-triggered: once a scope is cancelled, every
 * checkpoint inside it (and inside the scopes nested in it, up to a shield)
 * throws {@linkcode CancelledError} until the code leaves the scope, which
 * catches the error. Blocked operations (sleeps, lock waits, channel receives)
 * wake at once. The scope's {@linkcode CancelScope.signal} aborts too, so
 * `fetch` and every Web API given it stop as well.
 *
 * A scope absorbs only its own cancellation (Trio's rule): when a scope
 * outside it, up to a shield, is cancelled too, the cancellation goes on out
 * to the outermost cancelled scope, and no code between the two runs. Of two
 * nested deadlines that pass together, the outer one wins.
 *
 * A scope is entered once, with {@linkcode CancelScope.run}.
 *
 * @example Cancel a scope from inside
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelScope, sleepForever } from "@ipfs-kit/kit/runtime";
 *
 * const scope = new CancelScope();
 * await scope.run(async () => {
 *   scope.cancel("done waiting");
 *   await sleepForever();
 * });
 * assert(scope.cancelledCaught);
 * ```
 */
export class CancelScope {
  #state = IDLE;
  #parent: CancelScope | undefined;
  #runtime: Runtime = defaultRuntime;
  #deadline: number;
  #timeout: number | undefined;
  #shield: boolean;
  #name: string | undefined;
  #cancelCalled = false;
  #cancelledCaught = false;
  #reason: unknown;
  #children: Set<CancelScope> | undefined;
  #waiters: Set<CancellableWaiter> | undefined;
  #timer: ClockTimer | undefined;
  #deadlineEntry: DeadlineEntry | undefined;
  #controller: AbortController | undefined;
  #external: AbortSignal | undefined;
  #onExternalAbort: (() => void) | undefined;
  /** The `cancelEpoch` in which this scope was last found not cancelled (-1: unknown). */
  #calmEpoch = -1;

  /**
   * Creates a scope; it takes effect when entered with `run`.
   *
   * @param options Deadline, relative timeout, shield, a signal to follow, name.
   */
  constructor(options: CancelScopeOptions = {}) {
    this.#deadline = checkTime("deadline", options.deadline ?? Infinity, true);
    this.#timeout = options.timeout === undefined
      ? undefined
      : checkTime("timeout", options.timeout, true);
    this.#shield = options.shield ?? false;
    this.#name = options.name;
    this.#external = options.signal;
  }

  /**
   * The innermost scope of the running code (a root scope outside any
   * {@linkcode run}).
   *
   * @returns The current scope.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CancelScope } from "@ipfs-kit/kit/runtime";
   *
   * const scope = new CancelScope();
   * await scope.run(() => assert(CancelScope.current() === scope));
   * ```
   */
  static current(): CancelScope {
    return currentScope();
  }

  /** The name given at creation. */
  get name(): string | undefined {
    return this.#name;
  }

  /** The absolute deadline on the runtime clock, `Infinity` when none. */
  get deadline(): number {
    return this.#deadline;
  }

  set deadline(value: number) {
    this.#deadline = checkTime("deadline", value, true);
    this.#timeout = undefined;
    if (this.#state === ACTIVE) this.#armDeadline();
  }

  /** Whether cancellation from outside is kept out. */
  get shield(): boolean {
    return this.#shield;
  }

  set shield(value: boolean) {
    const was = this.#shield;
    this.#shield = value;
    cancelEpoch++;
    if (was && !value && this.#state === ACTIVE && this.#parent?.cancelled) {
      this.#deliver(this.#parent.#makeError());
    }
  }

  /** Whether `cancel()` was called or the deadline passed. */
  get cancelCalled(): boolean {
    return this.#cancelCalled;
  }

  /** Whether this scope caught the cancellation it caused. */
  get cancelledCaught(): boolean {
    return this.#cancelledCaught;
  }

  /** The reason given to `cancel()`. */
  get reason(): unknown {
    return this.#reason;
  }

  /**
   * Whether code in this scope is cancelled right now: this scope or one
   * outside it (up to a shield) was cancelled.
   */
  get cancelled(): boolean {
    if (this.#calmEpoch === cancelEpoch) return false;
    if (CancelScope.#cancelledScope(this) !== undefined) return true;
    this.#calmEpoch = cancelEpoch;
    return false;
  }

  /** The scope whose cancellation reaches `start` (itself or an outer one up to a shield). */
  static #cancelledScope(start: CancelScope): CancelScope | undefined {
    for (let scope: CancelScope | undefined = start; scope; scope = scope.#parent) {
      if (scope.#cancelCalled) return scope;
      if (scope.#shield) return undefined;
    }
    return undefined;
  }

  /**
   * An `AbortSignal` that aborts when code in this scope is cancelled. Hand
   * it to `fetch`, streams and npm clients.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#state !== IDLE && this.cancelled) this.#controller.abort(this.#makeError());
    }
    return this.#controller.signal;
  }

  /**
   * Cancels the scope: code inside stops at its next checkpoint. Idempotent.
   *
   * @param reason Why; kept as the `cause` of the {@linkcode CancelledError}.
   */
  cancel(reason?: unknown): void {
    if (this.#cancelCalled) return;
    this.#cancelCalled = true;
    this.#reason = reason;
    cancelEpoch++;
    this.#disarmDeadline();
    // Before entry the scope has no runtime yet: `#enter` counts it.
    if (this.#state !== IDLE) this.#runtime.scopeCancelled(reason);
    if (this.#state === ACTIVE) this.#deliver(new CancelledError(reason));
  }

  /**
   * Runs `fn` inside the scope. Returns its result, or `undefined` when the
   * scope caught its own cancellation.
   *
   * @param fn The code to run; it receives the scope.
   * @returns What `fn` returned, or `undefined` if cancelled.
   */
  async run<T>(fn: (scope: CancelScope) => T | Promise<T>): Promise<T | undefined> {
    this.#enter(currentScope());
    try {
      return await storage.run(this, fn, this);
    } catch (error) {
      if (this.#catches(error)) {
        this.#cancelledCaught = true;
        return undefined;
      }
      throw error;
    } finally {
      this.#exit();
    }
  }

  /**
   * Whether `error` is this scope's own cancellation, which it swallows on exit:
   * a `CancelledError`, or an `AbortError` from a Web API or library whose signal
   * (this scope's or a nested scope's) the cancellation aborted.
   *
   * Trio's rule: a scope absorbs only its own cancellation. When a scope outside
   * it (up to a shield) is cancelled too, the cancellation goes on out to the
   * outermost cancelled scope, and no code between the two runs.
   */
  #catches(error: unknown): boolean {
    return this.#cancelCalled && isCancellationError(error) && !this.#outerCancelled();
  }

  /**
   * Whether a scope outside this one, up to a shield, is cancelled. An outer
   * deadline the clock has reached counts even when its timer has not run yet
   * (equal nested deadlines: the outer wins), and is fired now.
   */
  #outerCancelled(): boolean {
    if (this.#shield) return false;
    const now = this.#runtime.clock.now();
    for (let scope = this.#parent; scope !== undefined; scope = scope.#parent) {
      if (scope.#cancelCalled) return true;
      if (scope.#deadline <= now && scope.#state === ACTIVE) {
        scope.#expire();
        return true;
      }
      if (scope.#shield) return false;
    }
    return false;
  }

  #enter(parent: CancelScope): void {
    if (this.#state !== IDLE) throw new Error("Cannot enter cancel scope: it was already entered");
    this.#state = ACTIVE;
    this.#parent = parent;
    this.#calmEpoch = -1;
    this.#runtime = parent.#runtime;
    (parent.#children ??= new Set()).add(this);
    if (this.#timeout !== undefined) {
      this.#deadline = Math.min(this.#deadline, this.#runtime.clock.now() + this.#timeout);
    }
    if (this.#cancelCalled) this.#runtime.scopeCancelled(this.#reason);
    else this.#armDeadline();
    const external = this.#external;
    if (external !== undefined) {
      if (external.aborted) this.cancel(external.reason);
      else {
        this.#onExternalAbort = () => this.cancel(external.reason);
        external.addEventListener("abort", this.#onExternalAbort, { once: true });
      }
    }
    if (this.#controller !== undefined && !this.#controller.signal.aborted && this.cancelled) {
      this.#controller.abort(this.#makeError());
    }
  }

  #exit(): void {
    this.#state = EXITED;
    this.#parent!.#children!.delete(this);
    this.#disarmDeadline();
    if (this.#onExternalAbort !== undefined) {
      this.#external!.removeEventListener("abort", this.#onExternalAbort);
      this.#onExternalAbort = undefined;
    }
  }

  #armDeadline(): void {
    this.#disarmDeadline();
    if (this.#cancelCalled || this.#deadline === Infinity) return;
    if (this.#deadline <= this.#runtime.clock.now()) {
      this.#expire();
      return;
    }
    const fire = () => this.#expire();
    this.#deadlineEntry = this.#runtime.armDeadline(this.#deadline, fire);
    this.#timer = this.#runtime.clock.setTimer(this.#deadline, fire);
  }

  /** The deadline passed: cancel with it as the reason, and count it. */
  #expire(): void {
    if (this.#cancelCalled) return;
    this.#runtime.deadlineExpired(this.#runtime.clock.now() - this.#deadline);
    this.cancel(new DeadlineExceeded(this.#deadline));
  }

  #disarmDeadline(): void {
    if (this.#deadlineEntry !== undefined) {
      this.#runtime.disarmDeadline(this.#deadlineEntry);
      this.#deadlineEntry = undefined;
    }
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Wakes every waiter in this scope and, up to shields, in the scopes inside it. */
  #deliver(error: CancelledError): void {
    if (this.#controller !== undefined && !this.#controller.signal.aborted) {
      this.#controller.abort(error);
    }
    if (this.#waiters !== undefined) {
      for (const waiter of [...this.#waiters]) waiter.cancel(error);
    }
    if (this.#children !== undefined) {
      for (const child of this.#children) if (!child.#shield) child.#deliver(error);
    }
  }

  /** The error a checkpoint here throws: the reason of the cancelled scope. */
  #makeError(): CancelledError {
    const cancelled = CancelScope.#cancelledScope(this);
    return new CancelledError(cancelled === undefined ? undefined : cancelled.#reason);
  }

  static {
    isActive = (scope) => scope.#state === ACTIVE;
    internals = {
      root(runtime) {
        const scope = new CancelScope({ name: "root" });
        scope.#runtime = runtime;
        scope.#state = ACTIVE;
        return scope;
      },
      enter: (scope, parent) => scope.#enter(parent),
      exit: (scope) => scope.#exit(),
      reparent(scope, parent) {
        scope.#parent!.#children!.delete(scope);
        scope.#parent = parent;
        cancelEpoch++;
        (parent.#children ??= new Set()).add(scope);
        if (!scope.#shield && parent.cancelled) scope.#deliver(parent.#makeError());
      },
      catches: (scope, error) => scope.#catches(error),
      setCaught: (scope) => {
        scope.#cancelledCaught = true;
      },
      runtime: (scope) => scope.#runtime,
      error: (scope) => scope.#makeError(),
      runIn: (scope, fn) => storage.run(scope, fn),
      addWaiter: (scope, waiter) => (scope.#waiters ??= new Set()).add(waiter),
      removeWaiter: (scope, waiter) => scope.#waiters!.delete(waiter),
      active: isActive,
      parent: (scope) => scope.#parent,
    };
  }
}

/**
 * The reason a scope records when its deadline passes: the `cause` of the
 * {@linkcode CancelledError} its code sees.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelScope, DeadlineExceeded, sleepForever } from "@ipfs-kit/kit/runtime";
 *
 * let cause: unknown;
 * await new CancelScope({ timeout: 1 }).run(async () => {
 *   try {
 *     await sleepForever();
 *   } catch (error) {
 *     cause = (error as Error).cause;
 *     throw error;
 *   }
 * });
 * assert(cause instanceof DeadlineExceeded);
 * ```
 */
export class DeadlineExceeded extends Error {
  /**
   * Creates the reason.
   *
   * @param deadline The deadline that passed, on the runtime clock.
   */
  constructor(readonly deadline: number) {
    super(`Deadline exceeded: ${deadline.toFixed(3)} ms`);
    this.name = "DeadlineExceeded";
  }
}

/** What a scope holds of a blocked task: a way to cancel it (see `park.ts`). */
export interface CancellableWaiter {
  cancel(error: CancelledError): void;
}

interface Internals {
  root(runtime: Runtime): CancelScope;
  enter(scope: CancelScope, parent: CancelScope): void;
  exit(scope: CancelScope): void;
  reparent(scope: CancelScope, parent: CancelScope): void;
  catches(scope: CancelScope, error: unknown): boolean;
  setCaught(scope: CancelScope): void;
  runtime(scope: CancelScope): Runtime;
  error(scope: CancelScope): CancelledError;
  runIn<R>(scope: CancelScope, fn: () => R): R;
  addWaiter(scope: CancelScope, waiter: CancellableWaiter): void;
  removeWaiter(scope: CancelScope, waiter: CancellableWaiter): void;
  active(scope: CancelScope): boolean;
  parent(scope: CancelScope): CancelScope | undefined;
}

const defaultRoot = internals!.root(defaultRuntime);

/** The innermost live scope of the running code. */
export function currentScope(): CancelScope {
  const stored = storage.getStore();
  if (stored !== undefined && isActive(stored)) return stored;
  let scope = stored ?? defaultRoot;
  // Code that outlives its scope (a promise nobody awaited) runs in the nearest live one.
  while (!isActive(scope)) scope = internals.parent(scope) ?? defaultRoot;
  return scope;
}

/** The runtime of the running code. */
export function currentRuntime(): Runtime {
  return internals.runtime(currentScope());
}

function checkTime(what: string, value: number, allowInfinity: boolean): number {
  if (
    typeof value !== "number" || Number.isNaN(value) || (!allowInfinity && !Number.isFinite(value))
  ) {
    throw new TypeError(`Cannot create cancel scope: ${what} must be a number: received ${value}`);
  }
  return value;
}
