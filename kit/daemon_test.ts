/**
 * The daemon in this process (`Daemon.start`), on real sockets: its files,
 * a second daemon on the same repository, `/metrics` (every family, bounded
 * labels), the WAL's processor applying what its API takes, the recent
 * list, the extension seam (routes, metrics, features, close), the network
 * feature, and a stop that lets requests in flight finish until its
 * deadline and cancels the rest (an add cancelled pins nothing).
 */

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { sleep } from "../runtime/sleep.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { eventually } from "../tests/_async.ts";
import { withTempDir } from "../tests/_files.ts";
import { Daemon, type DaemonExtension } from "./daemon.ts";
import { DaemonError } from "./daemon_errors.ts";
import { Kit } from "./kit.ts";

const free = { port: 0, gatewayPort: 0 } as const;

function addForm(bytes: Uint8Array | string, name = "file.bin"): FormData {
  const form = new FormData();
  form.append("file", new Blob([bytes as BlobPart]), name);
  return form;
}

testEachStrategy(
  "daemon: writes its files, replaces stale ones, removes them on stop",
  async () => {
    await withTempDir(async (dir) => {
      const repo = `${dir}/repo`;
      await (await Kit.open({ repo })).close();
      // A crashed daemon's files: nobody holds the repository's lock.
      await Deno.writeTextFile(`${repo}/api`, "/ip4/127.0.0.1/tcp/1");
      await Deno.writeTextFile(`${repo}/gateway`, "http://127.0.0.1:2");
      const daemon = await Daemon.start({ repo, ...free });
      try {
        assert.equal(daemon.replacedStaleFiles, true);
        assert.equal(await Deno.readTextFile(`${repo}/api`), daemon.apiMultiaddr);
        assert.equal(await Deno.readTextFile(`${repo}/gateway`), daemon.gatewayUrl);
        assert.equal(daemon.apiMultiaddr, `/ip4/127.0.0.1/tcp/${daemon.apiAddr.port}`);
        // A second daemon on the repository is refused, naming the first.
        const second = await Daemon.start({ repo, ...free }).catch((error) => error);
        assert.ok(second instanceof DaemonError);
        assert.equal(second.reason, "repo_in_use");
        assert.match(
          second.message,
          new RegExp(`a daemon already runs on .*${daemon.apiMultiaddr}`),
        );
        const info = await (await fetch(`${daemon.apiUrl}/daemon/info`)).json();
        assert.equal(info.gateway, daemon.gatewayUrl);
        assert.equal(info.api, daemon.apiMultiaddr);
        assert.deepEqual(info.features, []);
      } finally {
        await daemon.stop();
      }
      await daemon.finished;
      await assert.rejects(Deno.stat(`${repo}/api`), Deno.errors.NotFound);
      await assert.rejects(Deno.stat(`${repo}/gateway`), Deno.errors.NotFound);
      // Stopped: the ports refuse connections, the repository is free.
      await assert.rejects(fetch(`${daemon.apiUrl}/daemon/info`));
      await using again = await Daemon.start({ repo, ...free });
      assert.equal(again.replacedStaleFiles, false);
    });
  },
);

testEachStrategy(
  "daemon: /metrics has the runtime, the cache, the WAL, HTTP by route and status, bounded",
  async () => {
    await withTempDir(async (dir) => {
      await using daemon = await Daemon.start({ repo: dir, ...free });
      const added = await fetch(`${daemon.apiUrl}/api/v0/add`, {
        method: "POST",
        body: addForm("metrics\n"),
      });
      const { Hash } = await added.json();
      for (let i = 0; i < 2; i++) await (await fetch(`${daemon.gatewayUrl}/ipfs/${Hash}`)).text();
      await (await fetch(`${daemon.gatewayUrl}/ipfs/not-a-cid`)).text();
      // Paths from users never become labels: 300 unknown ones are two routes.
      for (let i = 0; i < 150; i++) {
        await (await fetch(`${daemon.apiUrl}/api/v0/nope${i}`, { method: "POST" })).text();
        await (await fetch(`${daemon.apiUrl}/nope${i}`)).text();
      }
      const response = await fetch(`${daemon.apiUrl}/metrics`);
      assert.match(response.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      const has = (pattern: RegExp) => assert.match(text, pattern);
      has(/^ipfs_kit_runtime_checkpoints_total\{strategy="eager"\} \d+$/m);
      has(/^ipfs_kit_cache_reads_total\{source="memory"\} [1-9]\d*$/m);
      has(/^ipfs_kit_cache_tier_max_bytes\{tier="memory"\} \d+$/m);
      has(/^ipfs_kit_wal_operations\{state="pending"\} 0$/m);
      has(/^ipfs_kit_http_requests_total\{listener="api",route="rpc:add",status="200"\} 1$/m);
      has(/^ipfs_kit_http_requests_total\{listener="gateway",route="ipfs",status="200"\} 2$/m);
      has(/^ipfs_kit_http_requests_total\{listener="gateway",route="ipfs",status="400"\} 1$/m);
      has(/^ipfs_kit_http_requests_total\{listener="api",route="rpc:unknown",status="404"\} 150$/m);
      has(/^ipfs_kit_http_requests_total\{listener="api",route="not_found",status="404"\} 150$/m);
      has(
        /^ipfs_kit_http_request_duration_seconds_bucket\{listener="api",route="rpc:add",le="\+Inf"\} 1$/m,
      );
      has(/^ipfs_kit_http_connections_accepted_total\{listener="gateway"\} \d+$/m);
      const series = text.split("\n").filter((line) => line.startsWith("ipfs_kit_http_requests"));
      assert.ok(series.length <= 8, series.join("\n"));
      // Every line is a comment or a sample with a number.
      for (const line of text.trimEnd().split("\n")) {
        assert.match(line, /^(# (HELP|TYPE) \S+ .+|[a-z_]+(\{[^}]*\})? [-+0-9.eEInfa]+)$/, line);
      }
    });
  },
);

testEachStrategy(
  "daemon: the WAL's API takes operations its processor applies to the kit; the recent list shows them",
  async () => {
    await withTempDir(async (dir) => {
      await using daemon = await Daemon.start({ repo: dir, ...free });
      const added = await fetch(`${daemon.apiUrl}/api/v0/add?pin=false`, {
        method: "POST",
        body: addForm("pinned by the WAL\n", "wal.txt"),
      });
      const { Hash } = await added.json();
      const submitted = await fetch(`${daemon.apiUrl}/api/v0/wal/operations`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "pin", params: { cid: Hash } }),
      });
      assert.equal(submitted.status, 201);
      const { id } = await submitted.json();
      await eventually(
        async () => {
          const operation = await (await fetch(`${daemon.apiUrl}/api/v0/wal/operations/${id}`))
            .json();
          return operation.state === "completed";
        },
        "the pin operation completes",
        { limitMs: 10_000, stepMs: 20 },
      );
      const pins = await daemon.kit.pin.ls({ type: "recursive" });
      assert.ok(pins.some((pin) => pin.cid.toString() === Hash));
      const { entries } = await (await fetch(`${daemon.apiUrl}/daemon/recent`)).json();
      assert.deepEqual(
        entries.map((
          entry: { kind: string; cid: string; name: string },
        ) => [entry.kind, entry.name]),
        [["pin", ""], ["add", "wal.txt"]],
      );
      assert.ok(entries.every((entry: { cid: string }) => entry.cid === Hash));
    });
  },
);

testEachStrategy(
  "daemon: extensions mount routes, add metrics and features, close on stop; a networked kit is the network feature",
  async () => {
    await withTempDir(async (dir) => {
      let closed = 0;
      const extension: DaemonExtension = {
        name: "signaling",
        routes: {
          "/api/v0/signaling": (request, info) =>
            Response.json({
              path: new URL(request.url).pathname,
              authenticated: info.authenticated,
            }),
        },
        metrics: () => "# TYPE ipfs_kit_signaling_rooms gauge\nipfs_kit_signaling_rooms 3\n",
        close: () => {
          closed++;
          return Promise.resolve();
        },
      };
      const daemon = await Daemon.start({
        repo: dir,
        ...free,
        extensions: [({ kit, signal }) => {
          assert.ok(kit.backend === "embedded" && !signal.aborted);
          return extension;
        }],
      });
      try {
        // An offline node: no `network` feature (tests/daemon_network_test.ts runs networked ones).
        assert.deepEqual(daemon.features, ["signaling"]);
        const routed = await (await fetch(`${daemon.apiUrl}/api/v0/signaling/room/1`)).json();
        assert.equal(routed.path, "/api/v0/signaling/room/1");
        const metrics = await (await fetch(`${daemon.apiUrl}/metrics`)).text();
        assert.match(metrics, /^ipfs_kit_signaling_rooms 3$/m);
        assert.match(
          metrics,
          /^ipfs_kit_http_requests_total\{listener="api",route="signaling",status="200"\} 1$/m,
        );
      } finally {
        await daemon.stop();
      }
      assert.equal(closed, 1);
      // A bad name is refused before anything listens.
      const bad = await Daemon.start({
        repo: dir,
        ...free,
        extensions: [() => ({ name: "Bad Name" })],
      }).catch((error) => error);
      assert.ok(bad instanceof DaemonError && bad.reason === "invalid_option", String(bad));
    });
  },
);

testEachStrategy(
  "daemon: a stop lets requests finish until its deadline, then cancels them: the add cancelled pins nothing",
  async () => {
    await withTempDir(async (dir) => {
      const daemon = await Daemon.start({ repo: dir, ...free, shutdownTimeoutMs: 300 });
      // An add whose body never ends: it is in flight when the stop begins.
      const boundary = "stopping";
      const head =
        `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="slow.bin"\r\n` +
        `content-type: application/octet-stream\r\n\r\n`;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: daemon.apiAddr.port });
      try {
        await conn.write(new TextEncoder().encode(
          `POST /api/v0/add HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: multipart/form-data; boundary=${boundary}\r\n` +
            `transfer-encoding: chunked\r\n\r\n`,
        ));
        const chunk = new Uint8Array([...new TextEncoder().encode(head), ...randomBytes(300_000)]);
        await conn.write(
          new Uint8Array([
            ...new TextEncoder().encode(`${chunk.length.toString(16)}\r\n`),
            ...chunk,
            13,
            10,
          ]),
        );
        await sleep(100);
        const started = performance.now();
        await daemon.stop();
        const took = performance.now() - started;
        assert.ok(took >= 250 && took < 5000, `stopped in ${took.toFixed(0)} ms`);
      } finally {
        conn.close();
      }
      await assert.rejects(Deno.stat(`${dir}/api`), Deno.errors.NotFound);
      // Nothing of the cancelled add is pinned.
      await using again = await Daemon.start({ repo: dir, ...free });
      assert.deepEqual(await again.kit.pin.ls({ type: "recursive" }), []);
    });
  },
);

Deno.test("daemon: options are checked before anything opens", async () => {
  await withTempDir(async (dir) => {
    const cases: [Parameters<typeof Daemon.start>[0], string, RegExp][] = [
      [{ repo: dir, hostname: "0.0.0.0" }, "insecure_bind", /without a token/],
      [{ repo: dir, hostname: "192.0.2.1", token: "short" }, "invalid_option", /token/],
      [{ repo: dir, port: 70000 }, "invalid_option", /port must be an integer/],
      [{ repo: dir, shutdownTimeoutMs: -1 }, "invalid_option", /shutdownTimeoutMs/],
    ];
    for (const [options, reason, message] of cases) {
      const error = await Daemon.start(options).catch((e) => e);
      assert.ok(error instanceof DaemonError, String(error));
      assert.equal(error.reason, reason);
      assert.match(error.message, message);
    }
    // Nothing was created.
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});
