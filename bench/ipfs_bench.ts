/**
 * The embedded node against a daemon over RPC: `add` and `cat` of 1 MiB and
 * 64 MiB of random bytes, both through a {@linkcode Kit}.
 *
 * - `ipfs-kit embedded`: `Kit.open({ repo, cache: false })` on a temporary repository,
 *   with its defaults (every block synced to disk before `add` returns).
 * - `js-ipfs`: `Kit.open({ api, cache: false })`, the Kubo RPC backend, against the js-ipfs
 *   daemon at `IPFS_KIT_KUBO_API`; without that variable this file starts
 *   one with `tools/start_js_ipfs.sh` and stops it when the run ends. When
 *   none can be started, the `js-ipfs` entries are skipped with a warning.
 *
 * Both entries add the same bytes in the same order: iteration `i` of an
 * add entry writes `i` into the first bytes of every 256 KiB chunk, so no
 * add finds its blocks already stored. Unpinned blocks are collected
 * outside the timed part, except on a daemon this file did not start (its
 * other content is left alone: the blocks added stay, unpinned). Both use
 * Kubo's default layout (CIDv0, 256 KiB chunks). Each entry checks its
 * work: a cat must return every byte.
 *
 * ```sh
 * deno bench --allow-all bench/ipfs_bench.ts
 * ```
 *
 * @module
 */

import { Kit } from "../kit/kit.ts";
import { run } from "../runtime/run.ts";
import type { StrategyName } from "../runtime/strategy.ts";
import { randomBytes } from "../tests/_bytes.ts";

const MIB = 1024 * 1024;
const CHUNK = 262_144;
const SIZES = [["1MiB", MIB], ["64MiB", 64 * MIB]] as const;

const daemon = await findDaemon();
const repo = await Deno.makeTempDir({ prefix: "ipfs-kit-bench-" });
// `cache: false` on both: the bench measures the backends, not the kit's memory tier.
const embedded = await Kit.open({ repo, cache: false });
const remote = daemon === undefined
  ? undefined
  : await Kit.open({ api: daemon.url, kubo: { timeoutMs: 300_000 }, cache: false });

addEventListener("unload", () => {
  // Synchronous: the embedded node closes at once; the daemon's connections end with the process.
  void embedded.close();
  void remote?.close();
  Deno.removeSync(repo, { recursive: true });
  if (daemon?.stateDir !== undefined) {
    new Deno.Command("bash", {
      args: [daemon.script, "stop", daemon.stateDir],
      stdout: "null",
      stderr: "null",
    }).outputSync();
  }
});

/** Whether this file may collect garbage on the kit: its own repository or daemon. */
const owned = (kit: Kit) => kit === embedded || daemon?.stateDir !== undefined;

/**
 * The entries: the embedded node under each scheduling strategy (the default, eager, unmarked;
 * every call runs inside `run()` with that strategy), and the daemon.
 */
const entries: Array<[string, Kit | undefined, StrategyName]> = [
  ["ipfs-kit embedded", embedded, "eager"],
  ["ipfs-kit embedded [fair]", embedded, "fair"],
  ["ipfs-kit embedded [shuffle]", embedded, "shuffle"],
  ["js-ipfs", remote, "eager"],
];

for (const [label, size] of SIZES) {
  const bytes = randomBytes(size);
  const iterations = size > MIB ? { n: 5, warmup: 1 } : { n: 30, warmup: 3 };

  for (const [name, kit, strategy] of entries) {
    let iteration = 0;
    Deno.bench({
      name,
      group: `add-${label}`,
      baseline: name === "ipfs-kit embedded",
      ignore: kit === undefined,
      ...iterations,
      async fn(b) {
        mark(bytes, ++iteration);
        b.start();
        const { size: dagSize } = await run(() => kit!.add(bytes, { pin: false }), { strategy });
        b.end();
        if (dagSize < bytes.length) throw new Error(`add-${label}: DAG of ${dagSize} bytes`);
        if (owned(kit!)) await kit!.repo.gc();
      },
    });
  }

  const content = bytes.slice(); // what the cat entries read: the same for both
  for (const [name, kit, strategy] of entries) {
    let cid: string | undefined;
    Deno.bench({
      name,
      group: `cat-${label}`,
      baseline: name === "ipfs-kit embedded",
      ignore: kit === undefined,
      ...iterations,
      async fn(b) {
        cid ??= (await kit!.add(content, { pin: owned(kit!) })).cid.toString();
        b.start();
        const read = await run(async () => {
          let total = 0;
          for await (const chunk of kit!.cat(cid!)) total += chunk.length;
          return total;
        }, { strategy });
        b.end();
        if (read !== content.length) {
          throw new Error(`cat-${label}: read ${read} of ${content.length}`);
        }
      },
    });
  }
}

/** Writes `iteration` into the first 4 bytes of every chunk: new blocks, same sizes. */
function mark(bytes: Uint8Array, iteration: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 4 <= bytes.length; at += CHUNK) view.setUint32(at, iteration);
}

interface Daemon {
  url: string;
  script: string;
  /** Set when this file started the daemon (and so stops it). */
  stateDir?: string;
}

async function findDaemon(): Promise<Daemon | undefined> {
  const script = new URL("../tools/start_js_ipfs.sh", import.meta.url).pathname;
  const given = Deno.env.get("IPFS_KIT_KUBO_API");
  if (given !== undefined && given !== "") return { url: given, script };
  const started = await new Deno.Command("bash", {
    args: [script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(started.stdout);
  const vars = Object.fromEntries(
    [...text.matchAll(/^export (\w+)=(.*)$/gm)].map((match) => [match[1], match[2]]),
  );
  if (!started.success || vars.IPFS_KIT_KUBO_API === undefined) {
    const reason = new TextDecoder().decode(started.stderr).trim().split("\n").at(-1);
    console.warn(`js-ipfs entries skipped: cannot start the daemon: ${reason}`);
    return undefined;
  }
  return { url: vars.IPFS_KIT_KUBO_API, script, stateDir: vars.IPFS_KIT_JS_IPFS_DIR };
}
