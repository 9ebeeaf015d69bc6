/**
 * Test fixtures for a real browser: Debian's Chromium (`apt-get install -y
 * chromium`; `.ci/run` installs it), driven by `npm:playwright-core`, either
 * in this process ({@linkcode requireChromium}, {@linkcode launchChromium}:
 * pages served on loopback) or inside a throwaway network namespace (WebRTC).
 *
 * Chromium gathers no ICE candidates on loopback alone, so a browser test
 * runs a child script (Deno side, page server and Chromium together) in a
 * network namespace of its own: `unshare -n` (root), a veth pair with an
 * address on each end (10.99.0.1, 10.99.0.2) and a default route into it.
 * Nothing leaves such a namespace; it is gone when the child exits.
 *
 * @module
 */

import { type Browser, chromium } from "npm:playwright-core@1.65.2";
import { requireService, type ServiceStatus } from "./_services.ts";

/** Where Chromium is: `IPFS_KIT_CHROMIUM`, else Debian's `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return Deno.env.get("IPFS_KIT_CHROMIUM") ?? "/usr/bin/chromium";
}

/** Chromium's flags for tests: headless, no sandbox (root), nothing fetched in the background. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  // No crash handler: it outlives the browser by seconds, holding the test's pipes open.
  "--disable-crash-reporter",
  "--disable-breakpad",
];

const NAMESPACE_SETUP = [
  "set -e",
  "ip link set lo up",
  "ip link add v0 type veth peer name v1",
  "ip addr add 10.99.0.1/24 dev v0",
  "ip addr add 10.99.0.2/24 dev v1",
  "ip link set v0 up",
  "ip link set v1 up",
  "ip route add default dev v0",
  'exec "$@"',
].join("; ");

/**
 * Why the browser tests cannot run here, or `undefined`: Chromium must be
 * there, and `unshare -n` must work (root) with `ip` to set the namespace up.
 */
export async function probeBrowserSandbox(): Promise<string | undefined> {
  const chromium = chromiumPath();
  try {
    await Deno.stat(chromium);
  } catch {
    return `no Chromium at ${chromium} (apt-get install -y chromium, or set IPFS_KIT_CHROMIUM)`;
  }
  try {
    const { code, stderr } = await new Deno.Command("unshare", {
      args: ["-n", "bash", "-c", NAMESPACE_SETUP, "bash", "true"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      return `cannot make a network namespace (unshare -n, as root): ${
        new TextDecoder().decode(stderr).trim().slice(0, 200)
      }`;
    }
  } catch (error) {
    return `cannot run unshare: ${error instanceof Error ? error.message : String(error)}`;
  }
  return undefined;
}

/**
 * Bundles the kit's browser receiver (`webrtc/browser_receiver.ts`) with
 * `deno bundle --platform browser`, into `dir`. Run it outside any network
 * namespace: the first bundle may fetch esbuild from the npm registry.
 *
 * @returns The bundle's path.
 */
export async function bundleBrowserReceiver(dir: string): Promise<string> {
  const out = `${dir}/receiver.js`;
  const entry = new URL("../webrtc/browser_receiver.ts", import.meta.url).pathname;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "-o", out, entry],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`deno bundle failed: ${new TextDecoder().decode(stderr).slice(0, 2000)}`);
  }
  return out;
}

/**
 * Runs a Deno script in a new network namespace (see the module doc) and
 * returns what it printed on stdout; throws with its stderr if it fails or
 * outlives `timeoutMs` (it is killed then).
 */
export async function runInNetworkNamespace(
  script: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<string> {
  const child = new Deno.Command("unshare", {
    args: [
      "-n",
      "bash",
      "-c",
      NAMESPACE_SETUP,
      "bash",
      Deno.execPath(),
      "run",
      "-A",
      script,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const { code, stdout, stderr } = await child.output();
  const out = new TextDecoder().decode(stdout);
  if (code !== 0) {
    throw new Error(
      `${script} failed (exit ${code}): ${new TextDecoder().decode(stderr).slice(-4000)}\n${
        out.slice(-2000)
      }`,
    );
  }
  return out;
}

/** Where test artifacts (screenshots) go: a folder git ignores. */
export const ARTIFACTS = new URL("../test-artifacts/", import.meta.url).pathname;

/** Finds Chromium: the executable must run and say its version. */
export function requireChromium(): Promise<ServiceStatus> {
  return requireService("chromium", async (path, signal) => {
    const output = await new Deno.Command(path, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
      signal,
    }).output();
    const version = new TextDecoder().decode(output.stdout);
    if (!output.success || !/Chrom/.test(version)) {
      throw new Error(`${path} --version failed: ${version.trim()}`);
    }
  }, {
    env: "IPFS_KIT_CHROMIUM",
    fallback: "/usr/bin/chromium",
    hint: "as root: apt-get install -y chromium",
    timeoutMs: 20_000,
  });
}

/** Launches headless Chromium (`executable` from {@linkcode requireChromium}); close it when done. */
export async function launchChromium(executable: string): Promise<Browser> {
  return await chromium.launch({ executablePath: executable, args: [...CHROMIUM_FLAGS] });
}
