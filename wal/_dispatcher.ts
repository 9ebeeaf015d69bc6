// The work of a processor (see processor.ts for the whole story): a
// dispatcher takes ready operations from a log's table and runs each handler
// as a task under a `CapacityLimiter`, sorts how each attempt ended
// (completed, retried after a backoff, failed, cancelled, or waiting for an
// unreachable backend), and beside it run the health monitor and the writer
// of checkpoints as they fall due. `OperationProcessor` and
// `WriteAheadLog.process` both run one. Private to the WAL.

import { CapacityLimiter } from "../runtime/capacity_limiter.ts";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import { TaskGroupError, TimeoutError } from "../runtime/errors.ts";
import { backoffDelay, type BackoffOptions } from "../runtime/retry.ts";
import { sleep } from "../runtime/sleep.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import type { Entry } from "./_entry.ts";
import { describeError } from "./_error_text.ts";
import type { OperationTable, Outcome } from "./_operation_table.ts";
import { positive } from "./_positive.ts";
import { builtinHandlers } from "./builtin_handlers.ts";
import { WalClosedError, WalDiskFullError } from "./errors.ts";
import { isRetriableError, isUnavailableError } from "./handler_errors.ts";
import { HealthMonitor } from "./health_monitor.ts";
import type {
  HealthMonitorOptions,
  HealthState,
  OperationHandler,
  OperationStore,
  ProcessOptions,
} from "./types.ts";

/** A CID every store can answer `has` for: the empty raw block. */
const PROBE_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const DEFAULT_BACKOFF: BackoffOptions = { baseDelayMs: 500, maxDelayMs: 60_000, jitter: "full" };
/** The unreachable streak's cap on the backoff exponent. */
const MAX_STREAK = 20;

/** A processor's options, state and work; see the file's header. */
export class Dispatcher {
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
   * Checks the options; `run()` starts processing.
   *
   * @throws {TypeError} The store or a handler is missing or of the wrong type.
   * @throws {RangeError} A number is out of range.
   */
  constructor(options: ProcessOptions) {
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
   * Processes the operations of `table` (`undefined`: no open log) until
   * cancelled, until `signal` aborts (then it rejects with the signal's
   * reason), until the log closes, or with `untilIdle` until nothing is left
   * to run. Runs once.
   *
   * @throws {WalFailedError} The log failed; processing cannot go on.
   * @throws {WalClosedError} The log is closed.
   */
  async run(table: OperationTable | undefined): Promise<void> {
    if (this.#started) throw new Error("Cannot run processor: it was started already");
    this.#started = true;
    if (table === undefined || table.closed) {
      throw new WalClosedError("Cannot process operations: the log is closed");
    }
    const signal = this.#signal;
    if (signal?.aborted) throw signal.reason;
    const scope = new CancelScope({ signal, name: "wal processor" });
    if (this.#healthOptions !== false) this.#monitor = this.#makeMonitor(table);
    table.attach(scope, () => this.health);
    this.#active = true;
    try {
      await scope.run(() => taskGroup((tg) => this.#dispatch(table, tg)));
    } catch (error) {
      if (error instanceof TaskGroupError && error.errors.length === 1) throw error.errors[0];
      throw error;
    } finally {
      this.#active = false;
      table.detach();
    }
    if (scope.cancelledCaught && signal?.aborted) throw signal.reason;
  }

  #makeMonitor(table: OperationTable): HealthMonitor {
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
        table.telemetry.recordHealthCheck(ok, changed);
        options.onCheck?.(ok, changed);
      },
      onChange: (state, previous) => {
        if (state === "online") {
          // Back: what waited for the backend runs now, not after its backoff.
          this.#unavailableStreak = 0;
          table.resume();
        }
        options.onChange?.(state, previous);
      },
    });
  }

  async #dispatch(
    table: OperationTable,
    tg: { spawn(fn: () => unknown): void; cancelScope: CancelScope },
  ): Promise<void> {
    const monitor = this.#monitor;
    if (monitor !== undefined) tg.spawn(() => monitor.run());
    if (this.#autoCheckpoint) tg.spawn(() => this.#checkpoints(table));
    const limiter = new CapacityLimiter(this.#concurrency);
    const types = this.#types;
    for (;;) {
      if (this.#untilIdle && !table.busy(types)) break;
      if (monitor !== undefined) await monitor.waitUntilAvailable();
      const permit = await limiter.acquire();
      if (monitor !== undefined && monitor.state === "offline") {
        // Went offline while this waited for a slot.
        permit.release();
        continue;
      }
      const changed = table.changed();
      const entry = table.takeReady(types);
      if (entry === undefined) {
        permit.release();
        if (this.#untilIdle && !table.busy(types)) break;
        const due = table.nextDue();
        if (due === undefined) await changed.wait();
        else {
          const delay = due - table.now();
          if (delay > 0) await moveOnAfter(delay, () => changed.wait());
        }
        continue;
      }
      this.#running++;
      tg.spawn(async () => {
        try {
          await this.#attempt(table, entry);
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
  async #attempt(table: OperationTable, entry: Entry): Promise<void> {
    let attempt: number | undefined;
    try {
      attempt = await table.begin(entry);
    } catch (error) {
      table.release(entry);
      throw error;
    }
    if (attempt === undefined) return;
    if (entry.cancelRequested) {
      await this.#settle(table, entry, { state: "cancelled", error: undefined });
      return;
    }
    const handler = this.#handlers.get(entry.type)!;
    const scope = new CancelScope(
      this.#attemptTimeoutMs === undefined ? {} : { timeout: this.#attemptTimeoutMs },
    );
    entry.abort = (reason) => scope.cancel(reason);
    const started = table.now();
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
        table.release(entry);
        checkpointIfCancelled(); // throws the cancellation, whatever the handler threw
        throw error;
      }
      failure = error;
    } finally {
      entry.abort = undefined;
    }
    table.telemetry.recordHandler(entry.type, (table.now() - started) / 1000);
    await this.#settle(
      table,
      entry,
      this.#outcome(table, entry, attempt, ok, value, failure),
    );
  }

  #outcome(
    table: OperationTable,
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
        nextRetryAt: table.now() + backoffDelay(streak, this.#backoff),
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
      nextRetryAt: table.now() + backoffDelay(attempt, this.#backoff),
      unavailable: false,
    };
  }

  /** Records an outcome, shielded: a finished attempt is recorded even while stopping. */
  async #settle(table: OperationTable, entry: Entry, outcome: Outcome): Promise<void> {
    try {
      await new CancelScope({ shield: true }).run(() => table.settle(entry, outcome));
    } catch (error) {
      // Closed meanwhile: the attempt runs again after the next open.
      if (!(error instanceof WalClosedError)) throw error;
    }
  }

  /** Writes checkpoints as they fall due. */
  async #checkpoints(table: OperationTable): Promise<void> {
    let failures = 0;
    for (;;) {
      if (!table.checkpointDue()) await table.checkpointWanted().wait();
      try {
        await table.checkpoint();
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
