/**
 * The health monitor of a backend: periodic probes and reported failures
 * make it `online`, `degraded` or `offline`; while it is offline, a
 * processor starts no operation (see {@linkcode OperationProcessor}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HealthMonitor } from "@ipfs-kit/kit/wal";
 *
 * const monitor = new HealthMonitor({ probe: () => false, offlineAfter: 1 });
 * await monitor.check();
 * assert.equal(monitor.state, "offline");
 * assert.equal(monitor.lastError, "the probe returned false");
 * ```
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { Event } from "../runtime/event.ts";
import { sleep } from "../runtime/sleep.ts";
import { describeError } from "./_error_text.ts";
import { positive } from "./_positive.ts";
import type { HealthMonitorOptions, HealthState } from "./types.ts";

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
