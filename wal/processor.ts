/**
 * Processing of the write-ahead log's operations: an
 * {@linkcode OperationProcessor} runs one handler per operation type
 * against a content store in a runtime task group, with bounded
 * concurrency, retries with exponential backoff and jitter, and a
 * {@linkcode HealthMonitor} that pauses processing while the backend is
 * offline and resumes it when the backend returns.
 *
 * ## Errors
 * A handler's error is sorted by two predicates:
 * - `isUnavailable` (default {@linkcode isUnavailableError}): the backend
 *   could not be reached. The attempt does not count; the operation waits
 *   (`retrying`), and the health monitor hears of it.
 * - `isRetriable` (default {@linkcode isRetriableError}): worth another try.
 *   The operation is retried after `backoffDelay(attempt)` until its
 *   attempts are spent, then `failed`. Other errors fail it at once.
 *
 * ## Replay
 * An operation interrupted by a crash runs again after the restart, so
 * handlers must be idempotent: the built-in ones are (adding or pinning the
 * same content gives the same CID; unpinning what is not pinned succeeds).
 *
 * @example Custom handlers
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { type HandlerContext, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using node = await EmbeddedNode.open({ repo: `${dir}/repo` });
 * await using wal = await WriteAheadLog.open(`${dir}/wal`);
 * const { id } = await wal.submit("greet", { name: "world" });
 * await wal.process({
 *   store: node,
 *   handlers: {
 *     greet: async ({ params, store, signal }: HandlerContext<{ name: string }>) => {
 *       const { cid } = await store.add(`hello ${params.name}`, { signal });
 *       return { cid: cid.toString() };
 *     },
 *   },
 *   untilIdle: true,
 * });
 * assert(wal.get(id)?.state === "completed");
 * ```
 *
 * @module
 */

import { CapacityLimiter } from "../runtime/capacity_limiter.ts";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import { TaskGroupError, TimeoutError } from "../runtime/errors.ts";
import { Event } from "../runtime/event.ts";
import { backoffDelay, type BackoffOptions } from "../runtime/retry.ts";
import { sleep } from "../runtime/sleep.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import type { ContentStore } from "../ipfs/content_store.ts";
import {
  describeError,
  type Entry,
  type Outcome,
  type WalInternals,
  walInternals,
} from "./_internals.ts";
import { WalClosedError, WalDiskFullError } from "./errors.ts";
import type {
  AddOperationParams,
  BlockPutOperationParams,
  BuiltinOperations,
  DagPutOperationParams,
  PinOperationParams,
  UnpinOperationParams,
  WriteAheadLog,
} from "./operation_log.ts";

/** What the processor needs of a content store: the built-in handlers' calls and `health`. */
export type OperationStore =
  & Pick<ContentStore, "add" | "block" | "pin" | "dag">
  & Partial<Pick<ContentStore, "health">>;

/** What a handler receives. */
export interface HandlerContext<P = unknown> {
  /** The operation's id. */
  id: string;
  /** Its type. */
  type: string;
  /** Its parameters, as submitted (byte arrays are views of the stored copy: do not modify them). */
  params: P;
  /** This attempt's number, from 1. */
  attempt: number;
  /** The content store. */
  store: OperationStore;
  /** Aborts when the attempt is to stop: cancelled, timed out, or the processor stops. */
  signal: AbortSignal;
}

/**
 * Applies one operation; what it returns (JSON values, `Uint8Array`s, CIDs,
 * up to 1 MiB encoded) becomes the operation's `result`. It must be
 * idempotent: after a crash it may run again for an operation it applied.
 */
export type OperationHandler<P = unknown> = (
  context: HandlerContext<P>,
) => unknown | Promise<unknown>;

/** The backend's health: `degraded` after a failed check, `offline` after `offlineAfter` in a row. */
export type HealthState = "online" | "degraded" | "offline";

/** What a probe may return: `false` or `{ ok: false }` is a failed check, so is a throw. */
export type ProbeResult = boolean | void | { ok: boolean; reason?: string };

/** Options for {@linkcode HealthMonitor}. */
export interface HealthMonitorOptions {
  /** Checks the backend once. It gets a signal that aborts at `timeoutMs`. */
  probe: (signal: AbortSignal) => ProbeResult | Promise<ProbeResult>;
  /** Time between checks, in ms of the runtime clock. Default 5000. */
  intervalMs?: number;
  /** Consecutive failed checks before the backend counts as offline. Default 3. */
  offlineAfter?: number;
  /** How long a probe may take, in ms. Default `intervalMs`. */
  timeoutMs?: number;
  /** Called on every change of state. */
  onChange?: (state: HealthState, previous: HealthState) => void;
  /** Called after every check (probe or reported), with whether it passed and changed the state. */
  onCheck?: (ok: boolean, changed: boolean) => void;
}

/**
 * Tracks a backend's health from periodic probes and reported failures:
 * `online`, `degraded` after one failure, `offline` after `offlineAfter`
 * consecutive failures; one success makes it `online` again.
 * {@linkcode HealthMonitor.waitUntilAvailable} blocks while it is offline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HealthMonitor } from "@ipfs-kit/kit/wal";
 *
 * let up = false;
 * const monitor = new HealthMonitor({ probe: () => up, offlineAfter: 2 });
 * await monitor.check();
 * assert.equal(monitor.state, "degraded");
 * await monitor.check();
 * assert.equal(monitor.state, "offline");
 * up = true;
 * await monitor.check();
 * assert.equal(monitor.state, "online");
 * ```
 */
export class HealthMonitor {
  readonly #probe: HealthMonitorOptions["probe"];
  readonly #intervalMs: number;
  readonly #offlineAfter: number;
  readonly #timeoutMs: number;
  readonly #onChange: HealthMonitorOptions["onChange"];
  readonly #onCheck: HealthMonitorOptions["onCheck"];
  #state: HealthState = "online";
  #failures = 0;
  #lastError: string | undefined;
  #online: Event | undefined;

  /**
   * Creates a monitor, `online` until a check fails.
   *
   * @param options The probe, the interval, the offline threshold, callbacks.
   * @throws {TypeError} `probe` is not a function.
   * @throws {RangeError} A number is out of range.
   */
  constructor(options: HealthMonitorOptions) {
    if (typeof options?.probe !== "function") {
      throw new TypeError(
        `Cannot create health monitor: probe must be a function: received ${typeof options
          ?.probe}`,
      );
    }
    this.#probe = options.probe;
    this.#intervalMs = positive("intervalMs", options.intervalMs, 5000, "health monitor");
    this.#offlineAfter = positive("offlineAfter", options.offlineAfter, 3, "health monitor");
    this.#timeoutMs = positive("timeoutMs", options.timeoutMs, this.#intervalMs, "health monitor");
    this.#onChange = options.onChange;
    this.#onCheck = options.onCheck;
  }

  /** The current state. */
  get state(): HealthState {
    return this.#state;
  }

  /** Failed checks in a row. */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Why the last failed check failed. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /**
   * Probes the backend once (with the timeout) and records the result.
   *
   * @returns The state after the check.
   */
  async check(): Promise<HealthState> {
    let ok = false;
    let reason: string | undefined;
    try {
      const scope = new CancelScope({ timeout: this.#timeoutMs });
      const result = await scope.run((inner) => this.#probe(inner.signal));
      if (scope.cancelledCaught) reason = `the probe timed out after ${this.#timeoutMs} ms`;
      else if (result === false) reason = "the probe returned false";
      else if (result !== null && typeof result === "object" && result.ok === false) {
        reason = result.reason ?? "the probe reported not ok";
      } else ok = true;
    } catch (error) {
      if (CancelScope.current().cancelled) throw error;
      reason = describeError(error);
    }
    if (ok) this.reportSuccess();
    else this.reportFailure(reason);
    return this.#state;
  }

  /** Records a success (a probe, or a call to the backend that got an answer): `online`. */
  reportSuccess(): void {
    this.#failures = 0;
    this.#set("online", true);
  }

  /**
   * Records a failure (a probe, or a call that could not reach the backend).
   *
   * @param reason Why, for {@linkcode HealthMonitor.lastError}.
   */
  reportFailure(reason?: unknown): void {
    this.#failures++;
    this.#lastError = typeof reason === "string" ? reason : describeError(reason);
    this.#set(this.#failures >= this.#offlineAfter ? "offline" : "degraded", false);
  }

  /**
   * Checks every `intervalMs` until cancelled.
   *
   * @returns Never; it is cancelled.
   */
  async run(): Promise<never> {
    for (;;) {
      await this.check();
      await sleep(this.#intervalMs);
    }
  }

  /**
   * Returns at once unless the backend is offline; then waits until a check
   * passes. A checkpoint; cancellable.
   *
   * @returns A promise that settles once the backend is not offline.
   */
  async waitUntilAvailable(): Promise<void> {
    while (this.#state === "offline") await (this.#online ??= new Event()).wait();
  }

  #set(state: HealthState, ok: boolean): void {
    const previous = this.#state;
    this.#state = state;
    const changed = previous !== state;
    this.#onCheck?.(ok, changed);
    if (!changed) return;
    if (previous === "offline") {
      const online = this.#online;
      this.#online = undefined;
      online?.set();
    }
    this.#onChange?.(state, previous);
  }
}

/** Options for {@linkcode OperationProcessor} and {@linkcode WriteAheadLog.process}. */
export interface ProcessOptions {
  /** The content store the handlers apply operations to. */
  store: OperationStore;
  /**
   * Handlers by operation type, on top of the built-in ones (`add`, `pin`,
   * `unpin`, `blockPut`, `dagPut`; a handler here replaces a built-in one of
   * the same name). Operations of a type without a handler stay pending.
   */
  handlers?: Record<string, OperationHandler<never>>;
  /** Include the built-in handlers. Default `true`. */
  builtinHandlers?: boolean;
  /** How many operations run at once. Default 4. */
  concurrency?: number;
  /** Backoff between attempts (and while the backend is unreachable). Default base 500 ms, cap 60 s, full jitter. */
  backoff?: BackoffOptions;
  /** Whether an error is worth another attempt. Default {@linkcode isRetriableError}. */
  isRetriable?: (error: unknown) => boolean;
  /** Whether an error means the backend could not be reached. Default {@linkcode isUnavailableError}. */
  isUnavailable?: (error: unknown) => boolean;
  /** Stop an attempt after this many ms (it then counts as a retriable failure). Default: no limit. */
  attemptTimeoutMs?: number;
  /**
   * The health monitor: its options (the probe defaults to `store.health()`,
   * or a `block.has` call for a store without it), or `false` for none.
   */
  health?: Partial<HealthMonitorOptions> | false;
  /** Write checkpoints as they fall due (see `checkpointBytes`). Default `true`. */
  autoCheckpoint?: boolean;
  /** Return once no operation of a handled type is left to run (none pending, retrying or processing). */
  untilIdle?: boolean;
  /** Stops the processor; `run()` then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A CID every store can answer `has` for: the empty raw block. */
const PROBE_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const DEFAULT_BACKOFF: BackoffOptions = { baseDelayMs: 500, maxDelayMs: 60_000, jitter: "full" };
/** The unreachable streak's cap on the backoff exponent. */
const MAX_STREAK = 20;

/**
 * Runs a {@linkcode WriteAheadLog}'s operations. `run()` works inside a
 * task group of its own: a dispatcher takes ready operations (pending ones,
 * and retrying ones whose time came) in submission order, round robin
 * between types, and runs each handler as a task under a
 * `CapacityLimiter`; beside it run the health monitor and the checkpoint
 * writer. While the monitor says `offline`, nothing new starts.
 *
 * Stopping: cancel the scope around `run()` (or abort `signal`). Running
 * attempts are cancelled and their operations go back to `pending` (an
 * attempt that finished meanwhile is still recorded). Closing the log stops
 * the processor too (then `run()` returns).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode } from "@ipfs-kit/kit/ipfs";
 * import { taskGroup } from "@ipfs-kit/kit/runtime";
 * import { OperationProcessor, WriteAheadLog } from "@ipfs-kit/kit/wal";
 *
 * const dir = await Deno.makeTempDir();
 * await using node = await EmbeddedNode.open({ repo: `${dir}/repo` });
 * await using wal = await WriteAheadLog.open(`${dir}/wal`);
 * const processor = new OperationProcessor(wal, { store: node, concurrency: 8 });
 * await taskGroup(async (tg) => {
 *   tg.spawn(() => processor.run());
 *   const { id } = await wal.submit("add", { content: "hi" });
 *   const op = await wal.wait(id);
 *   assert(op.state === "completed" && processor.health === "online");
 *   tg.cancelScope.cancel(); // stops the processor
 * });
 * ```
 */
export class OperationProcessor {
  readonly #wal: WriteAheadLog;
  readonly #store: OperationStore;
  readonly #handlers: Map<string, OperationHandler<never>>;
  readonly #types: ReadonlySet<string>;
  readonly #concurrency: number;
  readonly #backoff: BackoffOptions;
  readonly #isRetriable: (error: unknown) => boolean;
  readonly #isUnavailable: (error: unknown) => boolean;
  readonly #attemptTimeoutMs: number | undefined;
  readonly #healthOptions: Partial<HealthMonitorOptions> | false;
  readonly #autoCheckpoint: boolean;
  readonly #untilIdle: boolean;
  readonly #signal: AbortSignal | undefined;
  #monitor: HealthMonitor | undefined;
  #running = 0;
  #started = false;
  #active = false;
  #unavailableStreak = 0;

  /**
   * Creates a processor for `wal`; `run()` starts it.
   *
   * @param wal The log.
   * @param options The store, handlers and settings.
   * @throws {TypeError} The store or a handler is missing or of the wrong type.
   * @throws {RangeError} A number is out of range.
   */
  constructor(wal: WriteAheadLog, options: ProcessOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        `Cannot create processor: options must be an object: received ${options}`,
      );
    }
    const store = options.store;
    if (store === null || typeof store !== "object") {
      throw new TypeError(
        `Cannot create processor: store must be a content store: received ${typeof store}`,
      );
    }
    this.#wal = wal;
    this.#store = store;
    this.#handlers = new Map(
      options.builtinHandlers === false
        ? []
        : Object.entries(builtinHandlers as Record<string, OperationHandler<never>>),
    );
    for (const [type, handler] of Object.entries(options.handlers ?? {})) {
      if (typeof handler !== "function") {
        throw new TypeError(
          `Cannot create processor: the handler for "${type}" must be a function: received ${typeof handler}`,
        );
      }
      this.#handlers.set(type, handler);
    }
    this.#types = new Set(this.#handlers.keys());
    this.#concurrency = positive("concurrency", options.concurrency, 4, "processor");
    if (!Number.isSafeInteger(this.#concurrency)) {
      throw new RangeError(
        `Cannot create processor: concurrency must be an integer: received ${this.#concurrency}`,
      );
    }
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    backoffDelay(1, this.#backoff); // validates
    this.#isRetriable = options.isRetriable ?? isRetriableError;
    this.#isUnavailable = options.isUnavailable ?? isUnavailableError;
    this.#attemptTimeoutMs = options.attemptTimeoutMs === undefined
      ? undefined
      : positive("attemptTimeoutMs", options.attemptTimeoutMs, 0, "processor");
    this.#healthOptions = options.health ?? {};
    this.#autoCheckpoint = options.autoCheckpoint ?? true;
    this.#untilIdle = options.untilIdle ?? false;
    this.#signal = options.signal;
  }

  /** The backend's health while `run()` runs with a monitor; `undefined` otherwise. */
  get health(): HealthState | undefined {
    return this.#active ? this.#monitor?.state : undefined;
  }

  /** The health monitor, once `run()` started (unless `health: false`). */
  get monitor(): HealthMonitor | undefined {
    return this.#monitor;
  }

  /** Operations running right now. */
  get running(): number {
    return this.#running;
  }

  /** The operation types this processor has handlers for. */
  get types(): string[] {
    return [...this.#types];
  }

  /**
   * Processes operations until cancelled, until `signal` aborts (then it
   * rejects with the signal's reason), until the log closes, or with
   * `untilIdle` until nothing is left to run. Runs once.
   *
   * @returns A promise that settles when processing stops.
   * @throws {WalFailedError} The log failed; processing cannot go on.
   */
  async run(): Promise<void> {
    if (this.#started) throw new Error("Cannot run processor: it was started already");
    this.#started = true;
    const internals = walInternals.get(this.#wal);
    if (internals === undefined) {
      throw new WalClosedError("Cannot process operations: the log is closed");
    }
    const signal = this.#signal;
    if (signal?.aborted) throw signal.reason;
    const scope = new CancelScope({ signal, name: "wal processor" });
    if (this.#healthOptions !== false) this.#monitor = this.#makeMonitor(internals);
    internals.attach(scope, () => this.health);
    this.#active = true;
    try {
      await scope.run(() => taskGroup((tg) => this.#dispatch(internals, tg)));
    } catch (error) {
      if (error instanceof TaskGroupError && error.errors.length === 1) throw error.errors[0];
      throw error;
    } finally {
      this.#active = false;
      internals.detach();
    }
    if (scope.cancelledCaught && signal?.aborted) throw signal.reason;
  }

  #makeMonitor(internals: WalInternals): HealthMonitor {
    const options = this.#healthOptions || {};
    const store = this.#store;
    const probe = options.probe ??
      (typeof store.health === "function"
        ? async (signal: AbortSignal) => await store.health!({ signal })
        : async (signal: AbortSignal) => {
          await store.block.has(PROBE_CID, { signal });
        });
    return new HealthMonitor({
      ...options,
      probe,
      onCheck: (ok, changed) => {
        internals.telemetry.recordHealthCheck(ok, changed);
        options.onCheck?.(ok, changed);
      },
      onChange: (state, previous) => {
        if (state === "online") {
          // Back: what waited for the backend runs now, not after its backoff.
          this.#unavailableStreak = 0;
          internals.resume();
        }
        options.onChange?.(state, previous);
      },
    });
  }

  async #dispatch(
    internals: WalInternals,
    tg: { spawn(fn: () => unknown): void; cancelScope: CancelScope },
  ): Promise<void> {
    const monitor = this.#monitor;
    if (monitor !== undefined) tg.spawn(() => monitor.run());
    if (this.#autoCheckpoint) tg.spawn(() => this.#checkpoints(internals));
    const limiter = new CapacityLimiter(this.#concurrency);
    const types = this.#types;
    for (;;) {
      if (this.#untilIdle && !internals.busy(types)) break;
      if (monitor !== undefined) await monitor.waitUntilAvailable();
      const permit = await limiter.acquire();
      if (monitor !== undefined && monitor.state === "offline") {
        // Went offline while this waited for a slot.
        permit.release();
        continue;
      }
      const changed = internals.changed();
      const entry = internals.takeReady(types);
      if (entry === undefined) {
        permit.release();
        if (this.#untilIdle && !internals.busy(types)) break;
        const due = internals.nextDue();
        if (due === undefined) await changed.wait();
        else {
          const delay = due - internals.now();
          if (delay > 0) await moveOnAfter(delay, () => changed.wait());
        }
        continue;
      }
      this.#running++;
      tg.spawn(async () => {
        try {
          await this.#attempt(internals, entry);
        } finally {
          this.#running--;
          permit.release();
        }
      });
    }
    // Idle: stop the monitor and the checkpoint writer.
    tg.cancelScope.cancel();
  }

  /** Runs one attempt of `entry` and records its outcome. */
  async #attempt(internals: WalInternals, entry: Entry): Promise<void> {
    let attempt: number | undefined;
    try {
      attempt = await internals.begin(entry);
    } catch (error) {
      internals.release(entry);
      throw error;
    }
    if (attempt === undefined) return;
    if (entry.cancelRequested) {
      await this.#settle(internals, entry, { state: "cancelled", error: undefined });
      return;
    }
    const handler = this.#handlers.get(entry.type)!;
    const scope = new CancelScope(
      this.#attemptTimeoutMs === undefined ? {} : { timeout: this.#attemptTimeoutMs },
    );
    entry.abort = (reason) => scope.cancel(reason);
    const started = internals.now();
    let ok = false;
    let value: unknown;
    let failure: unknown;
    try {
      value = await scope.run((inner) =>
        handler({
          id: entry.id,
          type: entry.type,
          params: entry.params as never,
          attempt: attempt!,
          store: this.#store,
          signal: inner.signal,
        })
      );
      if (scope.cancelledCaught) {
        failure = entry.cancelRequested ? new Error("Operation cancelled") : new TimeoutError(
          `Cannot apply operation: attempt timed out after ${this.#attemptTimeoutMs} ms`,
        );
      } else ok = true;
    } catch (error) {
      if (CancelScope.current().cancelled) {
        // The processor stops: the operation runs again next time.
        entry.abort = undefined;
        internals.release(entry);
        checkpointIfCancelled(); // throws the cancellation, whatever the handler threw
        throw error;
      }
      failure = error;
    } finally {
      entry.abort = undefined;
    }
    internals.telemetry.recordHandler(entry.type, (internals.now() - started) / 1000);
    await this.#settle(
      internals,
      entry,
      this.#outcome(internals, entry, attempt, ok, value, failure),
    );
  }

  #outcome(
    internals: WalInternals,
    entry: Entry,
    attempt: number,
    ok: boolean,
    value: unknown,
    failure: unknown,
  ): Outcome {
    const monitor = this.#monitor;
    if (ok) {
      this.#unavailableStreak = 0;
      monitor?.reportSuccess();
      return { state: "completed", result: value };
    }
    const error = describeError(failure);
    if (entry.cancelRequested) return { state: "cancelled", error };
    if (this.#isUnavailable(failure)) {
      monitor?.reportFailure(failure);
      const streak = this.#unavailableStreak = Math.min(MAX_STREAK, this.#unavailableStreak + 1);
      return {
        state: "retrying",
        error,
        attempts: attempt - 1,
        nextRetryAt: internals.now() + backoffDelay(streak, this.#backoff),
        unavailable: true,
      };
    }
    // The backend answered: it is reachable.
    this.#unavailableStreak = 0;
    monitor?.reportSuccess();
    if (attempt >= entry.maxAttempts || !this.#isRetriable(failure)) {
      return { state: "failed", error };
    }
    return {
      state: "retrying",
      error,
      attempts: attempt,
      nextRetryAt: internals.now() + backoffDelay(attempt, this.#backoff),
      unavailable: false,
    };
  }

  /** Records an outcome, shielded: a finished attempt is recorded even while stopping. */
  async #settle(internals: WalInternals, entry: Entry, outcome: Outcome): Promise<void> {
    try {
      await new CancelScope({ shield: true }).run(() => internals.settle(entry, outcome));
    } catch (error) {
      // Closed meanwhile: the attempt runs again after the next open.
      if (!(error instanceof WalClosedError)) throw error;
    }
  }

  /** Writes checkpoints as they fall due. */
  async #checkpoints(internals: WalInternals): Promise<void> {
    let failures = 0;
    for (;;) {
      if (!internals.checkpointDue()) await internals.checkpointWanted().wait();
      try {
        await this.#wal.checkpoint();
        failures = 0;
      } catch (error) {
        if (error instanceof WalClosedError) return;
        if (!(error instanceof WalDiskFullError)) throw error;
        failures++;
        await sleep(backoffDelay(Math.min(failures, MAX_STREAK), this.#backoff));
      }
    }
  }
}

/**
 * The built-in handlers, by operation type. Results hold CIDs as strings.
 *
 * - `add` ({@linkcode AddOperationParams}): `store.add`; `{ cid, size }`.
 * - `pin` ({@linkcode PinOperationParams}): `store.pin.add`; `{ cid }`.
 * - `unpin` ({@linkcode UnpinOperationParams}): `store.pin.rm`; `{ cid, unpinned }`,
 *   `unpinned: false` when it was not pinned (so a replay succeeds too).
 * - `blockPut` ({@linkcode BlockPutOperationParams}): `store.block.put`; `{ cid, size }`.
 * - `dagPut` ({@linkcode DagPutOperationParams}): `store.dag.put`; `{ cid }`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { builtinHandlers } from "@ipfs-kit/kit/wal";
 *
 * assert.equal(Object.keys(builtinHandlers).join(), "add,pin,unpin,blockPut,dagPut");
 * ```
 */
export const builtinHandlers: {
  readonly [K in keyof BuiltinOperations]: OperationHandler<BuiltinOperations[K]>;
} = Object.freeze({
  add: async ({ params, store, signal }: HandlerContext<AddOperationParams>) => {
    const content = params?.content;
    if (!(content instanceof Uint8Array) && typeof content !== "string") {
      throw new TypeError(
        `Cannot add: content must be a Uint8Array or a string: received ${typeof content}`,
      );
    }
    const { cid, size } = await store.add(content, {
      cidVersion: params.cidVersion,
      rawLeaves: params.rawLeaves,
      chunkSize: params.chunkSize,
      pin: params.pin,
      signal,
    });
    return { cid: cid.toString(), size };
  },
  pin: async ({ params, store, signal }: HandlerContext<PinOperationParams>) => {
    const cid = await store.pin.add(checkCid(params, "pin"), {
      recursive: params.recursive,
      signal,
    });
    return { cid: cid.toString() };
  },
  unpin: async ({ params, store, signal }: HandlerContext<UnpinOperationParams>) => {
    const path = checkCid(params, "unpin");
    try {
      const cid = await store.pin.rm(path, { recursive: params.recursive, signal });
      return { cid: cid.toString(), unpinned: true };
    } catch (error) {
      if ((error as Error)?.name !== "NotFoundError") throw error;
      return { cid: path, unpinned: false };
    }
  },
  blockPut: async ({ params, store, signal }: HandlerContext<BlockPutOperationParams>) => {
    const bytes = params?.bytes;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`Cannot put block: bytes must be a Uint8Array: received ${typeof bytes}`);
    }
    const cid = await store.block.put(bytes, {
      codec: params.codec,
      cidVersion: params.cidVersion,
      pin: params.pin,
      signal,
    });
    return { cid: cid.toString(), size: bytes.length };
  },
  dagPut: async ({ params, store, signal }: HandlerContext<DagPutOperationParams>) => {
    if (params === null || typeof params !== "object" || !("value" in params)) {
      throw new TypeError("Cannot put DAG node: params must hold a value");
    }
    const cid = await store.dag.put(params.value, {
      storeCodec: params.storeCodec,
      inputCodec: params.inputCodec,
      pin: params.pin,
      signal,
    });
    return { cid: cid.toString() };
  },
});

const UNAVAILABLE_NAMES: ReadonlySet<string> = new Set([
  "UnavailableError",
  "BackendUnavailableError",
  "UnreachableError",
  "ConnectionRefused",
  "ConnectionReset",
  "ConnectionAborted",
  "NotConnected",
  "BrokenPipe",
  "ClosedResourceError",
]);

const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ENOTCONN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
]);

/**
 * The default `isUnavailable`: whether an error (or an error in its `cause`
 * chain) says the backend could not be reached: a refused, reset or broken
 * connection (`Deno.errors.ConnectionRefused` and kin, `ECONNREFUSED` and
 * kin, `TypeError: fetch failed`), a closed store (`ClosedResourceError`),
 * or an error named `UnavailableError`, `BackendUnavailableError` or
 * `UnreachableError`.
 *
 * @param error What a handler threw.
 * @returns Whether the backend was unreachable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isUnavailableError } from "@ipfs-kit/kit/wal";
 *
 * assert(isUnavailableError(new Deno.errors.ConnectionRefused("refused")));
 * assert(!isUnavailableError(new TypeError("bad input")));
 * ```
 */
export function isUnavailableError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === "object" && depth < 8; depth++) {
    const { name, code, message } = e as { name?: unknown; code?: unknown; message?: unknown };
    if (typeof name === "string" && UNAVAILABLE_NAMES.has(name)) return true;
    if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
    if (
      name === "TypeError" && typeof message === "string" &&
      /^fetch failed|error sending request/i.test(message)
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

const PERMANENT_NAMES: ReadonlySet<string> = new Set(["PinnedError", "NotSupportedError"]);

/**
 * The default `isRetriable`: every error except invalid input (`TypeError`
 * and its subclasses such as `InvalidInputError` and `InvalidCidError`,
 * `RangeError`, `SyntaxError`) and errors that will not go away
 * (`PinnedError`, `NotSupportedError`).
 *
 * @param error What a handler threw.
 * @returns Whether another attempt may succeed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRetriableError } from "@ipfs-kit/kit/wal";
 *
 * assert(isRetriableError(new Error("flaky")));
 * assert(!isRetriableError(new RangeError("block too big")));
 * ```
 */
export function isRetriableError(error: unknown): boolean {
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) {
    return false;
  }
  const name = (error as { name?: unknown } | null)?.name;
  return !(typeof name === "string" && PERMANENT_NAMES.has(name));
}

function checkCid(params: { cid?: unknown } | undefined, what: string): string {
  const cid = params?.cid;
  if (typeof cid !== "string" || cid === "") {
    throw new TypeError(`Cannot ${what}: cid must be a non-empty string: received ${typeof cid}`);
  }
  return cid;
}

function positive(name: string, value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) {
    throw new RangeError(`Cannot create ${what}: ${name} must be a number > 0: received ${value}`);
  }
  return value;
}
