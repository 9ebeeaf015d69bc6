/**
 * Helpers for the Kubo backend's tests: which daemon answers, data made on
 * demand, and a private js-ipfs daemon for tests that would break a shared
 * one.
 *
 * @module
 */

import type { KuboBackend } from "../ipfs/kubo_backend.ts";

/** The daemon's agent (`kubo/0.30.0/...`, `js-ipfs/0.18.1`). */
export async function agentVersion(url: string): Promise<string> {
  const response = await fetch(`${url}/api/v0/id`, {
    method: "POST",
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.json() as { AgentVersion?: string };
  return body.AgentVersion ?? "";
}

/** Random bytes (crypto.getRandomValues, 64 KiB at a time). */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += 65_536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(at + 65_536, length)));
  }
  return bytes;
}

/**
 * A stream of `total` bytes made as it is read, in 256 KiB chunks that all
 * differ (no two blocks alike): nothing holds the whole content.
 */
export function generated(total: number, onCancel?: () => void): ReadableStream<Uint8Array> {
  const pattern = randomBytes(262_144);
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      const chunk = pattern.slice(0, Math.min(pattern.length, total - sent));
      new DataView(chunk.buffer).setFloat64(0, sent);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
    cancel() {
      onCancel?.();
    },
  }, { highWaterMark: 0 });
}

/** The recursively pinned CIDs, sorted. */
export async function recursivePins(backend: KuboBackend): Promise<string[]> {
  return (await backend.pin.ls({ type: "recursive" })).map((pin) => pin.cid.toString()).sort();
}

/**
 * Runs `fn` with the URL of a js-ipfs daemon of its own, started with
 * `tools/start_js_ipfs.sh` in a new state directory and stopped afterwards.
 */
export async function withPrivateJsIpfs<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const script = new URL("../tools/start_js_ipfs.sh", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-private-js-ipfs-" });
  const started = await new Deno.Command(script, {
    env: { IPFS_KIT_JS_IPFS_DIR: dir },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stop = async () => {
    await new Deno.Command(script, { args: ["stop", dir], stdout: "null", stderr: "null" })
      .output();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const url = /export IPFS_KIT_KUBO_API=(\S+)/.exec(new TextDecoder().decode(started.stdout))?.[1];
  if (!started.success || url === undefined) {
    await stop();
    throw new Error(
      `Cannot start a private js-ipfs daemon: ${new TextDecoder().decode(started.stderr)}`,
    );
  }
  try {
    return await fn(url);
  } finally {
    await stop();
  }
}
