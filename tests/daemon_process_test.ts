/**
 * The daemon as a real process (`kit/cli.ts daemon`, what `deno task start`
 * runs): where it listens and the files that say so, the CLI going through
 * it, a stop by SIGTERM, a kill by SIGKILL under concurrent RPC adds (every
 * add answered 200 is there and pinned after a restart; the stale `api`
 * file is handled by the CLI and by the next daemon), a busy port and a
 * non-loopback address refused with one line.
 */

import assert from "node:assert/strict";
import { randomBytes } from "./_bytes.ts";
import { kit, ok, oneLineError, ROOT } from "./_cli.ts";
import { startDaemonProcess } from "./_daemon_process.ts";
import { withTempDir } from "./_files.ts";

/** The permissions of `deno task start`, read from deno.json (the test fails if the task changes shape). */
async function startTaskPermissions(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const match = /^deno run ((?:--allow-[a-z]+ )+)kit\/cli\.ts daemon$/.exec(
    config.tasks?.start ?? "",
  );
  assert.ok(match, `deno.json's start task runs kit/cli.ts daemon: ${config.tasks?.start}`);
  return match[1].trim().split(" ");
}

Deno.test("daemon process: serves, writes api and gateway, the CLI goes through it, SIGTERM cleans up", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    // With exactly the permissions of `deno task start`.
    const daemon = await startDaemonProcess({
      repo,
      permissions: await startTaskPermissions(),
      network: true,
    });
    try {
      // The page is built by `deno bundle` when first asked for: the task may run it.
      const script = await fetch(`${daemon.url}/page.js`);
      assert.equal(script.status, 200, await script.clone().text());
      assert.match(await script.text(), /WebSocket/);
      assert.match(daemon.api, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/);
      assert.match(daemon.gateway, /^http:\/\/127\.0\.0\.1:\d+$/);
      const printed = daemon.output();
      assert.match(printed, new RegExp(`RPC API: +${daemon.url}/api/v0/`));
      assert.match(printed, new RegExp(`Gateway: +${daemon.gateway}/ipfs/<cid>`));
      assert.match(printed, new RegExp(`Web page: +open ${daemon.url}/ in a browser`));
      // Networked, as deno task start runs it (on a free loopback port here).
      assert.match(printed, /^Swarm: +\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW\S+$/m);
      assert.match(printed, /^Discovery: +ws:\/\/127\.0\.0\.1:\d+\/api\/v0\/discovery/m);
      // WebRTC signaling is on by default.
      const ws = daemon.url.replace(/^http/, "ws");
      assert.match(printed, new RegExp(`WebRTC: +${ws}/api/v0/webrtc/signaling`));
      const info = await (await fetch(`${daemon.url}/daemon/info`)).json();
      assert.ok(info.features.includes("webrtc"), info.features.join());
      assert.deepEqual(info.features, ["network", "discovery", "webrtc"]);

      // The CLI, given the repository, goes through the daemon instead of failing on its lock.
      await Deno.writeTextFile(`${dir}/hello.txt`, "through the daemon\n");
      const added = ok(await kit(["--repo", repo, "add", `${dir}/hello.txt`])).text;
      const cid = /^added (\S+) hello.txt$/m.exec(added)?.[1];
      assert.ok(cid, added);
      assert.equal(ok(await kit(["--repo", repo, "cat", cid])).text, "through the daemon\n");
      const version = JSON.parse(ok(await kit(["--repo", repo, "version", "--json"])).text);
      assert.equal(version.backend, "kubo");
      // What the CLI added, the daemon's gateway serves.
      const response = await fetch(`${daemon.gateway}/ipfs/${cid}`);
      assert.equal(await response.text(), "through the daemon\n");
      // Commands that cannot go through a daemon say so; so does a second daemon.
      oneLineError(
        await kit(["--repo", repo, "init"]),
        1,
        /Cannot init while a daemon runs on .*: the daemon has the repository open/,
      );
      oneLineError(
        await kit(["--repo", repo, "daemon", "--port", "0", "--gateway-port", "0"]),
        1,
        /Cannot daemon while a daemon runs|a daemon already runs on/,
      );
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.output());
    }
    assert.match(daemon.output(), /Daemon stopped/);
    await assert.rejects(Deno.stat(`${repo}/api`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${repo}/gateway`), Deno.errors.NotFound);
    // The repository is free again: the CLI opens it itself.
    assert.match(ok(await kit(["--repo", repo, "pin", "ls"])).text, /recursive/);
  });
});

Deno.test("daemon process: killed with SIGKILL under concurrent RPC adds, every add answered 200 is there and pinned after a restart", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    const first = await startDaemonProcess({ repo });
    const acknowledged = new Map<string, Uint8Array>();
    let failures = 0;
    const killed = Promise.withResolvers<void>();
    const adder = async (worker: number) => {
      for (let i = 0;; i++) {
        const bytes = randomBytes(64 * 1024 + ((worker * 7919 + i * 104_729) % (768 * 1024)));
        const form = new FormData();
        form.append("file", new Blob([bytes]), `w${worker}-${i}.bin`);
        try {
          const response = await fetch(`${first.url}/api/v0/add?pin=true`, {
            method: "POST",
            body: form,
          });
          const text = await response.text();
          if (response.status === 200) acknowledged.set(JSON.parse(text).Hash, bytes);
        } catch {
          // The daemon was killed mid-request: this add was never acknowledged.
          failures++;
          return;
        }
        if (acknowledged.size >= 24) killed.resolve();
      }
    };
    const workers = Array.from({ length: 6 }, (_, worker) => adder(worker));
    await killed.promise;
    await first.kill();
    await Promise.all(workers);
    assert.ok(acknowledged.size >= 24, `${acknowledged.size} adds acknowledged`);
    assert.ok(failures > 0, "adds were in flight when the daemon was killed");

    // The crashed daemon's files are left; the lock tells they are stale.
    const stale = (await Deno.readTextFile(`${repo}/api`)).trim();
    assert.equal(stale, first.api);

    // A new daemon replaces them and serves every acknowledged add, pinned.
    // (Without WebRTC, which --no-webrtc leaves out.)
    const second = await startDaemonProcess({ repo, args: ["--no-webrtc"] });
    try {
      assert.match(second.output(), /replaced the api file a stopped daemon left/);
      assert.doesNotMatch(second.output(), /WebRTC:/);
      const info = await (await fetch(`${second.url}/daemon/info`)).json();
      assert.ok(!info.features.includes("webrtc"), info.features.join());
      assert.equal((await Deno.readTextFile(`${repo}/api`)).trim(), second.api);
      const pins = await (await fetch(`${second.url}/api/v0/pin/ls?type=recursive`, {
        method: "POST",
      })).json() as { Keys: Record<string, { Type: string }> };
      for (const [cid, bytes] of acknowledged) {
        assert.equal(pins.Keys[cid]?.Type, "recursive", `${cid} is pinned`);
        const response = await fetch(`${second.url}/api/v0/cat?arg=${cid}`, { method: "POST" });
        assert.deepEqual(new Uint8Array(await response.arrayBuffer()), bytes, `${cid} reads back`);
      }
    } finally {
      await second.kill(); // leaves its files behind again, for the CLI below
    }

    // The CLI finds the stale api file, opens the repository itself and removes the file.
    assert.ok(await Deno.stat(`${repo}/api`));
    const listed = ok(await kit(["--repo", repo, "pin", "ls", "--type", "recursive", "-q"])).text;
    for (const cid of acknowledged.keys()) assert.match(listed, new RegExp(`^${cid}$`, "m"));
    await assert.rejects(Deno.stat(`${repo}/api`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${repo}/gateway`), Deno.errors.NotFound);
  });
});

Deno.test("daemon process: a busy port and a non-loopback address without a token are refused with one line", async () => {
  await withTempDir(async (dir) => {
    using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = String(busy.addr.port);
    oneLineError(
      await kit(["--repo", `${dir}/a`, "daemon", "--port", port, "--gateway-port", "0"]),
      1,
      new RegExp(
        `Cannot start daemon: the RPC API's port ${port} is in use \\(pass --port 0 for a free one\\)`,
      ),
    );
    oneLineError(
      await kit(["--repo", `${dir}/b`, "daemon", "--port", "0", "--gateway-port", port]),
      1,
      new RegExp(`the gateway's port ${port} is in use \\(pass --gateway-port 0 for a free one\\)`),
    );
    oneLineError(
      await kit(["--repo", `${dir}/c`, "daemon", "--host", "0.0.0.0", "--port", "0"], {
        env: { IPFS_KIT_API_TOKEN: "" },
      }),
      1,
      /Cannot start daemon: the RPC API would listen on 0\.0\.0\.0, beyond this machine, without a token/,
    );
    // Nothing was left behind by the refused starts.
    for (const name of ["a", "b"]) {
      await assert.rejects(Deno.stat(`${dir}/${name}/api`), Deno.errors.NotFound);
    }
  });
});
