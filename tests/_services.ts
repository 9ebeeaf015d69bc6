/**
 * External services for tests (a Kubo-compatible daemon, ...): find one
 * from the environment, or skip the tests that need it.
 *
 * A service named `kubo` is found through `IPFS_KIT_KUBO_API` (the name in
 * upper case: `IPFS_KIT_<NAME>_API`). When it is unset or does not answer the
 * probe, the tests that need it are skipped (`ignore`), with the reason
 * printed once. Under `IPFS_KIT_REQUIRE_SERVICES=1` (CI) a missing service is
 * a failure instead: a test named `service <name> is available` fails with the
 * reason.
 *
 * Start a local daemon with `eval "$(tools/start_js_ipfs.sh)"` and stop it with
 * `tools/start_js_ipfs.sh stop`.
 *
 * A tool of this machine rather than a service at a URL (a browser, root
 * for a network namespace) is found with {@linkcode requireTool}, with the
 * same rules.
 *
 * ```ts ignore
 * import { probeKubo, requireService } from "../tests/_services.ts";
 *
 * const kubo = await requireService("kubo", probeKubo);
 * Deno.test({ name: "talks to the daemon", ignore: kubo.ignore, fn: async () => {
 *   await probeKubo(kubo.url, new AbortController().signal);
 * } });
 * ```
 *
 * @module
 */

/** What {@linkcode requireService} found. */
export interface ServiceStatus {
  /** The service's URL; `""` when it is not available. */
  url: string;
  /** Pass as `Deno.test`'s `ignore`: true when the service is not available. */
  ignore: boolean;
  /** Why the service is not available; `undefined` when it is. */
  reason: string | undefined;
}

/** Checks that a service answers at `url`; throws if not. */
export type ServiceProbe = (url: string, signal: AbortSignal) => Promise<unknown>;

/** Options for {@linkcode requireService}. */
export interface RequireServiceOptions {
  /** The environment variable holding the URL. Default `IPFS_KIT_<NAME>_API`. */
  env?: string;
  /** How long the probe may take, in ms. Default 5000. */
  timeoutMs?: number;
  /** The value when the environment variable is unset (a program's usual path, say). */
  fallback?: string;
  /** What to do when it is missing, for the skip message. Default: how to start js-ipfs. */
  hint?: string;
}

const statuses = new Map<string, Promise<ServiceStatus>>();

/**
 * Finds a service for the tests of this module. Call it at the top level
 * (with `await`) before registering the tests, and pass `ignore` on.
 *
 * @param name The service's name, e.g. `"kubo"`.
 * @param probe Checks that it answers.
 * @param options The environment variable and the probe's timeout.
 * @returns The URL and whether to skip.
 */
export function requireService(
  name: string,
  probe: ServiceProbe,
  options: RequireServiceOptions = {},
): Promise<ServiceStatus> {
  const env = options.env ?? `IPFS_KIT_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API`;
  const key = `${name}\0${env}`;
  let status = statuses.get(key);
  if (status === undefined) {
    status = find(name, env, probe, options);
    statuses.set(key, status);
  }
  return status;
}

async function find(
  name: string,
  env: string,
  probe: ServiceProbe,
  options: RequireServiceOptions,
): Promise<ServiceStatus> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const hint = options.hint ?? `start a daemon with: eval "$(tools/start_js_ipfs.sh)"`;
  const url = Deno.env.get(env)?.replace(/\/+$/, "") || options.fallback || "";
  let reason: string | undefined;
  if (url === "") {
    reason = `${env} is not set (${hint})`;
  } else {
    try {
      await probe(url, AbortSignal.timeout(timeoutMs));
    } catch (error) {
      const why = error instanceof Error && error.name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : error instanceof Error
        ? error.message
        : String(error);
      reason = `${env}=${url} does not answer: ${why}${
        options.hint === undefined ? "" : ` (${hint})`
      }`;
    }
  }
  if (reason === undefined) return { url, ignore: false, reason };
  return unavailable(`Service ${name}`, name, reason, "service");
}

/**
 * Finds a tool of this machine for the tests of this module: `probe`
 * returns why it cannot be used, or `undefined` when it can. Skipped (or,
 * under `IPFS_KIT_REQUIRE_SERVICES=1`, failed) as {@linkcode requireService}
 * does; `url` is `""`.
 *
 * @param name The tool's name, e.g. `"chromium"`.
 * @param probe Checks that it is there and works.
 * @returns Whether to skip, and why.
 */
export function requireTool(
  name: string,
  probe: () => Promise<string | undefined>,
): Promise<ServiceStatus> {
  const key = `tool\0${name}`;
  let status = statuses.get(key);
  if (status === undefined) {
    status = probe().then((reason) =>
      reason === undefined
        ? { url: "", ignore: false, reason }
        : unavailable(`Tool ${name}`, name, reason, "tool")
    );
    statuses.set(key, status);
  }
  return status;
}

function unavailable(
  what: string,
  name: string,
  reason: string,
  kind: "service" | "tool",
): ServiceStatus {
  const message = `${what} is not available: ${reason}`;
  if (Deno.env.get("IPFS_KIT_REQUIRE_SERVICES") === "1") {
    Deno.test(`${kind} ${name} is available`, () => {
      throw new Error(`${message}; IPFS_KIT_REQUIRE_SERVICES=1 makes this a failure`);
    });
  } else {
    console.warn(`${message}: skipping the tests that need it`);
  }
  return { url: "", ignore: true, reason };
}

/**
 * Probes a Kubo-compatible RPC API: `POST /api/v0/version` must answer 200
 * with a `Version`.
 *
 * @param url The API's base URL.
 * @param signal Aborts the probe.
 */
export async function probeKubo(url: string, signal: AbortSignal): Promise<void> {
  const response = await fetch(`${url}/api/v0/version`, { method: "POST", signal });
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  const body = JSON.parse(text) as { Version?: unknown };
  if (typeof body.Version !== "string") throw new Error(`unexpected answer: ${text.slice(0, 200)}`);
}
