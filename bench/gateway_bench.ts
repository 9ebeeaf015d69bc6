/**
 * The kit's gateway and RPC API against js-ipfs's and a bare file server:
 * one `deno bench` run, 64 MiB of random bytes.
 *
 * - Group `gateway-64MiB`, a GET of the whole file read to its end:
 *   `ipfs-kit gateway` (the gateway port of the kit's daemon, a `kit daemon`
 *   process as `deno task start` runs it: `createGatewayHandler` over its
 *   `Kit` with the default tiered cache, behind the hardened HTTP layer),
 *   `js-ipfs gateway` (the shared daemon's
 *   gateway port: `Addresses.Gateway` in the repository config
 *   `tools/start_js_ipfs.sh` writes; asked with `accept-encoding: identity`,
 *   as it gzips on the fly otherwise) and `deno-file-server` (`Deno.serve`
 *   streaming the same bytes from a file: the local limit).
 * - Group `rpc-add-64MiB`, an add through `kubo-rpc-client` (the Kit's Kubo
 *   backend, `pin: false`): `ipfs-kit daemon` (the same daemon's API port:
 *   `createRpcHandler` behind the HTTP layer) and `js-ipfs`. Every iteration adds other bytes
 *   (its number in the first bytes of every 256 KiB chunk).
 *
 * The js-ipfs entries run on a js-ipfs daemon of this file's own, started
 * with `tools/start_js_ipfs.sh` in a temporary state directory and stopped
 * when the run ends (a shared daemon may be wedged by other tests: js-ipfs
 * 0.66 never releases its add lock after an aborted add); when none can be
 * started they are skipped with a warning.
 *
 * ```sh
 * deno bench --allow-all bench/gateway_bench.ts
 * ```
 *
 * @module
 */

import { KuboBackend } from "../ipfs/kubo_backend.ts";
import { startDaemonProcess } from "../tests/_daemon_process.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { JsIpfsDaemon } from "../tests/_kubo_daemon.ts";

const MIB = 1024 * 1024;
const SIZE = 64 * MIB;
const CHUNK = 262_144;

const bytes = randomBytes(SIZE);
const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-gateway-bench-" });
// The daemon as `deno task start` runs it: a process of its own, found through its api file.
const daemon = await startDaemonProcess({ repo: `${dir}/repo` });
await Deno.writeFile(`${dir}/file.bin`, bytes);

const quiet = { hostname: "127.0.0.1", port: 0, onListen: () => {} };
const files = Deno.serve(quiet, async () => {
  const file = await Deno.open(`${dir}/file.bin`);
  return new Response(file.readable, {
    headers: { "content-type": "application/octet-stream", "content-length": String(SIZE) },
  });
});

const jsIpfs = await findJsIpfs();
const kitRpc = await KuboBackend.connect({ api: daemon.url, timeoutMs: 300_000 });
const { cid } = await kitRpc.add(bytes);
const jsRpc = jsIpfs === undefined
  ? undefined
  : await KuboBackend.connect({ api: jsIpfs.api, timeoutMs: 300_000 });
if (jsRpc !== undefined) await jsRpc.add(bytes, { pin: false });

addEventListener("unload", () => {
  void files.shutdown();
  void kitRpc.close();
  void jsRpc?.close();
  // The daemon process is killed by its fixture when this process ends.
  if (jsIpfs !== undefined) {
    new Deno.Command("bash", {
      args: [new URL("../tools/start_js_ipfs.sh", import.meta.url).pathname, "stop", jsIpfs.state],
      stdout: "null",
      stderr: "null",
    }).outputSync();
  }
  Deno.removeSync(dir, { recursive: true });
});

/** GETs `url` and reads the body to its end; checks the length. */
async function download(url: string): Promise<void> {
  const response = await fetch(url, { headers: { "accept-encoding": "identity" } });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  let length = 0;
  for await (const chunk of response.body!) length += chunk.length;
  if (length !== SIZE) throw new Error(`GET ${url}: ${length} bytes, expected ${SIZE}`);
}

Deno.bench({
  name: "ipfs-kit gateway",
  group: "gateway-64MiB",
  baseline: true,
  n: 8,
  warmup: 1,
  async fn() {
    await download(`${daemon.gateway}/ipfs/${cid}`);
  },
});

Deno.bench({
  name: "js-ipfs gateway",
  group: "gateway-64MiB",
  n: 8,
  warmup: 1,
  ignore: jsIpfs === undefined,
  async fn() {
    await download(`${jsIpfs!.gateway}/ipfs/${cid}`);
  },
});

Deno.bench({
  name: "deno-file-server",
  group: "gateway-64MiB",
  n: 8,
  warmup: 1,
  async fn() {
    await download(`http://127.0.0.1:${files.addr.port}/file.bin`);
  },
});

let iteration = 0;
/** The bytes of the next add: other blocks every time. */
function nextBytes(): Uint8Array {
  iteration++;
  for (let at = 0; at < SIZE; at += CHUNK) {
    new DataView(bytes.buffer, at, 8).setFloat64(0, iteration);
  }
  return bytes;
}

Deno.bench({
  name: "ipfs-kit daemon",
  group: "rpc-add-64MiB",
  baseline: true,
  n: 5,
  warmup: 1,
  async fn() {
    await kitRpc.add(nextBytes(), { pin: false });
  },
});

Deno.bench({
  name: "js-ipfs",
  group: "rpc-add-64MiB",
  n: 5,
  warmup: 1,
  ignore: jsRpc === undefined,
  async fn() {
    await jsRpc!.add(nextBytes(), { pin: false });
  },
});

/** A js-ipfs daemon of this run's own: its API and gateway URLs and its state directory. */
async function findJsIpfs(): Promise<{ api: string; gateway: string; state: string } | undefined> {
  const state = await Deno.makeTempDir({ prefix: "ipfs-kit-bench-js-ipfs-" });
  const daemon = new JsIpfsDaemon(state);
  try {
    await daemon.launch("start");
  } catch (error) {
    console.warn(
      `gateway bench: js-ipfs skipped: ${error instanceof Error ? error.message : error}`,
    );
    return undefined;
  }
  const config = JSON.parse(await Deno.readTextFile(`${state}/repo/config`)) as {
    Addresses?: { Gateway?: string };
  };
  const match = /^\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(config.Addresses?.Gateway ?? "");
  if (match === null) throw new Error("gateway bench: the js-ipfs config names no gateway");
  return { api: daemon.url, gateway: `http://${match[1]}:${match[2]}`, state };
}
