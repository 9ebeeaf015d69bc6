/**
 * One Kubo backend's hold on its daemon: the RPC client, the API's URL, the
 * default timeout, the retry policy and the signal that aborts when the
 * backend closes. Every API of the backend (files, blocks, pins, DAG,
 * repository, name, pubsub, swarm, routing) runs its calls through it.
 *
 * @module
 */

import { ClosedResourceError } from "../runtime/errors.ts";
import type { KuboCallOptions } from "./kubo_options.ts";
import {
  type CallFn,
  type CallSettings,
  type CallSpec,
  checkTimeout,
  deadlineFor,
  type RetrySettings,
  runCall,
} from "./_kubo_call.ts";
import type { KuboRpc } from "./_kubo_client.ts";

/** A daemon's client, and how calls to it run. */
export class KuboConnection {
  /** The client: the typed API and the raw command call. */
  readonly rpc: KuboRpc;
  /** The RPC API's base URL (ending in `/api/v0`). */
  readonly url: URL;
  /** What every call uses: the address (for errors), the retry policy, the closed signal. */
  readonly settings: CallSettings;
  #closer = new AbortController();
  #timeoutMs: number | undefined;

  /**
   * @param rpc The client.
   * @param url The API's base URL.
   * @param timeoutMs The default timeout of every call, or `undefined` for none.
   * @param retry How idempotent reads are retried, or `false`.
   */
  constructor(rpc: KuboRpc, url: URL, timeoutMs: number | undefined, retry: RetrySettings | false) {
    this.rpc = rpc;
    this.url = url;
    this.#timeoutMs = timeoutMs;
    this.settings = { address: url.href, retry, closed: this.#closer.signal };
  }

  /** The default timeout of every call, in ms, or `undefined` for none. */
  get timeoutMs(): number | undefined {
    return this.#timeoutMs;
  }

  /** Whether the backend was closed. */
  get closed(): boolean {
    return this.#closer.signal.aborted;
  }

  /** Aborts the calls in flight with `ClosedResourceError`; later calls throw it. Idempotent. */
  close(): void {
    if (!this.#closer.signal.aborted) {
      this.#closer.abort(new ClosedResourceError("Cannot call Kubo: the backend is closed"));
    }
  }

  /** @throws {ClosedResourceError} The backend is closed. */
  checkOpen(what: string): void {
    if (this.closed) throw new ClosedResourceError(`Cannot ${what}: the backend is closed`);
  }

  /**
   * A call's timeout: its own `timeoutMs`, else the backend's.
   *
   * @throws {InvalidInputError} Not a number >= 0.
   */
  timeout(options: KuboCallOptions | undefined, what: string): number | undefined {
    return checkTimeout(options?.timeoutMs ?? this.#timeoutMs, what);
  }

  /**
   * Runs one call (see `runCall`) under the caller's signal and the call's
   * deadline. Never throws synchronously: a closed backend or a bad
   * `timeoutMs` rejects.
   */
  call<T>(spec: CallSpec, options: KuboCallOptions | undefined, fn: CallFn<T>): Promise<T> {
    try {
      this.checkOpen(spec.what);
      const timeoutMs = this.timeout(options, spec.what);
      return runCall(spec, this.settings, options?.signal, deadlineFor(timeoutMs), timeoutMs, fn);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
