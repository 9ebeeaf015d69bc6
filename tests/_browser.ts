/**
 * A real browser for tests: headless Chromium from Debian's packages
 * (`apt-get install -y chromium`; `.ci/run` installs it), driven through
 * `npm:playwright-core`. The executable is `IPFS_KIT_CHROMIUM`, else
 * `/usr/bin/chromium`; without it the tests that need it are skipped (a
 * failure under `IPFS_KIT_REQUIRE_SERVICES=1`), as for every service of
 * `_services.ts`.
 *
 * @module
 */

import { type Browser, chromium } from "npm:playwright-core@1.65.2";
import { requireService, type ServiceStatus } from "./_services.ts";

/** The flags every test browser runs with: headless, no sandbox (root in CI), no traffic of its own. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];

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
