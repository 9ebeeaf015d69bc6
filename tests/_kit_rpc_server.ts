/**
 * The kit's own Kubo-compatible RPC API as a test service: a child process
 * (`tests/_kit_rpc_server_child.ts`) that opens an embedded node on a new
 * repository and serves `createRpcHandler` over it with `Deno.serve` on
 * 127.0.0.1:0 (until the http layer and the daemon take this over), like a
 * daemon the tests reach over real sockets. A process of its own keeps its
 * connections out of the tests' resource and op sanitizers.
 *
 * @module
 */

const CHILD = new URL("./_kit_rpc_server_child.ts", import.meta.url).pathname;

/** A running kit RPC server. */
export interface KitRpcServer extends AsyncDisposable {
  /** Its API's base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** The repository it serves. */
  repo: string;
  /** Stops it and removes its repository. */
  stop(): Promise<void>;
}

/**
 * Starts a server on a new repository.
 *
 * @returns The server; `stop()` (or `await using`) ends it.
 */
export async function startKitRpcServer(): Promise<KitRpcServer> {
  const repo = await Deno.makeTempDir({ prefix: "ipfs-kit-rpc-server-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, repo],
    // Its standard input stays open while this process lives: the child exits at its end.
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the kit RPC server exited before it listened: ${text}`);
    text += value;
  }
  const url = text.split("\n")[0].trim();
  // Keep reading (and dropping) its output, so it never blocks on a full pipe.
  const drained = (async () => {
    try {
      while (!(await reader.read()).done) { /* drop */ }
    } catch { /* killed */ }
  })();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.stdin.close().catch(() => {});
    await child.status;
    await drained;
    await Deno.remove(repo, { recursive: true }).catch(() => {});
  };
  return { url, repo, stop, [Symbol.asyncDispose]: stop };
}
