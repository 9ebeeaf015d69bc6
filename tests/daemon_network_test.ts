/**
 * The daemon as a networked node, with real daemons on loopback: a second
 * daemon (a `kit daemon` process, as `deno task start` runs it) discovers
 * the first (in this process) through the first's discovery route,
 * connects to it, and serves the first's file through its own gateway,
 * fetched over bitswap; the CLI's `swarm peers` through the second daemon
 * lists the first; `/metrics` and the discovered-peers route show it all.
 * `--no-network` keeps the node offline.
 */

import assert from "node:assert/strict";
import { Daemon } from "../kit/daemon.ts";
import {
  DISCOVERY_PATH,
  DISCOVERY_PEERS_PATH,
  discoveryExtension,
} from "../kit/discovery_extension.ts";
import { CID } from "npm:multiformats@14.0.5/cid";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import { failAfter } from "../runtime/timeouts.ts";
import { eventually } from "./_async.ts";
import { randomBytes } from "./_bytes.ts";
import { CLI, kit, ok, oneLineError, runDeno } from "./_cli.ts";
import { startDaemonProcess } from "./_daemon_process.ts";
import { withTempDir } from "./_files.ts";
import { LOOPBACK } from "./_net.ts";

/** One sample of a Prometheus text, by its name and labels as written. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line !== undefined, `no ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

Deno.test("daemon network: a daemon process discovers a daemon, connects, and reads its file over bitswap through its gateway", async () => {
  await withTempDir(async (dir) => {
    const first = await Daemon.start({
      repo: `${dir}/first`,
      port: 0,
      gatewayPort: 0,
      shutdownTimeoutMs: 300,
      kit: { network: LOOPBACK },
      extensions: [discoveryExtension({ role: "master" })],
    });
    try {
      assert.deepEqual(first.features, ["network", "discovery"]);
      assert.ok(first.swarmAddresses.length > 0);
      assert.match(first.swarmAddresses[0], /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/);
      const info = await (await fetch(`${first.apiUrl}/daemon/info`)).json();
      assert.deepEqual(info.swarm, first.swarmAddresses);

      const url = `${first.apiUrl.replace(/^http/, "ws")}${DISCOVERY_PATH}`;
      await using second = await startDaemonProcess({
        repo: `${dir}/second`,
        network: true,
        // --listen repeated: the fixture's TCP address and a WebSocket one.
        args: ["--listen", "/ip4/127.0.0.1/tcp/0/ws", "--discover", url, "--role", "gateway"],
      });
      const printed = second.output();
      assert.match(printed, /^Swarm: +\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW\S+$/m);
      assert.match(printed, /^ +\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/12D3KooW\S+$/m);
      assert.match(printed, new RegExp(`^Discovers: +through ${url} as gateway$`, "m"));
      assert.match(printed, /^Discovery: +ws:\/\/127\.0\.0\.1:\d+\/api\/v0\/discovery/m);
      const secondInfo = await (await fetch(`${second.url}/daemon/info`)).json();
      assert.deepEqual(secondInfo.features, ["network", "discovery", "webrtc"]);

      // The second learns of the first from the first's route and connects to it.
      await eventually(
        async () => (await first.kit.swarm.peers()).some((p) => p.peer === secondInfo.peerId),
        "the two daemons are connected",
        { limitMs: 30_000, stepMs: 100 },
      );
      // The connection may be the first's own dial (it dials who announces to it): the second's
      // dial of the first is counted once it ends.
      let firstSeen: { role: string; via: string; successRate: number | null } | undefined;
      await eventually(
        async () => {
          const discovered = await (await fetch(`${second.url}${DISCOVERY_PEERS_PATH}`)).json();
          firstSeen = discovered.peers.find((p: { peerId: string }) => p.peerId === first.peerId);
          return firstSeen?.successRate !== null && firstSeen?.successRate !== undefined;
        },
        "the second dialled the first",
        { limitMs: 30_000, stepMs: 100 },
      );
      assert.ok(firstSeen);
      assert.equal(firstSeen.role, "master");
      assert.equal(firstSeen.via, "remote");
      assert.equal(firstSeen.successRate, 1);
      // The first's own server heard the second announce itself.
      const announced = await (await fetch(`${first.apiUrl}${DISCOVERY_PEERS_PATH}`)).json();
      assert.deepEqual(
        announced.peers.map((p: { peerId: string; role: string }) => [p.peerId, p.role]),
        [[secondInfo.peerId, "gateway"]],
      );

      // A file added on the first, read through the second's gateway: fetched over bitswap.
      const bytes = randomBytes(600_000);
      const { cid } = await first.kit.add(bytes);
      const response = await fetch(`${second.gateway}/ipfs/${cid}`);
      assert.equal(response.status, 200);
      assert.deepEqual(new Uint8Array(await response.arrayBuffer()), bytes);

      // The CLI through the second daemon (its repository's api file) lists the first.
      const peers = ok(await kit(["--repo", second.repo, "swarm", "peers"])).text;
      assert.match(peers, new RegExp(`/p2p/${first.peerId}$`, "m"));

      const metrics = await (await fetch(`${second.url}/metrics`)).text();
      assert.equal(sample(metrics, "ipfs_kit_network_peers"), 1);
      assert.ok(
        sample(metrics, 'ipfs_kit_bitswap_bytes_total{direction="fetched"}') >= bytes.length,
      );
      assert.ok(sample(metrics, 'ipfs_kit_bitswap_blocks_total{direction="fetched"}') >= 3);
      assert.equal(sample(metrics, "ipfs_kit_bitswap_blocks_refused_total"), 0);
      assert.equal(sample(metrics, 'ipfs_kit_discovery_client_connected{server="remote"}'), 1);
      assert.ok(
        sample(
          metrics,
          'ipfs_kit_discovery_client_dials_total{server="remote",outcome="success"}',
        ) >=
          1,
      );
      const served = await (await fetch(`${first.apiUrl}/metrics`)).text();
      assert.ok(sample(served, 'ipfs_kit_bitswap_bytes_total{direction="served"}') >= bytes.length);
      assert.equal(sample(served, 'ipfs_kit_discovery_peers{role="gateway"}'), 1);

      assert.equal(await second.stop(), 0);
      assert.match(second.output(), /Daemon stopped/);

      // A read waiting on the network for a block nobody has (up to the network's 120 s) does
      // not hold the stop past its deadline; the stop closes the swarm's listener.
      const nobody = CID.create(1, 0x55, await sha256.digest(randomBytes(64)));
      const waiting = fetch(`${first.gatewayUrl}/ipfs/${nobody}`).then(
        async (response) => {
          await response.body?.cancel();
          return response.status;
        },
        () => "closed",
      );
      await eventually(
        () => sample(first.metrics(), 'ipfs_kit_http_connections_open{listener="gateway"}') > 0,
        "the read reached the gateway",
      );
      await failAfter(60_000, () => first.stop());
      assert.notEqual(await waiting, 200);
      const swarmPort = Number(/\/tcp\/(\d+)\//.exec(first.swarmAddresses[0])![1]);
      await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: swarmPort }));
    } finally {
      await first.stop();
    }
  });
});

Deno.test("daemon network: --no-network keeps the node offline; swarm commands say so in one line", async () => {
  // The fixture's default is --no-network.
  await using daemon = await startDaemonProcess();
  assert.match(daemon.output(), /^Swarm: +offline \(--no-network\)$/m);
  const info = await (await fetch(`${daemon.url}/daemon/info`)).json();
  assert.deepEqual(info.swarm, []);
  assert.ok(!info.features.includes("network"), info.features.join());
  oneLineError(
    await kit(["--repo", daemon.repo, "swarm", "peers"]),
    1,
    /^error: Cannot list peers: .*not supported by the embedded node \(it has no network\)/,
  );
  // Its discovery route still serves others; it announces nothing itself.
  const discovered = await (await fetch(`${daemon.url}${DISCOVERY_PEERS_PATH}`)).json();
  assert.deepEqual(discovered, { server: true, peers: [] });
});

Deno.test("daemon network: the network flags are checked before anything starts, in one line", async () => {
  await withTempDir(async (repo) => {
    const daemon = (...args: string[]) =>
      kit(["--repo", repo, "daemon", "--port", "0", "--gateway-port", "0", ...args]);
    oneLineError(
      await daemon("--no-network", "--dht", "lan"),
      2,
      /--dht sets up the network: it cannot go with --no-network/,
    );
    oneLineError(
      await daemon("--no-network", "--discover", "ws://127.0.0.1:9/api/v0/discovery"),
      2,
      /--discover needs the network/,
    );
    oneLineError(await daemon("--discover", "http://127.0.0.1:9/"), 2, /ws: or wss: URL/);
    oneLineError(
      await daemon("--bootstrap", "default", "--bootstrap", "/ip4/127.0.0.1/tcp/9"),
      2,
      /--bootstrap default cannot be mixed/,
    );
    oneLineError(
      await daemon("--dht", "everywhere"),
      2,
      /--dht must be one of lan, wan, client, off/,
    );
    oneLineError(
      await daemon("--listen", "nonsense"),
      1,
      /Cannot start network: malformed multiaddress: "nonsense"/,
    );
  });
});

Deno.test("daemon network: one-shot commands stay offline: they run without the permission to open a socket", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/hello.txt`, "offline\n");
    const offline = (...args: string[]) =>
      runDeno([
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        CLI,
        "--repo",
        `${dir}/repo`,
        ...args,
      ]);
    assert.match(ok(await offline("add", `${dir}/hello.txt`)).text, /^added \S+ hello\.txt$/m);
    assert.match(ok(await offline("id")).text, /^Addresses: \(none\)$/m);
  });
});
