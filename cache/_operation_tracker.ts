/**
 * The lifetime of a cache that closes (the disk tier, the tiered cache): the
 * operations and streams in progress, which closing ends or waits for, and
 * whether it is closed. Private to the cache.
 *
 * @module
 */

import { ClosedResourceError } from "../runtime/errors.ts";
import { withSignal } from "../runtime/timeouts.ts";

/** An open stream, so that closing can end it. */
export interface EndableStream {
  /** Ends the stream with `reason`; settles once it is cleaned up. */
  end(reason: unknown): void | Promise<void>;
}

/** Counts operations and open streams, refuses new ones once closed, and lets closing wait. */
export class OperationTracker {
  /** Operations (and stream reads) in progress. */
  #active = 0;
  #idle: PromiseWithResolvers<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #streams: Set<EndableStream> = new Set();

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Throws {@linkcode ClosedResourceError} once closed: "Cannot <what>: the cache is closed". */
  check(what: string): void {
    if (this.#closing !== undefined) {
      throw new ClosedResourceError(`Cannot ${what}: the cache is closed`);
    }
  }

  /**
   * Runs `fn` as an operation in progress until it settles, bound to
   * `signal` (see `withSignal`). The caller checks the state first.
   */
  async run<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    this.#active++;
    try {
      return await withSignal(signal, fn);
    } finally {
      this.leave();
    }
  }

  /** Counts one more operation in progress; {@linkcode OperationTracker.leave} ends it. */
  enter(): void {
    this.#active++;
  }

  /** Ends an operation counted by {@linkcode OperationTracker.enter}. */
  leave(): void {
    if (--this.#active === 0 && this.#idle !== undefined) this.#idle.resolve();
  }

  /** Registers an open stream, for closing to end. */
  addStream(stream: EndableStream): void {
    this.#streams.add(stream);
  }

  /** Forgets a stream that has ended. */
  deleteStream(stream: EndableStream): void {
    this.#streams.delete(stream);
  }

  /**
   * Closes once: the first call runs `close` and every call returns its
   * promise. The tracker counts as closed once `close` first awaits.
   */
  close(close: () => Promise<void>): Promise<void> {
    return this.#closing ??= close();
  }

  /** Ends every open stream with `reason`, then waits for the operations in progress. */
  async drain(reason: unknown): Promise<void> {
    await Promise.all([...this.#streams].map((stream) => stream.end(reason)));
    if (this.#active > 0) {
      this.#idle = Promise.withResolvers<void>();
      await this.#idle.promise;
    }
  }
}
