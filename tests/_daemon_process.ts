/**
 * The kit's daemon as a real process (`kit/cli.ts daemon`, what `deno task
 * start` runs), for the tests that talk to it over sockets, go through its
 * `api` file, stop it with SIGTERM or kill it with SIGKILL. It listens on
 * free ports (`--port 0 --gateway-port 0`) unless told otherwise, offline
 * unless asked (`network`); its
 * addresses are read from `<repo>/api` and `<repo>/gateway`, as every
 * client finds a daemon.
 *
 * @module
 */

import { eventually } from "./_async.ts";

const CLI = new URL("../kit/cli.ts", import.meta.url).pathname;

/** A running daemon process. */
export interface DaemonProcess extends AsyncDisposable {
  /** Its repository. */
  readonly repo: string;
  /** `<repo>/api`: `/ip4/127.0.0.1/tcp/<port>`. */
  readonly api: string;
  /** The API port's URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `<repo>/gateway`: the gateway's URL. */
  readonly gateway: string;
  /** Its process id. */
  readonly pid: number;
  /** What it printed to standard output so far. */
  output(): string;
  /** Sends SIGTERM and waits for it to exit; its exit code. */
  stop(): Promise<number>;
  /** Sends SIGKILL and waits for it to be gone. */
  kill(): Promise<void>;
}

/** Options of {@linkcode startDaemonProcess}. */
export interface DaemonProcessOptions {
  /** The repository. Default: a new temporary one, removed by `[Symbol.asyncDispose]`. */
  repo?: string;
  /** More arguments of `kit daemon`. */
  args?: string[];
  /** More environment variables. */
  env?: Record<string, string>;
  /** Its permission flags. Default `--allow-all`. */
  permissions?: string[];
  /**
   * Run the node networked, as `deno task start` does, on a free loopback
   * port (`--listen /ip4/127.0.0.1/tcp/0`). Default false: `--no-network`
   * (no libp2p to start, no swarm port taken).
   */
  network?: boolean;
}

/**
 * Starts `kit daemon` on `repo` (a new temporary repository by default) and
 * waits until it printed that it is ready and wrote its `api` file.
 *
 * @throws {Error} It exited first (its output in the message).
 */
export async function startDaemonProcess(
  options: DaemonProcessOptions = {},
): Promise<DaemonProcess> {
  const ownRepo = options.repo === undefined;
  const repo = options.repo ?? await Deno.makeTempDir({ prefix: "ipfs-kit-daemon-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...(options.permissions ?? ["--allow-all"]),
      CLI,
      "daemon",
      "--repo",
      repo,
      "--port",
      "0",
      "--gateway-port",
      "0",
      ...(options.network === true ? ["--listen", "/ip4/127.0.0.1/tcp/0"] : ["--no-network"]),
      ...(options.args ?? []),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  let stdout = "";
  let stderr = "";
  const decoder = new TextDecoder();
  const ready = Promise.withResolvers<void>();
  // Keep reading both pipes to their end, so the daemon never blocks on a full one.
  const drained = Promise.all([
    (async () => {
      for await (const chunk of child.stdout) {
        stdout += decoder.decode(chunk, { stream: true });
        if (stdout.includes("Daemon is ready")) ready.resolve();
      }
    })(),
    (async () => {
      const errors = new TextDecoder();
      for await (const chunk of child.stderr) stderr += errors.decode(chunk, { stream: true });
    })(),
  ]).catch(() => {});
  const status = child.status;
  const exited = status.then((s) => {
    ready.reject(
      new Error(`The daemon exited (${s.code}) before it was ready: ${stdout}${stderr}`.trim()),
    );
    return s;
  });
  // The test process may end (or fail) with the daemon still running: kill it then.
  const onUnload = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    if (ownRepo) {
      try {
        Deno.removeSync(repo, { recursive: true });
      } catch { /* gone */ }
    }
  };
  globalThis.addEventListener("unload", onUnload);
  try {
    await ready.promise;
  } catch (error) {
    await drained;
    await status;
    globalThis.removeEventListener("unload", onUnload);
    if (ownRepo) await Deno.remove(repo, { recursive: true }).catch(() => {});
    throw error;
  }
  const api = (await Deno.readTextFile(`${repo}/api`)).trim();
  const gateway = (await Deno.readTextFile(`${repo}/gateway`)).trim();
  const match = /^\/ip4\/([^/]+)\/tcp\/(\d+)$/.exec(api);
  if (match === null) throw new Error(`The daemon's api file holds ${api}`);
  const url = `http://${match[1]}:${match[2]}`;
  const finish = async () => {
    await exited;
    await drained;
    globalThis.removeEventListener("unload", onUnload);
  };
  let done = false;
  const process: DaemonProcess = {
    repo,
    api,
    url,
    gateway,
    pid: child.pid,
    output: () => stdout + stderr,
    async stop() {
      if (!done) {
        done = true;
        child.kill("SIGTERM");
      }
      const { code } = await exited;
      await finish();
      return code;
    },
    async kill() {
      if (!done) {
        done = true;
        child.kill("SIGKILL");
      }
      await finish();
      // The kernel releases its lock and its ports once the process is gone.
      await eventually(
        async () => {
          try {
            (await Deno.connect({ hostname: "127.0.0.1", port: Number(match[2]) })).close();
            return false;
          } catch {
            return true;
          }
        },
        "the killed daemon's port refuses connections",
        { limitMs: 10_000, stepMs: 20 },
      );
    },
    async [Symbol.asyncDispose]() {
      if (!done) await process.stop();
      else await finish();
      if (ownRepo) await Deno.remove(repo, { recursive: true }).catch(() => {});
    },
  };
  return process;
}
