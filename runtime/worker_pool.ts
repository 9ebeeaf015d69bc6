/**
 * A pool of Web Workers for CPU-bound functions: the analogue of AnyIO's
 * `to_thread.run_sync`, bounded by a {@linkcode CapacityLimiter} and
 * cancellable.
 *
 * @module
 */

import type { CapacityLimiter } from "./capacity_limiter.ts";
import { park, type Waiter } from "./park.ts";
import { type ClockTimer, realClock } from "./clock.ts";
import { checkpointIfCancelled } from "./checkpoint.ts";
import { ClosedResourceError } from "./errors.ts";
import { withSignal } from "./timeouts.ts";

/** Options for {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** The most workers alive at once (an integer >= 1). Default `navigator.hardwareConcurrency`. */
  maxWorkers?: number;
  /**
   * Bounds how many jobs run at once, across every pool and task sharing it.
   * Default: only `maxWorkers` bounds them.
   */
  limiter?: CapacityLimiter;
  /**
   * How long, in real milliseconds, a worker may sit idle before it is
   * terminated (`Infinity`: never). An idle worker keeps the process alive,
   * so this is how a forgotten pool lets the process exit. Default 1000.
   */
  idleTimeoutMs?: number;
}

/** Options for {@linkcode WorkerPool.run} and {@linkcode WorkerPool.runModule}. */
export interface WorkerRunOptions {
  /**
   * Stops the job when aborted: its worker is terminated and the call
   * rejects with `signal.reason`.
   */
  signal?: AbortSignal;
  /** Objects among the arguments to transfer rather than copy (`ArrayBuffer`s, ports). */
  transfer?: Transferable[];
}

/**
 * Runs functions in Web Workers, so CPU-bound work (hashing, compression,
 * parsing) does not block the event loop.
 *
 * Workers start lazily, one per job up to `maxWorkers`, and are reused; a
 * worker idle for `idleTimeoutMs` is terminated. Jobs beyond the free
 * workers wait in FIFO order; with a `limiter`, a job first borrows a token
 * from it, so one limiter can bound several pools and other work.
 *
 * Functions given to {@linkcode WorkerPool.run} must be self-contained: their
 * source (`fn.toString()`) is evaluated in the worker, so they cannot use
 * variables from the scope they were written in, only their arguments,
 * globals and dynamic `import()` of absolute URLs. Compiled functions are
 * cached per worker by source. To call code with imports, export it from a
 * module and use {@linkcode WorkerPool.runModule}. Arguments and results are
 * copied with the structured clone algorithm.
 *
 * Cancellation stops the CPU work: when the caller's scope is cancelled (or
 * its `signal` aborts) while the job runs, the worker is terminated at once
 * and replaced when next needed; the call rejects with
 * {@linkcode CancelledError} (or `signal.reason`). An error thrown in the
 * worker is rethrown with its name, message, stack, `cause` and own
 * properties (as a built-in error class when its name is one, else as an
 * `Error` with that name).
 *
 * {@linkcode WorkerPool.close} (or `await using`) terminates every worker.
 *
 * @example Hash in a worker
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerPool } from "@ipfs-kit/kit/runtime";
 *
 * await using pool = new WorkerPool({ maxWorkers: 2 });
 * const sum = await pool.run((n: number) => {
 *   let total = 0;
 *   for (let i = 0; i < n; i++) total = (total + i * i) % 1_000_003;
 *   return total;
 * }, [100_000]);
 * assert.equal(typeof sum, "number");
 * ```
 *
 * @example Share a limiter, give up after a deadline
 * ```ts
 * import assert from "node:assert/strict";
 * import { CapacityLimiter, moveOnAfter, WorkerPool } from "@ipfs-kit/kit/runtime";
 *
 * const limiter = new CapacityLimiter(1);
 * await using pool = new WorkerPool({ limiter });
 * const result = await moveOnAfter(50, () =>
 *   pool.run(() => {
 *     for (;;); // the worker is terminated at the deadline
 *   }, []));
 * assert.equal(result, undefined);
 * ```
 */
export class WorkerPool implements AsyncDisposable {
  #maxWorkers: number;
  #limiter: CapacityLimiter | undefined;
  #idleTimeoutMs: number;
  #workers = new Set<PoolWorker>();
  #idle: PoolWorker[] = [];
  #waiting = new Set<Waiter<PoolWorker>>();
  #closed = false;
  #retire = (worker: PoolWorker): void => this.#discard(worker);

  /**
   * Creates a pool; no worker starts until the first job.
   *
   * @param options Worker count, a limiter, the idle timeout.
   */
  constructor(options: WorkerPoolOptions = {}) {
    const maxWorkers = options.maxWorkers ?? navigator.hardwareConcurrency ?? 1;
    if (!Number.isInteger(maxWorkers) || maxWorkers < 1) {
      throw new RangeError(
        `Cannot create worker pool: maxWorkers must be an integer >= 1: received ${maxWorkers}`,
      );
    }
    const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (!(idleTimeoutMs >= 0)) {
      throw new RangeError(
        `Cannot create worker pool: idleTimeoutMs must be >= 0: received ${idleTimeoutMs}`,
      );
    }
    const limiter = options.limiter;
    if (limiter !== undefined && typeof limiter?.acquire !== "function") {
      throw new TypeError(
        `Cannot create worker pool: limiter must be a CapacityLimiter: received ${typeof limiter}`,
      );
    }
    this.#maxWorkers = maxWorkers;
    this.#limiter = limiter;
    this.#idleTimeoutMs = idleTimeoutMs;
  }

  /** The most workers alive at once. */
  get maxWorkers(): number {
    return this.#maxWorkers;
  }

  /** The limiter jobs borrow a token from, if any. */
  get limiter(): CapacityLimiter | undefined {
    return this.#limiter;
  }

  /** How many workers are alive, busy or idle. */
  get workerCount(): number {
    return this.#workers.size;
  }

  /** How many workers are alive and idle. */
  get idleCount(): number {
    return this.#idle.length;
  }

  /** Whether {@linkcode WorkerPool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `fn(...args)` in a worker and returns its result. `fn` must be
   * self-contained (see the class documentation). A blocking call: it is a
   * checkpoint, and cancelling it terminates the worker.
   *
   * @param fn A function, arrow function or method whose source can run on its own.
   * @param args Its arguments, structured-cloned (or transferred, see `options.transfer`).
   * @param options A signal and a transfer list.
   * @returns What `fn` returned (awaited in the worker), structured-cloned.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WorkerPool } from "@ipfs-kit/kit/runtime";
   *
   * await using pool = new WorkerPool();
   * const bytes = new Uint8Array([1, 2, 3]);
   * const sum = await pool.run((data: Uint8Array) => data.reduce((a, b) => a + b, 0), [bytes], {
   *   transfer: [bytes.buffer],
   * });
   * assert(sum === 6 && bytes.byteLength === 0); // moved, not copied
   * ```
   */
  run<A extends unknown[], R>(
    fn: (...args: A) => R | Promise<R>,
    args: A,
    options: WorkerRunOptions = {},
  ): Promise<R> {
    let job: JobSpec;
    try {
      if (typeof fn !== "function") {
        throw new TypeError(`Cannot run in worker: expected a function: received ${typeof fn}`);
      }
      const source = Function.prototype.toString.call(fn);
      if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
        throw new TypeError(
          `Cannot run in worker: native and bound functions have no source: received ${
            fn.name || "an anonymous function"
          }`,
        );
      }
      checkRun(args, options);
      job = { kind: "function", source, fnId: sourceId(source) };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#submit(job, args, options) as Promise<R>;
  }

  /**
   * Runs the function `exportName` exported by the module at `moduleUrl` in a
   * worker and returns its result. The worker imports the module once; the
   * module may import anything.
   *
   * @param moduleUrl The module's absolute URL, e.g. `new URL("./hash.ts", import.meta.url)`.
   * @param exportName The name of the exported function.
   * @param args Its arguments, structured-cloned (or transferred, see `options.transfer`).
   * @param options A signal and a transfer list.
   * @returns What the function returned (awaited in the worker), structured-cloned.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WorkerPool } from "@ipfs-kit/kit/runtime";
   *
   * // Usually a file beside the caller: new URL("./hash.ts", import.meta.url).
   * const module = "export const sha256 = async (bytes) => " +
   *   "new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));";
   * await using pool = new WorkerPool();
   * const digest = await pool.runModule<Uint8Array>(
   *   new URL(`data:text/javascript,${encodeURIComponent(module)}`),
   *   "sha256",
   *   [new Uint8Array(1024)],
   * );
   * assert.equal(digest.length, 32);
   * ```
   */
  runModule<R = unknown>(
    moduleUrl: string | URL,
    exportName: string,
    args: unknown[],
    options: WorkerRunOptions = {},
  ): Promise<R> {
    let job: JobSpec;
    try {
      let url: string;
      try {
        url = new URL(moduleUrl).href;
      } catch {
        throw new TypeError(
          `Cannot run in worker: moduleUrl must be an absolute URL: received ${String(moduleUrl)}`,
        );
      }
      if (typeof exportName !== "string" || exportName === "") {
        throw new TypeError(
          `Cannot run in worker: exportName must be a non-empty string: received ${
            typeof exportName === "string" ? '""' : typeof exportName
          }`,
        );
      }
      checkRun(args, options);
      job = { kind: "module", url, name: exportName };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#submit(job, args, options) as Promise<R>;
  }

  /**
   * Closes the pool: every worker is terminated, jobs still running or
   * waiting reject with {@linkcode ClosedResourceError}, and later calls
   * too. Idempotent.
   *
   * @returns A promise that settles once the workers are terminated.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { WorkerPool } from "@ipfs-kit/kit/runtime";
   *
   * const pool = new WorkerPool();
   * await pool.run(() => 1, []);
   * await pool.close();
   * assert.equal(pool.workerCount, 0);
   * ```
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const error = new ClosedResourceError("Cannot run in worker: the pool was closed");
    for (const waiter of this.#waiting) waiter.fail(error);
    this.#waiting.clear();
    this.#idle = [];
    for (const worker of this.#workers) worker.terminate(error);
    this.#workers.clear();
    return Promise.resolve();
  }

  /** Closes the pool: see {@linkcode WorkerPool.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #submit(job: JobSpec, args: unknown[], options: WorkerRunOptions): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new ClosedResourceError("Cannot run in worker: the pool is closed"));
    }
    const transfer = options.transfer ?? [];
    return withSignal(options.signal, async () => {
      using _token = this.#limiter === undefined ? undefined : await this.#limiter.acquire();
      // Already cancelled (a token is handed over even then): start no worker for nothing.
      checkpointIfCancelled();
      let worker: PoolWorker;
      // A worker handed over may die (crash, close) before this task resumes: take another.
      do worker = await this.#checkout(); while (!worker.alive);
      try {
        return await worker.call(job, args, transfer);
      } finally {
        this.#checkin(worker);
      }
    });
  }

  /** Takes an idle worker, starts a new one, or waits for one (FIFO). */
  #checkout(): Promise<PoolWorker> {
    try {
      if (this.#closed) throw new ClosedResourceError("Cannot run in worker: the pool is closed");
      const idle = this.#idle.pop();
      if (idle !== undefined) {
        idle.stopIdleTimer();
        return Promise.resolve(idle);
      }
      if (this.#workers.size < this.#maxWorkers) return Promise.resolve(this.#spawn());
      const waiter: Waiter<PoolWorker> = park(() => this.#waiting.delete(waiter));
      this.#waiting.add(waiter);
      return waiter.promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Gives a worker back: to the first waiting job, or to the idle list. */
  #checkin(worker: PoolWorker): void {
    if (!worker.alive || this.#closed) return;
    if (this.#handOff(worker)) return;
    this.#idle.push(worker);
    if (this.#idleTimeoutMs !== Infinity) {
      worker.startIdleTimer(this.#idleTimeoutMs);
    }
  }

  #handOff(worker: PoolWorker): boolean {
    for (const waiter of this.#waiting) {
      this.#waiting.delete(waiter);
      if (waiter.wake(worker)) return true;
    }
    return false;
  }

  #spawn(): PoolWorker {
    const worker = new PoolWorker(this.#retire);
    this.#workers.add(worker);
    return worker;
  }

  /** Drops a worker that was terminated (cancelled, crashed, idle too long); replaces it if needed. */
  #discard(worker: PoolWorker): void {
    worker.terminate();
    if (!this.#workers.delete(worker)) return;
    const index = this.#idle.indexOf(worker);
    if (index !== -1) this.#idle.splice(index, 1);
    if (!this.#closed && this.#waiting.size > 0) {
      const replacement = this.#spawn();
      if (!this.#handOff(replacement)) this.#checkin(replacement);
    }
  }
}

/**
 * Runs `fn(...args)` in a worker of a shared pool (see
 * {@linkcode defaultWorkerPool}), the way AnyIO's `to_thread.run_sync` uses
 * its default limiter. The same rules as {@linkcode WorkerPool.run} apply.
 *
 * @param fn A self-contained function.
 * @param args Its arguments.
 * @param options A signal and a transfer list.
 * @returns What `fn` returned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultWorkerPool, runInWorker } from "@ipfs-kit/kit/runtime";
 *
 * const n = await runInWorker((a: number, b: number) => a * b, [6, 7]);
 * assert.equal(n, 42);
 * await defaultWorkerPool().close(); // or let its idle workers time out
 * ```
 */
export function runInWorker<A extends unknown[], R>(
  fn: (...args: A) => R | Promise<R>,
  args: A,
  options?: WorkerRunOptions,
): Promise<R> {
  return defaultWorkerPool().run(fn, args, options);
}

let sharedPool: WorkerPool | undefined;

/**
 * The shared pool behind {@linkcode runInWorker}, created on first use with
 * the default options: `navigator.hardwareConcurrency` workers, terminated
 * after a second idle, so it never keeps the process alive for long. After
 * it is closed, the next call creates a fresh one.
 *
 * @returns The shared pool.
 *
 * @example Close it when done, as tests must
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultWorkerPool, runInWorker } from "@ipfs-kit/kit/runtime";
 *
 * assert.equal(await runInWorker(() => "done", []), "done");
 * await defaultWorkerPool().close();
 * ```
 */
export function defaultWorkerPool(): WorkerPool {
  if (sharedPool === undefined || sharedPool.closed) sharedPool = new WorkerPool();
  return sharedPool;
}

const DEFAULT_IDLE_TIMEOUT_MS = 1000;

function checkRun(args: unknown, options: WorkerRunOptions): void {
  if (!Array.isArray(args)) {
    throw new TypeError(`Cannot run in worker: args must be an array: received ${typeof args}`);
  }
  if (options.transfer !== undefined && !Array.isArray(options.transfer)) {
    throw new TypeError(
      `Cannot run in worker: transfer must be an array: received ${typeof options.transfer}`,
    );
  }
}

// --- The protocol ----------------------------------------------------------------------------

type JobSpec =
  | { kind: "function"; source: string; fnId: number }
  | { kind: "module"; url: string; name: string };

type Request =
  | { id: number; kind: "function"; fnId: number; source?: string; args: unknown[] }
  | { id: number; kind: "module"; url: string; name: string; args: unknown[] };

type Reply =
  | { kind: "result"; id: number; ok: true; value: unknown }
  | { kind: "result"; id: number; ok: false; error: SerializedError }
  | { kind: "crash"; error: SerializedError };

/** A thrown value, as the worker sends it. */
interface SerializedError {
  /** `"error"`: an `Error`; `"dom"`: a `DOMException`; `"value"`: anything else thrown. */
  kind: "error" | "dom" | "value";
  name?: string;
  message?: string;
  stack?: string;
  cause?: SerializedError;
  errors?: SerializedError[];
  props?: Record<string, unknown>;
  value?: unknown;
}

/** Source text to a small id, so each worker receives a source once. */
const sourceIds = new Map<string, number>();

function sourceId(source: string): number {
  let id = sourceIds.get(source);
  if (id === undefined) {
    id = sourceIds.size;
    sourceIds.set(source, id);
  }
  return id;
}

let nextJobId = 0;

/** One worker and the job it runs. */
class PoolWorker {
  alive = true;
  #worker: Worker;
  #known = new Set<number>();
  #job: { id: number; waiter: Waiter<unknown> } | undefined;
  #idleTimer: ClockTimer | undefined;
  #retire: (worker: PoolWorker) => void;

  constructor(retire: (worker: PoolWorker) => void) {
    this.#retire = retire;
    this.#worker = new Worker(workerUrl(), { type: "module", name: "ipfs-kit worker pool" });
    this.#worker.onmessage = (event: MessageEvent<Reply>) => this.#onReply(event.data);
    this.#worker.onmessageerror = () => {
      this.#settle(
        false,
        new Error("Cannot run in worker: the result could not be deserialized"),
      );
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      // Handled here: an unhandled worker error would crash the whole process.
      event.preventDefault();
      const error = new Error(`Cannot run in worker: the worker crashed: ${event.message}`, {
        cause: event.error,
      });
      this.#settle(false, error);
      this.#retire(this);
    };
  }

  /** Posts the job and waits for its reply; cancellation terminates the worker. */
  call(job: JobSpec, args: unknown[], transfer: Transferable[]): Promise<unknown> {
    const waiter = park<unknown>(() => {
      this.#job = undefined;
      this.#retire(this);
    });
    const id = nextJobId++;
    const request: Request = job.kind === "function"
      ? {
        id,
        kind: "function",
        fnId: job.fnId,
        source: this.#known.has(job.fnId) ? undefined : job.source,
        args,
      }
      : { id, kind: "module", url: job.url, name: job.name, args };
    try {
      this.#worker.postMessage(request, transfer);
    } catch (error) {
      waiter.fail(error);
      return waiter.promise;
    }
    if (job.kind === "function") this.#known.add(job.fnId);
    this.#job = { id, waiter };
    return waiter.promise;
  }

  startIdleTimer(ms: number): void {
    this.#idleTimer?.cancel();
    this.#idleTimer = realClock.setTimer(realClock.now() + ms, () => {
      this.#idleTimer = undefined;
      this.#retire(this);
    });
  }

  stopIdleTimer(): void {
    this.#idleTimer?.cancel();
    this.#idleTimer = undefined;
  }

  /** Terminates the worker; a job still running fails with `error`. Idempotent. */
  terminate(error?: unknown): void {
    if (!this.alive) return;
    this.alive = false;
    this.stopIdleTimer();
    this.#worker.onmessage = this.#worker.onerror = this.#worker.onmessageerror = null;
    this.#worker.terminate();
    if (error !== undefined) this.#settle(false, error);
    this.#job = undefined;
  }

  #onReply(reply: Reply): void {
    if (reply.kind === "crash") {
      // An uncaught error or rejection in the worker, outside any job's promise: the worker's
      // state is unknown (timers, half-done work), so it goes, failing the job it runs.
      const cause = revive(reply.error);
      const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
      this.#settle(
        false,
        new Error(`Cannot run in worker: the worker crashed: ${what}`, { cause }),
      );
      this.#retire(this);
      return;
    }
    if (this.#job === undefined || this.#job.id !== reply.id) return;
    if (reply.ok) this.#settle(true, reply.value);
    else this.#settle(false, revive(reply.error));
  }

  #settle(ok: boolean, value: unknown): void {
    const job = this.#job;
    if (job === undefined) return;
    this.#job = undefined;
    if (ok) job.waiter.wake(value);
    else job.waiter.fail(value);
  }
}

const BUILTIN_ERRORS: Record<string, ErrorConstructor> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

/** Rebuilds a thrown value from the worker. Kit errors come back as plain `Error`s. */
function revive(serialized: SerializedError): unknown {
  if (serialized.kind === "value") return serialized.value;
  const message = serialized.message ?? "";
  const name = serialized.name ?? "Error";
  let error: Error;
  if (serialized.kind === "dom") {
    error = new DOMException(message, name);
  } else if (name === "AggregateError") {
    error = new AggregateError((serialized.errors ?? []).map(revive), message);
  } else {
    error = new (BUILTIN_ERRORS[name] ?? Error)(message);
    if (error.name !== name) define(error, "name", name);
  }
  if (serialized.props !== undefined) {
    for (const [key, value] of Object.entries(serialized.props)) define(error, key, value);
  }
  if (serialized.cause !== undefined) define(error, "cause", revive(serialized.cause));
  define(error, "stack", serialized.stack ?? `${name}: ${message}`);
  return error;
}

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true });
}

let workerBlobUrl: string | undefined;

/** The worker script: {@linkcode workerMain} as a Blob URL, so it loads without permissions. */
function workerUrl(): string {
  workerBlobUrl ??= URL.createObjectURL(
    new Blob([`(${workerMain.toString()})();\n`], { type: "text/javascript" }),
  );
  return workerBlobUrl;
}

/**
 * The worker's side. Runs in the worker from its source text, so it may use
 * nothing from this module: only globals.
 */
function workerMain(): void {
  type Fn = (...args: unknown[]) => unknown;
  const scope = globalThis as unknown as {
    onmessage: ((event: MessageEvent<Request>) => void) | null;
    postMessage(message: Reply): void;
    addEventListener(type: string, listener: (event: Event) => void): void;
  };
  const functions = new Map<number, Promise<Fn>>();

  const load = async (code: string): Promise<{ default: unknown }> => {
    const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    try {
      return await import(url);
    } finally {
      URL.revokeObjectURL(url);
    }
  };

  const compile = async (source: string): Promise<Fn> => {
    try {
      return (await load(`export default (${source});\n`)).default as Fn;
    } catch (error) {
      // Method shorthand (`name(a) { ... }`) is no expression: read it out of an object literal.
      let object: object;
      try {
        object = (await load(`export default ({ ${source} });\n`)).default as object;
      } catch {
        throw error;
      }
      const key = Reflect.ownKeys(object)[0];
      const fn = key === undefined
        ? undefined
        : Object.getOwnPropertyDescriptor(object, key)?.value;
      if (typeof fn !== "function") throw error;
      return fn as Fn;
    }
  };

  const cloneable = (value: unknown): boolean => {
    try {
      structuredClone(value);
      return true;
    } catch {
      return false;
    }
  };

  const serialize = (thrown: unknown, depth: number): SerializedError => {
    if (!(thrown instanceof Error) && !(thrown instanceof DOMException)) {
      return { kind: "value", value: cloneable(thrown) ? thrown : String(thrown) };
    }
    const error = thrown as Error;
    const out: SerializedError = {
      kind: thrown instanceof DOMException ? "dom" : "error",
      name: String(error.name),
      message: String(error.message),
      stack: typeof error.stack === "string" ? error.stack : undefined,
    };
    if (depth < 8) {
      if ("cause" in error) out.cause = serialize(error.cause, depth + 1);
      if (error instanceof AggregateError && Array.isArray(error.errors)) {
        out.errors = error.errors.map((inner: unknown) => serialize(inner, depth + 1));
      }
    }
    const props: Record<string, unknown> = {};
    let any = false;
    for (const key of Object.keys(error)) {
      if (key === "name" || key === "message" || key === "stack" || key === "cause") continue;
      if (key === "errors" && error instanceof AggregateError) continue;
      const value = (error as unknown as Record<string, unknown>)[key];
      if (cloneable(value)) {
        props[key] = value;
        any = true;
      }
    }
    if (any) out.props = props;
    return out;
  };

  scope.onmessage = async (event) => {
    const request = event.data;
    let reply: Reply;
    try {
      let fn: Fn;
      if (request.kind === "function") {
        let compiled = functions.get(request.fnId);
        if (compiled === undefined) {
          compiled = compile(request.source ?? "");
          functions.set(request.fnId, compiled);
        }
        fn = await compiled;
      } else {
        const module = await import(request.url);
        fn = module[request.name];
        if (typeof fn !== "function") {
          throw new TypeError(
            `Cannot run in worker: ${request.url} exports no function ${request.name}: found ${typeof fn}`,
          );
        }
      }
      reply = { kind: "result", id: request.id, ok: true, value: await fn(...request.args) };
    } catch (error) {
      reply = { kind: "result", id: request.id, ok: false, error: serialize(error, 0) };
    }
    try {
      scope.postMessage(reply);
    } catch (error) {
      // The result could not be cloned (a function, a class instance with private state...).
      scope.postMessage({ kind: "result", id: request.id, ok: false, error: serialize(error, 0) });
    }
  };

  // Failures outside any job's promise (a throwing timer, a forgotten rejection): reported
  // to the pool, which terminates this worker, instead of printed and rethrown on the host.
  scope.addEventListener("error", (event) => {
    event.preventDefault();
    scope.postMessage({ kind: "crash", error: serialize((event as ErrorEvent).error, 0) });
  });
  scope.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    scope.postMessage({
      kind: "crash",
      error: serialize((event as PromiseRejectionEvent).reason, 0),
    });
  });
}
