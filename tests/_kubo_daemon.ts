/**
 * Test fixtures for the Kubo backend: which daemon answers, what it pins,
 * and js-ipfs daemons of a test's own.
 *
 * @module
 */

import type { KuboBackend } from "../ipfs/kubo_backend.ts";
import { eventually } from "./_async.ts";

/** The daemon's agent (`kubo/0.30.0/...`, `js-ipfs/0.18.1`). */
export async function agentVersion(url: string): Promise<string> {
  const response = await fetch(`${url}/api/v0/id`, {
    method: "POST",
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.json() as { AgentVersion?: string };
  return body.AgentVersion ?? "";
}

/** The recursively pinned CIDs, sorted. */
export async function recursivePins(backend: KuboBackend): Promise<string[]> {
  return (await backend.pin.ls({ type: "recursive" })).map((pin) => pin.cid.toString()).sort();
}

const SCRIPT = new URL("../tools/start_js_ipfs.sh", import.meta.url).pathname;

/**
 * A js-ipfs daemon started with `tools/start_js_ipfs.sh` in a state dir of
 * its own, for tests that stop, kill or restart it, or would break a shared
 * one.
 */
export class JsIpfsDaemon {
  readonly dir: string;
  /** The API's URL, once launched. */
  url = "";

  constructor(dir: string) {
    this.dir = dir;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** The pid the script recorded. */
  async pid(): Promise<number> {
    return Number((await Deno.readTextFile(`${this.dir}/daemon.pid`)).trim());
  }

  /** `start` (a new repository) or `restart` (the same one); sets `url`. */
  async launch(command: "start" | "restart"): Promise<void> {
    const output = await new Deno.Command(SCRIPT, {
      args: command === "start" ? [] : ["restart", this.dir],
      env: { IPFS_KIT_JS_IPFS_DIR: this.dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const url = /export IPFS_KIT_KUBO_API=(\S+)/.exec(stdout)?.[1];
    if (!output.success || url === undefined) {
      throw new Error(
        `Cannot ${command} the js-ipfs daemon: ${new TextDecoder().decode(output.stderr)}`,
      );
    }
    this.url = url;
  }

  /** Kills the daemon by its pid; returns once it is gone and its port refuses connections. */
  async kill(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const pid = await this.pid();
    Deno.kill(pid, signal);
    const patience = { limitMs: 15_000, stepMs: 50 };
    await eventually(
      async () => !(await portOpen(this.port)),
      "the daemon's port refuses connections",
      patience,
    );
    await eventually(
      async () => !(await processRuns(pid)),
      `the daemon (pid ${pid}) exited`,
      patience,
    );
  }

  /** Stops the daemon and removes its state dir. */
  async stop(): Promise<void> {
    await new Deno.Command(SCRIPT, { args: ["stop", this.dir], stdout: "null", stderr: "null" })
      .output();
  }
}

/** Whether a process runs (a zombie does not). */
async function processRuns(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Whether something accepts connections on the port. */
async function portOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return false;
    throw error;
  }
}

/**
 * Runs `fn` with the URL of a js-ipfs daemon of its own, started in a new
 * state directory and stopped afterwards.
 */
export async function withPrivateJsIpfs<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-private-js-ipfs-" });
  const daemon = new JsIpfsDaemon(dir);
  try {
    await daemon.launch("start");
    return await fn(daemon.url);
  } finally {
    await daemon.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
