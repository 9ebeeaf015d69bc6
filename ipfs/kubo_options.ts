/**
 * The Kubo backend's options: where the daemon is and how calls behave
 * ({@linkcode KuboBackendOptions}, for `KuboBackend.connect`), how
 * idempotent reads are retried ({@linkcode KuboRetryOptions}), and what
 * every call takes ({@linkcode KuboCallOptions}: a signal and a timeout).
 *
 * @module
 */

import type { SignalOptions } from "./content_store.ts";

/**
 * Options every call of the Kubo backend takes: a signal and a timeout. The
 * backend's API objects take them too (its `block` is a
 * `BlockApi<KuboCallOptions>`).
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { KuboBackend } from "@ipfs-kit/kit/ipfs";
 *
 * await using kubo = await KuboBackend.connect();
 * const cid = await kubo.block.put(new Uint8Array([1, 2, 3]), { timeoutMs: 5_000 });
 * assert(await kubo.block.has(cid, { timeoutMs: 5_000 }));
 * ```
 */
export interface KuboCallOptions extends SignalOptions {
  /**
   * Fail with the runtime's `TimeoutError` if the call (a stream: the whole
   * stream) has not finished after this many milliseconds of the runtime's
   * clock. Overrides the backend's `timeoutMs`; `Infinity` means none.
   */
  timeoutMs?: number;
}

/**
 * How idempotent reads are retried; see {@linkcode KuboBackendOptions.retry}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KuboBackend, type KuboRetryOptions } from "@ipfs-kit/kit/ipfs";
 *
 * const retry: KuboRetryOptions = { attempts: 2, maxDelayMs: 500 };
 * await using kubo = await KuboBackend.connect({ api: "http://127.0.0.1:5001", retry });
 * assert.equal(kubo.url.port, "5001");
 * ```
 */
export interface KuboRetryOptions {
  /** Attempts in all, the first included. Default 4. */
  attempts?: number;
  /** The delay before the first retry, before jitter, in ms. Default 100. */
  baseDelayMs?: number;
  /** The cap on the delay, in ms. Default 2000. */
  maxDelayMs?: number;
}

/**
 * Options for `KuboBackend.connect`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KuboBackend, type KuboBackendOptions } from "@ipfs-kit/kit/ipfs";
 *
 * const options: KuboBackendOptions = { api: "/ip4/127.0.0.1/tcp/5001", timeoutMs: 30_000 };
 * await using kubo = await KuboBackend.connect(options);
 * assert.equal(kubo.url.href, "http://127.0.0.1:5001/api/v0");
 * ```
 */
export interface KuboBackendOptions {
  /**
   * The RPC API: a URL (`http://127.0.0.1:5001`) or a multiaddress
   * (`/ip4/127.0.0.1/tcp/5001`, `/dns4/localhost/tcp/5001/http`). Default:
   * the address in `<ipfsPath>/api`, which a running daemon writes.
   */
  api?: string | URL;
  /** The Kubo repository whose `api` file to read. Default `$IPFS_PATH`, else `~/.ipfs`. */
  ipfsPath?: string;
  /** Headers sent with every request, e.g. `Authorization` for `API.Authorizations`. */
  headers?: Record<string, string>;
  /**
   * The default timeout of every call, in ms (see
   * {@linkcode KuboCallOptions.timeoutMs}). Default: none. A daemon asked
   * for a CID no peer has searches for it until the call is cancelled, so
   * set one here or per call. `pubsub.subscribe` only honours its own.
   */
  timeoutMs?: number;
  /**
   * How idempotent reads are retried when the daemon is unreachable or a
   * 5xx comes that is not the daemon's own JSON error answer (a proxy's 502,
   * a 503): exponential backoff with full jitter on the runtime clock, never
   * past the call's deadline. `false`: no retries.
   */
  retry?: KuboRetryOptions | false;
}
