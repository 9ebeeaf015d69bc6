/**
 * Task groups: structured concurrency, the analogue of Trio's nurseries and
 * AnyIO's task groups.
 *
 * @module
 */

// deno-lint-ignore-file ipfs-kit/no-floating-promise
// A strategy or task group is what owns these promises: it implements the primitive.

import { CancelScope, currentScope, internals } from "./cancel_scope.ts";
import { isCancellationError } from "./errors.ts";
import { CancelledError, TaskGroupError } from "./errors.ts";
import type { Runtime } from "./_runtime.ts";

let runBody: <T>(tg: TaskGroup, body: (tg: TaskGroup) => T | Promise<T>) => Promise<T | undefined>;

/** Options for a spawned or started task. */
export interface TaskOptions {
  /** A name, passed to instrumentation hooks. */
  name?: string;
}

/**
 * Handed to a task started with {@linkcode TaskGroup.start}: it calls
 * `started(value)` once it is ready, and `start()` returns `value`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type TaskStatus, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * async function listen(status: TaskStatus<number>): Promise<void> {
 *   status.started(8080);
 * }
 * await taskGroup(async (tg) => {
 *   assert.equal(await tg.start(listen), 8080);
 * });
 * ```
 */
export interface TaskStatus<T> {
  /** Signals readiness; call it exactly once. */
  started(value: T): void;
}

/**
 * A set of tasks that live and die together. The group waits for every
 * child. The first failure cancels the other children and the body; every
 * failure comes out together in one {@linkcode TaskGroupError}. Cancellation
 * itself is never reported as a failure.
 *
 * Two forms:
 * - {@linkcode taskGroup}`(async (tg) => { ... })`: the body runs inside the
 *   group's cancel scope, so a failing child cancels the body too. Prefer it.
 * - `await using tg = new TaskGroup()`: the group joins its children when the
 *   block ends. JavaScript does not tell a disposer that the block threw, so
 *   the body stays in the enclosing scope: a failing child cancels the other
 *   children but not the body, and a throwing body does not cancel children
 *   (call `tg.cancelScope.cancel()` in a `catch` to do so).
 *
 * @example Callback form
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep, taskGroup } from "@ipfs-kit/kit/runtime";
 *
 * const done: number[] = [];
 * await taskGroup((tg) => {
 *   for (const ms of [3, 1, 2]) tg.spawn(async () => { await sleep(ms); done.push(ms); });
 * });
 * assert.equal(done.length, 3);
 * ```
 *
 * @example `await using` form
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep, TaskGroup } from "@ipfs-kit/kit/runtime";
 *
 * let done = false;
 * {
 *   await using tg = new TaskGroup();
 *   tg.spawn(async () => {
 *     await sleep(1);
 *     done = true;
 *   });
 * } // joined here
 * assert(done);
 * ```
 */
export class TaskGroup implements AsyncDisposable {
  #scope: CancelScope;
  #runtime: Runtime;
  #live = 0;
  #closed = false;
  #joining = false;
  #errors: unknown[] = [];
  #joined: PromiseWithResolvers<void> | undefined;
  #pending: Array<() => Promise<unknown> | unknown> = [];
  #flushScheduled = false;
  #onDone: () => void;
  #onError: (error: unknown) => void;

  /**
   * Creates a group in the current cancel scope. Children start running at
   * once; join them with `await using` or {@linkcode TaskGroup.join}.
   */
  constructor() {
    const parent = currentScope();
    this.#scope = new CancelScope({ name: "task group" });
    internals.enter(this.#scope, parent);
    this.#runtime = internals.runtime(this.#scope);
    this.#onDone = () => this.#childDone(undefined);
    this.#onError = (error) => this.#childFailed(error);
  }

  /** The group's cancel scope: cancel it to stop every child. */
  get cancelScope(): CancelScope {
    return this.#scope;
  }

  /** An `AbortSignal` that aborts when the group is cancelled. */
  get signal(): AbortSignal {
    return this.#scope.signal;
  }

  /** How many children are running. */
  get running(): number {
    return this.#live;
  }

  /**
   * Starts `fn` as a child task soon (Trio's `start_soon`).
   *
   * @param fn The task; its promise's rejection is the task's failure.
   * @param options A name for instrumentation.
   */
  spawn(fn: () => Promise<unknown> | unknown, options?: TaskOptions): void {
    if (this.#closed) throw new Error("Cannot spawn task: task group is closed");
    if (typeof fn !== "function") {
      throw new TypeError(`Cannot spawn task: expected a function: received ${typeof fn}`);
    }
    this.#live++;
    this.#runtime.taskSpawned(options?.name);
    this.#pending.push(fn);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      if (this.#runtime.sampleSpawn()) {
        const at = performance.now();
        this.#runtime.strategy.schedule(() => {
          this.#runtime.recordDelay(performance.now() - at);
          this.#flush();
        });
      } else this.#runtime.strategy.schedule(() => this.#flush());
    }
  }

  /** Starts every pending child in one pass inside the group's scope. */
  #flush(): void {
    this.#flushScheduled = false;
    const pending = this.#pending;
    this.#pending = [];
    internals.runIn(this.#scope, () => {
      for (const fn of pending) {
        let result: unknown;
        try {
          result = fn();
        } catch (error) {
          this.#childFailed(error);
          continue;
        }
        if (isPromiseLike(result)) result.then(this.#onDone, this.#onError);
        else this.#childDone(undefined);
      }
    });
  }

  /**
   * Starts `fn` and waits until it calls `status.started(value)`; returns
   * `value`. Until then the child runs under the caller's scope, so
   * cancelling the caller cancels it, and a failure before readiness is
   * thrown here rather than in the group. A child that returns without
   * calling `started()` is an error.
   *
   * @param fn The task; it receives the status to signal readiness with.
   * @param options A name for instrumentation.
   * @returns What the child passed to `started()`.
   */
  start<T = void>(
    fn: (status: TaskStatus<T>) => Promise<unknown> | unknown,
    options?: TaskOptions,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("Cannot start task: task group is closed"));
    // From a cancelled caller the child still starts, and is cancelled at its
    // first checkpoint (as in Trio; AnyIO issue 685).
    const caller = currentScope();
    const taskScope = new CancelScope({ name: options?.name });
    internals.enter(taskScope, caller);
    const ready = Promise.withResolvers<T>();
    let started = false;
    this.#live++;
    this.#runtime.taskSpawned(options?.name);
    const status: TaskStatus<T> = {
      started: (value: T) => {
        if (started) throw new Error("Cannot signal readiness: started() was already called");
        if (!internals.active(taskScope)) {
          throw new Error("Cannot signal readiness: the task has exited");
        }
        started = true;
        internals.reparent(taskScope, this.#scope);
        ready.resolve(value);
      },
    };
    const finish = (error?: unknown, failed = false) => {
      internals.exit(taskScope);
      if (started) {
        if (failed) this.#childFailed(error);
        else this.#childDone(undefined);
        return;
      }
      this.#live--;
      this.#runtime.taskFinished(failed && !isCancellation(error, taskScope) ? error : undefined);
      ready.reject(
        failed ? error : new Error("Cannot start task: it returned without calling started()"),
      );
      this.#maybeJoined();
    };
    this.#runtime.strategy.schedule(() => {
      let result: unknown;
      try {
        result = internals.runIn(taskScope, () => fn(status));
      } catch (error) {
        finish(error, true);
        return;
      }
      Promise.resolve(result).then(() => finish(), (error) => finish(error, true));
    });
    // Returning is a checkpoint, as Trio's: a caller cancelled meanwhile sees its
    // cancellation even when the child started (it runs on in the group).
    return ready.promise.then((value) => {
      if (caller.cancelled) throw internals.error(caller);
      return value;
    });
  }

  #childDone(_: unknown): void {
    this.#live--;
    this.#runtime.taskFinished();
    this.#maybeJoined();
  }

  #childFailed(error: unknown): void {
    this.#live--;
    if (isCancellation(error, this.#scope)) {
      this.#runtime.taskFinished();
    } else {
      this.#runtime.taskFinished(error);
      this.#fail(error);
    }
    this.#maybeJoined();
  }

  #fail(error: unknown): void {
    this.#errors.push(error);
    this.#scope.cancel(error);
  }

  #maybeJoined(): void {
    if (this.#live === 0) this.#joined?.resolve();
  }

  /**
   * Waits for every child, closes the group and throws
   * {@linkcode TaskGroupError} if any failed. `await using` calls it. Like a
   * checkpoint, it throws {@linkcode CancelledError} when the enclosing code
   * is cancelled.
   *
   * @returns A promise that settles when the group is done.
   */
  async join(): Promise<void> {
    await this.#finish();
    if (this.#errors.length > 0) throw new TaskGroupError(this.#errors);
    this.#checkpointParent();
  }

  /** Joins the group: see {@linkcode TaskGroup.join}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.join();
  }

  async #finish(): Promise<void> {
    if (this.#joining) throw new Error("Cannot join task group: it was already joined");
    this.#joining = true;
    // A loop: a child may spawn a sibling between the last exit and this continuation.
    while (this.#live > 0) {
      this.#joined = Promise.withResolvers<void>();
      await this.#joined.promise;
    }
    this.#joined = undefined;
    this.#closed = true;
    internals.exit(this.#scope);
  }

  /**
   * The group's exit is a checkpoint, as in Trio and AnyIO: when the enclosing
   * code is cancelled (the children were cancelled with it), throw, so that the
   * scope that was cancelled sees its cancellation (`failAfter` needs it).
   */
  #checkpointParent(): void {
    const parent = internals.parent(this.#scope)!;
    if (parent.cancelled) throw internals.error(parent);
  }

  static {
    runBody = async <T>(tg: TaskGroup, body: (tg: TaskGroup) => T | Promise<T>) => {
      let result: T | undefined;
      let bodyError: unknown;
      let bodyFailed = false;
      try {
        result = await internals.runIn(tg.#scope, () => body(tg));
      } catch (error) {
        bodyFailed = true;
        bodyError = error;
        if (!isCancellation(error, tg.#scope)) tg.#fail(error);
      }
      await tg.#finish();
      if (tg.#errors.length > 0) throw new TaskGroupError(tg.#errors);
      if (bodyFailed) {
        if (internals.catches(tg.#scope, bodyError)) {
          internals.setCaught(tg.#scope);
          return undefined;
        }
        throw bodyError;
      }
      tg.#checkpointParent();
      return result;
    };
  }
}

/**
 * Runs `body` with a new {@linkcode TaskGroup} and waits for every task it
 * spawns. The body runs inside the group's cancel scope: a failing child
 * cancels it. Returns the body's result, or `undefined` when the group was
 * cancelled (by `tg.cancelScope.cancel()`) before the body finished. The
 * group's exit is a checkpoint: when the enclosing code is cancelled, it
 * throws {@linkcode CancelledError} for the cancelled scope to catch.
 *
 * @param body Spawns the children; it may await too.
 * @returns What the body returned.
 *
 * @example Fan out, fail fast
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleepForever, taskGroup, TaskGroupError } from "@ipfs-kit/kit/runtime";
 *
 * const error = await taskGroup((tg) => {
 *   tg.spawn(() => sleepForever()); // cancelled when its sibling fails
 *   tg.spawn(() => { throw new Error("boom"); });
 * }).catch((e) => e);
 * assert(error instanceof TaskGroupError);
 * ```
 */
export function taskGroup<T>(body: (tg: TaskGroup) => T | Promise<T>): Promise<T | undefined> {
  return runBody(new TaskGroup(), body);
}

/** Cancellation, or an `AbortError` from a Web API whose signal the cancelled scope aborted. */
function isCancellation(error: unknown, scope: CancelScope): boolean {
  return error instanceof CancelledError || (isCancellationError(error) && scope.cancelled);
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as PromiseLike<unknown>).then === "function";
}
