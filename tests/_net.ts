/**
 * Test fixtures for the networked node: kit nodes on loopback, a child
 * process that serves one, and its first line.
 *
 * @module
 */

import { Kit } from "../kit/kit.ts";
import type { EmbeddedNode } from "../ipfs/embedded_node.ts";
import type { NodeNetwork } from "../ipfs/node_network.ts";
import type { Libp2pNetworkOptions } from "../net/libp2p_network.ts";
import { sleep } from "../runtime/sleep.ts";
import { withTempDir } from "./_files.ts";

/** The options every test node gets: loopback, the LAN DHT, no bootstrap (and pubsub, the default). */
export const LOOPBACK: Libp2pNetworkOptions = {
  listen: ["/ip4/127.0.0.1/tcp/0"],
  dht: "lan",
};

/**
 * Runs `fn` with `count` kit nodes on loopback, each on a temporary
 * repository (no sync, no cache), and closes them afterwards.
 */
export function withKits<T>(
  count: number,
  fn: (kits: Kit[]) => Promise<T>,
  network: Libp2pNetworkOptions = {},
): Promise<T> {
  const open = async (kits: Kit[]): Promise<T> => {
    if (kits.length === count) return await fn(kits);
    return await withTempDir(async (repo) => {
      await using kit = await Kit.open({
        repo,
        sync: false,
        cache: false,
        network: { ...LOOPBACK, ...network },
      });
      return await open([...kits, kit]);
    });
  };
  return open([]);
}

/**
 * Waits out the timers libp2p 3.3.11 leaves behind a stopped node that is
 * not the kit's (a bare libp2p node, Helia): its inbound rate limiter's 1 s
 * windows, its queues' debounces, which the sanitizers would otherwise pin
 * on the next test. The kit's own nodes need no wait: their close clears
 * those timers (`stopNode` in net/libp2p_network.ts), and every test that
 * closes one checks it.
 */
export async function settleLibp2p(): Promise<void> {
  await sleep(1_100);
}

/** The network of a kit opened on the embedded node with one. */
export function networkOf(kit: Kit): NodeNetwork {
  const network = (kit.store as EmbeddedNode).network;
  if (network === undefined) throw new Error("the kit has no network");
  return network;
}

/** The first listen address of a kit (with `/p2p/<id>`). */
export async function addressOf(kit: Kit): Promise<string> {
  const [address] = (await kit.id()).addresses;
  if (address === undefined) throw new Error("the kit listens nowhere");
  return address;
}

/** The first line a child process prints. */
export async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  // Decoded by hand: TextDecoderStream's types differ under the DOM library (the page tests).
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the peer process ended before it was ready: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel();
  }
  return text.slice(0, text.indexOf("\n"));
}

const JS_IPFS = new URL("../tools/js-ipfs/node_modules/.bin/jsipfs", import.meta.url).pathname;
const START_JS_IPFS = new URL("../tools/start_js_ipfs.sh", import.meta.url).pathname;

/** Why js-ipfs cannot run here (for `requireTool`), or `undefined` when it can. */
export async function probeJsIpfs(): Promise<string | undefined> {
  try {
    await Deno.stat(JS_IPFS);
    return undefined;
  } catch {
    return `${JS_IPFS} is missing: run (cd tools/js-ipfs && npm ci)`;
  }
}

/** A js-ipfs daemon listening for libp2p peers on loopback TCP. */
export interface JsIpfsPeer {
  /** Its RPC API's URL. */
  url: string;
  /** Its peer ID. */
  id: string;
  /** Its swarm address, with `/p2p/<id>`. */
  address: string;
}

/**
 * Runs `fn` with a js-ipfs daemon of its own (the shared one is left alone)
 * started by `tools/start_js_ipfs.sh` with `JS_IPFS_SWARM=1`, and stops it
 * afterwards.
 */
export async function withJsIpfsPeer<T>(fn: (peer: JsIpfsPeer) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-js-ipfs-peer-" });
  const script = (args: string[]) =>
    new Deno.Command(START_JS_IPFS, {
      args,
      env: { IPFS_KIT_JS_IPFS_DIR: dir, JS_IPFS_SWARM: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  try {
    const started = await script([]);
    const url = /export IPFS_KIT_KUBO_API=(\S+)/.exec(new TextDecoder().decode(started.stdout))
      ?.[1];
    if (!started.success || url === undefined) {
      throw new Error(`Cannot start js-ipfs: ${new TextDecoder().decode(started.stderr)}`);
    }
    const response = await fetch(`${url}/api/v0/id`, {
      method: "POST",
      signal: AbortSignal.timeout(10_000),
    });
    const { ID: id, Addresses: addresses } = await response.json() as {
      ID: string;
      Addresses: string[];
    };
    const address = addresses.find((addr) => addr.startsWith("/ip4/127.0.0.1/tcp/"));
    if (address === undefined) throw new Error(`js-ipfs listens on no loopback TCP address`);
    return await fn({ url, id, address });
  } finally {
    await script(["stop", dir]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
